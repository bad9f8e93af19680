"""What a program needs from outside itself: its own Python environment and other stacks' outputs.

Shapes: pulumi/examples `aws-py-wordpress-fargate-rds` (imports a provider package, there
pulumi_random, that only its own virtualenv has; here a stand-in module), `aws-py-fargate`
(`toolchain: poetry`), pulumi/templates (`toolchain: uv`), and this repository's
`examples/consumer` (reads the platform stack through StackReference).
"""

from __future__ import annotations

import json
import site
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT, preview
from tests.test_preview import write_project
from tools.preview import environment

OWN_PACKAGE_SHAPE = """
import pulumi
import pulumi_aws as aws
import acme_naming

bucket = aws.s3.BucketV2("site", bucket=acme_naming.name("site"))
pulumi.export("bucket", bucket.bucket)
"""


def make_venv(directory: Path, *, with_sdk: bool) -> Path:
    """A virtualenv holding `acme_naming`, and (with_sdk) this test run's own packages (pulumi, pulumi_aws)."""
    venv.create(directory, with_pip=False, symlinks=True)
    (packages,) = directory.glob("lib/python*/site-packages")
    (packages / "acme_naming.py").write_text("def name(base):\n    return f'acme-{base}'\n")
    if with_sdk:
        (packages / "tool_packages.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return directory


def project_with_venv(tmp_path: Path, options: str = "virtualenv: venv") -> Path:
    directory = write_project(tmp_path / "p", OWN_PACKAGE_SHAPE, {"aws:region": "us-east-1"})
    (directory / "Pulumi.yaml").write_text(f"name: tiny\nruntime:\n  name: python\n  options:\n    {options}\n")
    return directory


@pytest.fixture(scope="module")
def sdk_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_venv(tmp_path_factory.mktemp("env") / "venv", with_sdk=True)


class TestOwnEnvironment:
    def test_program_runs_with_its_virtualenv(self, tmp_path: Path, sdk_venv: Path) -> None:
        directory = project_with_venv(tmp_path)
        (directory / "venv").symlink_to(sdk_venv)
        result = preview("--project-dir", directory, "--stack", "t", "--json")  # in_process falls back to a process
        assert result.returncode in (0, 1), result.stderr
        assert result.report["outputs"]["bucket"] == "acme-site"

    def test_environment_without_the_sdk_is_one_line(self, tmp_path: Path) -> None:
        directory = project_with_venv(tmp_path)
        make_venv(directory / "venv", with_sdk=False)
        result = preview("--project-dir", directory, "--stack", "t")
        assert result.returncode == 2
        (line,) = result.stderr.strip().splitlines()
        assert f"{directory / 'venv' / 'bin' / 'python'} cannot run the offline preview: No module named" in line
        assert "install the program's requirements there" in line

    def test_missing_virtualenv_runs_here_and_says_so(self, tmp_path: Path) -> None:
        directory = project_with_venv(tmp_path)
        result = preview("--project-dir", directory, "--stack", "t")
        assert result.returncode == 2
        (line,) = result.stderr.strip().splitlines()
        assert "ModuleNotFoundError: No module named 'acme_naming' (at __main__.py:4)" in line
        assert "Pulumi.yaml names the virtualenv venv (Pulumi.yaml runtime.options.virtualenv), which does not " \
               "exist here" in line

    def test_missing_virtualenv_is_a_note_when_the_program_runs(self, tmp_path: Path) -> None:
        directory = write_project(tmp_path / "p", "import pulumi\npulumi.export('x', 1)\n", {"aws:region": "us-east-1"})
        (directory / "Pulumi.yaml").write_text("name: tiny\nruntime:\n  name: python\n  options:\n"
                                               "    virtualenv: venv\n")
        notes = preview("--project-dir", directory, "--stack", "t", "--json").report["notes"]
        assert [n for n in notes if n.startswith("environment:")] == [
            f"environment: Pulumi.yaml names the virtualenv venv (Pulumi.yaml runtime.options.virtualenv), which does "
            f"not exist here; the program ran with this tool's Python and its packages ({sys.executable})"]


class TestResolution:
    """Where the Pulumi CLI's language host finds each toolchain's environment (sdk/python/toolchain)."""

    def runtime(self, **options: str) -> dict[str, Any]:
        return {"name": "python", "options": options}

    def test_uv_looks_up_for_pyproject(self, tmp_path: Path, sdk_venv: Path) -> None:
        (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
        (tmp_path / ".venv").symlink_to(sdk_venv)
        (tmp_path / "infra").mkdir()
        found = environment.resolve(tmp_path / "infra", self.runtime(toolchain="uv"))
        assert found.python == str(tmp_path / ".venv" / "bin" / "python") and found.note is None

    def test_poetry_without_poetry_uses_the_in_project_venv(self, tmp_path: Path, sdk_venv: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        (tmp_path / ".venv").symlink_to(sdk_venv)
        assert environment.resolve(tmp_path, self.runtime(toolchain="poetry")).python == \
            str(tmp_path / ".venv" / "bin" / "python")

    def test_pulumi_python_cmd(self, tmp_path: Path, sdk_venv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PULUMI_PYTHON_CMD", str(sdk_venv / "bin" / "python"))
        assert environment.resolve(tmp_path, "python").python == str(sdk_venv / "bin" / "python")

    def test_no_environment_named_is_this_python(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("PULUMI_PYTHON_CMD", raising=False)
        found = environment.resolve(tmp_path, "python")
        assert found.own and found.note is None


@pytest.fixture(scope="module")
def dev_outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dev stack's report in up mode (known ids), as a stack reference file."""
    result = preview("--stack", "dev", "--mode", "up", "--json")
    assert result.returncode == 0, result.stderr
    path = tmp_path_factory.mktemp("refs") / "dev.json"
    path.write_text(result.stdout)
    return path


class TestStackReferences:
    CONSUMER = ROOT / "examples" / "consumer"
    NAME = "acme/private-fargate/dev"

    def test_consumer_previews_with_the_dev_stack(self, dev_outputs: Path) -> None:
        platform = json.loads(dev_outputs.read_text())["outputs"]
        result = preview("--project-dir", self.CONSUMER, "--stack", "dev", "--json", "--mode", "up",
                         "--stack-reference", f"{self.NAME}={dev_outputs}")
        assert result.returncode == 0, result.stderr
        report = result.report
        assert report["outputs"]["subnetIds"] == platform["privateSubnetIds"]
        assert report["outputs"]["clusterArn"] == platform["clusterArn"]
        group = next(r for r in report["resources"] if r["type"] == "aws:ec2/securityGroup:SecurityGroup")
        assert group["inputs"]["vpcId"] == platform["vpcId"]
        assert any(n.startswith("environment: Pulumi.yaml names the virtualenv .venv") for n in report["notes"])

    def test_plain_outputs_file_and_unknown_values(self, tmp_path: Path) -> None:
        outputs = tmp_path / "outputs.json"
        outputs.write_text(json.dumps({"outputsVersion": 1, "region": "us-east-1", "vpcId": "<unknown>",
                                       "vpcCidr": "10.0.0.0/16", "repositoryUrl": "1.dkr.ecr/x",
                                       "repositoryName": "x", "privateSubnetIds": [], "clusterArn": "arn"}))
        result = preview("--project-dir", self.CONSUMER, "--stack", "dev", "--json",
                         "--stack-reference", f"{self.NAME}={outputs}")
        assert result.returncode == 0, result.stderr
        group = next(r for r in result.report["resources"] if r["type"] == "aws:ec2/securityGroup:SecurityGroup")
        assert group["inputs"]["vpcId"] == "<unknown>"

    def test_missing_reference_names_the_flag(self) -> None:
        result = preview("--project-dir", self.CONSUMER, "--stack", "dev")
        assert result.returncode == 2
        assert result.stderr.strip() == (
            f"error: the offline preview has no outputs for the stack reference {self.NAME}: give them with "
            f"--stack-reference {self.NAME}=FILE.json")

    @pytest.mark.parametrize("spec,fragment", [("nofile", "expected NAME=FILE.json"),
                                               ("a/b/c=/nonexistent.json", "cannot read it")])
    def test_bad_argument_is_one_line(self, spec: str, fragment: str) -> None:
        result = preview("--project-dir", self.CONSUMER, "--stack", "dev", "--stack-reference", spec)
        assert result.returncode == 2 and fragment in result.stderr and len(result.stderr.splitlines()) == 1
