"""Settings of the shared parts of a stack: network, repository, logs, outputBucket, cost, compose, alerts."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from settings.base import (
    EXTRA_ENDPOINTS,
    RETENTION_DAYS,
    Model,
    check_kms,
    check_kms_key,
    check_retention,
    check_unique,
    shown,
)
from settings.containers import StackSecretRef
from settings.errors import OFFLINE_SECRET, SettingError
from settings.patterns import (
    AZ_NAME_OR_ID,
    DNS_NAME,
    ECR_REPO_NAME,
    EMAIL,
    RTB_ID,
    SECRET_ARN,
    SNS_TOPIC_ARN,
    SSM_ARN,
    SUBNET_ID,
    VPC_ID,
)


class ExistingNetwork(Model):
    """A VPC the team already has: only endpoints and their security group are created in it."""

    vpc_id: str = Field(pattern=VPC_ID, description="the VPC's id")
    private_subnet_ids: list[Annotated[str, Field(pattern=SUBNET_ID)]] = Field(
        min_length=1, description="the private subnets tasks run in")
    private_route_table_ids: list[Annotated[str, Field(pattern=RTB_ID)]] = Field(
        min_length=1, description="their route tables (the S3 gateway endpoint is attached to them)")


class NetworkSettings(Model):
    """`network`: the VPC, its private subnets and the endpoints that replace an internet route."""

    cidr: str = Field("10.0.0.0/16", description=(
        "VPC CIDR, prefix /16 to /24. Split into 16 blocks: private subnet *i* takes block *i*, public subnet "
        "*i* block 8+*i*"))
    az_count: int = Field(2, ge=1, le=6, json_schema_extra=shown("`2`, or the number of `availabilityZones`"),
                          description="private subnets, one per AZ (1..6); a load balancer needs 2")
    availability_zones: list[Annotated[str, Field(pattern=AZ_NAME_OR_ID)]] | None = Field(
        None, min_length=1, max_length=6, json_schema_extra=shown("chosen at the first `up`"), description=(
            "the zones of the private subnets, by name (`us-east-1a`) or zone ID (`use1-az1`); absent: the first "
            "`azCount` zones where Fargate and every endpoint the stack needs are offered, by zone ID. A deployed "
            "subnet never moves when that choice changes (see Upgrading)"))
    endpoint_az_count: int | None = Field(None, ge=1, le=6, json_schema_extra=shown("`azCount`"), description=(
        "subnets that hold interface endpoint ENIs; 1 saves money, tasks in other AZs still resolve them"))
    extra_endpoints: list[Literal[EXTRA_ENDPOINTS]] = Field(  # type: ignore[valid-type]
        [], description="more endpoints, from: " + ", ".join(EXTRA_ENDPOINTS) + " (dynamodb is a gateway)")
    egress: Literal["none", "nat"] = Field("none", description=(
        "`none`: no route out of the VPC; `nat`: one NAT gateway (costed alternative)"))
    s3_endpoint_policy: Literal["restricted", "open"] | None = Field(
        None, json_schema_extra=shown("`restricted`; `open` with `existing`"), description=(
            "`restricted`: the S3 gateway endpoint reaches only the ECR layer bucket and this stack's buckets; "
            "`open`: all of S3 (an adopted VPC's route tables serve other teams' workloads too)"))
    endpoint_policy: Literal["restricted", "open"] = Field("restricted", description=(
        "`restricted`: the interface endpoints the stack creates serve only principals of this account "
        "(`aws:PrincipalAccount`); `open`: AWS's default full-access policy"))
    flow_log_retention_days: int = Field(30, description="retention of the VPC flow log group (CloudWatch values)")
    existing: ExistingNetwork | None = Field(None, description=(
        "adopt a VPC; only endpoints are created. Needs `network.cidr` set to that VPC's CIDR"))
    dns_namespace: str | None = Field(None, pattern=DNS_NAME, max_length=253,
                                      json_schema_extra=shown("`<stack>.<project>.internal`"), description=(
        "private DNS namespace (Cloud Map, bound to the VPC) where each service registers `<name>.<namespace>` "
        "(A records), which jobs and one-off tasks resolve too"))

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
    _unique_zones = field_validator("availability_zones")(check_unique)

    @model_validator(mode="after")
    def _az_rules(self) -> NetworkSettings:
        zones = self.availability_zones
        if zones is not None:
            if "az_count" in self.model_fields_set and self.az_count != len(zones):
                raise SettingError("azCount", f"{self.az_count} but availabilityZones names {len(zones)}; give one "
                                              "of them, or the same count")
            object.__setattr__(self, "az_count", len(zones))
        subnets = self.subnet_count
        if self.endpoint_az_count is not None and self.endpoint_az_count > subnets:
            what = "existing.privateSubnetIds" if self.existing else "azCount"
            raise SettingError("endpointAzCount",
                               f"{self.endpoint_az_count} is more than {what} ({subnets}); allowed: 1..{subnets}")
        if self.existing is not None:
            if "cidr" not in self.model_fields_set:
                raise SettingError("cidr", "required with network.existing: the existing VPC's CIDR "
                                           "(the endpoint security group admits 443 from it)")
            for key in ("az_count", "availability_zones", "egress"):
                if key in self.model_fields_set:
                    raise SettingError(to_camel(key), "not used with network.existing: the subnets and "
                                                      "routes of an existing VPC are not managed here")
        return self

    @property
    def s3_policy(self) -> str:
        """The S3 gateway endpoint's policy: `open` for an adopted VPC unless the settings say otherwise."""
        return self.s3_endpoint_policy or ("open" if self.existing is not None else "restricted")

    @property
    def subnet_count(self) -> int:
        """How many private subnets the tasks use."""
        return len(self.existing.private_subnet_ids) if self.existing else self.az_count

    @property
    def endpoint_subnet_count(self) -> int:
        """How many private subnets hold an interface endpoint ENI."""
        return self.endpoint_az_count or self.subnet_count


def check_credential(value: str | None) -> str | None:
    """A pull-through cache credential: a Secrets Manager secret whose name starts `ecr-pullthroughcache/`."""
    if value is None or value == OFFLINE_SECRET:
        return value
    m = SECRET_ARN.match(value)
    if not m:
        raise ValueError("expected a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:"
                         "ecr-pullthroughcache/<name>)")
    if not m.group(2).startswith("ecr-pullthroughcache/"):
        raise ValueError("ECR only accepts secrets whose name starts with 'ecr-pullthroughcache/'")
    return value


class UpstreamCredentials(Model):
    """`repository.upstreamCredentials`: the secret ECR signs in to each upstream with (username, accessToken)."""

    dockerhub: str | None = Field(None, description="Docker Hub")
    ghcr: str | None = Field(None, description="GitHub Container Registry (ghcr.io)")
    gitlab: str | None = Field(None, description="GitLab.com (registry.gitlab.com)")
    acr: str | None = Field(None, description="Azure Container Registry (every `<name>.azurecr.io` used)")

    _arns = field_validator("dockerhub", "ghcr", "gitlab", "acr")(check_credential)

    def given(self) -> dict[str, str]:
        """Upstream key -> secret ARN, for the ones set."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class RepositorySettings(Model):
    """`repository`: the stack's ECR repository and its retention rules."""

    name: str | None = Field(None, min_length=2, max_length=256, pattern="^" + ECR_REPO_NAME + "$",
                             json_schema_extra=shown("`<project>-<stack>`"), description="ECR repository name")
    keep_images: int = Field(20, ge=1, le=10000, description=(
        "tagged images kept by the lifecycle policy (images tagged `pin-*` are kept as well, always)"))
    untagged_expiry_days: int = Field(7, ge=1, description="untagged images expire after this many days")
    kms_key_arn: str | None = Field(None, json_schema_extra=shown("absent (AES256)"),
                                    description="KMS key for the repository")
    upstream_credentials: UpstreamCredentials = Field(UpstreamCredentials(), description=(
        "Secrets Manager secrets (names starting `ecr-pullthroughcache/`, this account and region) for the "
        "pull-through cache upstreams that require them"))
    docker_hub_credential_arn: str | None = Field(None, description=(
        "the same as `upstreamCredentials.dockerhub` (kept for stacks that set it)"))

    _kms = field_validator("kms_key_arn")(check_kms)
    _credential = field_validator("docker_hub_credential_arn")(check_credential)

    @model_validator(mode="after")
    def _one_docker_hub_secret(self) -> RepositorySettings:
        hub = self.upstream_credentials.dockerhub
        if hub and self.docker_hub_credential_arn and hub != self.docker_hub_credential_arn:
            raise SettingError("dockerHubCredentialArn", "differs from upstreamCredentials.dockerhub; it is the "
                                                         "same setting, give one")
        return self

    @property
    def credentials(self) -> dict[str, str]:
        """Upstream key (dockerhub, ghcr, gitlab, acr) -> secret ARN, the alias included."""
        out = self.upstream_credentials.given()
        if self.docker_hub_credential_arn:
            out.setdefault("dockerhub", self.docker_hub_credential_arn)
        return out


class LogsSettings(Model):
    """`logs`: CloudWatch log groups of the workloads."""

    retention_days: int = Field(30, description=(
        "retention of workload log groups: " + ", ".join(map(str, RETENTION_DAYS))))
    kms_key_arn: str | None = Field(None, description=(
        "KMS key for the log groups; its policy must let CloudWatch Logs use it (README: \"A KMS key for the log "
        "groups\")"))

    _retention = field_validator("retention_days")(check_retention)
    _kms = field_validator("kms_key_arn")(check_kms_key)


class OutputBucketSettings(Model):
    """`outputBucket`: the S3 bucket where jobs write their results."""

    enabled: bool = Field(True, description="the S3 bucket jobs write results to")
    versioning: bool = Field(True, description="versioning on that bucket")
    expire_after_days: int | None = Field(None, ge=1, description="expire result objects after this many days")
    noncurrent_version_expiry_days: int = Field(30, ge=1, description=(
        "with versioning, a replaced or deleted object's old versions are deleted after this many days"))


class CostSettings(Model):
    """`cost`: usage assumptions behind the monthly estimate."""

    image_storage_gb: float = Field(1, ge=0, description="ECR storage assumed by the estimate")
    log_ingest_gb_per_month: float = Field(1, ge=0, description="log ingestion assumed by the estimate")
    endpoint_data_gb_per_month: float = Field(10, ge=0, description=(
        "data through interface endpoints assumed by the estimate"))
    upstream_image_gb: float = Field(0.5, ge=0, description=(
        "ECR storage assumed per image cached or mirrored at deploy (every platform of it is stored)"))
    efs_storage_gb: float = Field(1, ge=0, description="EFS storage assumed by the estimate (with `volumes` only)")
    worker_messages_per_month: float = Field(100_000, ge=0, description=(
        "messages each worker receives a month, assumed by the estimate (SQS requests, busy task time)"))
    worker_seconds_per_message: float = Field(1, ge=0, description=(
        "task seconds one message takes, assumed by the estimate"))


def default_dns_namespace(project: str, stack: str) -> str:
    """`<stack>.<project>.internal`, each label made a valid DNS label (Pulumi names may hold '_' or '.')."""
    def label(text: str) -> str:
        return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].strip("-") or "x"
    return f"{label(stack)}.{label(project)}.internal"


class ComposeSettings(Model):
    """`compose`: workloads from docker-compose files (settings/compose/ maps them)."""

    file: str | None = Field(None, min_length=1, json_schema_extra=shown("none"), description=(
        "the compose file, relative to the project (or `files`)"))
    files: list[Annotated[str, Field(min_length=1)]] = Field([], description=(
        "several compose files layered like `docker compose -f a.yml -f b.yml` (merged in order)"))
    profiles: list[str] = Field([], description=(
        "compose profiles to enable (as `--profile`); services in other profiles are left out; `*` enables all"))
    jobs: list[str] = Field([], description="compose services that become jobs; the others become services")
    secrets: dict[str, str | StackSecretRef] = Field({}, description=(
        "compose secret name -> ARN of a Secrets Manager secret or SSM parameter, or `{stackSecret: KEY}`; "
        "required for `external` secrets, and wins over `file`/`environment`"))

    @field_validator("secrets")
    @classmethod
    def _arns(cls, value: dict[str, str | StackSecretRef]) -> dict[str, str | StackSecretRef]:
        for name, source in value.items():
            if isinstance(source, str) and source != OFFLINE_SECRET and not (
                    SECRET_ARN.match(source) or SSM_ARN.match(source)):
                raise SettingError(name, f"{source!r} is not valid; expected the ARN of a Secrets Manager secret, an "
                                         "SSM parameter, or {stackSecret: KEY}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> ComposeSettings:
        if (self.file is None) == (not self.files):
            raise ValueError("give exactly one of file and files")
        return self

    @property
    def paths(self) -> list[str]:
        """The compose files in order."""
        return list(self.files) or [str(self.file)]


class AlertsSettings(Model):
    """`alerts`: where failed jobs, rolled-back deployments and alarms are sent."""

    email: list[Annotated[str, Field(pattern=EMAIL)]] = Field([], description=(
        "addresses subscribed to the stack's alert topic (each confirms once)"))
    sns_topic_arn: str | None = Field(None, pattern=SNS_TOPIC_ARN, description="or an SNS topic you already have")

    @model_validator(mode="after")
    def _somewhere(self) -> AlertsSettings:
        if not self.email and self.sns_topic_arn is None:
            raise ValueError("give email addresses, snsTopicArn or both")
        return self
