"""The pack's EFS policies (policy/policies/efs.py): a compliant and a violating resource for each, unknown values,
and the full-stack example broken on purpose, which the pack stops."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policy.policies import POLICIES
from tests.support import UNKNOWN, preview, res, urn
from tools.preview.policies import evaluate

BY_NAME = {p.name: p for p in POLICIES}
FS = "aws:efs/fileSystem:FileSystem"
TD = "aws:ecs/taskDefinition:TaskDefinition"


SERVICE_DB = urn("private-fargate:service:FargateService", "service-db")


def efs_volume(**config: Any) -> dict[str, Any]:
    return {"name": "data", "efsVolumeConfiguration": {"fileSystemId": UNKNOWN, **config}}


def run(policy: str, resource: dict[str, Any]) -> list[dict[str, Any]]:
    return evaluate({"resources": [resource]}, None, [BY_NAME[policy]])


@pytest.mark.parametrize("inputs,violations", [
    ({"encrypted": True}, 0), ({"encrypted": False}, 1), ({}, 1),
])
def test_efs_encrypted(inputs: dict[str, Any], violations: int) -> None:
    found = run("efs-encrypted", res(FS, "volumes-fs", inputs))
    assert len(found) == violations and all(v["level"] == "mandatory" for v in found)
    if violations:
        assert "not encrypted at rest" in found[0]["message"]


@pytest.mark.parametrize("volumes,violations", [
    ([{"name": "tmp"}, efs_volume(transitEncryption="ENABLED")], 0),
    ([{"name": "tmp"}], 0),
    ([efs_volume(transitEncryption="DISABLED")], 1),
    ([efs_volume()], 1),  # ECS's default is DISABLED
    ([efs_volume(transitEncryption="ENABLED"), {**efs_volume(), "name": "other"}], 1),
])
def test_efs_transit_encryption(volumes: list[dict[str, Any]], violations: int) -> None:
    found = run("efs-transit-encryption", res(TD, "service-db-task", {"volumes": volumes}, parent=SERVICE_DB))
    assert len(found) == violations and all(v["level"] == "mandatory" for v in found)
    if violations:
        assert "without encryption in transit" in found[0]["message"]
        assert "(private-fargate setting: the services entry `db`)" in found[0]["message"]


def test_unknown_volumes_are_the_sdks_preview_advisory() -> None:
    (found,) = run("efs-transit-encryption", res(TD, "td", {"volumes": UNKNOWN}))
    assert found["level"] == "advisory" and "can't be known during preview" in found["message"]


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    result = preview("--stack", "fullstack", "--json")
    assert result.returncode == 0 and result.report["violations"] == []
    return result.report


class TestTheFullStackBrokenOnPurpose:
    """The example passes the pack; the same report with EFS at rest or in transit unencrypted does not."""

    def evaluate(self, report: dict[str, Any], change: Any) -> list[str]:
        broken = copy.deepcopy(report)
        for r in broken["resources"]:
            change(r)
        return [v["policy"] for v in evaluate(broken, None, POLICIES) if v["level"] == "mandatory"]

    def test_unencrypted_file_system(self, report: dict[str, Any]) -> None:
        def change(r: dict[str, Any]) -> None:
            if r["type"] == FS:
                r["inputs"]["encrypted"] = False
        assert self.evaluate(report, change) == ["efs-encrypted"]

    def test_mount_without_tls(self, report: dict[str, Any]) -> None:
        def change(r: dict[str, Any]) -> None:
            for v in r["inputs"].get("volumes", []) if r["type"] == TD else []:
                if "efsVolumeConfiguration" in v:
                    v["efsVolumeConfiguration"]["transitEncryption"] = "DISABLED"
        assert self.evaluate(report, change) == ["efs-transit-encryption"]
