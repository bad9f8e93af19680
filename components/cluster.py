"""FargateCluster: the ECS cluster every workload of the stack runs in, and its Service Connect namespace.

Both Fargate capacity providers are attached (FARGATE_SPOT runs interruptible work at up to 70%
off), Container Insights is on, and when any workload enables ECS Exec the sessions are logged
to a managed log group with the stack's retention, so who ran what in a container is on record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from settings import Settings


@dataclass(frozen=True)
class FargateClusterArgs:
    """Inputs of FargateCluster; `from_settings` reads `logs`, `protect` and whether any workload uses exec."""

    context: StackContext
    exec_logging: bool = False
    service_connect: bool = False
    log_retention_days: int = 30
    log_kms_key_arn: str | None = None
    protect: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The cluster name: `<project>-<stack>`."""
        return self.context.prefix

    @property
    def arn(self) -> str:
        """The cluster ARN, known before it exists."""
        return self.context.arn("ecs", f"cluster/{self.name}")

    @property
    def exec_log_group_name(self) -> str:
        """Where ECS Exec sessions are logged."""
        return f"/ecs/{self.context.project}/{self.context.stack}/exec"

    @classmethod
    def from_settings(cls, settings: Settings, context: StackContext) -> FargateClusterArgs:
        """Args from the settings."""
        return cls(context=context, exec_logging=any(w.exec for w in settings.workloads),
                   service_connect=bool(settings.services),
                   log_retention_days=settings.logs.retention_days, log_kms_key_arn=settings.logs.kms_key_arn,
                   protect=settings.protect, tags=settings.stack_tags)


class FargateCluster(pulumi.ComponentResource):
    """An ECS cluster with FARGATE and FARGATE_SPOT, Container Insights and ECS Exec session logging.

    Attributes: cluster, name, arn (plain strings for the last two).
    """

    def __init__(self, name: str, args: FargateClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:cluster:FargateCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.name = args.name
        self.arn = args.arn
        configuration = None
        if args.exec_logging:
            stateful = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
            group = aws.cloudwatch.LogGroup(f"{name}-exec-logs", name=args.exec_log_group_name,
                                            retention_in_days=args.log_retention_days,
                                            kms_key_id=args.log_kms_key_arn,
                                            tags={**args.tags, "Name": args.exec_log_group_name}, opts=stateful)
            configuration = {"execute_command_configuration": {
                "logging": "OVERRIDE",
                "log_configuration": {"cloud_watch_log_group_name": group.name,
                                      "cloud_watch_encryption_enabled": args.log_kms_key_arn is not None},
            }}
        self.namespace_arn: pulumi.Output[str] | None = None
        defaults = None
        if args.service_connect:
            namespace = aws.servicediscovery.HttpNamespace(
                f"{name}-namespace", name=args.name, description=f"Service Connect names of {args.name}",
                tags={**args.tags, "Name": args.name}, opts=child)
            self.namespace_arn = namespace.arn
            defaults = {"namespace": namespace.arn}
        self.cluster = aws.ecs.Cluster(f"{name}-cluster", name=args.name,
                                       settings=[{"name": "containerInsights", "value": "enabled"}],
                                       configuration=configuration, service_connect_defaults=defaults,
                                       tags={**args.tags, "Name": args.name}, opts=child)
        # Without a default strategy a RunTask call that names none would fall back to launch type
        # EC2 and fail: FARGATE is the default, workloads choose their own strategy explicitly.
        aws.ecs.ClusterCapacityProviders(f"{name}-capacity", cluster_name=self.cluster.name,
                                         capacity_providers=["FARGATE", "FARGATE_SPOT"],
                                         default_capacity_provider_strategies=[
                                             {"capacity_provider": "FARGATE", "weight": 1, "base": 0}],
                                         opts=child)
        self.register_outputs({"clusterName": self.name, "clusterArn": self.arn})
