"""Each policy with a compliant and a violating resource, unknown values, and stack policies with ids known/unknown.

Policies run through tools.preview's evaluator, i.e. the SDK's own analyzer, so enforcement levels,
config and the unknown-value handling are those of `pulumi preview --policy-pack`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from policy.policies import POLICIES
from tests.support import ROOT, UNKNOWN
from tools.preview.policies import PolicyConfigError, configure_request, evaluate

BY_NAME = {p.name: p for p in POLICIES}
MANDATORY = {"ecs-service-no-public-ip", "ecs-tasks-in-private-subnets", "vpc-endpoints-for-private-tasks",
             "ecs-container-logging", "ecs-log-group-managed", "log-group-retention", "ecs-no-privileged",
             "ecs-no-secrets-in-environment", "ecr-image-scanning", "ecr-immutable-tags", "ecr-lifecycle-policy",
             "s3-block-public-access", "s3-tls-only", "security-group-no-public-ingress", "iam-no-wildcard-actions",
             "log-group-kms-key-policy", "sqs-encrypted", "sqs-tls-only"}
ADVISORY = {"ecs-readonly-root-filesystem", "ecs-non-root-user", "ecs-execution-role-differs-from-task-role",
            "ecs-fargate-platform-latest", "ecs-cluster-container-insights", "ecs-service-circuit-breaker",
            "vpc-flow-logs", "default-security-group-closed", "ecr-kms-encryption", "log-group-kms",
            "alb-drop-invalid-headers", "alb-https-only", "alb-access-logs", "images-from-private-ecr", "required-tags",
            "sfn-logging"}
ACCOUNT = "123456789012"
IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/app:1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/exec"
TASK_ROLE = f"arn:aws:iam::{ACCOUNT}:role/task"


def res(token: str, name: str, inputs: dict[str, Any] | None = None, outputs: dict[str, Any] | None = None,
        deps: dict[str, list[str]] | None = None, rid: str = UNKNOWN) -> dict[str, Any]:
    """A resource as the preview JSON has it (outputs default to the inputs, as in a first preview)."""
    inputs = inputs or {}
    return {"urn": urn(token, name), "type": token, "name": name, "parent": None, "custom": True, "inputs": inputs,
            "id": rid, "outputs": dict(outputs if outputs is not None else inputs),
            "propertyDependencies": deps or {}, "dependencies": sorted({u for v in (deps or {}).values() for u in v}),
            "protect": False, "retainOnDelete": False}


def urn(token: str, name: str) -> str:
    return f"urn:pulumi:t::p::{token}::{name}"


def run(policy: str, resources: list[dict[str, Any]], config: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Violations of one policy on these resources."""
    return evaluate({"resources": resources}, config, [BY_NAME[policy]])


def container(**extra: Any) -> dict[str, Any]:
    base = {"name": "app", "image": IMAGE, "essential": True, "readonlyRootFilesystem": True, "user": "1000",
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/app",
                                                                     "awslogs-region": "us-east-1",
                                                                     "awslogs-stream-prefix": "app"}}}
    return {**base, **extra}


def task_def(name: str = "td", *containers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return res("aws:ecs/taskDefinition:TaskDefinition", name, {
        "family": name, "containerDefinitions": json.dumps(list(containers) or [container()]),
        "executionRoleArn": ROLE, "taskRoleArn": TASK_ROLE, **extra})


class TestPackShape:
    def test_every_documented_policy_with_its_level(self) -> None:
        levels = {p.name: p.enforcement_level.value for p in POLICIES}
        assert set(levels) == MANDATORY | ADVISORY and len(POLICIES) == 34
        assert {n for n, lv in levels.items() if lv == "mandatory"} == MANDATORY

    def test_config_schema_keys(self) -> None:
        schemas = {p.name: set(p.config_schema.properties) for p in POLICIES if p.config_schema}
        assert schemas == {"ecs-container-logging": {"allowedDrivers"}, "log-group-retention": {"minDays", "maxDays"},
                           "security-group-no-public-ingress": {"allowedPorts"},
                           "iam-no-wildcard-actions": {"allowedActions"},
                           "images-from-private-ecr": {"allowedRegistries"}, "required-tags": {"requiredTags"}}

    def test_config_errors(self) -> None:
        with pytest.raises(PolicyConfigError, match="unknown policies: no-such"):
            configure_request({"no-such": "advisory"})
        with pytest.raises(PolicyConfigError, match="unknown properties maxDayz"):
            configure_request({"log-group-retention": {"maxDayz": 3}})
        with pytest.raises(PolicyConfigError, match="enforcementLevel 'strict'"):
            configure_request({"log-group-retention": "strict"})

    def test_enforcement_level_and_all_from_config(self) -> None:
        group = res("aws:cloudwatch/logGroup:LogGroup", "g", {"name": "g"})
        assert [v["level"] for v in run("log-group-retention", [group])] == ["mandatory"]
        assert [v["level"] for v in run("log-group-retention", [group], {"log-group-retention": "advisory"})] == [
            "advisory"]
        assert run("log-group-retention", [group], {"all": "disabled"}) == []

    def test_importing_never_starts_a_server(self) -> None:
        code = "import policy.policies, sys; print(len(policy.policies.POLICIES)); sys.exit(0)"
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout.strip() == str(len(POLICIES))

    def test_main_serves_the_pack_on_a_port(self) -> None:
        proc = subprocess.Popen([sys.executable, "__main__.py"], cwd=ROOT / "policy", stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT / "policy")})
        try:
            line = proc.stdout.readline().decode().strip()  # type: ignore[union-attr]
            assert line.isdigit() and int(line) > 0, line
            assert proc.poll() is None
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


class TestResourcePolicies:
    """A compliant and a violating resource for each resource policy."""

    @pytest.mark.parametrize("policy,good,bad", [
        ("ecs-service-no-public-ip",
         res("aws:ecs/service:Service", "s", {"networkConfiguration": {"assignPublicIp": False, "subnets": []}}),
         res("aws:ecs/service:Service", "s", {"networkConfiguration": {"assignPublicIp": True, "subnets": []}})),
        ("ecs-service-no-public-ip",
         res("aws:scheduler/schedule:Schedule", "s", {"target": {"ecsParameters": {"networkConfiguration": {
             "assignPublicIp": False}}}}),
         res("aws:scheduler/schedule:Schedule", "s", {"target": {"ecsParameters": {"networkConfiguration": {
             "assignPublicIp": True}}}})),
        ("ecs-service-no-public-ip",
         res("aws:cloudwatch/eventTarget:EventTarget", "t", {"ecsTarget": {"networkConfiguration": {}}}),
         res("aws:cloudwatch/eventTarget:EventTarget", "t", {"ecsTarget": {"networkConfiguration": {
             "assignPublicIp": True}}})),
        ("ecs-container-logging", task_def(), task_def("td", container(logConfiguration=None))),
        ("ecs-container-logging", task_def(),
         task_def("td", container(logConfiguration={"logDriver": "json-file"}))),
        ("ecs-no-privileged", task_def(), task_def("td", container(privileged=True))),
        ("ecs-no-secrets-in-environment", task_def("td", container(environment=[{"name": "LOG_LEVEL",
                                                                                  "value": "info"}])),
         task_def("td", container(environment=[{"name": "DB_PASSWORD", "value": "hunter2"}]))),
        ("ecs-no-secrets-in-environment", task_def(),
         task_def("td", container(environment=[{"name": "X", "value": "AKIAABCDEFGHIJKLMNOP"}]))),
        ("ecs-readonly-root-filesystem", task_def(), task_def("td", container(readonlyRootFilesystem=False))),
        ("ecs-non-root-user", task_def(), task_def("td", container(user="root"))),
        ("images-from-private-ecr", task_def(), task_def("td", container(image="docker.io/library/nginx:1"))),
        ("images-from-private-ecr", task_def(),
         task_def("td", container(image="210987654321.dkr.ecr.us-east-1.amazonaws.com/x:1"))),
        ("ecs-fargate-platform-latest", res("aws:ecs/service:Service", "s", {"platformVersion": "LATEST"}),
         res("aws:ecs/service:Service", "s", {"platformVersion": "1.3.0"})),
        ("ecs-cluster-container-insights",
         res("aws:ecs/cluster:Cluster", "c", {"settings": [{"name": "containerInsights", "value": "enabled"}]}),
         res("aws:ecs/cluster:Cluster", "c", {})),
        ("ecs-service-circuit-breaker",
         res("aws:ecs/service:Service", "s", {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}),
         res("aws:ecs/service:Service", "s", {"deploymentCircuitBreaker": {"enable": True, "rollback": False}})),
        ("log-group-retention", res("aws:cloudwatch/logGroup:LogGroup", "g", {"retentionInDays": 30}),
         res("aws:cloudwatch/logGroup:LogGroup", "g", {})),
        ("log-group-kms", res("aws:cloudwatch/logGroup:LogGroup", "g", {"kmsKeyId": "arn:aws:kms:x"}),
         res("aws:cloudwatch/logGroup:LogGroup", "g", {})),
        ("ecr-image-scanning", res("aws:ecr/repository:Repository", "r", {"imageScanningConfiguration": {
            "scanOnPush": True}}), res("aws:ecr/repository:Repository", "r", {})),
        ("ecr-immutable-tags", res("aws:ecr/repository:Repository", "r", {"imageTagMutability": "IMMUTABLE"}),
         res("aws:ecr/repository:Repository", "r", {"imageTagMutability": "MUTABLE"})),
        ("ecr-kms-encryption", res("aws:ecr/repository:Repository", "r", {"encryptionConfigurations": [
            {"encryptionType": "KMS"}]}), res("aws:ecr/repository:Repository", "r", {})),
        ("iam-no-wildcard-actions",
         res("aws:iam/rolePolicy:RolePolicy", "p", {"policy": json.dumps({"Statement": [
             {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
             {"Effect": "Deny", "Action": "*", "Resource": "*"}]})}),
         res("aws:iam/rolePolicy:RolePolicy", "p", {"policy": json.dumps({"Statement": [
             {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})})),
        ("iam-no-wildcard-actions",
         res("aws:iam/role:Role", "r", {"inlinePolicies": [{"name": "ok", "policy": json.dumps({"Statement": [
             {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]})}]}),
         res("aws:iam/role:Role", "r", {"inlinePolicies": [{"name": "all", "policy": json.dumps({"Statement": [
             {"Effect": "Allow", "Action": "*", "Resource": "*"}]})}]})),
        ("iam-no-wildcard-actions",
         res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", {
             "policyArn": "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"}),
         res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", {
             "policyArn": "arn:aws:iam::aws:policy/AmazonS3FullAccess"})),
        ("iam-no-wildcard-actions", res("aws:iam/role:Role", "r", {"managedPolicyArns": []}),
         res("aws:iam/role:Role", "r", {"managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]})),
        ("ecs-no-secrets-in-environment",
         task_def("td", container(environment=[{"name": "DB_SECRET_ARN", "value": "arn:aws:secretsmanager:x"}])),
         task_def("td", container(environment=[{"name": "API_TOKEN", "value": "abc"}]))),
        ("alb-drop-invalid-headers", res("aws:lb/loadBalancer:LoadBalancer", "lb", {"dropInvalidHeaderFields": True}),
         res("aws:alb/loadBalancer:LoadBalancer", "lb", {})),
        ("alb-https-only", res("aws:lb/listener:Listener", "l", {"protocol": "HTTP", "defaultActions": [
            {"type": "redirect", "redirect": {"protocol": "HTTPS"}}]}),
         res("aws:alb/listener:Listener", "l", {"protocol": "HTTP", "defaultActions": [{"type": "forward"}]})),
        ("alb-access-logs", res("aws:lb/loadBalancer:LoadBalancer", "lb", {"accessLogs": {"enabled": True}}),
         res("aws:lb/loadBalancer:LoadBalancer", "lb", {"accessLogs": {"enabled": False}})),
        ("required-tags", res("aws:ec2/vpc:Vpc", "v", {"tags": {"project": "p", "stack": "s"}}),
         res("aws:ec2/vpc:Vpc", "v", {"tags": {"project": "p"}})),
    ])
    def test_compliant_and_violating(self, policy: str, good: dict[str, Any], bad: dict[str, Any]) -> None:
        assert run(policy, [good]) == []
        (violation,) = run(policy, [bad])
        assert violation["policy"] == policy and violation["urn"] == bad["urn"]
        assert violation["level"] == BY_NAME[policy].enforcement_level.value
        assert bad["name"] in violation["message"]

    def test_unknown_value_is_the_sdk_advisory(self) -> None:
        service = res("aws:ecs/service:Service", "s", {"networkConfiguration": {"assignPublicIp": UNKNOWN}})
        (violation,) = run("ecs-service-no-public-ip", [service])
        assert violation["level"] == "advisory"
        assert "can't run policy 'ecs-service-no-public-ip'" in violation["message"]
        assert "can't be known during preview" in violation["message"]
        unknown_td = res("aws:ecs/taskDefinition:TaskDefinition", "td", {"containerDefinitions": UNKNOWN})
        assert [v["level"] for v in run("ecs-container-logging", [unknown_td])] == ["advisory"]

    def test_config_changes_the_verdict(self) -> None:
        group = res("aws:cloudwatch/logGroup:LogGroup", "g", {"retentionInDays": 3653})
        assert run("log-group-retention", [group]) == []
        (violation,) = run("log-group-retention", [group], {"log-group-retention": {"maxDays": 365}})
        assert "allowed: 1 to 365 days" in violation["message"]
        fluent = task_def("td", container(logConfiguration={"logDriver": "fluentd"}))
        assert run("ecs-container-logging", [fluent], {"ecs-container-logging": {"allowedDrivers": ["fluentd"]}}) == []
        wild = res("aws:iam/rolePolicy:RolePolicy", "p", {"policy": json.dumps({"Statement": [
            {"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]})})
        assert run("iam-no-wildcard-actions", [wild], {"iam-no-wildcard-actions": {"allowedActions": ["logs:*"]}}) == []
        vpc = res("aws:ec2/vpc:Vpc", "v", {"tags": {"team": "x"}})
        assert run("required-tags", [vpc], {"required-tags": {"requiredTags": ["team"]}}) == []
        hub = task_def("td", container(image="ghcr.io/org/app:1"))
        assert run("images-from-private-ecr", [hub], {"images-from-private-ecr": {"allowedRegistries": ["ghcr.io"]}}) \
            == []


# --- stack policies: a small VPC in both modes -----------------------------------------------------

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
        violations = run("ecs-tasks-in-private-subnets", [vpc, subnet, service])
        assert {v["level"] for v in violations} == {"mandatory", "advisory"}
        assert any("maps public IPs" in v["message"] for v in violations)

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
        (violation,) = run("ecs-tasks-in-private-subnets", [service])
        assert violation["level"] == "advisory" and "cannot verify subnet subnet-0abc" in violation["message"]


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
        (violation,) = run("vpc-endpoints-for-private-tasks", stack)
        assert violation["level"] == "advisory"
        assert "endpoints of VPC vpc-00 (not in this stack)" in violation["message"]

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
        assert "not attached to an internet-facing load balancer" in violation["message"]
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
        assert len(run("s3-block-public-access", [bucket])) == 1
        weak = res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "pab", {**flags, "bucket": "data",
                                                                                     "ignorePublicAcls": False})
        assert len(run("s3-block-public-access", [bucket, weak])) == 1
        assert run("s3-tls-only", [bucket, policy]) == []
        (violation,) = run("s3-tls-only", [bucket])
        assert "without TLS" in violation["message"] and violation["level"] == "mandatory"
        unknown = res("aws:s3/bucketPolicy:BucketPolicy", "bp", {"bucket": "data", "policy": UNKNOWN})
        assert [v["level"] for v in run("s3-tls-only", [bucket, unknown])] == ["advisory"]
        for weak in ({**deny, "Principal": {"AWS": "arn:aws:iam::123456789012:role/x"}},
                     {**deny, "Resource": ["arn:aws:s3:::other-bucket/*"]}, {**deny, "Action": "s3:GetObject"}):
            other = res("aws:s3/bucketPolicy:BucketPolicy", "bp", {"bucket": "data", "policy": json.dumps(
                {"Statement": [weak]})})
            assert len(run("s3-tls-only", [bucket, other])) == 1, weak
        if_exists = {**deny, "Condition": {"BoolIfExists": {"aws:SecureTransport": "false"}}}
        lenient = res("aws:s3/bucketPolicy:BucketPolicy", "bp", {"bucket": "data", "policy": json.dumps(
            {"Statement": [if_exists]})})
        assert run("s3-tls-only", [bucket, lenient]) == []

    def test_roles_differ(self) -> None:
        assert run("ecs-execution-role-differs-from-task-role", [task_def()]) == []
        same = task_def("td", taskRoleArn=ROLE)
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
