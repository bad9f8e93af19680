"""A compose project as `docker compose -f a.yml -f b.yml --profile p config` would see it, before any mapping.

Each file is read with compose's YAML rules (yamlio), interpolated on its own with the project's
variables (the process environment over `.env`), its `extends` resolved and its `include`s added; the
files are then merged in order with compose's merge rules
(https://docs.docker.com/reference/compose-file/merge/): mappings merge key by key, sequences append,
`command`/`entrypoint`/`healthcheck.test` are replaced, `ports` are unique by their address, `volumes`
by target, `secrets`/`configs` by target, `environment`/`labels`/`build.args`/`depends_on` merge by
name whatever their form; `!reset` removes and `!override` replaces. Relative paths stay relative to the
project directory (the first file's directory) as compose has them, except in an extended service from
another directory, whose paths are rebased. Services whose `profiles` are not active are left out.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from settings.compose.variables import ComposeError, Interpolator, project_environment
from settings.compose.yamlio import RESET, Override, read_yaml

#: Top-level keys of the compose specification.
TOP_LEVEL = {"services", "volumes", "secrets", "configs", "networks", "name", "version", "include", "models"}
_REPLACED = {"command", "entrypoint"}
_BY_NAME = {"environment", "labels", "annotations", "sysctls", "extra_hosts", "depends_on", "networks", "ulimits"}
_BY_TARGET = {"volumes", "secrets", "configs"}


@dataclass
class Project:
    """The merged compose model: services and the top-level volumes, secrets and configs."""

    directory: Path
    files: list[str]
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, Any] = field(default_factory=dict)
    configs: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    disabled: dict[str, list[str]] = field(default_factory=dict)


def load_project(directory: Path, files: list[str], profiles: list[str],
                 process: Mapping[str, str] | None = None) -> Project:
    """Read, interpolate, extend, include, merge and filter by profile; ComposeError on what compose refuses too."""
    env = project_environment(directory, os.environ if process is None else process)
    project = Project(directory=directory, files=files, environment=env)
    interpolator = Interpolator(env.get)
    merged: dict[str, Any] = {}
    for name in files:
        doc = _document(directory, name, interpolator)
        merged = merge_mapping(merged, doc, "")
    for name, where in sorted(interpolator.unset.items()):
        project.notes.append(f"variable {name} is not set (first used at {where}): it is an empty string, as "
                             "docker compose substitutes it; set it in .env or the environment")
    services = merged.get("services") or {}
    if not isinstance(services, dict) or not services:
        raise ComposeError(f"file: {', '.join(files)} has no services")
    project.volumes = _mapping(merged.get("volumes"), "volumes")
    project.secrets = _mapping(merged.get("secrets"), "secrets")
    project.configs = _mapping(merged.get("configs"), "configs")
    active = set(profiles)
    for name, svc in services.items():
        svc = svc if isinstance(svc, dict) else {}
        wanted = [str(p) for p in svc.get("profiles") or []]
        if wanted and not (active & set(wanted)) and "*" not in active:
            project.disabled[name] = wanted
            continue
        project.services[name] = svc
    for name, svc in project.services.items():
        for dep in depends_on(svc):
            if dep in project.disabled:
                raise ComposeError(f"services.{name}.depends_on: {dep!r} is only in the profiles "
                                   f"{', '.join(project.disabled[dep])}; add one to compose.profiles, or remove the "
                                   "dependency (docker compose refuses this too)")
            if dep not in services:
                raise ComposeError(f"services.{name}.depends_on: {dep!r} is not a service of this project")
    return project


def _mapping(value: Any, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ComposeError(f"{key}: expected a mapping of names")
    return {k: (v if v is not None else {}) for k, v in value.items()}


def _document(directory: Path, name: str, interpolator: Interpolator, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """One file: read, interpolated, its `extends` resolved and its `include`s merged in."""
    path = (directory / name).resolve()
    if str(path) in seen:
        raise ComposeError(f"include: {name!r} includes itself")
    raw = _read(path, name)
    for key in raw:
        if key not in TOP_LEVEL and not str(key).startswith("x-"):
            raise ComposeError(f"{key}: not a top-level key of the compose specification")
    doc = interpolator.value({k: v for k, v in raw.items() if not str(k).startswith("x-")})
    services = doc.get("services") or {}
    if not isinstance(services, dict):
        raise ComposeError(f"services: {name!r} has services that are not a mapping")
    doc["services"] = {svc: _extended(svc, services, path.parent, directory, interpolator, ())
                       for svc in services}
    for item in doc.pop("include", None) or []:
        spec = {"path": item} if isinstance(item, str) else dict(item or {})
        paths = spec.get("path")
        for included in [paths] if isinstance(paths, str) else list(paths or []):
            other = _document(directory, str(Path(name).parent / str(included)), interpolator, (*seen, str(path)))
            clash = sorted(set(other.get("services") or {}) & set(doc["services"]))
            if clash:
                raise ComposeError(f"include: {included!r} defines {', '.join(clash)} again (compose refuses "
                                   "a service defined in an included file and the including one)")
            doc = merge_mapping(other, doc, "")
    return doc


def _read(path: Path, name: str) -> dict[str, Any]:
    try:
        doc = read_yaml(path.read_text())
    except OSError as exc:
        raise ComposeError(f"file: cannot read {name!r} ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ComposeError(f"file: {name!r} is not valid YAML ({' '.join(str(exc).split())})") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ComposeError(f"file: {name!r} is not a compose file (expected a mapping with services)")
    return doc


def _extended(name: str, services: dict[str, Any], file_dir: Path, project_dir: Path, interpolator: Interpolator,
              chain: tuple[str, ...]) -> dict[str, Any]:
    """A service with its `extends` applied (recursively); paths of a service from another directory rebased."""
    svc = services.get(name)
    if svc is None:
        raise ComposeError(f"services.{chain[-1] if chain else name}.extends: no service {name!r} to extend")
    if not isinstance(svc, dict):
        return {}
    spec = svc.get("extends")
    if spec is None:
        return svc
    spec = {"service": spec} if isinstance(spec, str) else dict(spec)
    base_name = str(spec.get("service", ""))
    if (str(file_dir), base_name) in [tuple(c.split("\0")) for c in chain]:
        raise ComposeError(f"services.{name}.extends: {base_name!r} extends itself in a loop")
    link = (*chain, f"{file_dir}\0{name}")
    if spec.get("file"):
        other = (file_dir / str(spec["file"])).resolve()
        raw = _read(other, str(spec["file"]))
        others = interpolator.value({k: v for k, v in raw.items() if not str(k).startswith("x-")}).get("services") or {}
        base = _extended(base_name, others, other.parent, project_dir, interpolator, link)
        base = rebase(base, other.parent, project_dir)
    else:
        base = _extended(base_name, services, file_dir, project_dir, interpolator, link)
    own = {k: v for k, v in svc.items() if k != "extends"}
    return merge_service(base, own)


def rebase(svc: dict[str, Any], source_dir: Path, project_dir: Path) -> dict[str, Any]:
    """Relative paths of a service read from `source_dir`, made relative to the project directory."""
    def move(path: str) -> str:
        if os.path.isabs(path) or path.startswith("~") or "://" in path:
            return path
        return posixpath.normpath(os.path.relpath(source_dir / path, project_dir))
    out = dict(svc)
    build = out.get("build")
    if isinstance(build, str):
        out["build"] = move(build)
    elif isinstance(build, dict) and isinstance(build.get("context"), str):
        out["build"] = {**build, "context": move(build["context"])}
    env_file = out.get("env_file")
    if isinstance(env_file, (str, dict)):
        env_file = [env_file]
    if isinstance(env_file, list):
        out["env_file"] = [move(e) if isinstance(e, str) else {**e, "path": move(str(e.get("path")))}
                           for e in env_file]
    if isinstance(out.get("volumes"), list):
        moved = []
        for v in out["volumes"]:
            if isinstance(v, str) and v.startswith("."):
                source, _, rest = v.partition(":")
                moved.append(f"{move(source)}:{rest}" if rest else v)
            elif isinstance(v, dict) and v.get("type") == "bind" and str(v.get("source", "")).startswith("."):
                moved.append({**v, "source": move(str(v["source"]))})
            else:
                moved.append(v)
        out["volumes"] = moved
    return out


def depends_on(svc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`depends_on` in its long form: name -> {condition, required, restart}."""
    deps = svc.get("depends_on") or {}
    if isinstance(deps, str):
        deps = [deps]
    if isinstance(deps, list):
        return {str(d): {"condition": "service_started"} for d in deps}
    if isinstance(deps, dict):
        return {str(k): ({"condition": "service_started"} | dict(v or {})) for k, v in deps.items()}
    raise ComposeError("depends_on: expected a list of services or a mapping")


def merge_mapping(base: dict[str, Any], over: dict[str, Any], path: str) -> dict[str, Any]:
    """Compose's merge of two top-level documents (or any two mappings below them)."""
    out = dict(base)
    for key, value in over.items():
        where = f"{path}.{key}" if path else str(key)
        if value is RESET:
            out.pop(key, None)
        elif isinstance(value, Override):
            out[key] = value.value
        elif path == "services" and isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = merge_service(out[key], value)
        elif isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = merge_mapping(out[key], value, where)
        elif isinstance(out.get(key), list) and isinstance(value, list):
            out[key] = _append(out[key], value)
        else:
            out[key] = _plain(value)
    return out


def merge_service(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """One service over another, with the per-key rules of the compose specification."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if value is RESET:
            out.pop(key, None)
        elif isinstance(value, Override) or old is None or key in _REPLACED:
            out[key] = _plain(value.value if isinstance(value, Override) else value)
        elif key in _BY_NAME:
            out[key] = merge_mapping(named_values(old, key), named_values(value, key), key)
        elif key == "build":
            b, o = build_spec(old), build_spec(value)
            if "args" in b and "args" in o:
                args = merge_mapping(named_values(b["args"], "args"), named_values(o["args"], "args"), "args")
                o = {**o, "args": args}
            out[key] = merge_mapping(b, o, key)
        elif key == "healthcheck" and isinstance(old, dict) and isinstance(value, dict):
            out[key] = {**old, **{k: _plain(v) for k, v in value.items()}}
        elif key == "ports" and isinstance(old, list) and isinstance(value, list):
            out[key] = _unique(old, value, port_key)
        elif key in _BY_TARGET and isinstance(old, list) and isinstance(value, list):
            out[key] = _unique(old, value, lambda item, key=key: _target(key, item))
        elif isinstance(old, dict) and isinstance(value, dict):
            out[key] = merge_mapping(old, value, key)
        elif isinstance(old, list) and isinstance(value, list):
            out[key] = _append(old, value)
        else:
            out[key] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    """A value without `!reset`/`!override` markers (they only mean something when merging)."""
    if isinstance(value, Override):
        return _plain(value.value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not RESET}
    if isinstance(value, list):
        return [_plain(v) for v in value if v is not RESET]
    return value


def _append(old: list[Any], new: list[Any]) -> list[Any]:
    out = list(old)
    for item in new:
        if item not in out or isinstance(item, (dict, list)):
            out.append(_plain(item))
    return out


def _unique(old: list[Any], new: list[Any], key: Any) -> list[Any]:
    by_key: dict[Any, Any] = {}
    for item in [*old, *new]:
        by_key[key(item)] = _plain(item)
    return list(by_key.values())


def named_values(value: Any, key: str) -> dict[str, Any]:
    """A list (`- A=1`, `- db`) or mapping of names, as a mapping."""
    if isinstance(value, dict):
        return dict(value)
    if key == "depends_on":
        return {str(v): {"condition": "service_started"} for v in value or []}
    out: dict[str, Any] = {}
    for item in value or []:
        text = str(item)
        sep = ":" if key == "extra_hosts" and "=" not in text else "="
        name, found, rest = text.partition(sep)
        out[name] = rest if found else None
    return out


def build_spec(value: Any) -> dict[str, Any]:
    """`build` in its long form (the short form is the context alone)."""
    return {"context": value} if isinstance(value, str) else dict(value or {})


def port_key(item: Any) -> tuple[str, ...]:
    """What makes a port entry unique when files merge: host IP, container port, published port, protocol."""
    if isinstance(item, dict):
        return (str(item.get("host_ip", "")), str(item.get("target")), str(item.get("published", "")),
                str(item.get("protocol", "tcp")))
    spec, _, protocol = str(item).partition("/")
    parts = spec.rsplit(":", 2) if spec.count(":") <= 2 else [spec]
    ip = parts[0] if len(parts) == 3 else ""
    published = parts[-2] if len(parts) >= 2 else ""
    return (ip, parts[-1], published, protocol or "tcp")


def _target(key: str, item: Any) -> str:
    if key == "volumes":
        if isinstance(item, dict):
            return str(item.get("target"))
        parts = str(item).split(":")
        return parts[1] if len(parts) > 1 else parts[0]
    if isinstance(item, dict):
        return str(item.get("target") or item.get("source"))
    return str(item)
