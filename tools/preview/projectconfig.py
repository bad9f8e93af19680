"""Read a Pulumi project's `Pulumi.yaml` and `Pulumi.<stack>.yaml` the way the CLI hands config to a program.

The CLI passes every value as a string: scalars as their YAML text, structured values as JSON.
`secure:` values cannot be decrypted offline; they become the placeholder `[secret]` and their
top-level key is marked secret, so the program sees a secret and the preview prints `[secret]`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

SECRET_PLACEHOLDER = "[secret]"


class ProjectError(Exception):
    """The project directory or its Pulumi files cannot be used; the message is one line."""


@dataclass(frozen=True)
class ProjectConfig:
    """What the preview needs to run a project: its name, entry point and the stack's config."""

    directory: Path
    name: str
    main: Path
    stack: str
    config: dict[str, str] = field(default_factory=dict)
    secret_keys: tuple[str, ...] = ()
    runtime: Any = "python"  # Pulumi.yaml's `runtime`: a name, or {name, options} (which Python runs it)

    @property
    def region(self) -> str | None:
        """`aws:region`, if the stack sets it."""
        return self.config.get("aws:region")


def load_project(directory: Path | str, stack: str) -> ProjectConfig:
    """Load the project in `directory` with the config of `stack`."""
    directory = Path(directory).resolve()
    project_file = next((directory / n for n in ("Pulumi.yaml", "Pulumi.yml") if (directory / n).is_file()), None)
    if project_file is None:
        raise ProjectError(f"{directory}: no Pulumi.yaml (is this a Pulumi project directory?)")
    project = _read_yaml(project_file)
    name = project.get("name")
    if not isinstance(name, str) or not name:
        raise ProjectError(f"{project_file}: 'name' is missing")
    runtime = project.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise ProjectError(f"{project_file}: runtime is {runtime_name!r}; the offline preview runs Python programs")
    main = directory / str(project.get("main") or "")
    if main.is_dir():
        main = main / "__main__.py"
    if not main.is_file():
        raise ProjectError(f"{main}: the program's entry point does not exist")

    values: dict[str, str] = {}
    secrets: set[str] = set()
    for key, spec in _mapping(project.get("config"), f"{project_file}: config").items():
        full = _full_key(name, key)
        if isinstance(spec, dict) and ("default" in spec or "value" in spec or "type" in spec):
            if "value" in spec or "default" in spec:
                _put(values, secrets, full, spec.get("value", spec.get("default")))
        else:
            _put(values, secrets, full, spec)

    config_dir = directory / str(project.get("stackConfigDir") or "")
    stack_file = config_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        raise ProjectError(f"{stack_file}: no config for stack {stack!r}")
    stack_doc = _read_yaml(stack_file)
    for key, value in _mapping(stack_doc.get("config"), f"{stack_file}: config").items():
        _put(values, secrets, _full_key(name, key), value)
    return ProjectConfig(directory, name, main, stack, values, tuple(sorted(secrets)), runtime)


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProjectError(f"{where}: expected a mapping of keys to values, got {type(value).__name__}")
    return value


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ProjectError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(doc, dict):
        raise ProjectError(f"{path}: expected a mapping at the top level")
    return doc


def _full_key(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _put(values: dict[str, str], secrets: set[str], key: str, value: Any) -> None:
    cleaned, is_secret = _strip_secure(value)
    if is_secret:
        secrets.add(key)
    values[key] = cleaned if isinstance(cleaned, str) else _as_config_string(cleaned)


def _strip_secure(value: Any) -> tuple[Any, bool]:
    """Replace `{secure: ...}` at any depth by the placeholder; say whether there was one."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER, True
        found = False
        out = {}
        for k, v in value.items():
            out[k], s = _strip_secure(v)
            found |= s
        return out, found
    if isinstance(value, list):
        items = [_strip_secure(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _as_config_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, date)):
        return value.isoformat() if isinstance(value, date) else str(value)
    if value is None:
        return ""
    return json.dumps(value, default=str)  # YAML dates and times become their ISO text
