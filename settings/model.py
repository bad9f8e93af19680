"""The stack settings: every key of `private-fargate:*` in Pulumi.<stack>.yaml, validated once.

Defaults live in the settings models and only there. `Settings.load()` reads the stack's config
(settings/source.py), rejects unknown keys and bad values with one line naming the key path (see
settings/errors.py), and does so before any resource is registered, so a typo never half-registers
a stack.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

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

from settings import compose
from settings.base import Model, partition_of, scalar_to_str
from settings.compose.check import check_generated, credential_keys
from settings.deploy import check_before_deploy
from settings.errors import OFFLINE_SECRET, SettingError, SettingsError, key_path, problems_from
from settings.images import CACHE_PREFIX_MAX, ECR_NAME_MAX, NO_CACHE_PARTITIONS, upstream_for
from settings.patterns import ALARM_ARN, PRIVATE_ECR_URI, STACK_KEY, TAG_KEY
from settings.source import read_namespace
from settings.stack import (
    AlertsSettings,
    ComposeSettings,
    CostSettings,
    LogsSettings,
    NetworkSettings,
    OutputBucketSettings,
    RepositorySettings,
    default_dns_namespace,
)
from settings.volumes import VolumeSettings, check_references, check_secret_values, secret_value_shape
from settings.workers import WorkerSettings
from settings.workloads import JobSettings, ServiceSettings, WorkloadSettings

NAMESPACE = "private-fargate"
#: Workload names the stack uses for something of its own that a workload's name would collide with.
RESERVED_NAMES = {"exec": "the cluster's ECS Exec session log group is /ecs/<project>/<stack>/exec",
                  "doctor": "tools.doctor --probe registers the task definition family <project>-<stack>-doctor"}


def _namespace(data: dict[str, Any], ctx: dict[str, Any]) -> str:
    """The private DNS namespace the stack will have (before the settings are validated)."""
    network = data.get("network") if isinstance(data.get("network"), dict) else {}
    given = network.get("dnsNamespace") if network else None
    return str(given) if given else default_dns_namespace(ctx.get("project") or "private-fargate",
                                                          ctx.get("stack") or "dev")


class Settings(Model):
    """All keys of the `private-fargate` namespace, plus the project, stack and region they apply to."""

    network: NetworkSettings = Field(NetworkSettings(), description="the VPC and its endpoints")
    repository: RepositorySettings = Field(RepositorySettings(), description="the stack's ECR repository")
    logs: LogsSettings = Field(LogsSettings(), description="the workloads' log groups")
    output_bucket: OutputBucketSettings = Field(OutputBucketSettings(), description="the results bucket")
    protect: bool = Field(True, description=(
        "protect and retain stateful resources (repository, bucket, log groups); the dev stack sets `false`"))
    tags: dict[Annotated[str, Field(min_length=1, max_length=128, pattern=TAG_KEY)],
               Annotated[str, BeforeValidator(scalar_to_str), Field(max_length=256)]] = Field({}, description=(
        "extra tags on every taggable resource; `project` and `stack` are always set (and reserved)"))
    cost: CostSettings = Field(CostSettings(), description="usage assumptions of the cost estimate")
    services: list[ServiceSettings] = Field([], description="long-running workloads (keys below)")
    jobs: list[JobSettings] = Field([], description="scheduled or on-demand tasks (keys below)")
    workers: list[WorkerSettings] = Field([], description=(
        "services that drain an SQS queue the stack creates, scaled on its backlog from zero (keys below)"))
    compose: ComposeSettings | None = Field(None, description="workloads from a docker-compose file")
    alerts: AlertsSettings | None = Field(None, description=(
        "failed jobs, rolled-back deployments, missed runs, thin services"))
    volumes: dict[Annotated[str, Field(pattern=STACK_KEY)], VolumeSettings] = Field({}, description=(
        "persistent volumes on the stack's one EFS file system (created only when a volume exists), by name"))
    secret_values: Annotated[dict[str, str], BeforeValidator(secret_value_shape)] = Field({}, description=(
        "values the stack stores as SSM SecureString parameters `/<project>/<stack>/<key>`, every one a `secure:` "
        "config value; workloads read them as `secrets: {NAME: {stackSecret: KEY}}`"))

    _project: str = PrivateAttr("private-fargate")
    _stack: str = PrivateAttr("dev")
    _region: str = PrivateAttr("us-east-1")
    _secret_keys: frozenset[str] = PrivateAttr(frozenset())
    _notes: tuple[str, ...] = PrivateAttr(())
    _compose_secrets: dict[str, str] = PrivateAttr(default_factory=dict)
    _compose_origins: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _expand_compose(cls, data: Any, info: ValidationInfo) -> Any:
        """Merge the compose project's workloads, volumes and secrets in before anything is validated."""
        if not isinstance(data, dict) or not isinstance(data.get("compose"), dict):
            return data
        ctx = info.context if info.context is not None else {}
        try:
            spec = ComposeSettings.model_validate(data["compose"], context=ctx)
        except ValidationError as exc:
            raise SettingsError([f"compose{'' if line.startswith(':') else '.'}{line}"
                                 for line in problems_from(exc, ComposeSettings)]) from None
        base = Path(ctx.get("base_dir") or Path.cwd())
        shown = ", ".join(spec.paths)
        try:
            result = compose.load({**spec.model_dump(by_alias=True), "files": spec.paths}, base,
                                  credentials=credential_keys(data.get("repository")),
                                  partition=partition_of(ctx.get("region") or "us-east-1"),
                                  namespace=_namespace(data, ctx),
                                  explicit_volumes=frozenset(data.get("volumes") or {}))
        except compose.ComposeError as exc:
            raise SettingsError([f"compose: {shown}: {line}" for line in str(exc).splitlines()]) from None
        notes = result.report_lines()
        data = dict(data)
        data["services"] = compose.merge(result.services, list(data.get("services") or []), "service", notes)
        data["jobs"] = compose.merge(result.jobs, list(data.get("jobs") or []), "job", notes)
        check_generated(result, data["services"], data["jobs"], ctx, shown)
        # the importer leaves out of result.volumes any key the settings' own `volumes` hold (explicit_volumes)
        data["volumes"] = {**result.volumes, **dict(data.get("volumes") or {})}
        clash = sorted(set(result.secret_values) & set(data.get("secretValues") or {}))
        if clash:
            raise SettingsError([f"compose: {shown}: secretValues.{clash[0]}: the compose secret stored under this "
                                 "key clashes with a key of secretValues; rename that key"])
        ctx["compose_secret_values"] = result.secret_values
        ctx["compose_origins"] = result.origins
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
        self._compose_secrets = dict(ctx.get("compose_secret_values") or {})
        self._compose_origins = dict(ctx.get("compose_origins") or {})
        self._check_names()
        self._check_services()
        self._check_rollback_alarms()
        image_notes = self._check_images()
        self._check_secret_regions()
        check_secret_values(self.secret_values, "secretValues" in self._secret_keys)
        volume_notes = check_references(self)
        check_before_deploy(self.kinds(), [j.name for j in self.jobs])
        if self.alerts and self.alerts.sns_topic_arn and self.alerts.sns_topic_arn.split(":")[3] != self._region:
            raise SettingError(("alerts", "snsTopicArn"), f"the topic is not in {self._region}; EventBridge rules "
                                                          "and alarms publish to a topic of their own region")
        self._notes = (*ctx.get("notes", ()), *image_notes, *self._workload_notes(), *volume_notes)
        return self

    def _where(self, kind: str, index: int, workload: WorkloadSettings) -> str:
        """How a note names a workload: its compose service when it came from one, else its entry."""
        origin = self._compose_origins.get(workload.name)
        return f"compose: services.{origin}" if origin else f"{kind}[{index}] ({workload.name})"

    def kinds(self) -> list[tuple[str, list[WorkloadSettings]]]:
        """Every workload kind with its key: names, images and secrets are checked across all of them."""
        return [("services", list(self.services)), ("jobs", list(self.jobs)), ("workers", list(self.workers))]

    def _check_names(self) -> None:
        seen: dict[str, str] = {}
        kinds = ", ".join(k for k, _ in self.kinds())
        for kind, items in self.kinds():
            for i, w in enumerate(items):
                origin = self._compose_origins.get(w.name)
                # a compose service is named as the user wrote it, not as the entry it became
                where = f"compose: services.{origin}" if origin else f"{kind}[{i}]"
                key: tuple[str | int, ...] | str = where if origin else (kind, i, "name")
                if w.name in RESERVED_NAMES:
                    raise SettingError(key, f"{w.name!r} is reserved: {RESERVED_NAMES[w.name]}; "
                                            "choose another name")
                if w.name in seen:
                    raise SettingError(key, f"{w.name!r} is already used by {seen[w.name]}; "
                                            f"names are unique across {kinds}")
                seen[w.name] = where

    def _workload_notes(self) -> list[str]:
        """What the stack does differently from what a workload's settings say, and why (AWS's own words)."""
        notes = []
        for kind, items in self.kinds():
            for i, w in enumerate(items):
                where = self._where(kind, i, w)
                if w.exec and w.readonly_root_filesystem:
                    notes.append(f"{where}: exec is on, so its root filesystem is writable: AWS documents a read-only "
                                 "root as unsupported with ECS Exec (the agent writes to it); "
                                 "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html")
                if w.arch == "ARM64" and w.capacity in ("spot", "mixed"):
                    notes.append(f"{where}: ARM64 on FARGATE_SPOT: AWS's ECS API reference says Fargate Spot runs "
                                 "ARM64 tasks on platform 1.4.0 and later (API_CapacityProviderStrategyItem), while "
                                 "its developer guide still says it does not (fargate-capacity-providers.html); if "
                                 "tasks fail to place, use capacity: on-demand")
                served = any(p.protocol == "tcp" for _, p in w.service_ports)  # a sidecar's port too
                if isinstance(w, ServiceSettings) and served and w.cpu == 256:
                    notes.append(f"{where}: Service Connect adds a proxy to every task, for which AWS recommends 256 "
                                 "more CPU units and 64 MiB (service-connect-concepts-deploy.html, proxy resources); "
                                 "at cpu 256 the app and the proxy share 0.25 vCPU: size it cpu 512 if it is busy")
        return notes

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

    def _check_rollback_alarms(self) -> None:
        """ECS deployment alarms are alarms of this stack (by name) or of this region (by ARN)."""
        prefix = f"{self._project}-{self._stack}-"
        for i, svc in enumerate(self.services):
            for j, alarm in enumerate(svc.rollback_on.alarms if svc.rollback_on else []):
                where = ("services", i, "rollbackOn", "alarms", j)
                arn = ALARM_ARN.match(alarm)
                if arn is not None and arn.group(1) != self._region:
                    raise SettingError(where, f"the alarm is in {arn.group(1)} but the stack is in {self._region}; "
                                              "ECS reads deployment alarms of its own region")
                if arn is None and not alarm.startswith(prefix):
                    raise SettingError(where, f"{alarm!r} is not an alarm of this stack (names start with {prefix!r}); "
                                              "give another alarm by its ARN (arn:aws:cloudwatch:<region>:<account>:"
                                              "alarm:<name>)")

    def check_account(self, account: str) -> None:
        """What only the deploying account can decide, checked before any resource: ECS deployment alarms are
        alarm names in the service's own account, so an ARN of another account would watch a namesake here."""
        for i, svc in enumerate(self.services):
            for j, alarm in enumerate(svc.rollback_on.alarms if svc.rollback_on else []):
                arn = ALARM_ARN.match(alarm)
                owner = alarm.split(":")[4] if arn is not None else account
                if owner != account:
                    raise SettingsError([f"services[{i}].rollbackOn.alarms[{j}]: the alarm is in account {owner}, "
                                         f"the stack deploys to {account}; ECS watches deployment alarms by name in "
                                         "the service's own account: give an alarm of this account"])

    def _check_images(self) -> list[str]:
        partition = partition_of(self._region)
        credentials = self.repository.credentials
        for key, arn in credentials.items():
            if arn == OFFLINE_SECRET:
                continue
            where = ("repository", "upstreamCredentials", key) if arn != self.repository.docker_hub_credential_arn \
                else ("repository", "dockerHubCredentialArn")
            arn_partition, arn_region = arn.split(":")[1], arn.split(":")[3]
            if (arn_partition, arn_region) != (partition, self._region):
                raise SettingError(where, f"the secret is in {arn_partition}/{arn_region} but the stack is in "
                                          f"{partition}/{self._region}; ECR reads it from the cache rule's own "
                                          "account and region")
        notes: list[str] = []
        for kind, items in self.kinds():
            for i, w in enumerate(items):
                for path, container in w.containers:
                    img = container.image
                    where = (f"{self._where(kind, i, w)}: " + key_path((*path, "image"))
                             if w.name in self._compose_origins else key_path((kind, i, *path, "image")))
                    ref = img.reference
                    if img.public and ref is not None:
                        upstream = upstream_for(ref.host)
                        assert upstream is not None  # the field validator refused the others
                        if partition in NO_CACHE_PARTITIONS:
                            notes.append(f"{where}.public: {partition} has no pull-through cache for {upstream.name}; "
                                         "the image is copied into the stack's repository at deploy instead")
                        elif upstream.credential and upstream.credential not in credentials:
                            alias = " (or dockerHubCredentialArn)" if upstream.credential == "dockerhub" else ""
                            raise SettingError((kind, i, *path, "image", "public"),
                                               f"{upstream.name} images need repository.upstreamCredentials."
                                               f"{upstream.credential}{alias} (ECR's pull-through cache requires "
                                               "credentials for it); or use image.mirror to copy the image at deploy")
                        elif len(ref.path) > ECR_NAME_MAX - CACHE_PREFIX_MAX - 1:
                            raise SettingError((kind, i, *path, "image", "public"),
                                               f"the cached repository <prefix>/{ref.path[:20]}... would be over "
                                               f"ECR's {ECR_NAME_MAX} characters for a repository name; use "
                                               "image.mirror")
                    if img.pin_at_deploy and ref is not None and ref.floating:
                        notes.append(f"{where}: {ref} is pinned at deploy: the task definition uses the digest "
                                     f"{ref.pull_tag!r} has when `pulumi up` runs (unknown until then)")
                    if img.uri:
                        region = PRIVATE_ECR_URI.match(img.uri).group(2)  # type: ignore[union-attr]
                        if region != self._region:
                            raise SettingError((kind, i, *path, "image", "uri"),
                                               f"the image is in {region} but the stack is in {self._region}; a "
                                               "private task reaches only its own region's ECR through the endpoints")
        return notes

    def _check_secret_regions(self) -> None:
        for kind, items in self.kinds():
            for i, w in enumerate(items):
                arns = [((*path, "secrets", name), arn) for path, c in w.containers for name, arn in c.secrets.items()
                        if isinstance(arn, str)]
                arns += [(("kmsKeyArns", j), arn) for j, arn in enumerate(w.kms_key_arns)]
                for where, arn in arns:
                    if arn == OFFLINE_SECRET:
                        continue
                    partition, region = arn.split(":")[1], arn.split(":")[3]
                    if region != self._region or partition != partition_of(self._region):
                        what = "key" if where[0] == "kmsKeyArns" else "secret"
                        raise SettingError((kind, i, *where),
                                           f"the {what} is in {partition}/{region} but the stack is in "
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
    def stack_secret_values(self) -> dict[str, str]:
        """Every value the stack stores as an SSM parameter: `secretValues` and the compose project's secrets
        (`file`/`environment` secrets, read at load and kept secret by the component)."""
        return {**self._compose_secrets, **self.secret_values}

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
        """Services, jobs, then workers."""
        return [*self.services, *self.jobs, *self.workers]

    @property
    def dns_namespace(self) -> str:
        """The private DNS namespace services register in: `network.dnsNamespace` or `<stack>.<project>.internal`."""
        return self.network.dns_namespace or default_dns_namespace(self._project, self._stack)

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
