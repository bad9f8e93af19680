"""FargateJob: a task definition run on a schedule by EventBridge Scheduler, or on demand.

The schedule runs the task in the private subnets without a public IP, on FARGATE or
FARGATE_SPOT as the job says, with its own least-privilege role, a retry policy and an encrypted
dead-letter queue. Scheduler's retries cover failed *invocations* (RunTask refused, capacity
unavailable); a task that starts and exits non-zero is not retried by Scheduler.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.builders import capacity_strategy_inputs
from components.iam import assume_role_policy, document, statement
from components.naming import physical_name
from components.platform import WorkloadArgs
from components.workload import WorkloadParts, create_workload
from settings import JobSettings

#: How long Scheduler keeps retrying one invocation: a 03:00 job should not start at noon.
MAX_EVENT_AGE_SECONDS = 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600


def scheduler_policy(args: WorkloadArgs, dlq_arn: str) -> str:
    """Run this job's task definition on this cluster, pass its two roles, tag its tasks, use its DLQ."""
    ctx, cluster_arn = args.context, args.platform.cluster_arn
    return document([
        statement(["ecs:RunTask"], [ctx.arn("ecs", f"task-definition/{args.family}:*")], sid="RunTheJob",
                  condition={"ArnEquals": {"ecs:cluster": cluster_arn}}),
        statement(["iam:PassRole"], [args.role_arn(args.execution_role_name), args.role_arn(args.task_role_name)],
                  sid="PassItsRoles", condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
        statement(["ecs:TagResource"], [ctx.arn("ecs", f"task/{args.platform.cluster_name}/*")], sid="TagItsTasks",
                  condition={"StringEquals": {"ecs:CreateAction": "RunTask"}}),
        statement(["sqs:SendMessage"], [dlq_arn], sid="DeadLetters"),
    ])


class FargateJob(pulumi.ComponentResource):
    """One job: its workload parts and, with `schedule`, a Scheduler schedule, role and dead-letter queue.

    Attributes: parts (WorkloadParts), schedule and dead_letter_queue (name) or None, family,
    log_group_name, outputs (the `jobs` stack output entry).
    """

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:job:FargateJob", name, None, opts)
        if not isinstance(args.workload, JobSettings):
            raise TypeError("FargateJob needs a jobs[] entry")
        self._name = name
        self._args = args
        self.parts: WorkloadParts = create_workload(self, name, args)
        self.schedule: aws.scheduler.Schedule | None = None
        self.dead_letter_queue: str | None = None
        self.family, self.log_group_name = args.family, args.log_group_name
        if args.workload.schedule:
            self.schedule = self._create_schedule(args.workload)
        self.outputs: dict[str, Any] = {**self.parts.outputs(args),
                                        "scheduleArn": self.schedule.arn if self.schedule else None}
        self.register_outputs(self.outputs)

    def _create_schedule(self, job: JobSettings) -> aws.scheduler.Schedule:
        args, ctx, platform = self._args, self._args.context, self._args.platform
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, "workload": args.name}
        queue_name = physical_name(ctx.prefix, args.name, "dlq", max_len=80)
        self.dead_letter_queue = queue_name
        dlq = aws.sqs.Queue(f"{self._name}-dlq", name=queue_name, sqs_managed_sse_enabled=True,
                            message_retention_seconds=DLQ_RETENTION_SECONDS, tags={**tags, "Name": queue_name},
                            opts=child)
        role_name = physical_name(ctx.prefix, args.name, "scheduler", max_len=64)
        role = aws.iam.Role(f"{self._name}-scheduler", name=role_name,
                            assume_role_policy=assume_role_policy("scheduler.amazonaws.com", ctx.account),
                            tags={**tags, "Name": role_name}, opts=child)
        policy = aws.iam.RolePolicy(f"{self._name}-scheduler", role=role.id,
                                    policy=scheduler_policy(args, ctx.arn("sqs", queue_name)), opts=child)
        strategy = capacity_strategy_inputs(self.parts.capacity_provider_strategy)
        schedule_name = physical_name(ctx.prefix, args.name, max_len=64)
        return aws.scheduler.Schedule(
            f"{self._name}-schedule", name=schedule_name, group_name="default",
            description=f"{args.name} of {ctx.prefix}", schedule_expression=job.schedule,
            schedule_expression_timezone=job.timezone, flexible_time_window={"mode": "OFF"}, state="ENABLED",
            target={
                "arn": platform.cluster_arn, "role_arn": role.arn,
                "dead_letter_config": {"arn": dlq.arn},
                "retry_policy": {"maximum_retry_attempts": job.retries,
                                 "maximum_event_age_in_seconds": MAX_EVENT_AGE_SECONDS},
                "ecs_parameters": {
                    "task_definition_arn": self.parts.task_definition.arn, "task_count": 1,
                    "capacity_provider_strategies": strategy, "platform_version": "LATEST",
                    "network_configuration": {"subnets": list(platform.subnet_ids), "assign_public_ip": False,
                                              # its own group, and the clients group: services by DNS name
                                              "security_groups": [self.parts.security_group.id,
                                                                  *args.security_group_ids]},
                    "propagate_tags": "TASK_DEFINITION", "enable_ecs_managed_tags": True,
                    "enable_execute_command": job.exec,
                },
            },
            # The role's permissions (and the cluster's capacity providers) exist before the first run.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, *filter(None, [platform.cluster])]))
