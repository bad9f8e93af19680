"""One compose service -> one settings entry: image, command, environment, ports, health check, size, the rest.

Volumes, bind mounts, tmpfs, secrets and configs are mapped in storage.py. Every refusal is collected
(not raised at once) so a user sees every problem of a file in one run; each names `services.<name>.<key>`.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from settings.compose.context import MapContext, Refused, Report
from settings.compose.context import norm as _norm
from settings.compose.keys import (
    BUILD_MAPPED,
    BUILD_NOTED,
    BUILD_REFUSED,
    FARGATE_CAPABILITIES,
    MAPPED,
    NOTED,
    REFUSED,
    compose_bool,
)
from settings.compose.units import duration_seconds, fargate_size, size_mib
from settings.compose.variables import ComposeError, read_env_file
from settings.images import image_setting

#: ECS HealthCheck limits (API_HealthCheck): interval 5..300, timeout 2..60, retries 1..10, startPeriod 0..300.
HEALTH_LIMITS = {"interval": (5, 300), "timeout": (2, 60), "retries": (1, 10), "startPeriod": (0, 300)}
#: ECS stopTimeout on Fargate: at most 120 seconds (ContainerDefinition.stopTimeout).
STOP_TIMEOUT_MAX = 120
#: Most ports a compose port range may expand to (each is a port mapping of the task definition).
RANGE_MAX = 20
_ARCH = {"linux/amd64": "X86_64", "linux/x86_64": "X86_64", "amd64": "X86_64", "linux/arm64": "ARM64",
         "linux/arm64/v8": "ARM64", "arm64": "ARM64", "linux/aarch64": "ARM64"}


def workload_name(name: str) -> str:
    """A compose service name as a workload name: lowercase letters, digits and '-'."""
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:40].strip("-")


class ServiceMapper:
    """Maps one compose service; `entry` is the settings entry (camelCase keys), `report` what happened."""

    def __init__(self, name: str, svc: dict[str, Any], ctx: MapContext, report: Report):
        self.compose_name = name
        self.svc = svc
        self.ctx = ctx
        self.report = report
        self.entry: dict[str, Any] = {"name": workload_name(name)}

    def note(self, message: str) -> None:
        self.report.note(message)

    def refuse(self, key: str, message: str) -> None:
        self.report.refused.append(f"services.{self.compose_name}.{key}: {message}")

    def mapped(self, key: str) -> None:
        self.report.mapped.append(key)

    def run(self) -> dict[str, Any]:
        """Every step; a step's Refused becomes one refusal and the others still run."""
        if self.entry["name"] != self.compose_name:
            self.note(f"named {self.entry['name']!r} in the settings (workload names are lowercase letters, "
                      "digits and '-')")
        self._keys()
        for step in (self._image, self._command, self._environment, self._ports, self._healthcheck,
                     self._resources, self._process, self._security):
            try:
                step()
            except Refused as exc:
                key, _, why = str(exc).partition(": ")
                self.refuse(key, why)
            except (ValueError, TypeError) as exc:
                self.refuse(step.__name__.strip("_"), str(exc))
        return self.entry

    def _keys(self) -> None:
        for key, value in self.svc.items():
            key = str(key)
            if key.startswith("x-"):
                continue
            if key in REFUSED:
                if value in (None, False, [], {}, "") or (key == "runtime" and value == "runc"):
                    continue
                self.refuse(key, REFUSED[key])
            elif key in NOTED:
                self.note(f"{key} left out: {NOTED[key]}")
            elif key not in MAPPED:
                self.refuse(key, "not a compose service key private-fargate knows; remove it, or set what it means "
                                 "in the settings entry of the same name")

    # -- image -------------------------------------------------------------------------------------------

    def _image(self) -> None:
        build, image = self.svc.get("build"), self.svc.get("image")
        if build is not None:
            self.entry["image"] = {"build": self._build(build)}
            self.mapped("build")
            if image:
                self.note(f"image {image!r} is compose's name for the build; the stack builds it and pushes it to "
                          "its own repository")
            return
        if not image:
            raise Refused("image: the service has neither image nor build; give one")
        try:
            setting = image_setting(str(image), credentials=self.ctx.credentials, partition=self.ctx.partition)
        except ValueError as exc:
            raise Refused(f"image: {image!r}: {exc}") from None
        self.entry["image"] = setting
        self.mapped("image")
        if setting.get("pinAtDeploy"):
            self.note(f"image {image!r} has no tag or is latest: the digest it has at deploy is pinned "
                      "(pinAtDeploy); give a tag to choose the version")
        if "mirror" in setting:
            self.note(f"image {image!r} is copied into the stack's repository at deploy (image.mirror): ECR's "
                      "pull-through cache cannot fetch it" + self._cache_hint(str(image)))

    def _cache_hint(self, image: str) -> str:
        from settings.images import parse_reference, upstream_for
        upstream = upstream_for(parse_reference(image).host)
        if upstream is not None and upstream.credential and upstream.credential not in self.ctx.credentials:
            return f" without repository.upstreamCredentials.{upstream.credential}"
        return ""

    def _build(self, build: Any) -> dict[str, Any]:
        spec = {"context": build} if isinstance(build, str) else dict(build or {})
        for key in spec:
            if key in BUILD_REFUSED and spec[key]:
                raise Refused(f"build.{key}: {BUILD_REFUSED[key]}")
            if key in BUILD_NOTED:
                self.note(f"build.{key} left out: {BUILD_NOTED[key]}")
            elif key not in BUILD_MAPPED and key not in BUILD_REFUSED:
                raise Refused(f"build.{key}: not a build key of the compose specification")
        context = str(spec.get("context") or ".")
        if "://" in context or context.startswith("git@"):
            raise Refused(f"build.context: {context!r} is a remote context; clone it into the project and give the "
                          "directory")
        directory = _norm(self.ctx.project.directory / context)
        out: dict[str, Any] = {"context": self.ctx.settings_path(directory)}
        if spec.get("dockerfile_inline"):
            target = self.ctx.cache_dir / self.entry["name"] / "inline.Dockerfile"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(str(spec["dockerfile_inline"]))
            out["dockerfile"] = Path(_relative(target, directory)).as_posix()
            self.note("build.dockerfile_inline written to " + self.ctx.settings_path(target))
        elif spec.get("dockerfile"):
            out["dockerfile"] = str(spec["dockerfile"])
        if spec.get("target"):
            out["target"] = str(spec["target"])
        args = _named(spec.get("args"))
        resolved = {}
        for key, value in args.items():
            if value is None:
                value = self.ctx.project.environment.get(key)
                if value is None:
                    self.note(f"build.args.{key} left out: no value, and it is not set in the environment or .env")
                    continue
            resolved[key] = _text(value)
        if resolved:
            out["args"] = resolved
        platforms = spec.get("platforms") or []
        if platforms and "platform" not in self.svc:
            arch = _ARCH.get(str(platforms[0]))
            if arch:
                self.entry["arch"] = arch
            if len(platforms) > 1:
                self.note(f"build.platforms: built for {platforms[0]} only (a task runs one architecture)")
        return out

    # -- process ---------------------------------------------------------------------------------------

    def _command(self) -> None:
        for key in ("entrypoint", "command"):
            value = self.svc.get(key)
            if value is None:
                continue
            try:
                words = shlex.split(value) if isinstance(value, str) else [_text(v) for v in value]
            except ValueError as exc:
                raise Refused(f"{key}: {value!r} cannot be split into words ({exc})") from None
            if not words:
                self.note(f"{key} is empty: the image's own {key} is used")
                continue
            self.entry[key] = words
            self.mapped(key)

    def _environment(self) -> None:
        env: dict[str, str] = {}
        files = self.svc.get("env_file")
        lookup = self.ctx.project.environment.get
        for item in [files] if isinstance(files, (str, dict)) else files or []:
            spec = {"path": item} if isinstance(item, str) else dict(item)
            path = self.ctx.project.directory / str(spec.get("path"))
            if not path.is_file():
                if compose_bool(spec.get("required", True)) is not False:
                    raise Refused(f"env_file: {spec.get('path')!r} not found next to the compose file")
                continue
            try:
                env.update(read_env_file(path, lookup, interpolate=spec.get("format") != "raw"))
            except ComposeError as exc:
                raise Refused(f"env_file: {exc}") from None
            self.mapped("env_file")
        for key, value in _named(self.svc.get("environment")).items():
            if value is None:
                value = lookup(key)
                if value is None:
                    self.note(f"environment.{key} left out: it takes its value from the environment, where it is "
                              "not set (nor in .env)")
                    continue
            env[str(key)] = _text(value)
            self.mapped("environment")
        if env:
            self.entry["environment"] = env

    def _process(self) -> None:
        svc = self.svc
        if svc.get("working_dir"):
            self.entry["workingDirectory"] = str(svc["working_dir"])
            self.mapped("working_dir")
        if compose_bool(svc.get("init")) is True:
            self.entry["initProcessEnabled"] = True
            self.mapped("init")
        if svc.get("stop_grace_period") is not None:
            seconds = duration_seconds(svc["stop_grace_period"])
            if seconds > STOP_TIMEOUT_MAX:
                self.note(f"stop_grace_period {svc['stop_grace_period']} became stopTimeout {STOP_TIMEOUT_MAX}: "
                          "the most Fargate allows (ContainerDefinition.stopTimeout)")
            self.entry["stopTimeout"] = min(max(seconds, 1), STOP_TIMEOUT_MAX)
            self.mapped("stop_grace_period")
        ulimits = svc.get("ulimits") or {}
        for name, limit in ulimits.items():
            if name != "nofile":
                self.note(f"ulimits.{name} left out: Fargate overrides only nofile (API_Ulimit)")
                continue
            soft, hard = (limit, limit) if not isinstance(limit, dict) else (limit.get("soft"), limit.get("hard"))
            self.entry["ulimits"] = {"nofile": {"soft": int(soft), "hard": int(hard)}}
            self.mapped("ulimits")
        user = svc.get("user")
        if user not in (None, ""):
            if str(user).strip(":") == "" or str(user).startswith(":") or str(user).endswith(":"):
                self.note(f"user {user!r} left out: part of it is empty (an unset variable?)")
            else:
                self.entry["user"] = str(user)
                self.mapped("user")
        platform = svc.get("platform")
        if platform:
            arch = _ARCH.get(str(platform))
            if arch is None:
                raise Refused(f"platform: {platform!r} is not a Fargate platform; use linux/amd64 or linux/arm64")
            self.entry["arch"] = arch
            self.mapped("platform")
        restart = svc.get("restart")
        if restart is not None:
            self.note(f"restart {restart!r} left out: ECS restarts a service's stopped tasks itself; a job runs once "
                      "per invocation" + (" (list it in compose.jobs if it should run once)"
                                          if str(restart) in ("no", "on-failure") else ""))
        if svc.get("container_name"):
            self.note(f"container_name {svc['container_name']!r} left out: other services reach it by its service "
                      f"name ({self.entry['name']}), not by container name; use the service name in their settings")
        networks = svc.get("networks")
        if networks:
            aliases = [a for n in (networks.values() if isinstance(networks, dict) else []) if isinstance(n, dict)
                       for a in n.get("aliases") or []]
            self.note("networks left out: every task is in the stack's private subnets and reaches the services by "
                      "name" + (f"; the aliases {', '.join(map(str, aliases))} are not created" if aliases else ""))
        if svc.get("links"):
            self.note("links left out: services reach each other by their service names (Service Connect)")

    # -- ports and health --------------------------------------------------------------------------------

    def _ports(self) -> None:
        found: list[tuple[int, str]] = []
        for item in self.svc.get("ports") or []:
            found += self._port_entry(item)
        for item in self.svc.get("expose") or []:
            number, _, protocol = str(item).partition("/")
            found += self._range(number, protocol or "tcp", f"expose {item!r}")
        if self.svc.get("expose"):
            self.mapped("expose")
        distinct = list(dict.fromkeys(found))
        if not distinct:
            self.note("no ports or expose: other services cannot reach it (on compose's network every port is open; "
                      "here a service admits only the ports it declares)")
            return
        self.mapped("ports" if self.svc.get("ports") else "expose")
        if distinct == [(distinct[0][0], "tcp")]:
            self.entry["port"] = distinct[0][0]
        else:
            self.entry["ports"] = [n if proto == "tcp" else {"port": n, "protocol": proto} for n, proto in distinct]
        udp = [n for n, proto in distinct if proto == "udp"]
        if udp:
            self.note(f"UDP port {', '.join(map(str, udp))} is in the task definition and its security group, but "
                      "Service Connect and load balancers carry TCP only: clients reach it by the service's DNS "
                      "name in the stack's namespace")
        if any(isinstance(p, dict) and p.get("published") or isinstance(p, (str, int)) and ":" in str(p)
               for p in self.svc.get("ports") or []):
            self.note("published host ports left out: on Fargate other services use the container port")

    def _port_entry(self, item: Any) -> list[tuple[int, str]]:
        if isinstance(item, dict):
            unknown = sorted(set(item) - {"target", "published", "protocol", "host_ip", "mode", "app_protocol",
                                          "name"})
            if unknown:
                raise Refused(f"ports.{unknown[0]}: not a port key of the compose specification")
            if item.get("target") is None:
                raise Refused(f"ports: {item!r} has no target (the container port)")
            return self._range(str(item["target"]), str(item.get("protocol", "tcp")), f"ports {item!r}")
        text = str(item)
        spec, _, protocol = text.partition("/")
        spec = re.sub(r"^\[[^\]]*\]:", "", spec)  # an IPv6 host address
        return self._range(spec.rsplit(":", 1)[-1], protocol or "tcp", f"ports {text!r}")

    def _range(self, text: str, protocol: str, where: str) -> list[tuple[int, str]]:
        protocol = protocol.lower()
        if protocol not in ("tcp", "udp"):
            raise Refused(f"ports: {where}: {protocol} ports cannot be served on Fargate (TCP and UDP only)")
        low, _, high = text.strip().partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise Refused(f"ports: {where}: expected a container port or a range such as 3000-3005")
        first, last = int(low), int(high or low)
        if last < first or last - first + 1 > RANGE_MAX:
            raise Refused(f"ports: {where}: a range of {last - first + 1} ports; at most {RANGE_MAX} ports a range "
                          "(each is a port mapping); list the ports the service really uses")
        return [(p, protocol) for p in range(first, last + 1)]

    def _healthcheck(self) -> None:
        hc = self.svc.get("healthcheck")
        if hc is None:
            return
        if not isinstance(hc, dict):
            raise Refused("healthcheck: expected a mapping with test, interval, timeout, retries, start_period")
        unknown = sorted(set(hc) - {"test", "interval", "timeout", "retries", "start_period", "start_interval",
                                    "disable"})
        if unknown:
            raise Refused(f"healthcheck.{unknown[0]}: not a healthcheck key of the compose specification")
        test = hc.get("test")
        if compose_bool(hc.get("disable")) is True or test in (["NONE"], "NONE"):
            self.note("healthcheck disabled: the container has no health check (nor the image's)")
            return
        if test is None:
            self.note("healthcheck without test left out: ECS cannot reuse the image's HEALTHCHECK with new timings")
            return
        if isinstance(test, str):
            command = ["CMD-SHELL", test]
        elif isinstance(test, list) and test and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1:
            command = [_text(t) for t in test]
        else:
            raise Refused("healthcheck.test: expected a string or a list starting with CMD or CMD-SHELL")
        check: dict[str, Any] = {"command": command}
        for key, target in (("interval", "interval"), ("timeout", "timeout"), ("start_period", "startPeriod"),
                            ("retries", "retries")):
            if hc.get(key) is None:
                continue
            try:
                value = int(hc[key]) if key == "retries" else duration_seconds(hc[key])
            except ValueError as exc:
                raise Refused(f"healthcheck.{key}: {exc}") from None
            low, high = HEALTH_LIMITS[target]
            clamped = min(max(value, low), high)
            if clamped != value:
                self.note(f"healthcheck.{key} {hc[key]} became {clamped}: ECS allows {low} to {high} (API_HealthCheck)")
            check[target] = clamped
        if hc.get("start_interval") is not None:
            self.note("healthcheck.start_interval left out: ECS checks at the interval from the start")
        self.entry["healthCheck"] = check
        self.mapped("healthcheck")

    # -- size and security -------------------------------------------------------------------------------

    def _resources(self) -> None:
        svc = self.svc
        deploy = svc.get("deploy") or {}
        for key in sorted(set(deploy) - {"replicas", "resources", "mode"}):
            self.note(f"deploy.{key} left out: ECS deploys with its own rolling update and circuit breaker")
        if deploy.get("mode") == "global":
            self.note("deploy.mode global: one task (a Fargate service has no hosts to run one task on each)")
        replicas = deploy.get("replicas", svc.get("scale"))
        if replicas is not None:
            self.entry["desiredCount"] = int(replicas)
            self.mapped("deploy.replicas" if "replicas" in deploy else "scale")
        resources = deploy.get("resources") or {}
        for kind in ("limits", "reservations"):
            part = resources.get(kind) or {}
            if part.get("devices") or part.get("generic_resources"):
                raise Refused(f"deploy.resources.{kind}.devices: Fargate has no GPUs or other devices; run it on ECS "
                              "with EC2 capacity")
            if "pids" in part:
                self.note(f"deploy.resources.{kind}.pids left out: Fargate sets its own process limit")
        limits, reservations = resources.get("limits") or {}, resources.get("reservations") or {}
        cpus = _first(limits.get("cpus"), svc.get("cpus"), svc.get("cpu_count"), reservations.get("cpus"))
        memory = _first(limits.get("memory"), svc.get("mem_limit"), reservations.get("memory"),
                        svc.get("mem_reservation"))
        if cpus is None and memory is None:
            self.note("no cpu or memory limit: the smallest Fargate size, 256 cpu / 512 MiB; set "
                      "deploy.resources.limits (or cpu and memory in the settings) if it needs more")
            return
        try:
            cpu, mib = fargate_size(float(cpus) if cpus is not None else None,
                                    size_mib(memory) if memory is not None else None)
        except ValueError as exc:
            raise Refused(f"deploy.resources: {exc}") from None
        self.entry["cpu"], self.entry["memory"] = cpu, mib
        self.mapped("deploy.resources")
        self.note(f"cpus {cpus if cpus is not None else '-'} and memory {memory if memory is not None else '-'} "
                  f"became the Fargate size {cpu} cpu / {mib} MiB (the smallest valid size at or above them)")

    def _security(self) -> None:
        svc = self.svc
        if compose_bool(svc.get("privileged")) is True:
            raise Refused("privileged: Fargate does not run privileged containers; remove it and give the "
                          "service only what it needs")
        mode = svc.get("network_mode")
        if mode not in (None, "bridge", "default"):
            other = str(mode).split(":", 1)[1] if ":" in str(mode) else None
            raise Refused(f"network_mode: {mode!r}: Fargate tasks have their own network (awsvpc)"
                          + (f"; to share {other}'s network, make it a sidecar of {other} in the settings"
                             if other else "; remove it"))
        for key in ("pid", "ipc"):
            value = svc.get(key)
            if value is None:
                continue
            if str(value) == "host" or str(value).startswith(("service:", "container:")):
                raise Refused(f"{key}: {value!r}: Fargate shares no {key.upper()} namespace with the host or other "
                              "tasks; remove it")
            self.note(f"{key} {value!r} left out: each Fargate task has its own")
        added = {str(c).upper().removeprefix("CAP_") for c in svc.get("cap_add") or []}
        beyond = sorted(added - FARGATE_CAPABILITIES - {"ALL"}) + (["ALL"] if "ALL" in added else [])
        if beyond:
            raise Refused(f"cap_add: {', '.join(beyond)}: Fargate lets a task add only SYS_PTRACE; remove the others")
        if added or svc.get("cap_drop"):
            self.note("cap_add/cap_drop left out: the container keeps Docker's default capabilities")
        for opt in svc.get("security_opt") or []:
            text = str(opt).replace("=", ":")
            if text.startswith("no-new-privileges"):
                self.note(f"security_opt {opt!r} left out: ECS has no no-new-privileges setting on Fargate")
            elif text.endswith(":unconfined"):
                raise Refused(f"security_opt: {opt!r}: Fargate always applies its own seccomp and AppArmor profiles; "
                              "remove it")
            else:
                self.note(f"security_opt {opt!r} left out: Fargate applies its own security profiles")


def _named(value: Any) -> dict[str, Any]:
    """`environment`/`args` as a mapping; list entries without `=` have the value None (taken from outside)."""
    if isinstance(value, dict):
        return dict(value)
    out: dict[str, Any] = {}
    for item in value or []:
        name, found, rest = str(item).partition("=")
        out[name] = rest if found else None
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _first(*values: Any) -> Any:
    return next((v for v in values if v not in (None, "", 0)), None)


def _relative(path: Path, start: Path) -> str:
    import os
    return os.path.relpath(path, start)
