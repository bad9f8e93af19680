"""A job's state machine: its definition (parsed as ASL, RunTask checked with botocore's ECS model), what
one execution does in moto's interpreter (retries, timeout field, one alert), its role and its resources."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.session import get_session
from botocore.validate import ParamValidator
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from components import state_machine as sm
from components.context import StackContext
from components.iam import UNSCOPED_ACTIONS
from tests import moto_sfn
from tests.support import (
    CAPACITY,
    LOG_GROUP,
    ROLE,
    ROLE_POLICY,
    SG,
    STATE_MACHINE,
    SUBNET,
    TASK_DEF,
    UNKNOWN,
    Registered,
    program,
    shipped,
    stack_settings,
)

ACCOUNT = "123456789012"
CTX = StackContext("private-fargate", "dev", "us-east-1", ACCOUNT)
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:private-fargate-dev-alerts"
TD = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/private-fargate-dev-report:3"
SPOT = [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]


def spec(retries: int = 1, topic: str | None = TOPIC, timeout: int = 30, **extra: Any) -> sm.RunnerSpec:
    return sm.RunnerSpec(CTX, "report", "private-fargate-dev-report", "private-fargate-dev",
                         "private-fargate-dev-report-execution", "private-fargate-dev-report-task",
                         "/ecs/private-fargate/dev/report", timeout, retries, SPOT, topic_arn=topic, **extra)


def definition(s: sm.RunnerSpec | None = None, subnets: tuple[str, ...] = ("subnet-a", "subnet-b"),
               group: str = "sg-1", td: str = TD) -> dict[str, Any]:
    return sm.definition(s or spec(), list(subnets), [group], td)


def camel(value: Any) -> Any:
    """Step Functions' PascalCase parameters as the ECS API names them."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def run_task_state(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["States"]["Run"]["Branches"][0]["States"]["RunTask"]


class TestDefinition:
    @pytest.mark.parametrize("s", [spec(), spec(retries=0), spec(topic=None), spec(retries=10, exec=True)],
                             ids=["retry-alert", "no-retry", "no-alerts", "exec"])
    def test_is_valid_amazon_states_language(self, s: sm.RunnerSpec) -> None:
        AmazonStateLanguageParser.parse(sm.dumps(definition(s)))  # raises on an invalid document

    def test_every_next_names_a_state(self) -> None:
        def check(doc: dict[str, Any]) -> None:
            names = set(doc["States"])
            assert doc["StartAt"] in names
            for state in doc["States"].values():
                targets = [state.get("Next"), state.get("Default"), *(c["Next"] for c in state.get("Choices", [])),
                           *(c["Next"] for c in state.get("Catch", []))]
                assert {t for t in targets if t} <= names, state
                for branch in state.get("Branches", []):
                    check(branch)
        check(definition())

    def test_run_task_is_the_sync_integration_with_the_job_timeout(self) -> None:
        task = run_task_state(definition(spec(timeout=45)))
        assert task["Type"] == "Task" and task["Resource"] == "arn:aws:states:::ecs:runTask.sync"
        assert task["TimeoutSeconds"] == 45 * 60

    def test_run_task_parameters_pass_botocore(self) -> None:
        params = run_task_state(definition())["Parameters"]
        shape = get_session().get_service_model("ecs").operation_model("RunTask").input_shape
        report = ParamValidator().validate(camel(params), shape)
        assert not report.has_errors(), report.generate_report()
        assert "LaunchType" not in params  # RunTask takes a strategy or a launch type, not both

    def test_private_network_capacity_and_tags(self) -> None:
        params = run_task_state(definition(spec(exec=True)))["Parameters"]
        assert params["NetworkConfiguration"] == {"AwsvpcConfiguration": {
            "Subnets": ["subnet-a", "subnet-b"], "SecurityGroups": ["sg-1"], "AssignPublicIp": "DISABLED"}}
        assert params["CapacityProviderStrategy"] == [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1, "Base": 0}]
        assert (params["Cluster"], params["TaskDefinition"]) == (
            f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/private-fargate-dev", TD)
        assert params["PlatformVersion"] == "LATEST" and params["Group"] == "state-machine:report"
        assert (params["PropagateTags"], params["EnableECSManagedTags"], params["EnableExecuteCommand"]) == (
            "TASK_DEFINITION", True, True)

    def test_retry_with_backoff_on_task_failures_not_timeouts(self) -> None:
        (retry,) = definition(spec(retries=3))["States"]["Run"]["Retry"]
        assert retry["ErrorEquals"] == ["States.TaskFailed", "AmazonECS.Unknown", "Job.NonZeroExit"]
        assert (retry["MaxAttempts"], retry["IntervalSeconds"], retry["BackoffRate"]) == (3, 60, 2.0)
        assert "States.Timeout" not in retry["ErrorEquals"] and "States.ALL" not in retry["ErrorEquals"]
        assert "Retry" not in definition(spec(retries=0))["States"]["Run"]

    def test_non_zero_exit_fails_the_branch_with_the_task_as_cause(self) -> None:
        branch = definition()["States"]["Run"]["Branches"][0]["States"]
        # the job's container by name, not by position
        assert branch["RunTask"]["ResultSelector"] == {"Task.$": "$",
                                                       "Matches.$": "$.Containers[?(@.Name == 'report')]"}
        assert branch["MainContainer"]["Parameters"]["Container.$"] == "States.ArrayGetItem($.Matches, 0)"
        rule = branch["ExitCode"]["Choices"][0]
        assert rule["And"][0] == {"Variable": "$.Container.ExitCode", "IsPresent": True}
        assert rule["Next"] == "Exited" and branch["ExitCode"]["Default"] == "NonZeroExit"
        assert branch["NonZeroExit"] == {"Type": "Fail", "Error": "Job.NonZeroExit",
                                         "CausePath": "States.JsonToString($.Task)"}

    def test_alert_path_only_with_a_topic(self) -> None:
        with_topic, without = definition(), definition(spec(topic=None))
        assert with_topic["States"]["Run"]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Failure"}]
        publishes = [s for s in with_topic["States"].values() if s.get("Resource") == "arn:aws:states:::sns:publish"]
        assert len(publishes) == 3 and all(p["Parameters"]["TopicArn"] == TOPIC and p["Next"] == "Failed"
                                           for p in publishes)
        assert with_topic["States"]["Failed"]["Type"] == "Fail"
        assert set(without["States"]) == {"Run"} and "Catch" not in without["States"]["Run"]

    def test_partition_in_resources(self) -> None:
        gov = StackContext("private-fargate", "dev", "us-gov-west-1", ACCOUNT, "aws-us-gov")
        doc = definition(sm.RunnerSpec(gov, "report", "f", "c", "e", "t", "/ecs/x", 10, 0, SPOT, topic_arn=TOPIC))
        assert run_task_state(doc)["Resource"] == "arn:aws-us-gov:states:::ecs:runTask.sync"
        assert doc["States"]["AlertWithExitCode"]["Resource"] == "arn:aws-us-gov:states:::sns:publish"

    def test_intrinsic_literals_are_escaped(self) -> None:
        text = sm.intrinsic_format("a {} it's {x} \\ {}", "$.a", "$.b")
        assert text == "States.Format('a {} it\\'s \\{x\\} \\\\ {}', $.a, $.b)"
        with pytest.raises(ValueError):
            sm.intrinsic_format("{}", "$.a", "$.b")

    def test_transitions_of_a_successful_run(self) -> None:
        # Run (Parallel) + RunTask, MainContainer, ExitCode, Exited in its branch
        assert sm.transitions_per_run(definition()) == 5 == sm.transitions_per_run(definition(spec(topic=None)))


@pytest.fixture(scope="module")
def moto_sfn_env() -> Iterator[moto_sfn.Infrastructure]:
    yield from moto_sfn.environment()


class TestExecution:
    """One execution in moto's Step Functions interpreter; the test stops each task with an exit code."""

    def run(self, infra: moto_sfn.Infrastructure, codes: list[int | None | tuple[int, str]],
            **kwargs: Any) -> moto_sfn.Execution:
        s = spec(topic=infra.topic, **kwargs)
        result = moto_sfn.execute(infra, sm.definition(s, [infra.subnet], [infra.group], infra.task_definition), codes)
        result.alerts = infra.alerts()
        return result

    def test_success_after_one_retry(self, moto_sfn_env: moto_sfn.Infrastructure) -> None:
        result = self.run(moto_sfn_env, [3, 0], retries=1)
        assert result.status == "SUCCEEDED" and [t["exit"] for t in result.tasks] == [3, 0]
        assert all(t["group"] == "state-machine:report" and t["capacity"] == "FARGATE_SPOT" for t in result.tasks)
        assert result.alerts == []

    def test_a_spot_interruption_that_exits_0_is_retried(self, moto_sfn_env: moto_sfn.Infrastructure) -> None:
        """An app that exits 0 on SIGTERM when spot capacity is reclaimed did not finish its work."""
        result = self.run(moto_sfn_env, [(0, "SpotInterruption"), 0], retries=1)
        assert result.status == "SUCCEEDED" and len(result.tasks) == 2 and result.alerts == []
        result = self.run(moto_sfn_env, [(0, "SpotInterruption")], retries=0)
        assert result.status == "FAILED" and result.error == "Job.NonZeroExit"
        (alert,) = result.alerts
        assert ("failed (Job.NonZeroExit): the task stopped with SpotInterruption before its container finished "
                "(exit code 0)") in alert["Message"]

    def test_final_failure_alerts_once_with_the_exit_code(self, moto_sfn_env: moto_sfn.Infrastructure) -> None:
        result = self.run(moto_sfn_env, [3, 4], retries=1)
        assert result.status == "FAILED" and result.error == "Job.NonZeroExit"
        assert [t["exit"] for t in result.tasks] == [3, 4]
        (alert,) = result.alerts
        task_id = result.tasks[-1]["arn"].rsplit("/", 1)[-1]
        assert alert["Subject"] == "private-fargate-dev: job report failed"
        assert "Job report of private-fargate-dev failed (Job.NonZeroExit): exit code 4" in alert["Message"]
        assert f"log-events/report$252Freport$252F{task_id} " in alert["Message"]
        assert "states/home?region=us-east-1#/v2/executions/details/arn:aws:states:" in alert["Message"]

    def test_no_retry_when_none_allowed(self, moto_sfn_env: moto_sfn.Infrastructure) -> None:
        result = self.run(moto_sfn_env, [1, 0], retries=0)
        assert result.status == "FAILED" and len(result.tasks) == 1 and len(result.alerts) == 1

    def test_a_container_that_never_exited_alerts_without_a_code(self, moto_sfn_env: moto_sfn.Infrastructure) -> None:
        result = self.run(moto_sfn_env, [None], retries=0)
        assert result.status == "FAILED" and result.error == "Job.NonZeroExit"
        (alert,) = result.alerts
        assert "failed (Job.NonZeroExit) without an exit code" in alert["Message"]
        assert "logStreamNameFilter$3Dreport$252Freport$252F" in alert["Message"]


def statements(run: Registered, name: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(run.one(ROLE_POLICY, name)["inputs"]["policy"])["Statement"]}


@pytest.fixture(scope="module")
def dev() -> Registered:
    return shipped("dev")


@pytest.fixture(scope="module")
def alerted_up() -> Registered:
    settings = copy.deepcopy(stack_settings("dev"))
    settings["jobs"][0].update(timeoutMinutes=20, retryOnFailure=2, exec=True)
    return program({**settings, "alerts": {"email": ["oncall@example.com"]}}, mode="up")


class TestResources:
    def test_machine_logs_executions_to_its_own_group(self, dev: Registered) -> None:
        machine = dev.one(STATE_MACHINE)["inputs"]
        group = dev.one(LOG_GROUP, "job-report-runner-logs")
        assert group["inputs"]["name"] == "/aws/vendedlogs/states/private-fargate/dev/report"
        assert group["inputs"]["retentionInDays"] == 14  # the stack's logs.retentionDays
        assert machine["loggingConfiguration"] == {
            "logDestination": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/vendedlogs/states/private-fargate/dev/"
                              "report:*", "includeExecutionData": True, "level": "ALL"}
        assert (machine["name"], machine["type"]) == ("private-fargate-dev-report", "STANDARD")
        assert {group["urn"], dev.one(ROLE_POLICY, "job-report-runner-role")["urn"]} <= set(
            dev.one(STATE_MACHINE)["dependencies"])

    def test_definition_unknown_at_a_first_preview_but_its_role_known(self, dev: Registered) -> None:
        assert dev.one(STATE_MACHINE)["inputs"]["definition"] == UNKNOWN  # it names subnet and group ids
        assert UNKNOWN not in dev.one(ROLE_POLICY, "job-report-runner-role")["inputs"]["policy"]
        deps = dev.one(STATE_MACHINE)["propertyDependencies"]["definition"]
        assert dev.one(TASK_DEF, "job-report-task")["urn"] in deps and dev.one(SG, "job-report-sg")["urn"] in deps

    def test_definition_after_up_is_the_builders(self, alerted_up: Registered) -> None:
        run = alerted_up
        doc = json.loads(run.one(STATE_MACHINE)["inputs"]["definition"])
        subnets = [s["id"] for s in run.of_type(SUBNET)]
        params = run_task_state(doc)["Parameters"]
        assert params["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"] == subnets
        # its own group, and the clients group (the dev stack has a service to reach by name)
        assert params["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"] == [
            run.one(SG, "job-report-sg")["id"], run.outputs["clientsSecurityGroupId"]]
        assert params["TaskDefinition"] == run.one(TASK_DEF, "job-report-task")["outputs"]["arn"]
        assert params["EnableExecuteCommand"] is True and run_task_state(doc)["TimeoutSeconds"] == 1200
        assert doc["States"]["Run"]["Retry"][0]["MaxAttempts"] == 2
        topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:private-fargate-dev-alerts"
        assert doc["States"]["AlertWithExitCode"]["Parameters"]["TopicArn"] == topic
        AmazonStateLanguageParser.parse(json.dumps(doc))

    def test_runner_waits_for_the_cluster(self, dev: Registered) -> None:
        assert dev.one(CAPACITY)["urn"] in dev.one(STATE_MACHINE)["dependencies"]

    def test_role_is_what_run_task_sync_needs(self, alerted_up: Registered) -> None:
        st = statements(alerted_up, "job-report-runner-role")
        tasks = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/private-fargate-dev/*"
        assert st["RunTheJob"]["Action"] == ["ecs:RunTask"]
        assert st["RunTheJob"]["Resource"] == [
            f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/private-fargate-dev-report:*"]
        assert st["RunTheJob"]["Condition"] == {
            "ArnEquals": {"ecs:cluster": f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/private-fargate-dev"}}
        assert (st["FollowItsTasks"]["Action"], st["FollowItsTasks"]["Resource"]) == (
            ["ecs:DescribeTasks", "ecs:StopTask"], [tasks])
        assert st["TagItsTasks"]["Condition"] == {"StringEquals": {"ecs:CreateAction": "RunTask"}}
        roles = sorted(r["outputs"]["arn"] for r in alerted_up.of_type(ROLE)
                       if r["name"] in ("job-report-execution", "job-report-task"))
        assert sorted(st["PassItsRoles"]["Resource"]) == roles
        assert st["PassItsRoles"]["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
        assert st["LearnWhenTasksStop"]["Resource"] == [
            f"arn:aws:events:us-east-1:{ACCOUNT}:rule/StepFunctionsGetEventsForECSTaskRule"]
        assert st["DeliverExecutionLogs"]["Resource"] == ["*"]
        assert set(st["DeliverExecutionLogs"]["Action"]) <= set(UNSCOPED_ACTIONS)
        assert st["PublishAlerts"] == {"Sid": "PublishAlerts", "Effect": "Allow", "Action": ["sns:Publish"],
                                       "Resource": [f"arn:aws:sns:us-east-1:{ACCOUNT}:private-fargate-dev-alerts"]}
        assert "PublishAlerts" not in statements(shipped("dev"), "job-report-runner-role")

    def test_trust_is_this_machine_only(self, dev: Registered) -> None:
        (trust,) = json.loads(dev.one(ROLE, "job-report-runner-role")["inputs"]["assumeRolePolicy"])["Statement"]
        assert trust["Principal"] == {"Service": "states.amazonaws.com"}
        assert trust["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:private-fargate-dev-report"}}


def test_prod_runs_its_job_with_a_timeout_and_one_retry() -> None:
    run = shipped("prod", "up")
    doc = json.loads(run.one(STATE_MACHINE)["inputs"]["definition"])
    assert run_task_state(doc)["TimeoutSeconds"] == 45 * 60
    assert doc["States"]["Run"]["Retry"][0]["MaxAttempts"] == 1
    assert run_task_state(doc)["Parameters"]["CapacityProviderStrategy"] == [
        {"CapacityProvider": "FARGATE_SPOT", "Weight": 1, "Base": 0}]
    schedule = run.one("aws:scheduler/schedule:Schedule")
    assert schedule["inputs"]["target"]["arn"] == run.one(STATE_MACHINE)["outputs"]["arn"]
