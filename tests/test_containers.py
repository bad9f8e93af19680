"""Several containers per task: sidecars and init containers, their start order, logs, ports, images and grants.

The shapes follow real task definitions: an app with an nginx proxy sidecar whose config an init
container renders (the pattern of nginxinc's docker-nginx templates), a UDP metrics port (StatsD),
an optional agent sidecar.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from policy.policies import POLICIES
from tests.support import (
    EGRESS,
    IMAGE,
    INGRESS,
    ROLE_POLICY,
    SERVICE,
    SG,
    TASK_DEF,
    Registered,
    program,
    task_definition_problems,
)
from tools.preview.policies import evaluate

CONTAINER_POLICIES = [p for p in POLICIES if p.name in (
    "ecs-container-logging", "ecs-no-privileged", "ecs-no-secrets-in-environment", "ecs-readonly-root-filesystem",
    "ecs-non-root-user", "images-from-private-ecr")]

ACCOUNT = "123456789012"
APP = {"build": "./app"}
PROXY = {"public": "public.ecr.aws/nginx/nginx-unprivileged:1.27-alpine"}
AGENT = {"uri": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team/agent:1.0"}
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:agent-token-AbCdEf"
WEB = {"name": "web", "image": APP, "cpu": 512, "memory": 1024, "port": 8080,
       "healthCheck": {"command": ["CMD", "python", "-m", "app", "health"]},
       "initContainers": [{"name": "render", "image": APP, "command": ["render-config"],
                           "writablePaths": ["/srv/rendered"]}],
       "sidecars": [{"name": "proxy", "image": PROXY, "user": "101:101", "cpu": 128, "memory": 128,
                     "ports": [8443, {"port": 8125, "protocol": "udp", "name": "statsd"}],
                     "writablePaths": ["/srv/rendered"], "healthCheck": {"command": ["CMD", "true"]}},
                    {"name": "agent", "image": AGENT, "essential": False, "user": "1000",
                     "secrets": {"TOKEN": SECRET}}]}
SETTINGS = {"services": [WEB], "jobs": [{"name": "j", "image": APP}]}


@pytest.fixture(scope="module")
def run() -> Registered:
    return program(SETTINGS, mode="up")


def containers(run: Registered, name: str = "service-web-task") -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(run.one(TASK_DEF, name)["inputs"]["containerDefinitions"])}


class TestStartOrder:
    def test_main_first_then_sidecars_then_init_containers(self, run: Registered) -> None:
        defs = json.loads(run.one(TASK_DEF, "service-web-task")["inputs"]["containerDefinitions"])
        assert [(c["name"], c["essential"]) for c in defs] == [
            ("web", True), ("proxy", True), ("agent", False), ("render", False)]

    def test_init_runs_to_completion_and_the_main_waits_for_sidecars(self, run: Registered) -> None:
        c = containers(run)
        assert c["web"]["dependsOn"] == [{"containerName": "render", "condition": "SUCCESS"},
                                         {"containerName": "proxy", "condition": "HEALTHY"},
                                         {"containerName": "agent", "condition": "START"}]
        assert c["proxy"]["dependsOn"] == c["agent"]["dependsOn"] == [
            {"containerName": "render", "condition": "SUCCESS"}]
        assert "dependsOn" not in c["render"]

    def test_a_plain_workload_is_unchanged(self, run: Registered) -> None:
        (only,) = containers(run, "job-j-task").values()
        assert "dependsOn" not in only and only["essential"] is True


class TestEveryContainer:
    def test_logs_to_the_workload_group_under_its_own_prefix(self, run: Registered) -> None:
        for name, c in containers(run).items():
            options = c["logConfiguration"]["options"]
            assert c["logConfiguration"]["logDriver"] == "awslogs"
            assert options["awslogs-group"] == "/ecs/private-fargate/dev/web"
            assert options["awslogs-stream-prefix"] == name

    def test_ports_named_and_udp_kept(self, run: Registered) -> None:
        c = containers(run)
        assert c["web"]["portMappings"] == [{"name": "web", "containerPort": 8080, "protocol": "tcp"}]
        assert c["proxy"]["portMappings"] == [{"name": "proxy-8443", "containerPort": 8443, "protocol": "tcp"},
                                              {"name": "statsd", "containerPort": 8125, "protocol": "udp"}]
        assert "portMappings" not in c["render"] and "portMappings" not in c["agent"]

    def test_reservations_and_shared_scratch_volume(self, run: Registered) -> None:
        c, td = containers(run), run.one(TASK_DEF, "service-web-task")["inputs"]
        assert (c["proxy"]["cpu"], c["proxy"]["memoryReservation"]) == (128, 128)
        assert "cpu" not in c["agent"] and "memoryReservation" not in c["web"]
        assert [v["name"] for v in td["volumes"]] == ["tmp", "srv-rendered"]  # one volume per path, shared
        for name in ("proxy", "render"):
            assert {"sourceVolume": "srv-rendered", "containerPath": "/srv/rendered", "readOnly": False} in \
                c[name]["mountPoints"]

    def test_images_and_users(self, run: Registered) -> None:
        c = containers(run)
        registry = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
        assert c["proxy"]["image"] == f"{registry}/private-fargate-dev-ecr-public/nginx/nginx-unprivileged:1.27-alpine"
        assert c["agent"]["image"] == AGENT["uri"]
        assert c["render"]["image"] == c["web"]["image"] and c["render"]["user"] == "10001:10001"
        assert len(run.of_type(IMAGE)) == 1  # the app and its init container share one build
        assert run.one(IMAGE)["urn"] in run.one(TASK_DEF, "service-web-task")["dependencies"]

    def test_exec_makes_every_root_writable_with_an_init_process(self) -> None:
        run = program({"services": [{**WEB, "exec": True}]})
        for name, c in containers(run).items():
            assert c["readonlyRootFilesystem"] is False, name
            assert c["linuxParameters"] == {"initProcessEnabled": True}, name

    def test_valid_for_the_ecs_api(self, run: Registered) -> None:
        for td in run.of_type(TASK_DEF):
            assert task_definition_problems(td) == "", td["name"]


class TestNetwork:
    def test_service_connect_serves_each_tcp_port(self, run: Registered) -> None:
        config = run.one(SERVICE, "service-web-service")["inputs"]["serviceConnectConfiguration"]
        assert config["services"] == [
            {"portName": "web", "discoveryName": "web", "clientAlias": [{"port": 8080, "dnsName": "web"}]},
            {"portName": "proxy-8443", "discoveryName": "web_8443", "clientAlias": [{"port": 8443, "dnsName": "web"}]}]

    def test_every_port_admitted_from_the_mesh_and_the_clients(self, run: Registered) -> None:
        groups = {g["name"]: g["urn"] for g in run.of_type(SG)}
        rules = {(r["propertyDependencies"]["referencedSecurityGroupId"][0], r["inputs"]["ipProtocol"],
                  r["inputs"]["fromPort"]) for r in run.of_type(INGRESS)
                 if r["propertyDependencies"]["securityGroupId"] == [groups["service-web-sg"]]}
        expected = {(g, p, n) for g in (groups["service-connect-sg"], groups["service-connect-clients"])
                    for p, n in (("tcp", 8080), ("tcp", 8443), ("udp", 8125))}
        assert rules == expected
        clients = {(r["inputs"]["ipProtocol"], r["inputs"]["fromPort"]) for r in run.of_type(EGRESS)
                   if r["propertyDependencies"]["securityGroupId"] == [groups["service-connect-clients"]]}
        assert clients == {("tcp", 8080), ("tcp", 8443), ("udp", 8125)}


class TestExecutionRole:
    def test_pulls_exactly_the_task_images_one_statement_per_kind(self, run: Registered) -> None:
        doc = json.loads(run.one(ROLE_POLICY, "service-web-execution")["inputs"]["policy"])
        st = {s["Sid"]: s for s in doc["Statement"]}
        repo = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository"
        assert st["PullImage"]["Resource"] == [f"{repo}/private-fargate-dev", f"{repo}/team/agent"]
        assert "ecr:BatchImportUpstreamImage" not in st["PullImage"]["Action"]
        assert st["PullThroughCache"]["Resource"] == [
            f"{repo}/private-fargate-dev-ecr-public/nginx/nginx-unprivileged"]
        assert "ecr:BatchImportUpstreamImage" in st["PullThroughCache"]["Action"]
        assert st["ReadSecrets"]["Resource"] == [SECRET.rsplit("-", 1)[0] + "-AbCdEf"]

    def test_the_job_keeps_one_pull_statement(self, run: Registered) -> None:
        doc = json.loads(run.one(ROLE_POLICY, "job-j-execution")["inputs"]["policy"])
        assert [s["Sid"] for s in doc["Statement"]] == ["EcrLogin", "PullImage", "WriteOwnLogs"]


class TestPoliciesSeeEveryContainer:
    """The pack's container policies judge sidecars and init containers like the main container."""

    def broken(self, **changes: Any) -> list[dict[str, Any]]:
        """The container policies' violations on the web task definition, after `changes` (container -> edit)."""
        td = program(SETTINGS).one(TASK_DEF, "service-web-task")
        defs = json.loads(td["inputs"]["containerDefinitions"])
        for name, change in changes.items():
            change(next(c for c in defs if c["name"] == name))
        td["inputs"]["containerDefinitions"] = json.dumps(defs)
        return evaluate({"resources": [td]}, None, CONTAINER_POLICIES)

    @pytest.mark.parametrize("container", ["proxy", "render"])
    def test_privileged(self, container: str) -> None:
        found = self.broken(**{container: lambda c: c.update(privileged=True)})
        assert [v["message"].split(" runs ")[0] for v in found if v["policy"] == "ecs-no-privileged"] == [
            f"service-web-task: container '{container}'"]

    @pytest.mark.parametrize("container", ["agent", "render"])
    def test_logging(self, container: str) -> None:
        found = self.broken(**{container: lambda c: c.pop("logConfiguration")})
        assert [v for v in found if v["policy"] == "ecs-container-logging" and f"'{container}'" in v["message"]]

    def test_secrets_in_environment_and_writable_root(self) -> None:
        found = self.broken(proxy=lambda c: c["environment"].append({"name": "DB_PASSWORD", "value": "x"}),
                            render=lambda c: c.update(readonlyRootFilesystem=False))
        assert any(v["policy"] == "ecs-no-secrets-in-environment" and "'proxy'" in v["message"] for v in found)
        assert any(v["policy"] == "ecs-readonly-root-filesystem" and "'render'" in v["message"] for v in found)

    def test_as_shipped_nothing_is_reported(self) -> None:
        assert self.broken() == []
