"""The VPC endpoints that replace an internet route, and their policies; registered as PrivateNetwork's children.

Interface endpoints (ecr.api, ecr.dkr, logs, and what the workloads imply) get private DNS, the
endpoint security group and, by default, a policy that serves only this account's principals
(`aws:PrincipalAccount`, which VPC endpoint policies support:
https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html). The S3 gateway's
restricted policy reaches only ECR's layer bucket and the stack's buckets. In an adopted VPC, an
endpoint that already exists for a service is used, not duplicated: AWS lets one endpoint per
service and VPC have private DNS, and a second would fail to create.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.context import StackContext

#: Interface endpoints every private Fargate task needs: image manifest (ecr.api), image pull
#: (ecr.dkr) and the awslogs driver (logs). S3 (layers) is a gateway endpoint, added separately.
BASE_INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs")
GATEWAY_ENDPOINTS = ("s3", "dynamodb")

#: What tasks may do through the restricted S3 endpoint on this stack's own buckets.
_S3_STACK_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject",
                     "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:ListBucket",
                     "s3:ListBucketMultipartUploads", "s3:GetBucketLocation"]
#: The words AWS (and the offline preview) answer with when a VPC has no endpoint for a service.
NOT_FOUND = "no matching VPC Endpoint found"


def interface_endpoint_policy(ctx: StackContext) -> str:
    """Any action of the service, but only for principals of this account."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "ThisAccountOnly", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalAccount": ctx.account}},
    }]})


def s3_gateway_policy(ctx: StackContext, stack_buckets: Sequence[str]) -> str:
    """ECR's layer bucket (read) and this stack's buckets, nothing else."""
    statements: list[dict[str, Any]] = [{
        "Sid": "EcrImageLayers", "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"],
        "Resource": [f"{ctx.bucket_arn(ctx.ecr_layer_bucket)}/*"],
    }]
    if stack_buckets:
        arns = [ctx.bucket_arn(b) for b in stack_buckets]
        statements.append({
            "Sid": "StackBuckets", "Effect": "Allow", "Principal": "*", "Action": _S3_STACK_ACTIONS,
            "Resource": [*arns, *(f"{a}/*" for a in arns)],
        })
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


@dataclass(frozen=True)
class ExistingEndpoint:
    """An endpoint the adopted VPC already has for a service."""

    id: str
    private_dns: bool
    route_table_ids: tuple[str, ...] = ()


def existing_endpoint(vpc_id: str, service_name: str) -> ExistingEndpoint | None:
    """The VPC's available endpoint for a service, if it has one (an invoke; answers at preview too)."""
    try:
        found = aws.ec2.get_vpc_endpoint(vpc_id=vpc_id, service_name=service_name, state="available")
    except Exception as exc:  # the provider reports "none" as an error; anything else is a real failure
        if NOT_FOUND.lower() in str(exc).lower():
            return None
        raise
    return ExistingEndpoint(found.id, bool(found.private_dns_enabled), tuple(found.route_table_ids or ()))


@dataclass(frozen=True)
class EndpointPlan:
    """Where endpoints go and how they are guarded."""

    context: StackContext
    name: str
    vpc_id: pulumi.Input[str]
    endpoints: Sequence[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    route_table_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    endpoint_policy: str = "restricted"
    s3_policy: str = "restricted"
    stack_buckets: Sequence[str] = ()
    adopted_vpc_id: str | None = None
    tags: dict[str, str] | None = None


def create_endpoints(parent: pulumi.Resource, plan: EndpointPlan) -> tuple[dict[str, pulumi.Output[str]],
                                                                         pulumi.Output[str] | None]:
    """Register the endpoints as children of `parent`; (short name -> endpoint id, the S3 prefix list id)."""
    ctx, child = plan.context, pulumi.ResourceOptions(parent=parent)
    ids: dict[str, pulumi.Output[str]] = {}
    prefix_list: pulumi.Output[str] | None = None
    for short in plan.endpoints:
        service_name = ctx.service_name(short)
        found = existing_endpoint(plan.adopted_vpc_id, service_name) if plan.adopted_vpc_id else None
        if found is not None:
            _note_existing(short, found)
            ids[short] = pulumi.Output.from_input(found.id)
            if short in GATEWAY_ENDPOINTS:  # on the task route tables too, where it is not yet
                for i, table in enumerate(plan.route_table_ids):
                    if table not in found.route_table_ids:
                        aws.ec2.VpcEndpointRouteTableAssociation(f"{plan.name}-{short}-{i}", vpc_endpoint_id=found.id,
                                                                 route_table_id=table, opts=child)
            if short == "s3":
                prefix_list = aws.ec2.get_prefix_list_output(name=service_name).id
            continue
        label = f"{ctx.prefix}-{short}"
        tags = {**(plan.tags or {}), "Name": label}
        resource_name = f"{plan.name}-{short.replace('.', '-')}"
        if short in GATEWAY_ENDPOINTS:
            policy = s3_gateway_policy(ctx, plan.stack_buckets) if short == "s3" and plan.s3_policy == "restricted" \
                else None  # None: AWS's default policy, all of the service
            endpoint = aws.ec2.VpcEndpoint(resource_name, vpc_id=plan.vpc_id, service_name=service_name,
                                           vpc_endpoint_type="Gateway", route_table_ids=list(plan.route_table_ids),
                                           policy=policy, tags=tags, opts=child)
            if short == "s3":
                prefix_list = endpoint.prefix_list_id
        else:
            endpoint = aws.ec2.VpcEndpoint(
                resource_name, vpc_id=plan.vpc_id, service_name=service_name, vpc_endpoint_type="Interface",
                private_dns_enabled=True, subnet_ids=list(plan.subnet_ids),
                security_group_ids=[plan.security_group_id],
                policy=interface_endpoint_policy(ctx) if plan.endpoint_policy == "restricted" else None,
                tags=tags, opts=child)
        ids[short] = endpoint.id
    return ids, prefix_list


def _note_existing(short: str, found: ExistingEndpoint) -> None:
    message = f"network: the VPC already has an endpoint for {short} ({found.id}); it is used, not duplicated"
    if short not in GATEWAY_ENDPOINTS and not found.private_dns:
        message += (f". Its private DNS is off, so tasks resolve {short} to the public service they cannot reach: "
                    "turn private DNS on for it")
    pulumi.log.info(message)
