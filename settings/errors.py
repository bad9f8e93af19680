"""Turn pydantic's validation errors into one clear line per problem.

A user who mistypes a key in Pulumi.<stack>.yaml must see the key path, the bad value and what is
allowed, never a traceback. The line format is `services[0].memory: 3000 is not valid ...`.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

import pulumi
from pydantic import BaseModel, ValidationError

from settings.patterns import PATTERN_HELP

#: The offline preview's stand-in for a `secure:` value (see tools/preview/projectconfig.py).
OFFLINE_SECRET = "[secret]"


class SettingError(ValueError):
    """Raised by a validator for a key below the model it validates (`path` is relative to it)."""

    def __init__(self, path: tuple[str | int, ...] | str, message: str):
        super().__init__(message)
        self.path = (path,) if isinstance(path, str) else tuple(path)
        self.message = message


class SettingsError(pulumi.RunError):
    """Bad stack settings. A RunError so that `pulumi up` prints the message without a traceback."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        first = problems[0] if problems else "invalid settings"
        more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
        super().__init__(f"settings: {first}{more}")


def key_path(loc: tuple[str | int, ...]) -> str:
    """`('services', 0, 'memory')` -> `services[0].memory`."""
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic marks a bad mapping key this way; the key itself follows or precedes
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            if not text.isprintable() or text != text.strip():
                text = repr(text)  # keeps a key with a newline or stray spaces on one visible line
            out += ("." if out else "") + text
    return out


def show(value: Any) -> str:
    """The value as the user wrote it, short enough for one line."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _model_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping at `loc`, for listing its allowed keys."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        fields = {f.alias or n: f for n, f in current.model_fields.items()}
        field = fields.get(part)
        if field is None:
            return None
        current = _inner_model(field.annotation)
    return current


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def format_error(err: dict[str, Any], root: type[BaseModel]) -> str:
    """One line for one pydantic error dict."""
    loc = tuple(err["loc"])
    ctx = err.get("ctx") or {}
    value = err.get("input")
    kind = err["type"]
    exc = ctx.get("error")
    if isinstance(exc, SettingError):
        return f"{key_path(loc + exc.path)}: {exc.message}"
    path = key_path(loc)
    if kind == "extra_forbidden":
        parent = _model_at(root, loc[:-1])
        allowed = [f.alias or n for n, f in parent.model_fields.items()] if parent else []
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        guess = f" (did you mean {hint[0]!r}?)" if hint else ""
        return f"{path}: unknown key{guess}; allowed keys: {', '.join(allowed)}"
    if kind == "missing":
        return f"{path}: required"
    if kind == "literal_error":
        allowed = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"{path}: {show(value)} is not allowed; allowed: {allowed}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
        limit = next(v for k, v in ctx.items() if k in ("ge", "gt", "le", "lt"))
        return f"{path}: {show(value)} is out of range; allowed: {bounds[kind]} {limit}"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") in PATTERN_HELP:
        return f"{path}: {show(value)} is not valid; expected {PATTERN_HELP[ctx['pattern']]}"
    if kind == "string_pattern_mismatch":
        return f"{path}: {show(value)} does not match the allowed pattern {ctx.get('pattern')}"
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        return f"{path}: {show(value)} has the wrong length; {err['msg'].lower()}"
    if kind == "value_error":
        return f"{path}: {show(value)} is not valid; {err['msg'].removeprefix('Value error, ')}"
    expected = err["msg"].removeprefix("Input should be ").removeprefix("Input should ")
    return f"{path}: {show(value)} is not valid; expected {expected}"


def problems_from(exc: ValidationError, root: type[BaseModel]) -> list[str]:
    """All problems in one validation error, one line each, in the order pydantic found them."""
    seen: list[str] = []
    for err in exc.errors():
        line = " ".join(format_error(err, root).split())
        if err.get("input") == OFFLINE_SECRET:
            line += (" (a secure: value, which the offline preview cannot decrypt; only settings that take any "
                     "string can be checked offline when secret)")
        if line not in seen:
            seen.append(line)
    return seen
