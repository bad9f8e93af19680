"""`tools.run_task JOB --via-schedule`: the job's state machine runs in moto's interpreter; the tool follows it,
prints each attempt's task and logs, and exits like the last attempt."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from components import state_machine as sm
from components.context import StackContext
from tests import moto_sfn
from tools import run_task

JOB = "report"


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The job's state machine in moto and the stack outputs that name it (shared by the module's tests)."""
    for infra in moto_sfn.environment():
        boto3.client("logs", moto_sfn.REGION).create_log_group(logGroupName="/ecs/private-fargate/dev/report")
        spec = sm.RunnerSpec(StackContext("private-fargate", "dev", moto_sfn.REGION, moto_sfn.ACCOUNT), JOB,
                             "private-fargate-dev-report", moto_sfn.CLUSTER, "e", "t",
                             "/ecs/private-fargate/dev/report", 10, 1,
                             [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}])
        machine = infra.create_machine(sm.definition(spec, [infra.subnet], [infra.group], infra.task_definition))
        entry = {"taskDefinitionArn": infra.task_definition, "containerName": JOB, "securityGroupId": infra.group,
                 "logGroupName": "/ecs/private-fargate/dev/report", "logStreamPrefix": JOB,
                 "subnetIds": [infra.subnet], "capacityProviderStrategy": [], "scheduleArn": None,
                 "serviceName": None, "url": None, "stateMachineArn": machine}
        outputs = {"region": moto_sfn.REGION, "clusterName": moto_sfn.CLUSTER,
                   "clusterArn": f"arn:aws:ecs:{moto_sfn.REGION}:{moto_sfn.ACCOUNT}:cluster/{moto_sfn.CLUSTER}",
                   "jobs": {JOB: entry}, "services": {"web": {**entry, "stateMachineArn": None, "serviceName": "web"}}}
        path = tmp_path_factory.mktemp("outputs") / "outputs.json"
        path.write_text(json.dumps(outputs))
        yield path


def follow(path: Path, codes: list[int | None], *extra: str) -> tuple[int, list[str]]:
    """run_task --via-schedule; its `sleep` stops each new task with the next exit code and logs a line."""
    lines: list[str] = []
    stopped: list[dict[str, Any]] = []
    logs = boto3.client("logs", moto_sfn.REGION)

    def sleep(_: float) -> None:
        before = len(stopped)
        moto_sfn.stop_new_tasks(codes, stopped)
        for task in stopped[before:]:
            stream = f"{JOB}/{JOB}/{task['arn'].rsplit('/', 1)[-1]}"
            logs.create_log_stream(logGroupName="/ecs/private-fargate/dev/report", logStreamName=stream)
            logs.put_log_events(logGroupName="/ecs/private-fargate/dev/report", logStreamName=stream,
                                logEvents=[{"timestamp": int(time.time() * 1000), "message": f"exit {task['exit']}"}])
        time.sleep(0.01)

    code = run_task.main([JOB, "--outputs", str(path), "--via-schedule", *extra],
                         session=boto3.Session(region_name=moto_sfn.REGION), sleep=sleep, out=lines.append)
    return code, lines


class TestViaSchedule:
    def test_retry_then_success(self, job: Path) -> None:
        code, lines = follow(job, [3, 0])
        assert code == 0
        assert lines[0].startswith(f"started job {JOB} through its state machine: arn:aws:states:")
        assert ":run_task-" in lines[0]  # the execution is named for who started it
        attempts = [line for line in lines if line.startswith("attempt ")]
        assert [a.split(":")[0] for a in attempts] == ["attempt 1", "attempt 2"]
        assert "exit 3" in lines and "exit 0" in lines
        assert lines[-1].startswith("execution succeeded after 2 attempt(s)")

    def test_exits_like_the_last_attempt(self, job: Path) -> None:
        code, lines = follow(job, [3, 4])
        assert code == 4 and any(line.startswith("execution failed after 2 attempt(s)") for line in lines)

    def test_no_exit_code_is_125(self, job: Path) -> None:
        code, _ = follow(job, [None, None])
        assert code == 125

    def test_task_options_refused(self, job: Path, capsys: pytest.CaptureFixture[str]) -> None:
        code, lines = follow(job, [], "--command", "x", "--spot")
        assert code == 2 and lines == []
        assert capsys.readouterr().err.strip() == ("error: --command, --spot with --via-schedule: the state machine "
                                                   "runs the job as it is defined")

    def test_services_have_no_machine(self, job: Path, capsys: pytest.CaptureFixture[str]) -> None:
        code = run_task.main(["web", "--outputs", str(job), "--via-schedule"],
                             session=boto3.Session(region_name=moto_sfn.REGION), out=lambda _: None)
        assert code == 2 and "'web' has no state machine" in capsys.readouterr().err
