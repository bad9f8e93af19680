"""Run a job's state machine in moto: its Step Functions interpreter (moto.stepfunctions.parser, ported from
LocalStack) executes the definition against moto's ECS and SNS, while the test decides each task's exit code.

Two seams, both about what AWS does that moto's port leaves out: its ECS integration does not convert
between Step Functions' PascalCase and the ECS API's camelCase (AWS does: "Parameters in Step Functions
are expressed in PascalCase", step-functions/latest/dg/connect-ecs.html), and it passes an older list of
RunTask parameters (the current page defers to the RunTask API). Two waits of the interpreter are cut
short for speed: its retry interval (the definition's Retry is asserted as data) and its .sync polling.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.ecs.models import ecs_backends
from moto.moto_api import state_manager

REGION, ACCOUNT, CLUSTER = "us-east-1", "123456789012", "private-fargate-dev"
_MACHINES = itertools.count(1)
#: What the tests patch in moto's ECS integration, restored afterwards.
_EXTRA_PARAMETERS = {"CapacityProviderStrategy", "EnableECSManagedTags"}


def _recase(value: Any, first: Any) -> Any:
    if isinstance(value, dict):
        return {first(k[:1]) + k[1:]: _recase(v, first) for k, v in value.items()}
    if isinstance(value, list):
        return [_recase(v, first) for v in value]
    return value


def patch_moto(monkeypatch: Any) -> None:
    """Make moto's ECS integration pass every RunTask parameter and convert cases as AWS does."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_ecs as ecs,
    )

    monkeypatch.setitem(ecs._SUPPORTED_API_PARAM_BINDINGS, "runtask",
                        ecs._SUPPORTED_API_PARAM_BINDINGS["runtask"] | _EXTRA_PARAMETERS)

    def params(self: Any, parameters: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        recased = _recase(parameters, str.lower)
        parameters.clear()
        parameters.update(recased)

    def response(self: Any, response: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        recased = _recase(response, str.upper)
        response.clear()
        response.update(recased)

    monkeypatch.setattr(ecs.StateTaskServiceEcs, "_normalise_parameters", params)
    monkeypatch.setattr(ecs.StateTaskServiceEcs, "_normalise_response", response)

    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback

    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=lambda seconds: None))
    monkeypatch.setattr(state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", 0.02)


@dataclass
class Execution:
    """How an execution ended, the tasks it ran (group, capacity), and what reached the alerts topic."""

    status: str
    error: str | None
    tasks: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)


class Infrastructure:
    """A VPC, subnet, group, cluster, the job's task definition and an alerts topic read through a queue."""

    def __init__(self) -> None:
        ec2, ecs = boto3.client("ec2", REGION), boto3.client("ecs", REGION)
        sns, sqs = boto3.client("sns", REGION), boto3.client("sqs", REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # moto's awsvpc tasks need it
        self.subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        self.group = ec2.create_security_group(GroupName="job", Description="job", VpcId=vpc)["GroupId"]
        ecs.create_cluster(clusterName=CLUSTER, capacityProviders=["FARGATE", "FARGATE_SPOT"])
        self.task_definition = ecs.register_task_definition(
            family="private-fargate-dev-report", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
            cpu="256", memory="512", containerDefinitions=[{"name": "report", "image": "x", "cpu": 256,
                                                           "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
        self.topic = sns.create_topic(Name="private-fargate-dev-alerts")["TopicArn"]
        self.inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=self.inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=inbox_arn)

    def alerts(self) -> list[dict[str, Any]]:
        """What reached the topic since the last call."""
        sqs = boto3.client("sqs", REGION)
        got = sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10).get("Messages", [])
        for message in got:
            sqs.delete_message(QueueUrl=self.inbox, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in got]

    def create_machine(self, definition: dict[str, Any]) -> str:
        """A state machine of its own for each test (the mock and its resources are shared)."""
        sfn = boto3.client("stepfunctions", REGION)
        return sfn.create_state_machine(name=f"machine-{next(_MACHINES)}", definition=json.dumps(definition),
                                        roleArn=f"arn:aws:iam::{ACCOUNT}:role/job")["stateMachineArn"]


def stop_new_tasks(exit_codes: list[int | None | tuple[int, str]], stopped: list[dict[str, Any]]) -> None:
    """Stop every running task of the cluster with the next exit code, as ECS does: None, its container never
    exited (TaskFailedToStart); a code, it exited (EssentialContainerExited); (code, stop code) for another
    reason (SpotInterruption)."""
    tasks = ecs_backends[ACCOUNT][REGION].tasks.get(CLUSTER, {})
    for arn, task in tasks.items():
        if task.status == "STOPPED" or any(s["arn"] == arn for s in stopped):
            continue
        code = exit_codes.pop(0) if exit_codes else 0
        code, stop_code = code if isinstance(code, tuple) else (
            code, "TaskFailedToStart" if code is None else "EssentialContainerExited")
        if code is None:
            del task.containers[0].exitCode
        else:
            task.containers[0].exitCode = code
        task.stop_code = stop_code
        task.status = "STOPPED"
        stopped.append({"arn": arn, "group": task.group, "capacity": task.capacity_provider_name, "exit": code})


def execute(infra: Infrastructure, definition: dict[str, Any], exit_codes: list[int | None | tuple[int, str]],
            deadline: float = 30.0) -> Execution:
    """Create a machine, start one execution and stop its tasks with `exit_codes`, in turn, until it ends.

    Call inside `mocked()` below, after patch_moto."""
    sfn = boto3.client("stepfunctions", REGION)
    machine = infra.create_machine(definition)
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    codes, stopped, started = list(exit_codes), [], time.monotonic()
    while True:
        status = sfn.describe_execution(executionArn=execution)
        if status["status"] != "RUNNING":
            return Execution(status["status"], status.get("error"), stopped)
        if time.monotonic() - started > deadline:
            raise AssertionError(f"execution still running after {deadline} s; tasks: {stopped}")
        stop_new_tasks(codes, stopped)
        time.sleep(0.01)


def environment() -> Iterator[Infrastructure]:
    """For a module-scoped fixture: credentials, the patches, moto with its interpreter on, ECS tasks that stop
    only when a test says so, and the infrastructure; shared by the module's tests, undone afterwards."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
            monkeypatch.delenv(key, raising=False)
        for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                           ("AWS_DEFAULT_REGION", REGION)):
            monkeypatch.setenv(key, value)
        patch_moto(monkeypatch)
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            state_manager.set_transition(model_name="ecs::task", transition={"progression": "manual",
                                                                             "times": 10**6})
            try:
                yield Infrastructure()
            finally:
                state_manager.unset_transition("ecs::task")
