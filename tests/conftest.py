"""Fixtures only (helpers and constants live in tests/support.py).

`run_program(settings, mode=...)` runs the whole program under mocks, `run_component(lambda: ...)`
one component, `cli(...)` the preview CLI in this process, `project_copy(settings)` a copy of this
project with a stack `t` for CLI runs; `aws` is moto (tasks move only when a test moves them) with
shared clients, `deployed` a stack deployed in it and its outputs file (tests/aws_stack.py).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.aws_stack import REGION, Stack, deploy, moto_state, restore_moto_state
from tests.support import (
    NAMESPACE,
    ROOT,
    CachedClients,
    CliResult,
    Registered,
    cached_clients,
    preview,
    program,
    simulate,
)

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


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[CachedClients]:
    """moto for this test, with clients shared across tests; ECS tasks stay RUNNING until a test stops them."""
    from moto import mock_aws
    from moto.moto_api import state_manager

    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        state_manager.set_transition(model_name="ecs::task", transition={"progression": "manual", "times": 10**6})
        yield cached_clients(REGION)
        state_manager.unset_transition("ecs::task")


@pytest.fixture
def deployed(aws: CachedClients, tmp_path: Path) -> Stack:
    """The stack of tests/aws_stack.py in moto; `stack.file` holds its outputs.

    Deployed through the API once per test process (36 calls), then each test gets its own copy of
    moto's state (a deep copy of the backends, milliseconds), so a test can break anything.
    """
    global _DEPLOYED
    if _DEPLOYED is None:
        stack = deploy(aws)
        _DEPLOYED = (copy.deepcopy(stack), moto_state())
    else:
        restore_moto_state(_DEPLOYED[1])
    stack = copy.deepcopy(_DEPLOYED[0])
    stack.file = tmp_path / "outputs.json"
    stack.file.write_text(json.dumps(stack.outputs))
    stack.session = aws
    return stack


_DEPLOYED: tuple[Stack, dict[tuple[str, str, str], Any]] | None = None
