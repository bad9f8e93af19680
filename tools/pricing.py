"""What the cost estimate and its parts share: the price file, one line of the estimate, a task-hour's price."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRICES = json.loads((Path(__file__).resolve().parent / "data" / "prices.json").read_text())
UNKNOWN = "<unknown>"


def known_regions() -> list[str]:
    """Regions the price file covers."""
    return sorted(PRICES["regions"])


@dataclass
class Item:
    """One line of the estimate."""

    item: str
    quantity: float
    unit: str
    unit_price: float

    def as_dict(self) -> dict[str, Any]:
        """The `cost.items[]` entry."""
        return {"item": self.item, "quantity": round(self.quantity, 4), "unit": self.unit,
                "unitPrice": self.unit_price, "monthly": round(self.quantity * self.unit_price, 2)}


def of_type(report: dict[str, Any], token: str) -> list[dict[str, Any]]:
    return [r for r in report["resources"] if r["type"] == token]


def task_definition(report: dict[str, Any], resource: dict[str, Any], prop: str) -> dict[str, Any] | None:
    urns = set(resource["propertyDependencies"].get(prop, []))
    arn = resource["inputs"].get(prop) if prop == "taskDefinition" else None
    for td in of_type(report, "aws:ecs/taskDefinition:TaskDefinition"):
        if td["urn"] in urns or (arn and arn != UNKNOWN and td["outputs"].get("arn") == arn):
            return td
    return None


def on_demand_share(strategy: list[dict[str, Any]], tasks: float) -> float:
    """The fraction of `tasks` that run on FARGATE (the rest on FARGATE_SPOT), as ECS places them."""
    if not strategy:
        return 1.0
    tasks = max(tasks, 0.0)
    counts: Counter[str] = Counter()
    placed = 0.0
    for s in strategy:
        take = min(float(s.get("base") or 0), tasks - placed)
        counts[s["capacityProvider"]] += take
        placed += take
    weights = sum(float(s.get("weight") or 0) for s in strategy)
    for s in strategy:
        if weights:
            counts[s["capacityProvider"]] += (tasks - placed) * float(s.get("weight") or 0) / weights
    total = sum(counts.values())
    return counts["FARGATE"] / total if total else 1.0


def task_hour_price(prices: dict[str, Any], td: dict[str, Any], on_demand: float) -> tuple[float, str]:
    """Price of one task-hour of a task definition, blended over on-demand and spot; and a size label."""
    inputs = td["inputs"]
    arch = (inputs.get("runtimePlatform") or {}).get("cpuArchitecture", "X86_64")
    rate = prices["fargate"][arch if arch in prices["fargate"] else "X86_64"]
    vcpu, gb = int(inputs.get("cpu", 256)) / 1024, int(inputs.get("memory", 512)) / 1024
    full = vcpu * rate["vcpuHour"] + gb * rate["gbHour"]
    spot = full * (1 - prices["fargate"]["spotDiscount"])
    mix = "on-demand" if on_demand >= 1 else "spot" if on_demand <= 0 else f"{on_demand:.0%} on-demand"
    return full * on_demand + spot * (1 - on_demand), f"{vcpu:g} vCPU / {gb:g} GB {arch}, {mix}"
