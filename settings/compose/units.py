"""Compose's units: durations (`1m30s`), byte sizes (`512M`) and the Fargate size a compose limit rounds up to."""

from __future__ import annotations

import re
from typing import Any

from settings.base import FARGATE_MEMORY

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$", re.I)


def fargate_size(cpus: float | None, memory_mib: float | None) -> tuple[int, int]:
    """The smallest valid Fargate (cpu units, memory MiB) at or above the asked limits."""
    want_cpu = (cpus or 0) * 1024
    want_mem = memory_mib or 0
    for cpu in sorted(FARGATE_MEMORY):
        if cpu < want_cpu:
            continue
        for memory in FARGATE_MEMORY[cpu]:
            if memory >= want_mem:
                return cpu, memory
    raise ValueError(f"no Fargate size has {cpus} vCPU and {memory_mib} MiB (the largest: 16 vCPU, 120 GiB)")


def duration_seconds(value: Any) -> int:
    """A compose duration ('30s', '1m30s', '500ms') in whole seconds (at least 1 when not zero)."""
    if isinstance(value, (int, float)):
        return int(value)
    parts = _DURATION.findall(str(value))
    if not parts or "".join(n + u for n, u in parts) != str(value).replace(" ", ""):
        raise ValueError(f"{value!r} is not a duration such as 30s or 1m30s")
    factor = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    seconds = sum(float(n) * factor[u] for n, u in parts)
    return max(int(round(seconds)), 1 if seconds else 0)


def size_mib(value: Any) -> float:
    """A compose byte size ('512M', '1.5g', 1073741824) in MiB."""
    if isinstance(value, (int, float)):
        return value / (1024 * 1024)
    m = _SIZE.match(str(value).strip())
    if not m:
        raise ValueError(f"{value!r} is not a size such as 512M or 1G")
    scale = {"": 1 / (1024 * 1024), "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}[m.group(2).lower()]
    return float(m.group(1)) * scale
