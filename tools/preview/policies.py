"""Seam for the policy pack: evaluate it on a preview report the way `pulumi preview --policy-pack` does.

Until the pack exists (its own issue) there is nothing to evaluate and no violation to report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_policy_config(project_dir: Path, stack: str, explicit: Path | None) -> dict[str, Any] | None:
    """The CLI-format policy config: `--policy-config FILE`, else `policy/config.<stack>.json` if present."""
    import json

    path = explicit or project_dir / "policy" / f"config.{stack}.json"
    if explicit is None and not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the policy config ({exc})") from None


def evaluate(report: dict[str, Any], policy_config: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Violations as `{policy, level, urn, message}`; none until the policy pack is built."""
    return []
