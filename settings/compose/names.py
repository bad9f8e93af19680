"""How compose services find each other, on Fargate: the ports they listen on and the names they use.

On compose's network every port of every container is open and a container answers to its service
name, its `container_name`, its network aliases and `links` aliases. Here a service admits only the
ports it declares, and answers to its workload name through Service Connect (services) or to
`<name>.<namespace>` (every task, jobs and init containers included). So:

- a service that others use but that declares no port gets the one its image listens on, when other
  services name it with a port (`db:5432`, `postgres://db:5432/x`) or when its image is a well-known
  server (postgres, redis...); each such port is a note;
- other services' environment values that name it by a name it will not have (its compose name when
  the workload name differs, its container_name, an alias) are rewritten to the name it has, in host
  positions only (a whole value, `host:port`, the host of a URL), each rewrite a note.
"""

from __future__ import annotations

import re
from typing import Any

from settings.compose.context import Report
from settings.compose.project import Project, depends_on
from settings.compose.runtime import NO_PORTS

#: Ports Docker Official Images (and the vendors' images named here) declare with EXPOSE, by a word of the
#: image's repository name: the port a client of that server uses.
WELL_KNOWN_PORTS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("postgres", "postgis", "pgvector", "timescaledb"), 5432),
    (("mysql", "mariadb", "percona"), 3306),
    (("redis", "valkey", "keydb"), 6379),
    (("mongo",), 27017),
    (("memcached",), 11211),
    (("rabbitmq",), 5672),
    (("elasticsearch", "opensearch"), 9200),
    (("clickhouse",), 8123),
    (("minio",), 9000),
)


#: Variable names whose whole value is a host name (a value such as `postgres` elsewhere may be a user name).
HOST_KEY = re.compile(r"HOST|SERVER|ADDR|URL|URI|DSN|ENDPOINT|BROKER|NODES", re.I)


def _image_port(image: Any) -> int | None:
    if not isinstance(image, str):
        return None
    name = image.split("@")[0].rsplit("/", 1)[-1].split(":")[0].lower()
    return next((port for words, port in WELL_KNOWN_PORTS if any(w in name for w in words)), None)


def _aliases(name: str, svc: dict[str, Any], workload: str) -> set[str]:
    """Every name compose gives a service that differs from its workload name."""
    names = {name, str(svc.get("container_name") or "")}
    networks = svc.get("networks")
    if isinstance(networks, dict):
        names |= {str(a) for n in networks.values() if isinstance(n, dict) for a in n.get("aliases") or []}
    return {n for n in names if n and n != workload}


def _values(svc_entry: dict[str, Any]) -> list[str]:
    texts = list((svc_entry.get("environment") or {}).values())
    for init in svc_entry.get("initContainers") or []:
        texts += list((init.get("environment") or {}).values())
    return [str(t) for t in texts]


def infer_ports(project: Project, entries: dict[str, dict[str, Any]], reports: dict[str, Report]) -> None:
    """Give a port to each service others use that declares none (from their references, else its image)."""
    for name, entry in entries.items():
        if "port" in entry or "ports" in entry:
            continue
        svc = project.services[name]
        names = _aliases(name, svc, entry["name"]) | {entry["name"]}
        pattern = re.compile(r"(?<![\w.-])(" + "|".join(map(re.escape, sorted(names))) + r"):(\d{2,5})(?!\d)")
        referenced = sorted({int(m.group(2)) for other, e in entries.items() if other != name
                             for text in _values(e) for m in pattern.finditer(text)})
        used = any(name in depends_on(s) for o, s in project.services.items() if o != name) or any(
            re.search(r"(?<![\w.-])(" + "|".join(map(re.escape, sorted(names))) + r")(?![\w-])", text)
            for other, e in entries.items() if other != name for text in _values(e))
        if referenced:
            ports = [p for p in referenced if 0 < p < 65536]
            how = "other services name it with " + ", ".join(f"{name}:{p}" for p in ports)
        elif used and _image_port(svc.get("image")) is not None:
            ports = [_image_port(svc.get("image")) or 0]
            how = f"the port its image, {svc.get('image')}, listens on"
        else:
            continue
        if len(ports) == 1:
            entry["port"] = ports[0]
        else:
            entry["ports"] = ports
        report = reports[name]
        report.withdraw(NO_PORTS)
        report.note(f"port {', '.join(map(str, ports))} assumed ({how}): compose opens every port on its network, "
                    "a service here admits only its declared ones; add `expose` to the compose file to choose")


def rewrite_names(project: Project, entries: dict[str, dict[str, Any]], reports: dict[str, Report],
                  kinds: dict[str, str], namespace: str | None) -> None:
    """Rewrite host names in environment values to the names services have here.

    `kinds`: compose name -> "service", "job" or "init" (init containers of a service's task). Services use
    the Service Connect name (the workload name); jobs and init containers, which are not Service Connect
    clients, use `<name>.<namespace>`.
    """
    targets: dict[str, str] = {}
    for name, entry in entries.items():
        if kinds.get(name) == "service" and ("port" in entry or "ports" in entry):
            for alias in _aliases(name, project.services[name], entry["name"]) | {entry["name"]}:
                targets[alias] = entry["name"]
    if not targets:
        return
    alternatives = "|".join(map(re.escape, sorted(targets, key=len, reverse=True)))
    whole = re.compile(rf"^({alternatives})$")
    host = re.compile(rf"(?:(?:(?<=//)|(?<=@))({alternatives})(?=[:/?]|$)|(?:^|(?<=[,;=\s]))({alternatives})(?=:\d))")
    for name, entry in entries.items():
        kind = kinds.get(name, "service")
        containers = [(entry, name)] + [(init, name) for init in entry.get("initContainers") or []]
        for container, owner in containers:
            fqdn = kind != "service" or container is not entry
            env = container.get("environment") or {}
            for key, value in env.items():
                def swap(m: re.Match[str], fqdn: bool = fqdn) -> str:
                    new = targets[m.group(m.lastindex or 1)]
                    return f"{new}.{namespace}" if fqdn and namespace else new
                text = str(value)
                hosty = HOST_KEY.search(key) is not None
                changed = whole.sub(swap, text) if hosty and whole.match(text) else host.sub(swap, text)
                if changed != text:
                    env[key] = changed
                    where = f"environment.{key}" if container is entry else \
                        f"environment.{key} of {container.get('name')}"
                    reports[owner].note(f"{where}: {text!r} became {changed!r}, the name it has here "
                                        + ("(jobs and init containers use DNS names in the stack's namespace)"
                                           if fqdn else "(Service Connect)"))
