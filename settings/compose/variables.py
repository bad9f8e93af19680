"""Compose's variables: `.env` files and interpolation, as `docker compose` reads them.

Interpolation follows the compose specification (https://docs.docker.com/reference/compose-file/interpolation/):
`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
`${VAR:+replacement}`, `${VAR+replacement}`, nested operands (`${A:-${B:-x}}`) and `$$` for a literal
dollar; a `$` that starts no variable is kept. A variable that is not set becomes the empty string with
a warning, as compose does (the warning is a note here). Values are interpolated, keys are not.

Env files (`.env`, `env_file:`) follow compose's dotenv rules: `export` allowed, `#` comments, single
quotes literal, double quotes with escapes and interpolation, both may span lines, unquoted values end
at ` #`, and a value may use the variables defined before it and the process environment, which wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from settings.compose.yamlio import Override


class ComposeError(ValueError):
    """A compose file or one of its services cannot become settings; the message names where."""


Lookup = Callable[[str], "str | None"]
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "$": "$", "'": "'"}


class Interpolator:
    """Fills in variables from `lookup`; remembers the names that were not set (for one note each)."""

    def __init__(self, lookup: Lookup):
        self.lookup = lookup
        self.unset: dict[str, str] = {}

    def value(self, value: Any, where: str = "") -> Any:
        """A compose value with every string in it interpolated (mapping keys are left alone)."""
        if isinstance(value, dict):
            return {k: self.value(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, str):
            return self.text(value, where)
        if isinstance(value, Override):  # keep the `!override` wrapper
            return Override(self.value(value.value, where))
        return value

    def text(self, text: str, where: str) -> str:
        """One string, interpolated."""
        out, i = [], 0
        while i < len(text):
            char = text[i]
            if char != "$" or i + 1 == len(text):
                out.append(char)
                i += 1
                continue
            following = text[i + 1]
            if following == "$":
                out.append("$")
                i += 2
            elif following == "{":
                end = _closing_brace(text, i + 2)
                if end < 0:
                    raise ComposeError(f"{where}: {text!r} has '${{' without a closing '}}'")
                out.append(self._braced(text[i + 2:end], where))
                i = end + 1
            else:
                m = _NAME.match(text, i + 1)
                if m is None:
                    out.append("$")  # compose keeps a `$` that starts no variable
                    i += 1
                else:
                    out.append(self._get(m.group(0), where) or "")
                    i = m.end()
        return "".join(out)

    def _get(self, name: str, where: str) -> str | None:
        current = self.lookup(name)
        if current is None:
            self.unset.setdefault(name, where)
        return current

    def _braced(self, body: str, where: str) -> str:
        m = _NAME.match(body)
        if m is None:
            raise ComposeError(f"{where}: '${{{body}}}' is not a valid variable (compose takes ${{NAME}}, "
                               "${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME:+value} and their "
                               "forms without ':')")
        name, rest = m.group(0), body[m.end():]
        if not rest:
            return self._get(name, where) or ""
        op = next((o for o in _OPERATORS if rest.startswith(o)), None)
        if op is None:
            raise ComposeError(f"{where}: '${{{body}}}' uses an operator compose does not have (only :-, -, :?, ?, "
                               ":+ and +; no ${VAR/a/b} or other shell forms)")
        operand = rest[len(op):]
        current = self.lookup(name)
        empty_counts = op.startswith(":")
        missing = current is None or (empty_counts and current == "")
        if op in (":-", "-"):
            return self.text(operand, where) if missing else str(current)
        if op in (":+", "+"):
            return "" if missing else self.text(operand, where)
        if missing:
            detail = self.text(operand, where) or ("is empty" if current == "" else "is not set")
            raise ComposeError(f"{where}: required variable {name} is missing a value: {detail} (set it in the "
                               "environment or in .env next to the compose file)")
        return str(current)


def _closing_brace(text: str, start: int) -> int:
    """The index of the `}` that closes a `${` whose body starts at `start` (nested `${...}` counted)."""
    depth, i = 1, start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def parse_dotenv(text: str, lookup: Lookup, where: str = ".env", interpolate: bool = True) -> dict[str, str]:
    """KEY=VALUE lines of an env file, with compose's quoting rules; `lookup` serves variables not defined above.

    A line with a name alone takes the value from `lookup` (left out when unset), as compose does.
    """
    values: dict[str, str] = {}

    def find(name: str) -> str | None:
        outside = lookup(name)
        return outside if outside is not None else values.get(name)

    interpolator = Interpolator(find)
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        if "=" not in line:
            found = lookup(line)
            if _NAME.fullmatch(line) and found is not None:
                values[line] = found
            continue
        key, _, raw = line.partition("=")
        key, raw = key.strip(), raw.lstrip()
        if not key or any(c.isspace() for c in key):
            raise ComposeError(f"{where}: line {i}: {key!r} is not a variable name")
        if raw[:1] in ("'", '"'):
            quote = raw[0]
            body = raw[1:]
            while not _closed(body, quote) and i < len(lines):
                body += "\n" + lines[i]
                i += 1
            if not _closed(body, quote):
                raise ComposeError(f"{where}: {key}: the value's {quote} quote is not closed")
            value = body[:_close_index(body, quote)]
            if quote == '"':
                value = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), value)
                value = interpolator.text(value, f"{where}: {key}") if interpolate else value
        else:
            value = re.split(r"\s#", raw, maxsplit=1)[0].strip()
            value = interpolator.text(value, f"{where}: {key}") if interpolate else value
        values[key] = value
    return values


def _close_index(body: str, quote: str) -> int:
    i = 0
    while i < len(body):
        if body[i] == "\\" and quote == '"':
            i += 2
            continue
        if body[i] == quote:
            return i
        i += 1
    return -1


def _closed(body: str, quote: str) -> bool:
    return _close_index(body, quote) >= 0


def read_env_file(path: Path, lookup: Lookup, *, interpolate: bool = True) -> dict[str, str]:
    """An env file's variables (ComposeError naming the file when it cannot be read)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ComposeError(f"{path.name}: cannot read it ({exc.strerror})") from None
    return parse_dotenv(text, lookup, path.name, interpolate)


def project_environment(directory: Path, process: Mapping[str, str]) -> dict[str, str]:
    """What interpolation reads: the process environment over the project's `.env` (compose's precedence)."""
    dotenv = directory / ".env"
    values = read_env_file(dotenv, process.get) if dotenv.is_file() else {}
    return {**values, **process}
