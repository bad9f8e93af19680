"""FargateJob: a task definition whose runs go through a Step Functions state machine, on a schedule or on demand.

Every run is an execution of the job's state machine (components/job_runner.py): the task in the
private subnets without a public IP, on FARGATE or FARGATE_SPOT as the job says, with a timeout,
retries on failure and one alert when it finally fails. With `schedule`, EventBridge Scheduler
starts the machine, with its own role (it may start only this machine), a retry policy and an
encrypted dead-letter queue; Scheduler's retries cover failed *invocations* (StartExecution refused),
the machine's cover failed runs.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.iam import assume_role_policy
from components.job_runner import JobRunner, JobRunnerArgs
from components.naming import physical_name
from components.platform import WorkloadArgs
from components.queues import create_queue
from components.state_machine import RunnerSpec, start_policy
from components.workload import WorkloadParts, create_workload
from settings import JobSettings

#: How long Scheduler keeps retrying one invocation: a 03:00 job should not start at noon.
MAX_EVENT_AGE_SECONDS = 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600


def runner_spec(args: WorkloadArgs, job: JobSettings, capacity: list[dict[str, Any]]) -> RunnerSpec:
    """What the job's state machine needs to know, from its settings and the platform."""
    return RunnerSpec(context=args.context, job=args.name, family=args.family,
                      cluster_name=args.platform.cluster_name, execution_role=args.execution_role_name,
                      task_role=args.task_role_name, log_group=args.log_group_name,
                      timeout_minutes=job.timeout_minutes, retries=job.retry_on_failure,
                      capacity_strategy=capacity, exec=job.exec, topic_arn=args.platform.alerts_topic_arn)


class FargateJob(pulumi.ComponentResource):
    """One job: its workload parts, its state machine and, with `schedule`, a schedule, role and dead-letter queue.

    Attributes: parts (WorkloadParts), runner (JobRunner), schedule and dead_letter_queue (name) or None,
    family, log_group_name, outputs (the `jobs` stack output entry).
    """

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:job:FargateJob", name, None, opts)
        if not isinstance(args.workload, JobSettings):
            raise TypeError("FargateJob needs a jobs[] entry")
        self._name = name
        self._args = args
        self.parts: WorkloadParts = create_workload(self, name, args)
        self.spec = runner_spec(args, args.workload, self.parts.capacity_provider_strategy)
        platform = args.platform
        self.runner = JobRunner(f"{name}-runner", JobRunnerArgs(
            spec=self.spec, subnet_ids=list(platform.subnet_ids),
            # its own group, and the clients group: services by DNS name
            security_group_ids=self.parts.task_security_groups(args),
            task_definition_arn=self.parts.task_definition.arn, log_retention_days=platform.log_retention_days,
            log_kms_key_arn=platform.log_kms_key_arn, protect=platform.protect, tags=args.tags,
            after=[r for r in [platform.cluster] if r]), opts=pulumi.ResourceOptions(parent=self))
        self.schedule: aws.scheduler.Schedule | None = None
        self.dead_letter_queue: str | None = None
        self.family, self.log_group_name = args.family, args.log_group_name
        if args.workload.schedule:
            self.schedule = self._create_schedule(args.workload)
        self.outputs: dict[str, Any] = {**self.parts.outputs(args),
                                        "scheduleArn": self.schedule.arn if self.schedule else None,
                                        "stateMachineArn": self.runner.state_machine.arn}
        self.register_outputs(self.outputs)

    def _create_schedule(self, job: JobSettings) -> aws.scheduler.Schedule:
        args, ctx = self._args, self._args.context
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, "workload": args.name}
        queue_name = physical_name(ctx.prefix, args.name, "dlq", max_len=80)
        self.dead_letter_queue = queue_name
        dlq = create_queue(self, f"{self._name}-dlq", queue_name, ctx, tags,
                           message_retention_seconds=DLQ_RETENTION_SECONDS)
        role_name = physical_name(ctx.prefix, args.name, "scheduler", max_len=64)
        role = aws.iam.Role(f"{self._name}-scheduler", name=role_name,
                            assume_role_policy=assume_role_policy("scheduler.amazonaws.com", ctx.account),
                            tags={**tags, "Name": role_name}, opts=child)
        policy = aws.iam.RolePolicy(f"{self._name}-scheduler", role=role.id,
                                    policy=start_policy(self.spec, ctx.arn("sqs", queue_name)), opts=child)
        schedule_name = physical_name(ctx.prefix, args.name, max_len=64)
        return aws.scheduler.Schedule(
            f"{self._name}-schedule", name=schedule_name, group_name="default",
            description=f"{args.name} of {ctx.prefix}", schedule_expression=job.schedule,
            schedule_expression_timezone=job.timezone, flexible_time_window={"mode": "OFF"}, state="ENABLED",
            target={
                "arn": self.runner.state_machine.arn, "role_arn": role.arn, "input": "{}",
                "dead_letter_config": {"arn": dlq.arn},
                "retry_policy": {"maximum_retry_attempts": job.retries,
                                 "maximum_event_age_in_seconds": MAX_EVENT_AGE_SECONDS},
            },
            # The role may start the machine before the first run.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]))
