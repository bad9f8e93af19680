"""Environments: the outputs contract of the shipped stacks and the consumer example (workflows: test_workflows.py)."""

from __future__ import annotations

import json
import runpy
from functools import cache
from typing import Any

import pytest

from tests.support import ROOT, UNKNOWN, preview
from tools.preview import child

STACKS = ("dev", "prod", "fullstack")
OUTPUT_TYPES: dict[str, Any] = {
    "outputsVersion": int, "region": str, "vpcId": str, "vpcCidr": str, "privateSubnetIds": [str],
    "publicSubnetIds": [str], "privateRouteTableIds": [str], "endpointSecurityGroupId": str,
    "vpcEndpoints": {str: str}, "repositoryName": str, "repositoryUrl": str, "clusterName": str, "clusterArn": str,
    "outputBucketName": (str, type(None)), "jobs": {str: "workload"}, "services": {str: "workload"},
    "workers": {str: "worker"},
    "probeImage": {"uri": str, "cpuArchitecture": str},
    "dnsNamespace": (str, type(None)), "clientsSecurityGroupId": (str, type(None)),
}
WORKLOAD_TYPES: dict[str, Any] = {
    "taskDefinitionArn": str, "containerName": str, "securityGroupId": str, "logGroupName": str,
    "logStreamPrefix": str, "subnetIds": [str], "capacityProviderStrategy": [{"capacityProvider": str,
                                                                              "weight": int, "base": int}],
    "scheduleArn": (str, type(None)), "serviceName": (str, type(None)), "url": (str, type(None)), "exec": bool,
    "stateMachineArn": (str, type(None)),
    "securityGroupIds": [str], "dnsName": (str, type(None)),
}
WORKER_TYPES: dict[str, Any] = {**WORKLOAD_TYPES, "queueUrl": str, "queueArn": str, "deadLetterQueueUrl": str}


def web_image(report_: dict[str, Any]) -> str:
    """The image of the web service's container, from its task definition."""
    (td,) = [r for r in report_["resources"] if r["type"] == "aws:ecs/taskDefinition:TaskDefinition"
             and r["name"] == "service-web-task"]
    return json.loads(td["inputs"]["containerDefinitions"])[0]["image"]


@cache
def report(stack: str, mode: str) -> dict[str, Any]:
    result = preview("--stack", stack, "--mode", mode, "--json")
    assert result.returncode == 0, result.stderr
    return result.report


def check_type(path: str, value: Any, expected: Any) -> None:
    """Assert `value` has the shape `expected` (a type, a tuple of types, [item], {key: value} or 'workload')."""
    if expected in ("workload", "worker"):
        types = WORKLOAD_TYPES if expected == "workload" else WORKER_TYPES
        assert isinstance(value, dict) and set(value) == set(types), (path, sorted(value))
        for key, kind in types.items():
            check_type(f"{path}.{key}", value[key], kind)
    elif isinstance(expected, list):
        assert isinstance(value, list), path
        for i, item in enumerate(value):
            check_type(f"{path}[{i}]", item, expected[0])
    elif isinstance(expected, dict) and set(expected) == {str}:
        assert isinstance(value, dict), path
        for key, item in value.items():
            check_type(f"{path}.{key}", item, expected[str])
    elif isinstance(expected, dict):
        assert isinstance(value, dict) and set(value) == set(expected), (path, value)
        for key, kind in expected.items():
            check_type(f"{path}.{key}", value[key], kind)
    else:
        assert isinstance(value, expected) and not (expected is int and isinstance(value, bool)), (path, value)


class TestOutputsContract:
    @pytest.mark.parametrize("stack", STACKS)
    def test_keys_and_types_after_up(self, stack: str) -> None:
        outputs = report(stack, "up")["outputs"]
        assert set(outputs) == set(OUTPUT_TYPES)
        for key, kind in OUTPUT_TYPES.items():
            check_type(key, outputs[key], kind)
        assert outputs["outputsVersion"] == 1
        assert outputs["jobs"] and outputs["services"]

    @pytest.mark.parametrize("stack", STACKS)
    def test_same_keys_at_preview(self, stack: str) -> None:
        outputs = report(stack, "preview")["outputs"]
        assert set(outputs) == set(OUTPUT_TYPES)
        for name, entry in {**outputs["jobs"], **outputs["services"]}.items():
            assert set(entry) == set(WORKLOAD_TYPES), name
        known = ("outputsVersion", "region", "vpcCidr", "repositoryName", "repositoryUrl", "clusterName",
                 "clusterArn", "outputBucketName", "probeImage")
        assert all(outputs[k] != UNKNOWN for k in known)

    def test_prod_is_what_the_issue_asks(self) -> None:
        prod = report("prod", "up")
        resources = prod["resources"]
        endpoints = [r for r in resources if r["type"] == "aws:ec2/vpcEndpoint:VpcEndpoint"
                     and r["inputs"].get("vpcEndpointType") == "Interface"]
        assert len(prod["outputs"]["privateSubnetIds"]) >= 2
        assert all(len(e["inputs"]["subnetIds"]) == len(prod["outputs"]["privateSubnetIds"]) for e in endpoints)
        buckets = [r for r in resources if r["type"] == "aws:s3/bucket:Bucket"]
        assert buckets and all(b["protect"] and b["retainOnDelete"] for b in buckets)
        web = prod["outputs"]["services"]["web"]
        assert web["url"].startswith("http://internal-")
        # The probe reuses the image web and report build already: no extra build for the doctor.
        assert prod["outputs"]["probeImage"] == {"uri": web_image(prod), "cpuArchitecture": "X86_64"}
        assert len([r for r in resources if r["type"] == "awsx:ecr:Image"]) == 1
        assert {s["capacityProvider"] for s in web["capacityProviderStrategy"]} == {"FARGATE", "FARGATE_SPOT"}
        assert [s["capacityProvider"] for s in prod["outputs"]["jobs"]["report"]["capacityProviderStrategy"]] == [
            "FARGATE_SPOT"]
        assert any(r["type"] == "aws:appautoscaling/target:Target" for r in resources)
        groups = [r for r in resources if r["type"] == "aws:cloudwatch/logGroup:LogGroup"
                  and r["inputs"]["name"].startswith("/ecs/")]
        assert all(g["inputs"]["retentionInDays"] > 30 for g in groups)

    @pytest.mark.parametrize("stack", STACKS)
    def test_shipped_stacks_pass_the_pack(self, stack: str) -> None:
        for mode in ("preview", "up"):
            assert report(stack, mode)["violations"] == []


class TestConsumerExample:
    def run_consumer(self, outputs: dict[str, Any], mode: str) -> dict[str, Any]:
        directory = ROOT / "examples" / "consumer"
        config = {"aws:region": "us-east-1",
                  "private-fargate-consumer:platformStack": "acme/private-fargate/dev",
                  "private-fargate-consumer:imageTag": "1.0.0"}
        return child.simulate(lambda: runpy.run_path(str(directory / "__main__.py"), run_name="__main__"),
                              project="private-fargate-consumer", stack="dev", config=config, secret_keys=[],
                              region="us-east-1", mode=mode, project_dir=directory,
                              stack_references={"acme/private-fargate/dev": outputs})

    @pytest.mark.parametrize("mode", ["preview", "up"])
    def test_worker_in_the_platform_vpc_and_cluster(self, mode: str) -> None:
        platform = report("dev", "up")["outputs"]
        result = self.run_consumer(platform, mode)
        by_type = {r["type"]: r for r in result["resources"]}
        group = by_type["aws:ec2/securityGroup:SecurityGroup"]
        assert group["inputs"]["vpcId"] == platform["vpcId"]
        egress = {r["name"]: r["inputs"] for r in result["resources"]
                  if r["type"] == "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"}
        assert egress["worker-endpoints"]["cidrIpv4"] == platform["vpcCidr"]
        # A StackReference reads a stack that exists, so its outputs are known at preview and an invoke
        # taking one (the region) is answered then, as the engine does.
        assert egress["worker-s3"]["prefixListId"].startswith("pl-")
        td = by_type["aws:ecs/taskDefinition:TaskDefinition"]
        (container,) = json.loads(td["inputs"]["containerDefinitions"])
        assert container["image"] == f"{platform['repositoryUrl']}:1.0.0"
        assert container["logConfiguration"]["options"]["awslogs-region"] == platform["region"]
        assert result["outputs"]["subnetIds"] == platform["privateSubnetIds"]
        assert result["outputs"]["clusterArn"] == platform["clusterArn"]
        assert result["outputs"]["platformOutputsVersion"] == 1

    def test_other_outputs_version_is_refused(self) -> None:
        platform = {**report("dev", "up")["outputs"], "outputsVersion": 2}
        with pytest.raises(child.ProgramFailed, match="reads outputsVersion 1; the platform stack has 2"):
            self.run_consumer(platform, "up")
