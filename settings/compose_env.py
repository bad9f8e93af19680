"""Compose's variables: `.env` files and `${VAR}` interpolation, as `docker compose` reads them.

Split from the mapping (settings/compose.py): what a compose file says once its variables are filled in.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any


class ComposeError(ValueError):
    """A compose file or one of its services cannot become settings; the message names where."""


_VARIABLE = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
_QUOTES = ("'", '"')


def dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file (compose's rules: `export` allowed, quotes stripped, ` #` comments)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) > 1 and value[0] in _QUOTES and value.endswith(value[0]):
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


def interpolate(value: Any, env: dict[str, str], where: str = "") -> Any:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR:?error}` and `$$`, from the process and `.env`.

    An unset variable without a default is an error: a deploy must not depend on who runs it.
    """
    if isinstance(value, dict):
        return {k: interpolate(v, env, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        current = {**env, **os.environ}.get(name)
        op, arg = m.group(2), m.group(3) or ""
        if op in (":-", "-") and (current is None or (op == ":-" and current == "")):
            return arg
        if op in (":?", "?") and (current is None or (op == ":?" and current == "")):
            raise ComposeError(f"{where}: variable {name} is not set: {arg or 'required'}")
        if current is None:
            raise ComposeError(f"{where}: variable {name} is not set; give it in .env next to the compose file, "
                               "in the environment, or a default with ${VAR:-default}")
        return current

    return _VARIABLE.sub(substitute, value)
