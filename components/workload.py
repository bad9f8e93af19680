"""What every workload (job or service) is made of: log group, task definition, two roles, security group.

Shared by FargateJob and FargateService, built as children of theirs. Everything that goes into
the container definition and the IAM documents is a plain string (image URI from the resolver,
log group name, bucket name, ARNs from names), so a first preview already knows them and the
policy pack can check them. The roles get exactly what the workload needs: the execution role
pulls its image, writes its own log group and reads the secrets it names; the task role writes
the output bucket (and talks to ECS Exec when asked).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.iam import UNSCOPED_ACTIONS, assume_role_policy, document, statement
from components.naming import physical_name
from components.registry import ResolvedImage
from components.settings import ServiceSettings, WorkloadSettings

#: Where the ECS Exec agent writes; they must be writable when the root filesystem is read-only.
EXEC_AGENT_PATHS = ("/var/lib/amazon/ssm", "/var/log/amazon/ssm")
_SECRET_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


@dataclass(frozen=True)
class WorkloadArgs:
    """Inputs shared by jobs and services.

    workload: the validated `services[]`/`jobs[]` entry; image: what the resolver made of it.
    subnet_ids: the private subnets tasks run in; s3_prefix_list_id: the S3 gateway endpoint's
    prefix list (egress for image layers). output_bucket: bucket name or None when disabled.
    exec_log_group: the cluster's ECS Exec log group (task role writes there when exec is on).
    internet_egress: `network.egress: nat`, which adds 443 to anywhere.
    """

    context: StackContext
    workload: WorkloadSettings
    image: ResolvedImage
    cluster_name: str
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    subnet_ids: Sequence[pulumi.Input[str]]
    s3_prefix_list_id: pulumi.Input[str] | None = None
    output_bucket: str | None = None
    exec_log_group: str | None = None
    internet_egress: bool = False
    log_retention_days: int = 30
    log_kms_key_arn: str | None = None
    image_resource: pulumi.Resource | None = None
    protect: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The workload's name (also its container's name)."""
        return self.workload.name

    @property
    def family(self) -> str:
        """Task definition family: `<project>-<stack>-<name>`."""
        return physical_name(self.context.prefix, self.name, max_len=255)

    @property
    def log_group_name(self) -> str:
        """`/ecs/<project>/<stack>/<name>`."""
        return f"/ecs/{self.context.project}/{self.context.stack}/{self.name}"

    @property
    def execution_role_name(self) -> str:
        """Role ECS uses to start the task (pull, logs, secrets)."""
        return physical_name(self.context.prefix, self.name, "execution", max_len=64)

    @property
    def task_role_name(self) -> str:
        """Role the container's code runs as."""
        return physical_name(self.context.prefix, self.name, "task", max_len=64)

    def role_arn(self, role_name: str) -> str:
        """A role ARN from its name, known at preview."""
        return self.context.arn("iam", f"role/{role_name}", regional=False)


def volume_name(path: str) -> str:
    """A task volume name for a container path (letters, digits, '-' and '_')."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", path.strip("/")) or "root"


def writable_paths(workload: WorkloadSettings) -> list[str]:
    """Ephemeral writable paths: the workload's, plus the ECS Exec agent's when exec is on."""
    paths = list(workload.writable_paths)
    if workload.exec:
        paths += [p for p in EXEC_AGENT_PATHS if p not in paths]
    return paths


def capacity_strategy(workload: WorkloadSettings) -> list[dict[str, Any]]:
    """The capacity provider strategy, in the ECS API's shape."""
    if workload.capacity == "spot":
        return [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    if workload.capacity == "mixed":
        mix = workload.mix
        items = [{"capacityProvider": "FARGATE", "weight": mix.on_demand_weight, "base": mix.base},
                 {"capacityProvider": "FARGATE_SPOT", "weight": mix.spot_weight, "base": 0}]
        return [i for i in items if i["weight"] or i["base"]]
    return [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]


def container_definition(args: WorkloadArgs) -> dict[str, Any]:
    """The one container of the task, with the exact field names of the ECS API."""
    w = args.workload
    environment = dict(w.environment)
    if args.output_bucket:
        environment["OUTPUT_BUCKET"] = args.output_bucket
    container: dict[str, Any] = {
        "name": w.name,
        "image": args.image.uri,
        "essential": True,
        "readonlyRootFilesystem": w.readonly_root_filesystem,
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
    if isinstance(w, ServiceSettings) and w.port is not None:
        # No appProtocol: Service Connect then proxies plain TCP, which works for HTTP and for
        # databases and caches alike ("http" would break Redis or Postgres).
        container["portMappings"] = [{"name": w.name, "containerPort": w.port, "protocol": "tcp"}]
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
    if args.output_bucket:
        bucket_arn = args.context.bucket_arn(args.output_bucket)
        statements.append(statement(["s3:AbortMultipartUpload", "s3:PutObject"], [f"{bucket_arn}/*"],
                                    sid="WriteResults"))
    if args.workload.exec:
        statements.append(statement([a for a in UNSCOPED_ACTIONS if a.startswith("ssmmessages:")], "*",
                                    sid="ExecChannels"))
        if args.exec_log_group:
            group_arn = args.context.log_group_arn(args.exec_log_group)
            statements.append(statement(["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                                        [group_arn, f"{group_arn}:log-stream:*"], sid="ExecSessionLogs"))
            statements.append(statement(["logs:DescribeLogGroups"], [args.context.arn("logs", "log-group:*")],
                                        sid="FindExecSessionLogs"))
    return document(statements) if statements else None


@dataclass
class WorkloadParts:
    """The resources of one workload, for the job or service that owns them."""

    log_group: aws.cloudwatch.LogGroup
    task_definition: aws.ecs.TaskDefinition
    execution_role: aws.iam.Role
    task_role: aws.iam.Role
    security_group: aws.ec2.SecurityGroup
    capacity_provider_strategy: list[dict[str, Any]]

    def outputs(self, args: WorkloadArgs) -> dict[str, Any]:
        """The workload's entry in the `jobs`/`services` stack outputs (DESIGN.md's one shape: the job-
        and service-only keys are null where they do not apply; the owner fills its own)."""
        return {"taskDefinitionArn": self.task_definition.arn, "containerName": args.name,
                "securityGroupId": self.security_group.id, "logGroupName": args.log_group_name,
                "logStreamPrefix": args.name, "subnetIds": list(args.subnet_ids),
                "capacityProviderStrategy": self.capacity_provider_strategy,
                "scheduleArn": None, "serviceName": None, "url": None,
                # Added after the first release (additive): what tools.exec and tools.doctor read.
                "exec": args.workload.exec}


def create_workload(parent: pulumi.Resource, name: str, args: WorkloadArgs) -> WorkloadParts:
    """Register the workload's resources as children of `parent`."""
    child = pulumi.ResourceOptions(parent=parent)
    tags = {**args.tags, "workload": args.name}
    stateful = pulumi.ResourceOptions(parent=parent, protect=args.protect, retain_on_delete=args.protect)
    log_group = aws.cloudwatch.LogGroup(f"{name}-logs", name=args.log_group_name,
                                        retention_in_days=args.log_retention_days, kms_key_id=args.log_kms_key_arn,
                                        tags={**tags, "Name": args.log_group_name}, opts=stateful)
    execution_role = aws.iam.Role(f"{name}-execution", name=args.execution_role_name,
                                  assume_role_policy=_ecs_tasks_trust(args.context),
                                  tags={**tags, "Name": args.execution_role_name}, opts=child)
    execution_policy_resource = aws.iam.RolePolicy(f"{name}-execution", role=execution_role.id,
                                                   policy=execution_policy(args), opts=child)
    task_role = aws.iam.Role(f"{name}-task", name=args.task_role_name,
                             assume_role_policy=_ecs_tasks_trust(args.context),
                             tags={**tags, "Name": args.task_role_name}, opts=child)
    policy = task_policy(args)
    task_policy_resource = (aws.iam.RolePolicy(f"{name}-task", role=task_role.id, policy=policy, opts=child)
                            if policy is not None else None)
    group = _create_security_group(name, args, tags, child)
    # Role ARNs from their names keep the task definition known at preview; depends_on keeps the order:
    # the first task finds its log group, its roles and their permissions in place.
    depends: list[pulumi.Resource] = [log_group, execution_role, task_role, execution_policy_resource]
    if task_policy_resource is not None:
        depends.append(task_policy_resource)
    if args.image_resource is not None:
        depends.append(args.image_resource)
    task_definition = aws.ecs.TaskDefinition(
        f"{name}-task", family=args.family, requires_compatibilities=["FARGATE"], network_mode="awsvpc",
        cpu=str(args.workload.cpu), memory=str(args.workload.memory_mib),
        runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": args.workload.arch},
        execution_role_arn=args.role_arn(args.execution_role_name), task_role_arn=args.role_arn(args.task_role_name),
        container_definitions=json.dumps([container_definition(args)]),
        volumes=[{"name": volume_name(p)} for p in writable_paths(args.workload)],
        tags={**tags, "Name": args.family},
        # The image is pushed (and the roles exist) before a task definition that names them is registered.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends))
    return WorkloadParts(log_group, task_definition, execution_role, task_role, group,
                         capacity_strategy(args.workload))


def _ecs_tasks_trust(ctx: StackContext) -> str:
    return assume_role_policy("ecs-tasks.amazonaws.com", ctx.account, source_arn=ctx.arn("ecs", "*"))


def _create_security_group(name: str, args: WorkloadArgs, tags: Mapping[str, str],
                           child: pulumi.ResourceOptions) -> aws.ec2.SecurityGroup:
    """No ingress; egress 443 to the endpoints (VPC CIDR) and S3, plus `egressTo`.

    Rules are separate resources so that services can add ingress without fighting inline rules.
    """
    group_name = physical_name(args.context.prefix, args.name, max_len=255)
    group = aws.ec2.SecurityGroup(f"{name}-sg", name=group_name, vpc_id=args.vpc_id,
                                  description=f"{args.name}: tasks of {args.context.prefix}",
                                  tags={**tags, "Name": group_name}, opts=child)
    rules: list[tuple[str, dict[str, Any]]] = [("endpoints", {"cidr_ipv4": args.vpc_cidr, "from_port": 443,
                                                              "to_port": 443, "description": "VPC endpoints"})]
    if args.s3_prefix_list_id is not None:
        rules.append(("s3", {"prefix_list_id": args.s3_prefix_list_id, "from_port": 443, "to_port": 443,
                             "description": "S3 gateway endpoint (image layers, output bucket)"}))
    if args.internet_egress:
        rules.append(("internet", {"cidr_ipv4": "0.0.0.0/0", "from_port": 443, "to_port": 443,
                                   "description": "HTTPS through the NAT gateway (network.egress: nat)"}))
    for i, extra in enumerate(args.workload.egress_to):
        target = ({"referenced_security_group_id": extra.security_group_id} if extra.security_group_id
                  else {"cidr_ipv4": extra.cidr} if ":" not in str(extra.cidr) else {"cidr_ipv6": extra.cidr})
        rules.append((f"extra-{i}", {**target, "from_port": extra.port, "to_port": extra.port,
                                     "description": f"egressTo[{i}]"}))
    for suffix, rule in rules:
        aws.vpc.SecurityGroupEgressRule(f"{name}-egress-{suffix}", security_group_id=group.id, ip_protocol="tcp",
                                        **rule, opts=child)
    return group
