"""When an EventBridge Scheduler expression fires next: `cron(...)`, `rate(...)`, `at(...)`.

Scheduler has no API for the next invocation, so `tools.status` computes it. AWS cron has six
fields (minutes hours day-of-month month day-of-week year), `?` in one day field and days of the
week numbered 1 (SUN) to 7; cronsim evaluates the classic five fields with the same L, LW, nL and
n#k forms, so the expression is translated and the year field applied on top. `nW` (nearest
weekday) has no cronsim form: no next run is computed for it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}
#: How many cron matches to skip looking for an allowed year before giving up.
_YEAR_SEARCH = 5000


def _dow(term: str) -> str:
    """One AWS day-of-week term (1 = SUN) as cronsim's (0 = SUN)."""
    def shift(value: str) -> str:
        return str(int(value) - 1) if value.isdigit() else value

    if term in ("*", "?"):
        return "*"
    if "#" in term:
        day, nth = term.split("#", 1)
        return f"{shift(day)}#{nth}"
    if term.endswith("L") and term != "L":
        return f"{shift(term[:-1])}L"
    base, _, step = term.partition("/")
    base = "-".join(shift(v) for v in base.split("-"))
    return f"{base}/{step}" if step else base


def _years(field: str) -> set[int] | None:
    """The years a year field allows (None: any)."""
    if field in ("*", "?"):
        return None
    years: set[int] = set()
    for term in field.split(","):
        base, _, step = term.partition("/")
        low, _, high = base.partition("-")
        start = 1970 if low == "*" else int(low)
        end = 2199 if low == "*" else int(high or low)
        years.update(range(start, end + 1, int(step or 1)))
    return years


def cron_next(fields: list[str], after: datetime) -> datetime | None:
    """The first time after `after` (aware, in the schedule's zone) the six AWS cron fields match."""
    from cronsim import CronSim, CronSimError

    minutes, hours, dom, month, dow, year = fields
    if "W" in dom and dom != "LW":
        return None
    expr = " ".join([minutes, hours, "*" if dom == "?" else dom, month,
                     ",".join(_dow(t) for t in dow.split(","))])
    allowed = _years(year)
    try:
        matches = CronSim(expr, after.replace(second=0, microsecond=0))
        for _ in range(_YEAR_SEARCH):
            moment = next(matches)
            if allowed is None or moment.year in allowed:
                return moment
            if allowed and moment.year > max(allowed):
                return None
    except (CronSimError, StopIteration):
        return None
    return None


def next_run(expression: str, timezone: str = "UTC", start: datetime | None = None,
             now: datetime | None = None) -> datetime | None:
    """The next invocation after `now` (UTC), or None (past `at`, unsupported form)."""
    now = now or datetime.now(UTC)
    zone = ZoneInfo(timezone or "UTC")
    body = expression.strip()
    if body.startswith("cron(") and body.endswith(")"):
        fields = body[5:-1].split()
        if len(fields) != 6:
            return None
        found = cron_next(fields, now.astimezone(zone))
        return found.astimezone(UTC) if found else None
    if body.startswith("at(") and body.endswith(")"):
        moment = datetime.fromisoformat(body[3:-1]).replace(tzinfo=zone).astimezone(UTC)
        return moment if moment > now else None
    m = _RATE.match(body)
    if m:
        period = timedelta(seconds=int(m.group(1)) * _UNIT[m.group(2).rstrip("s")])
        origin = (start or now).astimezone(UTC)
        if origin > now:
            return origin
        return origin + period * ((now - origin) // period + 1)
    return None
