"""What the compose tests share: a project written to a temporary folder and loaded as settings."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from settings import Settings, SettingsError
from tests.support import ROOT

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
HUB = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/hub-AbCdEf"
GHCR = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/ghcr-AbCdEf"


def load(tmp_path: Path, compose: str, *, jobs: list[str] | None = None, secrets: dict[str, Any] | None = None,
         settings: dict[str, Any] | None = None, credentials: bool = True, secure: frozenset[str] = frozenset(),
         **files: str) -> Settings:
    """Settings of a project whose compose file is `compose` (and other files: name -> text)."""
    (tmp_path / "docker-compose.yml").write_text(textwrap.dedent(compose))
    for name, text in files.items():
        path = tmp_path / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    if not (tmp_path / "app").exists():
        (tmp_path / "app").symlink_to(ROOT / "app")
    data: dict[str, Any] = {"compose": {"file": "docker-compose.yml", "jobs": jobs or [], "secrets": secrets or {}},
                            **(settings or {})}
    if credentials:
        data["repository"] = {"upstreamCredentials": {"dockerhub": HUB, "ghcr": GHCR}}
    return Settings.from_dict(data, base_dir=tmp_path, secret_keys=secure)


def notes(s: Settings) -> str:
    return "\n".join(s.notes)


def service(s: Settings, name: str) -> Any:
    return next(w for w in s.workloads if w.name == name)


def refusal(tmp_path: Path, compose: dict[str, Any] | str, **kwargs: Any) -> str:
    with pytest.raises(SettingsError) as info:
        load(tmp_path, compose if isinstance(compose, str) else json.dumps(compose), **kwargs)
    return str(info.value)
