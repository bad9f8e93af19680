"""The `beforeDeploy` step: a migration that runs inside the VPC during `pulumi up` and gates the service.

`before_deploy()` registers one `Migration` (a Python dynamic resource) between a service's task
definition and its ECS service: its inputs carry the new task definition's ARN, and the service
depends on it. During `pulumi up` (never in a preview: the engine calls a dynamic provider's
create/update only when it applies a change) its provider runs the task in the private subnets with
`tools.run_task`'s Runner, streams the log lines to the deployer's output and waits for the exit
code. Exit 0: the step succeeds and the service moves. Anything else raises, Pulumi saves neither
this step's new state nor the service's, and the service keeps its task definition.

Why these mechanics (see README, "Migrations before a deploy"):
- Output: a dynamic provider has no connection to the engine, so `pulumi.log` there is a print
  to stderr; the engine shows a dynamic provider's stdout and stderr lines as the stack's
  diagnostics (pkg/resource/plugin/plugin.go). The lines go to stderr, flushed, and end with where
  the full logs are. The failure is one line: the host formats a provider's exception with
  `traceback.format_exc()` (pulumi/dynamic/__main__.py), which prints no frames with
  `sys.tracebacklimit = 0`; that is set in this provider's own process when it fails a step.
- Runs once per task definition: `diff` compares the service's task definition ARN only (not the
  pickled provider, not the other inputs), so an unchanged revision is never run again.
- Idempotency: the RunTask client token is `<key>-<attempt>`, the key a hash of the revision and
  the request. A deployer that crashed (or was interrupted) leaves its task running: a retry finds
  it by its `startedBy` tag and follows it. Otherwise attempts are counted by asking ECS: a token
  whose task already stopped (ECS keeps a token for up to 24 hours) is an earlier attempt, so a
  retry after a failure moves on to the next attempt, and one that finds an earlier attempt's
  exit 0 does not run it again.

The provider is pickled into the stack's state (by reference: this module must be importable from
the project directory, where Pulumi starts the provider's process), so it holds no state but its
test seams, and imports boto3 and the tools only when it runs.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import pulumi
from pulumi.dynamic import ConfigureRequest, CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

if TYPE_CHECKING:  # the provider's process imports this module: it needs neither pulumi_aws nor the components
    from components.platform import WorkloadArgs
    from components.workload import WorkloadParts

#: Attempts of one revision a retry may find before it gives up (each is a task that ECS says has stopped).
MAX_ATTEMPTS = 20
#: The input whose change (a new task definition revision of the service) makes the step run.
TRIGGER = "serviceTaskDefinition"
#: Outputs the provider computes.
OUTPUTS = ("taskArn", "exitCode", "attempt", "logStream")


class MigrationFailed(Exception):
    """The migration did not exit 0: the message is the one line `pulumi up` shows."""


class Migration(Resource, module="migration", name="Migration"):
    """One `beforeDeploy` run: a task started during `pulumi up` whenever the service's task definition changes.

    Outputs: taskArn, exitCode, attempt (0: a run an earlier `up` started and this one followed), logStream of
    the run that let the deployment go on.
    """

    task_arn: pulumi.Output[str]

    def __init__(self, name: str, inputs: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__(MigrationProvider(), name, {**inputs, **dict.fromkeys(OUTPUTS)}, opts)


def before_deploy(parent: pulumi.Resource, name: str, args: WorkloadArgs, parts: WorkloadParts) -> Migration | None:
    """The step of a workload's `beforeDeploy` (None without one), registered after its task definition."""
    setting = getattr(args.workload, "before_deploy", None)
    if setting is None:
        return None
    platform = args.platform
    needs = [*parts.egress_rules, *platform.task_prerequisites, *filter(None, [platform.cluster])]
    if setting.job is not None:
        job = args.before_deploy_job
        if job is None:
            raise ValueError(f"{args.name}: beforeDeploy.job {setting.job!r} was not given to the service")
        entry, needs = job.outputs, [*needs, job]
    else:
        entry = parts.outputs(args)
    inputs = {
        "service": args.name, "job": setting.job, TRIGGER: parts.task_definition.arn,
        "taskDefinition": entry["taskDefinitionArn"], "containerName": entry["containerName"],
        "command": setting.command, "cluster": args.platform.cluster_arn, "region": args.context.region,
        # its own group and the clients group: other services by their DNS names (`dnsName`), like a one-off task
        "subnets": list(entry["subnetIds"]), "securityGroups": list(entry["securityGroupIds"]),
        # A gate should not wait for spot capacity: the run is seconds of FARGATE, spot or not.
        "capacityProvider": "FARGATE", "assignPublicIp": "DISABLED",
        "logGroup": entry["logGroupName"], "logStreamPrefix": entry["logStreamPrefix"],
        "timeoutMinutes": setting.timeout_minutes,
    }
    return Migration(f"{name}-migration", inputs, pulumi.ResourceOptions(parent=parent, depends_on=needs))


def migration_key(props: Mapping[str, Any]) -> str:
    """40 hex characters naming one run: the service's revision and everything the RunTask request says."""
    fields = (TRIGGER, "taskDefinition", "containerName", "command", "cluster", "subnets", "securityGroups",
              "capacityProvider")
    text = json.dumps({k: props.get(k) for k in fields}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


class MigrationProvider(ResourceProvider):
    """Runs the task of a `Migration` on create and on update; `diff` decides that an update is needed.

    `session`, `sleep`, `clock`, `out` and `poll` are seams for tests (None: boto3 from the deployer's
    environment or the stack's `aws:profile`, real time, the provider's stderr; ECS is asked every 2 s).
    """

    _profile: str | None = None

    def __init__(self, session: Any = None, sleep: Callable[[float], None] | None = None,
                 clock: Callable[[], float] | None = None, out: Callable[[str], None] | None = None,
                 poll: float = 2.0):
        super().__init__()
        self._session, self._sleep, self._clock, self._out, self._poll = session, sleep, clock, out, poll

    def configure(self, req: ConfigureRequest) -> None:
        """The stack's `aws:profile`, the one credentials setting of the AWS provider boto3 can use as is."""
        self._profile = req.config.get("aws:profile")

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """A change only when the service's task definition changed (unknown in a preview: a new revision)."""
        changed = olds.get(TRIGGER) != news.get(TRIGGER)
        return DiffResult(changes=changed, replaces=[], stables=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self.run(props)
        return CreateResult(id_=f"{props['service']}-before-deploy", outs=outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self.run(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to delete: a run leaves only its stopped task and its logs."""

    def say(self, props: Mapping[str, Any], line: str) -> None:
        """One line of the step's output, where `pulumi up` shows a dynamic provider's output."""
        text = f"[{props['service']} beforeDeploy] {line}"
        if self._out is not None:
            self._out(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def run(self, props: dict[str, Any]) -> dict[str, Any]:
        """Start (or find) the task, follow it to the end; its outputs, or MigrationFailed."""
        from botocore.exceptions import BotoCoreError, ClientError

        from tools.aws import ToolError, describe_error, make_session
        from tools.run_task import EXIT_NOT_RUN, EXIT_TIMEOUT, Runner, task_request

        key = migration_key(props)
        entry = {"taskDefinitionArn": props["taskDefinition"], "containerName": props["containerName"],
                 "securityGroupId": props["securityGroups"][0], "subnetIds": props["subnets"],
                 "capacityProviderStrategy": [{"capacityProvider": props["capacityProvider"], "weight": 1,
                                               "base": 0}],
                 "logGroupName": props["logGroup"], "logStreamPrefix": props["logStreamPrefix"]}
        request = task_request(props.get("job") or props["service"], "job" if props.get("job") else "service", entry,
                               props["cluster"], props["region"], command=props.get("command"),
                               started_by_tag=f"migrate/{key[:24]}")
        runner = Runner(self._session or make_session(self._profile), request, out=lambda s: self.say(props, s),
                        sleep=self._sleep or time.sleep, clock=self._clock or time.monotonic, poll=self._poll)
        timeout = float(props["timeoutMinutes"]) * 60
        try:
            attempt, earlier = self._start(runner, key, props)
            if earlier is not None:
                self.say(props, f"attempt {attempt} ({runner.task_arn}) already exited 0 for this revision: "
                                "not running it again")
                code = 0
            else:
                code = runner.wait(timeout)
                if code == EXIT_TIMEOUT:
                    runner.stop(f"private-fargate: beforeDeploy timed out after {props['timeoutMinutes']} minutes")
        except ToolError as exc:  # RunTask refused, or the task never became visible
            self._fail(props, runner, str(exc))
        except (ClientError, BotoCoreError) as exc:
            self._fail(props, runner, describe_error(exc, props["region"]))
        where = self._where(props, runner)
        self.say(props, f"full logs: {where}")
        if code == EXIT_TIMEOUT:
            self._fail(props, runner, f"timed out after {props['timeoutMinutes']} minutes (timeoutMinutes); the task "
                                      "was stopped")
        if code == EXIT_NOT_RUN:
            self._fail(props, runner, f"the task never ran: {runner.reason or 'ECS gave no reason'}")
        if code != 0:
            self._fail(props, runner, f"the task exited with code {code}")
        return {**props, "taskArn": runner.task_arn, "exitCode": 0, "attempt": attempt,
                "logStream": runner.stream()}

    def _start(self, runner: Any, key: str, props: Mapping[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """(attempt, None) with `runner` on the task to follow, or (attempt, task) of an earlier attempt that
        exited 0."""
        from tools.aws import ToolError

        request = runner.request
        # startedBy must be ListTasks' only filter (API_ListTasks), which then lists the tasks whose desired status
        # is RUNNING; a task being stopped may still show, so each is described.
        listed = runner.ecs.list_tasks(cluster=request.cluster, startedBy=request.kwargs["startedBy"])
        for arn in listed.get("taskArns") or []:
            runner.task_arn = arn
            if runner.describe().get("desiredStatus") != "STOPPED":
                self.say(props, f"following {arn}: an earlier attempt of this deployment started it and it is "
                                "still running (not starting another)")
                return 0, None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            request.kwargs["clientToken"] = f"{key}-{attempt}"
            try:
                runner.start()
            except runner.ecs.exceptions.ConflictException:
                continue  # the token went with other parameters: an attempt of another request
            task = runner.describe()
            if task.get("lastStatus") != "STOPPED":
                command = " ".join(props.get("command") or []) or "its own command"
                self.say(props, f"attempt {attempt}: {runner.task_arn} runs {props['taskDefinition']} ({command})")
                return attempt, None
            # ECS answered with the task this token started before: an earlier attempt that has ended.
            container = next((c for c in task.get("containers", []) if c.get("name") == props["containerName"]), {})
            if container.get("exitCode") == 0:
                return attempt, task
            self.say(props, f"attempt {attempt} ({runner.task_arn}) ended before: trying attempt {attempt + 1}")
        raise ToolError(f"{MAX_ATTEMPTS} earlier attempts of this revision found; run `pulumi up` again later")

    def _where(self, props: Mapping[str, Any], runner: Any) -> str:
        from tools.aws import log_stream_link

        if not runner.task_arn:
            return f"log group {props['logGroup']} (no task started)"
        stream = runner.stream()
        link = log_stream_link(props["region"], props["logGroup"], stream)
        return f"log group {props['logGroup']}, stream {stream} ({link})"

    def _fail(self, props: Mapping[str, Any], runner: Any, what: str) -> NoReturn:
        """Raise the one line `pulumi up` shows for this step."""
        # The dynamic provider host reports an exception as `traceback.format_exc()`; without frames that is
        # this one line. The setting lasts for this provider process, which has just failed the update.
        sys.tracebacklimit = 0
        raise MigrationFailed(f"{props['service']}: beforeDeploy {what}; the service keeps its task definition; "
                              f"logs: {self._where(props, runner)}") from None
