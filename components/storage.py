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


def tls_only_policy(bucket_arn: str) -> str:
    """A bucket policy that denies every request not made over TLS."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }]})


class OutputBucket(pulumi.ComponentResource):
    """The results bucket: public access blocked, owner-enforced objects, SSE, versioning, TLS-only.

    Attributes: bucket (aws.s3.Bucket), name and arn as plain strings.
    """

    def __init__(self, name: str, args: OutputBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:storage:OutputBucket", name, None, opts)
        self._name = name
        self._args = args
        self.name = args.bucket_name
        self.arn = args.context.bucket_arn(self.name)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        self.bucket = aws.s3.Bucket(f"{name}-bucket", bucket=self.name, force_destroy=False,
                                    tags={**args.tags, "Name": self.name}, opts=stateful)
        access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access", bucket=self.bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=child)
        aws.s3.BucketOwnershipControls(f"{name}-ownership", bucket=self.bucket.id,
                                       rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=self.bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}], opts=child)
        aws.s3.BucketVersioning(f"{name}-versioning", bucket=self.bucket.id, versioning_configuration={
            "status": "Enabled" if args.versioning else "Suspended"}, opts=child)
        if args.expire_after_days is not None:
            self._create_expiry(args.expire_after_days)
        # After the public access block: a policy put first could be refused as "public" by a
        # concurrent account-level check, and the order keeps `pulumi up` reproducible.
        aws.s3.BucketPolicy(f"{name}-tls-only", bucket=self.bucket.id, policy=tls_only_policy(self.arn),
                            opts=pulumi.ResourceOptions(parent=self, depends_on=[access]))
        self.register_outputs({"bucketName": self.name})

    def _create_expiry(self, days: int) -> None:
        rule = {"id": "expire-results", "status": "Enabled", "filter": {},
                "expiration": {"days": days},
                "noncurrent_version_expiration": {"noncurrent_days": days},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7}}
        aws.s3.BucketLifecycleConfiguration(f"{self._name}-expiry", bucket=self.bucket.id, rules=[rule],
                                            opts=pulumi.ResourceOptions(parent=self))
