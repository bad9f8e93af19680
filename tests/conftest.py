"""Fixtures only (helpers and constants live in tests/support.py).

`run_program(settings, mode=...)` runs the whole program under mocks, `run_component(lambda: ...)`
one component, `cli(...)` the preview CLI in this process, `project_copy(settings)` a copy of this
project with a stack `t` for CLI runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import NAMESPACE, ROOT, CliResult, Registered, preview, program, simulate

# moto fills every new EC2 backend with thousands of AMIs (a third of a second each); no test reads them.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest.fixture
def run_program() -> Callable[..., Registered]:
    """Run the whole program under mocks: `run_program(settings, mode=..., stack=..., region=...)`."""
    return program


@pytest.fixture
def run_component() -> Callable[..., Registered]:
    """Build one component under mocks: `run_component(lambda: Component(...), mode=...)`."""

    def _run(build: Callable[[], Any], settings: dict[str, Any] | None = None, **kwargs: Any) -> Registered:
        return simulate(build, settings, **kwargs)

    return _run


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    """`cli("--stack", "dev", "--json")` runs the preview CLI (in this process) from the repository root."""
    return preview


@pytest.fixture
def project_copy(tmp_path: Path) -> Callable[..., Path]:
    """A copy of this project whose stack `t` has the given settings; returns its directory."""

    def _make(settings: dict[str, Any], region: str = "us-east-1") -> Path:
        for name in ("Pulumi.yaml", "__main__.py"):
            (tmp_path / name).write_text((ROOT / name).read_text())
        for linked in ("components", "settings", "app"):
            if (ROOT / linked).exists():
                (tmp_path / linked).symlink_to(ROOT / linked)
        config = {"aws:region": region, **{f"{NAMESPACE}:{k}": v for k, v in settings.items()}}
        (tmp_path / "Pulumi.t.yaml").write_text(yaml.safe_dump({"config": config}))
        return tmp_path

    return _make
