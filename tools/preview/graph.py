"""The topology's data model, and the index of a report's resources it is built from.

A topology is groups (the VPC, its zones, the endpoints, the cluster), nodes in them and edges between
nodes. Ids are made from the resources' names, so the topology of a baseline and of the report give
the same id to the same thing, which is how changed elements are marked (`merge`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tools.preview.diff import resource_key

UNKNOWN = "<unknown>"


@dataclass
class Group:
    """A box: the VPC, a zone, the interface endpoints, the cluster."""

    id: str
    label: str
    parent: str | None = None
    kind: str = ""


@dataclass
class Node:
    """One thing of the stack drawn: `lines[0]` is its title, the rest its details."""

    id: str
    kind: str
    lines: list[str]
    group: str | None = None
    keys: tuple[str, ...] = ()  # resource keys (diff.resource_key) the node stands for; the first is its own
    status: str = ""  # "", "added", "changed" or "removed"


@dataclass
class Edge:
    """A relation drawn as an arrow."""

    src: str
    dst: str
    label: str = ""
    status: str = ""


@dataclass
class Topology:
    """What `topology.build` makes of a report."""

    groups: dict[str, Group] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def group(self, gid: str, label: str, parent: str | None = None, kind: str = "") -> str:
        """Add a group once; its id."""
        self.groups.setdefault(gid, Group(gid, label, parent, kind))
        return gid

    def add(self, node: Node) -> Node:
        """Add a node (a second node with the same id is dropped) and return the one kept."""
        return self.nodes.setdefault(node.id, node)

    def edge(self, src: str, dst: str, label: str = "") -> None:
        """Add an edge once."""
        if src in self.nodes and dst in self.nodes and not any(
                (e.src, e.dst, e.label) == (src, dst, label) for e in self.edges):
            self.edges.append(Edge(src, dst, label))

    def edge_keys(self) -> set[tuple[str, str, str]]:
        """(src, dst, label) of every edge."""
        return {(e.src, e.dst, e.label) for e in self.edges}


def slug(text: str) -> str:
    """An id-safe form of a name (letters, digits, underscores)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "x"


def node_id(kind: str, resource: dict[str, Any]) -> str:
    """A stable id for the node of a resource: its kind and name, with a short hash of its key (names repeat
    across types and parents)."""
    digest = hashlib.sha256(resource_key(resource["urn"]).encode()).hexdigest()[:6]
    return f"{kind}_{slug(resource['name'])}_{digest}"


def known(value: Any) -> bool:
    """A value the report knows (not `<unknown>`, not a secret, not empty)."""
    return value not in (None, "", UNKNOWN, "[secret]")


def tag_name(resource: dict[str, Any]) -> str:
    """The resource's `Name` tag, its `name` input, or its Pulumi name."""
    inputs = resource["inputs"]
    tags = inputs.get("tags") if isinstance(inputs.get("tags"), dict) else {}
    for value in (tags.get("Name"), inputs.get("name")):
        if isinstance(value, str) and known(value):
            return value
    return resource["name"]


def policy_statements(document: Any) -> list[dict[str, Any]]:
    """The statements of a policy document given as JSON text or a dict ([] when unreadable)."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    return [s for s in statements if isinstance(s, dict)]


def as_list(value: Any) -> list[Any]:
    """A value that may be one item or a list, as a list."""
    return value if isinstance(value, list) else [] if value is None else [value]


class Index:
    """The report's resources by URN, type, id and ARN, and the references between them."""

    def __init__(self, report: dict[str, Any]) -> None:
        self.resources: list[dict[str, Any]] = report["resources"]
        self.by_urn = {r["urn"]: r for r in self.resources}
        self.types: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.by_value: dict[str, str] = {}
        for r in self.resources:
            self.types[r["type"]].append(r)
            for value in (r.get("id"), (r.get("outputs") or {}).get("arn"), (r.get("outputs") or {}).get("name")):
                if isinstance(value, str) and known(value):
                    self.by_value.setdefault(value, r["urn"])

    def of(self, *types: str) -> list[dict[str, Any]]:
        """Resources of these types, in the report's order."""
        return [r for t in types for r in self.types.get(t, [])]

    def refs(self, resource: dict[str, Any], prop: str, *types: str) -> list[dict[str, Any]]:
        """Resources of `types` that `resource`'s property `prop` refers to: by dependency, or by id/ARN."""
        urns = list(resource.get("propertyDependencies", {}).get(prop, []))
        urns += [self.by_value[v] for v in _strings(resource["inputs"].get(prop)) if v in self.by_value]
        out, seen = [], set()
        for urn in urns:
            r = self.by_urn.get(urn)
            if r is not None and r["type"] in types and urn not in seen:
                seen.add(urn)
                out.append(r)
        return out

    def children(self, parent: dict[str, Any], *types: str) -> list[dict[str, Any]]:
        """Resources of `types` whose Pulumi parent is `parent`."""
        return [r for r in self.of(*types) if r.get("parent") == parent["urn"]]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def merge(now: Topology, before: Topology | None, status: dict[str, str]) -> Topology:
    """Mark what changed: nodes by the status of their resources (`diff.ResourceDiff.status`), and the
    baseline's nodes and edges that are gone, drawn as removed."""
    for node in now.nodes.values():
        marks = [status.get(k) for k in node.keys]
        if marks and marks[0] == "added":
            node.status = "added"
        elif any(m in ("added", "changed", "removed") for m in marks):
            node.status = "changed"
    if before is None:
        return now
    for node in before.nodes.values():
        if node.id not in now.nodes:
            group = node.group
            while group is not None and group not in now.groups and group in before.groups:  # its box is gone too
                old = before.groups[group]
                now.groups[group] = Group(old.id, old.label, old.parent, old.kind)
                group = old.parent
            now.nodes[node.id] = Node(node.id, node.kind, node.lines, node.group, node.keys, "removed")
    kept = now.edge_keys()
    for e in before.edges:
        if (e.src, e.dst, e.label) not in kept and e.src in now.nodes and e.dst in now.nodes:
            now.edges.append(Edge(e.src, e.dst, e.label, "removed"))
    old_edges = before.edge_keys()
    for e in now.edges:
        if not e.status and (e.src, e.dst, e.label) not in old_edges:
            e.status = "added"
    return now
