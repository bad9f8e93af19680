"""AWS managed IAM policies, judged by what they grant: a dated snapshot of their documents.

policy/data/aws_managed_policies.json holds, for every AWS managed policy, its default version and
what the IAM rules read in it (wildcard actions, NotAction, iam:PassRole on every role); its
`source`, `taken` date and `refresh` command are in the file (tools/managed_policies.py writes it).
A managed policy absent from the snapshot (newer than it) is reported by `cannot-verify`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .documents import broad_action

DATA = Path(__file__).resolve().parent.parent / "data" / "aws_managed_policies.json"


@dataclass(frozen=True)
class Grant:
    """What an AWS managed policy grants that the rules care about."""

    name: str
    version: str
    broad: tuple[str, ...]   # wildcard actions that reach whole services or write verbs
    not_action: bool
    pass_role_on_all: bool


@functools.lru_cache(maxsize=1)
def snapshot() -> dict[str, Any]:
    """The snapshot file (read once)."""
    return json.loads(DATA.read_text())


def managed_name(arn: Any) -> str | None:
    """The name of an AWS managed policy ARN (arn:aws:iam::aws:policy/[path/]Name), else None."""
    if not isinstance(arn, str) or ":iam::aws:policy/" not in arn:
        return None
    return arn.rsplit("/", 1)[-1]


def grant(name: str) -> Grant | None:
    """What the named AWS managed policy grants, or None when the snapshot does not know it."""
    entry = snapshot()["policies"].get(name)
    if entry is None:
        return None
    broad = tuple(a for a in entry.get("wildcards", []) if broad_action(a))
    return Grant(name, entry["version"], broad, bool(entry.get("notAction")), bool(entry.get("passRoleOnAll")))


def taken() -> str:
    """When the snapshot's documents were read."""
    return str(snapshot()["taken"])
