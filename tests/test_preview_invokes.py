"""Data sources in the offline preview: every aws invoke answered, made-up answers noted and never a pass.

The programs follow the shapes of public examples (written here, nothing copied): pulumi/examples
`aws-py-fargate` (the default VPC and its subnets from `get_vpc`/`get_subnets`, a public ALB, a
service with a public IP), `aws-py-webserver` (an instance from `get_ami`), `aws-py-serverless-raw`
(an execution role whose policies come from `get_policy_document`), `aws-py-hub-and-spoke-network`
(a VPC read by id). Before, each run ended with "cannot answer the invoke" (the read returned nothing).
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from tests.support import preview
from tests.test_preview import res, write_project
from tools.preview import child

FARGATE_SHAPE = """
import json
import pulumi
import pulumi_aws as aws

vpc = aws.ec2.get_vpc(default=True)
subnets = aws.ec2.get_subnets(filters=[{"name": "vpc-id", "values": [vpc.id]}])
cluster = aws.ecs.Cluster("cluster")
group = aws.ec2.SecurityGroup("web", vpc_id=vpc.id, description="web",
    ingress=[{"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_blocks": ["0.0.0.0/0"]}])
lb = aws.lb.LoadBalancer("lb", security_groups=[group.id], subnets=subnets.ids)
role = aws.iam.Role("exec", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
task = aws.ecs.TaskDefinition("task", family="app", cpu="256", memory="512", network_mode="awsvpc",
    requires_compatibilities=["FARGATE"], execution_role_arn=role.arn,
    container_definitions=json.dumps([{"name": "app", "image": "nginx", "portMappings": [{"containerPort": 80}]}]))
aws.ecs.Service("svc", cluster=cluster.arn, desired_count=1, launch_type="FARGATE", task_definition=task.arn,
    network_configuration={"assign_public_ip": True, "subnets": subnets.ids, "security_groups": [group.id]})
pulumi.export("vpcCidr", vpc.cidr_block)
pulumi.export("subnets", subnets.ids)
pulumi.export("url", lb.dns_name)
"""

WEBSERVER_SHAPE = """
import pulumi
import pulumi_aws as aws

ami = aws.ec2.get_ami(most_recent="true", owners=["amazon"],
                      filters=[{"name": "name", "values": ["amzn2-ami-hvm-*-x86_64-gp2"]}])
server = aws.ec2.Instance("web", instance_type="t3.micro", ami=ami.id)
zone = aws.route53.get_zone(name="example.com")
token = aws.ecr.get_authorization_token()
user, password = __import__("base64").b64decode(token.authorization_token).decode().split(":")
pulumi.export("ami", ami.id)
pulumi.export("zone", zone.zone_id)
pulumi.export("user", user)
pulumi.export("ip", server.public_ip)
"""

EXISTING_VPC_SHAPE = """
import pulumi
import pulumi_aws as aws

vpc = aws.ec2.Vpc.get("shared", "vpc-0a1b2c3d4e5f60718")
subnet = aws.ec2.Subnet("app", vpc_id=vpc.id, cidr_block=vpc.cidr_block.apply(lambda c: c.replace("0.0/16", "1.0/24")))
pulumi.export("cidr", vpc.cidr_block)
"""

POLICY_DOCUMENT_SHAPE = """
import pulumi_aws as aws

trust = aws.iam.get_policy_document(statements=[{"actions": ["sts:AssumeRole"],
    "principals": [{"type": "Service", "identifiers": ["lambda.amazonaws.com"]}]}])
role = aws.iam.Role("fn", assume_role_policy=trust.json)
grants = aws.iam.get_policy_document(statements=[
    {"sid": "Logs", "actions": ["logs:CreateLogStream", "logs:PutLogEvents"], "resources": ["*"]},
    {"sid": "Everything", "actions": ["dynamodb:*"], "resources": ["*"]}])
aws.iam.RolePolicy("fn", role=role.id, policy=grants.json)
"""


def project(tmp_path: Path, main: str, region: str = "us-east-1") -> Path:
    return write_project(tmp_path / "p", main, {"aws:region": region})


def run(directory: Path, mode: str, *extra: str) -> dict[str, Any]:
    result = preview("--project-dir", directory, "--stack", "t", "--json", "--mode", mode, *extra)
    assert result.returncode in (0, 1), result.stderr
    return result.report


def by_policy(report: dict[str, Any], policy: str) -> list[dict[str, Any]]:
    return [v for v in report["violations"] if v["policy"] == policy]


@pytest.mark.parametrize("mode", ["preview", "up"])
class TestDataSources:
    def test_default_vpc_program_reports(self, tmp_path: Path, mode: str) -> None:
        report = run(project(tmp_path, FARGATE_SHAPE), mode)
        (public_ip,) = by_policy(report, "ecs-service-no-public-ip")
        assert public_ip["level"] == "mandatory" and public_ip["urn"].endswith("::svc")
        # The subnets came from a made-up answer: not a pass, not a failure: the pack cannot verify them.
        assert not by_policy(report, "ecs-tasks-in-private-subnets")
        outside = [v for v in by_policy(report, "cannot-verify") if "ecs-tasks-in-private-subnets" in v["message"]]
        assert len(outside) == 2 and all(v["level"] == "advisory" for v in outside)
        assert all(re.search(r"cannot verify subnet subnet-[0-9a-f]{17} of svc", v["message"]) for v in outside)
        faked = [n for n in report["notes"] if n.startswith("invoke ")]
        assert [n.split()[1] for n in faked] == ["aws:ec2/getSubnets:getSubnets", "aws:ec2/getVpc:getVpc"]
        assert all("made-up values" in n and "--invokes FILE" in n for n in faked)
        assert re.fullmatch(r"10\.\d+\.0\.0/16", report["outputs"]["vpcCidr"])
        assert [s[:7] for s in report["outputs"]["subnets"]] == ["subnet-", "subnet-"]

    def test_ami_zone_and_registry_token(self, tmp_path: Path, mode: str) -> None:
        report = run(project(tmp_path, WEBSERVER_SHAPE), mode)
        out = report["outputs"]
        assert re.fullmatch(r"ami-[0-9a-f]{17}", out["ami"]) and re.fullmatch(r"Z[A-Z2-7]{13}", out["zone"])
        assert out["user"] == "AWS"
        assert res(report, "aws:ec2/instance:Instance")["inputs"]["ami"] == out["ami"]
        assert len([n for n in report["notes"] if n.startswith("invoke ")]) == 3
        if mode == "up":
            assert re.fullmatch(r"203\.0\.113\.\d+", out["ip"])  # a documentation address, never a real one

    def test_resource_read_by_id(self, tmp_path: Path, mode: str) -> None:
        report = run(project(tmp_path, EXISTING_VPC_SHAPE), mode)
        assert re.fullmatch(r"10\.\d+\.0\.0/16", report["outputs"]["cidr"])
        assert res(report, "aws:ec2/subnet:Subnet")["inputs"]["vpcId"] == "vpc-0a1b2c3d4e5f60718"
        assert [n for n in report["notes"] if " read by id " in n] == [
            "aws:ec2/vpc:Vpc 'shared' read by id vpc-0a1b2c3d4e5f60718: its state is made up; what rests on it is "
            "'cannot verify'"]

    def test_policy_documents_are_rendered_exactly(self, tmp_path: Path, mode: str) -> None:
        report = run(project(tmp_path, POLICY_DOCUMENT_SHAPE), mode)
        (wildcard,) = by_policy(report, "iam-no-wildcard-actions")
        assert wildcard["level"] == "mandatory" and "dynamodb:*" in wildcard["message"]
        assert not [n for n in report["notes"] if n.startswith("invoke ")]  # exact, so not made up
        trust = json.loads(res(report, "aws:iam/role:Role")["inputs"]["assumeRolePolicy"])
        assert trust == {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                                 "Principal": {"Service": "lambda.amazonaws.com"}}]}


class TestGivenAnswers:
    """`--invokes FILE`: real answers by token and arguments; what is not given is still made up (and noted)."""

    def test_answers_by_token_and_arguments(self, tmp_path: Path) -> None:
        answers = tmp_path / "invokes.yaml"
        answers.write_text(yaml.safe_dump({
            "aws:ec2/getVpc:getVpc": {"args": {"default": True}, "result": {"id": "vpc-0a1b2c3d",
                                                                            "cidr_block": "172.31.0.0/16"}},
            "aws:ec2/getSubnets:getSubnets": [
                {"args": {"filters": [{"name": "vpc-id", "values": ["vpc-other"]}]}, "result": {"ids": ["subnet-x"]}},
                {"args": {"filters": [{"name": "vpc-id", "values": ["vpc-0a1b2c3d"]}]},
                 "result": {"ids": ["subnet-0aaa", "subnet-0bbb"]}}]}))
        report = run(project(tmp_path, FARGATE_SHAPE), "up", "--invokes", str(answers))
        assert report["outputs"]["vpcCidr"] == "172.31.0.0/16"
        assert report["outputs"]["subnets"] == ["subnet-0aaa", "subnet-0bbb"]
        assert res(report, "aws:ec2/securityGroup:SecurityGroup")["inputs"]["vpcId"] == "vpc-0a1b2c3d"
        assert not [n for n in report["notes"] if n.startswith("invoke ")]
        # Real ids that the stack does not hold still cannot be verified by the pack.
        assert any("subnet subnet-0aaa of svc" in v["message"] for v in by_policy(report, "cannot-verify"))

    def test_unmatched_arguments_fall_back_to_made_up(self, tmp_path: Path) -> None:
        answers = tmp_path / "invokes.json"
        answers.write_text(json.dumps({"aws:ec2/getVpc:getVpc": {"args": {"default": False},
                                                                  "result": {"id": "vpc-0a1b2c3d"}}}))
        report = run(project(tmp_path, FARGATE_SHAPE), "preview", "--invokes", str(answers))
        assert any(n.startswith("invoke aws:ec2/getVpc:getVpc") for n in report["notes"])

    @pytest.mark.parametrize("content,fragment", [
        ("[1, 2]", "expected a mapping of invoke tokens to answers"),
        ("getVpc: {result: {}}", "'getVpc' is not an invoke token"),
        ("aws:ec2/getVpc:getVpc: {id: vpc-1}", "aws:ec2/getVpc:getVpc: expected {args: {...}, result: {...}}"),
        ("aws:ec2/getVpc:getVpc: [{result: {}, answer: 1}]", "aws:ec2/getVpc:getVpc[0]: unknown key 'answer'"),
        ("aws:ec2/getVpc:getVpc: {args: [1], result: {}}", "aws:ec2/getVpc:getVpc.args: expected a mapping"),
        ("a: [", "not valid YAML"),
    ])
    def test_bad_file_is_one_line(self, tmp_path: Path, content: str, fragment: str) -> None:
        answers = tmp_path / "invokes.yaml"
        answers.write_text(content)
        result = preview("--project-dir", project(tmp_path, FARGATE_SHAPE), "--stack", "t", "--invokes", answers)
        assert result.returncode == 2 and result.stdout == ""
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(f"error: --invokes {answers}") and fragment in line


def _invoke_functions(module_name: str) -> list[tuple[str, type]]:
    """(token, result class) of every generated `get_*` function of a pulumi_aws module (one file each)."""
    package = importlib.import_module(module_name)
    found = []
    for path in sorted(Path(package.__file__).parent.glob("get_*.py")):
        match = re.search(r"invoke\('([^']+)', __args__, opts=opts, typ=(\w+)\)", path.read_text())
        if match:
            module = importlib.import_module(f"{module_name}.{path.stem}")
            found.append((match.group(1), getattr(module, match.group(2))))
    return found


@pytest.mark.parametrize("module_name", ["pulumi_aws", "pulumi_aws.ec2", "pulumi_aws.iam", "pulumi_aws.ecs",
                                         "pulumi_aws.lb", "pulumi_aws.s3", "pulumi_aws.ecr", "pulumi_aws.cloudwatch"])
def test_every_invoke_gets_its_sdk_result_type(module_name: str) -> None:
    """A made-up answer builds the SDK's own result class (its constructor checks every field's type)."""
    cloud = child.fakes.Cloud("eu-west-1")
    functions = _invoke_functions(module_name)
    assert len(functions) >= 5
    for token, cls in functions:
        result = cloud.fake_invoke(token, {"name": "x"} if "name" in {p.name for p in
                                                                       child.sdkschema.properties(cls)} else {})
        by_wire = {p.name: getattr(cls, attr).fget.__name__ for attr in dir(cls)
                   for p in child.sdkschema.properties(cls)
                   if isinstance(getattr(cls, attr, None), property) and
                   getattr(getattr(cls, attr).fget, "_pulumi_name", None) == p.name}
        built = cls(**{by_wire[k]: v for k, v in result.items() if k in by_wire})
        assert isinstance(built, cls), token
        assert cloud.fake_invoke(token, {}) == cloud.fake_invoke(token, {}), token  # deterministic
    assert pulumi  # the SDK is what checks the shapes
