"""The cost of jobs run through state machines (Fargate time, state transitions), of workers (busy time, SQS
requests), of alarms per alarm metric and of a Cloud Map private DNS namespace, each worked out by hand."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components import state_machine as sm
from components.context import StackContext
from tests.support import preview
from tests.test_cost import items_by_name, r, td
from tools.cost import PRICES, estimate

HOURS = 730
US = PRICES["regions"]["us-east-1"]
SPEC = sm.RunnerSpec(StackContext("p", "s", "us-east-1", "123456789012"), "batch", "p-s-batch", "c", "e", "t",
                     "/ecs/p/s/batch", 30, 2, [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}])


def job_stack(definition_known: bool) -> dict[str, Any]:
    batch = td("batch", 1024, 2048)
    doc = sm.definition(SPEC, ["subnet-1"], ["sg-1"], "arn:aws:ecs:us-east-1:123456789012:task-definition/p-s-batch:1")
    machine = r("aws:sfn/stateMachine:StateMachine", "job-batch-runner-machine",
                {"definition": json.dumps(doc) if definition_known else "<unknown>"}, {"definition": [batch["urn"]]})
    schedule = r("aws:scheduler/schedule:Schedule", "sch", {"scheduleExpression": "rate(1 hour)", "target": {}},
                 {"target": [machine["urn"]]})
    return {"project": "p", "stack": "s", "resources": [batch, machine, schedule]}


class TestJobs:
    @pytest.mark.parametrize("known", [True, False], ids=["after-up", "first-preview"])
    def test_fargate_time_and_transitions(self, known: bool) -> None:
        # spot from the definition after up; from the settings at a first preview
        config = {"private-fargate:jobs": json.dumps([{"name": "batch", "expectedMinutes": 6, "capacity": "spot"}])}
        items = items_by_name(estimate(job_stack(known), "us-east-1", {}, config))
        runs = HOURS  # rate(1 hour)
        fargate = (1 * US["fargate"]["X86_64"]["vcpuHour"] + 2 * US["fargate"]["X86_64"]["gbHour"]) * 0.3
        job = items[f"job p-s-batch: {runs:g} runs x 6 min, 1 vCPU / 2 GB X86_64, spot"]
        assert job["quantity"] == pytest.approx(runs * 6 / 60) and job["unitPrice"] == pytest.approx(fargate, abs=1e-6)
        transitions = items["job p-s-batch: state transitions (5 a successful run)"]
        assert transitions["quantity"] == pytest.approx(runs * 5 / 1000) and transitions["unitPrice"] == 0.025
        assert transitions["monthly"] == round(runs * 5 / 1000 * 0.025, 2)

    def test_first_preview_without_settings_is_on_demand(self) -> None:
        items = items_by_name(estimate(job_stack(False), "us-east-1", {}, {}))
        assert any(k.endswith("on-demand") for k in items if k.startswith("job p-s-batch: 730 runs"))


class TestWorkers:
    def stack(self, desired: int) -> dict[str, Any]:
        thumbs = td("thumbs", 512, 1024)
        service = r("aws:ecs/service:Service", "worker-thumbs-service", {
            "name": "thumbs", "desiredCount": desired, "capacityProviderStrategies": [
                {"capacityProvider": "FARGATE", "weight": 1, "base": 0}]}, {"taskDefinition": [thumbs["urn"]]})
        return {"project": "p", "stack": "s", "resources": [thumbs, service]}

    @pytest.mark.parametrize("desired,task_hours", [(0, 200_000 * 2 / 3600), (1, HOURS)])
    def test_busy_time_or_min_all_month_and_requests(self, desired: int, task_hours: float) -> None:
        config = {"private-fargate:workers": json.dumps([{"name": "thumbs"}])}
        assume = {"workerMessagesPerMonth": 200_000, "workerSecondsPerMessage": 2}
        items = items_by_name(estimate(self.stack(desired), "us-east-1", assume, config))
        tasks = items["worker thumbs: 200000 messages x 2 s, 0.5 vCPU / 1 GB X86_64, on-demand"]
        assert tasks["quantity"] == pytest.approx(task_hours, abs=1e-3)
        requests = items["worker thumbs: SQS requests"]
        assert requests["quantity"] == pytest.approx((200_000 * 3 + task_hours * 180) / 1e6, abs=1e-4)
        assert requests["unitPrice"] == 0.40
        assert not [k for k in items if k.startswith("service thumbs")]  # not priced twice


class TestUsage:
    def test_alarms_are_priced_per_alarm_metric(self) -> None:
        math = r("aws:cloudwatch/metricAlarm:MetricAlarm", "a", {"metricQueries": [
            {"id": "x", "metric": {}}, {"id": "y", "metric": {}}, {"id": "e", "expression": "x + y"}]})
        plain = r("aws:cloudwatch/metricAlarm:MetricAlarm", "b", {"metricName": "m"})
        items = items_by_name(estimate({"project": "p", "stack": "s", "resources": [math, plain]}, "us-east-1", {},
                                       {}))
        assert items["CloudWatch alarms (2, 3 alarm metrics)"]["monthly"] == 0.3

    def test_every_region_prices_the_new_services(self) -> None:
        for region, prices in PRICES["regions"].items():
            assert {"stepFunctions", "sqs", "route53"} <= set(prices), region
        assert set(PRICES["sources"]) == {"stepFunctions", "sqs", "route53"}


def test_prod_estimate_counts_its_job_transitions() -> None:
    result = preview("--stack", "prod", "--json")
    items = {i["item"]: i for i in result.report["cost"]["items"]}
    assert any(k.startswith("job private-fargate-prod-report: state transitions") for k in items)
