"""`--format markdown`: one document for a pull-request comment (summary, policies, cost, topology).

Built only from the printed report (secrets already `[secret]`, the policies' own view dropped), and
from a baseline report when given: what the pull request creates, changes and deletes, which
violations are new or fixed, what the bill does, and the topology with the changed elements marked.
"""

from __future__ import annotations

from typing import Any

from tools.preview import diff, topology
from tools.preview.diagram import mermaid
from tools.preview.graph import Topology, merge


def text(value: Any) -> str:
    """A value safe in a Markdown table cell or list item (no HTML, no column breaks, one line)."""
    return (str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
            .replace("\r", "").replace("\n", "<br>"))


def money(value: float, sign: bool = False) -> str:
    """`$1.20`, or `+$1.20` / `-$1.20` / `$0.00` for a difference."""
    if sign and round(value, 2) != 0:
        return f"{'+' if value > 0 else '-'}${abs(value):,.2f}"
    return f"${abs(value) if sign else value:,.2f}"


def marked_topology(report: dict[str, Any], baseline: dict[str, Any] | None) -> Topology:
    """The report's topology, changes against the baseline marked."""
    status = diff.resource_diff(report, baseline).status() if baseline else {}
    before = topology.build(baseline) if baseline else None
    return merge(topology.build(report), before, status)


def diagram(report: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    """The Mermaid text of the report's topology, changes against the baseline marked."""
    return mermaid(marked_topology(report, baseline))


def render_markdown(report: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    """The whole document."""
    changes = diff.resource_diff(report, baseline)
    out = [f"### Offline preview of `{text(report['stack'])}` ({text(report['project'])})", ""]
    if baseline is not None:
        out += [f"Against the baseline (`{text(baseline.get('stack'))}`): {diff.summary_line(changes, True)}", ""]
    else:
        out += [diff.summary_line(changes, False), ""]
    out += _policies(report, baseline)
    out += _cost(report.get("cost") or {}, (baseline or {}).get("cost") if baseline else None)
    drawn = marked_topology(report, baseline)
    if drawn.nodes:
        out += ["#### Topology", "", "```mermaid", mermaid(drawn).rstrip(), "```", ""]
    else:
        out += ["#### Topology", "", "Nothing to draw: the diagram shows VPCs, subnets, endpoints, gateways, load "
                "balancers, ECS services, workers and jobs, queues, buckets, file systems, instances, functions "
                "and databases, and this stack has none.", ""]
    if baseline is not None:
        out += ["Marked: **(new)** green, **(changed)** amber, **(removed)** red and dashed; arrows: thick new, "
                "dotted removed.", ""]
    out += _resource_details(changes, baseline is not None)
    notes = report.get("notes") or []
    if notes:
        out += [f"<details><summary>Notes ({len(notes)})</summary>", ""]
        out += [f"- {text(n)}" for n in notes] + ["", "</details>", ""]
    out.append("<sub>`python -m tools.preview --format markdown`: offline, under mocks, no AWS call; "
               "the real `pulumi preview --policy-pack policy` decides.</sub>")
    return "\n".join(out) + "\n"


def _where(v: dict[str, Any], names: dict[str, dict[str, Any]]) -> str:
    urn = v.get("urn")
    if not urn:
        return "the stack"
    resource = names.get(urn)
    if resource is not None:
        return f"{diff.short_type(resource['type'])} `{text(resource['name'])}`"
    return f"`{text(urn.rsplit('::', 1)[-1])}`"


def _policies(report: dict[str, Any], baseline: dict[str, Any] | None) -> list[str]:
    violations = diff.sorted_violations(report.get("violations") or [])
    mandatory = sum(v["level"] == "mandatory" for v in violations)
    names = {r["urn"]: r for r in report["resources"]}
    out = ["#### Policies", ""]
    if not violations:
        out += ["No violations.", ""]
    else:
        out += [f"**{mandatory} mandatory**, {len(violations) - mandatory} advisory"
                + (" (`pulumi preview --policy-pack` fails)." if mandatory else "."), ""]
        new = diff.new_violation_keys(report, baseline)
        head = "| | level | policy | resource | message |" if baseline is not None else \
            "| level | policy | resource | message |"
        out += [head, "|" + "---|" * (head.count("|") - 1)]
        for v in violations:
            level = f"**{v['level']}**" if v["level"] == "mandatory" else v["level"]
            row = f"{level} | `{text(v['policy'])}` | {_where(v, names)} | {text(v.get('message', ''))} |"
            mark = "new" if diff.violation_key(v) in new else ""
            out.append(f"| {mark} | {row}" if baseline is not None else f"| {row}")
        out.append("")
    fixed = diff.fixed_violations(report, baseline)
    if fixed:
        out += [f"Fixed since the baseline ({len(fixed)}):", ""]
        out += [f"- {v['level']} `{text(v['policy'])}` on `{text((v.get('urn') or 'the stack').rsplit('::', 1)[-1])}`"
                for v in fixed] + [""]
    return out


def _cell(item: dict[str, Any] | None) -> str:
    if item is None:
        return "-"
    return f"{money(item['monthly'])} ({item['quantity']:g} {text(item['unit'])})"


def _cost(cost: dict[str, Any], baseline_cost: dict[str, Any] | None) -> list[str]:
    if not cost:
        return []
    out = [f"#### Monthly cost ({text(cost.get('region'))}, {text(cost.get('currency', 'USD'))})", ""]
    if cost.get("unavailable"):
        return out + [text(cost["unavailable"]), ""]
    now = float(cost.get("monthly", 0.0))
    if baseline_cost is None:
        out += [f"**{money(now)}** a month.", "", "| item | quantity | monthly |", "|---|---:|---:|"]
        out += [f"| {text(i['item'])} | {i['quantity']:g} {text(i['unit'])} | {money(i['monthly'])} |"
                for i in cost.get("items", [])]
        out += [f"| **total** | | **{money(now)}** |", ""]
    else:
        before = float(baseline_cost.get("monthly", 0.0))
        out += [f"**{money(now)}** a month, {money(before)} in the baseline: **{money(now - before, sign=True)}**.", ""]
        rows = diff.cost_rows(cost, baseline_cost)
        moved = [r for r in rows if r.status != "same"]
        if moved:
            out += ["| | item | baseline | now | difference |", "|---|---|---:|---:|---:|"]
            out += [f"| {r.status} | {text((r.after or r.before or {}).get('item', r.key))} | {_cell(r.before)} | "
                    f"{_cell(r.after)} | {money(r.delta, sign=True)} |" for r in moved]
            total = money(now - before, sign=True)
            out += [f"| | **total** | **{money(before)}** | **{money(now)}** | **{total}** |", ""]
        else:
            out += ["No item changed.", ""]
        same = [r for r in rows if r.status == "same"]
        if same:
            out += [f"<details><summary>{len(same)} unchanged item(s), "
                    f"{money(sum(r.after['monthly'] for r in same if r.after))}</summary>", ""]
            out += [f"- {text(r.after['item'])}: {_cell(r.after)}" for r in same if r.after] + ["", "</details>", ""]
    out += _assumptions(cost, baseline_cost)
    comparison = cost.get("comparison")
    if comparison:
        out += [f"With {comparison['natGateways']} NAT gateway(s) instead of the interface endpoints: "
                f"{money(comparison['natMonthly'])} vs {money(comparison['endpointsMonthly'])} "
                f"({text(comparison['note'])}).", ""]
    return out


def _assumptions(cost: dict[str, Any], baseline_cost: dict[str, Any] | None) -> list[str]:
    changed = {k: (b, a) for k, b, a in diff.assumption_changes(cost, baseline_cost)}
    out = ["<details><summary>Assumptions" + (f" ({len(changed)} changed)" if changed else "") + "</summary>", ""]
    for key, value in sorted((cost.get("assumptions") or {}).items()):
        shown = "; ".join(map(str, value)) if isinstance(value, list) else value
        line = f"- `{text(key)}`: {text(shown)}"
        if key in changed:
            line += f" (baseline: {text(changed[key][0])})"
        out.append(line)
    unpriced = cost.get("unpriced") or []
    if unpriced:
        out.append(f"- not in the total ({len(unpriced)}): " + "; ".join(
            text(f"{u['type']} {u['name']}: {u['reason']}") for u in unpriced))
    return out + ["", "</details>", ""]


def _resource_details(changes: diff.ResourceDiff, has_baseline: bool) -> list[str]:
    if not has_baseline:
        return []
    rows = [f"- `+` {diff.short_type(r['type'])} `{text(r['name'])}`" for r in changes.created]
    rows += [f"- `~` {diff.short_type(r['type'])} `{text(r['name'])}`: {text(', '.join(keys))}"
             for r, keys in changes.changed]
    rows += [f"- `-` {diff.short_type(r['type'])} `{text(r['name'])}`" for r in changes.deleted]
    if not rows:
        return []
    return [f"<details><summary>Resource changes ({len(rows)})</summary>", "", *rows, "", "</details>", ""]
