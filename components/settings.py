"""The stack settings: every key of `private-fargate:*` in Pulumi.<stack>.yaml, validated once.

Defaults live here and only here. `Settings.load()` reads `pulumi.Config("private-fargate")`,
rejects unknown keys and bad values with one line naming the key path (see settings_errors), and
does so before any resource is registered, so a typo never half-registers a stack.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import pulumi
from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components import compose
from components.settings_base import (
    ECR_REPO_NAME,
    EMAIL,
    EXTRA_ENDPOINTS,
    FARGATE_MEMORY,
    PRIVATE_ECR_URI,
    RETENTION_DAYS,
    RTB_ID,
    SECRET_ARN,
    SNS_TOPIC_ARN,
    SUBNET_ID,
    TAG_KEY,
    VPC_ID,
    Model,
    check_kms,
    check_kms_key,
    check_retention,
    check_unique,
    partition_of,
    scalar_to_str,
)
from components.settings_errors import OFFLINE_SECRET, SettingError, SettingsError, problems_from
from components.settings_workloads import (
    AutoscalingSettings,
    BuildSettings,
    CapacityMix,
    EgressRule,
    HealthCheckSettings,
    ImageSettings,
    JobSettings,
    LoadBalancerSettings,
    ServiceSettings,
    WorkloadSettings,
)

NAMESPACE = "private-fargate"

#: The settings API in one place: components import these names from here.
__all__ = [
    "EXTRA_ENDPOINTS", "FARGATE_MEMORY", "NAMESPACE", "OFFLINE_SECRET", "RETENTION_DAYS", "AlertsSettings",
    "AutoscalingSettings",
    "BuildSettings", "CapacityMix", "ComposeSettings", "CostSettings", "EgressRule", "ExistingNetwork",
    "HealthCheckSettings",
    "ImageSettings", "JobSettings", "LoadBalancerSettings", "LogsSettings", "NetworkSettings",
    "OutputBucketSettings", "RepositorySettings", "ServiceSettings", "SettingError", "Settings", "SettingsError",
    "WorkloadSettings", "partition_of", "read_namespace",
]


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


class Settings(Model):
    """All keys of the `private-fargate` namespace, plus the project, stack and region they apply to."""

    network: NetworkSettings = NetworkSettings()
    repository: RepositorySettings = RepositorySettings()
    logs: LogsSettings = LogsSettings()
    output_bucket: OutputBucketSettings = OutputBucketSettings()
    protect: bool = True
    tags: dict[Annotated[str, Field(min_length=1, max_length=128, pattern=TAG_KEY)],
               Annotated[str, BeforeValidator(scalar_to_str), Field(max_length=256)]] = {}
    cost: CostSettings = CostSettings()
    services: list[ServiceSettings] = []
    jobs: list[JobSettings] = []
    compose: ComposeSettings | None = None
    alerts: AlertsSettings | None = None

    _project: str = PrivateAttr("private-fargate")
    _stack: str = PrivateAttr("dev")
    _region: str = PrivateAttr("us-east-1")
    _secret_keys: frozenset[str] = PrivateAttr(frozenset())
    _notes: tuple[str, ...] = PrivateAttr(())

    @model_validator(mode="before")
    @classmethod
    def _expand_compose(cls, data: Any, info: ValidationInfo) -> Any:
        """Merge the compose file's workloads into services and jobs before anything is validated."""
        if not isinstance(data, dict) or not isinstance(data.get("compose"), dict):
            return data
        ctx = info.context if info.context is not None else {}
        spec = ComposeSettings.model_validate(data["compose"], context=ctx)
        base = Path(ctx.get("base_dir") or Path.cwd())
        try:
            services, jobs, notes = compose.load(spec.model_dump(), base)
        except compose.ComposeError as exc:
            raise SettingError("compose", f"{spec.file}: {exc}") from None
        data = dict(data)
        data["services"] = compose.merge(services, list(data.get("services") or []), "service", notes)
        data["jobs"] = compose.merge(jobs, list(data.get("jobs") or []), "job", notes)
        ctx.setdefault("notes", []).extend(notes)
        return data

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key in ("project", "stack", "Name"):
                raise SettingError(key, "always set by private-fargate (project and stack names, and a Name "
                                        "per resource); remove it")
            if key.lower().startswith("aws:"):
                raise SettingError(key, "the aws: prefix is reserved by AWS")
        if len(value) > 47:
            raise ValueError(f"{len(value)} tags; AWS allows 50 per resource and 3 are project, stack and Name")
        return value

    @model_validator(mode="after")
    def _stack_rules(self, info: ValidationInfo) -> Settings:
        ctx = info.context or {}
        for attr in ("project", "stack", "region"):
            if ctx.get(attr):
                setattr(self, f"_{attr}", ctx[attr])
        self._secret_keys = frozenset(ctx.get("secret_keys", ()))
        self._notes = tuple(ctx.get("notes", ()))
        self._check_names()
        self._check_services()
        self._check_images()
        self._check_secret_regions()
        if self.alerts and self.alerts.sns_topic_arn and self.alerts.sns_topic_arn.split(":")[3] != self._region:
            raise SettingError(("alerts", "snsTopicArn"), f"the topic is not in {self._region}; EventBridge rules "
                                                          "and alarms publish to a topic of their own region")
        return self

    def _check_names(self) -> None:
        seen: dict[str, str] = {}
        for kind, items in (("services", self.services), ("jobs", self.jobs)):
            for i, w in enumerate(items):
                where = f"{kind}[{i}]"
                if w.name in seen:
                    raise SettingError((kind, i, "name"), f"{w.name!r} is already used by {seen[w.name]}; "
                                                          "names are unique across services and jobs")
                seen[w.name] = where

    def _check_services(self) -> None:
        net = self.network
        for i, svc in enumerate(self.services):
            lb = svc.load_balancer
            if lb is None:
                continue
            if net.subnet_count < 2:
                what = "existing.privateSubnetIds has 1 subnet" if net.existing else f"azCount is {net.az_count}"
                raise SettingError(("services", i, "loadBalancer"),
                                   f"an ALB needs subnets in 2 AZs but network.{what}; set network.azCount: 2")
            if lb.scheme == "internet-facing" and net.existing is not None:
                raise SettingError(("services", i, "loadBalancer", "scheme"),
                                   "internet-facing is not supported with network.existing (no public subnets "
                                   "are created in an existing VPC); use internal")

    def _check_images(self) -> None:
        for kind, items in (("services", self.services), ("jobs", self.jobs)):
            for i, w in enumerate(items):
                img = w.image
                if img.public and img.public.startswith("docker.io/") and not self.repository.docker_hub_credential_arn:
                    raise SettingError((kind, i, "image", "public"),
                                       "Docker Hub images need repository.dockerHubCredentialArn (ECR's "
                                       "pull-through cache for Docker Hub requires credentials)")
                if img.uri:
                    region = PRIVATE_ECR_URI.match(img.uri).group(2)  # type: ignore[union-attr]
                    if region != self._region:
                        raise SettingError((kind, i, "image", "uri"),
                                           f"the image is in {region} but the stack is in {self._region}; a private "
                                           "task reaches only its own region's ECR through the endpoints")

    def _check_secret_regions(self) -> None:
        for kind, items in (("services", self.services), ("jobs", self.jobs)):
            for i, w in enumerate(items):
                for name, arn in w.secrets.items():
                    if arn == OFFLINE_SECRET:
                        continue
                    partition, region = arn.split(":")[1], arn.split(":")[3]
                    if region != self._region or partition != partition_of(self._region):
                        raise SettingError((kind, i, "secrets", name),
                                           f"the secret is in {partition}/{region} but the stack is in "
                                           f"{partition_of(self._region)}/{self._region}; a private task reaches "
                                           "only its own region's endpoints")

    @property
    def project(self) -> str:
        """The Pulumi project name."""
        return self._project

    @property
    def stack(self) -> str:
        """The Pulumi stack name (dev, prod, ...)."""
        return self._stack

    @property
    def region(self) -> str:
        """The AWS region of the stack (`aws:region`)."""
        return self._region

    @property
    def notes(self) -> tuple[str, ...]:
        """What loading changed or left out (compose rounding, ignored keys), for the preview's notes."""
        return self._notes

    @property
    def secret_keys(self) -> frozenset[str]:
        """Top-level keys whose values were given as `secure:`."""
        return self._secret_keys

    @property
    def repository_name(self) -> str:
        """The ECR repository name; `<project>-<stack>` unless set."""
        return self.repository.name or f"{self._project}-{self._stack}".lower()

    @property
    def workloads(self) -> list[WorkloadSettings]:
        """Services then jobs."""
        return [*self.services, *self.jobs]

    @property
    def stack_tags(self) -> dict[str, str]:
        """Tags for every taggable resource: the user's plus project and stack."""
        return {**self.tags, "project": self._project, "stack": self._stack}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, project: str = "private-fargate", stack: str = "dev",
                  region: str = "us-east-1", base_dir: Path | str | None = None,
                  secret_keys: frozenset[str] = frozenset()) -> Settings:
        """Validate settings given as a plain mapping (the namespace's keys without prefix)."""
        if not isinstance(data, dict):
            raise SettingsError([f"{NAMESPACE}: expected a mapping of settings, got {type(data).__name__}"])
        context = {"project": project, "stack": stack, "region": region, "base_dir": base_dir,
                   "secret_keys": secret_keys, "notes": []}
        try:
            return cls.model_validate(data, context=context)
        except ValidationError as exc:
            raise SettingsError(problems_from(exc, cls)) from None

    @classmethod
    def load(cls, base_dir: Path | str | None = None) -> Settings:
        """Read and validate the `private-fargate:*` keys of the current stack's config."""
        data, secret_keys = read_namespace(NAMESPACE)
        region = pulumi.Config("aws").get("region") or os.environ.get("AWS_REGION") or os.environ.get(
            "AWS_DEFAULT_REGION")
        if not region:
            raise SettingsError(["aws:region: not set; run `pulumi config set aws:region <region>`"])
        return cls.from_dict(data, project=pulumi.get_project(), stack=pulumi.get_stack(), region=region,
                             base_dir=base_dir if base_dir is not None else Path.cwd(),
                             secret_keys=secret_keys)


def read_namespace(namespace: str) -> tuple[dict[str, Any], frozenset[str]]:
    """Every `<namespace>:<key>` config value, structured values parsed, and which keys are secret.

    pulumi.Config can only fetch keys it is asked for; listing them all is what lets a mistyped
    top-level key be reported instead of silently ignored.
    """
    from pulumi.runtime import config as runtime_config

    raw: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    data: dict[str, Any] = {}
    secret: set[str] = set()
    prefix = namespace + ":"
    for full_key in sorted(raw):
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix):]
        value = runtime_config.get_config(full_key)
        if runtime_config.is_config_secret(full_key):
            secret.add(key)
        data[key] = _parse_config_value(value)
    return data, frozenset(secret)


def _parse_config_value(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
