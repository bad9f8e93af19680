"""The resource graph a stack policy reads: resources by type, URN and id, and what refers to what.

Stack policies follow the graph: property dependencies and parents when ids are unknown (the first
preview of a new stack), ids when known, so both give the same verdict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pulumi_policy import PolicyResource

from ._util import contains_unknown, plain, strings_in


@dataclass
class Node:
    """One resource of the stack, with plain properties and its graph edges."""

    resource: PolicyResource
    type: str
    urn: str
    name: str
    props: dict[str, Any]
    deps: dict[str, list[str]] = field(default_factory=dict)
    parent: str | None = None

    @property
    def id(self) -> str | None:
        """The resource's id when the engine knows it."""
        value = self.props.get("id")
        return value if isinstance(value, str) and value else None

    @cached_property
    def strings(self) -> frozenset[str]:
        """Every string in the resource's properties (ids it refers to among them)."""
        return frozenset(strings_in(self.props))

    @cached_property
    def dep_urns(self) -> frozenset[str]:
        """Every resource any property depends on."""
        return frozenset(u for urns in self.deps.values() for u in urns)


class Graph:
    """The stack's resources, indexed by type, URN and id."""

    def __init__(self, resources: Iterable[PolicyResource]):
        self.nodes: list[Node] = []
        for res in resources:
            deps = {k: [d.urn for d in v] for k, v in (res.property_dependencies or {}).items()}
            parent = res.parent.urn if res.parent is not None else (res.opts.parent if res.opts else None)
            self.nodes.append(Node(res, res.resource_type, res.urn, res.name, plain(res.props), deps, parent))
        self.by_urn = {n.urn: n for n in self.nodes}
        self.by_id = {n.id: n for n in self.nodes if n.id}
        self._types: dict[str, list[Node]] = {}
        for n in self.nodes:
            self._types.setdefault(n.type, []).append(n)

    def of_type(self, *types: str) -> list[Node]:
        """Resources of any of these type tokens, in stack order."""
        if len(types) == 1:
            return list(self._types.get(types[0], []))
        wanted = set(types)
        return [n for n in self.nodes if n.type in wanted]

    def children(self, node: Node) -> list[Node]:
        """Resources whose parent is `node`."""
        return [n for n in self.nodes if n.parent == node.urn]

    def refs(self, node: Node, prop: str, types: tuple[str, ...], value: Any = None,
             id_prefix: str = "") -> tuple[list[Node], list[str], bool]:
        """What `node.prop` points at among `types`: (stack resources, ids outside the stack, anything unknown).

        A reference counts when the property depends on the resource (ids unknown) or holds its id.
        `value` narrows the part of the property that holds the ids (default: all of it); strings
        there that start with `id_prefix` and match no resource of the stack are outside ids.
        Resources that only pass an id through (an internet gateway attachment passing on its
        gateway's id, see PASS_THROUGH) are followed to what they point at.
        """
        found: dict[str, Node] = {}
        for urn in node.deps.get(prop, []):
            for target in self.follow(self.by_urn.get(urn), types):
                found[target.urn] = target
        value = node.props.get(prop) if value is None else value
        outside: list[str] = []
        for text in strings_in(value):
            target = self.by_id.get(text)
            if target is not None:
                for hit in self.follow(target, types):
                    found[hit.urn] = hit
            elif id_prefix and text.startswith(id_prefix):
                outside.append(text)
        return list(found.values()), outside, contains_unknown(value)

    def follow(self, target: Node | None, types: tuple[str, ...], depth: int = 0) -> list[Node]:
        """`target` if it is one of `types`, else what it passes through (PASS_THROUGH), recursively."""
        if target is None or depth > 3:
            return []
        if target.type in types:
            return [target]
        prop = PASS_THROUGH.get(target.type)
        if prop is None:
            return []
        hits = [h for urn in target.deps.get(prop, []) for h in self.follow(self.by_urn.get(urn), types, depth + 1)]
        hits += [h for text in strings_in(target.props.get(prop)) if text in self.by_id
                 for h in self.follow(self.by_id[text], types, depth + 1)]
        return hits

    def referrers(self, target: Node) -> list[Node]:
        """Every resource that refers to `target` in any property, by dependency or by id."""
        out = []
        for node in self.nodes:
            if node is target:
                continue
            if target.urn in node.dep_urns or (target.id is not None and target.id in node.strings):
                out.append(node)
        return out


#: Resources whose output is another resource's id: (type, the property that holds that resource).
PASS_THROUGH = {
    "aws:ec2/internetGatewayAttachment:InternetGatewayAttachment": "internetGatewayId",
    "aws:ec2/vpnGatewayAttachment:VpnGatewayAttachment": "vpnGatewayId",
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment": "transitGatewayId",
}


def depends_on(graph: Graph, node: Node, prop: str, target: Node) -> bool:
    """True when `node.prop` refers to `target`, by dependency or by id."""
    if target.urn in node.deps.get(prop, []):
        return True
    return target.id is not None and target.id in strings_in(node.props.get(prop))
