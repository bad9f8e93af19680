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
from components.iam import deny_without_tls
from components.naming import output_bucket_name
from settings import Settings


@dataclass(frozen=True)
class OutputBucketArgs:
    """Inputs of OutputBucket; `from_settings` reads `outputBucket` and `protect`.

    expire_after_days: delete result objects (and noncurrent versions) after this many days; None keeps them.
    noncurrent_version_expiry_days: with versioning, delete replaced or deleted versions after this many days.
    """

    context: StackContext
    versioning: bool = True
    expire_after_days: int | None = None
    noncurrent_version_expiry_days: int = 30
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
                   noncurrent_version_expiry_days=out.noncurrent_version_expiry_days,
                   protect=settings.protect, tags=settings.stack_tags)


def deny_insecure_transport(bucket_arn: str) -> dict:
    """The statement that refuses every request not made over TLS."""
    return deny_without_tls("DenyInsecureTransport", "s3:*", [bucket_arn, f"{bucket_arn}/*"])


def tls_only_policy(bucket_arn: str, *allow: dict) -> str:
    """A bucket policy: the given Allow statements, and TLS only."""
    return json.dumps({"Version": "2012-10-17", "Statement": [*allow, deny_insecure_transport(bucket_arn)]})


def private_bucket(parent: pulumi.Resource, name: str, bucket_name: str, bucket_arn: str, *, protect: bool,
                   versioning: bool | None, tags: Mapping[str, str], allow: tuple[dict, ...] = ()) -> aws.s3.Bucket:
    """A bucket no one outside the account can reach: all four public-access blocks, owner-enforced
    objects, SSE-S3, versioning as asked (None: never versioned, no versioning resource), and a TLS-only
    policy (with `allow` statements in front).

    Stateful: protected and retained with `protect`. Emptied by `pulumi destroy` exactly when `protect`
    is off (forceDestroy), so a dev stack tears down in one command and a protected one never loses data.
    """
    child = pulumi.ResourceOptions(parent=parent)
    stateful = pulumi.ResourceOptions(parent=parent, protect=protect, retain_on_delete=protect)
    bucket = aws.s3.Bucket(f"{name}-bucket", bucket=bucket_name, force_destroy=not protect,
                           tags={**tags, "Name": bucket_name}, opts=stateful)
    access = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
        ignore_public_acls=True, restrict_public_buckets=True, opts=child)
    aws.s3.BucketOwnershipControls(f"{name}-ownership", bucket=bucket.id,
                                   rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption", bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}], opts=child)
    if versioning is not None:
        aws.s3.BucketVersioning(f"{name}-versioning", bucket=bucket.id, versioning_configuration={
            "status": "Enabled" if versioning else "Suspended"}, opts=child)
    # After the public access block, so the policy is judged with the block in place.
    aws.s3.BucketPolicy(f"{name}-policy", bucket=bucket.id, policy=tls_only_policy(bucket_arn, *allow),
                        opts=pulumi.ResourceOptions(parent=parent, depends_on=[access]))
    return bucket


#: Days after which S3 deletes the parts of an upload that never completed (they are billed, and unseen).
ABORT_INCOMPLETE_UPLOADS_DAYS = 7


def lifecycle_rules(expire_after_days: int | None, noncurrent_days: int | None) -> list[dict]:
    """Every bucket drops abandoned multipart uploads; a versioned one its old versions; `expire` its objects.

    https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpu-abort-incomplete-mpu-lifecycle-config.html
    """
    abort = {"days_after_initiation": ABORT_INCOMPLETE_UPLOADS_DAYS}
    rules: list[dict] = [{"id": "abort-incomplete-uploads", "status": "Enabled", "filter": {},
                          "abort_incomplete_multipart_upload": abort}]
    if noncurrent_days is not None:
        rules.append({"id": "expire-noncurrent-versions", "status": "Enabled", "filter": {},
                      "noncurrent_version_expiration": {"noncurrent_days": noncurrent_days}})
    if expire_after_days is not None:
        rules.append({"id": "expire", "status": "Enabled", "filter": {}, "expiration": {"days": expire_after_days}})
    return rules


def bucket_lifecycle(parent: pulumi.Resource, name: str, bucket: aws.s3.Bucket, *, expire_after_days: int | None,
                     noncurrent_days: int | None) -> None:
    """The bucket's lifecycle rules (one configuration per bucket, as S3 holds one)."""
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle", bucket=bucket.id, rules=lifecycle_rules(expire_after_days, noncurrent_days),
        # Stacks from before held only the expiry rule, under this name: updated in place, not replaced.
        opts=pulumi.ResourceOptions(parent=parent, aliases=[pulumi.Alias(name=f"{name}-expiry")]))


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
        bucket_lifecycle(self, name, self.bucket, expire_after_days=args.expire_after_days,
                         noncurrent_days=args.noncurrent_version_expiry_days if args.versioning else None)
        self.register_outputs({"bucketName": self.name})
