"""Turn a docker-compose project into `services[]`, `jobs[]`, `volumes` and stack-owned secrets.

Docker's Compose-to-ECS integration is retired and AWS Copilot has reached end of support; teams still
describe their apps in docker-compose.yml. The rule: map everything Fargate can run, note what is left
out, refuse only what Fargate cannot do, and say which service and key (`services.<name>.<key>`), why,
and what to do instead. Modules: project.py reads the files as compose does (yamlio.py, variables.py:
YAML 1.2, interpolation, `.env`, layering, profiles, extends, include); services.py maps a service's
keys; storage.py its volumes, bind mounts, secrets and configs; this module decides what each service
becomes (a service, a job, or an init container of the service that waits for it) and reports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from settings.compose.context import CACHE_DIR, MapContext, Report
from settings.compose.credentials import move_credentials
from settings.compose.names import infer_ports, rewrite_names
from settings.compose.project import Project, depends_on, load_project
from settings.compose.runtime import NO_SIZE
from settings.compose.services import ServiceMapper, workload_name
from settings.compose.storage import SECRETS_CONTAINER, StorageMapper, writer_container
from settings.compose.units import duration_seconds, fargate_size, size_mib
from settings.compose.variables import ComposeError

__all__ = ["CACHE_DIR", "ComposeError", "ComposeResult", "analyse", "duration_seconds", "fargate_size", "load",
           "merge", "size_mib"]

#: Settings keys an init container takes (a one-shot compose service that becomes one keeps these).
_INIT_KEYS = {"name", "image", "entrypoint", "command", "user", "environment", "secrets", "writablePaths",
              "readonlyRootFilesystem", "mounts", "workingDirectory", "initProcessEnabled", "ulimits", "stopTimeout"}


@dataclass
class ComposeResult:
    """What a compose project becomes, with a report per compose service."""

    services: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    secret_values: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    reports: dict[str, Report] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)  # workload name -> compose service name

    @property
    def refusals(self) -> list[str]:
        """Every refusal, one line each, in service order."""
        return [line for r in self.reports.values() for line in r.refused]

    def report_lines(self) -> list[str]:
        """Notes for the preview: the project's, then per compose service what it became and what was left out."""
        return [f"compose: {n}" for n in self.notes] + [line for r in self.reports.values() for line in r.lines()]


def analyse(spec: dict[str, Any], base_dir: Path, *, credentials: frozenset[str] = frozenset(),
            partition: str = "aws", namespace: str | None = None,
            explicit_volumes: frozenset[str] = frozenset()) -> ComposeResult:
    """Map a project (the `compose` setting: files, profiles, jobs, secrets); refusals are in the result, not raised.

    ComposeError for what stops compose itself (unreadable files, a required variable, a bad reference).
    """
    files = [str(f) for f in (spec.get("files") or [spec.get("file")]) if f]
    if not files:
        raise ComposeError("give file or files")
    first = (base_dir / files[0]).parent
    project = load_project(first, [str((base_dir / f).relative_to(first)) if (base_dir / f).is_relative_to(first)
                                   else str(base_dir / f) for f in files], list(spec.get("profiles") or []))
    result = ComposeResult(notes=list(project.notes))
    for name, profiles in project.disabled.items():
        result.reports[name] = Report(name, f"left out: only in the profiles {', '.join(profiles)}, none of them "
                                            "in compose.profiles")
    as_jobs = set(spec.get("jobs") or [])
    missing = sorted(as_jobs - set(project.services))
    if missing:
        raise ComposeError(f"jobs: {', '.join(missing)} not a service of the project; it has "
                           f"{', '.join(sorted(project.services))}")
    ctx = MapContext(project, base_dir, credentials, partition, dict(spec.get("secrets") or {}),
                     explicit_volumes=explicit_volumes)
    entries, secret_files = {}, {}
    seen: dict[str, str] = {}
    for name, svc in project.services.items():
        report = result.reports.setdefault(name, Report(name))
        mapper = ServiceMapper(name, svc, ctx, report)
        entries[name] = mapper.run()
        storage = StorageMapper(mapper)
        storage.run()
        secret_files[name] = storage.secret_files
        workload = entries[name]["name"]
        if workload in seen:
            report.refused.append(f"services.{name}: its settings name {workload!r} is also {seen[workload]}'s; "
                                  "rename one of them")
        seen[workload] = name
    infer_ports(project, entries, result.reports)
    kinds = _assign(project, entries, secret_files, as_jobs, result)
    rewrite_names(project, {n: e for n, e in entries.items() if kinds.get(n) != "init"}, result.reports, kinds,
                  namespace)
    move_credentials([*result.services, *result.jobs], result.reports, result.origins, ctx.secret_values)
    result.volumes, result.secret_values = ctx.volumes, ctx.secret_values
    return result


def _assign(project: Project, entries: dict[str, dict[str, Any]], secret_files: dict[str, list[dict[str, Any]]],
            as_jobs: set[str], result: ComposeResult) -> dict[str, str]:
    """Services, jobs, or init containers of the one service that waits for them to complete; the kind of each."""
    kinds: dict[str, str] = {}
    dependents: dict[str, list[str]] = {}
    for name, svc in project.services.items():
        for dep, spec in depends_on(svc).items():
            if spec.get("condition") == "service_completed_successfully":
                dependents.setdefault(dep, []).append(name)
    inits: dict[str, list[str]] = {}
    for dep, users in dependents.items():
        if dep in as_jobs:
            result.reports[dep].note(f"{', '.join(users)} wait for it to complete in compose; it is a job "
                                     "(compose.jobs): run it before they start")
        elif len(users) == 1 and dep not in dependents.get(users[0], []):
            inits.setdefault(users[0], []).append(dep)
        else:
            as_jobs.add(dep)
            result.reports[dep].note(f"{', '.join(users)} wait for it to complete: it runs once, as a job; run it "
                                     f"with `python -m tools.run_task {workload_name(dep)}` before they start")
    placed = {d for ds in inits.values() for d in ds}
    for name, svc in project.services.items():
        report, entry = result.reports[name], entries[name]
        for dep, spec in depends_on(svc).items():
            condition = spec.get("condition", "service_started")
            if condition == "service_completed_successfully" and dep in inits.get(name, []):
                continue
            report.note(f"depends_on {dep} ({condition}) left out: ECS starts separate services independently; the "
                        "app must retry until its dependency answers")
        if name in placed:
            owner = next(u for u, ds in inits.items() if name in ds)
            report.becomes = f"init container {entry['name']} of {workload_name(owner)} (runs to completion first)"
            kinds[name] = "init"
            continue
        tasks_inits = [_init_container(entries[d], result.reports[d]) for d in inits.get(name, [])]
        files = [f for d in [name, *inits.get(name, [])] for f in secret_files[d]]
        if files:
            tasks_inits.insert(0, writer_container(files))
            report.note(f"secrets {', '.join(dict.fromkeys(f['name'] for f in files))} are written to "
                        f"{', '.join(dict.fromkeys(f['target'] for f in files))} by the init container "
                        f"{SECRETS_CONTAINER} ({files[0]['target'].rsplit('/', 1)[0]} is task storage shared with "
                        "it; the secret values come from SSM or the ARNs given)")
        if tasks_inits:
            entry["initContainers"] = tasks_inits
        result.origins[entry["name"]] = name
        if name in as_jobs:
            for key in ("port", "ports", "desiredCount"):
                if entry.pop(key, None) is not None:
                    report.note(f"{key} left out: it is a job (jobs take no ports or replicas)")
            result.jobs.append(entry)
            report.becomes = report.becomes or f"job {entry['name']}"
            kinds[name] = "job"
        else:
            result.services.append(entry)
            report.becomes = f"service {entry['name']}"
            kinds[name] = "service"
    return kinds


def _init_container(entry: dict[str, Any], report: Report) -> dict[str, Any]:
    """A one-shot service's entry as an init container: what an init container takes; the rest noted."""
    report.withdraw(NO_SIZE)
    dropped = sorted(k for k in entry if k not in _INIT_KEYS and k not in ("arch",))
    if dropped:
        report.note(f"{', '.join(dropped)} left out: an init container serves no port and shares the task's size")
    return {k: v for k, v in entry.items() if k in _INIT_KEYS}


def load(spec: dict[str, Any], base_dir: Path, *, credentials: frozenset[str] = frozenset(),
         partition: str = "aws", namespace: str | None = None,
         explicit_volumes: frozenset[str] = frozenset()) -> ComposeResult:
    """`analyse`, raising ComposeError (every refusal, one line each) when anything is refused."""
    result = analyse(spec, base_dir, credentials=credentials, partition=partition, namespace=namespace,
                     explicit_volumes=explicit_volumes)
    if result.refusals:
        raise ComposeError("\n".join(result.refusals))
    return result


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
