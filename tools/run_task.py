"""`python -m tools.run_task NAME`: run a job's or service's task once, like `docker run`.

ECS gives a one-off task no stdout and no exit code. This starts the task from the stack outputs
(private subnets, its security group, no public IP, its capacity), streams the container's log
events while it runs, and exits with the container's exit code. A task that never ran gets its
stop reason and a diagnosis instead (exit 125, as `docker run` does when the container never started).

`--command` replaces the image's CMD, i.e. the arguments to its ENTRYPOINT: ECS container
overrides cannot change the ENTRYPOINT. The sample image's ENTRYPOINT is `python -m app`, so
`--command job` runs `python -m app job`.

Exit status: the container's exit code; 125 the task did not run; 124 `--timeout` reached (the
task keeps running); 130 interrupted; 2 bad arguments or outputs, or an AWS error.

`Runner` (start, wait, stream the logs, diagnose) has no command-line concerns, so other tools
(the doctor's probe, a deploy-time migration step) run tasks with it.
"""

from __future__ import annotations

import argparse
import getpass
import re
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from settings.base import FARGATE_MEMORY
from tools.aws import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    ToolError,
    add_source_args,
    backoff,
    cli,
    find_workload,
    load_outputs,
    make_session,
    one_line,
    task_id,
)

EXIT_NOT_RUN = 125
EXIT_TIMEOUT = 124
#: How long to keep describing a task ECS does not (or no longer) shows before giving up, in seconds.
VISIBILITY_TIMEOUT = 300.0
WAITING = ("PROVISIONING", "PENDING", "ACTIVATING")

#: (substrings of a stop reason, diagnosis): the first match explains why a task never ran.
DIAGNOSES = (
    (("CannotPullContainerError", "pull image manifest"),
     "the task could not pull its image: check the ecr.api, ecr.dkr and S3 gateway endpoints (their security "
     "group must admit 443 from the tasks), the execution role's ECR permissions, and that the image tag exists"),
    (("secretsmanager", "from asm"),
     "the task could not read a Secrets Manager secret: check the secretsmanager endpoint and the execution "
     "role's secretsmanager:GetSecretValue (and kms:Decrypt for a customer key)"),
    (("ssm", "parameter store"),
     "the task could not read an SSM parameter: check the ssm endpoint and the execution role's "
     "ssm:GetParameters (and kms:Decrypt for a SecureString with a customer key)"),
    (("log stream", "logger", "logs"),
     "the task could not create its log stream: check the logs endpoint and the execution role's "
     "logs:CreateLogStream on its log group"),
    (("ResourceInitializationError",),
     "the task could not be set up (image, secrets or logs): check the interface endpoints of its subnets and "
     "the execution role"),
    (("CannotStartContainerError",), "the container could not start: check the command, entrypoint and user"),
    (("OutOfMemory",), "the container ran out of memory: run with a larger --memory"),
    (("SpotInterruption", "Spot"), "FARGATE_SPOT reclaimed or lacked the capacity: run again, or without --spot"),
)


#: The same note the preview prints for an ARM64 workload on spot (settings/model.py).
ARM64_SPOT_NOTE = ("note: ARM64 on FARGATE_SPOT: AWS's ECS API reference says Fargate Spot runs ARM64 tasks on "
                   "platform 1.4.0 and later (API_CapacityProviderStrategyItem), while its developer guide still says "
                   "it does not (fargate-capacity-providers.html); if the task is not placed, run without --spot")



UsageError = ToolError  # the name this module used before tools.aws; kept for importers


@dataclass
class Request:
    """What to run: the parsed command line and the workload's entry of the stack outputs."""

    name: str
    kind: str
    entry: dict[str, Any]
    cluster: str
    region: str | None
    kwargs: dict[str, Any] = field(default_factory=dict)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of the tool."""
    p = argparse.ArgumentParser(prog="python -m tools.run_task", description=__doc__.splitlines()[0])
    p.add_argument("name", help="a job or service of the stack")
    add_source_args(p)
    p.add_argument("--command", help="the arguments to the image's ENTRYPOINT, split like a shell would: replaces "
                                     "the image's CMD (ECS cannot override the ENTRYPOINT); for the sample app "
                                     "`--command job` runs `python -m app job`")
    p.add_argument("--env", action="append", default=[], metavar="K=V", help="extra environment (repeatable)")
    p.add_argument("--cpu", type=int, help="task cpu units (with --memory; a valid Fargate pair)")
    p.add_argument("--memory", type=int, help="task memory in MiB (with --cpu)")
    p.add_argument("--spot", action="store_true", help="run on FARGATE_SPOT")
    p.add_argument("--no-wait", action="store_true", help="print the task ARN and exit")
    p.add_argument("--timeout", type=float, help="stop waiting after this many seconds (the task keeps running)")
    p.add_argument("--idempotency-key", help="client token: retrying with the same key starts no second task")
    p.add_argument("--stop-on-interrupt", action="store_true", help="stop the task on Ctrl-C without asking")
    p.add_argument("--via-schedule", action="store_true",
                   help="run a job through its state machine, as its schedule does (timeout, retries, alert)")
    return p.parse_args(argv)


def check_size(cpu: int | None, memory: int | None) -> None:
    """Refuse a cpu/memory override Fargate would refuse, before any call."""
    if cpu is None and memory is None:
        return
    if cpu is None or memory is None:
        raise ToolError("--cpu and --memory go together (Fargate sizes the task as a pair)")
    if cpu not in FARGATE_MEMORY:
        raise ToolError(f"--cpu {cpu} is not a Fargate size; allowed: {', '.join(map(str, FARGATE_MEMORY))}")
    if memory not in FARGATE_MEMORY[cpu]:
        allowed = FARGATE_MEMORY[cpu]
        shown = ", ".join(map(str, allowed)) if len(allowed) <= 4 else f"{allowed[0]}..{allowed[-1]} in steps of " \
                                                                         f"{allowed[1] - allowed[0]}"
        raise ToolError(f"--memory {memory} is not valid with --cpu {cpu}; allowed: {shown}")


def build_request(args: argparse.Namespace, outputs: dict[str, Any]) -> Request:
    """The RunTask call for the workload named on the command line."""
    check_size(args.cpu, args.memory)
    workload = find_workload(outputs, args.name)
    env = []
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ToolError(f"--env {item!r}: expected KEY=VALUE")
        env.append({"name": key, "value": value})
    return task_request(args.name, workload.kind, workload.entry, outputs["clusterArn"],
                        args.region or outputs.get("region"),
                        command=shlex.split(args.command) if args.command else None, env=env, cpu=args.cpu,
                        memory=args.memory, spot=args.spot, idempotency_key=args.idempotency_key)


def task_request(name: str, kind: str, entry: dict[str, Any], cluster_arn: str, region: str | None, *,
                 command: list[str] | None = None, env: list[dict[str, str]] | None = None,
                 cpu: int | None = None, memory: int | None = None, spot: bool = False,
                 idempotency_key: str | None = None, started_by_tag: str | None = None) -> Request:
    """The RunTask call for one workload's entry of the stack outputs, from plain values (the command line
    and the deploy-time migration step both build theirs here)."""
    missing = sorted({"taskDefinitionArn", "containerName", "securityGroupId", "subnetIds", "capacityProviderStrategy",
                      "logGroupName", "logStreamPrefix"} - set(entry))
    if missing:
        raise ToolError(f"the outputs of {name!r} lack {', '.join(missing)} (outputsVersion 1 has them)")
    override: dict[str, Any] = {"name": entry["containerName"]}
    if command:
        override["command"] = list(command)
    if env:
        override["environment"] = env
    overrides: dict[str, Any] = {"containerOverrides": [override]}
    if cpu is not None:
        overrides.update(cpu=str(cpu), memory=str(memory))
    strategy = ([{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}] if spot
                else entry["capacityProviderStrategy"])
    kwargs: dict[str, Any] = {
        "cluster": cluster_arn, "taskDefinition": entry["taskDefinitionArn"], "count": 1,
        "capacityProviderStrategy": strategy, "platformVersion": "LATEST",
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": list(entry["subnetIds"]),
                                                         # its own group and the clients group (outputs
                                                         # from before these keys: the own group alone)
                                                         "securityGroups": list(entry.get("securityGroupIds")
                                                                                or [entry["securityGroupId"]]),
                                                         "assignPublicIp": "DISABLED"}},
        "overrides": overrides, "startedBy": started_by_tag or started_by(),
        "propagateTags": "TASK_DEFINITION", "enableECSManagedTags": True,
    }
    if idempotency_key:
        kwargs["clientToken"] = idempotency_key[:64]
    return Request(name, kind, entry, cluster_arn, region, kwargs)


def started_by() -> str:
    """`run_task/<user>` in the characters ECS accepts (letters, digits, '-', '_', '/'), 36 at most."""
    return re.sub(r"[^A-Za-z0-9_/-]", "-", f"run_task/{getpass.getuser()}")[:36]


def diagnose(reason: str) -> str | None:
    """Why a task that stopped with `reason` never ran, and what to check."""
    for needles, text in DIAGNOSES:
        if any(n.lower() in reason.lower() for n in needles):
            return text
    return None


class Runner:
    """Starts the task, follows it to STOPPED, prints its logs; `sleep`, `clock` and `out` are seams for tests.

    After `wait`, `reason` holds the task's stop code and reason (empty when ECS gave none).
    """

    def __init__(self, session: Any, request: Request, out: Callable[[str], None] = print,
                 sleep: Callable[[float], None] = time.sleep, poll: float = 2.0,
                 visibility_timeout: float = VISIBILITY_TIMEOUT, clock: Callable[[], float] = time.monotonic):
        self.ecs = session.client("ecs", region_name=request.region)
        self.logs = session.client("logs", region_name=request.region)
        self.request = request
        self.out = out
        self.sleep = sleep
        self.clock = clock
        self.poll = poll
        self.visibility_timeout = visibility_timeout
        self.token: str | None = None
        self.task_arn = ""
        self.seen = False
        self.reason = ""

    def warn_if_arm64_on_spot(self) -> None:
        """AWS's pages disagree on FARGATE_SPOT with ARM64: say so before the task is placed."""
        definition = self.ecs.describe_task_definition(taskDefinition=self.request.kwargs["taskDefinition"])
        platform = (definition.get("taskDefinition") or {}).get("runtimePlatform") or {}
        if platform.get("cpuArchitecture") == "ARM64":
            self.out(ARM64_SPOT_NOTE)

    def start(self) -> str:
        """RunTask; the task's ARN."""
        response = self.ecs.run_task(**self.request.kwargs)
        tasks, failures = response.get("tasks") or [], response.get("failures") or []
        if failures or not tasks:
            reasons = "; ".join(f"{f.get('arn', '')} {f.get('reason', '')}".strip() for f in failures)
            raise ToolError(f"ECS did not start the task: {reasons or 'no task returned'}")
        self.task_arn = tasks[0]["taskArn"]
        return self.task_arn

    def describe(self) -> dict[str, Any]:
        """The task as ECS describes it now.

        ECS is eventually consistent: a task RunTask just returned may be MISSING from DescribeTasks
        for a while, so that answer is retried with growing delays (AWS's advice) before giving up.
        """
        delays = backoff(total=self.visibility_timeout)
        while True:
            response = self.ecs.describe_tasks(cluster=self.request.cluster, tasks=[self.task_arn])
            tasks = response.get("tasks") or []
            if tasks:
                self.seen = True
                return tasks[0]
            reasons = "; ".join(f.get("reason", "") for f in response.get("failures") or []) or "no task"
            delay = next(delays, None)
            if delay is None:
                if self.seen:
                    raise ToolError(f"the task {self.task_arn} disappeared: DescribeTasks answers {reasons} (ECS "
                                    "shows a stopped task for about an hour; was the cluster deleted?)")
                raise ToolError(f"ECS started {self.task_arn} but DescribeTasks still answers {reasons} after "
                                f"{self.visibility_timeout:.0f} s: look for it with `aws ecs describe-tasks`")
            self.sleep(delay)

    def stream(self) -> str:
        """`<logStreamPrefix>/<container>/<task-id>`."""
        entry = self.request.entry
        return f"{entry['logStreamPrefix']}/{entry['containerName']}/{task_id(self.task_arn)}"

    def print_new_logs(self) -> None:
        """Print the log events written since the last call, in order."""
        while True:
            kwargs: dict[str, Any] = {"logGroupName": self.request.entry["logGroupName"],
                                      "logStreamName": self.stream(), "startFromHead": True}
            if self.token:
                kwargs["nextToken"] = self.token
            try:
                page = self.logs.get_log_events(**kwargs)
            except self.logs.exceptions.ResourceNotFoundException:
                return  # the stream appears when the container writes its first line
            for event in page.get("events", []):
                self.out(event["message"].rstrip("\n"))
            if page.get("nextForwardToken") in (None, self.token):
                return
            self.token = page["nextForwardToken"]
            if not page.get("events"):
                return

    def wait(self, timeout: float | None) -> int:
        """Follow the task until it stops (or `timeout`); the process exit status."""
        started = self.clock()
        last = ""
        while True:
            task = self.describe()
            status = task.get("lastStatus", "")
            if status in WAITING:
                if status != last:
                    self.out(f"... {status.lower()} {self.task_arn}")
            else:
                self.print_new_logs()
            last = status
            if status == "STOPPED":
                self.print_new_logs()
                return self.finish(task)
            if timeout is not None and self.clock() - started >= timeout:
                self.out(f"timed out after {timeout:.0f} s: the task is still {status.lower()}: {self.task_arn}")
                return EXIT_TIMEOUT
            self.sleep(self.poll)

    def finish(self, task: dict[str, Any]) -> int:
        """The container's exit code, or a diagnosis when it never ran."""
        name = self.request.entry["containerName"]
        container = next((c for c in task.get("containers", []) if c.get("name") == name), {})
        code = container.get("exitCode")
        reason = " ".join(filter(None, [task.get("stopCode"), task.get("stoppedReason"), container.get("reason")]))
        self.reason = reason
        if code is None or task.get("stopCode") == "TaskFailedToStart":
            self.out(f"the task did not run: {reason or 'no reason given'}")
            hint = diagnose(reason)
            if hint:
                self.out(f"diagnosis: {hint}")
            return EXIT_NOT_RUN
        if code != 0:
            self.out(f"the container exited with {code}" + (f" ({reason})" if reason else ""))
            hint = diagnose(reason) if reason else None
            if hint or code == 137:  # 137: killed, most often for memory
                self.out("diagnosis: " + (hint or "the container was killed (SIGKILL), most often for running out "
                                                  "of memory: run with a larger --memory"))
        return int(code)

    def stop(self, reason: str = "stopped from tools.run_task") -> None:
        """Ask ECS to stop the task."""
        self.ecs.stop_task(cluster=self.request.cluster, task=self.task_arn, reason=reason)
        self.out(f"stopping {self.task_arn}")


def interrupted(runner: Runner, stop_without_asking: bool, ask: Callable[[str], str] = input) -> int:
    """Ctrl-C: stop the task (when told to, or when the user says so); exit 130."""
    stop = stop_without_asking
    if not stop and sys.stdin.isatty():
        try:
            stop = ask("\nStop the task? [y/N] ").strip().lower() in ("y", "yes")
        except (EOFError, KeyboardInterrupt):
            stop = False
    if stop:
        try:
            runner.stop()
        except Exception as exc:  # one line, whatever the AWS error
            runner.out(f"could not stop {runner.task_arn}: {one_line(exc)}")
    else:
        runner.out(f"left running: {runner.task_arn}")
    return EXIT_INTERRUPTED


def main(argv: list[str] | None = None, session: Any = None, sleep: Callable[[float], None] = time.sleep,
         out: Callable[[str], None] = print) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    if args.via_schedule:
        return _via_schedule(args, session, out, sleep)
    state: dict[str, Any] = {}

    def start() -> int:
        request = build_request(args, load_outputs(args.stack, args.outputs))
        state["region"] = request.region
        runner = Runner(session or make_session(), request, out=out, sleep=sleep)
        state["runner"] = runner
        if args.spot:
            runner.warn_if_arm64_on_spot()
        runner.start()
        return 0

    code = cli(start, region=lambda: state.get("region"))
    if code or "runner" not in state:
        return code or EXIT_USAGE
    runner, request = state["runner"], state["runner"].request
    if args.no_wait:
        out(runner.task_arn)
        return 0
    out(f"started {request.kind} {request.name}: {runner.task_arn}")

    def follow() -> int:
        try:
            return runner.wait(args.timeout)
        except KeyboardInterrupt:
            return interrupted(runner, args.stop_on_interrupt)

    return cli(follow, region=lambda: request.region)


def _via_schedule(args: argparse.Namespace, session: Any, out: Callable[[str], None],
                  sleep: Callable[[float], None]) -> int:
    """`--via-schedule`: tools/run_execution.py starts the job's state machine and follows it."""
    from tools import run_execution

    state: dict[str, Any] = {}

    def body() -> int:
        refused = run_execution.refused_options(args)
        if refused:
            raise ToolError(f"{', '.join(refused)} with --via-schedule: the state machine runs the job as it is "
                            "defined")
        request = build_request(args, load_outputs(args.stack, args.outputs))
        state["region"] = request.region
        aws = session or make_session()
        return run_execution.run(aws, Runner(aws, request, out=out, sleep=sleep), out=out, sleep=sleep)

    return cli(body, region=lambda: state.get("region"))


if __name__ == "__main__":
    sys.exit(main())
