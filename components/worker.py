"""FargateWorker: a service that drains an SQS queue the stack creates, scaled on its backlog from zero tasks.

The worker is a workload like any other (components/workload.py: task definition, roles, log group,
security group) whose container gets `QUEUE_URL`. Its queue and dead-letter queue are encrypted and
TLS-only (components/queues.py); a message received `maxReceiveCount` times moves to the DLQ. The
task role may receive, delete and hide messages of its own queue and read its attributes, and set
scale-in protection on the cluster's tasks: the ECS agent's endpoint `$ECS_AGENT_URI/task-protection/v1/state`
calls GetTaskProtection/UpdateTaskProtection with the task role's credentials
(AmazonECS/latest/developerguide/task-scale-in-protection.html, "IAM permissions"), which the CDK
grants on `task/<cluster>/*` as well. How it scales is in components/worker_scaling.py; alarms on
the DLQ's depth and the oldest message's age go to the alerts topic when there is one.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pulumi
import pulumi_aws as aws

from components.iam import document, statement
from components.migration import before_deploy
from components.naming import scoped_alarm_name, scoped_queue_name
from components.platform import WorkloadArgs
from components.queues import create_queue, queue_url
from components.worker_scaling import LOW_BACKLOG_MINUTES, PERIOD, WorkerMetrics
from components.workload import WorkloadParts, create_workload, ecs_service_args, scaling_target
from settings import WorkerSettings
from settings.workers import QUEUE_URL

DLQ_RETENTION_SECONDS = 14 * 24 * 3600
#: The oldest message's age that alarms: twice the visibility timeout, and at least 15 minutes.
MIN_OLDEST_MESSAGE_SECONDS = 900


def worker_queue_policy(args: WorkloadArgs, queue_arn: str) -> str:
    """Consume its own queue; protect the stack cluster's tasks from scale-in while it works."""
    tasks = args.context.arn("ecs", f"task/{args.platform.cluster_name}/*")
    return document([
        statement(["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                   "sqs:ReceiveMessage"], [queue_arn], sid="ConsumeItsQueue"),
        statement(["ecs:GetTaskProtection", "ecs:UpdateTaskProtection"], [tasks], sid="ProtectItsTasks"),
    ])


def oldest_message_threshold(worker: WorkerSettings) -> int:
    """Seconds after which the oldest visible message means the worker is not keeping up."""
    return max(MIN_OLDEST_MESSAGE_SECONDS, 2 * worker.visibility_timeout_seconds)


class FargateWorker(pulumi.ComponentResource):
    """One worker: workload parts, queue and DLQ, an ECS service, its scaling and its alarms.

    Attributes: parts, migration (the `beforeDeploy` step, or None), service, queue_name, dead_letter_queue_name,
    outputs (the `workers` stack output entry).
    """

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:worker:FargateWorker", name, None, opts)
        if not isinstance(args.workload, WorkerSettings):
            raise TypeError("FargateWorker needs a workers[] entry")
        worker: WorkerSettings = args.workload
        ctx, platform = args.context, args.platform
        self._name, self._args, self._worker = name, args, worker
        self._tags = {**args.tags, "workload": args.name}
        self.queue_name = scoped_queue_name(ctx.prefix, args.name, "queue")
        self.dead_letter_queue_name = scoped_queue_name(ctx.prefix, args.name, "dlq")
        url, queue_arn = queue_url(ctx, self.queue_name), ctx.arn("sqs", self.queue_name)
        # The container finds its queue in QUEUE_URL, like any other setting of its environment.
        with_queue = worker.model_copy(update={"environment": {**worker.environment, QUEUE_URL: url}})
        self.parts: WorkloadParts = create_workload(self, name, dataclasses.replace(args, workload=with_queue))
        dlq = create_queue(self, f"{name}-dlq", self.dead_letter_queue_name, ctx, self._tags,
                           message_retention_seconds=DLQ_RETENTION_SECONDS,
                           redrive_allow_policy=json.dumps({"redrivePermission": "byQueue",
                                                            "sourceQueueArns": [queue_arn]}))
        redrive = {"deadLetterTargetArn": ctx.arn("sqs", self.dead_letter_queue_name),
                   "maxReceiveCount": worker.max_receive_count}
        queue = create_queue(self, f"{name}-queue", self.queue_name, ctx, self._tags, after=[dlq],
                             visibility_timeout_seconds=worker.visibility_timeout_seconds,
                             redrive_policy=json.dumps(redrive))
        consume = aws.iam.RolePolicy(f"{name}-queue", role=self.parts.task_role.id,
                                     policy=worker_queue_policy(args, queue_arn),
                                     opts=pulumi.ResourceOptions(parent=self))
        # beforeDeploy: run between the new task definition and the service's move to it, as for a service
        self.migration = before_deploy(self, name, args, self.parts)
        self.service = self._create_service([queue, consume, *filter(None, [platform.cluster, self.migration])])
        self._create_scaling()
        self._create_alarms()
        self.outputs: dict[str, Any] = {**self.parts.outputs(args), "serviceName": args.name, "queueUrl": url,
                                        "queueArn": queue_arn,
                                        "deadLetterQueueUrl": queue_url(ctx, self.dead_letter_queue_name)}
        self.register_outputs(self.outputs)

    def _create_service(self, after: list[pulumi.Resource]) -> aws.ecs.Service:
        args, worker, platform = self._args, self._worker, self._args.platform
        # A protected task keeps working through a deployment: the new tasks start beside it (200 %).
        # Its own group and the clients group: the services by DNS name.
        return aws.ecs.Service(
            f"{self._name}-service", **ecs_service_args(args, self.parts, self.parts.task_security_groups(args)),
            desired_count=worker.autoscaling.min, wait_for_steady_state=platform.protect,
            tags={**self._tags, "Name": args.name},
            # The running count belongs to the scaling policies: `pulumi up` must not reset it.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCount"], depends_on=after))

    def _create_scaling(self) -> None:
        args, scaling = self._args, self._worker.autoscaling
        ctx, child = args.context, pulumi.ResourceOptions(parent=self)
        metrics = WorkerMetrics(self.queue_name, args.platform.cluster_name, args.name, scaling.messages_per_task)
        target = scaling_target(self, self._name, args, scaling.min, scaling.max, self.service)
        scalable = {"service_namespace": target.service_namespace, "scalable_dimension": target.scalable_dimension,
                    "resource_id": target.resource_id}
        aws.appautoscaling.Policy(
            f"{self._name}-backlog", name=f"{args.family}.backlog", policy_type="TargetTrackingScaling", **scalable,
            target_tracking_scaling_policy_configuration={
                "target_value": scaling.messages_per_task, "disable_scale_in": True, "scale_out_cooldown": PERIOD,
                "customized_metric_specification": {"metrics": metrics.backlog_per_task()}},
            opts=child)
        # Each alarm watches a signal that is 1 when its step applies; a worker with min >= 1 never starts at 0.
        steps = [("from-zero", "ExactCapacity", 1, metrics.from_zero(), 1, PERIOD)] if scaling.min == 0 else []
        steps += [("one-fewer", "ChangeInCapacity", -1, metrics.one_fewer(), LOW_BACKLOG_MINUTES, 300),
                  ("idle", "ExactCapacity", scaling.min, metrics.idle(), scaling.scale_in_idle_minutes, PERIOD)]
        for kind, adjustment, value, queries, minutes, cooldown in steps:
            policy = aws.appautoscaling.Policy(
                f"{self._name}-{kind}", name=f"{args.family}.{kind}", policy_type="StepScaling", **scalable,
                step_scaling_policy_configuration={
                    "adjustment_type": adjustment, "cooldown": cooldown, "metric_aggregation_type": "Maximum",
                    "step_adjustments": [{"metric_interval_lower_bound": "0", "scaling_adjustment": value}]},
                opts=child)
            aws.cloudwatch.MetricAlarm(
                f"{self._name}-{kind}", name=scoped_alarm_name(ctx.prefix, args.name, kind),
                alarm_description=f"worker {args.name}: {queries[-1]['label']} ({kind} scaling)",
                metric_queries=queries, evaluation_periods=minutes, datapoints_to_alarm=minutes, threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching",
                alarm_actions=[policy.arn], tags=self._tags, opts=child)

    def _create_alarms(self) -> None:
        """The DLQ holds messages (poison), or the oldest message waits too long (the worker is behind)."""
        args, ctx, worker = self._args, self._args.context, self._worker
        topic = args.platform.alerts_topic_arn
        actions = {"alarm_actions": [topic], "ok_actions": [topic]} if topic else {}
        child = pulumi.ResourceOptions(parent=self)
        oldest = oldest_message_threshold(worker)
        for kind, queue, metric, threshold, text in (
                ("dlq-depth", self.dead_letter_queue_name, "ApproximateNumberOfMessagesVisible", 0,
                 f"messages of worker {args.name} failed {worker.max_receive_count} times and are in its dead-letter "
                 "queue"),
                ("oldest-message", self.queue_name, "ApproximateAgeOfOldestMessage", oldest,
                 f"the oldest message for worker {args.name} waits more than {oldest} s")):
            aws.cloudwatch.MetricAlarm(
                f"{self._name}-{kind}", name=scoped_alarm_name(ctx.prefix, args.name, kind), alarm_description=text,
                namespace="AWS/SQS", metric_name=metric, dimensions={"QueueName": queue}, statistic="Maximum",
                period=300, evaluation_periods=1, threshold=threshold, comparison_operator="GreaterThanThreshold",
                treat_missing_data="notBreaching", tags=self._tags, opts=child, **actions)
