"""EventBridge Scheduler expressions: parse once, so settings and the cost estimate agree.

Scheduler accepts `cron(min hour day-of-month month day-of-week year)`, `rate(n unit)` and
`at(yyyy-mm-ddThh:mm:ss)`. AWS only rejects a bad one at `pulumi up`; we reject it at load time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

_RATE = re.compile(r"^rate\((\d+) ([a-z]+)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_AT = re.compile(r"^at\((.*)\)$")
_AT_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_RATE_UNITS = {"minute": 1, "hour": 60, "day": 1440}
_MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
_DAYS = "SUN MON TUE WED THU FRI SAT".split()

# (name, low, high, extra characters AWS allows in that field, named values). L, W and # forms:
# day-of-month takes L, LW and nW; day-of-week takes L, nL and n#k.
_CRON_FIELDS = (
    ("minutes", 0, 59, "", ()),
    ("hours", 0, 23, "", ()),
    ("day-of-month", 1, 31, "?LW", ()),
    ("month", 1, 12, "", _MONTHS),
    ("day-of-week", 1, 7, "?L#", _DAYS),
    ("year", 1970, 2199, "", ()),
)


@dataclass(frozen=True)
class Schedule:
    """A parsed expression; `kind` is cron, rate or at."""

    kind: str
    expression: str
    rate_minutes: int | None = None
    cron_fields: tuple[str, ...] = ()


def parse_schedule(expression: str) -> Schedule:
    """Parse a Scheduler expression or raise ValueError saying what is allowed."""
    expression = expression.strip()
    if m := _RATE.match(expression):
        return _parse_rate(expression, int(m.group(1)), m.group(2))
    if m := _CRON.match(expression):
        return _parse_cron(expression, m.group(1))
    if m := _AT.match(expression):
        try:
            if not _AT_FORMAT.match(m.group(1)):
                raise ValueError
            datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            raise ValueError("at(...) needs a date and time as yyyy-mm-ddThh:mm:ss") from None
        return Schedule("at", expression)
    raise ValueError(
        "not a Scheduler expression; allowed: cron(min hour day-of-month month day-of-week year), "
        "rate(n minute[s]|hour[s]|day[s]), at(yyyy-mm-ddThh:mm:ss)"
    )


def _parse_rate(expression: str, n: int, unit: str) -> Schedule:
    base = unit[:-1] if unit.endswith("s") else unit
    if base not in _RATE_UNITS:
        raise ValueError(f"rate unit {unit!r} is not allowed; allowed: minute(s), hour(s), day(s)")
    if n < 1:
        raise ValueError("rate(n unit) needs n >= 1")
    expected = base if n == 1 else base + "s"
    if unit != expected:
        raise ValueError(f"write rate({n} {expected}): AWS wants the singular unit for 1, plural above")
    return Schedule("rate", expression, rate_minutes=n * _RATE_UNITS[base])


def _parse_cron(expression: str, body: str) -> Schedule:
    fields = body.split()
    if len(fields) != 6:
        raise ValueError(
            f"cron needs 6 fields (minutes hours day-of-month month day-of-week year), got {len(fields)}"
        )
    for value, (name, low, high, extra, names) in zip(fields, _CRON_FIELDS, strict=True):
        _check_cron_field(name, value, low, high, extra, names)
    dom, dow = fields[2], fields[4]
    if (dom == "?") == (dow == "?"):
        raise ValueError("cron needs '?' in exactly one of day-of-month and day-of-week")
    return Schedule("cron", expression, cron_fields=tuple(fields))


def _check_cron_field(name: str, value: str, low: int, high: int, extra: str, names: tuple) -> None:
    if value == "*" or (value == "?" and "?" in extra):
        return
    allowed = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
    allowed += " with , - * /" + "".join(f" {c}" for c in extra)
    bad = ValueError(f"cron {name} field {value!r} is not valid; allowed: {allowed}")

    def number(token: str) -> int:
        if token.upper() in names:
            return names.index(token.upper()) + low
        if not token.isdigit() or not low <= int(token) <= high:
            raise bad
        return int(token)

    for part in value.split(","):
        base, slash, step = part.partition("/")
        if slash and not (step.isdigit() and int(step) >= 1):
            raise bad
        if base == "*":
            continue
        if not slash and _special(base, extra, number):
            continue
        bounds = base.split("-")
        if len(bounds) > 2 or (len(bounds) == 2 and number(bounds[0]) > number(bounds[1])):
            raise bad
        for token in bounds:
            number(token)


def _special(base: str, extra: str, number: Callable[[str], int]) -> bool:
    """L, LW and nW in day-of-month; nL and n#k in day-of-week. False when `base` is none of them."""
    if "W" in extra and base in ("L", "LW"):
        return True
    if "W" in extra and base.endswith("W") and base[:-1].isdigit():
        number(base[:-1])
        return True
    if "#" in extra and base == "L":
        return True
    if "#" in extra and base.endswith("L") and base[:-1].isdigit():
        number(base[:-1])
        return True
    if "#" in extra and "#" in base:
        day, _, nth = base.partition("#")
        number(day)
        if nth not in ("1", "2", "3", "4", "5"):
            raise ValueError(f"cron day-of-week {base!r}: the week after '#' must be 1 to 5")
        return True
    return False


def runs_per_month(schedule: Schedule, hours_per_month: float = 730) -> float:
    """About how many times a schedule fires in a month (an `at` fires once)."""
    if schedule.kind == "at":
        return 1.0
    if schedule.kind == "rate":
        assert schedule.rate_minutes is not None
        return hours_per_month * 60 / schedule.rate_minutes
    minutes, hours, dom, month, dow, _ = schedule.cron_fields
    days_in_month = hours_per_month / 24
    per_day = _count(minutes, 0, 59) * _count(hours, 0, 23)
    if dom == "?":
        days = days_in_month if dow == "*" else sum(
            1.0 if _monthly(part) else _count(part, 1, 7, _DAYS) * days_in_month / 7 for part in dow.split(","))
    else:
        days = days_in_month if dom == "*" else (1.0 if dom in ("L", "LW") or dom.endswith("W")
                                                 else _count(dom, 1, 31))
    months = 1.0 if month == "*" else _count(month, 1, 12, _MONTHS) / 12
    return per_day * days * months


def _monthly(dow_part: str) -> bool:
    """`6#3` (third Friday) and `6L` (last Friday) fire once a month, not weekly."""
    return "#" in dow_part or (dow_part.endswith("L") and dow_part != "L")


def _count(field: str, low: int, high: int, names: tuple[str, ...] = ()) -> int:
    """How many values a cron field selects (L, W and # forms count as one)."""
    if field in ("*", "?"):
        return high - low + 1
    total = 0
    for part in field.split(","):
        base, _, step = part.partition("/")
        stride = int(step) if step else 1
        if base in ("*", "L"):  # a bare L in day-of-week is the last day of the week: one value
            start, end = (low, high) if base == "*" else (high, high)
        elif "-" in base:
            a, b = base.split("-")
            start, end = _value(a, low, names), _value(b, low, names)
        elif step:
            start, end = _value(base, low, names), high
        else:
            total += 1
            continue
        total += len(range(start, end + 1, stride))
    return total


def _value(token: str, low: int, names: tuple[str, ...]) -> int:
    return names.index(token.upper()) + low if token.upper() in names else int(token.rstrip("LW"))
