"""Small deliberately-bad Pulumi programs, each run through `tools.preview --project-dir` like a PR preview.

One program, switched by a `variant` config object, builds a complete private-task stack from plain
pulumi_aws resources; each variant breaks exactly one rule and must be caught by its mandatory
policy with exit status 1. The untouched program, and one with a NAT route and no endpoints, pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import preview, preview_cli

PROGRAM = '''
import json
import pulumi
import pulumi_aws as aws

v = pulumi.Config().get_object("variant") or {}
account = aws.get_caller_identity().account_id
vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", enable_dns_support=True, enable_dns_hostnames=True)
subnet = aws.ec2.Subnet("private", vpc_id=vpc.id, cidr_block="10.0.1.0/24", map_public_ip_on_launch=False)
table = aws.ec2.RouteTable("private", vpc_id=vpc.id)
aws.ec2.RouteTableAssociation("private", subnet_id=subnet.id, route_table_id=table.id)
if v.get("igw_route") or v.get("nat"):
    igw = aws.ec2.InternetGateway("igw", vpc_id=vpc.id)
if v.get("igw_route"):
    aws.ec2.Route("to-internet", route_table_id=table.id, destination_cidr_block="0.0.0.0/0", gateway_id=igw.id)
if v.get("nat"):
    public = aws.ec2.Subnet("public", vpc_id=vpc.id, cidr_block="10.0.200.0/24")
    public_table = aws.ec2.RouteTable("public", vpc_id=vpc.id,
                                      routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}])
    aws.ec2.RouteTableAssociation("public", subnet_id=public.id, route_table_id=public_table.id)
    eip = aws.ec2.Eip("nat", domain="vpc")
    nat = aws.ec2.NatGateway("nat", allocation_id=eip.allocation_id, subnet_id=public.id)
    aws.ec2.Route("to-nat", route_table_id=table.id, destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)

group = aws.ec2.SecurityGroup("tasks", vpc_id=vpc.id, description="tasks",
    ingress=[{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"]}]
    if v.get("open_ssh") else [],
    egress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["10.0.0.0/16"]}])
if not v.get("nat"):
    for short in ["ecr.api", "ecr.dkr", "logs", *v.get("more_endpoints", [])]:
        if short == v.get("drop_endpoint"):
            continue
        aws.ec2.VpcEndpoint(short.replace(".", "-"), vpc_id=vpc.id, service_name=f"com.amazonaws.us-east-1.{short}",
                            vpc_endpoint_type="Interface", private_dns_enabled=True, subnet_ids=[subnet.id],
                            security_group_ids=[group.id])
    aws.ec2.VpcEndpoint("s3", vpc_id=vpc.id, service_name="com.amazonaws.us-east-1.s3",
                        vpc_endpoint_type="Gateway", route_table_ids=[table.id])

aws.cloudwatch.LogGroup("app", name="/ecs/app", retention_in_days=None if v.get("no_retention") else 30)
container = {"name": "app", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1", "essential": True,
             "readonlyRootFilesystem": True, "user": "1000",
             "logConfiguration": {"logDriver": "awslogs", "options": {
                 "awslogs-group": v.get("log_group", "/ecs/app"), "awslogs-region": "us-east-1",
                 "awslogs-stream-prefix": "app"}}}
if v.get("no_logging"):
    del container["logConfiguration"]
if v.get("privileged"):
    container["privileged"] = True
if v.get("env_secret"):
    container["environment"] = [{"name": "DB_PASSWORD", "value": "hunter2"}]
if v.get("secret"):
    container["secrets"] = [{"name": "DB", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"}]

def trust(service):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})

execution = aws.iam.Role("execution", assume_role_policy=trust("ecs-tasks.amazonaws.com"))
task = aws.iam.Role("task", assume_role_policy=trust("ecs-tasks.amazonaws.com"))
aws.iam.RolePolicy("execution", role=execution.id, policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*" if v.get("wildcard") else ["logs:CreateLogStream", "logs:PutLogEvents"],
     "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/app:*"}]}))
definition = aws.ecs.TaskDefinition("app", family="app", cpu="256", memory="512", network_mode="awsvpc",
                                    requires_compatibilities=["FARGATE"], execution_role_arn=execution.arn,
                                    task_role_arn=task.arn, container_definitions=json.dumps([container]))
cluster = aws.ecs.Cluster("cluster", settings=[{"name": "containerInsights", "value": "enabled"}])
aws.ecs.Service("app", cluster=cluster.arn, task_definition=definition.arn, desired_count=1, launch_type="FARGATE",
                deployment_circuit_breaker={"enable": True, "rollback": True},
                network_configuration={"subnets": [subnet.id], "security_groups": [group.id],
                                       "assign_public_ip": bool(v.get("public_ip"))})

repo = aws.ecr.Repository("repo", image_tag_mutability="MUTABLE" if v.get("mutable") else "IMMUTABLE",
                          image_scanning_configuration={"scan_on_push": not v.get("no_scan")})
if not v.get("no_lifecycle"):
    aws.ecr.LifecyclePolicy("repo", repository=repo.name, policy=json.dumps({"rules": [{
        "rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                                         "countUnit": "days", "countNumber": 7}, "action": {"type": "expire"}}]}))
bucket = aws.s3.Bucket("data", bucket="data-bucket-123456789012")
if not v.get("no_block"):
    aws.s3.BucketPublicAccessBlock("data", bucket=bucket.id, block_public_acls=True,
                                   block_public_policy=not v.get("block_off"), ignore_public_acls=True,
                                   restrict_public_buckets=True)
if not v.get("no_tls"):
    aws.s3.BucketPolicy("data", bucket=bucket.id, policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": ["arn:aws:s3:::data-bucket-123456789012", "arn:aws:s3:::data-bucket-123456789012/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
'''


def run_variant(tmp_path: Path, variant: dict[str, Any], mode: str = "preview") -> tuple[int, dict[str, Any], str]:
    (tmp_path / "Pulumi.yaml").write_text("name: bad\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(PROGRAM)
    (tmp_path / "Pulumi.t.yaml").write_text(json.dumps({"config": {"aws:region": "us-east-1",
                                                                   "bad:variant": variant}}))
    result = preview("--project-dir", tmp_path, "--stack", "t", "--mode", mode, "--json")
    return result.returncode, result.report if result.stdout else {}, result.stderr


def mandatory(report: dict[str, Any]) -> set[str]:
    return {v["policy"] for v in report["violations"] if v["level"] == "mandatory"}


@pytest.mark.parametrize("mode", ["preview", "up"])
def test_compliant_program_passes(tmp_path: Path, mode: str) -> None:
    code, report, err = run_variant(tmp_path, {}, mode)
    assert code == 0, err
    assert mandatory(report) == set()
    assert not [v for v in report["violations"] if "can't run policy" in v["message"]]


def test_nat_route_without_endpoints_passes(tmp_path: Path) -> None:
    code, report, err = run_variant(tmp_path, {"nat": True})
    assert code == 0, err
    assert mandatory(report) == set()


@pytest.mark.parametrize("variant,policy", [
    ({"public_ip": True}, "ecs-service-no-public-ip"),
    ({"igw_route": True}, "ecs-tasks-in-private-subnets"),
    ({"drop_endpoint": "logs"}, "vpc-endpoints-for-private-tasks"),
    ({"secret": True}, "vpc-endpoints-for-private-tasks"),
    ({"no_logging": True}, "ecs-container-logging"),
    ({"log_group": "/somewhere/else"}, "ecs-log-group-managed"),
    ({"no_retention": True}, "log-group-retention"),
    ({"privileged": True}, "ecs-no-privileged"),
    ({"env_secret": True}, "ecs-no-secrets-in-environment"),
    ({"no_scan": True}, "ecr-image-scanning"),
    ({"mutable": True}, "ecr-immutable-tags"),
    ({"no_lifecycle": True}, "ecr-lifecycle-policy"),
    ({"block_off": True}, "s3-block-public-access"),
    ({"no_tls": True}, "s3-tls-only"),
    ({"open_ssh": True}, "security-group-no-public-ingress"),
    ({"wildcard": True}, "iam-no-wildcard-actions"),
], ids=lambda x: x if isinstance(x, str) else "-".join(x))
def test_bad_program_is_caught(tmp_path: Path, variant: dict[str, Any], policy: str) -> None:
    code, report, err = run_variant(tmp_path, variant)
    assert code == 1, err
    assert mandatory(report) == {policy}
    (violation,) = [v for v in report["violations"] if v["policy"] == policy]
    assert violation["urn"] and violation["message"]


def test_secret_with_its_endpoint_passes(tmp_path: Path) -> None:
    code, report, err = run_variant(tmp_path, {"secret": True, "more_endpoints": ["secretsmanager"]})
    assert code == 0, err


def test_a_real_process_gives_the_same_verdicts(tmp_path: Path) -> None:
    code, report, _ = run_variant(tmp_path, {"open_ssh": True})
    real = preview_cli("--project-dir", tmp_path, "--stack", "t", "--json")
    assert (real.returncode, real.report) == (code, report) and code == 1
