"""Read compose YAML the way `docker compose` does (go-yaml v3, YAML 1.2 core schema), not as PyYAML's YAML 1.1.

The differences that matter in real files: `- 22:22` is the string "22:22" (YAML 1.1 reads a base-60
integer), `off`/`yes`/`no` are strings (YAML 1.1 reads booleans), `2024-01-01` stays a string (no
timestamps), and `0644` is octal as Go's `strconv.ParseInt(s, 0, 64)` reads it, which is how file
modes of secrets are written. Merge keys (`<<: *anchor`) and anchors work as in compose, and so do
compose's `!reset` (drop the inherited value) and `!override` (replace it instead of merging) tags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml


class Reset:
    """`!reset`: the key is removed from what an earlier file or an extended service gave."""

    def __repr__(self) -> str:
        return "!reset"


RESET = Reset()


@dataclass(frozen=True)
class Override:
    """`!override VALUE`: replaces the inherited value whole (no merging of mappings or lists)."""

    value: Any


class ComposeLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars and compose's tags."""


ComposeLoader.yaml_implicit_resolvers = {}
_RESOLVERS = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?(?:0|[1-9][0-9]*)|0o?[0-7]+|0x[0-9a-fA-F]+|0b[01]+)$",
     "-+0123456789"),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
     "-+0123456789."),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:merge", r"^<<$", "<"),
]
for _tag, _pattern, _first in _RESOLVERS:
    ComposeLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if digits.startswith(("0x", "0b", "0o")):
        return sign * int(digits, 0)
    if len(digits) > 1 and digits.startswith("0"):
        return sign * int(digits, 8)  # Go's ParseInt(s, 0, 64): a leading 0 is octal
    return sign * int(digits)


def _float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).lower()
    if text.endswith("inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    return float("nan") if text.endswith("nan") else float(text)


def _reset(loader: yaml.SafeLoader, node: yaml.Node) -> Reset:
    return RESET


def _override(loader: yaml.SafeLoader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(loader.construct_object(yaml.ScalarNode(_plain_tag(loader, node), node.value), deep=True))


def _plain_tag(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return loader.resolve(yaml.ScalarNode, node.value, (True, False))


ComposeLoader.add_constructor("tag:yaml.org,2002:int", _int)
ComposeLoader.add_constructor("tag:yaml.org,2002:float", _float)
ComposeLoader.add_constructor("!reset", _reset)
ComposeLoader.add_constructor("!override", _override)


def read_yaml(text: str) -> Any:
    """One compose document, with compose's scalar rules; yaml.YAMLError when it is not valid YAML."""
    return yaml.load(text, Loader=ComposeLoader)
