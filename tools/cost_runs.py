"""The cost of jobs and workers: scheduled runs (Fargate time and Step Functions transitions) and queue
workers (busy task time and SQS requests), from the report and the stack's settings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from components.context import StackContext
from components.naming import physical_name
from components.state_machine import example_definition, transitions_per_run
from settings.schedules import parse_schedule, runs_per_month
from tools.pricing import UNKNOWN, Item, of_type, on_demand_share, task_definition, task_hour_price

STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
#: SQS requests per message a worker handles (send, receive, delete), and the empty receives of a running
#: task that long-polls 20 s at a time (the sample app's worker mode) per task-hour.
SQS_REQUESTS_PER_MESSAGE = 3
SQS_POLLS_PER_TASK_HOUR = 180


@dataclass(frozen=True)
class JobAssumption:
    """What the stack's settings say of a job that its resources cannot: run length and, when a first preview
    does not know the state machine's definition yet, its capacity."""

    minutes: float = 10.0
    strategy: tuple[dict[str, Any], ...] = ()


_CAPACITY = {"spot": ({"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0},),
             "on-demand": ({"capacityProvider": "FARGATE", "weight": 1, "base": 0},)}


def expected_job_minutes(report: dict[str, Any], config: dict[str, str]) -> dict[str, JobAssumption]:
    """Task definition family -> the job's `expectedMinutes` and capacity, from the stack's settings."""
    out = {}
    for j in setting_list(config, "jobs"):
        mix = j.get("capacityMix") or {}
        strategy = _CAPACITY.get(j.get("capacity", "on-demand")) or (
            {"capacityProvider": "FARGATE", "weight": mix.get("onDemandWeight", 1), "base": mix.get("base", 1)},
            {"capacityProvider": "FARGATE_SPOT", "weight": mix.get("spotWeight", 3), "base": 0})
        out[physical_name(report["project"], report["stack"], j["name"], max_len=255)] = JobAssumption(
            float(j.get("expectedMinutes", 10)), tuple(strategy))
    return out


def setting_list(config: dict[str, str], key: str) -> list[dict[str, Any]]:
    try:
        items = json.loads(config.get(f"private-fargate:{key}", "[]"))
    except ValueError:
        return []
    return [i for i in items if isinstance(i, dict) and "name" in i] if isinstance(items, list) else []


def _deps(report: dict[str, Any], resource: dict[str, Any], prop: str, token: str) -> list[dict[str, Any]]:
    urns = set(resource["propertyDependencies"].get(prop, []))
    return [r for r in of_type(report, token) if r["urn"] in urns]


def _run_task_strategy(definition: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The capacity strategy of a definition's first ecs:runTask state, in the ECS API's camelCase."""
    for state in _all_states(definition):
        if ":states:::ecs:runTask" in str(state.get("Resource", "")):
            given = (state.get("Parameters") or {}).get("CapacityProviderStrategy") or []
            return [{"capacityProvider": s.get("CapacityProvider"), "weight": s.get("Weight", 0),
                     "base": s.get("Base", 0)} for s in given]
    return None


def _all_states(definition: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for state in (definition.get("States") or {}).values():
        out.append(state)
        for branch in state.get("Branches") or []:
            out += _all_states(branch)
    return out


def job_items(report: dict[str, Any], prices: dict[str, Any], hours: float, schedule: dict[str, Any],
               jobs: dict[str, JobAssumption]) -> list[Item]:
    """A schedule's runs: Fargate time, and the state transitions when it starts a state machine."""
    expression = schedule["inputs"].get("scheduleExpression")
    if not isinstance(expression, str):
        return []
    runs = runs_per_month(parse_schedule(expression), hours)
    machines = _deps(report, schedule, "target", STATE_MACHINE)
    definition: dict[str, Any] | None = None
    if machines:
        td = task_definition(report, machines[0], "definition")
        raw = machines[0]["inputs"].get("definition")
        definition = json.loads(raw) if isinstance(raw, str) and raw != UNKNOWN else None
    else:
        td = task_definition(report, schedule, "target")
    if td is None:
        return []
    job = jobs.get(td["inputs"].get("family", ""), JobAssumption())
    strategy = ((_run_task_strategy(definition) if definition else None) or job.strategy if machines else
                ((schedule["inputs"].get("target") or {}).get("ecsParameters") or {}).get("capacityProviderStrategies"))
    price, label = task_hour_price(prices, td, on_demand_share(strategy or [], 1))
    family = td["inputs"].get("family")
    items = [Item(f"job {family}: {runs:.4g} runs x {job.minutes:g} min, {label}", runs * max(job.minutes, 1) / 60,
                  "task-hour", round(price, 6))]
    if machines:
        # A first preview does not know the definition (it names subnet ids): the same shape with placeholders.
        per_run = transitions_per_run(definition or example_definition(StackContext("p", "s", "us-east-1", "0")))
        items.append(Item(f"job {family}: state transitions ({per_run} a successful run)", runs * per_run / 1000,
                          "1000 transitions", prices["stepFunctions"]["perThousandTransitions"]))
    return items


def worker_items(report: dict[str, Any], prices: dict[str, Any], hours: float, workers: set[str],
                  assumptions: dict[str, Any]) -> list[Item]:
    """Each worker: its tasks (at least `min` all month, else the assumed busy time) and its SQS requests."""
    items = []
    messages = float(assumptions.get("workerMessagesPerMonth", 100_000))
    busy = messages * float(assumptions.get("workerSecondsPerMessage", 1)) / 3600
    for svc in of_type(report, "aws:ecs/service:Service"):
        name = svc["inputs"].get("name")
        td = task_definition(report, svc, "taskDefinition")
        if name not in workers or td is None:
            continue
        floor = float(svc["inputs"].get("desiredCount", 0)) * hours
        task_hours = max(floor, busy)
        strategy = svc["inputs"].get("capacityProviderStrategies") or []
        price, label = task_hour_price(prices, td, on_demand_share(strategy, 1))
        seconds = float(assumptions.get("workerSecondsPerMessage", 1))
        items.append(Item(f"worker {name}: {messages:g} messages x {seconds:g} s, {label}", task_hours, "task-hour",
                          round(price, 6)))
        requests = messages * SQS_REQUESTS_PER_MESSAGE + task_hours * SQS_POLLS_PER_TASK_HOUR
        items.append(Item(f"worker {name}: SQS requests", requests / 1e6, "million requests",
                          prices["sqs"]["perMillionRequests"]))
    return items
