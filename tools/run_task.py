"""`python -m tools.run_task NAME`: run a job's or service's task once, like `docker run`.

ECS gives a one-off task no stdout and no exit code. This starts the task from the stack outputs
(private subnets, its security group, no public IP, its capacity), streams the container's log
events while it runs, and exits with the container's exit code. A task that never ran gets its
stop reason and a diagnosis instead (exit 125, as `docker run` does when the container never started).

Exit status: the container's exit code; 125 the task did not run; 124 `--timeout` reached (the
task keeps running); 130 interrupted; 2 bad arguments or outputs.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from settings.base import FARGATE_MEMORY

EXIT_NOT_RUN = 125
EXIT_TIMEOUT = 124
EXIT_INTERRUPTED = 130
EXIT_USAGE = 2
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


class UsageError(Exception):
    """Bad arguments or outputs; the message is the one line to print."""


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
    src = p.add_mutually_exclusive_group()
    src.add_argument("--stack", help="read `pulumi stack output --json --stack STACK` (needs the Pulumi CLI)")
    src.add_argument("--outputs", type=Path, help="read the stack outputs from this JSON file")
    p.add_argument("--command", help="the container command, split like a shell would (replaces the image's)")
    p.add_argument("--env", action="append", default=[], metavar="K=V", help="extra environment (repeatable)")
    p.add_argument("--cpu", type=int, help="task cpu units (with --memory; a valid Fargate pair)")
    p.add_argument("--memory", type=int, help="task memory in MiB (with --cpu)")
    p.add_argument("--spot", action="store_true", help="run on FARGATE_SPOT")
    p.add_argument("--no-wait", action="store_true", help="print the task ARN and exit")
    p.add_argument("--timeout", type=float, help="stop waiting after this many seconds (the task keeps running)")
    p.add_argument("--idempotency-key", help="client token: retrying with the same key starts no second task")
    p.add_argument("--stop-on-interrupt", action="store_true", help="stop the task on Ctrl-C without asking")
    p.add_argument("--region", help="AWS region [the stack's]")
    p.add_argument("--via-schedule", action="store_true",
                   help="run a job through its state machine, as its schedule does (timeout, retries, alert)")
    return p.parse_args(argv)


def load_outputs(stack: str | None, outputs_file: Path | None) -> dict[str, Any]:
    """The stack outputs, from a file or from the Pulumi CLI."""
    if outputs_file is not None:
        try:
            return json.loads(outputs_file.read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"{outputs_file}: cannot read stack outputs ({exc})") from None
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise UsageError("no Pulumi CLI here: pass --outputs FILE (saved with `pulumi stack output --json`)")
    cmd = [pulumi, "stack", "output", "--json", *(["--stack", stack] if stack else [])]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise UsageError(f"`{' '.join(cmd[1:])}` failed: {last}")
    return json.loads(proc.stdout)


def check_size(cpu: int | None, memory: int | None) -> None:
    """Refuse a cpu/memory override Fargate would refuse, before any call."""
    if cpu is None and memory is None:
        return
    if cpu is None or memory is None:
        raise UsageError("--cpu and --memory go together (Fargate sizes the task as a pair)")
    if cpu not in FARGATE_MEMORY:
        raise UsageError(f"--cpu {cpu} is not a Fargate size; allowed: {', '.join(map(str, FARGATE_MEMORY))}")
    if memory not in FARGATE_MEMORY[cpu]:
        allowed = FARGATE_MEMORY[cpu]
        shown = ", ".join(map(str, allowed)) if len(allowed) <= 4 else f"{allowed[0]}..{allowed[-1]} in steps of " \
                                                                         f"{allowed[1] - allowed[0]}"
        raise UsageError(f"--memory {memory} is not valid with --cpu {cpu}; allowed: {shown}")


def build_request(args: argparse.Namespace, outputs: dict[str, Any]) -> Request:
    """The RunTask call for the workload named on the command line."""
    check_size(args.cpu, args.memory)
    if not isinstance(outputs, dict) or "clusterArn" not in outputs:
        raise UsageError("the outputs have no clusterArn: are they a private-fargate stack's outputs?")
    jobs = outputs.get("jobs") or {}
    services = {**(outputs.get("services") or {}), **(outputs.get("workers") or {})}  # a worker is a service
    kind, entry = ("job", jobs[args.name]) if args.name in jobs else ("service", services.get(args.name))
    if entry is None:
        raise UsageError(f"no job or service named {args.name!r}; jobs: {', '.join(sorted(jobs)) or 'none'}; "
                         f"services: {', '.join(sorted(services)) or 'none'}")
    missing = sorted({"taskDefinitionArn", "containerName", "securityGroupId", "subnetIds", "capacityProviderStrategy",
                      "logGroupName", "logStreamPrefix"} - set(entry))
    if missing:
        raise UsageError(f"the outputs of {args.name!r} lack {', '.join(missing)} (outputsVersion 1 has them)")
    container = entry["containerName"]
    override: dict[str, Any] = {"name": container}
    if args.command:
        override["command"] = shlex.split(args.command)
    env = []
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--env {item!r}: expected KEY=VALUE")
        env.append({"name": key, "value": value})
    if env:
        override["environment"] = env
    overrides: dict[str, Any] = {"containerOverrides": [override]}
    if args.cpu is not None:
        overrides.update(cpu=str(args.cpu), memory=str(args.memory))
    strategy = ([{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}] if args.spot
                else entry["capacityProviderStrategy"])
    kwargs: dict[str, Any] = {
        "cluster": outputs["clusterArn"], "taskDefinition": entry["taskDefinitionArn"], "count": 1,
        "capacityProviderStrategy": strategy, "platformVersion": "LATEST",
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": list(entry["subnetIds"]),
                                                         "securityGroups": [entry["securityGroupId"]],
                                                         "assignPublicIp": "DISABLED"}},
        "overrides": overrides, "startedBy": started_by(),
        "propagateTags": "TASK_DEFINITION", "enableECSManagedTags": True,
    }
    if args.idempotency_key:
        kwargs["clientToken"] = args.idempotency_key[:64]
    return Request(args.name, kind, entry, outputs["clusterArn"], args.region or outputs.get("region"), kwargs)


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
    """Starts the task, follows it to STOPPED, prints its logs; `sleep` and `out` are seams for tests."""

    def __init__(self, session: Any, request: Request, out: Callable[[str], None] = print,
                 sleep: Callable[[float], None] = time.sleep, poll: float = 2.0):
        self.ecs = session.client("ecs", region_name=request.region)
        self.logs = session.client("logs", region_name=request.region)
        self.request = request
        self.out = out
        self.sleep = sleep
        self.poll = poll
        self.token: str | None = None
        self.task_arn = ""

    def warn_if_arm64_on_spot(self) -> None:
        """AWS's pages disagree on FARGATE_SPOT with ARM64: say so before the task is placed."""
        definition = self.ecs.describe_task_definition(taskDefinition=self.request.kwargs["taskDefinition"])
        platform = (definition.get("taskDefinition") or {}).get("runtimePlatform") or {}
        if platform.get("cpuArchitecture") == "ARM64":
            self.out(ARM64_SPOT_NOTE)

    def start(self) -> str:
        """RunTask; the task's ARN."""
        response = self.ecs.run_task(**self.request.kwargs)
        if response.get("failures") or not response.get("tasks"):
            reasons = "; ".join(f"{f.get('arn', '')} {f.get('reason', '')}".strip() for f in response["failures"])
            raise UsageError(f"ECS did not start the task: {reasons or 'no task returned'}")
        self.task_arn = response["tasks"][0]["taskArn"]
        return self.task_arn

    def describe(self) -> dict[str, Any]:
        """The task as ECS describes it now."""
        return self.ecs.describe_tasks(cluster=self.request.cluster, tasks=[self.task_arn])["tasks"][0]

    def stream(self) -> str:
        """`<logStreamPrefix>/<container>/<task-id>`."""
        entry = self.request.entry
        return f"{entry['logStreamPrefix']}/{entry['containerName']}/{self.task_arn.rsplit('/', 1)[-1]}"

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
        started = time.monotonic()
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
            if timeout is not None and time.monotonic() - started >= timeout:
                self.out(f"--timeout reached: the task is still {status.lower()}: {self.task_arn}")
                return EXIT_TIMEOUT
            self.sleep(self.poll)

    def finish(self, task: dict[str, Any]) -> int:
        """The container's exit code, or a diagnosis when it never ran."""
        name = self.request.entry["containerName"]
        container = next((c for c in task.get("containers", []) if c.get("name") == name), {})
        code = container.get("exitCode")
        reason = " ".join(filter(None, [task.get("stopCode"), task.get("stoppedReason"), container.get("reason")]))
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
            runner.out(f"could not stop {runner.task_arn}: {exc}")
    else:
        runner.out(f"left running: {runner.task_arn}")
    return EXIT_INTERRUPTED


def main(argv: list[str] | None = None, session: Any = None, sleep: Callable[[float], None] = time.sleep,
         out: Callable[[str], None] = print) -> int:
    """Entry point; returns the exit status."""
    from botocore.exceptions import BotoCoreError, ClientError

    args = parse_args(argv)
    try:
        request = build_request(args, load_outputs(args.stack, args.outputs))
        if session is None:
            import boto3  # the usual AWS environment: profile, region, AWS_ENDPOINT_URL

            session = boto3.Session()
        runner = Runner(session, request, out=out, sleep=sleep)
        if args.via_schedule:
            return _via_schedule(args, session, runner, out, sleep)
        if args.spot:
            runner.warn_if_arm64_on_spot()
        arn = runner.start()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except (UsageError, ClientError, BotoCoreError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE
    if args.no_wait:
        out(arn)
        return 0
    out(f"started {request.kind} {request.name}: {arn}")
    try:
        return runner.wait(args.timeout)
    except KeyboardInterrupt:
        return interrupted(runner, args.stop_on_interrupt)
    except (ClientError, BotoCoreError, IndexError) as exc:
        print(f"error: following {arn} failed: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE


def _via_schedule(args: argparse.Namespace, session: Any, runner: Runner, out: Callable[[str], None],
                  sleep: Callable[[float], None]) -> int:
    """`--via-schedule`: tools/run_execution.py starts the job's state machine and follows it."""
    from tools import run_execution

    refused = run_execution.refused_options(args)
    if refused:
        raise UsageError(f"{', '.join(refused)} with --via-schedule: the state machine runs the job as it is defined")
    return run_execution.run(session, runner, out=out, sleep=sleep)


if __name__ == "__main__":
    sys.exit(main())
