"""`beforeDeploy`'s run: the dynamic provider against moto, and through Pulumi's own provider host process.

The provider is driven directly, as the dynamic provider host would call it during `pulumi up`, with the
moto session of tests/aws_stack.py and a fake clock. moto starts tasks RUNNING and never stops them: the
Player plays the container from the provider's sleep seam (log lines, then an exit code or a stop reason),
as tests/test_run_task.py does for the CLI. moto has no RunTask client tokens; `ecs_tokens` adds ECS's
documented behaviour (a token used before in the cluster answers with the task it started:
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/ECS_Idempotency.html).
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from components.migration import TRIGGER, MigrationFailed, MigrationProvider, migration_key
from tests.aws_stack import CLUSTER, REGION, Stack, stop_task, write_logs
from tests.support import ROOT


class Crash(Exception):
    """The deployer's process dies (or is interrupted) while the migration runs."""


class Player:
    """Plays the migration's container from the provider's sleep seam: `script[i]` runs on the i-th wait; each
    wait moves the fake clock by the time asked."""

    def __init__(self, stack: Stack, script: list[Callable[[str], None]] | None = None):
        self.stack = stack
        self.script = script or []
        self.ticks = 0
        self.now = 1000.0
        self.task_arn = ""

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if not self.task_arn:
            self.task_arn = running(self.stack)[-1]
        if self.ticks < len(self.script):
            self.script[self.ticks](self.task_arn)
        self.ticks += 1
        assert self.ticks < 100, "the provider kept waiting"

    def log(self, *lines: str) -> Callable[[str], None]:
        return lambda arn: write_logs(self.stack.session, "/ecs/private-fargate/dev/web",
                                      f"web/web/{arn.rsplit('/', 1)[-1]}", *lines)

    def exit(self, code: int | None, reason: str = "Essential container in task exited") -> Callable[[str], None]:
        return lambda arn: stop_task(self.stack.session, arn, code, reason)

    def crash(self) -> Callable[[str], None]:
        def die(_: str) -> None:
            raise Crash
        return die


def running(stack: Stack) -> list[str]:
    return stack.session.client("ecs").list_tasks(cluster=CLUSTER, desiredStatus="RUNNING")["taskArns"]


def all_tasks(stack: Stack) -> list[dict[str, Any]]:
    ecs = stack.session.client("ecs")
    arns = sorted({arn for status in ("RUNNING", "STOPPED")
                   for arn in ecs.list_tasks(cluster=CLUSTER, desiredStatus=status)["taskArns"]})
    return ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"] if arns else []


def props(stack: Stack, **changes: Any) -> dict[str, Any]:
    """The step's inputs as the engine hands them to the provider (the dev stack's web, in moto)."""
    web = stack.outputs["services"]["web"]
    return {"service": "web", TRIGGER: web["taskDefinitionArn"], "taskDefinition": web["taskDefinitionArn"],
            "containerName": "web", "command": ["migrate"], "cluster": stack.outputs["clusterArn"], "region": REGION,
            "subnets": web["subnetIds"], "securityGroups": [web["securityGroupId"]], "capacityProvider": "FARGATE",
            "assignPublicIp": "DISABLED", "logGroup": "/ecs/private-fargate/dev/web", "logStreamPrefix": "web",
            "timeoutMinutes": 15, "__provider": "serialized", **changes}


def provider(stack: Stack, player: Player, lines: list[str]) -> MigrationProvider:
    return MigrationProvider(session=stack.session, sleep=player.sleep, clock=player.clock, out=lines.append)


@pytest.fixture
def requests(deployed: Stack) -> Iterator[list[dict[str, Any]]]:
    """The RunTask requests the provider makes."""
    events = deployed.session.client("ecs").meta.events
    calls: list[dict[str, Any]] = []
    events.register("provide-client-params.ecs.RunTask", lambda params, **_: calls.append(dict(params)),
                    unique_id="migration-run-task")
    yield calls
    events.unregister("provide-client-params.ecs.RunTask", unique_id="migration-run-task")


@pytest.fixture
def ecs_tokens(deployed: Stack) -> Iterator[dict[str, str]]:
    """ECS's RunTask client tokens (moto has none): a token used before answers with the task it started."""
    from botocore.awsrequest import AWSResponse

    ecs = deployed.session.client("ecs")
    seen: dict[str, str] = {}
    asked: list[str] = []

    def before(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        token = json.loads(params["body"]).get("clientToken", "")
        asked.append(token)
        if token not in seen:
            return None
        task = ecs.describe_tasks(cluster=CLUSTER, tasks=[seen[token]])["tasks"][0]
        return AWSResponse("", 200, {}, None), {"tasks": [task], "failures": []}

    def after(parsed: dict[str, Any], **_: Any) -> None:
        if parsed.get("tasks") and asked[-1] not in seen:
            seen[asked[-1]] = parsed["tasks"][0]["taskArn"]

    ecs.meta.events.register("before-call.ecs.RunTask", before, unique_id="tokens-before")
    ecs.meta.events.register("after-call.ecs.RunTask", after, unique_id="tokens-after")
    yield seen
    ecs.meta.events.unregister("before-call.ecs.RunTask", unique_id="tokens-before")
    ecs.meta.events.unregister("after-call.ecs.RunTask", unique_id="tokens-after")


@pytest.fixture
def one_line_errors() -> Iterator[None]:
    """The provider sets sys.tracebacklimit in its own process when it fails; give this process its own back."""
    before = getattr(sys, "tracebacklimit", None)
    yield
    if before is None:
        if hasattr(sys, "tracebacklimit"):
            del sys.tracebacklimit
    else:
        sys.tracebacklimit = before


def failure(call: Callable[[], Any]) -> str:
    """What the dynamic provider host sends the engine for a failed step: `traceback.format_exc()`."""
    try:
        call()
    except MigrationFailed:
        return traceback.format_exc()
    raise AssertionError("the step did not fail")


class TestRun:
    def test_exit_0_lets_the_update_proceed(self, deployed: Stack, requests: list[dict[str, Any]]) -> None:
        player = Player(deployed)
        player.script = [player.log("applying 0001_initial", "applying 0002_index"), player.log("done"),
                         player.exit(0)]
        lines: list[str] = []
        outs = provider(deployed, player, lines).create(props(deployed)).outs
        assert outs is not None and outs["exitCode"] == 0 and outs["attempt"] == 1
        (task,) = all_tasks(deployed)
        assert outs["taskArn"] == task["taskArn"] and outs[TRIGGER] == props(deployed)[TRIGGER]
        streamed = [line.removeprefix("[web beforeDeploy] ") for line in lines]
        assert streamed[1:4] == ["applying 0001_initial", "applying 0002_index", "done"]
        task_id = task["taskArn"].rsplit("/", 1)[-1]
        assert streamed[-1] == (f"full logs: log group /ecs/private-fargate/dev/web, stream web/web/{task_id} "
                                "(https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:"
                                f"log-groups/log-group/$252Fecs$252Fprivate-fargate$252Fdev$252Fweb/log-events/"
                                f"web$252Fweb$252F{task_id})")
        (request,) = requests
        key = migration_key(props(deployed))
        web = deployed.outputs["services"]["web"]
        assert request["clientToken"] == f"{key}-1" and request["startedBy"] == f"migrate/{key[:24]}"
        assert request["taskDefinition"] == web["taskDefinitionArn"]
        assert request["overrides"] == {"containerOverrides": [{"name": "web", "command": ["migrate"]}]}
        assert request["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]
        assert request["networkConfiguration"] == {"awsvpcConfiguration": {
            "subnets": web["subnetIds"], "securityGroups": [web["securityGroupId"]], "assignPublicIp": "DISABLED"}}

    def test_exit_3_fails_with_one_line(self, deployed: Stack, one_line_errors: None) -> None:
        player = Player(deployed)
        player.script = [player.log("applying 0003_drop_column", "column is still read by the old code"),
                         player.exit(3)]
        lines: list[str] = []
        text = failure(lambda: provider(deployed, player, lines).update("web", props(deployed), props(deployed)))
        assert text.count("\n") == 1 and text.startswith("components.migration.MigrationFailed: web: beforeDeploy "
                                                         "the task exited with code 3; the service keeps its task "
                                                         "definition; logs: log group /ecs/private-fargate/dev/web, "
                                                         "stream web/web/")
        assert "[web beforeDeploy] column is still read by the old code" in lines
        assert lines[-1].startswith("[web beforeDeploy] full logs: log group /ecs/private-fargate/dev/web")

    def test_a_task_that_never_starts_fails_with_its_stop_reason(self, deployed: Stack,
                                                                 one_line_errors: None) -> None:
        player = Player(deployed)
        player.script = [player.exit(None, "CannotPullContainerError: pull image manifest has been retried 5 "
                                           "time(s): failed to resolve ref: dial tcp 52.94.1.1:443: i/o timeout")]
        lines: list[str] = []
        text = failure(lambda: provider(deployed, player, lines).create(props(deployed)))
        assert text.count("\n") == 1
        assert "beforeDeploy the task never ran: CannotPullContainerError: pull image manifest" in text
        assert any("diagnosis: the task could not pull its image" in line for line in lines)

    def test_a_refused_run_task_is_one_line(self, deployed: Stack, one_line_errors: None) -> None:
        from botocore.awsrequest import AWSResponse

        ecs = deployed.session.client("ecs")
        denied = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized to perform: ecs:RunTask"}}
        ecs.meta.events.register("before-call.ecs.RunTask", lambda **_: (AWSResponse("", 400, {}, None), denied),
                                 unique_id="deny")
        try:
            text = failure(lambda: provider(deployed, Player(deployed), []).create(props(deployed)))
        finally:
            ecs.meta.events.unregister("before-call.ecs.RunTask", unique_id="deny")
        assert text.count("\n") == 1 and "RunTask was denied (not authorized to perform: ecs:RunTask)" in text
        assert "logs: log group /ecs/private-fargate/dev/web (no task started)" in text

    def test_timeout_stops_the_task_and_fails(self, deployed: Stack, one_line_errors: None) -> None:
        player = Player(deployed)
        lines: list[str] = []
        text = failure(lambda: provider(deployed, player, lines).create(props(deployed, timeoutMinutes=1)))
        assert "beforeDeploy timed out after 1 minutes (timeoutMinutes); the task was stopped" in text
        (task,) = all_tasks(deployed)
        assert task["desiredStatus"] == "STOPPED" and "beforeDeploy timed out" in task["stoppedReason"]
        assert 60 <= player.now - 1000 < 70  # polled every 2 s up to the minute, then stopped


class TestRetries:
    """What a second `pulumi up` does after the first one ended badly."""

    def test_a_retry_after_a_crash_follows_the_running_task(self, deployed: Stack, ecs_tokens: dict[str, str],
                                                            requests: list[dict[str, Any]]) -> None:
        first = Player(deployed)
        first.script = [first.log("applying 0001"), first.crash()]
        with pytest.raises(Crash):
            provider(deployed, first, []).update("web", props(deployed), props(deployed))
        second = Player(deployed)
        second.script = [second.log("done"), second.exit(0)]
        lines: list[str] = []
        outs = provider(deployed, second, lines).update("web", props(deployed), props(deployed)).outs
        assert outs is not None and outs["taskArn"] == first.task_arn and len(all_tasks(deployed)) == 1
        assert len(requests) == 1  # no RunTask the second time: ListTasks found the running task
        assert any("still running (not starting another)" in line for line in lines)

    def test_a_retry_after_a_failure_runs_the_next_attempt(self, deployed: Stack, ecs_tokens: dict[str, str],
                                                           requests: list[dict[str, Any]],
                                                           one_line_errors: None) -> None:
        first = Player(deployed)
        first.script = [first.exit(3)]
        failure(lambda: provider(deployed, first, []).update("web", props(deployed), props(deployed)))
        second = Player(deployed)
        second.script = [second.exit(0)]
        outs = provider(deployed, second, []).update("web", props(deployed), props(deployed)).outs
        key = migration_key(props(deployed))
        assert [r["clientToken"] for r in requests] == [f"{key}-1", f"{key}-1", f"{key}-2"]
        assert outs is not None and outs["attempt"] == 2 and len(all_tasks(deployed)) == 2

    def test_an_earlier_exit_0_is_not_run_again(self, deployed: Stack, ecs_tokens: dict[str, str]) -> None:
        """The deployer died after the migration exited 0 but before Pulumi saved the step."""
        first = Player(deployed)
        first.script = [lambda arn: (first.exit(0)(arn), first.crash()(arn))]
        with pytest.raises(Crash):
            provider(deployed, first, []).create(props(deployed))
        lines: list[str] = []
        outs = provider(deployed, Player(deployed), lines).create(props(deployed)).outs
        assert outs is not None and outs["taskArn"] == first.task_arn and len(all_tasks(deployed)) == 1
        assert any("already exited 0 for this revision: not running it again" in line for line in lines)


    def test_a_token_used_with_other_parameters_moves_to_the_next_attempt(self, deployed: Stack,
                                                                          requests: list[dict[str, Any]]) -> None:
        """ECS refuses a known token with other parameters (ConflictException): e.g. a request from an older
        version of this code. The next attempt gets a fresh token."""
        from botocore.awsrequest import AWSResponse

        conflict = [{"Error": {"Code": "ConflictException", "Message": "clientToken in use"}}]
        ecs = deployed.session.client("ecs")
        ecs.meta.events.register("before-call.ecs.RunTask",
                                 lambda **_: (AWSResponse("", 400, {}, None), conflict.pop()) if conflict else None,
                                 unique_id="conflict")
        player = Player(deployed)
        player.script = [player.exit(0)]
        try:
            outs = provider(deployed, player, []).create(props(deployed)).outs
        finally:
            ecs.meta.events.unregister("before-call.ecs.RunTask", unique_id="conflict")
        key = migration_key(props(deployed))
        assert [r["clientToken"] for r in requests] == [f"{key}-1", f"{key}-2"]
        assert outs is not None and outs["attempt"] == 2 and len(all_tasks(deployed)) == 1


class TestThroughPulumisHost:
    """The step as `pulumi up` runs it: Pulumi's own dynamic provider host in a process of its own, which unpickles
    the provider by module path from the project directory; what the engine gets back (tests/provider_host.py)."""

    def test_output_on_stderr_and_a_one_line_error(self, tmp_path: Path) -> None:
        import asyncio
        import os
        import subprocess

        import grpc
        from google.protobuf import struct_pb2
        from pulumi.dynamic.dynamic import serialize_provider
        from pulumi.runtime import rpc
        from pulumi.runtime.proto import ConfigureRequest, provider_pb2, provider_pb2_grpc

        script = [{"lines": ["applying 0001_initial", "done"], "exit": 0}, {"lines": ["boom"], "exit": 3}]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": REGION, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
               "PLAYER_SCRIPT": json.dumps(script)}
        env.pop("AWS_PROFILE", None)
        outputs = tmp_path / "outputs.json"
        host = subprocess.Popen([sys.executable, "-u", "-m", "tests.provider_host", str(outputs)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            port = int(host.stdout.readline())  # type: ignore[union-attr]
            stub = provider_pb2_grpc.ResourceProviderStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
            stub.Configure(ConfigureRequest(args=struct_pb2.Struct()))
            made = json.loads(outputs.read_text())
            stack = Stack(outputs={"clusterArn": made["clusterArn"], "services": {"web": {
                "taskDefinitionArn": made["taskDefinitionArn"], "subnetIds": ["subnet-1"], "securityGroupId": "sg-1"}}})
            encoded = serialize_provider(MigrationProvider(poll=0.05))

            def create(**changes: Any) -> Any:
                wire = asyncio.run(rpc.serialize_properties({**props(stack, **changes), "__provider": encoded}, {}))
                return stub.Create(provider_pb2.CreateRequest(urn="urn:pulumi:dev::p::t::web", properties=wire),
                                   timeout=60)

            created = create()
            with pytest.raises(grpc.RpcError) as info:
                create(**{TRIGGER: "arn:aws:ecs:us-east-1:123456789012:task-definition/private-fargate-dev-web:2"})
        finally:
            host.terminate()
            _, stderr = host.communicate(timeout=30)
        assert created.id == "web-before-deploy" and created.properties["exitCode"] == 0
        details = info.value.details()
        assert details.count("\n") == 1 and details.startswith(
            "components.migration.MigrationFailed: web: beforeDeploy the task exited with code 3;")
        lines = stderr.splitlines()
        assert "[web beforeDeploy] applying 0001_initial" in lines and "[web beforeDeploy] boom" in lines
        assert sum(line.startswith("[web beforeDeploy] full logs: log group /ecs/private-fargate/dev/web, stream "
                                   "web/web/") for line in lines) == 2
