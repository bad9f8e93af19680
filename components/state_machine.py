"""A job's Step Functions state machine as plain data: its definition and its role's documents.

The machine runs the job's task with the optimized ECS integration `ecs:runTask.sync`, which waits
until the task stops (step-functions/latest/dg/connect-ecs.html). Its Task state has the job's
timeout. A non-zero exit is a failure either way: the integration fails the state with
`States.TaskFailed` (what Copilot's maintainers observed, aws/copilot-cli#3160), and a Choice on the
job container's exit code fails the run with `Job.NonZeroExit` should it not. Both sit in a one-branch
Parallel state, whose Retry (backoff, up to `retryOnFailure`) starts a new task: Retry applies to
Task, Parallel and Map states only, not to a Fail state (concepts-error-handling.html). With alerts,
a Catch publishes one message to the alerts topic and the run then fails.

Nothing here creates resources; components/job_runner.py does. Tests validate the definition with
the ASL parser moto ships and the RunTask parameters with botocore's ECS model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from components.alerts import log_streams_link
from components.context import StackContext
from components.iam import UNSCOPED_ACTIONS, document, statement
from components.naming import state_machine_group

#: Errors a new attempt can fix: a task that failed or never started (States.TaskFailed, the
#: integration's failure, which also covers spot reclaims), RunTask's `Failures` such as "Capacity is
#: unavailable" (AmazonECS.Unknown, connect-ecs.html) and our own non-zero exit. A timeout is not retried:
#: a run that hangs would hang again, at twice the cost.
RETRY_ERRORS = ("States.TaskFailed", "AmazonECS.Unknown", "Job.NonZeroExit")
NON_ZERO_EXIT = "Job.NonZeroExit"
#: The task's stopCode when its essential container exited (API_Task, stopCode), as opposed to
#: SpotInterruption, TaskFailedToStart, UserInitiated...: only then is exit 0 a finished run.
ESSENTIAL_EXITED = "EssentialContainerExited"
RETRY_INTERVAL_SECONDS = 60
RETRY_MAX_DELAY_SECONDS = 900
#: The managed rule Step Functions creates to learn when a task stops (ecs-iam.html).
ECS_EVENTS_RULE = "StepFunctionsGetEventsForECSTaskRule"
#: The log-delivery actions of a state machine's role, all on "*" (components/iam.py says why).
LOG_DELIVERY = tuple(a for a in UNSCOPED_ACTIONS if a.startswith("logs:"))


@dataclass(frozen=True)
class RunnerSpec:
    """What the definition and the role need to know of one job (all plain strings: known at preview)."""

    context: StackContext
    job: str
    family: str
    cluster_name: str
    execution_role: str
    task_role: str
    log_group: str
    timeout_minutes: int
    retries: int
    capacity_strategy: Sequence[dict[str, Any]] = field(default_factory=list)
    exec: bool = False
    topic_arn: str | None = None

    @property
    def name(self) -> str:
        """The state machine's name: `<project>-<stack>-<job>` (Step Functions allows 80 characters)."""
        return f"{self.context.prefix}-{self.job}"[:80]

    @property
    def arn(self) -> str:
        """The state machine's ARN, known before it exists."""
        return self.context.arn("states", f"stateMachine:{self.name}")

    @property
    def cluster_arn(self) -> str:
        """The cluster the job's tasks run in."""
        return self.context.arn("ecs", f"cluster/{self.cluster_name}")

    @property
    def group(self) -> str:
        """The ECS task group of runs started by the machine; the per-task alert rule leaves them out."""
        return state_machine_group(self.job)

    @property
    def log_group_name(self) -> str:
        """Execution logs under /aws/vendedlogs/states/: Step Functions then never fills the account's
        CloudWatch Logs resource policy (5,120 characters; step-functions/latest/dg/bp-cwl.html), and the
        name can never be a workload's /ecs/... group."""
        return f"/aws/vendedlogs/states/{self.context.project}/{self.context.stack}/{self.job}"


def run_task_parameters(spec: RunnerSpec, subnets: Sequence[str], security_groups: Sequence[str],
                        task_definition_arn: str) -> dict[str, Any]:
    """The RunTask request in Step Functions' PascalCase: private subnets, no public IP, the job's capacity.

    CapacityProviderStrategy: the RunTask API takes it (API_RunTask.html), and AWS's CDK passes it to this
    integration (docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_stepfunctions_tasks.CapacityProviderOptions.html).
    Were it ever ignored, RunTask would fall back to the cluster's default strategy, FARGATE.
    """
    return {
        "Cluster": spec.cluster_arn,
        "TaskDefinition": task_definition_arn,
        "CapacityProviderStrategy": [{"CapacityProvider": s["capacityProvider"], "Weight": s["weight"],
                                      "Base": s["base"]} for s in spec.capacity_strategy],
        "PlatformVersion": "LATEST",
        "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": list(subnets),
                                                         "SecurityGroups": list(security_groups),
                                                         "AssignPublicIp": "DISABLED"}},
        "Group": spec.group,
        "PropagateTags": "TASK_DEFINITION",
        "EnableECSManagedTags": True,
        "EnableExecuteCommand": spec.exec,
    }


def intrinsic_format(template: str, *args: str) -> str:
    """`States.Format('<template>', args...)`: the template's `{}` are the placeholders; every other ', {, } and \\
    in it is escaped, as intrinsic string literals require (amazon-states-language-intrinsic-functions.html)."""
    pieces = template.split("{}")
    escaped = []
    for piece in pieces:
        for char in ("\\", "'", "{", "}"):
            piece = piece.replace(char, "\\" + char)
        escaped.append(piece)
    if len(pieces) - 1 != len(args):
        raise ValueError(f"{len(pieces) - 1} placeholders for {len(args)} arguments")
    return "States.Format('" + "{}".join(escaped) + "'" + "".join(f", {a}" for a in args) + ")"


def _console_link(region: str, route: str) -> str:
    return f"https://{region}.console.aws.amazon.com/{route.format(region=region)}"


def _encode(text: str) -> str:
    """The CloudWatch console's hash route encodes '%' as '$25' (as components/alerts.py does)."""
    return quote(text, safe="").replace("%", "$25")


def _alert_states(spec: RunnerSpec) -> dict[str, Any]:
    """Failure -> (read the stopped task) -> one SNS message -> Failed."""
    ctx, job = spec.context, spec.job
    region = ctx.region
    stream = _console_link(region, "cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
                           f"{_encode(spec.log_group)}/log-events/{_encode(f'{job}/{job}/')}")
    streams = log_streams_link(region, spec.log_group, f"{job}/{job}/")
    execution = _console_link(region, "states/home?region={region}#/v2/executions/details/")
    head = f"Job {job} of {ctx.prefix} failed"
    retries = f"{spec.retries} retr{'y' if spec.retries == 1 else 'ies'} allowed"
    task_id = "States.ArrayGetItem(States.StringSplit($.stopped.Task.TaskArn, '/'), 2)"
    exit_message = intrinsic_format(
        f"{head} ({{}}): exit code {{}}, task {{}} ({retries}). Logs: {stream}{{}} . Execution: {execution}{{}}",
        "$.failure.Error", "$.exit.Container.ExitCode", "$.stopped.Task.TaskArn", task_id,
        "$$.Execution.Id")
    stopped_message = intrinsic_format(
        f"{head} ({{}}): the task stopped with {{}} before its container finished (exit code {{}}), task {{}} "
        f"({retries}). Logs: {stream}{{}} . Execution: {execution}{{}}",
        "$.failure.Error", "$.stopped.Task.StopCode", "$.exit.Container.ExitCode", "$.stopped.Task.TaskArn", task_id,
        "$$.Execution.Id")
    plain_message = intrinsic_format(
        f"{head} ({{}}) without an exit code: the task did not start, was stopped or timed out ({retries}). "
        f"Logs: {streams} . Execution: {execution}{{}}", "$.failure.Error", "$$.Execution.Id")
    publish = f"arn:{ctx.partition}:states:::sns:publish"
    subject = f"{ctx.prefix}: job {job} failed"[:99]

    def alert(message: str) -> dict[str, Any]:
        return {"Type": "Task", "Resource": publish,
                "Parameters": {"TopicArn": spec.topic_arn, "Subject": subject, "Message.$": message},
                "ResultPath": None, "Next": "Failed",
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "Failed"}]}

    task_failed = [{"Variable": "$.failure.Error", "StringEquals": e} for e in ("States.TaskFailed", NON_ZERO_EXIT)]
    return {
        "Failure": {"Type": "Choice", "Choices": [{
            "And": [{"Variable": "$.failure.Cause", "IsPresent": True},
                    {"Variable": "$.failure.Cause", "StringMatches": "{*}"},
                    {"Or": task_failed}],
            "Next": "ReadTask"}], "Default": "AlertWithoutExitCode"},
        # The cause of a failed ECS task is its description as JSON; our own Job.NonZeroExit is made so.
        "ReadTask": {"Type": "Pass", "Parameters": {"Task.$": "States.StringToJson($.failure.Cause)"},
                     "ResultPath": "$.stopped", "Next": "HasContainers"},
        "HasContainers": {"Type": "Choice", "Choices": [{
            "And": [{"Variable": "$.stopped.Task.Containers", "IsPresent": True},
                    {"Variable": "$.stopped.Task.TaskArn", "IsPresent": True}],
            "Next": "FindContainer"}], "Default": "AlertWithoutExitCode"},
        "FindContainer": {"Type": "Pass", "Parameters": {"Matches.$": container_path(job, "$.stopped.Task")},
                          "ResultPath": "$.found", "Next": "HasContainer"},
        "HasContainer": {"Type": "Choice", "Choices": [
            {"Variable": "$.found.Matches[0]", "IsPresent": True, "Next": "ReadExitCode"}],
            "Default": "AlertWithoutExitCode"},
        "ReadExitCode": {"Type": "Pass", "Parameters": {"Container.$": "States.ArrayGetItem($.found.Matches, 0)"},
                         "ResultPath": "$.exit", "Next": "HasExitCode"},
        # A container that exited because its task was stopped (a spot reclaim) says so, not just "exit code 0".
        "HasExitCode": {"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.exit.Container.ExitCode", "IsPresent": True},
                     {"Variable": "$.stopped.Task.StopCode", "IsPresent": True},
                     {"Not": {"Variable": "$.stopped.Task.StopCode", "StringEquals": ESSENTIAL_EXITED}}],
             "Next": "AlertStopped"},
            {"Variable": "$.exit.Container.ExitCode", "IsPresent": True, "Next": "AlertWithExitCode"}],
            "Default": "AlertWithoutExitCode"},
        "AlertStopped": alert(stopped_message),
        "AlertWithExitCode": alert(exit_message),
        "AlertWithoutExitCode": alert(plain_message),
    }


def container_path(container: str, task: str) -> str:
    """The containers named `container` of the task description at `task` (a filter: a list)."""
    return f"{task}.Containers[?(@.Name == '{container}')]"


def definition(spec: RunnerSpec, subnets: Sequence[str], security_groups: Sequence[str],
               task_definition_arn: str) -> dict[str, Any]:
    """The state machine's Amazon States Language document."""
    ctx = spec.context
    run_task: dict[str, Any] = {
        "Type": "Task", "Resource": f"arn:{ctx.partition}:states:::ecs:runTask.sync",
        "Parameters": run_task_parameters(spec, subnets, security_groups, task_definition_arn),
        "TimeoutSeconds": spec.timeout_minutes * 60, "Next": "MainContainer",
    }
    # The job's own container, by name (a task may hold more than one): a filter path gives a list,
    # whose first item an intrinsic function takes; a path never names a missing field.
    run_task["ResultSelector"] = {"Task.$": "$", "Matches.$": container_path(spec.job, "$")}
    branch = {"StartAt": "RunTask", "States": {
        "RunTask": run_task,
        "MainContainer": {"Type": "Pass", "Parameters": {"Task.$": "$.Task",
                                                         "Container.$": "States.ArrayGetItem($.Matches, 0)"},
                          "Next": "ExitCode"},
        # Success is exit 0 of a task that stopped because its essential container exited: a spot task that
        # exits 0 on SIGTERM when its capacity is reclaimed stops with SpotInterruption, and is retried.
        "ExitCode": {"Type": "Choice", "Choices": [{
            "And": [{"Variable": "$.Container.ExitCode", "IsPresent": True},
                    {"Variable": "$.Container.ExitCode", "NumericEquals": 0},
                    {"Variable": "$.Task.StopCode", "IsPresent": True},
                    {"Variable": "$.Task.StopCode", "StringEquals": ESSENTIAL_EXITED}],
            "Next": "Exited"}], "Default": "NonZeroExit"},
        "Exited": {"Type": "Succeed"},
        # The same cause as the integration's own failure: the stopped task's description as JSON.
        "NonZeroExit": {"Type": "Fail", "Error": NON_ZERO_EXIT, "CausePath": "States.JsonToString($.Task)"},
    }}
    run: dict[str, Any] = {"Type": "Parallel", "Branches": [branch], "End": True}
    if spec.retries:
        run["Retry"] = [{"ErrorEquals": list(RETRY_ERRORS), "IntervalSeconds": RETRY_INTERVAL_SECONDS,
                         "MaxAttempts": spec.retries, "BackoffRate": 2.0,
                         "MaxDelaySeconds": RETRY_MAX_DELAY_SECONDS, "JitterStrategy": "FULL"}]
    states: dict[str, Any] = {"Run": run}
    if spec.topic_arn:
        run["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Failure"}]
        states.update(_alert_states(spec))
        states["Failed"] = {"Type": "Fail", "ErrorPath": "$.failure.Error",
                            "Cause": f"job {spec.job} failed; the alert names the exit code and the logs"}
    return {"Comment": f"{spec.job} of {ctx.prefix}: one run with a timeout, retries and one alert on failure",
            "StartAt": "Run", "States": states}


def transitions_per_run(doc: dict[str, Any]) -> int:
    """State transitions of one successful run, walked from StartAt: the first Choice rule is the success
    path by construction; a Parallel counts itself and its branches (Step Functions bills each step)."""
    count, name = 0, doc["StartAt"]
    states = doc["States"]
    while name is not None:
        state = states[name]
        count += 1
        if state["Type"] == "Parallel":
            count += sum(transitions_per_run(b) for b in state["Branches"])
        if state["Type"] == "Choice":
            name = state["Choices"][0]["Next"]
        else:
            name = state.get("Next")
    return count


def role_policy(spec: RunnerSpec) -> str:
    """What runTask.sync needs (step-functions/latest/dg/ecs-iam.html), scoped to this job, plus logs and alerts."""
    ctx = spec.context
    tasks = ctx.arn("ecs", f"task/{spec.cluster_name}/*")
    statements = [
        statement(["ecs:RunTask"], [ctx.arn("ecs", f"task-definition/{spec.family}:*")], sid="RunTheJob",
                  condition={"ArnEquals": {"ecs:cluster": spec.cluster_arn}}),
        statement(["ecs:DescribeTasks", "ecs:StopTask"], [tasks], sid="FollowItsTasks"),
        statement(["ecs:TagResource"], [tasks], sid="TagItsTasks",
                  condition={"StringEquals": {"ecs:CreateAction": "RunTask"}}),
        statement(["iam:PassRole"], [ctx.arn("iam", f"role/{r}", regional=False)
                                     for r in (spec.execution_role, spec.task_role)], sid="PassItsRoles",
                  condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
        statement(["events:DescribeRule", "events:PutRule", "events:PutTargets"],
                  [ctx.arn("events", f"rule/{ECS_EVENTS_RULE}")], sid="LearnWhenTasksStop"),
        statement(LOG_DELIVERY, "*", sid="DeliverExecutionLogs"),
    ]
    if spec.topic_arn:
        statements.append(statement(["sns:Publish"], [spec.topic_arn], sid="PublishAlerts"))
    return document(statements)


def start_policy(spec: RunnerSpec, dlq_arn: str) -> str:
    """The schedule's role: start this state machine, send failed invocations to its dead-letter queue."""
    return document([statement(["states:StartExecution"], [spec.arn], sid="StartTheJob"),
                     statement(["sqs:SendMessage"], [dlq_arn], sid="DeadLetters")])


def example_definition(context: StackContext) -> dict[str, Any]:
    """A definition with placeholder ids, for what does not depend on them (the cost estimate's transitions)."""
    spec = RunnerSpec(context, "job", "family", "cluster", "execution", "task", "/ecs/job", 60, 0)
    return definition(spec, ["subnet-0"], ["sg-0"], context.arn("ecs", "task-definition/family:1"))


def dumps(doc: dict[str, Any]) -> str:
    """The definition as the StateMachine resource takes it."""
    return json.dumps(doc, indent=1)
