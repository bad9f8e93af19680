"""Alerts and the job state machines: one alert per failed run (the per-task rule leaves the machine's runs
out), aborted and timed-out executions, and the topic key the machines' roles may use through SNS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import RULE, Registered, program, stack_settings
from tests.test_alerts import matches, task_event

ACCOUNT = "123456789012"
MACHINE = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:private-fargate-dev-report"


@pytest.fixture(scope="module")
def run() -> Registered:
    return program({**stack_settings("dev"), "alerts": {"email": ["oncall@example.com"]}})


def pattern(run: Registered, name: str) -> dict[str, Any]:
    return json.loads(run.one(RULE, name)["inputs"]["eventPattern"])


class TestOneAlertPerRun:
    def test_task_rule_skips_the_machines_runs(self, run: Registered) -> None:
        rule = pattern(run, "alerts-job-report")
        failed = task_event(1, "EssentialContainerExited")
        by_machine = {**failed, "detail": {**failed["detail"], "group": "state-machine:report"}}
        assert matches(rule, failed)  # a run started by hand (tools.run_task) still alerts
        assert not matches(rule, by_machine)  # the machine retries it and alerts once itself
        assert rule["detail"]["group"] == [{"anything-but": "state-machine:report"}]

    def test_aborted_and_timed_out_executions(self, run: Registered) -> None:
        rule = pattern(run, "alerts-job-executions")
        assert rule == {"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
                        "detail": {"status": ["ABORTED", "TIMED_OUT"], "stateMachineArn": [MACHINE]}}
        event = {"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
                 "detail": {"status": "ABORTED", "stateMachineArn": MACHINE}}
        assert matches(rule, event)
        assert not matches(rule, {**event, "detail": {**event["detail"], "status": "FAILED"}})  # the Catch alerts
        assert run.one(RULE, "alerts-job-executions")["inputs"]["name"].startswith("private-fargate-dev-")

    def test_key_lets_the_machine_roles_encrypt_through_sns_only(self, run: Registered) -> None:
        key = run.one("aws:kms/key:Key")
        statements = {s["Sid"]: s for s in json.loads(key["inputs"]["policy"])["Statement"]}
        assert statements["StateMachinesEncrypt"] == {
            "Sid": "StateMachinesEncrypt", "Effect": "Allow",
            "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/private-fargate-dev-report-states"]},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": "sns.us-east-1.amazonaws.com"}}}
        # KMS refuses a principal that does not exist yet
        assert run.one("aws:iam/role:Role", "job-report-runner-role")["urn"] in key["dependencies"]

    def test_no_machine_statement_without_jobs(self) -> None:
        settings = {**stack_settings("dev"), "jobs": [], "alerts": {"email": ["oncall@example.com"]}}
        run = program(settings)
        sids = [s["Sid"] for s in json.loads(run.one("aws:kms/key:Key")["inputs"]["policy"])["Statement"]]
        assert "StateMachinesEncrypt" not in sids and not [r for r in run.of_type(RULE)
                                                           if r["name"] == "alerts-job-executions"]
