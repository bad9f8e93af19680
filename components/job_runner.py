"""JobRunner: the Step Functions state machine a job's runs go through, with its role and execution logs.

A run gets the job's timeout, retries with backoff when the task exits non-zero, never starts or
loses its spot capacity, and, with alerts, one message to the alerts topic when it finally fails
(the definition is built in components/state_machine.py). The machine logs its executions to a log
group with the stack's retention; its role holds what AWS documents for `ecs:runTask.sync`
(step-functions/latest/dg/ecs-iam.html), scoped to this job's task definition family, its two roles
and the stack's cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.iam import assume_role_policy
from components.naming import physical_name
from components.state_machine import RunnerSpec, definition, dumps, role_policy


@dataclass(frozen=True)
class JobRunnerArgs:
    """The job (as a RunnerSpec), where its tasks run and what must exist before the machine starts one (`after`:
    the cluster with its capacity providers)."""

    spec: RunnerSpec
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_ids: Sequence[pulumi.Input[str]]
    task_definition_arn: pulumi.Input[str]
    log_retention_days: int = 30
    log_kms_key_arn: str | None = None
    protect: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)
    after: Sequence[pulumi.Resource] = ()


class JobRunner(pulumi.ComponentResource):
    """A standard state machine that runs one job's task to completion.

    Attributes: state_machine, arn, role, role_name.
    """

    def __init__(self, name: str, args: JobRunnerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:job:JobRunner", name, None, opts)
        spec, ctx = args.spec, args.spec.context
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, "workload": spec.job}
        self.arn = spec.arn
        self.role_name = physical_name(ctx.prefix, spec.job, "states", max_len=64)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=spec.log_group_name, retention_in_days=args.log_retention_days,
            kms_key_id=args.log_kms_key_arn, tags={**tags, "Name": spec.log_group_name},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect))
        self.role = role = aws.iam.Role(f"{name}-role", name=self.role_name,
                            assume_role_policy=assume_role_policy("states.amazonaws.com", ctx.account,
                                                                  source_arn=spec.arn),
                            tags={**tags, "Name": self.role_name}, opts=child)
        policy = aws.iam.RolePolicy(f"{name}-role", role=role.id, policy=role_policy(spec), opts=child)
        document = pulumi.Output.all(list(args.subnet_ids), list(args.security_group_ids),
                                     args.task_definition_arn).apply(lambda v: dumps(definition(spec, *v)))
        self.state_machine = aws.sfn.StateMachine(
            f"{name}-machine", name=spec.name, type="STANDARD", role_arn=role.arn, definition=document,
            logging_configuration={"log_destination": f"{ctx.log_group_arn(spec.log_group_name)}:*",
                                   "include_execution_data": True, "level": "ALL"},
            tags={**tags, "Name": spec.name},
            # Creating a machine with logging checks its role's log-delivery permissions and the log group.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, log_group, *args.after]))
        self.register_outputs({"stateMachineArn": self.state_machine.arn})
