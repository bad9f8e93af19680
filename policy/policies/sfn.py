"""Step Functions policies: state machines log their executions; and what their ECS tasks look like.

`run_task_launches` reads the `ecs:runTask` states of a state machine definition (also inside
Parallel branches and Map iterators), so the network policies (policy/policies/topology.py) judge a
state machine's tasks like a service's or a schedule's: subnets, public IP, task definition and the
endpoints it needs.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs

from ._util import UNKNOWN, load_json, plain
from .framework import hint_args, resource_policy

STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
LOG_LEVELS = ("ALL", "ERROR", "FATAL")


def _states(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every state of a definition, nested ones (Parallel branches, Map iterators) included."""
    out: list[dict[str, Any]] = []
    for state in (doc.get("States") or {}).values():
        if not isinstance(state, dict):
            continue
        out.append(state)
        for branch in [*(state.get("Branches") or []), state.get("Iterator"), state.get("ItemProcessor")]:
            if isinstance(branch, dict):
                out += _states(branch)
    return out


def run_task_launches(definition: Any) -> list[dict[str, Any]] | Any:
    """The Parameters of each `ecs:runTask` Task state, or UNKNOWN when the definition is unknown (first preview)."""
    doc = load_json(definition)
    if doc is UNKNOWN:
        return UNKNOWN
    if not isinstance(doc, dict):
        return []
    return [s.get("Parameters") or s.get("Arguments") or {} for s in _states(doc)
            if s.get("Type") == "Task" and ":states:::ecs:runTask" in str(s.get("Resource", ""))]


def log_destination_group(props: dict[str, Any]) -> str | None:
    """The log group a state machine logs its executions to (`arn:...:log-group:<name>:*`), if any."""
    destination = (props.get("loggingConfiguration") or {}).get("logDestination")
    return destination.split(":log-group:", 1)[-1].removesuffix(":*") if isinstance(destination, str) else None


def _logging(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != STATE_MACHINE:
        return
    config = plain(args.props).get("loggingConfiguration") or {}
    if config is UNKNOWN:
        return
    if config.get("level") not in LOG_LEVELS or not config.get("logDestination"):
        report_violation(f"{args.name} does not log its executions (loggingConfiguration level {config.get('level')!r}"
                         f"): a failed run leaves only the 90-day execution history. Set a log group and level ALL, "
                         f"ERROR or FATAL{hint_args(args)}.")


sfn_logging = resource_policy(
    "sfn-logging", "State machines log their executions to CloudWatch Logs (level ALL, ERROR or FATAL).",
    EnforcementLevel.ADVISORY, _logging)

POLICIES = [sfn_logging]
