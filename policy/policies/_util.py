"""Helpers shared by the policies: config with defaults, plain values, JSON documents, containers.

Resource policies read their inputs through the SDK's unknown-checking proxy, so a check on a value
that is unknown at preview becomes the SDK's advisory "can't run policy during preview" message.
Stack policies read plain values (`plain`), where an unknown value is `UNKNOWN`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy.proxy import _is_unknown

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
    """A JSON document given as a string (or already as data); UNKNOWN stays UNKNOWN, bad JSON is None."""
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


def containers(props: dict[str, Any]) -> Any:
    """The containers of a task definition from plain properties: a list, or UNKNOWN."""
    parsed = load_json(props.get("containerDefinitions"))
    if parsed is UNKNOWN:
        return UNKNOWN
    return [c for c in parsed if isinstance(c, dict)] if isinstance(parsed, list) else []


def statements(document: Any) -> list[dict[str, Any]]:
    """The statements of an IAM-style policy document."""
    if not isinstance(document, dict):
        return []
    found = document.get("Statement", [])
    return [s for s in as_list(found) if isinstance(s, dict)]


def allow_statements(document: Any) -> list[dict[str, Any]]:
    """The Allow statements of an IAM policy document (Deny statements never grant anything)."""
    return [s for s in statements(document) if s.get("Effect") == "Allow"]


def as_list(value: Any) -> list[Any]:
    """A scalar or a list, as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def strings_in(value: Any) -> list[str]:
    """Every string inside a plain value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def ci_get(value: Any, *path: str) -> Any:
    """`value[path[0]][path[1]]...` with keys matched case-insensitively (API JSON comes in either case)."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = next((v for k, v in value.items() if isinstance(k, str) and k.lower() == key.lower()), None)
    return value


def wildcard_match(pattern: str, text: str) -> bool:
    """IAM-style matching: `*` any run of characters, `?` one character, case-insensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE | re.DOTALL) is not None


def is_true(value: Any) -> bool:
    """True for a JSON/boolean true given as a bool or a string ("true", "True")."""
    return value is True or (isinstance(value, str) and value.lower() == "true")
