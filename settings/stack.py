"""Settings of the shared parts of a stack: network, repository, logs, outputBucket, cost, compose, alerts."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from settings.base import (
    EXTRA_ENDPOINTS,
    Model,
    check_kms,
    check_kms_key,
    check_retention,
    check_unique,
)
from settings.errors import OFFLINE_SECRET, SettingError
from settings.patterns import ECR_REPO_NAME, EMAIL, RTB_ID, SECRET_ARN, SNS_TOPIC_ARN, SUBNET_ID, VPC_ID


class ExistingNetwork(Model):
    """A VPC the team already has: only endpoints and their security group are created in it."""

    vpc_id: str = Field(pattern=VPC_ID)
    private_subnet_ids: list[Annotated[str, Field(pattern=SUBNET_ID)]] = Field(min_length=1)
    private_route_table_ids: list[Annotated[str, Field(pattern=RTB_ID)]] = Field(min_length=1)


class NetworkSettings(Model):
    """`network`: the VPC, its private subnets and the endpoints that replace an internet route."""

    cidr: str = "10.0.0.0/16"
    az_count: int = Field(2, ge=1, le=6)
    endpoint_az_count: int | None = Field(None, ge=1, le=6)
    extra_endpoints: list[Literal[EXTRA_ENDPOINTS]] = []  # type: ignore[valid-type]
    egress: Literal["none", "nat"] = "none"
    s3_endpoint_policy: Literal["restricted", "open"] = "restricted"
    flow_log_retention_days: int = 30
    existing: ExistingNetwork | None = None

    _check_flow_retention = field_validator("flow_log_retention_days")(check_retention)

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"expected an IPv4 CIDR such as 10.0.0.0/16 ({exc})") from None
        if not 16 <= net.prefixlen <= 24:
            raise ValueError("the prefix must be from /16 to /24")
        if (net.is_loopback or net.is_multicast or net.is_link_local or net.is_reserved
                or net.subnet_of(ipaddress.IPv4Network("0.0.0.0/8"))):
            raise ValueError("AWS does not allow this range for a VPC; use a private range such as 10.0.0.0/16")
        return str(net)

    _unique_endpoints = field_validator("extra_endpoints")(check_unique)

    @model_validator(mode="after")
    def _az_rules(self) -> NetworkSettings:
        subnets = self.subnet_count
        if self.endpoint_az_count is not None and self.endpoint_az_count > subnets:
            what = "existing.privateSubnetIds" if self.existing else "azCount"
            raise SettingError("endpointAzCount",
                               f"{self.endpoint_az_count} is more than {what} ({subnets}); allowed: 1..{subnets}")
        if self.existing is not None:
            if "cidr" not in self.model_fields_set:
                raise SettingError("cidr", "required with network.existing: the existing VPC's CIDR "
                                           "(the endpoint security group admits 443 from it)")
            for key in ("az_count", "egress"):
                if key in self.model_fields_set:
                    raise SettingError(to_camel(key), "not used with network.existing: the subnets and "
                                                      "routes of an existing VPC are not managed here")
        return self

    @property
    def subnet_count(self) -> int:
        """How many private subnets the tasks use."""
        return len(self.existing.private_subnet_ids) if self.existing else self.az_count

    @property
    def endpoint_subnet_count(self) -> int:
        """How many private subnets hold an interface endpoint ENI."""
        return self.endpoint_az_count or self.subnet_count


class RepositorySettings(Model):
    """`repository`: the stack's ECR repository and its retention rules."""

    name: str | None = Field(None, min_length=2, max_length=256, pattern="^" + ECR_REPO_NAME + "$")
    keep_images: int = Field(20, ge=1, le=10000)
    untagged_expiry_days: int = Field(7, ge=1)
    kms_key_arn: str | None = None
    docker_hub_credential_arn: str | None = None

    _kms = field_validator("kms_key_arn")(check_kms)

    @field_validator("docker_hub_credential_arn")
    @classmethod
    def _credential(cls, value: str | None) -> str | None:
        if value is None or value == OFFLINE_SECRET:
            return value
        m = SECRET_ARN.match(value)
        if not m:
            raise ValueError("expected a Secrets Manager secret ARN")
        if not m.group(2).startswith("ecr-pullthroughcache/"):
            raise ValueError("ECR only accepts secrets whose name starts with 'ecr-pullthroughcache/'")
        return value


class LogsSettings(Model):
    """`logs`: CloudWatch log groups of the workloads."""

    retention_days: int = 30
    kms_key_arn: str | None = None

    _retention = field_validator("retention_days")(check_retention)
    _kms = field_validator("kms_key_arn")(check_kms_key)


class OutputBucketSettings(Model):
    """`outputBucket`: the S3 bucket where jobs write their results."""

    enabled: bool = True
    versioning: bool = True
    expire_after_days: int | None = Field(None, ge=1)


class CostSettings(Model):
    """`cost`: usage assumptions behind the monthly estimate."""

    image_storage_gb: float = Field(1, ge=0)
    log_ingest_gb_per_month: float = Field(1, ge=0)
    endpoint_data_gb_per_month: float = Field(10, ge=0)



class ComposeSettings(Model):
    """`compose`: workloads from a docker-compose file (components/compose.py maps them)."""

    file: str = Field(min_length=1)
    jobs: list[str] = []
    secrets: dict[str, str] = {}


class AlertsSettings(Model):
    """`alerts`: where failed jobs, rolled-back deployments and alarms are sent."""

    email: list[Annotated[str, Field(pattern=EMAIL)]] = []
    sns_topic_arn: str | None = Field(None, pattern=SNS_TOPIC_ARN)

    @model_validator(mode="after")
    def _somewhere(self) -> AlertsSettings:
        if not self.email and self.sns_topic_arn is None:
            raise ValueError("give email addresses, snsTopicArn or both")
        return self
