"""Each policy with a compliant and a violating resource, unknown values, and the pack's shape.

Policies run through tools.preview's evaluator, i.e. the SDK's own analyzer, so enforcement levels,
config and the unknown-value handling are those of `pulumi preview --policy-pack`. Stack policies on
a small VPC are in test_policies_stack.py, the checks the pack gained from issue 20 in
test_policies_coverage.py.
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
from tests.support import ROOT, UNKNOWN, container, res, run_policy, task_def
from tools.preview.policies import PolicyConfigError, configure_request

BY_NAME = {p.name: p for p in POLICIES}
MANDATORY = {"ecs-service-no-public-ip", "ecs-tasks-in-private-subnets", "vpc-endpoints-for-private-tasks",
             "security-group-no-public-ingress", "ecs-container-logging", "ecs-no-privileged",
             "ecs-no-secrets-in-environment", "ecs-log-group-managed", "log-group-retention", "ecr-image-scanning",
             "ecr-immutable-tags", "ecr-lifecycle-policy", "s3-block-public-access", "s3-acls-disabled", "s3-tls-only",
             "iam-no-wildcard-actions", "iam-pass-role-scoped", "resource-policy-not-public", "sns-encrypted",
             "sns-tls-only", "kms-key-rotation", "alb-public-smuggling-protection", "alb-tls-policy",
             "log-group-kms-key-policy", "efs-encrypted", "efs-transit-encryption", "sqs-encrypted", "sqs-tls-only"}
ADVISORY = {
    "vpc-flow-logs", "default-security-group-closed", "ecs-task-egress-restricted", "security-group-descriptions",
    "ecs-readonly-root-filesystem", "ecs-non-root-user", "images-from-private-ecr", "ecs-fargate-platform-latest",
    "ecs-cluster-container-insights", "ecs-service-circuit-breaker", "ecs-execution-role-differs-from-task-role",
    "log-group-retention-minimum", "log-group-kms", "ecs-exec-logging", "ecr-kms-encryption",
    "s3-bucket-public-access-block", "s3-abort-incomplete-uploads", "s3-access-logging", "alb-drop-invalid-headers",
    "alb-desync-mitigation", "alb-https-only", "alb-internal-https", "alb-access-logs", "alb-deletion-protection",
    "required-tags", "sfn-logging", "cannot-verify"}
run = run_policy


class TestPackShape:
    def test_every_documented_policy_with_its_level(self) -> None:
        levels = {p.name: p.enforcement_level.value for p in POLICIES}
        assert set(levels) == MANDATORY | ADVISORY and len(POLICIES) == len(MANDATORY) + len(ADVISORY) == 55
        assert {n for n, lv in levels.items() if lv == "mandatory"} == MANDATORY

    def test_config_schema_keys(self) -> None:
        schemas = {p.name: set(p.config_schema.properties) for p in POLICIES if p.config_schema}
        assert schemas == {"ecs-container-logging": {"allowedDrivers"}, "log-group-retention": {"minDays", "maxDays"},
                           "log-group-retention-minimum": {"minDays"},
                           "security-group-no-public-ingress": {"allowedPorts"},
                           "iam-no-wildcard-actions": {"allowedActions"},
                           "ecr-immutable-tags": {"allowMutablePullThroughCache"},
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
        ("alb-drop-invalid-headers", res("aws:lb/loadBalancer:LoadBalancer", "lb", {"dropInvalidHeaderFields": True,
                                                                                    "internal": True}),
         res("aws:alb/loadBalancer:LoadBalancer", "lb", {"internal": True})),
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

    def test_unknown_value_is_the_sdk_advisory_naming_when_it_is_checked(self) -> None:
        service = res("aws:ecs/service:Service", "s", {"networkConfiguration": {"assignPublicIp": UNKNOWN}})
        (violation,) = run("ecs-service-no-public-ip", [service])
        assert violation["level"] == "advisory"
        assert "can't run policy 'ecs-service-no-public-ip'" in violation["message"]
        assert violation["message"].endswith("during preview: unknown at preview: whether s gives tasks a public IP; "
                                             "ecs-service-no-public-ip checks it at `pulumi up`")
        unknown_td = res("aws:ecs/taskDefinition:TaskDefinition", "td", {"containerDefinitions": UNKNOWN})
        (violation,) = run("ecs-container-logging", [unknown_td])
        assert violation["level"] == "advisory"
        assert "can't be known during preview; ecs-container-logging checks it at `pulumi up`" in violation["message"]

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




class TestManagedPolicySnapshot:
    """policy/data/aws_managed_policies.json and the tool that refreshes it."""

    def test_snapshot_is_dated_sourced_and_judged_by_content(self) -> None:
        from policy.policies.managed import grant, snapshot

        data = snapshot()
        assert data["taken"] and "MAMIP" in data["source"] and "tools.managed_policies" in data["refresh"]
        assert len(data["policies"]) > 1000
        assert grant("AWSGlueServiceRole").broad == ("glue:*",)  # type: ignore[union-attr]
        assert grant("AmazonECSTaskExecutionRolePolicy").broad == ()  # type: ignore[union-attr]
        assert grant("AmazonEC2ContainerServiceEventsRole").pass_role_on_all  # type: ignore[union-attr]

    def test_refresh_from_an_account(self, tmp_path: Any) -> None:
        import boto3
        from botocore.stub import Stubber

        from tools.managed_policies import from_account, snapshot, write

        iam = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
        documents = {"Broad": {"Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "s3:Put*"], "Resource": "*"}]},
                     "Narrow": {"Statement": {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}}}
        with Stubber(iam) as stub:
            for i, name in enumerate(documents):
                page = {"Policies": [{"PolicyName": name, "Arn": f"arn:aws:iam::aws:policy/{name}",
                                      "DefaultVersionId": "v3"}], "IsTruncated": i == 0}
                if i == 0:
                    page["Marker"] = "next"
                stub.add_response("list_policies", page, {"Scope": "AWS", **({"Marker": "next"} if i else {})})
                stub.add_response("get_policy_version", {"PolicyVersion": {
                    "Document": json.dumps(documents[name]), "VersionId": "v3"}},
                    {"PolicyArn": f"arn:aws:iam::aws:policy/{name}", "VersionId": "v3"})
            data = snapshot(from_account(iam), "2026-01-01", "test")
        assert data["policies"] == {"Broad": {"version": "v3", "wildcards": ["s3:Put*"]}, "Narrow": {"version": "v3"}}
        write(data, tmp_path / "out.json")
        assert json.loads((tmp_path / "out.json").read_text()) == data

    def test_refresh_from_a_directory(self, tmp_path: Any) -> None:
        from tools.managed_policies import main

        (tmp_path / "in").mkdir()
        (tmp_path / "in" / "PassAny").write_text(json.dumps({"PolicyVersion": {"VersionId": "v1", "Document": {
            "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
                          {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}}}))
        (tmp_path / "in" / "Empty").write_text("")
        out = tmp_path / "out.json"
        assert main(["--from-dir", str(tmp_path / "in"), "--taken", "2026-01-01", "--output", str(out)]) == 0
        assert json.loads(out.read_text())["policies"] == {"PassAny": {"version": "v1", "notAction": True,
                                                                       "passRoleOnAll": True}}


def test_the_pack_and_the_program_need_the_same_endpoints() -> None:
    from components.network import BASE_INTERFACE_ENDPOINTS
    from policy.policies.network import BASE_ENDPOINTS

    assert BASE_ENDPOINTS == BASE_INTERFACE_ENDPOINTS


def test_the_pack_imports_nothing_of_the_program() -> None:
    code = ("import sys, policies; bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('components', 'tools', 'pulumi_aws', 'boto3')); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "policy", capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT / "policy")})
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
