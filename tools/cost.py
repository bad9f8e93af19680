"""Seam for the monthly cost estimate of a preview report (filled by its own issue)."""

from __future__ import annotations

from typing import Any


def estimate(report: dict[str, Any], region: str | None, assumptions: dict[str, Any]) -> dict[str, Any]:
    """The `cost` object of the preview JSON; empty until prices are added."""
    return {"region": region, "currency": "USD", "monthly": 0.0, "items": [], "assumptions": assumptions}
