"""The offline preview CLI: JSON contract, preview/up modes, isolation of previewed projects, failures."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT, UNKNOWN, CliResult, preview, preview_cli
from tools.preview.projectconfig import SECRET_PLACEHOLDER, ProjectError, load_project

RESOURCE_KEYS = {"urn", "type", "name", "parent", "custom", "inputs", "id", "outputs", "propertyDependencies",
                 "dependencies", "protect", "retainOnDelete"}

TINY_MAIN = """
import json
import pulumi
import pulumi_aws as aws
from components import MARKER, Pair

cfg = pulumi.Config()
vpc = aws.ec2.Vpc("vpc", cidr_block="10.9.0.0/16", tags={"team": cfg.require_object("settings")["team"]})
subnet = aws.ec2.Subnet("subnet", vpc_id=vpc.id, cidr_block="10.9.0.0/24",
                        opts=pulumi.ResourceOptions(protect=True, retain_on_delete=True))
pair = Pair("pair")
print("hello from the program")
pulumi.log.info("a note from the program")
pulumi.export("marker", MARKER)
pulumi.export("vpcArn", vpc.arn)
pulumi.export("vpcCidr", vpc.cidr_block)
pulumi.export("subnet", {"id": subnet.id, "cidr": subnet.cidr_block})
pulumi.export("password", cfg.require_secret("password"))
pulumi.export("settings", cfg.require_object("settings"))
pulumi.export("account", aws.get_caller_identity().account_id)
"""

TINY_COMPONENTS = """
import pulumi
import pulumi_aws as aws

MARKER = "the tiny project's own components"


class Pair(pulumi.ComponentResource):
    def __init__(self, name):
        super().__init__("tiny:index:Pair", name, None, None)
        self.group = aws.cloudwatch.LogGroup(f"{name}-logs", name="/tiny/pair", retention_in_days=7,
                                             opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({})
"""


def write_project(directory: Path, main: str, stack_config: dict[str, Any], components: str | None = None,
                  name: str = "tiny") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_text(f"name: {name}\nruntime:\n  name: python\n")
    (directory / "__main__.py").write_text(textwrap.dedent(main))
    (directory / "Pulumi.t.yaml").write_text(json.dumps({"config": stack_config}))
    if components is not None:
        (directory / "components").mkdir()
        (directory / "components" / "__init__.py").write_text(textwrap.dedent(components))
    return directory


def make_tiny(directory: Path) -> Path:
    return write_project(directory / "tiny", TINY_MAIN, {
        "aws:region": "eu-central-1",
        "tiny:password": {"secure": "v1:AAAABBBBCCCC"},
        "tiny:settings": {"team": "data", "sizes": [1, 2]},
    }, TINY_COMPONENTS)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return make_tiny(tmp_path)


@pytest.fixture(scope="module")
def tiny_process(tmp_path_factory: pytest.TempPathFactory) -> CliResult:
    """The tiny project run once in a process of its own, for the tests that read that one run."""
    return preview_cli("--project-dir", make_tiny(tmp_path_factory.mktemp("p")), "--stack", "t", "--json")


def run_tiny(tiny: Path, *extra: str) -> CliResult:
    """The tiny project through the CLI, in this process."""
    return preview("--project-dir", tiny, "--stack", "t", "--json", *extra)


def res(report: dict[str, Any], token: str, name: str | None = None) -> dict[str, Any]:
    found = [r for r in report["resources"] if r["type"] == token and (name is None or r["name"] == name)]
    assert len(found) == 1, found
    return found[0]


class TestJsonContract:
    """`--json` prints exactly the documented document and nothing else on stdout."""

    def test_dev_stack_json_shape(self) -> None:
        result = preview_cli("--stack", "dev", "--json")
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        report = result.report
        assert set(report) == {"formatVersion", "project", "stack", "mode", "resources", "outputs", "violations",
                               "notes", "compose", "cost"}
        assert report["compose"] == []  # no compose file in dev
        assert (report["project"], report["stack"], report["mode"]) == ("private-fargate", "dev", "preview")
        assert report["violations"] == [] and isinstance(report["notes"], list)
        assert set(report["cost"]) >= {"region", "currency", "monthly", "items", "assumptions"}
        assert report["cost"]["currency"] == "USD" and report["cost"]["region"] == "us-east-1"
        assert report["outputs"]["outputsVersion"] == 1
        for r in report["resources"]:
            assert set(r) == RESOURCE_KEYS
            assert isinstance(r["inputs"], dict) and isinstance(r["outputs"], dict)
            assert isinstance(r["protect"], bool) and isinstance(r["retainOnDelete"], bool)
            assert r["parent"] is None or any(p["urn"] == r["parent"] for p in report["resources"])

    @pytest.mark.parametrize("real", [False, True], ids=["in-process", "process"])
    def test_program_prints_go_to_stderr(self, tiny: Path, real: bool, tiny_process: CliResult) -> None:
        result = tiny_process if real else run_tiny(tiny)
        assert result.returncode == 0, result.stderr
        assert result.stderr == "hello from the program\n"
        assert "hello from the program" not in result.stdout
        json.loads(result.stdout)

    def test_log_messages_become_notes(self, tiny: Path) -> None:
        assert "a note from the program" in run_tiny(tiny).report["notes"]

    def test_text_mode_prints_a_tree(self, tiny: Path) -> None:
        result = preview("--project-dir", tiny, "--stack", "t")
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert "pulumi:pulumi:Stack" in out and "tiny-t" in out
        assert "└─ aws:cloudwatch/logGroup:LogGroup" in out
        assert "[protected]" in out and "+ 4 to create" in out
        assert "vpcArn: output<unknown>" in out


class TestInProcess:
    """The tests' fast path runs the CLI's main in the test process: the same report, nothing left behind."""

    def test_same_report_as_a_process(self) -> None:
        fast, real = preview("--stack", "dev", "--json"), preview_cli("--stack", "dev", "--json")
        assert (fast.returncode, fast.stdout, fast.stderr) == (real.returncode, real.stdout, real.stderr)

    def test_leaves_path_directory_and_modules_as_they_were(self, tiny: Path) -> None:
        import os
        import sys

        import components

        path, cwd = list(sys.path), os.getcwd()
        assert run_tiny(tiny).report["outputs"]["marker"] == "the tiny project's own components"
        assert (sys.path, os.getcwd()) == (path, cwd)
        assert sys.modules["components"] is components and not hasattr(components, "MARKER")


class TestOtherProjects:
    """`--project-dir` runs any Pulumi Python project with its own config and its own modules."""

    @pytest.mark.parametrize("real", [False, True], ids=["in-process", "process"])
    def test_own_components_package_is_used(self, tiny: Path, real: bool, tiny_process: CliResult) -> None:
        report = (tiny_process if real else run_tiny(tiny)).report
        assert report["project"] == "tiny" and report["stack"] == "t"
        assert report["outputs"]["marker"] == "the tiny project's own components"
        assert res(report, "tiny:index:Pair")["custom"] is False
        group = res(report, "aws:cloudwatch/logGroup:LogGroup")
        assert group["parent"] == res(report, "tiny:index:Pair")["urn"]

    def test_structured_and_secret_config(self, tiny: Path) -> None:
        report = run_tiny(tiny).report
        assert report["outputs"]["settings"] == {"team": "data", "sizes": [1, 2]}
        assert report["outputs"]["password"] == "[secret]"
        assert res(report, "aws:ec2/vpc:Vpc")["inputs"]["tags"] == {"team": "data"}

    def test_region_and_account_from_stack_config(self, tiny: Path) -> None:
        cfg = json.loads((tiny / "Pulumi.t.yaml").read_text())
        cfg["config"]["aws:allowedAccountIds"] = ["210987654321"]
        (tiny / "Pulumi.t.yaml").write_text(json.dumps(cfg))
        report = run_tiny(tiny, "--mode", "up").report
        assert report["outputs"]["account"] == "210987654321"
        assert report["outputs"]["vpcArn"].startswith("arn:aws:ec2:eu-central-1:210987654321:")

    def test_protect_and_retain_recorded(self, tiny: Path) -> None:
        report = run_tiny(tiny).report
        subnet, vpc = res(report, "aws:ec2/subnet:Subnet"), res(report, "aws:ec2/vpc:Vpc")
        assert (subnet["protect"], subnet["retainOnDelete"]) == (True, True)
        assert (vpc["protect"], vpc["retainOnDelete"]) == (False, False)


class TestModes:
    """preview: ids and computed outputs unknown, with property dependencies; up: all known."""

    def test_preview_leaves_computed_values_unknown(self, tiny: Path) -> None:
        report = run_tiny(tiny, "--mode", "preview").report
        vpc, subnet = res(report, "aws:ec2/vpc:Vpc"), res(report, "aws:ec2/subnet:Subnet")
        assert report["mode"] == "preview"
        assert vpc["id"] == UNKNOWN and subnet["id"] == UNKNOWN
        assert vpc["outputs"]["cidrBlock"] == "10.9.0.0/16"
        for computed in ("arn", "mainRouteTableId", "defaultSecurityGroupId"):
            assert vpc["outputs"][computed] == UNKNOWN, computed
        assert "id" not in vpc["outputs"]
        assert subnet["inputs"]["vpcId"] == UNKNOWN
        assert subnet["propertyDependencies"]["vpcId"] == [vpc["urn"]]
        assert vpc["urn"] in subnet["dependencies"]
        assert report["outputs"]["vpcArn"] == UNKNOWN
        assert report["outputs"]["vpcCidr"] == "10.9.0.0/16"
        assert report["outputs"]["subnet"] == {"id": UNKNOWN, "cidr": "10.9.0.0/24"}

    def test_up_fills_in_ids_and_outputs(self, tiny: Path) -> None:
        report = run_tiny(tiny, "--mode", "up").report
        vpc, subnet = res(report, "aws:ec2/vpc:Vpc"), res(report, "aws:ec2/subnet:Subnet")
        assert vpc["id"].startswith("vpc-") and subnet["id"].startswith("subnet-")
        assert subnet["inputs"]["vpcId"] == vpc["id"]
        assert subnet["propertyDependencies"]["vpcId"] == [vpc["urn"]]
        assert vpc["outputs"]["arn"] == report["outputs"]["vpcArn"]
        assert report["outputs"]["vpcArn"].startswith("arn:aws:ec2:eu-central-1:123456789012:")
        assert report["outputs"]["subnet"]["id"] == subnet["id"]

    def test_up_is_deterministic(self, tiny: Path) -> None:
        first, second = run_tiny(tiny, "--mode", "up").report, run_tiny(tiny, "--mode", "up").report
        assert first["resources"] == second["resources"]


class TestFailures:
    """The program or its settings failing: exit 2, one line on stderr, no traceback."""

    def test_unanswered_invoke_names_its_token(self, tmp_path: Path) -> None:
        project = write_project(tmp_path / "p", """
            import pulumi
            pulumi.runtime.invoke("acme:index/getThing:getThing", {})
        """, {"aws:region": "us-east-1"})
        result = preview("--project-dir", project, "--stack", "t", "--json")
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr.strip().splitlines() == [
            "error: the offline preview cannot answer the invoke acme:index/getThing:getThing (no result type for it "
            "in the installed SDKs)"]

    @pytest.mark.parametrize("real", [False, True], ids=["in-process", "process"])
    def test_program_exception_is_one_line_with_location(self, tmp_path: Path, real: bool) -> None:
        project = write_project(tmp_path / "p", """
            import pulumi

            def check(value):
                raise ValueError(f"bad value {value}")

            check(42)
        """, {"aws:region": "us-east-1"})
        result = (preview_cli if real else preview)("--project-dir", project, "--stack", "t")
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            "error: the program failed: ValueError: bad value 42 (at __main__.py:5)"]

    def test_syntax_error_points_at_the_file(self, tmp_path: Path) -> None:
        project = write_project(tmp_path / "p", "import pulumi\nx = (\n", {"aws:region": "us-east-1"})
        result = preview("--project-dir", project, "--stack", "t")
        assert result.returncode == 2
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("error: the program failed: SyntaxError: ") and line.endswith("(at __main__.py:2)")

    def test_failing_apply_is_reported(self, tmp_path: Path) -> None:
        project = write_project(tmp_path / "p", """
            import pulumi
            import pulumi_aws as aws
            vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
            pulumi.export("x", vpc.cidr_block.apply(lambda c: 1 / 0))
        """, {"aws:region": "us-east-1"})
        result = preview("--project-dir", project, "--stack", "t", "--json")
        assert result.returncode == 2
        assert "ZeroDivisionError" in result.stderr and "Traceback" not in result.stderr

    @pytest.mark.parametrize("stack_yaml,fragment", [
        ("config:\n  - a\n", "config: expected a mapping of keys to values, got list"),
        ("[1, 2]\n", "expected a mapping at the top level"),
    ])
    def test_malformed_stack_file(self, tiny: Path, stack_yaml: str, fragment: str) -> None:
        (tiny / "Pulumi.t.yaml").write_text(stack_yaml)
        result = preview("--project-dir", tiny, "--stack", "t")
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and fragment in result.stderr

    def test_nan_output_is_not_json(self, tmp_path: Path) -> None:
        project = write_project(tmp_path / "p", """
            import pulumi
            pulumi.export("ratio", float("nan"))
        """, {"aws:region": "us-east-1"})
        result = preview("--project-dir", project, "--stack", "t", "--json")
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.startswith("error: the report is not valid JSON")

    def test_multiline_run_error_is_one_line(self, tmp_path: Path) -> None:
        project = write_project(tmp_path / "p", """
            import pulumi
            raise pulumi.RunError("first line" + chr(10) + "second line")
        """, {"aws:region": "us-east-1"})
        result = preview("--project-dir", project, "--stack", "t")
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == ["error: first line second line"]

    def test_two_resources_with_one_name(self, tmp_path: Path) -> None:
        project = write_project(tmp_path / "p", """
            import pulumi_aws as aws
            aws.s3.Bucket("data")
            aws.s3.Bucket("data")
        """, {"aws:region": "us-east-1"})
        result = preview("--project-dir", project, "--stack", "t")
        assert result.returncode == 2
        assert "two resources have the same name: aws:s3/bucket:Bucket 'data'" in result.stderr

    def test_missing_stack_file(self, tiny: Path) -> None:
        result = preview("--project-dir", tiny, "--stack", "nope")
        assert result.returncode == 2
        assert "Pulumi.nope.yaml: no config for stack 'nope'" in result.stderr

    def test_not_a_project(self, tmp_path: Path) -> None:
        result = preview("--project-dir", tmp_path, "--stack", "t")
        assert result.returncode == 2 and "no Pulumi.yaml" in result.stderr


class TestProjectConfig:
    """Config as the Pulumi CLI passes it: strings, JSON for structured values, secure values hidden."""

    def test_values(self, tmp_path: Path) -> None:
        (tmp_path / "Pulumi.yaml").write_text(
            "name: demo\nruntime: python\nconfig:\n  level: {default: 3}\n  aws:region: eu-west-1\n")
        (tmp_path / "__main__.py").write_text("")
        (tmp_path / "Pulumi.s.yaml").write_text(
            "config:\n  demo:flag: true\n  demo:obj:\n    a: [1, {secure: v1:xyz}]\n  other:name: x\n")
        cfg = load_project(tmp_path, "s")
        assert cfg.config == {"demo:level": "3", "aws:region": "eu-west-1", "demo:flag": "true",
                              "demo:obj": json.dumps({"a": [1, SECRET_PLACEHOLDER]}), "other:name": "x"}
        assert cfg.secret_keys == ("demo:obj",) and cfg.region == "eu-west-1"

    def test_yaml_dates_stay_text(self, tmp_path: Path) -> None:
        (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: python\n")
        (tmp_path / "__main__.py").write_text("")
        (tmp_path / "Pulumi.s.yaml").write_text("config:\n  demo:since: 2024-01-01\n  demo:t: {when: 2024-01-01}\n")
        cfg = load_project(tmp_path, "s").config
        assert cfg["demo:since"] == "2024-01-01" and json.loads(cfg["demo:t"]) == {"when": "2024-01-01"}

    @pytest.mark.parametrize("real", [False, True], ids=["in-process", "process"])
    def test_entry_point_in_a_subdirectory(self, tmp_path: Path, real: bool) -> None:
        (tmp_path / "src").mkdir()
        (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: python\nmain: src\n")
        (tmp_path / "src" / "__main__.py").write_text(
            "import sys, pulumi\npulumi.export('first', sys.path[0])\npulumi.export('second', sys.path[1])\n")
        (tmp_path / "Pulumi.s.yaml").write_text("config: {}\n")
        result = (preview_cli if real else preview)("--project-dir", tmp_path, "--stack", "s", "--json")
        assert result.returncode == 0, result.stderr
        assert result.report["outputs"] == {"first": str(tmp_path.resolve()), "second": str(tmp_path.resolve() / "src")}

    def test_other_runtime_rejected(self, tmp_path: Path) -> None:
        (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: nodejs\n")
        with pytest.raises(ProjectError, match="runtime is 'nodejs'"):
            load_project(tmp_path, "s")

    def test_invalid_yaml_names_the_line(self, tmp_path: Path) -> None:
        (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: python\n")
        (tmp_path / "__main__.py").write_text("")
        (tmp_path / "Pulumi.s.yaml").write_text("config:\n  a: [\n")
        with pytest.raises(ProjectError, match=r"Pulumi.s.yaml line \d+: not valid YAML"):
            load_project(tmp_path, "s")

    def test_shipped_stacks_load(self) -> None:
        for stack_file in ROOT.glob("Pulumi.*.yaml"):
            stack = stack_file.name.split(".")[1]
            assert load_project(ROOT, stack).config["aws:region"]
