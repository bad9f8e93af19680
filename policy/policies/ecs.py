"""ECS policies: how every container of a task is defined (sidecars and init containers included), how
clusters and services run them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs

from ._util import UNKNOWN, config, container_definitions, plain
from .framework import Findings, hint, hint_args, resource_policy, stack_policy, unknown_at_preview
from .graph import Graph
from .topology import launch_from_args

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
CLUSTER = "aws:ecs/cluster:Cluster"

_SECRET_VALUE = re.compile(r"AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY|gh[pousr]_[A-Za-z0-9]{30,}"
                           r"|xox[abprs]-[A-Za-z0-9-]{10,}|://[^/\s:@]+:[^/\s@]+@")
#: Words that make a variable a secret wherever they stand (DB_PASSWORD, SECRET_KEY_BASE, GITHUB_TOKEN).
_SECRET_WORDS = frozenset({"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "CREDENTIAL", "CREDENTIALS",
                           "APIKEY", "PRIVATEKEY", "SECRETKEY", "ACCESSKEY", "AUTHKEY", "CLIENTSECRET"})
#: Secret only as the last word after another one: MYSQL_PWD, DB_PASS (PWD alone is the shell's directory).
_LAST_ONLY = frozenset({"PWD", "PASS"})
#: What makes a trailing KEY a secret: API_KEY, PRIVATE_KEY, AWS_SECRET_ACCESS_KEY (not CACHE_KEY, KMS_KEY).
_KEY_QUALIFIERS = frozenset({"API", "PRIVATE", "SECRET", "ACCESS", "AUTH", "ENCRYPTION", "SIGNING", "MASTER",
                             "LICENSE", "SSH", "HMAC", "SESSION"})
#: A last word that says the variable describes a secret rather than holds it (TOKEN_TTL_SECONDS,
#: PASSWORD_MIN_LENGTH, OAUTH_TOKEN_ENDPOINT, DB_SECRET_ARN, DB_PASSWORD_FILE).
_DESCRIPTORS = frozenset({
    "TTL", "SECONDS", "SECS", "MINUTES", "HOURS", "DAYS", "LENGTH", "LEN", "MIN", "MAX", "ENDPOINT", "URL", "URI",
    "HOST", "PORT", "ARN", "NAME", "ID", "IDS", "PATH", "FILE", "DIR", "REF", "TYPE", "HEADER", "ENABLED",
    "EXPIRY", "EXPIRES", "TIMEOUT", "REGION", "VERSION", "POLICY", "FORMAT", "SIZE", "COUNT", "PARAM", "PARAMETER",
    "LOCATION", "PREFIX", "SUFFIX", "AUDIENCE", "ISSUER", "SCOPE", "SCOPES", "ALGORITHM", "ROTATION", "LIFETIME",
    "DURATION", "MODE", "KIND", "FIELD", "LEVEL"})
#: Names AWS Config's ecs-no-environment-secrets checks by default.
_EXPLICIT = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ECS_ENGINE_AUTH_DATA"})
_PRIVATE_ECR = re.compile(r"^(\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")


def secret_name(name: str) -> bool:
    """True when an environment variable's name says it holds a secret."""
    upper = name.upper()
    if upper in _EXPLICIT:
        return True
    words = [w for w in re.split(r"[^A-Z0-9]+", upper) if w]
    if not words or words[-1] in _DESCRIPTORS:
        return False
    last = words[-1]
    if last in _LAST_ONLY:
        return len(words) > 1
    if last == "KEY":
        return len(words) > 1 and words[-2] in _KEY_QUALIFIERS
    pairs = {a + b for a, b in zip(words, words[1:], strict=False)}
    return bool(_SECRET_WORDS & (set(words) | pairs)) or last.endswith(("PASSWORD", "PASSWD", "SECRET", "TOKEN"))


def _reference(value: str) -> bool:
    """A value that points at a secret instead of holding it: an ARN, a file path, an SSM path."""
    return value.startswith(("arn:", "/", "./", "file:", "ssm:", "secretsmanager:"))


def env_problem(environment: Any) -> str | None:
    """What is wrong with a plain `environment` list ([{name, value}]), if anything."""
    named, valued = [], []
    for item in environment or []:
        if not isinstance(item, dict):
            continue
        name, value = str(item.get("name", "")), str(item.get("value", ""))
        if secret_name(name) and not _reference(value):
            named.append(name)
        elif _SECRET_VALUE.search(value):
            valued.append(name)
    if not named and not valued:
        return None
    what = ", ".join(named) + (" and " if named and valued else "") + \
        (f"credential-looking values in {', '.join(valued)}" if valued else "")
    return (f"{what} in its plain environment, which anyone who can describe the task reads: move "
            f"{'it' if len(named) + len(valued) == 1 else 'them'} to secrets (Secrets Manager or SSM ARNs)")


def container_policy(name: str, description: str, level: EnforcementLevel,
                     check: Callable[[dict[str, Any], ResourceValidationArgs], str | None],
                     properties: dict[str, dict[str, Any]] | None = None) -> Any:
    """A resource policy that checks every container of every task definition (sidecars, init containers)."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type != TASK_DEFINITION:
            return
        for container in container_definitions(args.props):
            problem = check(container, args)
            if problem:
                report_violation(f"{args.name}: container {container.get('name', '?')!r} {problem}{hint_args(args)}.")

    return resource_policy(name, description, level, validate, properties)


def _logging(container: dict[str, Any], args: ResourceValidationArgs) -> str | None:
    drivers = config(args, {"allowedDrivers": ["awslogs", "awsfirelens"]})["allowedDrivers"]
    log = container.get("logConfiguration")
    if not isinstance(log, dict) or not log.get("logDriver"):
        return "has no logConfiguration: its output is lost. Send it to CloudWatch with the awslogs driver"
    if log["logDriver"] not in drivers:
        return f"logs with driver {log['logDriver']!r}; allowed: {', '.join(drivers)}"
    return None


ecs_container_logging = container_policy(
    "ecs-container-logging", "Every container has a logConfiguration with an allowed driver.",
    EnforcementLevel.MANDATORY, _logging,
    {"allowedDrivers": {"type": "array", "items": {"type": "string"}, "default": ["awslogs", "awsfirelens"],
                        "description": "Log drivers containers may use."}})

ecs_no_privileged = container_policy(
    "ecs-no-privileged", "No container runs privileged.", EnforcementLevel.MANDATORY,
    lambda c, _: "runs privileged: it gets root on the host; remove privileged" if c.get("privileged") is True
    else None)


def _secrets_in_env(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == TASK_DEFINITION:
        for container in container_definitions(args.props):
            problem = env_problem(container.get("environment"))
            if problem:
                report_violation(f"{args.name}: container {container.get('name', '?')!r} has {problem}"
                                 f"{hint_args(args)}.")
        return
    launch = launch_from_args(args)
    if launch is None:
        return
    overrides = launch.overrides
    if overrides is UNKNOWN:
        raise unknown_at_preview("ecs-no-secrets-in-environment", [f"the container overrides of {args.name}"])
    for override in overrides:
        problem = env_problem(override.get("environment"))
        if problem:
            report_violation(f"{args.name}: the override of container {override.get('name', '?')!r} puts "
                             f"{problem}{hint_args(args)}.")


ecs_no_secrets_in_environment = resource_policy(
    "ecs-no-secrets-in-environment",
    "No credential-looking names or values in plain container environment, nor in the container overrides of "
    "schedules, EventBridge targets and Pipes.", EnforcementLevel.MANDATORY, _secrets_in_env)

ecs_readonly_root_filesystem = container_policy(
    "ecs-readonly-root-filesystem", "Containers have a read-only root filesystem.", EnforcementLevel.ADVISORY,
    lambda c, _: None if c.get("readonlyRootFilesystem") is True else
    "has a writable root filesystem: set readonlyRootFilesystem and give writable paths as volumes")


def _non_root(container: dict[str, Any], _: ResourceValidationArgs) -> str | None:
    user = str(container.get("user") or "")
    if not user:
        return "sets no user, so it runs as the image's user (often root): set a non-root user"
    if user.split(":")[0] in ("root", "0"):
        return f"runs as {user}: set a non-root user"
    return None


ecs_non_root_user = container_policy(
    "ecs-non-root-user", "Containers run as a non-root user.", EnforcementLevel.ADVISORY, _non_root)


def _private_ecr(container: dict[str, Any], args: ResourceValidationArgs) -> str | None:
    image = str(container.get("image", ""))
    allowed = config(args, {"allowedRegistries": []})["allowedRegistries"]
    if any(image.startswith(r.rstrip("/") + "/") for r in allowed):
        return None
    match = _PRIVATE_ECR.match(image)
    if not match:
        return (f"pulls {image!r} from outside private ECR: a task with no internet route cannot pull it. Use the "
                "stack's repository or an ECR pull-through cache")
    role = plain(args.props).get("executionRoleArn")  # read without the proxy: unknown only skips this check
    account = role.split(":")[4] if isinstance(role, str) and role.count(":") >= 5 else None
    if not allowed and account and match.group(1) != account:
        return f"pulls from the ECR registry of account {match.group(1)}, not this account ({account})"
    return None


images_from_private_ecr = container_policy(
    "images-from-private-ecr", "Images come from this account's private ECR (or allowedRegistries).",
    EnforcementLevel.ADVISORY, _private_ecr,
    {"allowedRegistries": {"type": "array", "items": {"type": "string"}, "default": [],
                           "description": "Registry hosts (and path prefixes) images may come from; default: this "
                                          "account's ECR."}})


def _platform_latest(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    launch = launch_from_args(args)
    if launch is None:
        return
    version = launch.platform_version
    if version not in (None, "LATEST", UNKNOWN):
        report_violation(f"{args.name} pins Fargate platform {version}; use LATEST for current security patches.")


ecs_fargate_platform_latest = resource_policy(
    "ecs-fargate-platform-latest", "Fargate tasks run on platform version LATEST.", EnforcementLevel.ADVISORY,
    _platform_latest)


def _insights(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CLUSTER:
        return
    settings = {s.get("name"): s.get("value") for s in args.props.get("settings") or []}
    if settings.get("containerInsights") not in ("enabled", "enhanced"):
        report_violation(f"{args.name} has Container Insights off: no per-task CPU and memory metrics. Add the "
                         "setting containerInsights=enabled.")


ecs_cluster_container_insights = resource_policy(
    "ecs-cluster-container-insights", "ECS clusters have Container Insights on.", EnforcementLevel.ADVISORY,
    _insights)


def _circuit_breaker(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != SERVICE:
        return
    breaker = args.props.get("deploymentCircuitBreaker") or {}
    if breaker.get("enable") is not True or breaker.get("rollback") is not True:
        report_violation(f"{args.name} deploys without the circuit breaker and rollback: a bad release keeps "
                         "failing tasks forever. Set deploymentCircuitBreaker {enable: true, rollback: true}.")


ecs_service_circuit_breaker = resource_policy(
    "ecs-service-circuit-breaker", "ECS services roll back failed deployments by themselves.",
    EnforcementLevel.ADVISORY, _circuit_breaker)


def _roles_differ(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    for td in graph.of_type(TASK_DEFINITION):
        execution, task = td.props.get("executionRoleArn"), td.props.get("taskRoleArn")
        same_dep = set(td.deps.get("executionRoleArn", [])) & set(td.deps.get("taskRoleArn", []))
        same_value = isinstance(execution, str) and execution == task
        if same_dep or same_value:
            found.violation(f"{td.name} uses one role as execution role and task role: the code in the container "
                            "gets what ECS needs to start it (image pulls, secrets). Give it its own task role"
                            f"{hint(td)}.", td.urn)


ecs_execution_role_differs_from_task_role = stack_policy(
    "ecs-execution-role-differs-from-task-role", "A task definition's execution role and task role are different "
    "roles.", EnforcementLevel.ADVISORY, _roles_differ)

POLICIES = [ecs_container_logging, ecs_no_privileged, ecs_no_secrets_in_environment, ecs_readonly_root_filesystem,
            ecs_non_root_user, images_from_private_ecr, ecs_fargate_platform_latest, ecs_cluster_container_insights,
            ecs_service_circuit_breaker, ecs_execution_role_differs_from_task_role]
