"""`python -m tools.docs [--write]`: the README's settings and outputs tables, generated from the code.

The settings tables come from the pydantic models (each field's description, default and, for an
object, its keys with their defaults); the outputs tables from components/contract.py. Each table
sits between `<!-- generated: NAME -->` and `<!-- end: NAME -->` in README.md. Without `--write` the
command exits 1 when the README differs from what the code says (the test suite runs that check).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from components.contract import STACK_OUTPUTS, WORKER_OUTPUTS, WORKLOAD_OUTPUTS, OutputSpec
from settings import JobSettings, ServiceSettings, Settings, WorkerSettings, WorkloadSettings
from settings.containers import ContainerSettings, InitContainerSettings, SidecarSettings

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(r"(<!-- generated: ([a-z-]+) -->\n)(.*?)(<!-- end: \2 -->)", re.S)


def _alias(name: str, info: FieldInfo) -> str:
    return info.alias or name


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The settings model inside an annotation (`X`, `X | None`, `list[X]`), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _is_list(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", None) is list or any(
        getattr(a, "__origin__", None) is list for a in getattr(annotation, "__args__", ()) or ())


def default_text(info: FieldInfo) -> str:
    """A field's default as the README shows it."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if "shownDefault" in extra:
        return str(extra["shownDefault"])
    value = info.default
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "absent"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, BaseModel):
        return "`{}`"
    if isinstance(value, (list, dict)):
        return f"`{value!r}`".replace("'", "") if value else ("`[]`" if isinstance(value, list) else "`{}`")
    return f"`{value}`"


def _keys(model: type[BaseModel]) -> str:
    """`{a [default]: what; b: what}` for an object-valued field."""
    parts = []
    for name, info in model.model_fields.items():
        shown = default_text(info)
        text = f"`{_alias(name, info)}`" + ("" if shown in ("absent", "required") else f" [{shown}]")
        parts.append(f"{text}: {info.description}" if info.description else text)
    return "{" + "; ".join(parts) + "}"


def _row(key: str, info: FieldInfo) -> str:
    description = (info.description or "").strip()
    model = _model_of(info.annotation)
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if "keysIn" in extra:  # a list of containers: their keys have a table of their own
        description = f"{description}; keys: {extra['keysIn']}"
    elif model is not None:
        description = f"{description}: {_keys(model)}" if description else _keys(model)
    return f"| `{key}` | {default_text(info)} | {description.replace('|', chr(92) + '|')} |"


def stack_settings_table() -> str:
    """Every stack-level key: nested objects one row per key, lists of workloads by name."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for name, info in Settings.model_fields.items():
        key = _alias(name, info)
        model = _model_of(info.annotation)
        if model is not None and isinstance(info.default, BaseModel):
            rows += [_row(f"{key}.{_alias(n, i)}", i) for n, i in model.model_fields.items()]
        elif _is_list(info.annotation):
            rows.append(f"| `{key}[]` | `[]` | {info.description} |")
        else:
            rows.append(_row(key, info))
    return "\n".join(rows)


def _workload_table(model: type[BaseModel], skip: set[str]) -> str:
    rows = ["| key | default | meaning |", "|---|---|---|"]
    rows += [_row(_alias(n, i), i) for n, i in model.model_fields.items() if n not in skip]
    return "\n".join(rows)


def workload_table() -> str:
    """The keys services and jobs share."""
    return _workload_table(WorkloadSettings, set())


def service_table() -> str:
    """The keys only services take."""
    return _workload_table(ServiceSettings, set(WorkloadSettings.model_fields))


def job_table() -> str:
    """The keys only jobs take."""
    return _workload_table(JobSettings, set(WorkloadSettings.model_fields))


def worker_table() -> str:
    """The keys only workers take."""
    return _workload_table(WorkerSettings, set(WorkloadSettings.model_fields))


def container_table() -> str:
    """The keys of a sidecar or init container: the container keys of a workload, plus their own."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for name, info in {**SidecarSettings.model_fields, **InitContainerSettings.model_fields}.items():
        kinds = [k for k, m in (("sidecars", SidecarSettings), ("init containers", InitContainerSettings))
                 if name in m.model_fields]
        row = _row(_alias(name, info), info)
        if name not in ContainerSettings.model_fields:
            row = row.replace("` |", f"` ({' and '.join(kinds)}) |", 1)
        rows.append(row)
    return "\n".join(rows)


def _outputs(specs: tuple[OutputSpec, ...], head: str) -> str:
    rows = [f"| {head} | type | what |", "|---|---|---|"]
    rows += [f"| `{o.name}` | {o.type} | {o.description} |" for o in specs]
    return "\n".join(rows)


TABLES: dict[str, Callable[[], str]] = {
    "settings": stack_settings_table,
    "workload-settings": workload_table,
    "service-settings": service_table,
    "job-settings": job_table,
    "worker-settings": worker_table,
    "container-settings": container_table,
    "outputs": lambda: _outputs(STACK_OUTPUTS, "output"),
    "workload-outputs": lambda: _outputs(WORKLOAD_OUTPUTS, "key"),
    "worker-outputs": lambda: _outputs(WORKER_OUTPUTS, "key"),
}


def render(text: str) -> str:
    """The README text with every generated block replaced by what the code says now."""
    found = set()

    def fill(m: re.Match[str]) -> str:
        name = m.group(2)
        if name not in TABLES:
            raise KeyError(f"README.md has a generated block {name!r} that tools/docs.py does not know")
        found.add(name)
        return f"{m.group(1)}{TABLES[name]()}\n{m.group(4)}"

    out = _BLOCK.sub(fill, text)
    missing = sorted(set(TABLES) - found)
    if missing:
        raise KeyError(f"README.md lacks the generated block(s) {', '.join(missing)}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Check (default) or `--write` the README's generated tables."""
    parser = argparse.ArgumentParser(prog="python -m tools.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite README.md instead of checking it")
    args = parser.parse_args(argv)
    text = README.read_text()
    try:
        new = render(text)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    if args.write:
        README.write_text(new)
        return 0
    if new != text:
        print("error: README.md's generated tables differ from the code; run `python3 dev.py docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
