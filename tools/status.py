"""`python -m tools.status [WORKLOAD] [--json]`: what the stack's services and jobs are doing now.

Services: desired, running and pending tasks, each deployment and its rollout state, the last
events, and the load balancer's target health. Jobs: the last runs (start, duration, exit code,
stop reason) and the next scheduled run. One rich table per kind; `--json` prints one document
for scripts. ECS shows a stopped task for about an hour (ListTasks), so older runs come from the
job's log streams, with their times but no exit code. Exit 0, or 2 for bad arguments or an AWS error.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tools.aws import EXIT_OK, Stack, Workload, add_source_args, run_with_stack
from tools.aws import task_id as id_of
from tools.logs import Stream
from tools.next_run import next_run

RUNS = 5
EVENTS = 3


def iso(value: Any) -> str | None:
    """A timestamp as ISO 8601 in UTC (None stays None)."""
    if value is None:
        return None
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value / 1000, UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds")


def service_status(ecs: Any, elbv2: Any, cluster: str, services: list[Workload]) -> list[dict[str, Any]]:
    """Counts, deployments, events and target health of each service."""
    out = []
    for i in range(0, len(services), 10):  # DescribeServices takes 10 at a time
        batch = services[i:i + 10]
        names = [w.get("serviceName", w.name) for w in batch]
        described = ecs.describe_services(cluster=cluster, services=names).get("services", [])
        found = {s["serviceName"]: s for s in described}
        for w, name in zip(batch, names, strict=True):
            svc = found.get(name)
            if svc is None:
                out.append({"name": w.name, "missing": True})
                continue
            out.append({
                "name": w.name, "status": svc.get("status"), "desired": svc.get("desiredCount", 0),
                "running": svc.get("runningCount", 0), "pending": svc.get("pendingCount", 0),
                "deployments": [{"status": d.get("status"), "rollout": d.get("rolloutState"),
                                 "taskDefinition": str(d.get("taskDefinition", "")).rsplit("/", 1)[-1],
                                 "running": d.get("runningCount", 0), "desired": d.get("desiredCount", 0),
                                 "failed": d.get("failedTasks", 0), "createdAt": iso(d.get("createdAt"))}
                                for d in svc.get("deployments", [])],
                "events": [{"at": iso(e.get("createdAt")), "message": e.get("message", "")}
                           for e in (svc.get("events") or [])[:EVENTS]],
                "targets": targets(elbv2, svc),
            })
    return out


def targets(elbv2: Any, service: dict[str, Any]) -> dict[str, int] | None:
    """Target states behind the service's load balancer (None without one)."""
    groups = [lb["targetGroupArn"] for lb in service.get("loadBalancers") or [] if lb.get("targetGroupArn")]
    if not groups:
        return None
    counts: dict[str, int] = {}
    for arn in groups:
        for t in elbv2.describe_target_health(TargetGroupArn=arn).get("TargetHealthDescriptions", []):
            state = (t.get("TargetHealth") or {}).get("State", "unknown")
            counts[state] = counts.get(state, 0) + 1
    return counts


def _recent_streams(logs: Any, job: Workload) -> list[dict[str, Any]]:
    """The job container's newest log streams, newest first. Ordering by last event takes no name prefix
    (DescribeLogStreams), so the prefix is matched here, page by page, until enough runs are found; ordered by
    name instead, the first page holds whichever task ids sort first, not the latest runs."""
    found: list[dict[str, Any]] = []
    pages = logs.get_paginator("describe_log_streams").paginate(
        logGroupName=job.entry["logGroupName"], orderBy="LastEventTime", descending=True)
    for page in pages:
        found += [s for s in page.get("logStreams", []) if s["logStreamName"].startswith(job.task_id_prefix)]
        if len(found) >= RUNS:
            break
    return found[:RUNS]


def job_runs(ecs: Any, logs: Any, cluster: str, job: Workload) -> list[dict[str, Any]]:
    """The job's last runs: tasks ECS still shows, then older ones from the log streams."""
    family = job.family
    arns: list[str] = []
    for status in ("RUNNING", "STOPPED"):
        arns += ecs.list_tasks(cluster=cluster, family=family, desiredStatus=status).get("taskArns", [])
    arns = list(dict.fromkeys(arns))[:100]
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns).get("tasks", []) if arns else []
    runs = []
    for task in tasks:
        container = next((c for c in task.get("containers", []) if c.get("name") == job.entry["containerName"]), {})
        started, stopped = task.get("startedAt") or task.get("createdAt"), task.get("stoppedAt")
        runs.append({"task": id_of(task["taskArn"]), "status": task.get("lastStatus"), "startedAt": iso(started),
                     "durationSeconds": (stopped - started).total_seconds() if started and stopped else None,
                     "exitCode": container.get("exitCode"),
                     "stopReason": " ".join(filter(None, [task.get("stopCode"), task.get("stoppedReason")])) or None,
                     "source": "ecs"})
    known = {r["task"] for r in runs}
    for s in sorted(_recent_streams(logs, job), key=lambda s: s.get("firstEventTimestamp") or s.get("creationTime", 0),
                    reverse=True):
        task = Stream.parse(s["logStreamName"]).task
        first, last = s.get("firstEventTimestamp"), s.get("lastEventTimestamp")
        if task in known or first is None:
            continue
        runs.append({"task": task, "status": "STOPPED", "startedAt": iso(first),
                     "durationSeconds": (last - first) / 1000 if last else None, "exitCode": None,
                     "stopReason": "older than ECS keeps tasks: times from the logs, no exit code", "source": "logs"})
    # Tasks ECS still shows are the recent ones (it forgets them after about an hour); then the older, by time.
    runs.sort(key=lambda r: (r["source"] == "ecs", r["startedAt"] or ""), reverse=True)
    return runs[:RUNS]


def schedule(scheduler: Any, arn: str | None, now: datetime | None = None) -> dict[str, Any] | None:
    """The job's schedule and its next run (None: on demand only)."""
    if not arn:
        return None
    _, _, rest = arn.partition(":schedule/")
    group, _, name = rest.partition("/")
    found = scheduler.get_schedule(Name=name, GroupName=group or "default")
    expression, zone = found.get("ScheduleExpression", ""), found.get("ScheduleExpressionTimezone") or "UTC"
    state = found.get("State", "ENABLED")
    upcoming = next_run(expression, zone, found.get("StartDate") or found.get("CreationDate"), now) \
        if state == "ENABLED" else None
    return {"expression": expression, "timezone": zone, "state": state, "nextRun": iso(upcoming)}


def collect(session: Any, outputs: dict[str, Any], region: str | None, chosen: list[Workload],
            now: datetime | None = None) -> dict[str, Any]:
    """The whole status document (what `--json` prints)."""
    cluster = outputs["clusterArn"]
    ecs = session.client("ecs", region_name=region)
    services = [w for w in chosen if w.kind != "job"]  # services and workers
    jobs = [w for w in chosen if w.kind == "job"]
    doc: dict[str, Any] = {"cluster": outputs.get("clusterName"), "region": region, "services": [], "jobs": []}
    if services:
        doc["services"] = service_status(ecs, session.client("elbv2", region_name=region), cluster, services)
    if jobs:
        logs, scheduler = session.client("logs", region_name=region), session.client("scheduler", region_name=region)
        doc["jobs"] = [{"name": j.name, "schedule": schedule(scheduler, j.get("scheduleArn"), now),
                        "runs": job_runs(ecs, logs, cluster, j)} for j in jobs]
    return doc


def render(doc: dict[str, Any], out: Callable[[str], None]) -> None:
    """One rich table per kind."""
    from rich.console import Console
    from rich.table import Table

    buffer = io.StringIO()
    console = Console(width=160, file=buffer, color_system=None)
    if doc["services"]:
        table = Table(title=f"services of {doc['cluster']} ({doc['region']})", title_justify="left")
        for column in ("service", "tasks run/want (pend)", "deployments", "targets", "last events"):
            table.add_column(column, overflow="fold")
        for s in doc["services"]:
            if s.get("missing"):
                table.add_row(s["name"], "not found", "", "", "")
                continue
            deployments = "\n".join(f"{d['status']} {d['taskDefinition']} {d['rollout'] or ''} "
                                    f"{d['running']}/{d['desired']}" + (f" {d['failed']} failed" if d["failed"] else "")
                                    for d in s["deployments"])
            targets_text = "-" if s["targets"] is None else \
                ", ".join(f"{n} {k}" for k, n in sorted(s["targets"].items()))
            events = "\n".join(f"{(e['at'] or '')[11:16]} {e['message']}" for e in s["events"]) or "-"
            table.add_row(s["name"], f"{s['running']}/{s['desired']} ({s['pending']})", deployments, targets_text,
                          events)
        console.print(table)
    if doc["jobs"]:
        table = Table(title=f"jobs of {doc['cluster']} ({doc['region']})", title_justify="left")
        for column in ("job", "next run", "started (UTC)", "duration", "exit", "task", "stop reason"):
            table.add_column(column, overflow="fold")
        for j in doc["jobs"]:
            sched = j["schedule"]
            upcoming = "on demand" if sched is None else (sched["nextRun"] or sched["state"].lower())
            rows = j["runs"] or [{"startedAt": None, "durationSeconds": None, "exitCode": None, "task": "",
                                  "stopReason": "no run found", "status": ""}]
            for i, r in enumerate(rows):
                duration = "-" if r["durationSeconds"] is None else f"{r['durationSeconds']:.0f}s"
                exit_code = r["status"].lower() if r["status"] == "RUNNING" else \
                    ("-" if r["exitCode"] is None else str(r["exitCode"]))
                table.add_row(j["name"] if i == 0 else "", upcoming if i == 0 else "",
                              (r["startedAt"] or "-").replace("+00:00", ""), duration, exit_code, r["task"][:8],
                              r["stopReason"] or "")
        console.print(table)
    for text in buffer.getvalue().rstrip("\n").splitlines():
        out(text.rstrip())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.status", description=__doc__.splitlines()[0])
    p.add_argument("workload", nargs="?", help="one job or service [all of them]")
    add_source_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    return p.parse_args(argv)


def main(argv: list[str] | None = None, session: Any = None, out: Callable[[str], None] = print,
         now: datetime | None = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)

    def body(stack: Stack) -> int:
        doc = collect(stack.session, stack.outputs, stack.region, stack.chosen(args.workload), now)
        if args.json:
            out(json.dumps(doc, indent=2))
        else:
            render(doc, out)
        return EXIT_OK

    return run_with_stack(args, session, body)


if __name__ == "__main__":
    sys.exit(main())
