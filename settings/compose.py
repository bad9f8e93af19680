"""Turn a docker-compose file into `services[]` and `jobs[]` settings entries.

Docker's Compose-to-ECS integration is retired and AWS Copilot has reached end of support; teams
still describe containers in docker-compose.yml. Each compose service becomes a settings entry
(a job when listed in `compose.jobs`), validated like any other. What Fargate cannot run is an
error naming the service and key; what has no Fargate meaning is a note; an unknown key is an
error. Notes say what was rounded or left out, so nothing is dropped silently.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from settings.compose_env import ComposeError, dotenv, interpolate
from settings.compose_units import duration_seconds, fargate_size, size_mib

#: Keys with no meaning on Fargate or here, and why they are left out (a note each).
IGNORED = {
    "container_name": "ECS names tasks itself", "restart": "ECS restarts a service's tasks; jobs run once",
    "labels": "use settings tags", "logging": "logs go to CloudWatch (awslogs)",
    "networks": "tasks share the private subnets; services reach each other by name (Service Connect)",
    "hostname": "Fargate sets the hostname", "stop_signal": "ECS sends SIGTERM",
    "stop_grace_period": "ECS waits 30 s", "init": "set exec to get an init process", "tty": "no terminal",
    "stdin_open": "no terminal", "working_dir": "use the image's WORKDIR", "domainname": "Fargate sets it",
    "pull_policy": "images are resolved at deploy", "profiles": "every service is deployed",
}
#: Keys Fargate cannot honour: an error each.
REFUSED = {
    "privileged": "Fargate does not run privileged containers", "devices": "Fargate gives no host devices",
    "pid": "Fargate has no host PID namespace", "ipc": "Fargate has no host IPC namespace",
    "userns_mode": "Fargate has no user namespace setting", "sysctls": "not supported here",
    "security_opt": "Fargate sets its own security options",
    "extra_hosts": "not supported with awsvpc networking; use Service Connect names or Route 53",
    "links": "use Service Connect names", "external_links": "use Service Connect names",
    "cgroup_parent": "Fargate has no host cgroups", "runtime": "Fargate chooses the runtime",
    "dns": "tasks use the VPC resolver", "dns_search": "tasks use the VPC resolver",
    "mac_address": "Fargate assigns it", "shm_size": "not supported on Fargate", "ulimits": "not supported here",
}
HANDLED = {"image", "build", "command", "entrypoint", "environment", "env_file", "ports", "expose", "healthcheck",
           "deploy", "secrets", "read_only", "user", "platform", "depends_on", "volumes", "tmpfs", "cap_add",
           "cap_drop", "network_mode"}
#: Linux capabilities Fargate lets a task add.
FARGATE_CAPABILITIES = {"SYS_PTRACE"}


def load(spec: dict[str, Any], base_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(services, jobs, notes) from the `compose` setting: {file, jobs, secrets}."""
    path = base_dir / str(spec.get("file", ""))
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ComposeError(f"file: cannot read {spec.get('file')!r} ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ComposeError(f"file: {spec.get('file')!r} is not valid YAML ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
        raise ComposeError(f"file: {spec.get('file')!r} has no services")
    for key in doc:
        if key in ("include", "configs"):
            raise ComposeError(f"{key}: not supported (put the services in this file; configs have no Fargate "
                               "equivalent)")
        if key not in TOP_LEVEL and not str(key).startswith("x-"):
            raise ComposeError(f"{key}: not a compose key private-fargate knows")
    doc = interpolate(doc, dotenv(path.parent / ".env"))
    as_jobs = set(spec.get("jobs") or [])
    missing = sorted(as_jobs - set(doc["services"]))
    if missing:
        raise ComposeError(f"jobs: {', '.join(missing)} not in {spec.get('file')!r}; it has "
                           f"{', '.join(sorted(doc['services']))}")
    notes: list[str] = []
    services, jobs = [], []
    for name, svc in doc["services"].items():
        entry = ServiceMapper(name, svc or {}, path.parent, base_dir, spec.get("secrets") or {}, notes).entry()
        if name in as_jobs:
            for key in ("port", "ports", "desiredCount"):
                if entry.pop(key, None) is not None:
                    notes.append(f"compose: {name}: {key} left out: it is a job (jobs take no ports or replicas)")
            jobs.append(entry)
        else:
            services.append(entry)
    if jobs and services:
        notes.append("compose: jobs run outside Service Connect: they cannot reach services by name; give them "
                     "an address of a load balancer or a VPC DNS name")
    return services, jobs, notes


TOP_LEVEL = {"services", "secrets", "volumes", "networks", "name", "version"}
def merge(generated: list[dict[str, Any]], explicit: list[dict[str, Any]], kind: str,
          notes: list[str]) -> list[dict[str, Any]]:
    """Explicit entries win key by key over generated ones of the same name; a clash is noted."""
    by_name = {e.get("name"): e for e in explicit if isinstance(e, dict)}
    out = []
    for entry in generated:
        override = by_name.pop(entry["name"], None)
        if override is not None:
            clash = sorted(k for k in override if k in entry and k != "name" and override[k] != entry[k])
            notes.append(f"compose: {kind} {entry['name']!r} is also in the settings, which win"
                         + (f" for {', '.join(clash)}" if clash else ""))
            entry = {**entry, **override}
        out.append(entry)
    return out + [e for e in explicit if not isinstance(e, dict) or e.get("name") in by_name]


class ServiceMapper:
    """One compose service -> one settings entry (camelCase keys, as in Pulumi.<stack>.yaml)."""

    def __init__(self, name: str, svc: dict[str, Any], compose_dir: Path, base_dir: Path,
                 secret_arns: dict[str, str], notes: list[str]):
        self.compose_name = name
        self.svc = svc
        self.compose_dir = compose_dir
        self.base_dir = base_dir
        self.secret_arns = secret_arns
        self.notes = notes
        self.out: dict[str, Any] = {}

    def fail(self, key: str, message: str) -> ComposeError:
        return ComposeError(f"services.{self.compose_name}.{key}: {message}")

    def note(self, message: str) -> None:
        self.notes.append(f"compose: {self.compose_name}: {message}")

    def entry(self) -> dict[str, Any]:
        """The settings entry; raises ComposeError for what Fargate cannot run."""
        if not isinstance(self.svc, dict):
            raise self.fail("", "expected a mapping")
        for key, value in self.svc.items():
            if str(key).startswith("x-"):
                continue
            if key in REFUSED:
                if value in (False, None, [], {}, ""):
                    continue  # `privileged: false` asks for nothing Fargate lacks
                raise self.fail(key, REFUSED[key])
            if key in IGNORED:
                self.note(f"{key} left out: {IGNORED[key]}")
            elif key not in HANDLED:
                raise self.fail(key, "not supported by private-fargate (remove it or set the equivalent setting)")
        name = re.sub(r"[^a-z0-9-]+", "-", self.compose_name.lower()).strip("-")
        if name != self.compose_name:
            self.note(f"named {name!r} (names are lowercase letters, digits and '-')")
        self.out["name"] = name
        for step in (self._image, self._command, self._environment, self._ports, self._healthcheck, self._deploy,
                     self._secrets, self._filesystem, self._security, self._platform, self._depends_on):
            step()
        return self.out

    def _image(self) -> None:
        build, image = self.svc.get("build"), self.svc.get("image")
        if build is not None:
            spec = {"context": build} if isinstance(build, str) else dict(build)
            extra = sorted(set(spec) - {"context", "dockerfile"})
            if extra:
                raise self.fail(f"build.{extra[0]}", "not supported (the image is built from context and "
                                                     "dockerfile only)")
            context = os.path.relpath(self.compose_dir / str(spec.get("context", ".")), self.base_dir)
            self.out["image"] = {"build": {"context": Path(context).as_posix(),
                                           "dockerfile": spec.get("dockerfile", "Dockerfile")}}
            if image:
                self.note(f"built from {context}; image {image!r} is only the local tag in compose")
            return
        if not image:
            raise self.fail("image", "give image or build")
        image = str(image)
        first = image.split("/")[0]
        if "/" not in image or not ("." in first or ":" in first or first == "localhost"):
            path = image if "/" in image else f"library/{image}"
            self.out["image"] = {"public": f"docker.io/{path}"}
        elif first == "public.ecr.aws" or first == "docker.io":
            self.out["image"] = {"public": image}
        elif ".dkr.ecr." in first:
            self.out["image"] = {"uri": image}
        else:
            raise self.fail("image", f"{image!r} is on {first}, which a task with no internet route cannot reach; "
                                     "push it to ECR, or use public.ecr.aws or Docker Hub through the cache")

    def _command(self) -> None:
        for key, target in (("entrypoint", "entrypoint"), ("command", "command")):
            value = self.svc.get(key)
            if value is None:
                continue
            self.out[target] = shlex.split(value) if isinstance(value, str) else [str(v) for v in value]

    def _environment(self) -> None:
        env: dict[str, str] = {}
        files = self.svc.get("env_file")
        for item in ([files] if isinstance(files, (str, dict)) else files or []):
            path = item if isinstance(item, str) else item.get("path")
            required = True if isinstance(item, str) else item.get("required", True)
            full = self.compose_dir / str(path)
            if not full.is_file():
                if required:
                    raise self.fail("env_file", f"{path!r} not found next to the compose file")
                continue
            env.update(dotenv(full))
        raw = self.svc.get("environment") or {}
        if isinstance(raw, dict):
            pairs = list(raw.items())
        else:
            pairs = [tuple(str(i).split("=", 1)) if "=" in str(i) else (str(i), None) for i in raw]
        for key, value in pairs:
            if value is None:
                raise self.fail(f"environment.{key}", "takes its value from the host, which a deploy cannot "
                                                       "know; give the value")
            env[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
        if env:
            self.out["environment"] = env

    def _ports(self) -> None:
        targets: list[tuple[int, str]] = []
        for item in self.svc.get("ports") or []:
            if isinstance(item, dict):
                extra = sorted(set(item) - {"target", "published", "protocol", "host_ip", "mode", "app_protocol",
                                            "name"})
                if extra:
                    raise self.fail(f"ports.{extra[0]}", "not a port key compose knows")
                if "app_protocol" in item:
                    self.note(f"ports: app_protocol {item['app_protocol']!r} left out (Service Connect proxies TCP)")
                target, protocol = item.get("target"), item.get("protocol", "tcp")
            else:
                spec, _, protocol = str(item).partition("/")
                target, protocol = spec.rsplit(":", 1)[-1], protocol or "tcp"
            targets.append(self._port(target, item, protocol))
        if not targets:
            for item in self.svc.get("expose") or []:
                number, _, protocol = str(item).partition("/")
                targets.append(self._port(number, item, protocol or "tcp"))
        distinct = list(dict.fromkeys(targets))
        if not distinct:
            self.note("no ports or expose: other services cannot reach it (on compose's network every port is "
                      "open; Service Connect reaches only a declared one)")
            return
        if distinct == [(distinct[0][0], "tcp")]:
            self.out["port"] = distinct[0][0]
        else:  # every port: TCP ones through Service Connect, UDP ones by DNS name
            self.out["ports"] = [n if proto == "tcp" else {"port": n, "protocol": proto} for n, proto in distinct]
        published = [p for p in self.svc.get("ports") or [] if isinstance(p, str) and ":" in p]
        if published:
            self.note("published host ports have no meaning on Fargate; the container port is what others use")

    def _port(self, target: Any, item: Any, protocol: str) -> tuple[int, str]:
        if protocol not in ("tcp", "udp"):
            raise self.fail("ports", f"{item!r}: only TCP and UDP ports are supported")
        if target is None or not str(target).isdigit():
            raise self.fail("ports", f"{item!r}: expected one container port (no ranges)")
        return int(target), protocol

    def _healthcheck(self) -> None:
        hc = self.svc.get("healthcheck")
        if not hc:
            return
        if not isinstance(hc, dict):
            raise self.fail("healthcheck", "expected a mapping with test, interval, timeout, retries, start_period")
        extra = sorted(set(hc) - {"test", "interval", "timeout", "retries", "start_period", "start_interval",
                                  "disable"})
        if extra:
            raise self.fail(f"healthcheck.{extra[0]}", "not a healthcheck key compose knows")
        if "start_interval" in hc:
            self.note("healthcheck.start_interval left out: ECS checks at the interval from the start")
        test = hc.get("test")
        if hc.get("disable") or test in (["NONE"], "NONE"):
            return
        if isinstance(test, str):
            command = ["CMD-SHELL", test]
        elif isinstance(test, list) and test and test[0] in ("CMD", "CMD-SHELL"):
            command = [str(t) for t in test]
        else:
            raise self.fail("healthcheck.test", "expected a string or a list starting with CMD or CMD-SHELL")
        check: dict[str, Any] = {"command": command}
        for key, target in (("interval", "interval"), ("timeout", "timeout"), ("start_period", "startPeriod")):
            if key in hc:
                try:
                    check[target] = duration_seconds(hc[key])
                except ValueError as exc:
                    raise self.fail(f"healthcheck.{key}", str(exc)) from None
        if "retries" in hc:
            check["retries"] = int(hc["retries"])
        self.out["healthCheck"] = check

    def _deploy(self) -> None:
        deploy = self.svc.get("deploy") or {}
        for key in sorted(set(deploy) - {"replicas", "resources"}):
            self.note(f"deploy.{key} left out: ECS deploys with its own rolling update and circuit breaker")
        if "replicas" in deploy:
            self.out["desiredCount"] = int(deploy["replicas"])
        resources = deploy.get("resources") or {}
        for kind in ("limits", "reservations"):
            part = resources.get(kind) or {}
            if part.get("devices"):
                raise self.fail(f"deploy.resources.{kind}.devices", "Fargate has no GPUs or other devices")
            if "pids" in part:
                self.note(f"deploy.resources.{kind}.pids left out: Fargate sets its own process limit")
        wanted = resources.get("limits") or resources.get("reservations")
        if not wanted:
            return
        if "limits" not in resources:
            self.note("sized from deploy.resources.reservations (no limits given)")
        try:
            cpus = float(wanted["cpus"]) if "cpus" in wanted else None
            memory = size_mib(wanted["memory"]) if "memory" in wanted else None
            cpu, mib = fargate_size(cpus, memory)
        except (ValueError, TypeError) as exc:
            raise self.fail("deploy.resources", str(exc)) from None
        self.out["cpu"], self.out["memory"] = cpu, mib
        self.note(f"cpus {cpus if cpus is not None else '-'} and memory "
                  f"{wanted.get('memory', '-')} became the Fargate size {cpu} cpu / {mib} MiB")

    def _secrets(self) -> None:
        secrets: dict[str, str] = {}
        for item in self.svc.get("secrets") or []:
            source = item if isinstance(item, str) else item.get("source")
            target = source if isinstance(item, str) else item.get("target", source)
            target = str(target).rstrip("/").rsplit("/", 1)[-1]  # /run/secrets/db_password -> db_password
            if isinstance(item, dict) and set(item) & {"uid", "gid", "mode"}:
                self.note(f"secrets.{source}: uid, gid and mode left out (the secret is an environment variable)")
            arn = self.secret_arns.get(str(source))
            if not arn:
                raise self.fail("secrets", f"{source!r} has no ARN in compose.secrets (map it to a Secrets "
                                           "Manager secret or SSM parameter)")
            secrets[re.sub(r"[^A-Za-z0-9_]", "_", str(target)).upper()] = arn
        if secrets:
            self.out["secrets"] = secrets
            self.note("secrets arrive as environment variables named after their target "
                      f"({', '.join(sorted(secrets))}), not as files under /run/secrets")

    def _filesystem(self) -> None:
        paths: list[str] = []
        for volume in self.svc.get("volumes") or []:
            if isinstance(volume, dict):
                kind, source, target = volume.get("type", "volume"), volume.get("source"), volume.get("target")
            else:
                parts = str(volume).split(":")
                source, target = (parts[0], parts[1]) if len(parts) > 1 else (None, parts[0])
                kind = "bind" if source and (source.startswith((".", "/", "~"))) else "volume"
            if kind == "bind":
                raise self.fail("volumes", f"{volume!r} binds a host path, which Fargate does not have")
            if (isinstance(volume, dict) and volume.get("read_only")) or str(volume).endswith(":ro"):
                self.note(f"volume {target} is mounted writable: an ephemeral volume starts empty, so read-only "
                          "would leave it useless")
            paths.append(str(target))
        tmpfs = self.svc.get("tmpfs") or []
        paths += [str(t).split(":")[0] for t in ([tmpfs] if isinstance(tmpfs, str) else tmpfs)]
        if paths:
            self.out["writablePaths"] = list(dict.fromkeys(["/tmp", *paths]))
            self.note(f"volumes {', '.join(paths)} are ephemeral task storage: they do not outlive the task")
        if "read_only" in self.svc:
            self.out["readonlyRootFilesystem"] = bool(self.svc["read_only"])
        else:
            self.note("read_only not set: runs with a read-only root filesystem (writable: /tmp and volumes); "
                      "set read_only: false if the app writes elsewhere")
        if self.svc.get("user") is not None:
            self.out["user"] = str(self.svc["user"])

    def _security(self) -> None:
        mode = self.svc.get("network_mode")
        if mode is not None and mode not in ("bridge", "default"):
            raise self.fail("network_mode", f"{mode!r}: Fargate tasks have their own network (awsvpc)")
        added = {str(c).upper().removeprefix("CAP_") for c in self.svc.get("cap_add") or []}
        beyond = sorted(added - FARGATE_CAPABILITIES)
        if beyond:
            raise self.fail("cap_add", f"{', '.join(beyond)}: Fargate only allows adding SYS_PTRACE")
        if added or self.svc.get("cap_drop"):
            self.note("cap_add/cap_drop left out: not passed to the task definition")

    def _platform(self) -> None:
        platform = self.svc.get("platform")
        if platform is None:
            return
        arch = {"linux/amd64": "X86_64", "linux/x86_64": "X86_64", "linux/arm64": "ARM64",
                "linux/arm64/v8": "ARM64"}.get(str(platform))
        if arch is None:
            raise self.fail("platform", f"{platform!r}; allowed: linux/amd64, linux/arm64")
        self.out["arch"] = arch

    def _depends_on(self) -> None:
        deps = self.svc.get("depends_on")
        if deps:
            names = list(deps) if isinstance(deps, (list, dict)) else [deps]
            self.note(f"depends_on {', '.join(map(str, names))} left out: ECS starts separate services "
                      "independently; make the app retry until its dependencies answer")
