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

from components.context import StackContext
from components.iam import UNSCOPED_ACTIONS, assume_role_policy, document, statement
from components.platform import WorkloadArgs
from settings import WorkloadSettings

_SECRET_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


def volume_name(path: str) -> str:
    """A task volume name for a container path (letters, digits, '-' and '_')."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", path.strip("/")) or "root"


def writable_paths(workload: WorkloadSettings) -> list[str]:
    """Ephemeral writable paths (with exec on, the root is writable anyway: see container_definition)."""
    return list(workload.writable_paths)


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


def container_definition(args: WorkloadArgs, image: str | None = None) -> dict[str, Any]:
    """The one container of the task, with the exact field names of the ECS API (`image`: the URI a pinned
    image resolved to at deploy)."""
    w = args.workload
    environment = dict(w.environment)
    if args.platform.output_bucket:
        environment["OUTPUT_BUCKET"] = args.platform.output_bucket
    container: dict[str, Any] = {
        "name": w.name,
        "image": image or args.image.uri,
        "essential": True,
        # AWS: the ECS Exec agent needs a writable root filesystem; a read-only one "isn't supported".
        "readonlyRootFilesystem": w.readonly_root_filesystem and not w.exec,
        "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(w.secrets.items())],
        "mountPoints": [{"sourceVolume": volume_name(p), "containerPath": p, "readOnly": False}
                        for p in writable_paths(w)],
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": args.log_group_name,
            "awslogs-region": args.context.region,
            "awslogs-stream-prefix": w.name,
            # Blocking: a missing logs endpoint stops the task visibly instead of dropping its logs.
            "mode": "blocking",
        }},
    }
    if w.entrypoint:
        container["entryPoint"] = list(w.entrypoint)
    if w.command:
        container["command"] = list(w.command)
    if w.user or args.image.user:
        container["user"] = w.user or args.image.user
    if w.exec:
        container["linuxParameters"] = {"initProcessEnabled": True}
    if w.health_check:
        hc = w.health_check
        container["healthCheck"] = {"command": list(hc.command), "interval": hc.interval, "timeout": hc.timeout,
                                    "retries": hc.retries, "startPeriod": hc.start_period}
    if w.container_ports:
        # No appProtocol: Service Connect then proxies plain TCP, which works for HTTP and for
        # databases and caches alike ("http" would break Redis or Postgres).
        container["portMappings"] = [{"name": w.name, "containerPort": port, "protocol": "tcp"}
                                     for port in w.container_ports]
    return container


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
    """Pull the image, write its own log group, read the secrets it names; nothing else."""
    group_arn = args.context.log_group_arn(args.log_group_name)
    statements = [*args.image.statements(),
                  statement(["logs:CreateLogStream", "logs:PutLogEvents"], [f"{group_arn}:log-stream:*"],
                            sid="WriteOwnLogs")]
    manager, parameters = secret_resources(list(args.workload.secrets.values()))
    if manager:
        statements.append(statement(["secretsmanager:GetSecretValue"], manager, sid="ReadSecrets"))
    if parameters:
        statements.append(statement(["ssm:GetParameters"], parameters, sid="ReadParameters"))
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
