"""Settings of the containers of a task: the keys every container takes, sidecars, init containers, ports, mounts.

A workload's main container is the workload entry itself (`WorkloadSettings` extends
`ContainerSettings`); `sidecars[]` start with it and `initContainers[]` run to completion before
the others start. The image and health-check models live in settings/workloads.py, which rebuilds
the models here once they exist (`rebuild`), so this module imports nothing from it at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from settings.base import EnvValue, Model, Port, check_unique, shown
from settings.errors import OFFLINE_SECRET, SettingError
from settings.errors import key_path as key_text
from settings.patterns import ABS_PATH, ENV_NAME, ENV_VAR_NAME, PORT_NAME, SECRET_ARN, SSM_ARN, STACK_KEY, WORKLOAD_NAME

if TYPE_CHECKING:  # resolved by rebuild(), called from settings/workloads.py
    from settings.images import ImageSettings
    from settings.workloads import HealthCheckSettings


#: `json_schema_extra` of a list of containers: the README lists their keys in a table of their own.
CONTAINER_TABLE: dict[str, Any] = {"keysIn": "the container table below"}


def _port_shorthand(value: Any) -> Any:
    """`5432` is `{port: 5432}`."""
    return {"port": value} if isinstance(value, int) and not isinstance(value, bool) else value


class PortSettings(Model):
    """One entry of `ports`: a number, or `{port, protocol, name}`."""

    port: Port = Field(description="the container port")
    protocol: Literal["tcp", "udp"] = Field("tcp", description=(
        "`udp` ports are in the task definition and the security groups only: Service Connect and the load "
        "balancer carry TCP"))
    name: str | None = Field(None, pattern=PORT_NAME, json_schema_extra=shown(
        "the workload's name for the first TCP port of the main container, else `<container>-<port>`"),
                             description="the port mapping's name (Service Connect refers to it)")


PortEntry = Annotated[PortSettings, BeforeValidator(_port_shorthand)]


class MountSettings(Model):
    """One entry of `mounts`: a stack volume at a path of the container."""

    volume: str = Field(pattern=STACK_KEY, description="a key of the stack's `volumes`")
    path: str = Field(pattern=ABS_PATH, description="where the container sees it")
    read_only: bool = Field(False, description="mount it read-only (no `elasticfilesystem:ClientWrite`)")


class StackSecretRef(Model):
    """`{stackSecret: KEY}`: a value of the stack's `secretValues`, read from its SSM SecureString parameter."""

    stack_secret: str = Field(pattern=STACK_KEY, description="a key of `secretValues`")


SecretSource = str | StackSecretRef


class LimitSettings(Model):
    """A soft and a hard limit."""

    soft: int = Field(ge=0, le=1048576, description="the soft limit")
    hard: int = Field(ge=0, le=1048576, description="the hard limit (at least `soft`)")

    @model_validator(mode="after")
    def _order(self) -> LimitSettings:
        if self.hard < self.soft:
            raise SettingError("hard", f"{self.hard} is less than soft ({self.soft})")
        return self


class UlimitSettings(Model):
    """`ulimits`: Fargate overrides only `nofile` (API_Ulimit), so only it is taken."""

    nofile: LimitSettings = Field(description="open files (Fargate's default: 65535 soft and hard)")

#: Container cpu units and memory (MiB) reserved for a sidecar or init container, within the task's size.
CpuReservation = Annotated[int | None, Field(None, ge=0, le=16384, json_schema_extra=shown("none reserved"),
                                             description="cpu units reserved for it, within the task's `cpu`")]
MemoryReservation = Annotated[int | None, Field(None, ge=6, le=122880, json_schema_extra=shown("none reserved"),
                                                description="MiB reserved for it (`memoryReservation`), within the "
                                                            "task's `memory`")]


class ContainerSettings(Model):
    """The keys every container of a task takes: the main one (the workload entry), sidecars, init containers."""

    name: str = Field(pattern=WORKLOAD_NAME, description="`[a-z0-9-]`, unique among the task's containers")
    image: ImageSettings = Field(description="exactly one of")
    entrypoint: list[str] | None = Field(None, json_schema_extra=shown("image default"),
                                         description="replaces the image's ENTRYPOINT")
    command: list[str] | None = Field(None, json_schema_extra=shown("image default"),
                                      description="replaces the image's CMD (the arguments to its ENTRYPOINT)")
    user: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$",
                             json_schema_extra=shown("the Dockerfile's `USER` for built images"),
                             description="`user` or `user:group` the container runs as")
    environment: dict[Annotated[str, Field(pattern=ENV_VAR_NAME)], EnvValue] = Field({}, description=(
        "plain variables (numbers and booleans become strings); `OUTPUT_BUCKET` is set for you"))
    secrets: dict[Annotated[str, Field(pattern=ENV_NAME)], SecretSource] = Field({}, description=(
        "`NAME: <ARN>` of a Secrets Manager secret or SSM parameter, or `NAME: {stackSecret: KEY}` (a value of "
        "`secretValues`); never put secrets in `environment`"))
    health_check: HealthCheckSettings | None = Field(None, description="the container health check")
    writable_paths: list[Annotated[str, Field(pattern=ABS_PATH)]] = Field(["/tmp"], description=(
        "ephemeral volumes, needed with a read-only root filesystem; one path in two containers of a task is "
        "one volume they share"))
    readonly_root_filesystem: bool = Field(True, description="the container's root filesystem is read-only")
    mounts: list[MountSettings] = Field([], description="stack `volumes` (EFS) mounted in the container, each")
    working_directory: str | None = Field(None, pattern=ABS_PATH, json_schema_extra=shown("the image's WORKDIR"),
                                          description="the directory the command runs in")
    init_process_enabled: bool = Field(False, description=(
        "run an init process that forwards signals and reaps zombies (`docker run --init`)"))
    stop_timeout: int | None = Field(None, ge=1, le=120, json_schema_extra=shown("30"), description=(
        "seconds ECS waits after SIGTERM before it kills the container (Fargate: at most 120, "
        "ContainerDefinition.stopTimeout in the ECS API reference)"))
    ulimits: UlimitSettings | None = Field(None, json_schema_extra=shown("Fargate's"), description=(
        "`{nofile: {soft, hard}}`"))

    @field_validator("secrets")
    @classmethod
    def _secret_arns(cls, value: dict[str, SecretSource]) -> dict[str, SecretSource]:
        for key, source in value.items():
            if isinstance(source, str) and source != OFFLINE_SECRET and not (
                    SECRET_ARN.match(source) or SSM_ARN.match(source)):
                raise SettingError(key, f"{source!r} is not valid; expected the ARN of a Secrets Manager secret "
                                        "(arn:aws:secretsmanager:...:secret:...), an SSM parameter "
                                        "(arn:aws:ssm:...:parameter/...) or {stackSecret: KEY}")
        return value

    @field_validator("environment")
    @classmethod
    def _reserved_env(cls, value: dict[str, str]) -> dict[str, str]:
        if "OUTPUT_BUCKET" in value:
            raise SettingError("OUTPUT_BUCKET", "set by private-fargate to the output bucket's name; remove it")
        return value

    _unique_paths = field_validator("writable_paths")(check_unique)

    @model_validator(mode="after")
    def _container_rules(self) -> ContainerSettings:
        clash = sorted(set(self.environment) & set(self.secrets))
        if clash:
            raise SettingError(("secrets", clash[0]), "also set in environment; a name is either plain or secret")
        seen: dict[str, str] = {p: "writablePaths" for p in self.writable_paths}
        for i, mount in enumerate(self.mounts):
            if mount.path in seen:
                raise SettingError(("mounts", i, "path"), f"{mount.path!r} is used twice in this container (also "
                                                          f"in {seen[mount.path]}); give each mount its own path")
            seen[mount.path] = f"mounts[{i}]"
        return self

    @property
    def stack_secret_keys(self) -> list[str]:
        """Keys of `secretValues` this container reads."""
        return [s.stack_secret for s in self.secrets.values() if isinstance(s, StackSecretRef)]

    @property
    def secret_arns(self) -> list[str]:
        """The ARNs this container reads (stack secrets are resolved by the components, not here)."""
        return [s for s in self.secrets.values() if isinstance(s, str)]

    @property
    def own_ports(self) -> list[PortSettings]:
        """The ports this container listens on (the main container's come from `port`/`ports`)."""
        return []


class SidecarSettings(ContainerSettings):
    """One `sidecars[]` entry: a container that runs beside the main one for the task's life."""

    essential: bool = Field(True, description="the task stops when it stops")
    ports: list[PortEntry] = Field([], description="ports it listens on, each a number or")
    cpu: CpuReservation
    memory: MemoryReservation

    @property
    def own_ports(self) -> list[PortSettings]:
        """Its `ports`."""
        return list(self.ports)


class InitContainerSettings(ContainerSettings):
    """One `initContainers[]` entry: runs to completion (exit 0) before the other containers start."""

    cpu: CpuReservation
    memory: MemoryReservation

    @model_validator(mode="before")
    @classmethod
    def _never_serves(cls, data: Any) -> Any:
        if isinstance(data, dict) and "ports" in data:
            raise SettingError("ports", "an init container runs to completion before the others start, so it serves "
                                        "no port; give the port to the main container or a sidecar")
        if isinstance(data, dict) and "essential" in data:
            raise SettingError("essential", "init containers are never essential: they exit when done, and ECS "
                                            "waits for their success (dependsOn SUCCESS) instead")
        return data


def rebuild(**types: type) -> None:
    """Resolve the image and health-check models (defined in settings/workloads.py, which calls this)."""
    for model in (ContainerSettings, SidecarSettings, InitContainerSettings):
        model.model_rebuild(_types_namespace=types)


def port_names(container: str, ports: list[PortSettings], primary: str | None = None) -> list[str]:
    """Each port's mapping name: its `name`; `primary` (the workload's name) for the first TCP port of the main
    container, as before ports were a list; else `<container>-<port>` (`-udp` for UDP)."""
    names, first_tcp = [], True
    for p in ports:
        default = f"{container}-{p.port}" + ("-udp" if p.protocol == "udp" else "")
        names.append(p.name or (primary if primary and p.protocol == "tcp" and first_tcp else default))
        first_tcp = first_tcp and p.protocol != "tcp"
    return names


def check_task(workload: Any, task_cpu: int, task_memory: int, main_ports: list[PortSettings]) -> None:
    """Rules across the containers of one task: unique names, ports and port names; reservations within its size."""
    containers: list[tuple[tuple[str | int, ...], ContainerSettings]] = [
        *((("sidecars", i), c) for i, c in enumerate(workload.sidecars)),
        *((("initContainers", i), c) for i, c in enumerate(workload.init_containers))]
    names = {workload.name: "the main container"}
    for path, container in containers:
        if container.name in names:
            raise SettingError((*path, "name"), f"{container.name!r} is already the name of {names[container.name]}; "
                                                "container names are unique within a task")
        names[container.name] = f"{path[0]}[{path[1]}]"
    main_key = ("ports",) if "ports" in workload.model_fields_set else ("port",)
    entries = [((*main_key, i) if main_key == ("ports",) else main_key, p, n)
               for i, (p, n) in enumerate(zip(main_ports, port_names(workload.name, main_ports, workload.name),
                                              strict=True))]
    for path, c in containers:
        entries += [((*path, "ports", i), p, n)
                    for i, (p, n) in enumerate(zip(c.own_ports, port_names(c.name, c.own_ports), strict=True))]
    seen_ports: dict[tuple[int, str], str] = {}
    seen_names: dict[str, str] = {}
    for where, port, name in entries:
        shown_where = key_text(where)
        if (port.port, port.protocol) in seen_ports:
            raise SettingError(where, f"{port.protocol} port {port.port} is also used by "
                                      f"{seen_ports[(port.port, port.protocol)]}; the containers of a task share one "
                                      "network interface")
        seen_ports[(port.port, port.protocol)] = shown_where
        if name in seen_names:
            raise SettingError((*where, "name") if where[0] != "port" else where,
                               f"port name {name!r} is also used by {seen_names[name]}; port names are unique "
                               "within a task (Service Connect refers to them)")
        seen_names[name] = shown_where
    for attr, size, unit in (("cpu", task_cpu, "cpu units"), ("memory", task_memory, "MiB")):
        reserved = [(c.name, getattr(c, attr)) for _, c in containers if getattr(c, attr)]
        total = sum(v for _, v in reserved)
        if total > size:
            parts = " + ".join(f"{n} {v}" for n, v in reserved)
            raise SettingError(attr, f"{size} is less than the {unit} the sidecars and init containers reserve "
                                     f"({parts} = {total}); raise {attr} or lower the reservations")
