"""dev.py: the locks match their inputs, set-up says one line when it cannot go on, tests run in parallel."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import dev
from tests.support import ROOT


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the requirement inputs and locks, which dev.py then reads."""
    for source, lock in dev.LOCKS:
        for name in (source, lock):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, tmp_path / name)
    monkeypatch.setattr(dev, "ROOT", tmp_path)
    return tmp_path


class TestLocks:
    def test_every_lock_matches_its_input(self) -> None:
        assert dev.stale_lock() is None

    def test_every_lock_is_hash_checked(self) -> None:
        for _, lock in dev.LOCKS:
            pins, _ = dev.locked_versions(ROOT / lock)
            text = (ROOT / lock).read_text()
            assert pins and text.count("--hash=sha256:") >= len(pins), lock

    def test_program_and_pack_pin_what_the_tests_ran(self) -> None:
        tested, _ = dev.locked_versions(ROOT / dev.DEV_LOCK)
        for _, lock in dev.LOCKS:
            pins, _ = dev.locked_versions(ROOT / lock)
            assert {n: v for n, v in pins.items() if tested.get(n) != v} == {}, lock

    def test_pulumi_installs_the_lock(self) -> None:
        import yaml

        project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]["options"]
        pack = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())["runtime"]["options"]
        # The pip toolchain installs requirements.txt of the directory: the locks themselves.
        assert project["toolchain"] == pack["toolchain"] == "pip"
        assert (project["virtualenv"], pack["virtualenv"]) == (".venv", "venv")

    @pytest.mark.parametrize("edit,expected", [
        (("requirements.in", "pydantic>=2.11,<3", "pydantic>=99"),
         "requirements.in asks for pydantic>=99, but requirements.txt pins pydantic=="),
        (("requirements.in", "pyyaml>=6,<7", "pyyaml>=6,<7\nrich>=13"),
         "requirements.in asks for rich>=13, which requirements.txt does not pin"),
        (("requirements-dev.in", "pip-audit>=2.7,<3\n", ""),
         "requirements-dev.txt still pins pip-audit, which requirements-dev.in no longer asks for"),
        (("policy/requirements.in", "pulumi-policy>=1.13,<2", "pulumi-policy>=1.13,<2\nboto3"),
         "policy/requirements.in asks for boto3, which policy/requirements.txt does not pin"),
    ], ids=["range", "added", "removed", "pack"])
    def test_an_input_changed_without_relocking(self, repo: Path, edit: tuple[str, str, str], expected: str) -> None:
        name, old, new = edit
        text = (repo / name).read_text()
        assert old in text
        (repo / name).write_text(text.replace(old, new))
        assert expected in (dev.stale_lock() or "")

    def test_stale_lock_is_one_line_naming_the_command(self, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
        (repo / "requirements.in").write_text((repo / "requirements.in").read_text() + "rich>=13\n")
        assert dev.main(["lint"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].endswith("run `python3 dev.py lock` and commit the lock files")


class TestSetupMessages:
    @pytest.mark.parametrize("output,expected", [
        ("WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError(... Failed to establish "
         "a new connection: [Errno 111] Connection refused')': /simple/six/\nERROR: No matching distribution",
         "the package index cannot be reached"),
        ("ERROR: Could not find a version that satisfies the requirement six==1.16.0 (from versions: none)",
         "no package index offered six==1.16.0"),
        ("ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE.", "DO NOT MATCH THE HASHES"),
    ], ids=["refused", "no-versions", "hash"])
    def test_pip_failure_is_one_line(self, monkeypatch: pytest.MonkeyPatch, output: str, expected: str) -> None:
        def fake_run(*_: Any, **__: Any) -> subprocess.CompletedProcess[str]:
            return subprocess.CompletedProcess([], 1, "", output)

        monkeypatch.setattr(dev.subprocess, "run", fake_run)
        with pytest.raises(dev.SetupError) as caught:
            dev.pip(Path("python"), "install", what="installing requirements-dev.txt")
        assert expected in str(caught.value) and "\n" not in str(caught.value)


class TestTestCommand:
    def test_everything_runs_on_every_core(self) -> None:
        assert dev.pytest_args([]) == ["-m", "pytest", "-n", "auto"]
        assert dev.pytest_args(["-p", "no:cacheprovider"])[:4] == ["-m", "pytest", "-n", "auto"]

    @pytest.mark.parametrize("args", [["tests/test_cost.py"], ["tests/test_cost.py::TestItems"], ["-k", "cost"]])
    def test_a_chosen_test_runs_at_once(self, args: list[str]) -> None:
        assert "-n" not in dev.pytest_args(args)


class TestAudit:
    @staticmethod
    def audit_with(monkeypatch: pytest.MonkeyPatch, dependencies: list[dict[str, Any]]) -> int:
        import json

        monkeypatch.setattr(dev, "python", lambda check_locks=True: Path("python"))
        monkeypatch.setattr(dev.subprocess, "run", lambda *_, **__: subprocess.CompletedProcess(
            [], 0, json.dumps({"dependencies": dependencies}), ""))
        return dev.audit()

    def test_a_vulnerability_with_a_fix_fails(self, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
        vuln = {"id": "GHSA-x", "fix_versions": ["2.32.4"]}
        assert self.audit_with(monkeypatch, [{"name": "requests", "version": "2.32.3", "vulns": [vuln]}]) == 1
        assert "run `python3 dev.py lock --upgrade-package requests`" in capsys.readouterr().err

    def test_a_vulnerability_without_a_fix_passes(self, monkeypatch: pytest.MonkeyPatch) -> None:
        vuln = {"id": "GHSA-y", "fix_versions": []}
        assert self.audit_with(monkeypatch, [{"name": "a", "version": "1", "vulns": [vuln]}]) == 0

    def test_nothing_looked_up_is_not_a_pass(self, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
        skipped = [{"name": "a", "version": "1", "skip_reason": "Dependency not found on PyPI"}]
        assert self.audit_with(monkeypatch, skipped) == 2
        assert "nothing was checked" in capsys.readouterr().err
