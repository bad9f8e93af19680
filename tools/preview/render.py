"""Print a preview report the way `pulumi preview` does: a resource tree, outputs, a summary."""

from __future__ import annotations

import json
from typing import Any, TextIO

UNKNOWN_TEXT = "<unknown>"


def render(report: dict[str, Any], out: TextIO) -> None:
    """Write the human-readable form of a report (the `--json` document) to `out`."""
    mode = report["mode"]
    title = "Previewing update" if mode == "preview" else "Updating (simulated)"
    out.write(f"{title} ({report['stack']}), offline under mocks, no AWS call made:\n\n")
    rows = _tree_rows(report["resources"])
    width = max([len(t) for t, _, _ in rows] + [20]) + 2
    out.write(f"     {'Type'.ljust(width)}Name\n")
    for text, name, flags in rows:
        out.write(f" +   {text.ljust(width)}{name}{flags}\n")
    out.write("\nOutputs:\n")
    for key, value in report["outputs"].items():
        out.write(f"    {key}: {_short(value)}\n")
    created = sum(1 for r in report["resources"] if r["type"] != "pulumi:pulumi:Stack")
    out.write(f"\nResources:\n    + {created} to create\n")
    compose = [n for n in report.get("notes", []) if n.startswith(COMPOSE_SERVICE)]
    others = [n for n in report.get("notes", []) if not n.startswith(COMPOSE_SERVICE)]
    if compose:
        _render_compose(compose, out)
    if others:
        out.write("\nNotes:\n")
        for note in others:
            out.write(f"    - {note}\n")
    _render_violations(report.get("violations", []), out)
    _render_cost(report.get("cost") or {}, out)


#: How the compose importer starts each line about one compose service (settings/compose/context.py).
COMPOSE_SERVICE = "compose: services."


def compose_services(notes: list[str]) -> list[dict[str, Any]]:
    """The compose importer's report per compose service: what it became and what was noted about it."""
    out: dict[str, dict[str, Any]] = {}
    for note in notes:
        if not note.startswith(COMPOSE_SERVICE):
            continue
        name, _, text = note.removeprefix(COMPOSE_SERVICE).partition(": ")
        if name not in out:
            out[name] = {"service": name, "becomes": text, "notes": []}
        else:
            out[name]["notes"].append(text)
    return list(out.values())


def _render_compose(notes: list[str], out: TextIO) -> None:
    out.write("\nCompose services (what each became, and what was left out or changed):\n")
    for entry in compose_services(notes):
        out.write(f"    services.{entry['service']}: {entry['becomes']}\n")
        for text in entry["notes"]:
            out.write(f"        - {text}\n")


def _tree_rows(resources: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    children: dict[str | None, list[dict[str, Any]]] = {}
    urns = {r["urn"] for r in resources}
    for res in resources:
        parent = res["parent"] if res["parent"] in urns else None
        children.setdefault(parent, []).append(res)
    rows: list[tuple[str, str, str]] = []

    def walk(parent: str | None, prefix: str) -> None:
        items = children.get(parent, [])
        for i, res in enumerate(items):
            last = i == len(items) - 1
            branch = "" if parent is None else ("└─ " if last else "├─ ")
            flags = "  [protected]" if res.get("protect") else ""
            flags += "  [retain on delete]" if res.get("retainOnDelete") else ""
            rows.append((prefix + branch + res["type"], res["name"], flags))
            walk(res["urn"], prefix + ("" if parent is None else ("   " if last else "│  ")))

    walk(None, "")
    return rows


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else (
        "output<unknown>" if value == UNKNOWN_TEXT else json.dumps(value))
    return text if len(text) <= 160 else text[:157] + "..."


def _render_violations(violations: list[dict[str, Any]], out: TextIO) -> None:
    out.write("\nPolicies:\n")
    if not violations:
        out.write("    no violations\n")
        return
    for v in violations:
        where = f"\n        on {v['urn']}" if v.get("urn") else ""
        out.write(f"    [{v['level']}] {v['policy']}: {v['message']}{where}\n")


def _render_cost(cost: dict[str, Any], out: TextIO) -> None:
    if not cost:
        return
    out.write(f"\nMonthly cost estimate ({cost.get('region')}, {cost.get('currency', 'USD')}):\n")
    if cost.get("unavailable"):
        out.write(f"    {cost['unavailable']}\n")
        return
    for item in cost.get("items", []):
        label = item["item"]
        if len(label) > 72:  # the whole label on a line of its own, the figures under it
            out.write(f"    {label}\n")
            label = ""
        out.write(f"    {label:<72} {item['quantity']:>10.6g} {item['unit']:<11} ${item['monthly']:>9.2f}\n")
    out.write(f"    {'total':<95} ${cost.get('monthly', 0):>9.2f}\n")
    comparison = cost.get("comparison")
    if comparison:
        out.write(f"\n    with {comparison['natGateways']} NAT gateway(s) instead of the interface endpoints, at "
                  f"{comparison['dataGbPerMonth']:g} GB/month: ${comparison['natMonthly']:.2f} vs "
                  f"${comparison['endpointsMonthly']:.2f}; {comparison['note']}\n")
        if "natTotal" in comparison:
            nat, endpoints, rest = comparison["natTotal"], comparison["endpointsTotal"], comparison["restMonthly"]
            out.write(f"    the whole stack: ${nat:.2f} with NAT vs ${endpoints:.2f} with the endpoints "
                      f"(${rest:.2f} of it the same in both)\n")
