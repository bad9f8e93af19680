"""Alerts: hear about a job that fails, a deployment that rolls back, a queue of missed runs, a thin service.

With the `alerts` setting the stack gets an encrypted SNS topic (or uses the given one) with email
subscriptions, and these signals published to it: EventBridge rules on jobs whose task stopped with
a non-zero exit code or an abnormal stop code (runs started outside the job's state machine: the
machine alerts on its own runs, once), on job state machine executions that were aborted or timed
out (which no Catch sees), and on failed (rolled back) service deployments, each turned into a
readable message; CloudWatch alarms on each schedule's dead-letter queue and on each service running
fewer tasks than its minimum. Only this account's EventBridge rules and CloudWatch alarms of this
stack, and its job state machines' roles, may publish to the topic.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.naming import physical_name, state_machine_group
from settings import AlertsSettings

#: The stop code of a task whose essential container exited by itself (its exit code then tells).
NORMAL_STOP = "EssentialContainerExited"


@dataclass(frozen=True)
class JobSignal:
    """What the alerts need to know of a job."""

    name: str
    family: str
    log_group: str
    log_stream_prefix: str
    dead_letter_queue: str | None = None
    state_machine_arn: str | None = None
    state_machine_role: str | None = None


@dataclass(frozen=True)
class ServiceSignal:
    """What the alerts need to know of a service: its name and the fewest tasks it should run."""

    name: str
    minimum: int


@dataclass(frozen=True)
class AlertsArgs:
    """Inputs of Alerts: where to send (emails, or an existing topic), what to watch, tags."""

    context: StackContext
    cluster_name: str
    emails: Sequence[str] = ()
    topic_arn: str | None = None
    jobs: Sequence[JobSignal] = ()
    services: Sequence[ServiceSignal] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    after: Sequence[pulumi.Resource] = ()

    @property
    def cluster_arn(self) -> str:
        """The cluster's ARN."""
        return self.context.arn("ecs", f"cluster/{self.cluster_name}")


def topic_name(context: StackContext) -> str:
    """The name of the topic the stack creates: `<project>-<stack>-alerts`."""
    return physical_name(context.prefix, "alerts", max_len=64)


def alerts_topic_arn(context: StackContext, settings: AlertsSettings | None) -> str | None:
    """Where alerts go, known at preview: the given topic, the stack's own, or None without `alerts`."""
    if settings is None:
        return None
    return settings.sns_topic_arn or context.arn("sns", topic_name(context))


def job_failure_pattern(args: AlertsArgs, job: JobSignal) -> dict:
    """ECS task-state events of this job's tasks that stopped badly: non-zero exit, or an abnormal stop.

    Runs of the job's state machine are left out by their task group (the ECS event carries `group`:
    AmazonECS/latest/developerguide/ecs_task_events.html): the machine retries them and alerts once.
    """
    detail: dict = {
        "clusterArn": [args.cluster_arn],
        "lastStatus": ["STOPPED"],
        "taskDefinitionArn": [{"prefix": args.context.arn("ecs", f"task-definition/{job.family}:")}],
        "$or": [{"containers": {"exitCode": [{"anything-but": 0}]}},
                {"stopCode": [{"anything-but": NORMAL_STOP}]}],
    }
    if job.state_machine_arn:
        detail["group"] = [{"anything-but": state_machine_group(job.name)}]
    return {"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"], "detail": detail}


def execution_pattern(args: AlertsArgs) -> dict:
    """Job state machine executions that were aborted or timed out: a Catch never runs for those
    (Step Functions "Execution Status Change" events: step-functions/latest/dg/cw-events.html)."""
    return {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["ABORTED", "TIMED_OUT"],
                   "stateMachineArn": [j.state_machine_arn for j in args.jobs if j.state_machine_arn]},
    }


def execution_message(args: AlertsArgs) -> dict:
    """The input transformer of the execution rule."""
    return {
        "input_paths": {"machine": "$.detail.stateMachineArn", "execution": "$.detail.executionArn",
                        "status": "$.detail.status", "time": "$.time"},
        "input_template": json.dumps(
            f"A job run of {args.context.prefix} ended <status> at <time> (state machine <machine>); no retry or alert "
            "of the machine ran. Execution: <execution>"),
    }


def deployment_failure_pattern(args: AlertsArgs) -> dict:
    """ECS deployment events of the stack's services that failed (the circuit breaker rolled them back)."""
    return {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Deployment State Change"],
        "resources": [args.context.arn("ecs", f"service/{args.cluster_name}/{s.name}") for s in args.services],
        "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]},
    }


def log_streams_link(region: str, group: str, stream_prefix: str) -> str:
    """A console link to a log group's streams that start with `stream_prefix` (newest first)."""
    def encode(text: str) -> str:  # the console's hash route encodes '%' as '$25'
        return urllib.parse.quote(text, safe="").replace("%", "$25")

    return (f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/"
            f"log-group/{encode(group)}$3FlogStreamNameFilter$3D{encode(stream_prefix)}")


def job_message(args: AlertsArgs, job: JobSignal) -> dict:
    """The input transformer of a job-failure rule: a one-paragraph message with the log link."""
    link = log_streams_link(args.context.region, job.log_group, f"{job.log_stream_prefix}/{job.name}/")
    return {
        "input_paths": {"task": "$.detail.taskArn", "exitCode": "$.detail.containers[0].exitCode",
                        "stopCode": "$.detail.stopCode", "reason": "$.detail.stoppedReason", "time": "$.time"},
        "input_template": json.dumps(
            f"Job {job.name} of {args.context.prefix} failed at <time>: exit code <exitCode>, stop code <stopCode> "
            f"(<reason>). Task <task>. Logs: {link}"),
    }


def deployment_message(args: AlertsArgs) -> dict:
    """The input transformer of the deployment rule."""
    return {
        "input_paths": {"service": "$.resources[0]", "reason": "$.detail.reason", "time": "$.time"},
        "input_template": json.dumps(
            f"Deployment of <service> in {args.context.prefix} failed at <time> and was rolled back: <reason>"),
    }


def topic_policy(context: StackContext, topic_arn: str) -> str:
    """Only this stack's EventBridge rules and CloudWatch alarms may publish, over TLS; the account manages
    the topic."""
    p, r, a = context.partition, context.region, context.account
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "StackRulesPublish", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
         "Action": "sns:Publish", "Resource": topic_arn,
         "Condition": {"StringEquals": {"aws:SourceAccount": a},
                       "ArnLike": {"aws:SourceArn": f"arn:{p}:events:{r}:{a}:rule/{context.prefix}-*"}}},
        {"Sid": "StackAlarmsPublish", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": "sns:Publish", "Resource": topic_arn,
         "Condition": {"StringEquals": {"aws:SourceAccount": a},
                       "ArnLike": {"aws:SourceArn": f"arn:{p}:cloudwatch:{r}:{a}:alarm:{context.prefix}-*"}}},
        {"Sid": "AccountManages", "Effect": "Allow", "Principal": {"AWS": f"arn:{p}:iam::{a}:root"},
         "Action": ["sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe",
                    "sns:ListSubscriptionsByTopic", "sns:DeleteTopic"], "Resource": topic_arn},
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish",
         "Resource": topic_arn, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]})


def key_policy(context: StackContext, role_arns: Sequence[str] = ()) -> str:
    """The topic key: the account administers it; EventBridge and CloudWatch may encrypt for the topic, and so
    may the job state machines' roles, through SNS only (a publisher to an encrypted topic needs
    kms:GenerateDataKey and kms:Decrypt: sns/latest/dg/sns-key-management.html)."""
    root = f"arn:{context.partition}:iam::{context.account}:root"
    roles = [{"Sid": "StateMachinesEncrypt", "Effect": "Allow", "Principal": {"AWS": sorted(role_arns)},
              "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
              "Condition": {"StringEquals": {"kms:ViaService": f"sns.{context.region}.{context.dns_suffix}"}}}]
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*",
         "Resource": "*"},
        # No source conditions here: EventBridge's delivery to an encrypted topic does not carry them
        # to KMS. Who may publish at all is limited by the topic policy.
        {"Sid": "PublishersEncrypt", "Effect": "Allow",
         "Principal": {"Service": ["events.amazonaws.com", "cloudwatch.amazonaws.com"]},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"},
        *(roles if role_arns else []),
    ]})


class Alerts(pulumi.ComponentResource):
    """The alerting of a stack: topic (or the given one), email subscriptions, event rules and alarms.

    Attribute: topic_arn.
    """

    def __init__(self, name: str, args: AlertsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:alerts:Alerts", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self.topic_arn: pulumi.Input[str] = args.topic_arn or self._create_topic()
        for i, email in enumerate(args.emails):
            aws.sns.TopicSubscription(f"{name}-email-{i}", topic=self.topic_arn, protocol="email", endpoint=email,
                                      opts=self._child)
        for job in args.jobs:
            self._rule(f"job-{job.name}", f"{job.name} failed", job_failure_pattern(args, job),
                       job_message(args, job))
            if job.dead_letter_queue:
                self._dead_letter_alarm(job)
        if any(job.state_machine_arn for job in args.jobs):
            self._rule("job-executions", "job runs aborted or timed out", execution_pattern(args),
                       execution_message(args))
        if args.services:
            self._rule("deployments", "service deployments rolled back", deployment_failure_pattern(args),
                       deployment_message(args))
        for service in args.services:
            if service.minimum > 0:
                self._running_tasks_alarm(service)
        self.register_outputs({"topicArn": self.topic_arn})

    def _label(self, *parts: str) -> str:
        return physical_name(self._args.context.prefix, *parts, max_len=64)

    def _create_topic(self) -> pulumi.Output[str]:
        ctx, args = self._args.context, self._args
        publishers = [ctx.arn("iam", f"role/{j.state_machine_role}", regional=False)
                      for j in args.jobs if j.state_machine_role]
        # KMS refuses a key policy that names a role that does not exist yet: the job state machines' roles first.
        key = aws.kms.Key(f"{self._name}-key", description=f"SNS alerts of {ctx.prefix}", enable_key_rotation=True,
                          deletion_window_in_days=7, policy=key_policy(ctx, publishers),
                          tags={**args.tags, "Name": ctx.prefix},
                          opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)))
        name = topic_name(ctx)
        topic = aws.sns.Topic(f"{self._name}-topic", name=name, kms_master_key_id=key.arn,
                              tags={**args.tags, "Name": name}, opts=self._child)
        aws.sns.TopicPolicy(f"{self._name}-topic", arn=topic.arn,
                            policy=topic_policy(ctx, ctx.arn("sns", name)), opts=self._child)
        return topic.arn

    def _rule(self, suffix: str, description: str, pattern: dict, transformer: dict) -> None:
        rule = aws.cloudwatch.EventRule(f"{self._name}-{suffix}", name=self._label(suffix),
                                        description=f"{self._args.context.prefix}: {description}",
                                        event_pattern=json.dumps(pattern), tags=dict(self._args.tags),
                                        opts=self._child)
        aws.cloudwatch.EventTarget(f"{self._name}-{suffix}", rule=rule.name, arn=self.topic_arn,
                                   input_transformer=transformer, opts=self._child)

    def _dead_letter_alarm(self, job: JobSignal) -> None:
        aws.cloudwatch.MetricAlarm(
            f"{self._name}-dlq-{job.name}", name=self._label(job.name, "missed-runs"),
            alarm_description=f"Scheduler could not start job {job.name}: invocations reached its dead-letter queue",
            namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": job.dead_letter_queue}, statistic="Maximum", period=300, evaluation_periods=1,
            threshold=0, comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching",
            alarm_actions=[self.topic_arn], ok_actions=[self.topic_arn], tags=dict(self._args.tags),
            opts=self._child)

    def _running_tasks_alarm(self, service: ServiceSignal) -> None:
        aws.cloudwatch.MetricAlarm(
            f"{self._name}-tasks-{service.name}", name=self._label(service.name, "running-tasks"),
            alarm_description=f"Service {service.name} runs fewer than {service.minimum} task(s) for 5 minutes",
            namespace="ECS/ContainerInsights", metric_name="RunningTaskCount",
            dimensions={"ClusterName": self._args.cluster_name, "ServiceName": service.name}, statistic="Minimum",
            period=60, evaluation_periods=5, datapoints_to_alarm=5, threshold=service.minimum,
            comparison_operator="LessThanThreshold", treat_missing_data="breaching",
            alarm_actions=[self.topic_arn], ok_actions=[self.topic_arn], tags=dict(self._args.tags),
            opts=self._child)
