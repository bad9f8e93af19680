"""What other programs run beside (or instead of) ECS, drawn so their diagram is not empty: EC2 instances
in their subnet's zone, Lambda functions (in their VPC when they have a `vpcConfig`), RDS databases in
the VPC of their subnet group, EKS clusters. Enough to see where things run and what is public."""

from __future__ import annotations

from typing import Any

from tools.preview.graph import known, tag_name
from tools.preview.topology import SUBNET, Builder

INSTANCE = "aws:ec2/instance:Instance"
FUNCTION = "aws:lambda/function:Function"
DATABASES = ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster")
SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
EKS = "aws:eks/cluster:Cluster"


def _value(resource: dict[str, Any], key: str) -> list[str]:
    value = resource["inputs"].get(key)
    return [str(value)] if known(value) else []


def add(b: Builder) -> None:
    """Nodes for instances, functions, databases and EKS clusters."""
    for instance in b.ix.of(INSTANCE):
        subnets = b.ix.refs(instance, "subnetId", SUBNET)
        public = ["public IP"] if instance["inputs"].get("associatePublicIpAddress") is True else []
        group = b.zone_group(subnets[0]) if subnets else b.vpc_of([])
        b.node("instance", instance, ["EC2 instance", tag_name(instance), *_value(instance, "instanceType"), *public],
               group)
    for function in b.ix.of(FUNCTION):
        subnets = b.ix.refs(function, "vpcConfig", SUBNET)
        in_vpc = isinstance(function["inputs"].get("vpcConfig"), dict)
        b.node("function", function, ["Lambda function", tag_name(function), *_value(function, "runtime")],
               b.vpc_of(subnets) if in_vpc else None)
    for database in b.ix.of(*DATABASES):
        groups = b.ix.refs(database, "dbSubnetGroupName", SUBNET_GROUP)
        subnets = [s for g in groups for s in b.ix.refs(g, "subnetIds", SUBNET)]
        public = ["publicly accessible"] if database["inputs"].get("publiclyAccessible") is True else []
        b.node("database", database, ["RDS database", tag_name(database), *_value(database, "engine"), *public],
               b.vpc_of(subnets), *groups)
    for cluster in b.ix.of(EKS):
        subnets = b.ix.refs(cluster, "vpcConfig", SUBNET)
        b.node("eks", cluster, ["EKS cluster", tag_name(cluster)], b.vpc_of(subnets))
