"""The stack settings: every key of `private-fargate:*` in Pulumi.<stack>.yaml, validated once.

Defaults live here and only here. `Settings.load()` reads `pulumi.Config("private-fargate")`,
rejects unknown keys and bad values with one line naming the key path (see settings_errors), and
does so before any resource is registered, so a typo never half-registers a stack.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Literal

import pulumi
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components.schedules import parse_schedule
from components.settings_errors import OFFLINE_SECRET, PATTERN_HELP, SettingError, SettingsError, problems_from

NAMESPACE = "private-fargate"

#: CloudWatch Logs accepts only these retention periods (days); 0 ("never expire") is not allowed here.
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                  2557, 2922, 3288, 3653)


def _mib_range(low_gib: int, high_gib: int, step_gib: int) -> tuple[int, ...]:
    return tuple(range(low_gib * 1024, high_gib * 1024 + 1, step_gib * 1024))


#: Valid Fargate task sizes: cpu units -> allowed memory (MiB).
FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: _mib_range(1, 4, 1),
    1024: _mib_range(2, 8, 1),
    2048: _mib_range(4, 16, 1),
    4096: _mib_range(8, 30, 1),
    8192: _mib_range(16, 60, 4),
    16384: _mib_range(32, 120, 8),
}

#: Interface endpoints a user may add (dynamodb is a gateway endpoint, like s3).
EXTRA_ENDPOINTS = ("ssm", "ssmmessages", "ec2messages", "secretsmanager", "kms", "sts", "ecs",
                   "ecs-agent", "ecs-telemetry", "sqs", "sns", "monitoring", "xray",
                   "elasticfilesystem", "dynamodb")

_ECR_REPO_NAME = r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"
_ARN_HEAD = r"arn:aws(?:-cn|-us-gov|-iso|-iso-b)?"
_KMS_KEY_ARN = re.compile(_ARN_HEAD + r":kms:[a-z0-9-]+:\d{12}:(?:key|alias)/[A-Za-z0-9/_-]+$")
_SECRET_ARN = re.compile(_ARN_HEAD + r":secretsmanager:([a-z0-9-]+):\d{12}:secret:([A-Za-z0-9/_+=.@-]+)"
                         r"(?::[^:]*:[^:]*:[^:]*)?$")
_SSM_ARN = re.compile(_ARN_HEAD + r":ssm:([a-z0-9-]+):\d{12}:parameter/[A-Za-z0-9/_.-]+$")
_ACM_ARN = re.compile(_ARN_HEAD + r":acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")
_PRIVATE_ECR_URI = re.compile(
    r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(" + _ECR_REPO_NAME + r")"
    r"(?::([\w][\w.-]{0,127})|@(sha256:[0-9a-f]{64}))?$")
_PUBLIC_IMAGE = re.compile(
    r"^(public\.ecr\.aws|docker\.io)/(" + _ECR_REPO_NAME + r")(?::([\w][\w.-]{0,127})|@(sha256:[0-9a-f]{64}))?$")
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_WORKLOAD_NAME = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"
_SG_ID = r"^sg-[0-9a-f]{8,17}$"
_VPC_ID = r"^vpc-[0-9a-f]{8,17}$"
_SUBNET_ID = r"^subnet-[0-9a-f]{8,17}$"
_RTB_ID = r"^rtb-[0-9a-f]{8,17}$"
_URL_PATH = r"^/\S*$"
_ABS_PATH = r"^/[^\s:]*$"
_TAG_KEY = r"^[\w .:/=+@-]+$"
PATTERN_HELP.update({
    "^" + _ECR_REPO_NAME + "$": "an ECR repository name: lowercase letters, digits, '.', '_', '-', '/' "
                                "(2 to 256 characters)",
    _ENV_NAME: "an environment variable name: letters, digits and '_', not starting with a digit",
    _WORKLOAD_NAME: "lowercase letters, digits and '-', 1 to 40 characters, starting and ending with a "
                    "letter or digit",
    _SG_ID: "a security group id (sg-0123456789abcdef0)",
    _VPC_ID: "a VPC id (vpc-0123456789abcdef0)",
    _SUBNET_ID: "a subnet id (subnet-0123456789abcdef0)",
    _RTB_ID: "a route table id (rtb-0123456789abcdef0)",
    _URL_PATH: "a URL path starting with '/'",
    _ABS_PATH: "an absolute path such as /tmp",
    _TAG_KEY: "letters, digits, spaces and _ . : / = + - @",
})


def partition_of(region: str) -> str:
    """The AWS partition of a region."""
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    if region.startswith("us-iso-"):
        return "aws-iso"
    return "aws"


def _scalar_to_str(value: Any) -> Any:
    """YAML turns `LOG_LEVEL: 1` or `DEBUG: true` into numbers and booleans; containers see strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


EnvValue = Annotated[str, BeforeValidator(_scalar_to_str)]
Port = Annotated[int, Field(ge=1, le=65535)]


class _Model(BaseModel):
    """Settings objects: camelCase keys only, unknown keys rejected, immutable once loaded."""

    # strict: YAML already gives numbers and booleans their types, so `true` for a number or "2" for
    # a count is a mistake to report, not to coerce.
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, strict=True,
                              allow_inf_nan=False, validate_by_alias=True, validate_by_name=False)


def _check_retention(value: int) -> int:
    if value not in RETENTION_DAYS:
        raise ValueError(f"CloudWatch allows only {', '.join(map(str, RETENTION_DAYS))}")
    return value


def _check_kms(value: str | None) -> str | None:
    if value is not None and value != OFFLINE_SECRET and not _KMS_KEY_ARN.match(value):
        raise ValueError("expected a KMS key or alias ARN (arn:aws:kms:<region>:<account>:key/<id>)")
    return value


def _check_kms_key(value: str | None) -> str | None:
    """CloudWatch Logs takes a key ARN only, not an alias."""
    if value is not None and value != OFFLINE_SECRET and (not _KMS_KEY_ARN.match(value) or ":alias/" in value):
        raise ValueError("expected a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); CloudWatch Logs "
                         "does not take aliases")
    return value




class ExistingNetwork(_Model):
    """A VPC the team already has: only endpoints and their security group are created in it."""

    vpc_id: str = Field(pattern=_VPC_ID)
    private_subnet_ids: list[Annotated[str, Field(pattern=_SUBNET_ID)]] = Field(min_length=1)
    private_route_table_ids: list[Annotated[str, Field(pattern=_RTB_ID)]] = Field(min_length=1)


class NetworkSettings(_Model):
    """`network`: the VPC, its private subnets and the endpoints that replace an internet route."""

    cidr: str = "10.0.0.0/16"
    az_count: int = Field(2, ge=1, le=6)
    endpoint_az_count: int | None = Field(None, ge=1, le=6)
    extra_endpoints: list[Literal[EXTRA_ENDPOINTS]] = []  # type: ignore[valid-type]
    egress: Literal["none", "nat"] = "none"
    s3_endpoint_policy: Literal["restricted", "open"] = "restricted"
    flow_log_retention_days: int = 30
    existing: ExistingNetwork | None = None

    _check_flow_retention = field_validator("flow_log_retention_days")(_check_retention)

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

    @field_validator("extra_endpoints")
    @classmethod
    def _unique_endpoints(cls, value: list[str]) -> list[str]:
        dupes = sorted({v for v in value if value.count(v) > 1})
        if dupes:
            raise ValueError(f"listed twice: {', '.join(dupes)}")
        return value

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


class RepositorySettings(_Model):
    """`repository`: the stack's ECR repository and its retention rules."""

    name: str | None = Field(None, min_length=2, max_length=256, pattern="^" + _ECR_REPO_NAME + "$")
    keep_images: int = Field(20, ge=1, le=10000)
    untagged_expiry_days: int = Field(7, ge=1)
    kms_key_arn: str | None = None
    docker_hub_credential_arn: str | None = None

    _kms = field_validator("kms_key_arn")(_check_kms)

    @field_validator("docker_hub_credential_arn")
    @classmethod
    def _credential(cls, value: str | None) -> str | None:
        if value is None or value == OFFLINE_SECRET:
            return value
        m = _SECRET_ARN.match(value)
        if not m:
            raise ValueError("expected a Secrets Manager secret ARN")
        if not m.group(2).startswith("ecr-pullthroughcache/"):
            raise ValueError("ECR only accepts secrets whose name starts with 'ecr-pullthroughcache/'")
        return value


class LogsSettings(_Model):
    """`logs`: CloudWatch log groups of the workloads."""

    retention_days: int = 30
    kms_key_arn: str | None = None

    _retention = field_validator("retention_days")(_check_retention)
    _kms = field_validator("kms_key_arn")(_check_kms_key)


class OutputBucketSettings(_Model):
    """`outputBucket`: the S3 bucket where jobs write their results."""

    enabled: bool = True
    versioning: bool = True
    expire_after_days: int | None = Field(None, ge=1)


class CostSettings(_Model):
    """`cost`: usage assumptions behind the monthly estimate."""

    image_storage_gb: float = Field(1, ge=0)
    log_ingest_gb_per_month: float = Field(1, ge=0)
    endpoint_data_gb_per_month: float = Field(10, ge=0)


class BuildSettings(_Model):
    """`image.build` in its long form; the short form is the context directory alone."""

    context: str
    dockerfile: str = "Dockerfile"


class ImageSettings(_Model):
    """`image`: exactly one of build, uri, public."""

    build: BuildSettings | None = None
    uri: str | None = None
    public: str | None = None

    @field_validator("build", mode="before")
    @classmethod
    def _short_build(cls, value: Any) -> Any:
        return {"context": value} if isinstance(value, str) else value

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str | None) -> str | None:
        if value is None:
            return value
        first = value.split("/")[0]
        # Docker's rule: the first component names a registry only if it has a dot or a port.
        no_registry = "/" not in value or not ("." in first or ":" in first or first == "localhost")
        if no_registry or value.startswith(("docker.io/", "public.ecr.aws/")):
            raise ValueError("a task with no internet route cannot pull it; use image.public "
                             "(through the ECR pull-through cache) for public images")
        m = _PRIVATE_ECR_URI.match(value)
        if not m:
            raise ValueError("expected <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> "
                             "or @sha256:<digest>, the only registry a private task can reach")
        if m.group(4) is None and m.group(5) is None:
            raise ValueError("give a tag or a digest; an untagged image means latest")
        if m.group(4) == "latest":
            raise ValueError("'latest' is mutable and the repository's tags are immutable; pin a tag or digest")
        return value

    @field_validator("public")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if value is None:
            return value
        m = _PUBLIC_IMAGE.match(value)
        if not m:
            raise ValueError("expected public.ecr.aws/<namespace>/<name>:<tag> or docker.io/<namespace>/<name>:<tag>")
        if m.group(1) == "public.ecr.aws" and "/" not in m.group(2):
            raise ValueError("public.ecr.aws images are public.ecr.aws/<alias>/<name>:<tag>")
        if m.group(3) is None and m.group(4) is None:
            raise ValueError("give a tag or a digest; an untagged image means latest")
        if m.group(3) == "latest":
            raise ValueError("'latest' changes under you; pin a tag or digest")
        return value

    @model_validator(mode="after")
    def _exactly_one(self, info: ValidationInfo) -> ImageSettings:
        given = [k for k in ("build", "uri", "public") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of build, uri, public (got {', '.join(given) or 'none'})")
        base = (info.context or {}).get("base_dir")
        if self.build is not None and base is not None:
            context = Path(base, self.build.context)
            if not context.is_dir():
                raise SettingError(("build", "context"), f"{self.build.context!r} is not a directory "
                                                         "(paths are relative to the project directory)")
            if not (context / self.build.dockerfile).is_file():
                raise SettingError(("build", "dockerfile"),
                                   f"{self.build.dockerfile!r} not found in {self.build.context!r}")
        return self

    @property
    def source(self) -> str:
        """Which of build, uri, public is set."""
        return next(k for k in ("build", "uri", "public") if getattr(self, k) is not None)


class HealthCheckSettings(_Model):
    """`healthCheck`: the container health check, with ECS's own limits."""

    command: list[str] = Field(min_length=2)
    interval: int = Field(30, ge=5, le=300)
    timeout: int = Field(5, ge=2, le=120)
    retries: int = Field(3, ge=1, le=10)
    start_period: int = Field(0, ge=0, le=300)

    @field_validator("command")
    @classmethod
    def _form(cls, value: list[str]) -> list[str]:
        if value[0] not in ("CMD", "CMD-SHELL"):
            raise ValueError("the first element must be CMD or CMD-SHELL")
        return value


class EgressRule(_Model):
    """One extra egress rule: exactly one of securityGroupId and cidr, and a TCP port."""

    security_group_id: str | None = Field(None, pattern=_SG_ID)
    cidr: str | None = None
    port: Port

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_network(value, strict=True)
            except ValueError as exc:
                raise ValueError(f"expected a CIDR ({exc})") from None
        return value

    @model_validator(mode="after")
    def _one_target(self) -> EgressRule:
        if (self.security_group_id is None) == (self.cidr is None):
            raise ValueError("give exactly one of securityGroupId and cidr")
        return self


class CapacityMix(_Model):
    """`capacityMix`: the FARGATE / FARGATE_SPOT split for `capacity: mixed`."""

    base: int = Field(1, ge=0, le=100000)
    on_demand_weight: int = Field(1, ge=0, le=1000)
    spot_weight: int = Field(3, ge=0, le=1000)

    @model_validator(mode="after")
    def _some_weight(self) -> CapacityMix:
        if self.on_demand_weight == 0 and self.spot_weight == 0:
            raise ValueError("at least one of onDemandWeight and spotWeight must be above 0")
        return self


class WorkloadSettings(_Model):
    """The keys services and jobs share: one container, its size, image, environment and access."""

    name: str = Field(pattern=_WORKLOAD_NAME)
    image: ImageSettings
    cpu: Literal[256, 512, 1024, 2048, 4096, 8192, 16384] = 256
    memory: int | None = None
    arch: Literal["X86_64", "ARM64"] = "X86_64"
    command: list[str] | None = None
    environment: dict[Annotated[str, Field(pattern=_ENV_NAME)], EnvValue] = {}
    secrets: dict[Annotated[str, Field(pattern=_ENV_NAME)], str] = {}
    health_check: HealthCheckSettings | None = None
    writable_paths: list[Annotated[str, Field(pattern=_ABS_PATH)]] = ["/tmp"]
    readonly_root_filesystem: bool = True
    egress_to: list[EgressRule] = []
    capacity: Literal["on-demand", "spot", "mixed"] = "on-demand"
    capacity_mix: CapacityMix | None = None
    exec: bool = False

    @field_validator("secrets")
    @classmethod
    def _secret_arns(cls, value: dict[str, str]) -> dict[str, str]:
        for key, arn in value.items():
            if arn != OFFLINE_SECRET and not (_SECRET_ARN.match(arn) or _SSM_ARN.match(arn)):
                raise SettingError(key, f"{arn!r} is not valid; expected the ARN of a Secrets Manager secret "
                                        "(arn:aws:secretsmanager:...:secret:...) or an SSM parameter "
                                        "(arn:aws:ssm:...:parameter/...)")
        return value

    @field_validator("environment")
    @classmethod
    def _reserved_env(cls, value: dict[str, str]) -> dict[str, str]:
        if "OUTPUT_BUCKET" in value:
            raise SettingError("OUTPUT_BUCKET", "set by private-fargate to the output bucket's name; remove it")
        return value

    @field_validator("writable_paths")
    @classmethod
    def _unique_paths(cls, value: list[str]) -> list[str]:
        dupes = sorted({v for v in value if value.count(v) > 1})
        if dupes:
            raise ValueError(f"listed twice: {', '.join(dupes)}")
        return value

    @model_validator(mode="after")
    def _workload_rules(self) -> WorkloadSettings:
        allowed = FARGATE_MEMORY[self.cpu]
        if self.memory is None:
            object.__setattr__(self, "memory", allowed[0])
        elif self.memory not in allowed:
            raise SettingError("memory", f"{self.memory} is not valid with cpu {self.cpu}; allowed: "
                                         f"{_list_sizes(allowed)}")
        clash = sorted(set(self.environment) & set(self.secrets))
        if clash:
            raise SettingError(("secrets", clash[0]), "also set in environment; a name is either plain or secret")
        if self.capacity_mix is not None and self.capacity != "mixed":
            raise SettingError("capacityMix", f"only used with capacity: mixed (capacity is {self.capacity})")
        return self

    @property
    def memory_mib(self) -> int:
        """Task memory in MiB (the default is the smallest size valid with `cpu`)."""
        assert self.memory is not None
        return self.memory

    @property
    def mix(self) -> CapacityMix:
        """The capacity split, with its defaults when `capacityMix` is absent."""
        return self.capacity_mix or CapacityMix()


def _list_sizes(sizes: tuple[int, ...]) -> str:
    if len(sizes) <= 4:
        return ", ".join(map(str, sizes))
    step = sizes[1] - sizes[0]
    return f"{sizes[0]}..{sizes[-1]} in steps of {step}"


class LoadBalancerSettings(_Model):
    """`loadBalancer`: an ALB in front of a service (internal unless said otherwise)."""

    scheme: Literal["internal", "internet-facing"] = "internal"
    health_check_path: str = Field("/health", pattern=_URL_PATH)
    certificate_arn: str | None = None
    access_logs: bool = False

    @field_validator("certificate_arn")
    @classmethod
    def _acm(cls, value: str | None) -> str | None:
        if value is not None and value != OFFLINE_SECRET and not _ACM_ARN.match(value):
            raise ValueError("expected an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)")
        return value

    @model_validator(mode="after")
    def _public_needs_tls(self) -> LoadBalancerSettings:
        if self.scheme == "internet-facing" and self.certificate_arn is None:
            raise SettingError("certificateArn", "required with scheme internet-facing: a public load "
                                                 "balancer serves HTTPS only")
        return self


class AutoscalingSettings(_Model):
    """`autoscaling`: target tracking on CPU and/or memory between min and max tasks."""

    min: int = Field(1, ge=0, le=1000)
    max: int = Field(4, ge=1, le=1000)
    cpu_target: float | None = Field(60, gt=0, le=100)
    memory_target: float | None = Field(None, gt=0, le=100)
    scale_in_cooldown: int = Field(300, ge=0, le=3600)
    scale_out_cooldown: int = Field(60, ge=0, le=3600)

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingSettings:
        if self.max < self.min:
            raise SettingError("max", f"{self.max} is less than min ({self.min})")
        if self.cpu_target is None and self.memory_target is None:
            raise ValueError("give cpuTarget, memoryTarget or both")
        return self


class ServiceSettings(WorkloadSettings):
    """One `services[]` entry: a long-running workload."""

    desired_count: int = Field(1, ge=0, le=1000)
    port: Port | None = None
    load_balancer: LoadBalancerSettings | None = None
    autoscaling: AutoscalingSettings | None = None
    wait_for_steady_state: bool = False

    @model_validator(mode="after")
    def _service_rules(self) -> ServiceSettings:
        if self.load_balancer is not None and self.port is None:
            raise SettingError("loadBalancer", "needs port: the container port the load balancer forwards to")
        scaling = self.autoscaling
        if scaling is not None and not scaling.min <= self.desired_count <= scaling.max:
            raise SettingError("desiredCount", f"{self.desired_count} is outside autoscaling "
                                               f"min..max ({scaling.min}..{scaling.max})")
        return self


class JobSettings(WorkloadSettings):
    """One `jobs[]` entry: a task run on a schedule or on demand."""

    schedule: str | None = None
    timezone: str = "UTC"
    retries: int = Field(2, ge=0, le=185)
    expected_minutes: float = Field(10, gt=0, le=60 * 24 * 14)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is not None:
            if value != value.strip():
                raise ValueError("remove the spaces around the expression")
            parse_schedule(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        if value not in _timezones():
            raise ValueError("expected an IANA time zone name such as UTC or Europe/Paris")
        return value


_TZ_CACHE: set[str] = set()


def _timezones() -> set[str]:
    """IANA names, without what some hosts add to their zoneinfo directory (Factory, posix/..., right/...)."""
    if not _TZ_CACHE:
        _TZ_CACHE.update(z for z in zoneinfo.available_timezones()
                         if z not in ("Factory", "localtime", "posixrules") and not z.startswith(("posix/", "right/")))
    return _TZ_CACHE


class Settings(_Model):
    """All keys of the `private-fargate` namespace, plus the project, stack and region they apply to."""

    network: NetworkSettings = NetworkSettings()
    repository: RepositorySettings = RepositorySettings()
    logs: LogsSettings = LogsSettings()
    output_bucket: OutputBucketSettings = OutputBucketSettings()
    protect: bool = True
    tags: dict[Annotated[str, Field(min_length=1, max_length=128, pattern=_TAG_KEY)],
               Annotated[str, BeforeValidator(_scalar_to_str), Field(max_length=256)]] = {}
    cost: CostSettings = CostSettings()
    services: list[ServiceSettings] = []
    jobs: list[JobSettings] = []

    _project: str = PrivateAttr("private-fargate")
    _stack: str = PrivateAttr("dev")
    _region: str = PrivateAttr("us-east-1")
    _secret_keys: frozenset[str] = PrivateAttr(frozenset())

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
        self._check_names()
        self._check_services()
        self._check_images()
        self._check_secret_regions()
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
                    region = _PRIVATE_ECR_URI.match(img.uri).group(2)  # type: ignore[union-attr]
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
                   "secret_keys": secret_keys}
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
