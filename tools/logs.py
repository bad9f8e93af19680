"""`python -m tools.logs WORKLOAD [--follow] [--since 1h] [--task ID] [--container NAME]`: a workload's logs.

All the log streams of the workload's log group (the app container, sidecars, the Service Connect
proxy), merged in time order, each line prefixed with its task id and container. Streams are
named `<prefix>/<container>/<task-id>` by the awslogs driver. `--follow` keeps polling until
Ctrl-C (exit 130, no traceback). Exit 0, or 2 for bad arguments or an AWS error.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tools.aws import EXIT_OK, Stack, ToolError, add_source_args, run_with_stack

_SINCE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: FilterLogEvents takes at most 100 stream names at a time.
_NAMES_PER_CALL = 100


def parse_since(value: str, now: float | None = None) -> int:
    """`30s`, `15m`, `1h`, `2d` or an ISO 8601 time, as epoch milliseconds."""
    now = time.time() if now is None else now
    m = _SINCE.match(value.strip())
    if m:
        return int((now - int(m.group(1)) * _UNITS[m.group(2)]) * 1000)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ToolError(f"--since {value!r}: expected 30s, 15m, 1h, 2d or an ISO time such as "
                        "2026-11-28T03:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Stream:
    """A log stream and the task and container it belongs to."""

    name: str
    container: str
    task: str

    @classmethod
    def parse(cls, name: str) -> Stream:
        parts = name.split("/")
        if len(parts) >= 3:
            return cls(name, parts[-2], parts[-1])
        return cls(name, parts[0], "-")


def prefix(event: dict[str, Any], width: int = 0) -> str:
    """`<task-id 8> <container>` for one event."""
    stream = Stream.parse(event.get("logStreamName", ""))
    return f"{stream.task[:8]} {stream.container}".ljust(width)


class Reader:
    """Reads a log group's events, merged in time order; `sleep` and `now` are seams for tests."""

    def __init__(self, logs: Any, group: str, task: str | None = None, container: str | None = None,
                 sleep: Callable[[float], None] = time.sleep, poll: float = 2.0):
        self.logs = logs
        self.group = group
        self.task = task
        self.container = container
        self.sleep = sleep
        self.poll = poll
        self.seen: set[str] = set()

    def streams(self, since: int) -> list[str] | None:
        """The stream names that match --task/--container (None: no filter, read the whole group)."""
        if not self.task and not self.container:
            return None
        names = []
        pages = self.logs.get_paginator("describe_log_streams").paginate(
            logGroupName=self.group, orderBy="LastEventTime", descending=True)
        for page in pages:
            for s in page.get("logStreams", []):
                if s.get("lastEventTimestamp", s.get("creationTime", 0)) < since:
                    return names  # ordered by last event: the rest are older
                stream = Stream.parse(s["logStreamName"])
                if self.task and not stream.task.startswith(self.task):
                    continue
                if self.container and stream.container != self.container:
                    continue
                names.append(s["logStreamName"])
        return names

    def events(self, since: int) -> list[dict[str, Any]]:
        """New events since `since` (ms), oldest first; an event already returned is not returned again."""
        names = self.streams(since)
        if names == []:
            return []
        found: list[dict[str, Any]] = []
        chunks = [None] if names is None else [names[i:i + _NAMES_PER_CALL]
                                                for i in range(0, len(names), _NAMES_PER_CALL)]
        for chunk in chunks:
            kwargs: dict[str, Any] = {"logGroupName": self.group, "startTime": since}
            if chunk is not None:
                kwargs["logStreamNames"] = chunk
            for page in self.logs.get_paginator("filter_log_events").paginate(**kwargs):
                found += page.get("events", [])
        fresh = [e for e in found if e.get("eventId") not in self.seen]
        self.seen.update(e.get("eventId") for e in fresh)
        return sorted(fresh, key=lambda e: (e.get("timestamp", 0), e.get("ingestionTime", 0)))

    def follow(self, since: int) -> Iterator[dict[str, Any]]:
        """Events as they arrive, forever (until Ctrl-C)."""
        start = since
        while True:
            batch = self.events(start)
            yield from batch
            if batch:
                # Events can arrive late and out of order: re-read the last few seconds (duplicates are dropped).
                start = max(start, batch[-1]["timestamp"] - 5000)
            self.sleep(self.poll)


def line(event: dict[str, Any], with_time: bool = True) -> str:
    """One event as printed: time, task and container, message."""
    when = datetime.fromtimestamp(event.get("timestamp", 0) / 1000, UTC).strftime("%H:%M:%S")
    text = event.get("message", "").rstrip("\n")
    return (f"{when} " if with_time else "") + f"{prefix(event, 22)} {text}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.logs", description=__doc__.splitlines()[0])
    p.add_argument("workload", help="a job or service of the stack")
    add_source_args(p)
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events until Ctrl-C")
    p.add_argument("--since", default="1h", help="start this long ago (30s, 15m, 1h, 2d) or at an ISO time [1h]")
    p.add_argument("--task", help="only this task (its id, or the start of it)")
    p.add_argument("--container", help="only this container (e.g. the workload's name, or a sidecar's)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None, session: Any = None, out: Callable[[str], None] = print,
         sleep: Callable[[float], None] = time.sleep) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)

    def body(stack: Stack) -> int:
        since = parse_since(args.since)
        (workload,) = stack.chosen(args.workload)
        reader = Reader(stack.client("logs"), workload.entry["logGroupName"], args.task, args.container, sleep=sleep)
        events = reader.follow(since) if args.follow else iter(reader.events(since))
        for event in events:
            out(line(event))
        return EXIT_OK

    return run_with_stack(args, session, body)


if __name__ == "__main__":
    sys.exit(main())
