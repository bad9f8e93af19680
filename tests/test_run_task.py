"""tools.run_task against moto: the RunTask request, streamed logs, exit codes and diagnoses.

moto starts tasks RUNNING and never stops them by itself (its state manager is set to manual here);
the test plays the container through moto's own API from the tool's `sleep` seam: it writes log
events to the task's stream, then stops the task with an exit code or a stop reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.ecs.models import ecs_backends

from tools import run_task

REGION = "us-east-1"
ACCOUNT = "123456789012"


@pytest.fixture
def stack(aws: boto3.Session, tmp_path: Path) -> dict[str, Any]:
    """A VPC, subnet, security group, cluster, log group and the job's task definition; the outputs file."""
    ec2, ecs, logs = aws.client("ec2"), aws.client("ecs"), aws.client("logs")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    # moto's awsvpc run_task needs DNS hostnames on the VPC and container-level cpu/memory.
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="job", Description="job", VpcId=vpc)["GroupId"]
    cluster = ecs.create_cluster(clusterName="private-fargate-dev",
                                 capacityProviders=["FARGATE", "FARGATE_SPOT"])["cluster"]["clusterArn"]
    logs.create_log_group(logGroupName="/ecs/private-fargate/dev/report")
    td = ecs.register_task_definition(
        family="private-fargate-dev-report", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu="256", memory="512", containerDefinitions=[{"name": "report", "image": "x", "cpu": 256, "memory": 512,
                                                       "essential": True}])["taskDefinition"]["taskDefinitionArn"]
    entry = {"taskDefinitionArn": td, "containerName": "report", "securityGroupId": group,
             "logGroupName": "/ecs/private-fargate/dev/report", "logStreamPrefix": "report", "subnetIds": [subnet],
             "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}],
             "scheduleArn": None, "serviceName": None, "url": None}
    outputs = {"region": REGION, "clusterName": "private-fargate-dev", "clusterArn": cluster,
               "jobs": {"report": entry}, "services": {"web": {**entry, "containerName": "report",
                                                                "serviceName": "web"}}}
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return {"file": path, "outputs": outputs, "session": aws}


def backend_task(task_arn: str) -> Any:
    tasks = ecs_backends[ACCOUNT][REGION].tasks["private-fargate-dev"]
    return tasks[next(k for k in tasks if k.endswith(task_arn.rsplit("/", 1)[-1]))]


class Container:
    """Plays the container from the tool's sleep seam: `script[i]` runs on the i-th wait."""

    def __init__(self, session: boto3.Session, script: list[Callable[[str], None]]):
        self.session = session
        self.script = script
        self.ticks = 0
        self.task_arn = ""

    def sleep(self, _: float) -> None:
        if not self.task_arn:
            arns = self.session.client("ecs").list_tasks(cluster="private-fargate-dev")["taskArns"]
            self.task_arn = arns[0]
        if self.ticks < len(self.script):
            self.script[self.ticks](self.task_arn)
        self.ticks += 1
        assert self.ticks < 50, "the tool kept waiting"

    def log(self, *lines: str) -> Callable[[str], None]:
        def write(task_arn: str) -> None:
            logs = self.session.client("logs")
            stream = f"report/report/{task_arn.rsplit('/', 1)[-1]}"
            try:
                logs.create_log_stream(logGroupName="/ecs/private-fargate/dev/report", logStreamName=stream)
            except logs.exceptions.ResourceAlreadyExistsException:
                pass
            base = int(time.time() * 1000) + self.ticks * 1000  # CloudWatch refuses events older than 14 days
            logs.put_log_events(logGroupName="/ecs/private-fargate/dev/report", logStreamName=stream,
                                logEvents=[{"timestamp": base + i, "message": m} for i, m in enumerate(lines)])
        return write

    def stop(self, exit_code: int | None, reason: str = "Essential container in task exited") -> Callable[[str], None]:
        def stop(task_arn: str) -> None:
            backend_task(task_arn).containers[0].exitCode = exit_code
            self.session.client("ecs").stop_task(cluster="private-fargate-dev", task=task_arn, reason=reason)
        return stop

    def status(self, value: str) -> Callable[[str], None]:
        def set_status(task_arn: str) -> None:
            backend_task(task_arn).last_status = value
        return set_status


def run(stack: dict[str, Any], *argv: str, script: list[Callable[[str], None]] | None = None,
        record: list[dict[str, Any]] | None = None, name: str = "report") -> tuple[int, list[str], Container]:
    session = stack["session"]
    lines: list[str] = []
    container = Container(session, script or [])
    events = session.client("ecs").meta.events  # the client the tool gets: clients are shared (CachedClients)
    if record is not None:
        events.register("provide-client-params.ecs.RunTask", lambda params, **_: record.append(dict(params)),
                        unique_id="record-run-task")
    try:
        code = run_task.main([name, "--outputs", str(stack["file"]), *argv], session=session,
                             sleep=container.sleep, out=lines.append)
    finally:
        events.unregister("provide-client-params.ecs.RunTask", unique_id="record-run-task")
    return code, lines, container


class TestRequest:
    def test_request_from_outputs_and_overrides(self, stack: dict[str, Any]) -> None:
        calls: list[dict[str, Any]] = []
        code, lines, _ = run(stack, "--command", "job --date '2026-11-28'", "--env", "MODE=full",
                             "--env", "EMPTY=", "--cpu", "512", "--memory", "2048", "--idempotency-key", "nightly-1",
                             "--no-wait", record=calls)
        assert code == 0
        (req,) = calls
        entry = stack["outputs"]["jobs"]["report"]
        assert req["clientToken"] == "nightly-1"
        assert req["taskDefinition"] == entry["taskDefinitionArn"]
        assert req["networkConfiguration"] == {"awsvpcConfiguration": {
            "subnets": entry["subnetIds"], "securityGroups": [entry["securityGroupId"]], "assignPublicIp": "DISABLED"}}
        assert req["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]
        assert req["overrides"] == {"containerOverrides": [{
            "name": "report", "command": ["job", "--date", "2026-11-28"],
            "environment": [{"name": "MODE", "value": "full"}, {"name": "EMPTY", "value": ""}]}],
            "cpu": "512", "memory": "2048"}
        assert req["propagateTags"] == "TASK_DEFINITION" and req["startedBy"].startswith("run_task/")
        assert "launchType" not in req
        (arn,) = lines
        task = stack["session"].client("ecs").describe_tasks(cluster="private-fargate-dev", tasks=[arn])["tasks"][0]
        assert task["overrides"]["containerOverrides"][0]["command"] == ["job", "--date", "2026-11-28"]

    def test_joins_the_clients_group_to_reach_services_by_name(self, stack: dict[str, Any]) -> None:
        ec2 = stack["session"].client("ec2")
        entry = stack["outputs"]["jobs"]["report"]
        vpc = ec2.describe_security_groups(GroupIds=[entry["securityGroupId"]])["SecurityGroups"][0]["VpcId"]
        clients = ec2.create_security_group(GroupName="clients", Description="clients", VpcId=vpc)["GroupId"]
        stack["file"].write_text(json.dumps({**stack["outputs"], "jobs": {"report": {
            **entry, "securityGroupIds": [entry["securityGroupId"], clients], "dnsName": None}}}))
        calls: list[dict[str, Any]] = []
        assert run(stack, "--no-wait", record=calls)[0] == 0
        assert calls[0]["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] == [
            entry["securityGroupId"], clients]

    def test_spot(self, stack: dict[str, Any]) -> None:
        calls: list[dict[str, Any]] = []
        run(stack, "--spot", "--no-wait", record=calls)
        assert calls[0]["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]

    @pytest.mark.parametrize("argv,message", [
        (["--cpu", "256", "--memory", "4096"], "--memory 4096 is not valid with --cpu 256; allowed: 512, 1024, 2048"),
        (["--cpu", "300", "--memory", "512"], "--cpu 300 is not a Fargate size"),
        (["--cpu", "512"], "--cpu and --memory go together"),
        (["--env", "NOEQUALS"], "expected KEY=VALUE"),
    ])
    def test_refused_before_any_call(self, stack: dict[str, Any], argv: list[str], message: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
        calls: list[dict[str, Any]] = []
        code, _, _ = run(stack, *argv, record=calls)
        assert code == 2 and calls == [] and message in capsys.readouterr().err
        assert stack["session"].client("ecs").list_tasks(cluster="private-fargate-dev")["taskArns"] == []

    def test_unknown_name_lists_what_exists(self, stack: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
        code = run_task.main(["nope", "--outputs", str(stack["file"])], session=stack["session"])
        assert code == 2
        assert "no job or service named 'nope'; known: web (service), report (job)" in capsys.readouterr().err

    def test_service_task_definition(self, stack: dict[str, Any]) -> None:
        calls: list[dict[str, Any]] = []
        code, _, _ = run(stack, "--command", "python manage.py migrate", "--no-wait", record=calls, name="web")
        assert code == 0 and calls[0]["overrides"]["containerOverrides"][0]["command"][:2] == ["python", "manage.py"]


class TestWaiting:
    def test_logs_in_order_and_exit_zero(self, stack: dict[str, Any]) -> None:
        c = Container(stack["session"], [])
        c.script = [c.status("PROVISIONING"), c.status("RUNNING"), c.log("starting", "step 1"), c.log("step 2"),
                    c.log("done"), c.stop(0)]
        lines: list[str] = []
        code = run_task.main(["report", "--outputs", str(stack["file"])], session=stack["session"], sleep=c.sleep,
                             out=lines.append)
        assert code == 0
        logs = [line for line in lines if not line.startswith(("started ", "... "))]
        assert logs == ["starting", "step 1", "step 2", "done"]
        assert any(line.startswith("... provisioning arn:aws:ecs:") for line in lines)

    def test_non_zero_exit_code(self, stack: dict[str, Any]) -> None:
        c = Container(stack["session"], [])
        c.script = [c.log("boom"), c.stop(3)]
        lines: list[str] = []
        code = run_task.main(["report", "--outputs", str(stack["file"])], session=stack["session"], sleep=c.sleep,
                             out=lines.append)
        assert code == 3
        assert "boom" in lines and lines[-1].startswith("the container exited with 3")

    def test_pull_error_is_diagnosed(self, stack: dict[str, Any]) -> None:
        c = Container(stack["session"], [])
        c.script = [c.stop(None, "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                                 "failed to resolve ref: dial tcp 52.94.1.1:443: i/o timeout")]
        lines: list[str] = []
        code = run_task.main(["report", "--outputs", str(stack["file"])], session=stack["session"], sleep=c.sleep,
                             out=lines.append)
        assert code == run_task.EXIT_NOT_RUN
        assert lines[-2].startswith("the task did not run: CannotPullContainerError")
        assert lines[-1].startswith("diagnosis: the task could not pull its image: check the ecr.api, ecr.dkr")

    def test_secrets_error_is_diagnosed(self, stack: dict[str, Any]) -> None:
        c = Container(stack["session"], [])
        c.script = [c.stop(None, "ResourceInitializationError: unable to pull secrets or registry auth: execution "
                                 "resource retrieval failed: unable to retrieve secret from asm: service call has "
                                 "been retried 5 time(s): failed to fetch secret arn:aws:secretsmanager:...")]
        lines: list[str] = []
        code = run_task.main(["report", "--outputs", str(stack["file"])], session=stack["session"], sleep=c.sleep,
                             out=lines.append)
        assert code == run_task.EXIT_NOT_RUN and "secretsmanager endpoint" in lines[-1]

    def test_no_wait_prints_arn_only(self, stack: dict[str, Any]) -> None:
        code, lines, container = run(stack, "--no-wait")
        assert code == 0 and len(lines) == 1 and lines[0].startswith("arn:aws:ecs:us-east-1:")
        assert container.ticks == 0

    def test_timeout_leaves_the_task_running(self, stack: dict[str, Any]) -> None:
        code, lines, _ = run(stack, "--timeout", "0")
        assert code == run_task.EXIT_TIMEOUT and "still running" in lines[-1]
        arn = lines[-1].rsplit(" ", 1)[-1]
        task = stack["session"].client("ecs").describe_tasks(cluster="private-fargate-dev", tasks=[arn])["tasks"][0]
        assert task["lastStatus"] == "RUNNING"

    def test_interrupt_stops_with_flag(self, stack: dict[str, Any]) -> None:
        def interrupt(_: str) -> None:
            raise KeyboardInterrupt

        code, lines, container = run(stack, "--stop-on-interrupt", script=[interrupt])
        assert code == run_task.EXIT_INTERRUPTED and lines[-1].startswith("stopping ")
        task = stack["session"].client("ecs").describe_tasks(cluster="private-fargate-dev",
                                                             tasks=[container.task_arn])["tasks"][0]
        assert task["lastStatus"] == "STOPPED"


    def test_interrupt_without_flag_leaves_the_task(self, stack: dict[str, Any]) -> None:
        def interrupt(_: str) -> None:
            raise KeyboardInterrupt

        code, lines, container = run(stack, script=[interrupt])  # stdin is not a terminal: nobody to ask
        assert code == run_task.EXIT_INTERRUPTED and lines[-1] == f"left running: {container.task_arn}"

    def test_interrupt_asks_on_a_terminal(self, stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr("sys.stdin.isatty", lambda: True)
        runner = run_task.Runner(stack["session"], run_task.build_request(
            run_task.parse_args(["report", "--outputs", str(stack["file"])]), stack["outputs"]), out=lambda _: None)
        runner.start()
        questions: list[str] = []
        code = run_task.interrupted(runner, False, ask=lambda q: questions.append(q) or "y")
        assert code == run_task.EXIT_INTERRUPTED and questions == ["\nStop the task? [y/N] "]
        assert runner.describe()["lastStatus"] == "STOPPED"


    def test_killed_container_is_diagnosed(self, stack: dict[str, Any]) -> None:
        c = Container(stack["session"], [])
        c.script = [c.stop(137, "OutOfMemoryError: Container killed due to memory usage")]
        lines: list[str] = []
        code = run_task.main(["report", "--outputs", str(stack["file"])], session=stack["session"], sleep=c.sleep,
                             out=lines.append)
        assert code == 137 and lines[-1] == "diagnosis: the container ran out of memory: run with a larger --memory"


class TestErrors:
    def test_aws_error_is_one_line(self, stack: dict[str, Any], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
        outputs = {**stack["outputs"], "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/nope"}
        path = tmp_path / "other.json"
        path.write_text(json.dumps(outputs))
        code = run_task.main(["report", "--outputs", str(path)], session=stack["session"])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err

    def test_outputs_missing_keys(self, stack: dict[str, Any], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
        outputs = json.loads(stack["file"].read_text())
        del outputs["jobs"]["report"]["capacityProviderStrategy"]
        path = tmp_path / "partial.json"
        path.write_text(json.dumps(outputs))
        assert run_task.main(["report", "--outputs", str(path)], session=stack["session"]) == 2
        assert "lack capacityProviderStrategy" in capsys.readouterr().err

    def test_started_by_uses_allowed_characters(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr("getpass.getuser", lambda: "jane.doe@corp")
        assert run_task.started_by() == "run_task/jane-doe-corp"


def test_diagnoses_are_specific() -> None:
    assert "logs endpoint" in (run_task.diagnose("ResourceInitializationError: failed to validate logger args: "
                                                 "create stream has been retried 1 times: failed to create Cloudwatch "
                                                 "log stream") or "")
    assert run_task.diagnose("Essential container in task exited") is None


def answer(session: boto3.Session, operation: str, answers: list[dict[str, Any]]) -> Callable[[], None]:
    """Make the next calls of an ECS operation get these parsed answers (then moto's again), as ECS's
    eventual consistency would; returns the function that removes the handler."""
    from botocore.awsrequest import AWSResponse

    events = session.client("ecs").meta.events

    def handler(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        return (AWSResponse("", 200, {}, None), answers.pop(0)) if answers else None

    events.register(f"before-call.ecs.{operation}", handler, unique_id=f"answer-{operation}")
    return lambda: events.unregister(f"before-call.ecs.{operation}", unique_id=f"answer-{operation}")


MISSING = {"tasks": [], "failures": [{"arn": "arn:aws:ecs:us-east-1:123456789012:task/x", "reason": "MISSING"}]}


class TestEventualConsistency:
    """ECS may not show a task it just started: DescribeTasks is retried with growing delays."""

    def test_missing_then_found(self, stack: dict[str, Any]) -> None:
        c = Container(stack["session"], [])
        idle = lambda _: None  # noqa: E731
        c.script = [idle, idle, idle, c.log("hello"), c.stop(0)]
        delays: list[float] = []
        remove = answer(stack["session"], "DescribeTasks", [MISSING, MISSING, MISSING])
        try:
            lines: list[str] = []
            code = run_task.main(["report", "--outputs", str(stack["file"])], session=stack["session"],
                                 sleep=lambda s: (delays.append(s), c.sleep(s)), out=lines.append)
        finally:
            remove()
        assert code == 0 and "hello" in lines
        assert delays[:3] == [1.0, 2.0, 4.0]  # backoff while MISSING, then the normal poll
        assert delays[3:] == [2.0, 2.0]

    def test_never_visible_is_one_line(self, stack: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
        remove = answer(stack["session"], "DescribeTasks", [MISSING] * 40)
        delays: list[float] = []
        try:
            code = run_task.main(["report", "--outputs", str(stack["file"])], session=stack["session"],
                                 sleep=delays.append, out=lambda _: None)
        finally:
            remove()
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "still answers MISSING after 300 s" in err
        assert sum(delays) == pytest.approx(300) and max(delays) == 30

    def test_a_task_that_disappears(self, stack: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
        c = Container(stack["session"], [])
        removed: list[Callable[[], None]] = []
        c.script = [lambda _: removed.append(answer(stack["session"], "DescribeTasks", [MISSING] * 40))]
        try:
            code = run_task.main(["report", "--outputs", str(stack["file"])], session=stack["session"],
                                 sleep=lambda s: c.sleep(s) if c.ticks < 1 else None, out=lambda _: None)
        finally:
            for remove in removed:
                remove()
        err = capsys.readouterr().err
        assert code == 2 and "disappeared: DescribeTasks answers MISSING" in err and "Traceback" not in err

    def test_run_task_answer_without_failures_key(self, stack: dict[str, Any],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
        remove = answer(stack["session"], "RunTask", [{"tasks": []}])
        try:
            code = run_task.main(["report", "--outputs", str(stack["file"])], session=stack["session"])
        finally:
            remove()
        assert code == 2 and capsys.readouterr().err == "error: ECS did not start the task: no task returned\n"


def test_help_says_command_replaces_cmd(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run_task.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "replaces the image's CMD" in text and "`--command job` runs `python -m app job`" in text
