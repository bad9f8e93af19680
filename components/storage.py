"""OutputBucket: the S3 bucket jobs write results to, private and TLS-only by construction.

Its name is deterministic (project, stack, account, region), so the `OUTPUT_BUCKET` environment
variable and every policy naming the bucket are plain strings at preview. The bucket is what a
team keeps: with `protect` it is protected and retained, and it is never force-destroyed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.naming import output_bucket_name
from components.settings import Settings


@dataclass(frozen=True)
class OutputBucketArgs:
    """Inputs of OutputBucket; `from_settings` reads `outputBucket` and `protect`.

    expire_after_days: delete result objects (and noncurrent versions) after this many days; None keeps them.
    """

    context: StackContext
    versioning: bool = True
    expire_after_days: int | None = None
    protect: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def bucket_name(self) -> str:
        """The bucket's name, known before anything is created."""
        ctx = self.context
        return output_bucket_name(ctx.project, ctx.stack, ctx.account, ctx.region)

    @classmethod
    def from_settings(cls, settings: Settings, context: StackContext) -> OutputBucketArgs:
        """Args from the `outputBucket` settings."""
        out = settings.output_bucket
        return cls(context=context, versioning=out.versioning, expire_after_days=out.expire_after_days,
                   protect=settings.protect, tags=settings.stack_tags)


def deny_insecure_transport(bucket_arn: str) -> dict:
    """The statement that refuses every request not made over TLS."""
    return {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def tls_only_policy(bucket_arn: str, *allow: dict) -> str:
    """A bucket policy: the given Allow statements, and TLS only."""
    return json.dumps({"Version": "2012-10-17", "Statement": [*allow, deny_insecure_transport(bucket_arn)]})


def private_bucket(parent: pulumi.Resource, name: str, bucket_name: str, bucket_arn: str, *, protect: bool,
                   versioning: bool, tags: Mapping[str, str], allow: tuple[dict, ...] = ()) -> aws.s3.Bucket:
    """A bucket no one outside the account can reach: all four public-access blocks, owner-enforced
    objects, SSE-S3, versioning as asked, and a TLS-only policy (with `allow` statements in front).

    Stateful: protected and retained with `protect`, never force-destroyed.
    """
    child = pulumi.ResourceOptions(parent=parent)
    stateful = pulumi.ResourceOptions(parent=parent, protect=protect, retain_on_delete=protect)
    bucket = aws.s3.Bucket(f"{name}-bucket", bucket=bucket_name, force_destroy=False,
                           tags={**tags, "Name": bucket_name}, opts=stateful)
    access = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
        ignore_public_acls=True, restrict_public_buckets=True, opts=child)
    aws.s3.BucketOwnershipControls(f"{name}-ownership", bucket=bucket.id,
                                   rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption", bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}], opts=child)
    aws.s3.BucketVersioning(f"{name}-versioning", bucket=bucket.id, versioning_configuration={
        "status": "Enabled" if versioning else "Suspended"}, opts=child)
    # After the public access block, so the policy is judged with the block in place.
    aws.s3.BucketPolicy(f"{name}-policy", bucket=bucket.id, policy=tls_only_policy(bucket_arn, *allow),
                        opts=pulumi.ResourceOptions(parent=parent, depends_on=[access]))
    return bucket


def expire_objects(parent: pulumi.Resource, name: str, bucket: aws.s3.Bucket, days: int | None) -> None:
    """Delete objects (and noncurrent versions) after `days` (None keeps them); always clean up abandoned
    uploads, whose parts are billed and invisible in listings."""
    rule: dict = {"id": "expire", "status": "Enabled", "filter": {},
                  "abort_incomplete_multipart_upload": {"days_after_initiation": 7}}
    if days is not None:
        rule.update({"expiration": {"days": days}, "noncurrent_version_expiration": {"noncurrent_days": days}})
    aws.s3.BucketLifecycleConfiguration(f"{name}-expiry", bucket=bucket.id, rules=[rule],
                                        opts=pulumi.ResourceOptions(parent=parent))


class OutputBucket(pulumi.ComponentResource):
    """The results bucket: public access blocked, owner-enforced objects, SSE, versioning, TLS-only.

    Attributes: bucket (aws.s3.Bucket), name and arn as plain strings.
    """

    def __init__(self, name: str, args: OutputBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:storage:OutputBucket", name, None, opts)
        self.name = args.bucket_name
        self.arn = args.context.bucket_arn(self.name)
        self.bucket = private_bucket(self, name, self.name, self.arn, protect=args.protect,
                                     versioning=args.versioning, tags=args.tags)
        expire_objects(self, name, self.bucket, args.expire_after_days)
        self.register_outputs({"bucketName": self.name})
