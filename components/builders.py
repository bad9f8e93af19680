"""What goes into a workload's task definition and roles, as plain data: no resources are created here.

The container definition (exact ECS API field names), the execution and task role policy documents,
the capacity provider strategy and the task's volumes, from a WorkloadArgs. Everything is a plain
string or dict built from names, so a first preview knows it and the policy pack can check it;
tests call these directly, without mocks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from components.containers import (
    decrypt_statement,
    image_statements,
    task_secret_arns,
)
from components.context import StackContext
from components.iam import UNSCOPED_ACTIONS, assume_role_policy, document, statement
from components.platform import WorkloadArgs
from settings import WorkloadSettings

_SECRET_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


def capacity_strategy(workload: WorkloadSettings) -> list[dict[str, Any]]:
    """The capacity provider strategy, in the ECS API's shape (the stack outputs carry it so)."""
    if workload.capacity == "spot":
        return [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    if workload.capacity == "mixed":
        mix = workload.mix
        items = [{"capacityProvider": "FARGATE", "weight": mix.on_demand_weight, "base": mix.base},
                 {"capacityProvider": "FARGATE_SPOT", "weight": mix.spot_weight, "base": 0}]
        return [i for i in items if i["weight"] or i["base"]]
    return [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]


def secret_resources(arns: Sequence[str]) -> tuple[list[str], list[str]]:
    """IAM resources for the secrets ECS reads: Secrets Manager (JSON-key suffix removed) and SSM."""
    manager, parameters = [], []
    for arn in arns:
        if ":secretsmanager:" in arn:
            base = ":".join(arn.split(":")[:7])
            manager.append(base)
            if not _SECRET_SUFFIX.search(base):
                manager.append(base + "-??????")  # a name without AWS's random suffix matches the full ARN
        else:
            parameters.append(arn)
    return sorted(set(manager)), sorted(set(parameters))


def execution_policy(args: WorkloadArgs) -> str:
    """Pull the task's images, write its own log group, read the secrets its containers name (decrypting them
    with its `kmsKeyArns` through Secrets Manager and SSM only); nothing else."""
    group_arn = args.context.log_group_arn(args.log_group_name)
    statements = [*image_statements(args.task_images),
                  statement(["logs:CreateLogStream", "logs:PutLogEvents"], [f"{group_arn}:log-stream:*"],
                            sid="WriteOwnLogs")]
    arns = task_secret_arns(args)
    manager, parameters = secret_resources(arns)
    if manager:
        statements.append(statement(["secretsmanager:GetSecretValue"], manager, sid="ReadSecrets"))
    if parameters:
        statements.append(statement(["ssm:GetParameters"], parameters, sid="ReadParameters"))
    decrypt = decrypt_statement(args, arns)
    if decrypt is not None:
        statements.append(decrypt)
    return document(statements)


def task_policy(args: WorkloadArgs) -> str | None:
    """Write results to the output bucket; ECS Exec's channels and session log when exec is on."""
    statements = []
    if args.platform.output_bucket:
        bucket_arn = args.context.bucket_arn(args.platform.output_bucket)
        statements.append(statement(["s3:AbortMultipartUpload", "s3:PutObject"], [f"{bucket_arn}/*"],
                                    sid="WriteResults"))
    if args.workload.exec:
        statements.append(statement([a for a in UNSCOPED_ACTIONS if a.startswith("ssmmessages:")], "*",
                                    sid="ExecChannels"))
        if args.platform.exec_log_group:
            group_arn = args.context.log_group_arn(args.platform.exec_log_group)
            statements.append(statement(["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                                        [group_arn, f"{group_arn}:log-stream:*"], sid="ExecSessionLogs"))
            statements.append(statement(["logs:DescribeLogGroups"], "*",
                                        sid="FindExecSessionLogs"))
    return document(statements) if statements else None


def capacity_strategy_inputs(strategy: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same strategy in pulumi_aws's input shape (services and schedules)."""
    return [{"capacity_provider": s["capacityProvider"], "weight": s["weight"], "base": s["base"]} for s in strategy]


def ecs_tasks_trust(ctx: StackContext) -> str:
    """Trust policy of a workload's two roles: ECS tasks of this account."""
    return assume_role_policy("ecs-tasks.amazonaws.com", ctx.account, source_arn=ctx.arn("ecs", "*"))
