"""A compose service's ports, health check, size and security keys, mapped the Fargate way (ServiceMapper's part).

Health checks are clamped to the ECS API's ranges (API_HealthCheck); sizes round up to a valid Fargate
cpu/memory pair; capabilities and security options keep what Fargate allows (LinuxParameters).
"""

from __future__ import annotations

import re
from typing import Any

from settings.base import scalar_to_str
from settings.compose.context import MapContext, Refused, Report
from settings.compose.keys import FARGATE_CAPABILITIES, compose_bool
from settings.compose.units import duration_seconds, fargate_size, size_mib

#: ECS HealthCheck limits (API_HealthCheck): interval 5..300, timeout 2..60, retries 1..10, startPeriod 0..300.
HEALTH_LIMITS = {"interval": (5, 300), "timeout": (2, 60), "retries": (1, 10), "startPeriod": (0, 300)}
#: Tags of the provisional notes a later pass withdraws (names.infer_ports, an init container).
NO_PORTS, NO_SIZE = "no-ports", "no-size"
#: compose's healthcheck timeout when a file gives none (the compose specification: 30s).
COMPOSE_HEALTH_TIMEOUT = 30
#: Most ports a compose port range may expand to (each is a port mapping of the task definition).
RANGE_MAX = 20


class RuntimeMapper:
    """The ports, health, size and security steps of ServiceMapper (settings/compose/services.py)."""

    compose_name: str
    svc: dict[str, Any]
    ctx: MapContext
    report: Report
    entry: dict[str, Any]

    def note(self, message: str, *, provisional: str | None = None) -> None:
        raise NotImplementedError

    def mapped(self, key: str) -> None:
        raise NotImplementedError

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
                      "here a service admits only the ports it declares)", provisional=NO_PORTS)
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
            command = [text_value(t) for t in test]
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
        if "timeout" not in check:
            # compose's default is 30 s, ECS's 5 s: keep what the app was tuned for
            check["timeout"] = COMPOSE_HEALTH_TIMEOUT
            self.note(f"healthcheck.timeout unset: {COMPOSE_HEALTH_TIMEOUT} s, compose's default (ECS's own would "
                      "be 5 s)")
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
            if not str(replicas).isdigit():
                key = "deploy.replicas" if "replicas" in deploy else "scale"
                raise Refused(f"{key}: {replicas!r} is not a whole number of tasks")
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
                      "deploy.resources.limits (or cpu and memory in the settings) if it needs more",
                      provisional=NO_SIZE)
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

    def refuse(self, key: str, message: str) -> None:
        raise NotImplementedError

    def _security(self) -> None:
        """Every refusal of these keys at once (each is its own line), not the first one only."""
        svc = self.svc
        if compose_bool(svc.get("privileged")) is True:
            self.refuse("privileged", "Fargate does not run privileged containers; remove it and give the service "
                        "only what it needs")
        mode = svc.get("network_mode")
        if mode not in (None, "bridge", "default"):
            other = str(mode).split(":", 1)[1] if ":" in str(mode) else None
            self.refuse("network_mode", f"{mode!r}: Fargate tasks have their own network (awsvpc)"
                        + (f"; to share {other}'s network, make it a sidecar of {other} in the settings"
                           if other else "; remove it"))
        for key in ("pid", "ipc"):
            value = svc.get(key)
            if value is None:
                continue
            if str(value) == "host" or str(value).startswith(("service:", "container:")):
                self.refuse(key, f"{value!r}: Fargate shares no {key.upper()} namespace with the host or other "
                            "tasks; remove it")
            else:
                self.note(f"{key} {value!r} left out: each Fargate task has its own")
        added = {str(c).upper().removeprefix("CAP_") for c in svc.get("cap_add") or []}
        beyond = sorted(added - FARGATE_CAPABILITIES - {"ALL"}) + (["ALL"] if "ALL" in added else [])
        if beyond:
            self.refuse("cap_add", f"{', '.join(beyond)}: Fargate lets a task add only SYS_PTRACE; remove the others")
        elif added:
            self.note("cap_add SYS_PTRACE left out: private-fargate adds no capabilities (SYS_PTRACE is the only one "
                      "Fargate would add); the container runs with Docker's default set")
        if svc.get("cap_drop"):
            self.note("cap_drop left out: the container keeps Docker's default capabilities")
        for opt in svc.get("security_opt") or []:
            text = str(opt).replace("=", ":")
            if text.startswith("no-new-privileges"):
                self.note(f"security_opt {opt!r} left out: ECS has no no-new-privileges setting on Fargate")
            elif text.endswith(":unconfined"):
                self.refuse("security_opt", f"{opt!r}: Fargate always applies its own seccomp and AppArmor profiles; "
                            "remove it")
            else:
                self.note(f"security_opt {opt!r} left out: Fargate applies its own security profiles")


def text_value(value: Any) -> str:
    """A compose scalar as compose writes it into the environment: the settings' rule, and 2 not 2.0."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(scalar_to_str(value))


def _first(*values: Any) -> Any:
    return next((v for v in values if v not in (None, "", 0)), None)
