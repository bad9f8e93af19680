"""The offline preview of a stack with images from ghcr.io, quay.io, docker.io and mcr.microsoft.com
(tests/fixtures/Pulumi.images.yaml): no policy violation, the warm and mirror steps before the task
definitions, and what they cost."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT, preview

FIXTURE = ROOT / "tests" / "fixtures" / "Pulumi.images.yaml"
WARM = "pulumi-python:dynamic/images:CacheWarm"
MIRROR = "pulumi-python:dynamic/images:ImageMirror"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    project = tmp_path_factory.mktemp("images")
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, project / name)
    for linked in ("components", "settings", "app"):
        (project / linked).symlink_to(ROOT / linked)
    shutil.copy(FIXTURE, project / FIXTURE.name)
    # the dev stack's policy config (its exceptions are explained in the README): this is a dev-like stack
    result = preview("--project-dir", project, "--stack", "images", "--json",
                     "--policy-config", ROOT / "policy" / "config.dev.json", cwd=Path(project))
    assert result.returncode == 0, result.stderr
    return result.report


def test_no_policy_violation(report: dict[str, Any]) -> None:
    assert report["violations"] == []


def test_steps_come_before_the_task_definitions(report: dict[str, Any]) -> None:
    by_urn = {r["urn"]: r for r in report["resources"]}
    steps = {r["inputs"]["reference"]: r["urn"] for r in report["resources"] if r["type"] in (WARM, MIRROR)}
    assert {by_urn[u]["type"] for u in steps.values()} == {WARM, MIRROR}
    expected = {"web": "ghcr.io/example-org/web:2.4.1", "metrics": "quay.io/prometheus/prometheus:v2.53.0",
                "db": "docker.io/library/postgres:16.4", "api": "mcr.microsoft.com/dotnet/samples:aspnetapp"}
    for service, reference in expected.items():
        task = next(r for r in report["resources"] if r["name"] == f"service-{service}-task")
        assert steps[reference] in task["dependencies"]
        image = json.loads(task["inputs"]["containerDefinitions"])[0]["image"]
        assert image.startswith("123456789012.dkr.ecr.us-east-1.amazonaws.com/private-fargate-images")


def test_cost_of_the_steps(report: dict[str, Any]) -> None:
    items = {i["item"]: i for i in report["cost"]["items"]}
    cached, mirrored = items["ECR storage: 3 image(s) cached at deploy"], items["ECR storage: 1 image(s) mirrored at "
                                                                                 "deploy"]
    assert (cached["quantity"], cached["unitPrice"], cached["monthly"]) == (1.5, 0.1, 0.15)
    assert (mirrored["quantity"], mirrored["monthly"]) == (0.5, 0.05)
