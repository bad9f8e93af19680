"""What the installed Pulumi SDKs say an invoke's result or a resource's outputs look like.

Loaded by the preview's child by file path and run in the program's own environment, so it reads the
provider SDK versions the program was written against (pulumi_aws, pulumi_awsx, ...). It imports
only the standard library and `pulumi`. A resource class is found through the SDK's own registry of
resource modules (filled in when the provider package is imported, as the program did); an invoke's
result class (`GetVpcResult`, ...) from the `typ=` of the generated function that calls its token.
"""

from __future__ import annotations

import functools
import importlib
import re
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc

_PULUMI_NAME = "_pulumi_name"  # set by @pulumi.getter on every generated property getter


@dataclass(frozen=True)
class Prop:
    """One property of a result or resource class: wire name, value type (Output unwrapped), optional or not."""

    name: str
    hint: Any
    optional: bool


def _package(pkg: str) -> str:
    return "pulumi_" + pkg.replace("-", "_")


@functools.cache
def resource_class(token: str) -> type | None:
    """The SDK class registered for a resource type token (`aws:ec2/vpc:Vpc`, `awsx:ec2:Vpc`), if any."""
    parts = token.split(":")
    if len(parts) != 3:
        return None
    getter = getattr(rpc, "get_resource_module", None)
    module = getter(parts[0], parts[1], "") if getter else None
    info = getattr(module, "mod_info", None)
    if not isinstance(info, dict) or token not in info.get("classes", {}):
        return None
    try:
        return getattr(importlib.import_module(info["fqn"]), info["classes"][token])
    except (ImportError, AttributeError):
        return None


def _snake(name: str) -> str:
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


@functools.cache
def invoke_result_class(token: str) -> type | None:
    """The `Get...Result` class of an invoke token (`aws:ec2/getVpc:getVpc`), from the generated function's source."""
    parts = token.split(":")
    if len(parts) != 3:
        return None
    package = _package(parts[0])
    folder = parts[1].split("/")[0]
    prefix = package if folder == "index" else f"{package}.{folder}"
    candidates = [f"{prefix}.{_snake(parts[2])}"]
    root = sys.modules.get(package)
    if root is not None and getattr(root, "__file__", None):
        directory = Path(root.__file__).parent / ("" if folder == "index" else folder)
        candidates += [f"{prefix}.{p.stem}" for p in sorted(directory.glob("*.py"))
                       if f"{prefix}.{p.stem}" != candidates[0] and _mentions(p, token)]
    for name in candidates:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        source = Path(module.__file__ or "").read_text() if getattr(module, "__file__", None) else ""
        found = re.search(re.escape(f"'{token}'") + r",[^)]*?typ=(\w+)", source)
        if found and isinstance(getattr(module, found.group(1), None), type):
            return getattr(module, found.group(1))
    return None


def _mentions(path: Path, token: str) -> bool:
    try:
        return f"'{token}'" in path.read_text()
    except OSError:
        return False


def _unwrap(hint: Any) -> tuple[Any, bool]:
    """(T, optional) from `Output[Optional[T]]`, `Optional[T]`, `T`."""
    optional = False
    for _ in range(3):
        origin = typing.get_origin(hint)
        if origin is pulumi.Output:
            hint = typing.get_args(hint)[0]
        elif origin is typing.Union:
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(hint))
            hint = args[0] if args else Any
        else:
            break
    return hint, optional


@functools.cache
def properties(cls: type) -> tuple[Prop, ...]:
    """The `@pulumi.getter` properties of a generated class, in definition order."""
    out: dict[str, Prop] = {}
    for klass in reversed(cls.__mro__):
        for attr in vars(klass).values():
            if not isinstance(attr, property) or not hasattr(attr.fget, _PULUMI_NAME):
                continue
            try:
                hint = typing.get_type_hints(attr.fget).get("return", Any)
            except Exception:  # an annotation the SDK cannot resolve here: still a property, type unknown
                hint = Any
            hint, optional = _unwrap(hint)
            name = getattr(attr.fget, _PULUMI_NAME)
            out[name] = Prop(name, hint, optional)
    return tuple(out.values())


@functools.cache
def input_names(resource_cls: type) -> frozenset[str]:
    """Wire names of a resource's inputs (its `...Args` class); what is not among them only the provider sets."""
    module = sys.modules.get(resource_cls.__module__)
    args = getattr(module, f"{resource_cls.__name__}Args", None)
    return frozenset(p.name for p in properties(args)) if isinstance(args, type) else frozenset()


def is_output_type(hint: Any) -> bool:
    """True for a generated nested output class (`LoadBalancerAccessLogs`, `GetVpcCidrBlockAssociationResult`)."""
    return isinstance(hint, type) and hasattr(hint, "_pulumi_output_type")


def is_resource(hint: Any) -> bool:
    """True for a resource class (a component's output that is a resource: not something to make up)."""
    return isinstance(hint, type) and issubclass(hint, pulumi.Resource)


def snake_to_camel(name: str) -> str:
    """`cidr_block` -> `cidrBlock` (keys of an --invokes file may be written either way)."""
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def resource_items(hint: Any) -> tuple[type | None, bool]:
    """(resource class, is a list) when a property holds a resource or a list of them, else (None, False)."""
    if is_resource(hint):
        return hint, False
    if typing.get_origin(hint) in (list, typing.get_origin(typing.Sequence)):
        args = typing.get_args(hint)
        if args and is_resource(args[0]):
            return args[0], True
    return None, False


@functools.cache
def type_token(resource_cls: type) -> str | None:
    """The type token a generated resource class registers under (`aws:lb/loadBalancer:LoadBalancer`)."""
    for modules in getattr(rpc, "_RESOURCE_MODULES", {}).values():
        for module in modules:
            info = getattr(module, "mod_info", None)
            if not isinstance(info, dict) or not resource_cls.__module__.startswith(info.get("fqn", "?")):
                continue
            for token, name in info.get("classes", {}).items():
                if name == resource_cls.__name__:
                    return token
    return None
