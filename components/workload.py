"""The resources of one workload (job or service): log group, task definition, two roles, security group.

The task definition holds every container of the task (components/containers.py); a workload that
mounts stack volumes gets NFS egress to the mount targets, which admit its group on 2049.

Created as children of the FargateJob or FargateService that owns them, from the plain documents of
components/builders.py. The roles get exactly what the workload needs: the execution role pulls
its image, writes its own log group and reads the secrets it names; the task role writes the output
bucket (and talks to ECS Exec when asked).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.builders import (
    capacity_strategy,
    capacity_strategy_inputs,
    ecs_tasks_trust,
    execution_policy,
    task_policy,
)
from components.containers import container_definitions, mounted_volumes, task_volumes
from components.naming import physical_name
from components.platform import WorkloadArgs
from components.volumes import NFS_PORT


@dataclass
class WorkloadParts:
    """The resources of one workload, for the job or service that owns them."""

    log_group: aws.cloudwatch.LogGroup
    task_definition: aws.ecs.TaskDefinition
    execution_role: aws.iam.Role
    task_role: aws.iam.Role
    security_group: aws.ec2.SecurityGroup
    capacity_provider_strategy: list[dict[str, Any]]
    #: The security group's egress rules: a one-off task (a migration) needs them in place before it starts.
    egress_rules: list[pulumi.Resource] = field(default_factory=list)

    def task_security_groups(self, args: WorkloadArgs) -> list[pulumi.Input[str]]:
        """The groups a task of this workload runs in: its own, and the platform's (the clients group that
        reaches the services by DNS name)."""
        return [self.security_group.id, *args.security_group_ids]

    def outputs(self, args: WorkloadArgs) -> dict[str, Any]:
        """The workload's entry in the `jobs`/`services` stack outputs (one shape for both: the job- and
        service-only keys are null where they do not apply; the owner fills its own)."""
        return {"taskDefinitionArn": self.task_definition.arn, "containerName": args.name,
                "securityGroupId": self.security_group.id, "logGroupName": args.log_group_name,
                "logStreamPrefix": args.name, "subnetIds": list(args.platform.subnet_ids),
                "capacityProviderStrategy": self.capacity_provider_strategy,
                "scheduleArn": None, "serviceName": None, "url": None, "stateMachineArn": None,
                # Added after the first release (additive): what tools.exec and tools.doctor read.
                "exec": args.workload.exec,
                "securityGroupIds": self.task_security_groups(args), "dnsName": None}


def create_workload(parent: pulumi.Resource, name: str, args: WorkloadArgs) -> WorkloadParts:
    """Register the workload's resources as children of `parent`."""
    child = pulumi.ResourceOptions(parent=parent)
    tags = {**args.tags, "workload": args.name}
    platform = args.platform
    stateful = pulumi.ResourceOptions(parent=parent, protect=platform.protect, retain_on_delete=platform.protect)
    log_group = aws.cloudwatch.LogGroup(f"{name}-logs", name=args.log_group_name,
                                        retention_in_days=platform.log_retention_days,
                                        kms_key_id=platform.log_kms_key_arn,
                                        tags={**tags, "Name": args.log_group_name}, opts=stateful)
    execution_role = aws.iam.Role(f"{name}-execution", name=args.execution_role_name,
                                  assume_role_policy=ecs_tasks_trust(args.context),
                                  tags={**tags, "Name": args.execution_role_name}, opts=child)
    execution_policy_resource = aws.iam.RolePolicy(f"{name}-execution", role=execution_role.id,
                                                   policy=execution_policy(args), opts=child)
    task_role = aws.iam.Role(f"{name}-task", name=args.task_role_name,
                             assume_role_policy=ecs_tasks_trust(args.context),
                             tags={**tags, "Name": args.task_role_name}, opts=child)
    policy = task_policy(args)
    task_policy_resource = (aws.iam.RolePolicy(f"{name}-task", role=task_role.id, policy=policy, opts=child)
                            if policy is not None else None)
    group, egress_rules = _create_security_group(name, args, tags, child)
    # Role ARNs from their names keep the task definition known at preview; depends_on keeps the order:
    # the first task finds its log group, its roles and their permissions in place.
    depends: list[pulumi.Resource] = [log_group, execution_role, task_role, execution_policy_resource]
    if task_policy_resource is not None:
        depends.append(task_policy_resource)
    depends += args.image_resources
    if platform.stack_secrets is not None and any(c.stack_secret_keys for _, c in args.workload.containers):
        depends.append(platform.stack_secrets)
    if mounted_volumes(args) and platform.file_system is not None:
        depends += platform.file_system.ready  # the mount targets: a task that starts before them cannot mount
    storage = args.workload.ephemeral_storage_gib
    task_definition = aws.ecs.TaskDefinition(
        f"{name}-task", family=args.family, requires_compatibilities=["FARGATE"], network_mode="awsvpc",
        cpu=str(args.workload.cpu), memory=str(args.workload.memory_mib),
        runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": args.workload.arch},
        execution_role_arn=args.role_arn(args.execution_role_name), task_role_arn=args.role_arn(args.task_role_name),
        container_definitions=_container_definitions(args), volumes=task_volumes(args),
        ephemeral_storage={"size_in_gib": storage} if storage else None,
        tags={**tags, "Name": args.family},
        # The image is pushed, cached or copied (and the roles exist) before a task definition names them.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends))
    return WorkloadParts(log_group, task_definition, execution_role, task_role, group,
                         capacity_strategy(args.workload), egress_rules)


def _container_definitions(args: WorkloadArgs) -> pulumi.Input[str]:
    """The JSON of the task's containers; it waits for the digest of any image pinned at deploy."""
    names = [c.name for _, c in args.workload.containers]
    uris = [args.image_uri_of(args.container_image(n)) for n in names]
    if all(isinstance(u, str) for u in uris):
        return json.dumps(container_definitions(args))
    return pulumi.Output.all(*uris).apply(
        lambda pulled: json.dumps(container_definitions(args, dict(zip(names, pulled, strict=True)))))


def _create_security_group(name: str, args: WorkloadArgs, tags: Mapping[str, str],
                           child: pulumi.ResourceOptions
                           ) -> tuple[aws.ec2.SecurityGroup, list[pulumi.Resource]]:
    """No ingress; egress 443 to the endpoints (VPC CIDR) and S3, plus `egressTo`. Returns the group and the
    rules a task needs in place before it runs (with the EFS group's NFS ingress for this workload).

    Rules are separate resources so that services can add ingress without fighting inline rules.
    """
    group_name = physical_name(args.context.prefix, args.name, max_len=255)
    group = aws.ec2.SecurityGroup(f"{name}-sg", name=group_name, vpc_id=args.platform.vpc_id,
                                  description=f"{args.name}: tasks of {args.context.prefix}",
                                  tags={**tags, "Name": group_name}, opts=child)
    rules: list[tuple[str, dict[str, Any]]] = [("endpoints", {"cidr_ipv4": args.platform.vpc_cidr, "from_port": 443,
                                                              "to_port": 443, "description": "VPC endpoints"})]
    if args.platform.s3_prefix_list_id is not None:
        rules.append(("s3", {"prefix_list_id": args.platform.s3_prefix_list_id, "from_port": 443, "to_port": 443,
                             "description": "S3 gateway endpoint (image layers, output bucket)"}))
    if args.platform.internet_egress:
        rules.append(("internet", {"cidr_ipv4": "0.0.0.0/0", "from_port": 443, "to_port": 443,
                                   "description": "HTTPS through the NAT gateway (network.egress: nat)"}))
    for i, extra in enumerate(args.workload.egress_to):
        target = ({"referenced_security_group_id": extra.security_group_id} if extra.security_group_id
                  else {"cidr_ipv4": extra.cidr} if ":" not in str(extra.cidr) else {"cidr_ipv6": extra.cidr})
        rules.append((f"extra-{i}", {**target, "from_port": extra.port, "to_port": extra.port,
                                     "description": f"egressTo[{i}]"}))
    efs = args.platform.file_system
    admitted: list[pulumi.Resource] = []
    if efs is not None and mounted_volumes(args):
        # NFS to the mount targets, and the mount targets' group admits exactly the workloads that mount.
        rules.append(("nfs", {"referenced_security_group_id": efs.security_group_id, "from_port": NFS_PORT,
                              "to_port": NFS_PORT, "description": "NFS to the stack's EFS mount targets"}))
        admitted.append(aws.vpc.SecurityGroupIngressRule(
            f"{name}-nfs-in", security_group_id=efs.security_group_id, ip_protocol="tcp", from_port=NFS_PORT,
            to_port=NFS_PORT, referenced_security_group_id=group.id, description=f"NFS from {args.name}",
            opts=child))
    return group, [*(aws.vpc.SecurityGroupEgressRule(f"{name}-egress-{suffix}", security_group_id=group.id,
                                                     ip_protocol="tcp", **rule, opts=child)
                     for suffix, rule in rules), *admitted]


def ecs_service_args(args: WorkloadArgs, parts: WorkloadParts, groups: list[pulumi.Input[str]]) -> dict[str, Any]:
    """What every ECS service of the stack (services and workers) sets alike: its task definition and capacity,
    the circuit breaker with rollback, new tasks beside the old (100/200 %), private subnets without public IPs,
    ECS Exec as the workload says, tags propagated from the service."""
    platform = args.platform
    return {"name": args.name, "cluster": platform.cluster_arn, "task_definition": parts.task_definition.arn,
            "capacity_provider_strategies": capacity_strategy_inputs(parts.capacity_provider_strategy),
            "platform_version": "LATEST", "deployment_circuit_breaker": {"enable": True, "rollback": True},
            "deployment_minimum_healthy_percent": 100, "deployment_maximum_percent": 200,
            "network_configuration": {"subnets": list(platform.subnet_ids), "assign_public_ip": False,
                                      "security_groups": groups},
            "enable_execute_command": args.workload.exec, "propagate_tags": "SERVICE",
            "enable_ecs_managed_tags": True}


def scaling_target(parent: pulumi.Resource, name: str, args: WorkloadArgs, minimum: int, maximum: int,
                   service: aws.ecs.Service) -> aws.appautoscaling.Target:
    """The service's desired count as an Application Auto Scaling target (services with autoscaling, workers)."""
    return aws.appautoscaling.Target(
        f"{name}-scaling", service_namespace="ecs", scalable_dimension="ecs:service:DesiredCount",
        resource_id=f"service/{args.platform.cluster_name}/{args.name}", min_capacity=minimum, max_capacity=maximum,
        tags={**args.tags, "workload": args.name}, opts=pulumi.ResourceOptions(parent=parent, depends_on=[service]))
