"""`python -m tools.run_task JOB --via-schedule`: run a job the way its schedule does, through its state machine.

Starts an execution of the job's state machine (the `stateMachineArn` of its stack outputs), so the
whole path runs: the timeout, the retries on failure and, on a final failure, the alert. While it
runs, it prints each attempt's task and its log events; it ends with the execution's result.
Exit status: 0 the run succeeded; the container's exit code when the last attempt exited non-zero;
125 when no attempt ran a container to its end (never started, stopped, timed out); 130 interrupted
(the execution keeps running); 2 bad arguments.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from tools.aws import EXIT_INTERRUPTED, ToolError
from tools.run_task import EXIT_NOT_RUN

#: Options that change the task: the state machine runs the job as defined, so they do not apply.
TASK_OPTIONS = ("command", "env", "cpu", "memory", "spot", "idempotency_key")


class ExecutionRunner:
    """Starts an execution and follows it; `runner` (tools.run_task.Runner) prints each attempt's logs."""

    def __init__(self, session: Any, runner: Any, state_machine_arn: str, out: Callable[[str], None] = print,
                 sleep: Callable[[float], None] = time.sleep, poll: float = 2.0):
        self.sfn = session.client("stepfunctions", region_name=runner.request.region)
        self.runner = runner
        self.arn = state_machine_arn
        self.out, self.sleep, self.poll = out, sleep, poll
        self.execution = ""
        self._seen = 0
        self.exit_codes: list[int | None] = []

    def start(self, started_by: str) -> str:
        """StartExecution with an empty input, as the schedule sends, named `<started_by>-<random>` so a manual run
        shows as one in the console (names take letters, digits, '-' and '_': no '/')."""
        name = f"{re.sub(r'[^A-Za-z0-9_-]', '-', started_by)[:60]}-{uuid.uuid4().hex[:12]}"
        self.execution = self.sfn.start_execution(stateMachineArn=self.arn, input="{}", name=name)["executionArn"]
        return self.execution

    def _new_events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": self.execution, "maxResults": 1000}
        while True:
            page = self.sfn.get_execution_history(**kwargs)
            events += page.get("events", [])
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        new, self._seen = events[self._seen:], len(events)
        return new

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type", "")
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {}) or {}
        if kind == "TaskSubmitted" and details.get("resourceType") == "ecs":
            task = json.loads(details.get("output") or "{}")
            arn = task.get("TaskArn") or ((task.get("Tasks") or [{}])[0]).get("TaskArn", "")
            if arn:
                self.runner.task_arn, self.runner.token = arn, None
                self.out(f"attempt {len(self.exit_codes) + 1}: task {arn}")
        elif kind in ("TaskSucceeded", "TaskFailed") and details.get("resourceType") == "ecs":
            self.runner.print_new_logs()
            self.exit_codes.append(_exit_code(details.get("output") or details.get("cause"),
                                              self.runner.request.entry["containerName"]))
        elif kind in ("ParallelStateFailed", "TaskTimedOut"):
            self.out(f"{kind}: {details.get('error', 'failed')}")

    def wait(self) -> int:
        """Follow the execution to its end; the process exit status."""
        while True:
            status = self.sfn.describe_execution(executionArn=self.execution)
            for event in self._new_events():
                self._on_event(event)
            if self.runner.task_arn:
                self.runner.print_new_logs()
            if status["status"] != "RUNNING":
                return self.finish(status)
            self.sleep(self.poll)

    def finish(self, status: dict[str, Any]) -> int:
        """0 on success; else the last attempt's exit code, or 125 when no container exited by itself."""
        state = status["status"]
        attempts = len(self.exit_codes)
        self.out(f"execution {state.lower()} after {attempts} attempt(s): {self.execution}")
        if state == "SUCCEEDED":
            return 0
        if status.get("error"):
            self.out(f"error: {status['error']}" + (f" ({status['cause']})" if status.get("cause") else ""))
        last = self.exit_codes[-1] if self.exit_codes else None
        return last if last not in (None, 0) else EXIT_NOT_RUN


def _exit_code(document: str | None, container: str) -> int | None:
    """The named container's exit code in a task description (a .sync output or a failure's cause)."""
    try:
        task = json.loads(document or "")
    except ValueError:
        return None
    if not isinstance(task, dict):
        return None
    for c in task.get("Containers") or task.get("containers") or []:
        if (c.get("Name") or c.get("name")) == container:
            code = c.get("ExitCode", c.get("exitCode"))
            return code if isinstance(code, int) else None
    return None


def refused_options(args: Any) -> list[str]:
    """The task options given with --via-schedule (the state machine runs the job as defined)."""
    return [f"--{o.replace('_', '-')}" for o in TASK_OPTIONS if getattr(args, o, None)]


def run(session: Any, runner: Any, out: Callable[[str], None] = print, sleep: Callable[[float], None] = time.sleep,
        poll: float = 2.0) -> int:
    """Start the job's state machine and follow it (tools.run_task's `--via-schedule`)."""
    entry, request = runner.request.entry, runner.request
    arn = entry.get("stateMachineArn")
    if request.kind != "job" or not arn:
        raise ToolError(f"{request.name!r} has no state machine: --via-schedule runs jobs (outputs with "
                         "stateMachineArn)")
    execution = ExecutionRunner(session, runner, arn, out=out, sleep=sleep, poll=poll)
    out(f"started job {request.name} through its state machine: {execution.start(request.kwargs['startedBy'])}")
    try:
        return execution.wait()
    except KeyboardInterrupt:
        out(f"left running: {execution.execution}")
        return EXIT_INTERRUPTED
