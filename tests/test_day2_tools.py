"""tools.logs, tools.status, tools.exec and `python -m tools` against a stack deployed in moto; tools.aws's errors."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.aws_stack import CLUSTER, REGION, Stack, stop_task, write_logs
from tests.support import ROOT
from tools import aws as tools_aws
from tools import exec as exec_tool
from tools import logs, status
from tools.next_run import next_run

WEB_LOGS = "/ecs/private-fargate/dev/web"
REPORT_LOGS = "/ecs/private-fargate/dev/report"
NOW = int(datetime.now(UTC).timestamp() * 1000)


def start(stack: Stack, name: str, started_by: str = "test") -> str:
    """Start a task of a workload (RUNNING at once: moto)."""
    entry = stack.outputs["services" if name == "web" else "jobs"][name]
    return stack.session.client("ecs").run_task(
        cluster=CLUSTER, taskDefinition=entry["taskDefinitionArn"], startedBy=started_by,
        enableExecuteCommand=name == "web", capacityProviderStrategy=entry["capacityProviderStrategy"],
        networkConfiguration={"awsvpcConfiguration": {"subnets": entry["subnetIds"],
                                                      "securityGroups": [entry["securityGroupId"]]}}
    )["tasks"][0]["taskArn"]


class TestLogs:
    @pytest.fixture
    def streams(self, deployed: Stack) -> Stack:
        write_logs(deployed.session, WEB_LOGS, "web/web/aaaa1111", "one", "two", at=NOW - 5000)
        write_logs(deployed.session, WEB_LOGS, "web/web/aaaa1111", "five", at=NOW - 1000)
        write_logs(deployed.session, WEB_LOGS, "web/web/bbbb2222", "three", at=NOW - 4500)
        write_logs(deployed.session, WEB_LOGS, "web-service-connect/ecs-service-connect-x/aaaa1111", "four",
                   at=NOW - 2000)
        return deployed

    def run(self, stack: Stack, *argv: str, sleep: Any = None) -> tuple[int, list[str]]:
        lines: list[str] = []
        code = logs.main(["web", "--outputs", str(stack.file), *argv], session=stack.session, out=lines.append,
                         **({"sleep": sleep} if sleep else {}))
        return code, [line[9:] for line in lines]  # without the time

    def test_all_streams_merged_in_time_order(self, streams: Stack) -> None:
        code, lines = self.run(streams)
        assert code == 0
        assert [line.split()[-1] for line in lines] == ["one", "two", "three", "four", "five"]
        assert lines[0].startswith("aaaa1111 web ") and lines[3].startswith("aaaa1111 ecs-service-connect-x")

    def test_one_task_one_container(self, streams: Stack) -> None:
        _, by_task = self.run(streams, "--task", "aaaa")
        assert [line.split()[-1] for line in by_task] == ["one", "two", "four", "five"]
        _, by_container = self.run(streams, "--task", "aaaa", "--container", "web")
        assert [line.split()[-1] for line in by_container] == ["one", "two", "five"]

    def test_follow_prints_new_events_until_ctrl_c(self, streams: Stack, capsys: pytest.CaptureFixture[str]) -> None:
        polls: list[float] = []

        def sleep(seconds: float) -> None:
            polls.append(seconds)
            if len(polls) == 1:
                write_logs(streams.session, WEB_LOGS, "web/web/bbbb2222", "six")
            else:
                raise KeyboardInterrupt

        code, lines = self.run(streams, "--follow", "--since", "10m", sleep=sleep)
        assert code == 130 and capsys.readouterr().err == "interrupted\n"
        assert [line.split()[-1] for line in lines] == ["one", "two", "three", "four", "five", "six"]  # none twice

    def test_bad_since(self, deployed: Stack, capsys: pytest.CaptureFixture[str]) -> None:
        code = logs.main(["web", "--outputs", str(deployed.file), "--since", "yesterday"], session=deployed.session)
        assert code == 2 and "--since 'yesterday': expected 30s, 15m, 1h, 2d" in capsys.readouterr().err

    def test_since_forms(self) -> None:
        assert logs.parse_since("15m", now=1000.0) == (1000 - 900) * 1000
        assert logs.parse_since("2026-11-28T03:00") == int(datetime(2026, 11, 28, 3, tzinfo=UTC).timestamp() * 1000)


class TestStatus:
    def test_services_and_jobs(self, deployed: Stack) -> None:
        failed = start(deployed, "report")
        write_logs(deployed.session, REPORT_LOGS, f"report/report/{failed.rsplit('/', 1)[-1]}", "boom")
        stop_task(deployed.session, failed, 3)
        write_logs(deployed.session, REPORT_LOGS, "report/report/0ldrun00", "done", "bye", at=NOW - 86_400_000)
        deployed.session.client("scheduler").create_schedule(
            Name=f"{CLUSTER}-report", ScheduleExpression="cron(0 3 * * ? *)", ScheduleExpressionTimezone="Europe/Paris",
            FlexibleTimeWindow={"Mode": "OFF"}, Target={"Arn": deployed.outputs["clusterArn"],
                                                        "RoleArn": deployed.execution_roles["report"]})
        arn = deployed.session.client("scheduler").get_schedule(Name=f"{CLUSTER}-report")["Arn"]
        deployed.outputs["jobs"]["report"]["scheduleArn"] = arn
        deployed.write()
        lines: list[str] = []
        now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
        code = status.main(["--outputs", str(deployed.file), "--json"], session=deployed.session, out=lines.append,
                           now=now)
        doc = json.loads("\n".join(lines))
        assert code == 0
        (web,) = doc["services"]
        assert (web["name"], web["desired"]) == ("web", 1) and web["deployments"][0]["status"] == "PRIMARY"
        # issue 19: each deployment's rollout state and the service's last events
        assert set(web["deployments"][0]) >= {"rollout", "running", "desired"} and isinstance(web["events"], list)
        (report,) = doc["jobs"]
        assert report["schedule"] == {"expression": "cron(0 3 * * ? *)", "timezone": "Europe/Paris",
                                      "state": "ENABLED", "nextRun": "2026-11-29T02:00:00+00:00"}
        latest, older = report["runs"]
        assert (latest["exitCode"], latest["source"], latest["status"]) == (3, "ecs", "STOPPED")
        assert latest["stopReason"] == "Essential container in task exited"
        assert (older["task"], older["exitCode"], older["source"], older["durationSeconds"]) == \
            ("0ldrun00", None, "logs", 0.001)

    def test_a_job_with_many_runs_lists_its_latest(self, deployed: Stack) -> None:
        """More runs than one page of log streams (50): names are random task ids, so the latest is found by
        the time of its last event, not by the first page in name order."""
        for i in range(60):
            write_logs(deployed.session, REPORT_LOGS, f"report/report/{i:02d}{'a' * 30}", "ran",
                       at=NOW - 86_400_000 + i * 60_000)
        job = next(w for w in tools_aws.workloads(deployed.outputs) if w.name == "report")
        runs = status.job_runs(deployed.session.client("ecs"), deployed.session.client("logs"), CLUSTER, job)
        assert [r["task"][:2] for r in runs] == ["59", "58", "57", "56", "55"]

    def test_target_health_behind_a_load_balancer(self, deployed: Stack) -> None:
        elb = deployed.session.client("elbv2")
        group = elb.create_target_group(Name="api", Protocol="HTTP", Port=8080, VpcId=deployed.outputs["vpcId"],
                                        TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
        elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "10.0.0.5"}, {"Id": "10.0.16.5"}])
        web = deployed.outputs["services"]["web"]
        deployed.session.client("ecs").create_service(
            cluster=CLUSTER, serviceName="api", taskDefinition=web["taskDefinitionArn"], desiredCount=2,
            loadBalancers=[{"targetGroupArn": group, "containerName": "web", "containerPort": 8080}])
        deployed.outputs["services"]["api"] = {**web, "serviceName": "api"}
        deployed.write()
        lines: list[str] = []
        assert status.main(["api", "--outputs", str(deployed.file), "--json"], session=deployed.session,
                           out=lines.append) == 0
        (api,) = json.loads("\n".join(lines))["services"]
        assert (api["desired"], api["targets"]) == (2, {"healthy": 2})

    def test_workers_are_services(self, deployed: Stack) -> None:
        deployed.write(workers={"queue": {**deployed.outputs["services"]["web"], "serviceName": "web"}})
        lines: list[str] = []
        assert status.main(["queue", "--outputs", str(deployed.file), "--json"], session=deployed.session,
                           out=lines.append) == 0
        doc = json.loads("\n".join(lines))
        assert [s["name"] for s in doc["services"]] == ["queue"] and doc["jobs"] == []

    def test_tables(self, deployed: Stack) -> None:
        lines: list[str] = []
        assert status.main(["--outputs", str(deployed.file)], session=deployed.session, out=lines.append) == 0
        text = "\n".join(lines)
        assert "services of private-fargate-dev (us-east-1)" in text and "jobs of private-fargate-dev" in text
        assert "on demand" in text and "no run found" in text

    def test_region_without_the_stack(self, deployed: Stack, capsys: pytest.CaptureFixture[str]) -> None:
        code = status.main(["--outputs", str(deployed.file), "--region", "eu-west-1"], session=deployed.session)
        assert code == 2 and "is not in eu-west-1" in capsys.readouterr().err


@pytest.mark.parametrize("expression,zone,expected", [
    ("cron(0 3 * * ? *)", "Europe/Paris", datetime(2026, 11, 29, 2, tzinfo=UTC)),
    ("cron(30 9 ? * 2-6 *)", "UTC", datetime(2026, 11, 30, 9, 30, tzinfo=UTC)),  # 2-6 = MON-FRI in AWS's numbering
    ("cron(0 0 ? * 6L *)", "UTC", datetime(2026, 12, 25, tzinfo=UTC)),  # last Friday of the month
    ("cron(0 0 1 * ? 2030)", "UTC", datetime(2030, 1, 1, tzinfo=UTC)),
    ("cron(0 0 15W * ? *)", "UTC", None),  # nearest weekday: not computed
    ("rate(6 hours)", "UTC", datetime(2026, 11, 28, 18, tzinfo=UTC)),
    ("at(2026-12-01T08:00:00)", "Europe/Paris", datetime(2026, 12, 1, 7, tzinfo=UTC)),
    ("at(2020-01-01T00:00:00)", "UTC", None),
])
def test_next_run(expression: str, zone: str, expected: datetime | None) -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # a Saturday
    assert next_run(expression, zone, start=datetime(2026, 11, 1, tzinfo=UTC), now=now) == expected


@pytest.fixture
def agent(deployed: Stack) -> Any:
    """moto models neither a task's enableExecuteCommand nor ECS Exec's managed agent: `agent("RUNNING")` adds
    both to its DescribeTasks answers, as ECS answers for a task started with exec."""
    events = deployed.session.client("ecs").meta.events

    def set_status(status_: str) -> None:
        def add(parsed: dict[str, Any], **_: Any) -> None:
            for task in parsed.get("tasks", []):
                task["enableExecuteCommand"] = True
                for container in task.get("containers", []):
                    container["managedAgents"] = [{"name": "ExecuteCommandAgent", "lastStatus": status_}]

        events.register("after-call.ecs.DescribeTasks", add, unique_id="agent")

    yield set_status
    events.unregister("after-call.ecs.DescribeTasks", unique_id="agent")


class TestExec:
    def run(self, stack: Stack, *argv: str, which: Any = None) -> tuple[int, list[str], list[list[str]]]:
        lines: list[str] = []
        commands: list[list[str]] = []
        code = exec_tool.main([*argv[:1], "--outputs", str(stack.file), *argv[1:]], session=stack.session,
                              out=lines.append, which=which or (lambda name: f"/usr/local/bin/{name}"),
                              run=lambda cmd: commands.append(cmd) or 0)
        return code, lines, commands

    def test_runs_execute_command_when_ready(self, deployed: Stack, agent: Any) -> None:
        arn = start(deployed, "web")
        agent("RUNNING")
        code, lines, commands = self.run(deployed, "web", "--", "python", "-m", "app", "health")
        assert code == 0 and lines == [f"exec: web task {arn.rsplit('/', 1)[-1]} container web: python -m app health"]
        assert commands == [["/usr/local/bin/aws", "ecs", "execute-command",
                             "--cluster", deployed.outputs["clusterArn"],
                             "--task", arn, "--container", "web", "--interactive", "--command",
                             "python -m app health", "--region", REGION]]

    def test_every_missing_prerequisite_is_one_line(self, deployed: Stack, agent: Any) -> None:
        start(deployed, "web")
        agent("PENDING")
        endpoint = deployed.endpoints["ssmmessages"]
        deployed.session.client("ec2").delete_vpc_endpoints(VpcEndpointIds=[endpoint])
        code, lines, commands = self.run(deployed, "web", which=lambda name: None)
        assert code == 1 and commands == [] and len(lines) == 4
        assert lines[0].startswith("exec: the ExecuteCommandAgent of web is PENDING: it needs the ssmmessages")
        assert lines[1] == f"exec: the ssmmessages endpoint {endpoint} is deleted: run `pulumi up` to restore it"
        assert lines[2].startswith("exec: the AWS CLI is not on PATH")
        assert lines[3].startswith("exec: the Session Manager plugin is not on PATH: install it (https://docs.aws")

    def test_exec_off(self, deployed: Stack) -> None:
        start(deployed, "report")
        code, lines, _ = self.run(deployed, "report")
        assert code == 1 and lines[0].startswith("exec: exec is off for report: set `exec: true`")
        assert lines[1].startswith("exec: task ") and "was started without exec: start a new one" in lines[1]

    def test_no_running_task(self, deployed: Stack, capsys: pytest.CaptureFixture[str]) -> None:
        code, _, _ = self.run(deployed, "web")
        assert code == 1 and capsys.readouterr().err.startswith("error: no running task of web")


class TestShared:
    def test_listing(self) -> None:
        out = subprocess.run([sys.executable, "-m", "tools"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
        names = [line.split()[0] for line in out.splitlines()[1:-1]]
        assert names == ["preview", "run_task", "logs", "status", "exec", "doctor"]
        assert "  doctor    why a private task cannot pull, read its secrets or log." in out

    def test_no_credentials(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
                            capsys: pytest.CaptureFixture[str]) -> None:
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            monkeypatch.delenv(key, raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        outputs = tmp_path / "o.json"
        outputs.write_text(json.dumps({"clusterArn": "arn:aws:ecs:us-east-1:1:cluster/c", "region": "us-east-1",
                                       "services": {}, "jobs": {}}))
        assert status.main(["--outputs", str(outputs)]) == 2
        assert capsys.readouterr().err.startswith("error: no AWS credentials found: set AWS_PROFILE")

    def test_throttling_is_retried_with_backoff(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from botocore.awsrequest import AWSResponse

        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        slept: list[float] = []
        monkeypatch.setattr("botocore.endpoint.time.sleep", slept.append)
        ecs = tools_aws.make_session().client("ecs", region_name=REGION)
        bodies = [b'{"__type":"ThrottlingException","message":"Rate exceeded"}'] * 2 + [b'{"clusters":[]}']

        class Raw:
            def __init__(self, body: bytes):
                self.body = body

            def stream(self, **_: Any) -> Any:
                yield self.body

        def send(request: Any, **_: Any) -> AWSResponse:
            body = bodies.pop(0)
            return AWSResponse(request.url, 400 if b"Throttling" in body else 200, {}, Raw(body))

        ecs.meta.events.register("before-send.ecs.DescribeClusters", send)
        assert ecs.describe_clusters(clusters=["c"])["clusters"] == [] and bodies == []
        assert len(slept) == 2 and ecs.meta.config.retries == {"mode": "standard", "total_max_attempts": 8}

    def test_throttling_that_never_stops_is_one_line(self) -> None:
        from botocore.exceptions import ClientError

        error = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "DescribeServices")
        assert tools_aws.describe_error(error) == (
            "AWS kept throttling DescribeServices after 8 attempts with backoff (ThrottlingException): wait a minute "
            "and run again")

    def test_backoff_grows_to_five_minutes(self) -> None:
        delays = list(tools_aws.backoff())
        assert delays[:6] == [1, 2, 4, 8, 16, 30] and sum(delays) == 300 and max(delays) == 30
