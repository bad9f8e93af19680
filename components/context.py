"""Where the stack runs: project, stack, account, region, partition; and the ARNs and names built from them.

Computed once from invokes (which answer at preview), so every ARN a policy document or container
definition needs is a plain string at preview instead of an unknown output.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_aws as aws

from settings import Settings
from settings.errors import SettingsError

SUPPORTED_PARTITIONS = ("aws", "aws-us-gov")


@dataclass(frozen=True)
class StackContext:
    """The account, region and partition of a stack, with helpers for ARNs and endpoint service names."""

    project: str
    stack: str
    region: str
    account: str
    partition: str = "aws"
    dns_suffix: str = "amazonaws.com"

    def __post_init__(self) -> None:
        if self.partition not in SUPPORTED_PARTITIONS:
            raise SettingsError([f"aws:region: {self.region} is in partition {self.partition}; private-fargate "
                                 f"supports {', '.join(SUPPORTED_PARTITIONS)} (endpoint service names differ)"])

    @classmethod
    def discover(cls, settings: Settings) -> StackContext:
        """Ask the provider for the account and partition (invokes answer at preview too)."""
        identity = aws.get_caller_identity()
        partition = aws.get_partition()
        return cls(project=settings.project, stack=settings.stack, region=settings.region,
                   account=identity.account_id, partition=partition.partition, dns_suffix=partition.dns_suffix)

    @property
    def prefix(self) -> str:
        """`<project>-<stack>`, the start of every physical name."""
        return f"{self.project}-{self.stack}"

    def service_name(self, short: str) -> str:
        """The VPC endpoint service name of `short` (ecr.api, logs, s3, ...) in this region."""
        return f"com.amazonaws.{self.region}.{short}"

    def arn(self, service: str, resource: str, *, regional: bool = True, with_account: bool = True) -> str:
        """An ARN of this account and region (`regional`/`with_account` false for IAM and S3)."""
        region = self.region if regional else ""
        account = self.account if with_account else ""
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"

    def log_group_arn(self, name: str) -> str:
        """The ARN of a log group (without the `:*` stream suffix)."""
        return self.arn("logs", f"log-group:{name}")

    def bucket_arn(self, name: str) -> str:
        """The ARN of an S3 bucket."""
        return self.arn("s3", name, regional=False, with_account=False)

    @property
    def ecr_layer_bucket(self) -> str:
        """The S3 bucket ECR serves image layers from in this region."""
        return f"prod-{self.region}-starport-layer-bucket"
