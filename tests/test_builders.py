"""The pure builders, called directly (no mocks): container definition, IAM documents, capacity, subnets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.builders import (
    capacity_strategy,
    capacity_strategy_inputs,
    execution_policy,
    secret_resources,
    task_policy,
)
from components.containers import container_definitions
from components.context import StackContext
from components.network import subnet_cidrs
from components.platform import WorkloadArgs, WorkloadPlatform
from components.registry import CACHE_ACTIONS, PULL_ACTIONS, ResolvedImage
from settings import JobSettings, ServiceSettings
from settings.volumes import volume_name

CTX = StackContext(project="shop", stack="prod", region="eu-west-1", account="210987654321")
PLATFORM = WorkloadPlatform(context=CTX, cluster_name="shop-prod", cluster_arn=CTX.arn("ecs", "cluster/shop-prod"),
                            vpc_id="vpc-0123456789abcdef0", vpc_cidr="10.0.0.0/16", subnet_ids=["subnet-1"],
                            output_bucket="shop-prod-output", exec_log_group="/ecs/shop/prod/exec")
REPO = CTX.arn("ecr", "repository/shop-prod")
IMAGE = ResolvedImage("210987654321.dkr.ecr.eu-west-1.amazonaws.com/shop-prod:abc", (REPO,), user="10001")
SECRET = "arn:aws:secretsmanager:eu-west-1:210987654321:secret:db-AbCdEf"


def service(**extra: Any) -> ServiceSettings:
    return ServiceSettings.model_validate({"name": "web", "image": {"uri": IMAGE.uri}, **extra})


def args(workload: Any, platform: WorkloadPlatform = PLATFORM, image: ResolvedImage = IMAGE) -> WorkloadArgs:
    return WorkloadArgs(platform, workload, image)


class TestContainerDefinition:
    def test_service_with_everything(self) -> None:
        w = service(port=8080, command=["serve"], entrypoint=["python", "-m", "app"], environment={"LOG": "info"},
                    secrets={"DB": SECRET}, exec=True,
                    healthCheck={"command": ["CMD", "true"], "interval": 10, "startPeriod": 5})
        c = container_definitions(args(w))[0]
        assert c["name"] == "web" and c["image"] == IMAGE.uri and c["essential"] is True
        assert c["environment"] == [{"name": "LOG", "value": "info"}, {"name": "OUTPUT_BUCKET",
                                                                       "value": "shop-prod-output"}]
        assert c["secrets"] == [{"name": "DB", "valueFrom": SECRET}]
        assert (c["entryPoint"], c["command"], c["user"]) == (["python", "-m", "app"], ["serve"], "10001")
        assert c["portMappings"] == [{"name": "web", "containerPort": 8080, "protocol": "tcp"}]
        assert c["linuxParameters"] == {"initProcessEnabled": True}
        assert c["healthCheck"] == {"command": ["CMD", "true"], "interval": 10, "timeout": 5, "retries": 3,
                                    "startPeriod": 5}
        assert [m["containerPath"] for m in c["mountPoints"]] == ["/tmp"]
        assert c["readonlyRootFilesystem"] is False  # ECS Exec's agent writes to the root filesystem
        assert c["logConfiguration"] == {"logDriver": "awslogs", "options": {
            "awslogs-group": "/ecs/shop/prod/web", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "web",
            "mode": "blocking"}}

    def test_job_has_no_ports_and_the_settings_user_wins(self) -> None:
        job = JobSettings.model_validate({"name": "nightly", "image": {"uri": IMAGE.uri}, "user": "app:app"})
        c = container_definitions(args(job, WorkloadPlatform(**{**PLATFORM.__dict__, "output_bucket": None})))[0]
        assert "portMappings" not in c and c["user"] == "app:app"
        assert c["environment"] == [] and "linuxParameters" not in c and "command" not in c

    def test_volume_names_are_what_ecs_accepts(self) -> None:
        assert volume_name("/var/lib/amazon/ssm") == "var-lib-amazon-ssm" and volume_name("/") == "root"
        assert service(writablePaths=["/tmp", "/data"], exec=True).writable_paths == ["/tmp", "/data"]
        assert container_definitions(args(service()))[0]["readonlyRootFilesystem"] is True


class TestRolePolicies:
    def test_execution_role_pulls_logs_and_reads_its_secrets(self) -> None:
        param = "arn:aws:ssm:eu-west-1:210987654321:parameter/shop/key"
        doc = json.loads(execution_policy(args(service(secrets={"DB": SECRET + ":password::", "KEY": param}))))
        by_sid = {s["Sid"]: s for s in doc["Statement"]}
        assert by_sid["EcrLogin"] == {"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"],
                                      "Resource": ["*"]}
        assert by_sid["PullImage"]["Action"] == sorted(PULL_ACTIONS) and by_sid["PullImage"]["Resource"] == [REPO]
        assert by_sid["WriteOwnLogs"]["Resource"] == [
            "arn:aws:logs:eu-west-1:210987654321:log-group:/ecs/shop/prod/web:log-stream:*"]
        assert by_sid["ReadSecrets"]["Resource"] == [SECRET]  # the JSON-key suffix is not part of the ARN
        assert by_sid["ReadParameters"] == {"Sid": "ReadParameters", "Effect": "Allow",
                                            "Action": ["ssm:GetParameters"], "Resource": [param]}

    def test_cached_images_may_import_from_upstream(self) -> None:
        cached = ResolvedImage("x", (CTX.arn("ecr", "repository/p/lib/nginx"),), PULL_ACTIONS + CACHE_ACTIONS)
        doc = json.loads(execution_policy(args(service(), image=cached)))
        pull = next(s for s in doc["Statement"] if s["Sid"] == "PullImage")
        # The deploy-time warm created the repository: the task needs no ecr:CreateRepository.
        assert pull["Action"] == sorted([*PULL_ACTIONS, "ecr:BatchImportUpstreamImage"])

    def test_secret_names_without_suffix_match_any_suffix(self) -> None:
        bare = "arn:aws:secretsmanager:eu-west-1:210987654321:secret:db"
        assert secret_resources([bare, SECRET]) == (sorted([bare, bare + "-??????", SECRET]), [])

    def test_task_role_writes_results_and_exec(self) -> None:
        assert task_policy(args(service(), WorkloadPlatform(**{**PLATFORM.__dict__, "output_bucket": None}))) is None
        doc = json.loads(task_policy(args(service(exec=True))) or "{}")
        by_sid = {s["Sid"]: s for s in doc["Statement"]}
        assert by_sid["WriteResults"]["Resource"] == ["arn:aws:s3:::shop-prod-output/*"]
        assert by_sid["ExecChannels"]["Resource"] == ["*"]
        assert all(a.startswith("ssmmessages:") for a in by_sid["ExecChannels"]["Action"])
        group = "arn:aws:logs:eu-west-1:210987654321:log-group:/ecs/shop/prod/exec"
        assert by_sid["ExecSessionLogs"]["Resource"] == [group, f"{group}:log-stream:*"]


class TestCapacity:
    @pytest.mark.parametrize("capacity,mix,expected", [
        ("on-demand", None, [("FARGATE", 1, 0)]),
        ("spot", None, [("FARGATE_SPOT", 1, 0)]),
        ("mixed", None, [("FARGATE", 1, 1), ("FARGATE_SPOT", 3, 0)]),
        ("mixed", {"base": 0, "onDemandWeight": 0, "spotWeight": 1}, [("FARGATE_SPOT", 1, 0)]),
    ])
    def test_strategy(self, capacity: str, mix: dict[str, int] | None, expected: list[tuple[str, int, int]]) -> None:
        w = service(capacity=capacity, **({"capacityMix": mix} if mix else {}))
        strategy = capacity_strategy(w)
        assert [(s["capacityProvider"], s["weight"], s["base"]) for s in strategy] == expected
        assert capacity_strategy_inputs(strategy) == [
            {"capacity_provider": p, "weight": weight, "base": base} for p, weight, base in expected]


class TestSubnets:
    @pytest.mark.parametrize("cidr,first_private,first_public,prefix", [
        ("10.0.0.0/16", "10.0.0.0/20", "10.0.128.0/20", 20),
        ("172.16.0.0/20", "172.16.0.0/24", "172.16.8.0/24", 24),
        ("192.168.1.0/24", "192.168.1.0/28", "192.168.1.128/28", 28),
    ])
    def test_sixteen_blocks_private_below_public(self, cidr: str, first_private: str, first_public: str,
                                                 prefix: int) -> None:
        private, public = subnet_cidrs(cidr)
        assert (len(private), len(public)) == (8, 8)
        assert (private[0], public[0]) == (first_private, first_public)
        assert all(c.endswith(f"/{prefix}") for c in private + public)
        assert len(set(private + public)) == 16
