"""Secrets reach the policies as CrossGuard hands them (readable), the report still prints `[secret]`;
a policy that raises is one violation naming it and the resource, never a lost report.

The program follows the shape of pulumi/examples `aws-py-wordpress-fargate-rds` (a container
definition built from a secret password, so the whole JSON is secret). Before, the pack parsed
`[secret]` as JSON and the run ended with "the report is not valid JSON".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from tests.support import preview
from tests.test_preview import res, write_project
from tools.preview import policies

SECRET_CONTAINERS_SHAPE = """
import json
import pulumi
import pulumi_aws as aws

password = pulumi.Output.secret("hunter2")
group = aws.cloudwatch.LogGroup("app", name="/ecs/app", retention_in_days=7)
containers = password.apply(lambda p: json.dumps([{
    "name": "app", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1", "essential": True,
    "privileged": True, "environment": [{"name": "DB_PASSWORD", "value": p}],
    "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/app",
                                                             "awslogs-region": "us-east-1",
                                                             "awslogs-stream-prefix": "app"}}}]))
aws.ecs.TaskDefinition("app", family="app", cpu="256", memory="512", network_mode="awsvpc",
                       requires_compatibilities=["FARGATE"], container_definitions=containers)
pulumi.export("password", password)
"""


@pytest.mark.parametrize("mode", ["preview", "up"])
def test_policies_read_secret_values(tmp_path: Path, mode: str) -> None:
    directory = write_project(tmp_path / "p", SECRET_CONTAINERS_SHAPE, {"aws:region": "us-east-1"})
    result = preview("--project-dir", directory, "--stack", "t", "--json", "--mode", mode)
    assert result.returncode == 1, result.stderr
    report = result.report
    found = {(v["policy"], v["level"]) for v in report["violations"]}
    assert {("ecs-no-privileged", "mandatory"), ("ecs-no-secrets-in-environment", "mandatory")} <= found
    td = res(report, "aws:ecs/taskDefinition:TaskDefinition")
    assert td["inputs"]["containerDefinitions"] == "[secret]" and report["outputs"]["password"] == "[secret]"
    assert "hunter2" not in result.stdout and set(td) == {"urn", "type", "name", "parent", "custom", "inputs", "id",
                                                         "outputs", "propertyDependencies", "dependencies",
                                                         "protect", "retainOnDelete"}


def _resource(name: str, props: dict[str, Any]) -> dict[str, Any]:
    return {"urn": f"urn:pulumi:t::p::aws:s3/bucket:Bucket::{name}", "type": "aws:s3/bucket:Bucket", "name": name,
            "parent": None, "custom": True, "inputs": props, "id": "<unknown>", "outputs": props,
            "propertyDependencies": {}, "dependencies": [], "protect": False, "retainOnDelete": False}


def _parse_resource(args: ResourceValidationArgs, report: ReportViolation) -> None:
    json.loads(args.props["policy"])


def _parse_stack(args: StackValidationArgs, report: ReportViolation) -> None:
    for resource in args.resources:
        json.loads(resource.props["policy"])


class TestRaisingPolicies:
    """The pack's SDK lets any error out of a policy end the run; the preview reports it instead."""

    @pytest.fixture
    def report(self) -> dict[str, Any]:
        return {"resources": [_resource("fine", {"policy": "{}"}), _resource("broken", {"policy": "not json"})]}

    def test_resource_policy(self, report: dict[str, Any]) -> None:
        raising = ResourceValidationPolicy(name="parses-policy", description="parses the bucket policy",
                                           validate=_parse_resource, enforcement_level=EnforcementLevel.MANDATORY)
        (violation,) = policies.evaluate(report, None, [raising])
        assert violation["policy"] == "parses-policy" and violation["level"] == "mandatory"
        assert violation["urn"].endswith("::broken")
        assert "the policy parses-policy raised JSONDecodeError on broken" in violation["message"]

    def test_stack_policy_names_the_resource_it_was_on(self, report: dict[str, Any]) -> None:
        raising = StackValidationPolicy(name="parses-all", description="parses every bucket policy",
                                        validate=_parse_stack, enforcement_level=EnforcementLevel.ADVISORY)
        (violation,) = policies.evaluate(report, None, [raising])
        assert (violation["policy"], violation["level"]) == ("parses-all", "advisory")
        assert violation["urn"].endswith("::broken") and "raised JSONDecodeError on broken" in violation["message"]

    def test_unknowns_still_give_the_sdk_preview_advisory(self) -> None:
        report = {"resources": [_resource("later", {"policy": "<unknown>"})]}
        raising = ResourceValidationPolicy(name="parses-policy", description="parses the bucket policy",
                                           validate=_parse_resource, enforcement_level=EnforcementLevel.MANDATORY)
        (violation,) = policies.evaluate(report, None, [raising])
        assert violation["level"] == "advisory" and "can't run policy 'parses-policy'" in violation["message"]
