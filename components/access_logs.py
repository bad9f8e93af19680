"""AccessLogBucket: where the stack's load balancers write their access logs.

Elastic Load Balancing writes with its own identity: the regional ELB account in regions older
than August 2022, the log delivery service principal in newer ones. The bucket is otherwise as
private as the output bucket, and logs expire after the stack's log retention.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.naming import physical_name
from components.storage import bucket_lifecycle, private_bucket

#: Regions where ELB delivers logs as a regional AWS account (the others use a service principal).
LEGACY_ELB_REGIONS = frozenset({
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-south-1",
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
    "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1", "eu-north-1",
    "me-south-1", "sa-east-1", "us-gov-west-1", "us-gov-east-1",
})
LOG_PREFIX = "alb"


@dataclass(frozen=True)
class AccessLogBucketArgs:
    """Inputs of AccessLogBucket: where, how long logs are kept, protection and tags."""

    context: StackContext
    retention_days: int = 30
    protect: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def bucket_name(self) -> str:
        """`<project>-<stack>-alb-logs-<account>-<region>` (hash-shortened to 63 characters)."""
        ctx = self.context
        return physical_name(ctx.project, ctx.stack, "alb-logs", ctx.account, ctx.region, max_len=63)


def delivery_principal(context: StackContext) -> dict[str, str]:
    """Who writes ELB access logs in this region."""
    if context.region in LEGACY_ELB_REGIONS:
        return {"AWS": aws.elb.get_service_account(region=context.region).arn}
    return {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}


class AccessLogBucket(pulumi.ComponentResource):
    """A private, TLS-only bucket that only Elastic Load Balancing may write to, under `alb/`.

    Attributes: name, prefix (the key prefix to give the load balancers).
    """

    def __init__(self, name: str, args: AccessLogBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:access_logs:AccessLogBucket", name, None, opts)
        ctx = args.context
        self.name = args.bucket_name
        self.prefix = LOG_PREFIX
        arn = ctx.bucket_arn(self.name)
        allow = {"Sid": "ElbLogDelivery", "Effect": "Allow", "Principal": delivery_principal(ctx),
                 "Action": "s3:PutObject", "Resource": f"{arn}/{LOG_PREFIX}/AWSLogs/{ctx.account}/*"}
        bucket = private_bucket(self, name, self.name, arn, protect=args.protect, versioning=None, tags=args.tags,
                                allow=(allow,))
        bucket_lifecycle(self, name, bucket, expire_after_days=args.retention_days, noncurrent_days=None)
        self.register_outputs({"bucketName": self.name})
