"""Deterministic physical names, so ARNs and policy documents are known at preview.

AWS caps many names (ALB and target group 32, IAM role 64, S3 bucket 63); a name over its cap is
cut and given a stable hash suffix, so it stays unique and never changes between runs. Names of
different kinds never meet: a kind is a suffix a workload name cannot have (`KIND`, or a word after
the last '-' that no two kinds share), and names a workload cannot avoid (`exec`) are reserved.
"""

from __future__ import annotations

import hashlib
import re


def physical_name(*parts: str, max_len: int = 64, lower: bool = True) -> str:
    """Join `parts` with '-', drop characters AWS rejects, and fit `max_len` with a stable hash suffix."""
    name = "-".join(p for p in parts if p)
    name = re.sub(r"[^A-Za-z0-9-]+", "-", name.lower() if lower else name).strip("-")
    if len(name) <= max_len:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:7]
    return f"{name[: max_len - 8].rstrip('-')}-{digest}"


#: Separates a name's kind from the workload it belongs to. Workload names are `[a-z0-9-]`, so a name
#: with a kind after this character can never equal another workload's name, whatever it is called.
KIND = "."


def scoped_group_name(prefix: str, workload: str | None, kind: str) -> str:
    """A security group of a kind other than a workload's own: `<prefix>-<workload>.<kind>` or `<prefix>.<kind>`."""
    return f"{prefix}-{workload}{KIND}{kind}" if workload else f"{prefix}{KIND}{kind}"


def scoped_queue_name(prefix: str, workload: str, kind: str) -> str:
    """An SQS queue of a kind (`queue`, `dlq`) for a workload: `<prefix>-<workload>_<kind>` (SQS takes '_', not '.').

    physical_name drops '_' from the parts, so only the kind separator has one: a job's dead-letter
    queue (`<prefix>-<job>-dlq`, from before) and these can never be the same name.
    """
    return f"{physical_name(prefix, workload, max_len=80 - len(kind) - 1)}_{kind}"


def scoped_alarm_name(prefix: str, workload: str, kind: str) -> str:
    """A CloudWatch alarm of a kind for a workload: `<prefix>-<workload>.<kind>` (never another workload's name)."""
    return f"{physical_name(prefix, workload, max_len=255 - len(kind) - 1)}{KIND}{kind}"


def state_machine_group(job: str) -> str:
    """`state-machine:<job>`: the ECS task group of runs a job's state machine starts (RunTask's `Group`)."""
    return f"state-machine:{job}"


def output_bucket_name(project: str, stack: str, account: str, region: str) -> str:
    """The output bucket: account and region in the name make it globally unique and predictable."""
    return physical_name(project, stack, "output", account, region, max_len=63)
