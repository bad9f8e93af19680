"""One compose service -> one settings entry: image, command, environment, ports, health check, size, the rest.

Volumes, bind mounts, tmpfs, secrets and configs are mapped in storage.py. Every refusal is collected
(not raised at once) so a user sees every problem of a file in one run; each names `services.<name>.<key>`.
"""

from __future__ import annotations

import os
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
    MAPPED,
    NOTED,
    REFUSED,
    compose_bool,
)
from settings.compose.project import build_spec, named_values
from settings.compose.runtime import RuntimeMapper, text_value
from settings.compose.units import duration_seconds
from settings.compose.variables import ComposeError, read_env_file
from settings.images import image_setting

#: ECS stopTimeout on Fargate: at most 120 seconds (ContainerDefinition.stopTimeout).
STOP_TIMEOUT_MAX = 120
_ARCH = {"linux/amd64": "X86_64", "linux/x86_64": "X86_64", "amd64": "X86_64", "linux/arm64": "ARM64",
         "linux/arm64/v8": "ARM64", "arm64": "ARM64", "linux/aarch64": "ARM64"}


def workload_name(name: str) -> str:
    """A compose service name as a workload name: lowercase letters, digits and '-'."""
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:40].strip("-")


class ServiceMapper(RuntimeMapper):
    """Maps one compose service; `entry` is the settings entry (camelCase keys), `report` what happened."""

    def __init__(self, name: str, svc: dict[str, Any], ctx: MapContext, report: Report):
        self.compose_name = name
        self.svc = svc
        self.ctx = ctx
        self.report = report
        self.entry: dict[str, Any] = {"name": workload_name(name)}

    def note(self, message: str, *, provisional: str | None = None) -> None:
        self.report.note(message, provisional=provisional)

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
                self.refuse(exc.key, exc.why)
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
        spec = build_spec(build)
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
            out["dockerfile"] = Path(os.path.relpath(target, directory)).as_posix()
            self.note("build.dockerfile_inline written to " + self.ctx.settings_path(target))
        elif spec.get("dockerfile"):
            out["dockerfile"] = str(spec["dockerfile"])
        if spec.get("target"):
            out["target"] = str(spec["target"])
        args = named_values(spec.get("args"), "args")
        resolved = {}
        for key, value in args.items():
            if value is None:
                value = self.ctx.project.environment.get(key)
                if value is None:
                    self.note(f"build.args.{key} left out: no value, and it is not set in the environment or .env")
                    continue
            resolved[key] = text_value(value)
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
                words = shlex.split(value) if isinstance(value, str) else [text_value(v) for v in value]
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
        for key, value in named_values(self.svc.get("environment"), "environment").items():
            if value is None:
                value = lookup(key)
                if value is None:
                    self.note(f"environment.{key} left out: it takes its value from the environment, where it is "
                              "not set (nor in .env)")
                    continue
            env[str(key)] = text_value(value)
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
            try:
                seconds = duration_seconds(svc["stop_grace_period"])
            except ValueError as exc:
                raise Refused(f"stop_grace_period: {exc}") from None
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
            if not str(soft).isdigit() or not str(hard).isdigit():
                raise Refused(f"ulimits.nofile: {limit!r}: give a number, or soft and hard numbers, as compose does")
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
