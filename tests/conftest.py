"""Shared fixtures: run the program, one component, or the preview CLI under Pulumi mocks.

Every run gets a fresh event loop, root stack and config (see tools/preview/child.simulate), so
tests are independent. Results come back in the shape of the preview's `--json` resources.
"""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.preview import child

ROOT = Path(__file__).resolve().parent.parent
UNKNOWN = child.UNKNOWN_TEXT
NAMESPACE = "private-fargate"


@dataclass
class Registered:
    """What a mocked run registered, with lookups that fail loudly when a resource is missing."""

    resources: list[dict[str, Any]]
    outputs: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)  # by URN: ignoreChanges, ...

    def of_type(self, token: str) -> list[dict[str, Any]]:
        """Resources of one type token, e.g. `aws:ec2/subnet:Subnet`."""
        return [r for r in self.resources if r["type"] == token]

    def one(self, token: str, name: str | None = None) -> dict[str, Any]:
        """The single resource of a type (and name, if given)."""
        found = [r for r in self.of_type(token) if name is None or r["name"] == name]
        assert len(found) == 1, f"expected one {token} {name or ''}, found {[r['name'] for r in found]}"
        return found[0]

    def custom(self) -> list[dict[str, Any]]:
        """Cloud resources only (no components, no stack)."""
        return [r for r in self.resources if r["custom"]]


def config_map(settings: dict[str, Any], region: str = "us-east-1") -> dict[str, str]:
    """Settings (the namespace's keys) as the CLI hands them to a program: JSON strings."""
    out = {"aws:region": region}
    for key, value in settings.items():
        out[f"{NAMESPACE}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return out


def stack_settings(stack: str) -> dict[str, Any]:
    """The `private-fargate:*` settings of a shipped stack file, without the prefix."""
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in doc.items() if k.startswith(NAMESPACE + ":")}


def simulate(build: Callable[[], Any], settings: dict[str, Any] | None = None, *, mode: str = "preview",
             stack: str = "dev", region: str = "us-east-1", secret_keys: Iterable[str] = ()) -> Registered:
    """Run `build` under mocks with the given settings and return what it registered."""
    result = child.simulate(build, project=NAMESPACE, stack=stack, config=config_map(settings or {}, region),
                            secret_keys=list(secret_keys), region=region, mode=mode, project_dir=ROOT)
    return Registered(**result)


def run_main() -> None:
    """Execute this repository's Pulumi program (`__main__.py`)."""
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


@pytest.fixture
def run_program() -> Callable[..., Registered]:
    """Run the whole program under mocks: `run_program(settings, mode=..., stack=..., region=...)`."""

    def _run(settings: dict[str, Any] | None = None, **kwargs: Any) -> Registered:
        return simulate(run_main, settings, **kwargs)

    return _run


@pytest.fixture
def run_component() -> Callable[..., Registered]:
    """Build one component under mocks: `run_component(lambda: Component(...), mode=...)`."""

    def _run(build: Callable[[], Any], settings: dict[str, Any] | None = None, **kwargs: Any) -> Registered:
        return simulate(build, settings, **kwargs)

    return _run


@dataclass
class CliResult:
    """Exit status and output of one `python -m tools.preview` run."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, Any]:
        """stdout parsed as the `--json` document."""
        return json.loads(self.stdout)


def preview_cli(*args: str | Path, cwd: Path = ROOT) -> CliResult:
    """Run the preview CLI in a subprocess, as a user would."""
    proc = subprocess.run([sys.executable, "-m", "tools.preview", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, check=False, timeout=120)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    """`cli("--stack", "dev", "--json")` runs the preview CLI from the repository root."""
    return preview_cli


@pytest.fixture
def project_copy(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    """A copy of this project whose stack `t` has the given settings; returns its directory."""

    def _make(settings: dict[str, Any], region: str = "us-east-1") -> Path:
        for name in ("Pulumi.yaml", "__main__.py"):
            (tmp_path / name).write_text((ROOT / name).read_text())
        (tmp_path / "components").symlink_to(ROOT / "components")
        for extra in ("app",):
            if (ROOT / extra).exists():
                (tmp_path / extra).symlink_to(ROOT / extra)
        config = {"aws:region": region, **{f"{NAMESPACE}:{k}": v for k, v in settings.items()}}
        (tmp_path / "Pulumi.t.yaml").write_text(yaml.safe_dump({"config": config}))
        return tmp_path

    return _make
