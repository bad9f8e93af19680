"""The cost estimate: each item worked out by hand from a small stack, spot and ARM64, regions, NAT comparison."""

from __future__ import annotations

import json
from typing import Any

import pytest

from settings.schedules import parse_schedule, runs_per_month
from tests.support import preview
from tools.cost import PRICES, estimate, on_demand_share, unpriced_note

HOURS = 730
ASSUME = {"imageStorageGb": 2, "logIngestGbPerMonth": 3, "endpointDataGbPerMonth": 50}


def r(token: str, name: str, inputs: dict[str, Any], deps: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"urn": f"urn:{token}::{name}", "type": token, "name": name, "inputs": inputs, "outputs": dict(inputs),
            "propertyDependencies": deps or {}, "id": "<unknown>"}


def td(name: str, cpu: int, memory: int, arch: str = "X86_64") -> dict[str, Any]:
    return r("aws:ecs/taskDefinition:TaskDefinition", name, {"family": f"p-s-{name}", "cpu": str(cpu),
                                                              "memory": str(memory),
                                                              "runtimePlatform": {"cpuArchitecture": arch}})


def small_stack() -> dict[str, Any]:
    web, batch = td("web", 512, 1024), td("batch", 1024, 2048, "ARM64")
    resources = [
        r("aws:ec2/subnet:Subnet", "network-private-0", {"availabilityZone": "us-east-1a"}),
        r("aws:ec2/subnet:Subnet", "network-private-1", {"availabilityZone": "us-east-1b"}),
        *[r("aws:ec2/vpcEndpoint:VpcEndpoint", f"ep-{s}", {"serviceName": f"com.amazonaws.us-east-1.{s}",
                                                           "vpcEndpointType": "Interface", "subnetIds": ["a", "b"]})
          for s in ("ecr.api", "ecr.dkr", "logs")],
        r("aws:ec2/vpcEndpoint:VpcEndpoint", "ep-s3", {"serviceName": "com.amazonaws.us-east-1.s3",
                                                       "vpcEndpointType": "Gateway"}),
        r("aws:lb/loadBalancer:LoadBalancer", "alb", {"name": "web", "internal": True, "subnets": ["a", "b"]}),
        web, batch,
        r("aws:ecs/service:Service", "svc", {"name": "web", "desiredCount": 2, "capacityProviderStrategies": [
            {"capacityProvider": "FARGATE", "weight": 1, "base": 0}]}, {"taskDefinition": [web["urn"]]}),
        r("aws:scheduler/schedule:Schedule", "sch", {"scheduleExpression": "rate(1 hour)", "target": {
            "ecsParameters": {"capacityProviderStrategies": [{"capacityProvider": "FARGATE_SPOT", "weight": 1,
                                                              "base": 0}]}}}, {"target": [batch["urn"]]}),
        r("aws:cloudwatch/logGroup:LogGroup", "lg", {"name": "/ecs/x"}),
        r("aws:ecr/repository:Repository", "repo", {"name": "x"}),
        r("aws:kms/key:Key", "key", {}),
    ]
    return {"project": "p", "stack": "s", "resources": resources}


def items_by_name(cost: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["item"]: i for i in cost["items"]}


class TestItems:
    @pytest.fixture
    def cost(self) -> dict[str, Any]:
        config = {"private-fargate:jobs": json.dumps([{"name": "batch", "expectedMinutes": 6}])}
        return estimate(small_stack(), "us-east-1", ASSUME, config)

    def test_interface_endpoints_per_az_hour_and_data(self, cost: dict[str, Any]) -> None:
        items = items_by_name(cost)
        for short in ("ecr.api", "ecr.dkr", "logs"):
            item = items[f"interface endpoint {short} (2 AZ)"]
            assert item["quantity"] == 2 * HOURS and item["monthly"] == round(2 * HOURS * 0.01, 2) == 14.6
        assert items["data through interface endpoints"]["monthly"] == 50 * 0.01
        assert not any("s3" in name for name in items)  # gateway endpoints are free

    def test_load_balancer_hours_and_lcu_minimum(self, cost: dict[str, Any]) -> None:
        items = items_by_name(cost)
        assert items["load balancer web"]["monthly"] == round(HOURS * 0.0225, 2)
        assert items["load balancer web (1 LCU minimum)"]["monthly"] == round(HOURS * 0.008, 2)
        assert not any(name.startswith("public IPv4") for name in items)  # an internal ALB has none

    def test_service_runs_all_month_on_demand(self, cost: dict[str, Any]) -> None:
        (item,) = [i for i in cost["items"] if i["item"].startswith("service web")]
        per_task_hour = 0.5 * 0.04048 + 1 * 0.004445
        assert item["quantity"] == 2 * HOURS and item["unitPrice"] == pytest.approx(per_task_hour, abs=1e-6)
        assert item["monthly"] == round(2 * HOURS * per_task_hour, 2)

    def test_scheduled_job_on_spot_arm64(self, cost: dict[str, Any]) -> None:
        (item,) = [i for i in cost["items"] if i["item"].startswith("job p-s-batch")]
        runs = HOURS  # rate(1 hour)
        arm_spot = (1 * 0.03238 + 2 * 0.00356) * (1 - 0.70)
        assert item["quantity"] == pytest.approx(runs * 6 / 60)
        assert item["unitPrice"] == pytest.approx(arm_spot, abs=1e-6)
        assert "ARM64" in item["item"] and "spot" in item["item"]

    def test_usage_from_assumptions(self, cost: dict[str, Any]) -> None:
        items = items_by_name(cost)
        assert items["log ingestion"]["monthly"] == 3 * 0.50
        assert items["ECR image storage"]["monthly"] == 2 * 0.10
        assert items["KMS keys (1)"]["monthly"] == 1.0

    def test_total_is_the_sum(self, cost: dict[str, Any]) -> None:
        assert cost["monthly"] == round(sum(i["monthly"] for i in cost["items"]), 2)
        assert cost["currency"] == "USD" and cost["region"] == "us-east-1"
        assert cost["assumptions"]["pricesTaken"] == PRICES["taken"]
        assert cost["assumptions"]["endpointDataGbPerMonth"] == 50

    def test_nat_gateway_and_public_ip(self) -> None:
        stack = {"project": "p", "stack": "s", "resources": [
            r("aws:ec2/natGateway:NatGateway", "nat", {}), r("aws:ec2/eip:Eip", "eip", {})]}
        items = items_by_name(estimate(stack, "us-east-1", ASSUME))
        assert items["NAT gateway (1)"]["monthly"] == round(HOURS * 0.045, 2)
        assert items["data through NAT gateways"]["monthly"] == round(50 * 0.045, 2)
        assert items["public IPv4 addresses (1)"]["monthly"] == round(HOURS * 0.005, 2)


class TestPricesAndRegions:
    def test_regions_with_date_and_source(self) -> None:
        assert set(PRICES["regions"]) >= {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1"}
        assert PRICES["taken"] and PRICES["source"]
        for prices in PRICES["regions"].values():
            assert prices["fargate"]["ARM64"]["vcpuHour"] < prices["fargate"]["X86_64"]["vcpuHour"]

    def test_unknown_region_says_so(self) -> None:
        cost = estimate(small_stack(), "sa-east-1", ASSUME)
        assert cost["items"] == [] and cost["monthly"] == 0.0
        assert cost["unavailable"].startswith("no prices for region sa-east-1")

    def test_region_prices_differ(self) -> None:
        assert estimate(small_stack(), "eu-central-1", ASSUME)["monthly"] > estimate(small_stack(), "us-east-1",
                                                                                    ASSUME)["monthly"]

    @pytest.mark.parametrize("strategy,tasks,share", [
        ([{"capacityProvider": "FARGATE", "weight": 1, "base": 0}], 4, 1.0),
        ([{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}], 4, 0.0),
        ([{"capacityProvider": "FARGATE", "weight": 1, "base": 1},
          {"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0}], 5, (1 + 4 * 0.25) / 5),
        ([{"capacityProvider": "FARGATE", "weight": 0, "base": 2},
          {"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}], 2, 1.0),
    ])
    def test_capacity_split(self, strategy: list[dict[str, Any]], tasks: int, share: float) -> None:
        assert on_demand_share(strategy, tasks) == pytest.approx(share)

    @pytest.mark.parametrize("expression,runs", [
        ("rate(1 hour)", 730), ("rate(5 minutes)", 730 * 12), ("cron(0 3 * * ? *)", 730 / 24),
        ("cron(0 8 ? * MON-FRI *)", 730 / 24 * 5 / 7), ("cron(0/30 9-10 ? * * *)", 4 * 730 / 24),
        ("cron(0 1 1 * ? *)", 1), ("at(2027-01-01T00:00:00)", 1), ("cron(0 3 ? * L *)", 730 / 24 / 7),
        ("cron(0 3 ? * MON#1,WED#3 *)", 2),
    ])
    def test_runs_per_month(self, expression: str, runs: float) -> None:
        assert runs_per_month(parse_schedule(expression)) == pytest.approx(runs)


class TestNatComparison:
    def test_break_even(self) -> None:
        cost = estimate(small_stack(), "us-east-1", ASSUME, compare="nat")
        comparison = cost["comparison"]
        endpoints_fixed = 3 * 2 * HOURS * 0.01
        nat_fixed = 2 * HOURS * (0.045 + 0.005)
        assert comparison["natGateways"] == 2
        assert comparison["endpointsMonthly"] == round(endpoints_fixed + 50 * 0.01, 2)
        assert comparison["natMonthly"] == round(nat_fixed + 50 * 0.045, 2)
        assert comparison["breakEvenGbPerMonth"] == 0.0 and comparison["cheaper"] == "endpoints"

    def test_break_even_when_endpoints_cost_more_at_rest(self) -> None:
        stack = small_stack()
        extra = [r("aws:ec2/vpcEndpoint:VpcEndpoint", f"x-{s}", {
            "serviceName": f"com.amazonaws.us-east-1.{s}", "vpcEndpointType": "Interface", "subnetIds": ["a", "b"]})
                 for s in ("ssm", "ssmmessages", "secretsmanager", "sts", "kms", "sqs", "sns", "monitoring")]
        stack["resources"] += extra
        comparison = estimate(stack, "us-east-1", {**ASSUME, "endpointDataGbPerMonth": 0}, compare="nat")[
            "comparison"]
        endpoints_fixed = 11 * 2 * HOURS * 0.01
        nat_fixed = 2 * HOURS * 0.05
        expected = (endpoints_fixed - nat_fixed) / (0.045 - 0.01)
        assert comparison["breakEvenGbPerMonth"] == round(expected, 1)
        assert comparison["cheaper"] == "nat"

    def test_cli_compare_flag(self) -> None:
        result = preview("--stack", "dev", "--compare", "nat", "--json")
        assert result.returncode == 0
        cost = result.report["cost"]
        assert cost["comparison"]["natGateways"] == 2 and cost["monthly"] > 0
        assert "comparison" not in preview("--stack", "dev", "--json").report["cost"]


def custom(token: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {**r(token, name, inputs), "custom": True}


class TestLoadBalancerKinds:
    """A Network Load Balancer is priced as one (NLB-hour and NLCU), not as an ALB; a gateway one is named unpriced."""

    def test_network_load_balancer(self) -> None:
        report = {"project": "p", "stack": "s", "resources": [
            custom("aws:lb/loadBalancer:LoadBalancer", "nlb", {"name": "tcp", "loadBalancerType": "network",
                                                              "internal": True, "subnets": ["a", "b"]})]}
        prices = PRICES["regions"]["eu-central-1"]
        items = items_by_name(estimate(report, "eu-central-1", ASSUME))
        hour, nlcu = items["network load balancer tcp"], items["network load balancer tcp (1 NLCU minimum)"]
        assert (hour["unitPrice"], hour["quantity"]) == (prices["nlb"]["hour"], HOURS)
        assert (nlcu["unitPrice"], nlcu["unit"]) == (0.006, "NLCU-hour")
        assert not any(i.startswith("load balancer ") for i in items)  # not an ALB

    def test_gateway_load_balancer_is_named_unpriced(self) -> None:
        report = {"project": "p", "stack": "s", "resources": [
            custom("aws:lb/loadBalancer:LoadBalancer", "gwlb", {"loadBalancerType": "gateway"})]}
        cost = estimate(report, "us-east-1", ASSUME)
        assert cost["items"] == [] and cost["monthly"] == 0
        assert cost["unpriced"] == [{"type": "aws:lb/loadBalancer:LoadBalancer", "name": "gwlb",
                                     "reason": "no price for gateway load balancers in tools/data/prices.json"}]

    def test_every_priced_region_has_nlb_prices(self) -> None:
        for region, prices in PRICES["regions"].items():
            assert prices["nlb"]["hour"] == prices["alb"]["hour"] and prices["nlb"]["nlcuHour"] == 0.006, region
        assert "aws.amazon.com/elasticloadbalancing/pricing" in PRICES["notes"]["nlb"]


class TestUnpriced:
    """Nothing counts as $0 silently: what the estimate cannot price is named, with why."""

    def test_named_with_reason_and_noted(self) -> None:
        report = {"project": "p", "stack": "s", "resources": [
            custom("aws:rds/instance:Instance", "db", {"instanceClass": "db.t3.micro"}),
            custom("aws:lambda/function:Function", "fn", {}),
            custom("aws:ec2/subnet:Subnet", "free", {}),
            custom("aws:iam/role:Role", "also-free", {}),
            custom("random:index/randomPassword:RandomPassword", "not-aws", {}),
            {**r("awsx:ecs:FargateService", "svc", {}), "custom": False},
            {**r("awsx:ecr:Image", "image", {}), "custom": False},
            {**r("acme:app:Component", "local", {}), "custom": False},
        ]}
        opaque = [{"urn": "urn:awsx:ecs:FargateService::svc", "type": "awsx:ecs:FargateService"},
                  {"urn": "urn:awsx:ecr:Image::image", "type": "awsx:ecr:Image"}]
        cost = estimate(report, "us-east-1", ASSUME, opaque=opaque)
        assert cost["unpriced"] == [
            {"type": "aws:lambda/function:Function", "name": "fn",
             "reason": "usage-based (requests, storage or data): not estimated"},
            {"type": "aws:rds/instance:Instance", "name": "db", "reason": "no price in tools/data/prices.json"},
            {"type": "awsx:ecs:FargateService", "name": "svc",
             "reason": "multi-language component: what it creates is not known offline"}]
        note = unpriced_note(cost["unpriced"])
        assert note.startswith("cost: not in the total: 1 aws:lambda/function:Function (usage-based")
        assert "1 awsx:ecs:FargateService (multi-language component" in note

    def test_shipped_stack_names_only_usage_based_resources(self) -> None:
        report = preview("--stack", "dev", "--json").report
        assert {u["reason"] for u in report["cost"]["unpriced"]} == {
            "usage-based (requests, storage or data): not estimated"}
        assert any(n.startswith("cost: not in the total: ") for n in report["notes"])
