"""What a preview report changes against a baseline report: resources, policy verdicts and the monthly cost.

A baseline is an earlier `python -m tools.preview --json` document (the base branch's, say). Resources
are matched by their URN without the stack and project (`type chain::name`), so the same stack under
another name still matches. Cost items are matched by a key made from their label with the counts
taken out (`interface endpoint ecr.api (1 AZ)` and `(3 AZ)` are one item whose quantity changed).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The `formatVersion` of the `--json` document this version writes (README, "Offline preview").
FORMAT_VERSION = 1
#: Versions whose documents this version reads as a baseline.
READABLE_VERSIONS = (1,)
STACK_TYPE = "pulumi:pulumi:Stack"


class BaselineError(ValueError):
    """The baseline cannot be used; the message is the one line to print."""


def load_baseline(path: Path) -> dict[str, Any]:
    """A `--json` report to compare with, refused with one line when it is not one this version reads."""
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as exc:
        raise BaselineError(f"--baseline {path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise BaselineError(f"--baseline {path}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("resources"), list):
        raise BaselineError(f"--baseline {path}: not a `python -m tools.preview --json` report (no resources list)")
    version = doc.get("formatVersion")
    if version is None:
        raise BaselineError(f"--baseline {path}: no formatVersion, so it comes from a tools.preview older than "
                            f"format {FORMAT_VERSION}; make the baseline again with this version (--json)")
    if type(version) is not int or version not in READABLE_VERSIONS:  # `true` is no version (True == 1)
        raise BaselineError(f"--baseline {path}: formatVersion {version!r}; this tools.preview reads "
                            f"{', '.join(map(str, READABLE_VERSIONS))}: make the baseline with the same version")
    _check_entries(path, doc)
    return doc


def _check_entries(path: Path, doc: dict[str, Any]) -> None:
    """Every entry the comparison reads has the keys it reads: one line naming the first that does not."""
    wanted = {"resources": ("urn", "type", "name"), "violations": ("policy", "level", "message"),
              "items": ("item", "quantity", "unit", "monthly")}
    lists = {"resources": doc["resources"], "violations": doc.get("violations") or [],
             "items": (doc.get("cost") or {}).get("items") or []}
    for name, entries in lists.items():
        if not isinstance(entries, list):
            raise BaselineError(f"--baseline {path}: {name} is not a list")
        for i, entry in enumerate(entries):
            missing = [k for k in wanted[name] if not isinstance(entry, dict) or k not in entry]
            if missing:
                raise BaselineError(f"--baseline {path}: {name}[{i}] has no {', '.join(missing)}; make the "
                                    "baseline with `python -m tools.preview --json`")


def check_mode(baseline: dict[str, Any], report: dict[str, Any]) -> None:
    """A baseline from the other mode differs in every computed value: refused rather than a diff of noise."""
    if baseline.get("mode") and baseline["mode"] != report["mode"]:
        raise BaselineError(f"--baseline was made in --mode {baseline['mode']}, this run is --mode {report['mode']}: "
                            "make both in the same mode")


def resource_key(urn: str) -> str:
    """A URN without its stack and project: `urn:pulumi:dev::proj::a$b::name` -> `a$b::name`."""
    parts = urn.split("::", 2)
    return parts[2] if len(parts) == 3 else urn


#: What makes a resource "changed" besides its inputs.
_OPTIONS = ("protect", "retainOnDelete")


@dataclass
class ResourceDiff:
    """Resources to create, change (with the names of what changes) and delete, against a baseline."""

    created: list[dict[str, Any]] = field(default_factory=list)
    changed: list[tuple[dict[str, Any], list[str]]] = field(default_factory=list)
    deleted: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0

    def status(self) -> dict[str, str]:
        """Resource key -> `added`, `changed` or `removed` (unchanged resources are absent)."""
        out = {resource_key(r["urn"]): "added" for r in self.created}
        out.update({resource_key(r["urn"]): "changed" for r, _ in self.changed})
        out.update({resource_key(r["urn"]): "removed" for r in self.deleted})
        return out


def _changed_keys(now: dict[str, Any], before: dict[str, Any]) -> list[str]:
    a, b = now.get("inputs") or {}, before.get("inputs") or {}
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    keys += [f"({o})" for o in _OPTIONS if bool(now.get(o)) != bool(before.get(o))]
    return keys


def resource_diff(report: dict[str, Any], baseline: dict[str, Any] | None) -> ResourceDiff:
    """Compare the resources of two reports (the stack resource itself left out, as in the text summary)."""
    now = {resource_key(r["urn"]): r for r in report["resources"] if r["type"] != STACK_TYPE}
    if baseline is None:
        return ResourceDiff(created=list(now.values()))
    before = {resource_key(r["urn"]): r for r in baseline["resources"] if r["type"] != STACK_TYPE}
    diff = ResourceDiff()
    for key, res in now.items():
        if key not in before:
            diff.created.append(res)
            continue
        keys = _changed_keys(res, before[key])
        if keys:
            diff.changed.append((res, keys))
        else:
            diff.unchanged += 1
    diff.deleted = [r for k, r in before.items() if k not in now]
    return diff


def short_type(token: str) -> str:
    """`aws:ec2/natGateway:NatGateway` -> `NatGateway`; a component's class name likewise."""
    return token.rsplit(":", 1)[-1]


def by_type(resources: list[dict[str, Any]], limit: int = 8) -> str:
    """`2 Route, Eip, NatGateway`: counts by type, most first, then by name; past `limit` types, how many more."""
    counts = sorted(Counter(short_type(r["type"]) for r in resources).items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{n} {t}" if n > 1 else t for t, n in counts[:limit])
    rest = counts[limit:]
    return shown + (f" and {sum(n for _, n in rest)} more of {len(rest)} other types" if rest else "")


def summary_line(diff: ResourceDiff, has_baseline: bool) -> str:
    """The document's one-line summary."""
    if not has_baseline:
        return f"**{len(diff.created)} to create** ({by_type(diff.created)}): the stack as it would be created."
    parts = []
    for label, items in (("to create", diff.created), ("to change", [r for r, _ in diff.changed]),
                         ("to delete", diff.deleted)):
        parts.append(f"**{len(items)} {label}**" + (f" ({by_type(items)})" if items else ""))
    return ", ".join(parts) + f"; {diff.unchanged} unchanged."


# --- policy verdicts ------------------------------------------------------------------------------------------

def violation_key(v: dict[str, Any]) -> tuple[str, str, str]:
    """A violation without its stack: policy, resource key, message."""
    return v["policy"], resource_key(v.get("urn") or ""), v.get("message", "")


def sorted_violations(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mandatory first, then by policy and resource."""
    return sorted(violations, key=lambda v: (v["level"] != "mandatory", v["policy"], v.get("urn") or ""))


def fixed_violations(report: dict[str, Any], baseline: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Violations of the baseline that the report no longer has."""
    if baseline is None:
        return []
    now = {violation_key(v) for v in report.get("violations", [])}
    return sorted_violations([v for v in baseline.get("violations", []) if violation_key(v) not in now])


def new_violation_keys(report: dict[str, Any], baseline: dict[str, Any] | None) -> set[tuple[str, str, str]]:
    """Keys of the report's violations that the baseline did not have (all of them without a baseline)."""
    before = {violation_key(v) for v in (baseline or {}).get("violations", [])}
    return {violation_key(v) for v in report.get("violations", []) if violation_key(v) not in before}


# --- cost -----------------------------------------------------------------------------------------------------

#: `service web: 2 x 0.5 vCPU ...`, `job report: state transitions ...`: the workload names the item.
_NAMED = re.compile(r"^((?:service|job|worker|state machine) [^:]+): (.*)$")
_COUNT = re.compile(r"\s*\(\d+(?: AZs?)?\)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def item_key(label: str) -> str:
    """What identifies a cost item across two estimates: its label less what moves with the stack (counts,
    sizes, capacity); a workload's items by the workload and the first word of what they price."""
    named = _NAMED.match(label)
    if named:
        words = [w for w in named.group(2).replace(",", " ").split() if any(c.isalpha() for c in w)]
        return f"{named.group(1)}: {words[0] if words else ''}".rstrip(": ")
    return _NUMBER.sub("#", _COUNT.sub("", label))


@dataclass
class CostRow:
    """One item of the cost difference; `before`/`after` are the estimate items (None: absent there)."""

    key: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @property
    def status(self) -> str:
        """`added`, `removed`, `changed` or `same`."""
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        same = (self.before["quantity"], self.before["monthly"], self.before["item"]) == (
            self.after["quantity"], self.after["monthly"], self.after["item"])
        return "same" if same else "changed"

    @property
    def delta(self) -> float:
        """Monthly difference, now minus baseline."""
        return round((self.after or {}).get("monthly", 0.0) - (self.before or {}).get("monthly", 0.0), 2)


def _keyed(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key = item_key(item["item"])
        n = 2
        while key in out:  # two items with one key (never in this estimator): keep both apart
            key = f"{item_key(item['item'])} #{n}"
            n += 1
        out[key] = item
    return out


def cost_rows(cost: dict[str, Any], baseline_cost: dict[str, Any] | None) -> list[CostRow]:
    """Every item of either estimate, in the report's order, then the baseline's removed items."""
    now = _keyed(cost.get("items", []))
    before = _keyed((baseline_cost or {}).get("items", []))
    rows = [CostRow(k, before.get(k), item) for k, item in now.items()]
    rows += [CostRow(k, item, None) for k, item in before.items() if k not in now]
    return rows


def assumption_changes(cost: dict[str, Any], baseline_cost: dict[str, Any] | None) -> list[tuple[str, Any, Any]]:
    """(key, baseline value, value now) of every assumption that differs."""
    if not baseline_cost:
        return []
    a, b = cost.get("assumptions") or {}, baseline_cost.get("assumptions") or {}
    return [(k, b.get(k), a.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
