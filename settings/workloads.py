"""Settings of one workload: `services[]` and `jobs[]` entries and the objects they contain.

The container keys (the main container is the workload entry itself), sidecars, init containers,
ports and mounts are in settings/containers.py; the `image` setting in settings/images.py.
"""

from __future__ import annotations

import ipaddress
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from settings.base import FARGATE_MEMORY, Model, Port, check_key_arns, check_unique, shown
from settings.containers import (
    CONTAINER_TABLE,
    ContainerSettings,
    InitContainerSettings,
    PortEntry,
    PortSettings,
    SidecarSettings,
    check_task,
    port_names,
    rebuild,
)
from settings.deploy import BeforeDeploySettings
from settings.errors import OFFLINE_SECRET, SettingError
from settings.images import ImageSettings
from settings.patterns import ACM_ARN, ALARM_ARN, SG_ID, URL_PATH, WORKLOAD_NAME
from settings.schedules import parse_schedule


class HealthCheckSettings(Model):
    """`healthCheck`: the container health check, with ECS's own limits."""

    command: list[str] = Field(min_length=2, description="`[CMD, ...]` or `[CMD-SHELL, ...]`")
    interval: int = Field(30, ge=5, le=300, description="seconds between checks")
    timeout: int = Field(5, ge=2, le=60, description="seconds a check may take (ECS API reference, HealthCheck)")
    retries: int = Field(3, ge=1, le=10, description="failures before the container is unhealthy")
    start_period: int = Field(0, ge=0, le=300, description="seconds of grace after start")

    @field_validator("command")
    @classmethod
    def _form(cls, value: list[str]) -> list[str]:
        if value[0] not in ("CMD", "CMD-SHELL"):
            raise ValueError("the first element must be CMD or CMD-SHELL")
        return value


rebuild(ImageSettings=ImageSettings, HealthCheckSettings=HealthCheckSettings)


class EgressRule(Model):
    """One extra egress rule: exactly one of securityGroupId and cidr, and a TCP port."""

    security_group_id: str | None = Field(None, pattern=SG_ID, description="a security group to reach")
    cidr: str | None = Field(None, description="or a CIDR to reach")
    port: Port = Field(description="TCP port")

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


class CapacityMix(Model):
    """`capacityMix`: the FARGATE / FARGATE_SPOT split for `capacity: mixed`."""

    base: int = Field(1, ge=0, le=100000, description="first tasks on FARGATE")
    on_demand_weight: int = Field(1, ge=0, le=1000, description="share of the rest on FARGATE")
    spot_weight: int = Field(3, ge=0, le=1000, description="share of the rest on FARGATE_SPOT")

    @model_validator(mode="after")
    def _some_weight(self) -> CapacityMix:
        if self.on_demand_weight == 0 and self.spot_weight == 0:
            raise ValueError("at least one of onDemandWeight and spotWeight must be above 0")
        return self


class WorkloadSettings(ContainerSettings):
    """The keys services, jobs and workers share: the main container (the container keys), the task's size and
    its access."""

    name: str = Field(pattern=WORKLOAD_NAME, description=(
        "`[a-z0-9-]`, up to 40 characters, unique across services, jobs and workers; also the main container's "
        "name"))
    cpu: Literal[256, 512, 1024, 2048, 4096, 8192, 16384] = Field(256, description="Fargate CPU units")
    memory: int | None = Field(None, json_schema_extra=shown("smallest valid for `cpu`"), description=(
        "MiB; 256: 512/1024/2048; 512: 1-4 GiB; 1024: 2-8 GiB; 2048: 4-16 GiB; 4096: 8-30 GiB (1 GiB steps); "
        "8192: 16-60 GiB (4 GiB steps); 16384: 32-120 GiB (8 GiB steps)"))
    arch: Literal["X86_64", "ARM64"] = Field("X86_64", description="CPU architecture")
    egress_to: list[EgressRule] = Field([], description="extra egress, each")
    capacity: Literal["on-demand", "spot", "mixed"] = Field("on-demand", description=(
        "`on-demand` (FARGATE), `spot` (FARGATE_SPOT), `mixed` (`capacityMix`)"))
    capacity_mix: CapacityMix | None = Field(None, description="the split for `capacity: mixed`")
    exec: bool = Field(False, description="ECS Exec (adds the ssmmessages endpoint)")
    sidecars: list[SidecarSettings] = Field([], json_schema_extra=CONTAINER_TABLE, description=(
        "containers that run beside the main one; it waits for them (HEALTHY with a `healthCheck`, else START)"))
    init_containers: list[InitContainerSettings] = Field([], json_schema_extra=CONTAINER_TABLE, description=(
        "containers that run to completion (exit 0) before the others start"))
    ephemeral_storage_gib: int | None = Field(None, alias="ephemeralStorageGiB", ge=21, le=200,
                                              json_schema_extra=shown("Fargate's 20"),
                                              description="GiB of task storage for the image layers and writable paths")
    kms_key_arns: list[str] = Field([], description=(
        "customer-managed KMS keys that encrypt the secrets it reads: `kms:Decrypt` through Secrets Manager and SSM "
        "only (`kms:ViaService`)"))

    _kms_keys = field_validator("kms_key_arns")(check_key_arns)
    _unique_keys = field_validator("kms_key_arns")(check_unique)

    @model_validator(mode="after")
    def _workload_rules(self) -> WorkloadSettings:
        allowed = FARGATE_MEMORY[self.cpu]
        if self.memory is None:
            object.__setattr__(self, "memory", allowed[0])
        elif self.memory not in allowed:
            raise SettingError("memory", f"{self.memory} is not valid with cpu {self.cpu}; allowed: "
                                         f"{list_sizes(allowed)}")
        if self.capacity_mix is not None and self.capacity != "mixed":
            raise SettingError("capacityMix", f"only used with capacity: mixed (capacity is {self.capacity})")
        check_task(self, self.cpu, self.memory_mib, self.port_specs)
        return self

    @property
    def port_specs(self) -> list[PortSettings]:
        """The main container's ports (none for a job)."""
        return []

    @property
    def containers(self) -> list[tuple[tuple[str | int, ...], ContainerSettings]]:
        """Every container of the task with its key path below the workload: the main one first."""
        return [((), self), *((("sidecars", i), c) for i, c in enumerate(self.sidecars)),
                *((("initContainers", i), c) for i, c in enumerate(self.init_containers))]

    @property
    def service_ports(self) -> list[tuple[str, PortSettings]]:
        """(port mapping name, port) of every port of the task's containers."""
        out = list(zip(port_names(self.name, self.port_specs, self.name), self.port_specs, strict=True))
        for c in self.sidecars:
            out += zip(port_names(c.name, c.ports), c.ports, strict=True)
        return out

    @property
    def container_ports(self) -> list[int]:
        """The TCP ports of the main container."""
        return [p.port for p in self.port_specs if p.protocol == "tcp"]

    @property
    def memory_mib(self) -> int:
        """Task memory in MiB (the default is the smallest size valid with `cpu`)."""
        assert self.memory is not None
        return self.memory

    @property
    def mix(self) -> CapacityMix:
        """The capacity split, with its defaults when `capacityMix` is absent."""
        return self.capacity_mix or CapacityMix()


def list_sizes(sizes: tuple[int, ...]) -> str:
    if len(sizes) <= 4:
        return ", ".join(map(str, sizes))
    step = sizes[1] - sizes[0]
    return f"{sizes[0]}..{sizes[-1]} in steps of {step}"


class LoadBalancerSettings(Model):
    """`loadBalancer`: an ALB in front of a service (internal unless said otherwise)."""

    scheme: Literal["internal", "internet-facing"] = Field("internal", description=(
        "`internet-facing` needs `certificateArn`"))
    health_check_path: str = Field("/health", pattern=URL_PATH, description="the target group's health check")
    certificate_arn: str | None = Field(None, description="ACM certificate: HTTPS on 443, HTTP redirects")
    access_logs: bool = Field(False, description="access logs to a stack bucket")

    @field_validator("certificate_arn")
    @classmethod
    def _acm(cls, value: str | None) -> str | None:
        if value is not None and value != OFFLINE_SECRET and not ACM_ARN.match(value):
            raise ValueError("expected an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)")
        return value

    @model_validator(mode="after")
    def _public_needs_tls(self) -> LoadBalancerSettings:
        if self.scheme == "internet-facing" and self.certificate_arn is None:
            raise SettingError("certificateArn", "required with scheme internet-facing: a public load "
                                                 "balancer serves HTTPS only")
        return self


class AutoscalingSettings(Model):
    """`autoscaling`: target tracking on CPU, memory and/or requests per task between min and max tasks."""

    min: int = Field(1, ge=0, le=1000, description="fewest tasks")
    max: int = Field(4, ge=1, le=1000, description="most tasks")
    cpu_target: float | None = Field(60, gt=0, le=100, description="average CPU % to track")
    memory_target: float | None = Field(None, gt=0, le=100, description="average memory % to track")
    requests_per_target: int | None = Field(None, ge=1, le=1_000_000, description=(
        "ALB requests per task a minute to track (ALBRequestCountPerTarget); needs `loadBalancer`"))
    scale_in_cooldown: int = Field(300, ge=0, le=3600, description="seconds")
    scale_out_cooldown: int = Field(60, ge=0, le=3600, description="seconds")

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingSettings:
        if self.max < self.min:
            raise SettingError("max", f"{self.max} is less than min ({self.min})")
        if self.cpu_target is None and self.memory_target is None and self.requests_per_target is None:
            raise ValueError("give cpuTarget, memoryTarget, requestsPerTarget or several")
        return self


class RollbackSettings(Model):
    """`rollbackOn`: CloudWatch alarms that roll a deployment back while it is in progress (ECS deployment alarms)."""

    alarms: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field([], description=(
        "alarm names of this stack (`<project>-<stack>-...`) or CloudWatch alarm ARNs of this region; with a load "
        "balancer the service's own 5xx alarm is always added"))

    _unique = field_validator("alarms")(check_unique)

    @field_validator("alarms")
    @classmethod
    def _alarm_arns(cls, value: list[str]) -> list[str]:
        for i, alarm in enumerate(value):
            if alarm.startswith("arn:") and not ALARM_ARN.match(alarm):
                raise SettingError((i,), f"{alarm!r} is not a CloudWatch alarm ARN "
                                      "(arn:aws:cloudwatch:<region>:<account>:alarm:<name>)")
        return value


class ServiceSettings(WorkloadSettings):
    """One `services[]` entry: a long-running workload."""

    desired_count: int = Field(1, ge=0, le=1000, description="tasks (the first count only, with `autoscaling`)")
    port: Port | None = Field(None, json_schema_extra=shown("none: no ingress at all"), description=(
        "the container port, reachable as `<name>:<port>` from the other services"))
    ports: list[PortEntry] | None = Field(None, json_schema_extra=shown("none"), description=(
        "instead of `port`: every port, each a number or `{port, protocol: tcp|udp, name}`; the first TCP port is "
        "the load balancer's"))
    load_balancer: LoadBalancerSettings | None = Field(None, description="an ALB for the service")
    autoscaling: AutoscalingSettings | None = Field(None, description=(
        "target tracking on CPU, memory and/or requests per task"))
    rollback_on: RollbackSettings | None = Field(None, json_schema_extra=shown(
        "the 5xx alarm with a load balancer, else none"), description=(
        "ECS deployment alarms: a deployment rolls back when one goes into ALARM"))
    wait_for_steady_state: bool | None = Field(None, json_schema_extra=shown("`protect`"), description=(
        "`pulumi up` waits until the new tasks run and are healthy, and fails when the circuit breaker rolls "
        "them back; without it `up` ends when ECS accepts the deployment"))
    before_deploy: BeforeDeploySettings | None = Field(None, description=(
        "a task run during `pulumi up` before the service moves to a new task definition (a migration): "
        "exactly one of `job` and `command`"))

    @property
    def port_specs(self) -> list[PortSettings]:
        """`port` or `ports`, as a list."""
        return list(self.ports or []) if self.port is None else [PortSettings(port=self.port)]

    @property
    def primary_port(self) -> int | None:
        """The first TCP port of the main container: the load balancer's."""
        return next(iter(self.container_ports), None)

    @model_validator(mode="before")
    @classmethod
    def _one_port_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "port" in data and "ports" in data:
            raise SettingError("ports", "give exactly one of port and ports (ports takes every port, the first TCP "
                                        "one is the primary)")
        return data

    @model_validator(mode="after")
    def _service_rules(self) -> ServiceSettings:
        if self.load_balancer is not None and self.primary_port is None:
            raise SettingError("loadBalancer", "needs port (or a TCP entry in ports): the container port the load "
                                               "balancer forwards to")
        scaling = self.autoscaling
        if scaling is not None and scaling.requests_per_target is not None and self.load_balancer is None:
            raise SettingError(("autoscaling", "requestsPerTarget"), "needs loadBalancer: the request count per "
                                                                     "target is the load balancer's metric")
        if scaling is not None and not scaling.min <= self.desired_count <= scaling.max:
            raise SettingError("desiredCount", f"{self.desired_count} is outside autoscaling "
                                               f"min..max ({scaling.min}..{scaling.max})")
        return self


class JobSettings(WorkloadSettings):
    """One `jobs[]` entry: a task run on a schedule or on demand."""

    schedule: str | None = Field(None, json_schema_extra=shown("absent: on demand only"), description=(
        "EventBridge Scheduler `cron(min hour day-of-month month day-of-week year)`, "
        "`rate(n minute[s]|hour[s]|day[s])` or `at(yyyy-mm-ddThh:mm:ss)`"))
    timezone: str = Field("UTC", description="IANA time zone of the schedule")
    retries: int = Field(2, ge=0, le=185, description=(
        "Scheduler retries failed *invocations* (the state machine not started), not a failed run: see "
        "`retryOnFailure`"))
    expected_minutes: float = Field(10, gt=0, le=60 * 24 * 14, description="run length, for the cost estimate")
    timeout_minutes: int = Field(60, ge=1, le=10080, description=(
        "the run fails after this long (the state machine's task timeout, States.Timeout: not retried, "
        "alerted as a failure); the machine's role may stop the task (ecs:StopTask, as AWS's policy for the "
        "integration grants)"))
    retry_on_failure: int = Field(0, ge=0, le=10, description=(
        "extra attempts, with backoff, when the task exits non-zero, never starts or loses its spot capacity"))

    @model_validator(mode="after")
    def _timeout_covers_the_run(self) -> JobSettings:
        if self.timeout_minutes < self.expected_minutes:
            raise SettingError("timeoutMinutes", f"{self.timeout_minutes} is less than expectedMinutes "
                                                 f"({self.expected_minutes:g}): every run would time out")
        return self

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


