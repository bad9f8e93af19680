"""sqs-encrypted, sqs-tls-only, sfn-logging; and the network and log policies on a state machine's ECS tasks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components import state_machine as sm
from components.context import StackContext
from tests.support import ACCOUNT, UNKNOWN, res, urn
from tests.support import run_policy as run
from tests.test_policies_stack import MODES, vpc_stack

QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
MACHINE = "aws:sfn/stateMachine:StateMachine"
LOGS = {"logDestination": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/vendedlogs/states/x:*",
        "includeExecutionData": True, "level": "ALL"}


def tls_policy(name: str, resource: str | None = None, effect: str = "Deny", secure: str = "false") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": effect, "Principal": "*", "Action": "sqs:*",
        "Resource": resource or f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}",
        "Condition": {"Bool": {"aws:SecureTransport": secure}}}]})


def queue_with_policy(policy: str | None, *, known: bool = False, by_url: bool = False) -> list[dict[str, Any]]:
    url = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/q" if known else UNKNOWN
    queue = res(QUEUE, "q", {"name": "q", "sqsManagedSseEnabled": True},
                {"name": "q", "url": url, "arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:q" if known else UNKNOWN}, rid=url)
    if policy is None:
        return [queue]
    deps = {} if by_url else {"queueUrl": [queue["urn"]]}
    return [queue, res(QUEUE_POLICY, "q-tls", {"queueUrl": url, "policy": policy}, deps=deps)]


class TestSqsEncrypted:
    @pytest.mark.parametrize("inputs,violations", [
        ({"sqsManagedSseEnabled": True}, 0), ({"kmsMasterKeyId": "alias/aws/sqs"}, 0),
        ({}, 1), ({"sqsManagedSseEnabled": False}, 1), ({"sqsManagedSseEnabled": UNKNOWN}, 0)])
    def test_queue(self, inputs: dict[str, Any], violations: int) -> None:
        found = run("sqs-encrypted", [res(QUEUE, "q", inputs)])
        assert len(found) == violations and all(v["level"] == "mandatory" for v in found)


class TestSqsTlsOnly:
    @MODES
    def test_deny_without_tls_passes(self, known: bool) -> None:
        assert run("sqs-tls-only", queue_with_policy(tls_policy("q"), known=known)) == []

    def test_attached_by_url_once_ids_are_known(self) -> None:
        assert run("sqs-tls-only", queue_with_policy(tls_policy("q"), known=True, by_url=True)) == []

    def test_inline_policy_on_the_queue(self) -> None:
        queue = res(QUEUE, "q", {"name": "q", "policy": tls_policy("q")})
        assert run("sqs-tls-only", [queue]) == []

    @pytest.mark.parametrize("policy", [None, tls_policy("q", effect="Allow"), tls_policy("q", secure="true"),
                                        tls_policy("q", resource=f"arn:aws:sqs:us-east-1:{ACCOUNT}:other")],
                             ids=["no-policy", "allow", "secure-true", "other-queue"])
    def test_violations(self, policy: str | None) -> None:
        (violation,) = run("sqs-tls-only", queue_with_policy(policy))
        assert violation["level"] == "mandatory" and "accepts requests without TLS" in violation["message"]

    def test_unknown_policy_is_checked_at_up(self) -> None:
        (violation,) = run("sqs-tls-only", queue_with_policy(UNKNOWN))
        assert violation["level"] == "advisory" and "unknown at preview: the policy of queue q; sqs-tls-only checks " \
            "it at `pulumi up`" in violation["message"]


class TestSfnLogging:
    @pytest.mark.parametrize("config,violations", [
        (LOGS, 0), ({**LOGS, "level": "ERROR"}, 0), ({**LOGS, "level": "OFF"}, 1), ({"level": "ALL"}, 1), ({}, 1)])
    def test_machine(self, config: dict[str, Any], violations: int) -> None:
        found = run("sfn-logging", [res(MACHINE, "m", {"loggingConfiguration": config} if config else {})])
        assert len(found) == violations and all(v["level"] == "advisory" for v in found)


def with_machine(known: bool, *, public_ip: bool = False, **stack: Any) -> list[dict[str, Any]]:
    """vpc_stack with its ECS service replaced by a job's state machine that runs the task definition `td`."""
    resources = [r for r in vpc_stack(known=known, **stack) if r["name"] != "svc"]
    subnet = next(r for r in resources if r["name"] == "subnet")
    spec = sm.RunnerSpec(StackContext("p", "s", "us-east-1", ACCOUNT), "job", "td", "c", "e", "t", "/ecs/job", 10, 0)
    definition: Any = UNKNOWN
    if known:
        doc = sm.definition(spec, [subnet["id"]], ["sg-05"], "arn:aws:ecs:us-east-1:123456789012:task-definition/td:1")
        doc["States"]["Run"]["Branches"][0]["States"]["RunTask"]["Parameters"]["NetworkConfiguration"][
            "AwsvpcConfiguration"]["AssignPublicIp"] = "ENABLED" if public_ip else "DISABLED"
        definition = json.dumps(doc)
    deps = {"definition": [subnet["urn"], urn("aws:ecs/taskDefinition:TaskDefinition", "td")]}
    resources.append(res(MACHINE, "job-runner-machine", {"definition": definition, "loggingConfiguration": LOGS},
                         deps=deps))
    return resources


class TestStateMachineTasks:
    @MODES
    def test_private_machine_passes(self, known: bool) -> None:
        resources = with_machine(known)
        for policy in ("ecs-service-no-public-ip", "ecs-tasks-in-private-subnets", "vpc-endpoints-for-private-tasks"):
            assert run(policy, resources) == [], policy

    def test_public_ip_is_caught_once_known(self) -> None:
        (violation,) = run("ecs-service-no-public-ip", with_machine(True, public_ip=True))
        assert violation["level"] == "mandatory" and "job-runner-machine starts ECS tasks with a public IP" in \
            violation["message"]

    @MODES
    def test_public_subnet_is_caught(self, known: bool) -> None:
        found = run("ecs-tasks-in-private-subnets", with_machine(known, public=True))
        assert [v["level"] for v in found] == ["mandatory"] and "job-runner-machine runs tasks in subnet subnet" in \
            found[0]["message"]

    @MODES
    def test_missing_endpoint_is_caught(self, known: bool) -> None:
        (violation,) = run("vpc-endpoints-for-private-tasks", with_machine(known, endpoints=("ecr.api", "logs")))
        assert "job-runner-machine" in violation["message"] and "ecr.dkr" in violation["message"]

    def test_a_machine_without_ecs_tasks_is_no_launcher(self) -> None:
        # pulumi/examples aws-py-stepfunctions: a Lambda state machine, its definition unknown at a first preview
        function = res("aws:lambda/function:Function", "fn", {"runtime": "python3.12"})
        machine = res(MACHINE, "lambda-machine", {"definition": UNKNOWN}, deps={"definition": [function["urn"]]})
        lambda_task = {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:f",
                                                       "End": True}}}
        known = res(MACHINE, "known-machine", {"definition": json.dumps(lambda_task)})
        for policy in ("ecs-tasks-in-private-subnets", "vpc-endpoints-for-private-tasks", "ecs-service-no-public-ip"):
            assert run(policy, [function, machine, known]) == [], policy

    def test_machine_logs_to_a_group_of_the_stack(self) -> None:
        machine = res(MACHINE, "m", {"loggingConfiguration": LOGS})
        group = res("aws:cloudwatch/logGroup:LogGroup", "g", {"name": "/aws/vendedlogs/states/x",
                                                              "retentionInDays": 30})
        assert run("ecs-log-group-managed", [machine, group]) == []
        (violation,) = run("ecs-log-group-managed", [machine])
        assert "logs its executions to '/aws/vendedlogs/states/x'" in violation["message"]
