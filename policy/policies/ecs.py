"""ECS policies: how containers are defined, how clusters and services run them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from ._util import UNKNOWN, Graph, config, container_definitions, plain, setting_hint

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
CLUSTER = "aws:ecs/cluster:Cluster"

_SECRET_NAME = re.compile(r"PASSW(OR)?D|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL", re.I)
_SECRET_VALUE = re.compile(r"AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY|gh[pousr]_[A-Za-z0-9]{30,}"
                           r"|xox[abprs]-[A-Za-z0-9-]{10,}|://[^/\s:@]+:[^/\s@]+@")
#: Names that hold where a secret is, not the secret (DB_SECRET_ARN, TOKEN_URL, ...).
_REFERENCE_SUFFIXES = ("_ARN", "_NAME", "_ID", "_PATH", "_FILE", "_URL", "_URI", "_REF")
_PRIVATE_ECR = re.compile(r"^(\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")


def container_policy(name: str, description: str, level: EnforcementLevel,
                     check: Callable[[dict[str, Any], ResourceValidationArgs], str | None],
                     config_schema: PolicyConfigSchema | None = None) -> ResourceValidationPolicy:
    """A resource policy that checks every container of every task definition."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type != TASK_DEFINITION:
            return
        for container in container_definitions(args.props):
            problem = check(container, args)
            if problem:
                label = container.get("name", "?")
                report_violation(f"{args.name}: container {label!r} {problem}{setting_hint(args.name)}.")

    return ResourceValidationPolicy(name=name, description=description, enforcement_level=level, validate=validate,
                                    config_schema=config_schema)


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
    PolicyConfigSchema(properties={"allowedDrivers": {
        "type": "array", "items": {"type": "string"}, "default": ["awslogs", "awsfirelens"],
        "description": "Log drivers containers may use."}}))

ecs_no_privileged = container_policy(
    "ecs-no-privileged", "No container runs privileged.", EnforcementLevel.MANDATORY,
    lambda c, _: "runs privileged: it gets root on the host; remove privileged" if c.get("privileged") is True
    else None)


def _secrets_in_env(container: dict[str, Any], _: ResourceValidationArgs) -> str | None:
    for item in container.get("environment") or []:
        name, value = str(item.get("name", "")), str(item.get("value", ""))
        if _SECRET_NAME.search(name) and not name.upper().endswith(_REFERENCE_SUFFIXES):
            return (f"has {name} in its plain environment, which anyone who can describe the task definition "
                    "reads: move it to secrets (a Secrets Manager or SSM ARN)")
        if _SECRET_VALUE.search(value):
            return f"has a credential-looking value in environment variable {name}: move it to secrets"
    return None


ecs_no_secrets_in_environment = container_policy(
    "ecs-no-secrets-in-environment", "No credential-looking names or values in plain container environment.",
    EnforcementLevel.MANDATORY, _secrets_in_env)

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
    PolicyConfigSchema(properties={"allowedRegistries": {
        "type": "array", "items": {"type": "string"}, "default": [],
        "description": "Registry hosts (and path prefixes) images may come from; default: this account's ECR."}}))


def _platform_latest(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == SERVICE:
        version = args.props.get("platformVersion")
    elif args.resource_type == "aws:scheduler/schedule:Schedule":
        version = ((args.props.get("target") or {}).get("ecsParameters") or {}).get("platformVersion")
    elif args.resource_type == "aws:cloudwatch/eventTarget:EventTarget":
        version = (args.props.get("ecsTarget") or {}).get("platformVersion")
    else:
        return
    if version not in (None, "LATEST"):
        report_violation(f"{args.name} pins Fargate platform {version}; use LATEST for current security patches.")


ecs_fargate_platform_latest = ResourceValidationPolicy(
    name="ecs-fargate-platform-latest", description="Fargate tasks run on platform version LATEST.",
    enforcement_level=EnforcementLevel.ADVISORY, validate=_platform_latest)


def _insights(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CLUSTER:
        return
    settings = {s.get("name"): s.get("value") for s in args.props.get("settings") or []}
    if settings.get("containerInsights") not in ("enabled", "enhanced"):
        report_violation(f"{args.name} has Container Insights off: no per-task CPU and memory metrics. Add the "
                         "setting containerInsights=enabled.")


ecs_cluster_container_insights = ResourceValidationPolicy(
    name="ecs-cluster-container-insights", description="ECS clusters have Container Insights on.",
    enforcement_level=EnforcementLevel.ADVISORY, validate=_insights)


def _circuit_breaker(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != SERVICE:
        return
    breaker = args.props.get("deploymentCircuitBreaker") or {}
    if breaker.get("enable") is not True or breaker.get("rollback") is not True:
        report_violation(f"{args.name} deploys without the circuit breaker and rollback: a bad release keeps "
                         "failing tasks forever. Set deploymentCircuitBreaker {enable: true, rollback: true}.")


ecs_service_circuit_breaker = ResourceValidationPolicy(
    name="ecs-service-circuit-breaker", description="ECS services roll back failed deployments by themselves.",
    enforcement_level=EnforcementLevel.ADVISORY, validate=_circuit_breaker)


def _roles_differ(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    graph = Graph(args.resources)
    for td in graph.of_type(TASK_DEFINITION):
        execution, task = td.props.get("executionRoleArn"), td.props.get("taskRoleArn")
        same_dep = set(td.deps.get("executionRoleArn", [])) & set(td.deps.get("taskRoleArn", []))
        same_value = isinstance(execution, str) and execution == task and execution is not UNKNOWN
        if same_dep or same_value:
            report_violation(f"{td.name} uses one role as execution role and task role: the code in the container "
                             "gets what ECS needs to start it (image pulls, secrets). Give it its own task role.",
                             td.urn)


ecs_execution_role_differs_from_task_role = StackValidationPolicy(
    name="ecs-execution-role-differs-from-task-role",
    description="A task definition's execution role and task role are different roles.",
    enforcement_level=EnforcementLevel.ADVISORY, validate=_roles_differ)

POLICIES = [ecs_container_logging, ecs_no_privileged, ecs_no_secrets_in_environment, ecs_readonly_root_filesystem,
            ecs_non_root_user, images_from_private_ecr, ecs_fargate_platform_latest, ecs_cluster_container_insights,
            ecs_service_circuit_breaker, ecs_execution_role_differs_from_task_role]
