"""Stack policies on a small VPC, with ids unknown (a first preview) and known (`up`), and on its neighbours.

What lives outside the stack is never a pass or a failure of the policy that needs it: the advisory
`cannot-verify` names it and the policy.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import ACCOUNT, ROLE_ARN, UNKNOWN, container, res, run_policy, task_def, urn

run = run_policy


def vpc_stack(*, known: bool, public: bool = False, nat: bool = False, endpoints: tuple[str, ...] = (
        "ecr.api", "ecr.dkr", "logs"), s3: bool = True, route_as: str = "resource", associate: bool = True,
        secrets: bool = False, exec_on: bool = False, deps: bool = True) -> list[dict[str, Any]]:
    """VPC, subnet, route table (+ route), endpoints and an ECS service; ids known (`up`) or unknown (`preview`).

    `deps=False` (with known ids) drops every property dependency: references then hold by id alone.
    """
    ids = {n: (f"{p}-0{i}" if known else UNKNOWN) for i, (n, p) in enumerate(
        [("vpc", "vpc"), ("subnet", "subnet"), ("rtb", "rtb"), ("igw", "igw"), ("nat", "nat"), ("sg", "sg")])}
    u = {n: urn(t, n) for n, t in [("vpc", "aws:ec2/vpc:Vpc"), ("subnet", "aws:ec2/subnet:Subnet"),
                                     ("rtb", "aws:ec2/routeTable:RouteTable"),
                                     ("igw", "aws:ec2/internetGateway:InternetGateway"),
                                     ("nat", "aws:ec2/natGateway:NatGateway"), ("td", "aws:ecs/taskDefinition:"
                                                                                       "TaskDefinition")]}
    out = [res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"},
               {"cidrBlock": "10.0.0.0/16", "mainRouteTableId": "rtb-main" if known else UNKNOWN}, rid=ids["vpc"]),
           res("aws:ec2/subnet:Subnet", "subnet", {"vpcId": ids["vpc"], "mapPublicIpOnLaunch": False},
               deps={"vpcId": [u["vpc"]]}, rid=ids["subnet"])]
    routes: list[dict[str, Any]] = []
    gateway = "igw" if public else "nat" if nat else None
    if gateway:
        token = "aws:ec2/internetGateway:InternetGateway" if public else "aws:ec2/natGateway:NatGateway"
        out.append(res(token, gateway, {"vpcId": ids["vpc"]}, deps={"vpcId": [u["vpc"]]}, rid=ids[gateway]))
        key = "gatewayId" if public else "natGatewayId"
        if route_as == "inline":
            routes = [{"cidrBlock": "0.0.0.0/0", key: ids[gateway]}]
        else:
            out.append(res("aws:ec2/route:Route", "default", {
                "routeTableId": ids["rtb"] if associate else (ids["vpc"] and ("rtb-main" if known else UNKNOWN)),
                "destinationCidrBlock": "0.0.0.0/0", key: ids[gateway]},
                deps={"routeTableId": [u["rtb"] if associate else u["vpc"]], key: [u[gateway]]}))
    table_deps = {"vpcId": [u["vpc"]], **({"routes": [u[gateway]]} if routes and gateway else {})}
    out.append(res("aws:ec2/routeTable:RouteTable", "rtb", {"vpcId": ids["vpc"], "routes": routes},
                   deps=table_deps, rid=ids["rtb"]))
    if associate:
        out.append(res("aws:ec2/routeTableAssociation:RouteTableAssociation", "assoc",
                       {"subnetId": ids["subnet"], "routeTableId": ids["rtb"]},
                       deps={"subnetId": [u["subnet"]], "routeTableId": [u["rtb"]]}))
    for short in endpoints:
        out.append(res("aws:ec2/vpcEndpoint:VpcEndpoint", f"ep-{short}", {
            "vpcId": ids["vpc"], "serviceName": f"com.amazonaws.us-east-1.{short}", "vpcEndpointType": "Interface",
            "privateDnsEnabled": True, "subnetIds": [ids["subnet"]]},
            deps={"vpcId": [u["vpc"]], "subnetIds": [u["subnet"]]}))
    if s3:
        table = ids["rtb"] if associate else ("rtb-main" if known else UNKNOWN)
        out.append(res("aws:ec2/vpcEndpoint:VpcEndpoint", "ep-s3", {
            "vpcId": ids["vpc"], "serviceName": "com.amazonaws.us-east-1.s3", "vpcEndpointType": "Gateway",
            "routeTableIds": [table]}, deps={"vpcId": [u["vpc"]], "routeTableIds": [u["rtb"] if associate
                                                                                     else u["vpc"]]}))
    secret = [{"name": "DB", "valueFrom": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db"}] if secrets else []
    out.append(task_def("td", container(secrets=secret)))
    out.append(res("aws:ecs/service:Service", "svc", {
        "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/td:1" if known else UNKNOWN,
        "enableExecuteCommand": exec_on,
        "networkConfiguration": {"subnets": [ids["subnet"]], "securityGroups": [ids["sg"]], "assignPublicIp": False}},
        deps={"networkConfiguration": [u["subnet"]], "taskDefinition": [u["td"]]}))
    if known:
        for r in out:
            if r["name"] == "td":
                r["id"] = r["outputs"]["id"] = "arn:aws:ecs:us-east-1:123456789012:task-definition/td:1"
    if not deps:
        assert known, "without dependencies only ids can connect the resources"
        for r in out:
            r["propertyDependencies"], r["dependencies"] = {}, []
    return out


MODES = pytest.mark.parametrize("known", [False, True], ids=["ids-unknown", "ids-known"])
IDS_ONLY = pytest.mark.parametrize("deps", [True, False], ids=["with-dependencies", "ids-only"])


class TestPrivateSubnets:
    @MODES
    def test_private_subnet_passes(self, known: bool) -> None:
        assert run("ecs-tasks-in-private-subnets", vpc_stack(known=known)) == []

    @IDS_ONLY
    @pytest.mark.parametrize("route_as", ["resource", "inline"])
    def test_by_id_alone(self, deps: bool, route_as: str) -> None:
        assert run("ecs-tasks-in-private-subnets", vpc_stack(known=True, deps=deps)) == []
        (violation,) = run("ecs-tasks-in-private-subnets", vpc_stack(known=True, deps=deps, public=True,
                                                                     route_as=route_as))
        assert "internet gateway" in violation["message"]

    def test_default_subnet_maps_public_ips(self) -> None:
        vpc = res("aws:ec2/defaultVpc:DefaultVpc", "default")
        subnet = res("aws:ec2/defaultSubnet:DefaultSubnet", "sub", {"availabilityZone": "us-east-1a"},
                     deps={})
        subnet["inputs"]["vpcId"] = subnet["outputs"]["vpcId"] = UNKNOWN
        subnet["propertyDependencies"] = {"vpcId": [vpc["urn"]]}
        service = res("aws:ecs/service:Service", "svc", {"networkConfiguration": {"subnets": [UNKNOWN]}},
                      deps={"networkConfiguration": [subnet["urn"]]})
        violations = run("ecs-tasks-in-private-subnets", [vpc, subnet, service], also=("cannot-verify",))
        assert {(v["policy"], v["level"]) for v in violations} == {("ecs-tasks-in-private-subnets", "mandatory"),
                                                                   ("cannot-verify", "advisory")}
        assert any("maps public IPs" in v["message"] for v in violations)
        assert any("main route table of the default VPC" in v["message"] for v in violations)

    @MODES
    @pytest.mark.parametrize("route_as", ["resource", "inline"])
    def test_route_to_internet_gateway(self, known: bool, route_as: str) -> None:
        (violation,) = run("ecs-tasks-in-private-subnets", vpc_stack(known=known, public=True, route_as=route_as))
        assert violation["level"] == "mandatory" and "internet gateway" in violation["message"]
        assert violation["urn"] == urn("aws:ecs/service:Service", "svc")

    @MODES
    def test_main_route_table_with_igw_route(self, known: bool) -> None:
        (violation,) = run("ecs-tasks-in-private-subnets", vpc_stack(known=known, public=True, associate=False))
        assert "main route table" in violation["message"]

    @MODES
    def test_subnet_mapping_public_ips(self, known: bool) -> None:
        stack = vpc_stack(known=known)
        subnet = next(r for r in stack if r["name"] == "subnet")
        subnet["inputs"]["mapPublicIpOnLaunch"] = subnet["outputs"]["mapPublicIpOnLaunch"] = True
        (violation,) = run("ecs-tasks-in-private-subnets", stack)
        assert "maps public IPs" in violation["message"]

    def test_subnet_outside_the_stack_cannot_be_verified(self) -> None:
        service = res("aws:ecs/service:Service", "svc", {"networkConfiguration": {"subnets": ["subnet-0abc"]}})
        assert run("ecs-tasks-in-private-subnets", [service]) == []
        (violation,) = run("cannot-verify", [service])
        assert violation["level"] == "advisory"
        assert violation["message"].startswith("ecs-tasks-in-private-subnets, vpc-endpoints-for-private-tasks cannot "
                                               "verify subnet subnet-0abc of svc (not in this stack)")
        assert "during preview" not in violation["message"]


class TestEndpoints:
    @MODES
    def test_complete_private_vpc_passes(self, known: bool) -> None:
        assert run("vpc-endpoints-for-private-tasks", vpc_stack(known=known)) == []

    @IDS_ONLY
    def test_by_id_alone(self, deps: bool) -> None:
        assert run("vpc-endpoints-for-private-tasks", vpc_stack(known=True, deps=deps)) == []
        (violation,) = run("vpc-endpoints-for-private-tasks", vpc_stack(known=True, deps=deps, endpoints=("ecr.api",)))
        assert "ecr.dkr, logs" in violation["message"]

    def test_s3_endpoint_without_type_is_a_gateway(self) -> None:
        stack = vpc_stack(known=True)
        for r in stack:
            if r["name"] == "ep-s3":
                del r["inputs"]["vpcEndpointType"]
                del r["outputs"]["vpcEndpointType"]
        assert run("vpc-endpoints-for-private-tasks", stack) == []

    def test_vpc_outside_the_stack_cannot_be_verified(self) -> None:
        stack = [r for r in vpc_stack(known=True, deps=False) if r["type"] != "aws:ec2/vpc:Vpc"]
        assert run("vpc-endpoints-for-private-tasks", stack) == []
        messages = [v["message"] for v in run("cannot-verify", stack)]
        assert any(m.startswith("vpc-endpoints-for-private-tasks cannot verify the endpoints of VPC vpc-00 (not in "
                                "this stack)") for m in messages), messages

    @MODES
    def test_missing_logs_endpoint(self, known: bool) -> None:
        (violation,) = run("vpc-endpoints-for-private-tasks", vpc_stack(known=known, endpoints=("ecr.api", "ecr.dkr")))
        assert violation["level"] == "mandatory" and "logs" in violation["message"]

    @MODES
    def test_missing_s3_gateway(self, known: bool) -> None:
        (violation,) = run("vpc-endpoints-for-private-tasks", vpc_stack(known=known, s3=False))
        assert "S3 gateway endpoint" in violation["message"]

    @MODES
    def test_s3_gateway_on_the_main_table(self, known: bool) -> None:
        assert run("vpc-endpoints-for-private-tasks", vpc_stack(known=known, associate=False)) == []

    @MODES
    def test_secrets_need_secretsmanager(self, known: bool) -> None:
        (violation,) = run("vpc-endpoints-for-private-tasks", vpc_stack(known=known, secrets=True))
        assert "secretsmanager" in violation["message"]
        stack = vpc_stack(known=known, secrets=True, endpoints=("ecr.api", "ecr.dkr", "logs", "secretsmanager"))
        assert run("vpc-endpoints-for-private-tasks", stack) == []

    @MODES
    def test_exec_needs_ssmmessages(self, known: bool) -> None:
        (violation,) = run("vpc-endpoints-for-private-tasks", vpc_stack(known=known, exec_on=True))
        assert "ssmmessages" in violation["message"]

    @MODES
    def test_nat_route_needs_no_endpoints(self, known: bool) -> None:
        assert run("vpc-endpoints-for-private-tasks", vpc_stack(known=known, nat=True, endpoints=(), s3=False)) == []

    def test_private_dns_required(self) -> None:
        stack = vpc_stack(known=True)
        for r in stack:
            if r["name"] == "ep-logs":
                r["outputs"]["privateDnsEnabled"] = False
        (violation,) = run("vpc-endpoints-for-private-tasks", stack)
        assert "logs" in violation["message"]


class TestSecurityGroups:
    def lb(self, internal: bool, group_urn: str) -> dict[str, Any]:
        return res("aws:lb/loadBalancer:LoadBalancer", "alb", {"internal": internal, "securityGroups": [UNKNOWN]},
                   deps={"securityGroups": [group_urn]})

    @pytest.mark.parametrize("form", ["inline", "rule", "vpc-rule"])
    def test_world_open_ingress(self, form: str) -> None:
        ssh = [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]
        group = res("aws:ec2/securityGroup:SecurityGroup", "sg", {"ingress": ssh if form == "inline" else []})
        rules = []
        if form == "rule":
            rules = [res("aws:ec2/securityGroupRule:SecurityGroupRule", "r", {
                "type": "ingress", "securityGroupId": UNKNOWN, "fromPort": 22, "toPort": 22, "protocol": "tcp",
                "cidrBlocks": ["0.0.0.0/0"]}, deps={"securityGroupId": [group["urn"]]})]
        if form == "vpc-rule":
            rules = [res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "r", {
                "securityGroupId": UNKNOWN, "fromPort": 22, "toPort": 22, "ipProtocol": "tcp", "cidrIpv6": "::/0"},
                deps={"securityGroupId": [group["urn"]]})]
        (violation,) = run("security-group-no-public-ingress", [group, *rules])
        assert "port 22" in violation["message"] and violation["level"] == "mandatory"

    def test_https_on_internet_facing_lb_allowed(self) -> None:
        group = res("aws:ec2/securityGroup:SecurityGroup", "sg")
        rule = res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "r", {
            "securityGroupId": UNKNOWN, "fromPort": 443, "toPort": 443, "ipProtocol": "tcp",
            "cidrIpv4": "0.0.0.0/0"}, deps={"securityGroupId": [group["urn"]]})
        assert run("security-group-no-public-ingress", [group, rule, self.lb(False, group["urn"])]) == []
        (violation,) = run("security-group-no-public-ingress", [group, rule, self.lb(True, group["urn"])])
        assert "not on a group attached only to internet-facing load balancers" in violation["message"]
        assert run("security-group-no-public-ingress", [group, rule, self.lb(False, group["urn"])],
                   {"security-group-no-public-ingress": {"allowedPorts": [8443]}}) != []

    @pytest.mark.parametrize("cidr", ["0.0.0.0/1", "128.0.0.0/1"])
    def test_halves_of_the_internet_are_the_internet(self, cidr: str) -> None:
        group = res("aws:ec2/securityGroup:SecurityGroup", "sg", {"ingress": [
            {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": [cidr]}]})
        assert len(run("security-group-no-public-ingress", [group])) == 1

    def test_all_protocols_means_all_ports(self) -> None:
        group = res("aws:ec2/securityGroup:SecurityGroup", "sg", {"ingress": [
            {"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]})
        (violation,) = run("security-group-no-public-ingress", [group])
        assert "opens all ports to 0.0.0.0/0" in violation["message"]

    def test_private_cidr_passes(self) -> None:
        group = res("aws:ec2/securityGroup:SecurityGroup", "sg", {"ingress": [
            {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["10.0.0.0/16"]}]})
        assert run("security-group-no-public-ingress", [group]) == []


class TestOtherStackPolicies:
    def test_log_group_managed(self) -> None:
        group = res("aws:cloudwatch/logGroup:LogGroup", "g", {"name": "/ecs/app"})
        assert run("ecs-log-group-managed", [group, task_def()]) == []
        (violation,) = run("ecs-log-group-managed", [task_def()])
        assert "'/ecs/app', which is not a LogGroup of this stack" in violation["message"]
        created = container(logConfiguration={"logDriver": "awslogs", "options": {
            "awslogs-group": "/ecs/app", "awslogs-create-group": "true"}})
        (violation,) = run("ecs-log-group-managed", [group, task_def("td", created)])
        assert "awslogs-create-group" in violation["message"]

    @pytest.mark.parametrize("known", [False, True])
    def test_lifecycle_policy(self, known: bool) -> None:
        repo = res("aws:ecr/repository:Repository", "repo", {"name": "app"}, rid="app" if known else UNKNOWN)
        policy = res("aws:ecr/lifecyclePolicy:LifecyclePolicy", "lc", {"repository": "app" if known else UNKNOWN},
                     deps={} if known else {"repository": [repo["urn"]]})
        assert run("ecr-lifecycle-policy", [repo, policy]) == []
        assert [v["urn"] for v in run("ecr-lifecycle-policy", [repo])] == [repo["urn"]]

    @pytest.mark.parametrize("token", ["aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"])
    def test_buckets(self, token: str) -> None:
        bucket = res(token, "b", {"bucket": "data"}, rid=UNKNOWN)
        flags = {f: True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")}
        block = res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "pab", {"bucket": UNKNOWN, **flags},
                    deps={"bucket": [bucket["urn"]]})
        deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::data/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
        policy = res("aws:s3/bucketPolicy:BucketPolicy", "bp", {"bucket": "data", "policy": json.dumps(
            {"Statement": [deny]})})
        assert run("s3-block-public-access", [bucket, block]) == []
        assert run("s3-bucket-public-access-block", [bucket, block]) == []
        # No block resource: AWS's default blocks public access, so only the advisory asks to declare it.
        assert run("s3-block-public-access", [bucket]) == []
        assert [v["level"] for v in run("s3-bucket-public-access-block", [bucket])] == ["advisory"]
        weak = res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "pab", {**flags, "bucket": "data",
                                                                                     "ignorePublicAcls": False})
        (violation,) = run("s3-block-public-access", [bucket, weak])
        assert violation["level"] == "mandatory" and "turns off ignorePublicAcls" in violation["message"]
        assert run("s3-tls-only", [bucket, policy]) == []
        (violation,) = run("s3-tls-only", [bucket])
        assert "without TLS" in violation["message"] and violation["level"] == "mandatory"
        unknown = res("aws:s3/bucketPolicy:BucketPolicy", "bp", {"bucket": "data", "policy": UNKNOWN})
        assert [v["level"] for v in run("s3-tls-only", [bucket, unknown])] == ["advisory"]
        for weak in ({**deny, "Principal": {"AWS": "arn:aws:iam::123456789012:role/x"}},
                     {**deny, "Resource": ["arn:aws:s3:::other-bucket/*"]}, {**deny, "Action": "s3:GetObject"},
                     {**deny, "Resource": ["arn:aws:s3:::data"]}):
            other = res("aws:s3/bucketPolicy:BucketPolicy", "bp", {"bucket": "data", "policy": json.dumps(
                {"Statement": [weak]})})
            assert len(run("s3-tls-only", [bucket, other])) == 1, weak
        if_exists = {**deny, "Condition": {"BoolIfExists": {"aws:SecureTransport": "false"}}}
        lenient = res("aws:s3/bucketPolicy:BucketPolicy", "bp", {"bucket": "data", "policy": json.dumps(
            {"Statement": [if_exists]})})
        assert run("s3-tls-only", [bucket, lenient]) == []

    def test_roles_differ(self) -> None:
        assert run("ecs-execution-role-differs-from-task-role", [task_def()]) == []
        same = task_def("td", taskRoleArn=ROLE_ARN)
        assert len(run("ecs-execution-role-differs-from-task-role", [same])) == 1

    def test_flow_logs_and_default_group(self) -> None:
        vpc = res("aws:ec2/vpc:Vpc", "vpc")
        flow = res("aws:ec2/flowLog:FlowLog", "fl", {"vpcId": UNKNOWN}, deps={"vpcId": [vpc["urn"]]})
        closed = res("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "d", {"vpcId": UNKNOWN},
                     deps={"vpcId": [vpc["urn"]]})
        opened = res("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "d", {"vpcId": UNKNOWN, "ingress": [
            {"protocol": "-1", "self": True}]}, deps={"vpcId": [vpc["urn"]]})
        assert run("vpc-flow-logs", [vpc, flow]) == [] and len(run("vpc-flow-logs", [vpc])) == 1
        assert run("default-security-group-closed", [vpc, closed]) == []
        assert len(run("default-security-group-closed", [vpc])) == 1
        assert len(run("default-security-group-closed", [vpc, opened])) == 1


class TestShippedStacks:
    @pytest.mark.parametrize("mode", ["preview", "up"])
    def test_dev_has_no_violations(self, mode: str, cli: Any) -> None:
        result = cli("--stack", "dev", "--mode", mode, "--json")
        assert result.returncode == 0 and result.report["violations"] == []
