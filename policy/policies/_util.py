"""Helpers shared by the policies: config with defaults, JSON documents, the resource graph of a stack.

Resource policies read their inputs through the SDK's unknown-checking proxy, so a check on a value
that is unknown at preview becomes the SDK's advisory "can't run policy during preview" message.
Stack policies follow the resource graph instead: property dependencies and parents when ids are
unknown (the first preview of a new stack), ids when known, so both give the same verdict.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UnknownValueError, _is_unknown

#: Stands for a value that is unknown at preview, once a resource's properties are made plain.
UNKNOWN: Any = type("Unknown", (), {"__repr__": lambda self: "<unknown>"})()


def plain(value: Any) -> Any:
    """A property value without the SDK's proxies; unknown values become UNKNOWN."""
    if isinstance(value, str):
        return UNKNOWN if _is_unknown(value) else value
    if isinstance(value, Mapping):
        target = _target(value)
        return {k: plain(v) for k, v in target.items()}
    if isinstance(value, (list, tuple)) or _target(value) is not value:
        return [plain(v) for v in _target(value)]
    return value


def _target(value: Any) -> Any:
    try:
        return value["__target"]
    except (KeyError, TypeError, IndexError):
        return value


def contains_unknown(value: Any) -> bool:
    """True when an UNKNOWN is anywhere inside a plain value."""
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False


def config(args: Any, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The policy's config with its defaults applied (the pack applies them itself)."""
    given = args.get_config() or {}
    return {**defaults, **{k: v for k, v in given.items() if k in defaults}}


def load_json(value: Any) -> Any:
    """A JSON document given as a string (or already as data); UNKNOWN stays UNKNOWN."""
    value = plain(value)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def container_definitions(props: Any) -> list[dict[str, Any]]:
    """The containers of a task definition (its `containerDefinitions` JSON string, read through the proxy,
    so an unknown one raises the SDK's preview advisory)."""
    raw = props["containerDefinitions"]
    parsed = json.loads(raw) if isinstance(raw, str) else plain(raw)
    return [c for c in parsed if isinstance(c, dict)] if isinstance(parsed, list) else []


def allow_statements(document: Any) -> list[dict[str, Any]]:
    """The Allow statements of an IAM policy document (Deny statements never grant anything)."""
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return [s for s in statements if isinstance(s, dict) and s.get("Effect") == "Allow"]


def as_list(value: Any) -> list[Any]:
    """A scalar or a list, as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def setting_hint(name: str) -> str:
    """Which setting of this project made a resource, from its Pulumi name ('' for other programs)."""
    for prefix, setting in (("service-", "services"), ("job-", "jobs"), ("worker-", "workers")):
        if name.startswith(prefix):
            workload = name[len(prefix):].split("-")[0]
            return f" (private-fargate setting: the {setting} entry `{workload}`)"
    for prefix, setting in (("network-", "network"), ("registry-", "repository"), ("output-", "outputBucket"),
                            ("cluster-", "logs"), ("access-logs-", "services[].loadBalancer.accessLogs")):
        if name.startswith(prefix):
            return f" (private-fargate setting: {setting})"
    return ""


def cannot_verify(what: list[str]) -> UnknownValueError:
    """An advisory 'cannot verify' for what lives outside the stack (the SDK reports it as advisory)."""
    err = UnknownValueError("04da6b54-80e4-46f7-96ec-b56ff0331ba9", [])
    err.message = "cannot verify " + "; ".join(sorted(set(what)))
    return err


@dataclass
class Node:
    """One resource of the stack, with plain properties and its graph edges."""

    resource: PolicyResource
    type: str
    urn: str
    name: str
    props: dict[str, Any]
    deps: dict[str, list[str]] = field(default_factory=dict)

    @property
    def id(self) -> str | None:
        """The resource's id when the engine knows it."""
        value = self.props.get("id")
        return value if isinstance(value, str) and value else None


class Graph:
    """The stack's resources, indexed by type, URN and id."""

    def __init__(self, resources: Iterable[PolicyResource]):
        self.nodes: list[Node] = []
        for res in resources:
            deps = {k: [d.urn for d in v] for k, v in (res.property_dependencies or {}).items()}
            self.nodes.append(Node(res, res.resource_type, res.urn, res.name, plain(res.props), deps))
        self.by_urn = {n.urn: n for n in self.nodes}
        self.by_id = {n.id: n for n in self.nodes if n.id}

    def of_type(self, *types: str) -> list[Node]:
        """Resources of any of these type tokens."""
        return [n for n in self.nodes if n.type in types]

    def refs(self, node: Node, prop: str, types: tuple[str, ...], value: Any = None,
             id_prefix: str = "") -> tuple[list[Node], list[str], bool]:
        """What `node.prop` points at among `types`: (stack resources, ids outside the stack, anything unknown).

        A reference counts when the property depends on the resource (ids unknown) or holds its id.
        `value` narrows the part of the property that holds the ids (default: all of it); strings
        there that start with `id_prefix` and match no resource of the stack are outside ids.
        """
        found: dict[str, Node] = {}
        for urn in node.deps.get(prop, []):
            target = self.by_urn.get(urn)
            if target is not None and target.type in types:
                found[urn] = target
        value = node.props.get(prop) if value is None else value
        outside: list[str] = []
        for text in strings_in(value):
            target = self.by_id.get(text)
            if target is not None:
                if target.type in types:
                    found[target.urn] = target
            elif text.startswith(id_prefix):
                outside.append(text)
        return list(found.values()), outside, contains_unknown(value)


def strings_in(value: Any) -> list[str]:
    """Every string inside a plain value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def depends_on(graph: Graph, node: Node, prop: str, target: Node) -> bool:
    """True when `node.prop` refers to `target`, by dependency or by id."""
    if target.urn in node.deps.get(prop, []):
        return True
    return target.id is not None and target.id in strings_in(node.props.get(prop))
