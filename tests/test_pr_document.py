"""`--format markdown` and `--baseline`: the summary, the cost difference, the policy rows, formatVersion, secrets.

The endpoints-to-NAT change is the dev stack with `network.egress: nat` (a copy of this project),
previewed against the dev stack's report as the baseline, and the other way round.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import ROOT, preview, stack_settings
from tools.preview import diff
from tools.preview.diff import FORMAT_VERSION, cost_rows, item_key, resource_diff, resource_key
from tools.preview.markdown import render_markdown


def report(stack: str) -> dict[str, Any]:
    return preview("--stack", stack, "--json").report


@pytest.fixture(scope="module")
def nat_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This project with a stack `dev` that has a NAT gateway (and still its endpoints)."""
    directory = tmp_path_factory.mktemp("nat")
    for name in ("Pulumi.yaml", "__main__.py"):
        (directory / name).write_text((ROOT / name).read_text())
    for linked in ("components", "settings", "app", "policy"):
        (directory / linked).symlink_to(ROOT / linked)
    settings = stack_settings("dev")
    settings["network"] = {**settings["network"], "egress": "nat"}
    config = {"aws:region": "us-east-1", **{f"private-fargate:{k}": v for k, v in settings.items()}}
    (directory / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": config}))
    return directory


@pytest.fixture(scope="module")
def nat_report(nat_project: Path) -> dict[str, Any]:
    result = preview("--project-dir", nat_project, "--stack", "dev", "--json")
    assert result.returncode == 0, result.stderr
    return result.report


def keys(rep: dict[str, Any]) -> set[str]:
    return {resource_key(r["urn"]) for r in rep["resources"] if r["type"] != "pulumi:pulumi:Stack"}


def test_json_report_carries_its_format_version() -> None:
    assert report("dev")["formatVersion"] == FORMAT_VERSION == 1
    assert list(report("dev"))[0] == "formatVersion"


@pytest.mark.parametrize(("content", "expected"), [
    (None, "cannot read it"),
    ("{not json", "not JSON"),
    ('{"stack": "dev"}', "no resources list"),
    ('{"stack": "dev", "resources": []}', "no formatVersion"),
    ('{"formatVersion": 99, "resources": []}', "formatVersion 99; this tools.preview reads 1"),
    ('{"formatVersion": true, "resources": []}', "formatVersion True; this tools.preview reads 1"),
    ('{"formatVersion": 1, "resources": [{"name": "x"}]}', "resources[0] has no urn, type"),
], ids=["missing", "not-json", "not-a-report", "older", "newer", "bool", "malformed"])
def test_a_baseline_it_cannot_read_is_one_line_and_exit_2(tmp_path: Path, content: str | None, expected: str) -> None:
    base = tmp_path / "base.json"
    if content is not None:
        base.write_text(content)
    result = preview("--stack", "dev", "--format", "markdown", "--baseline", base)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and expected in result.stderr and str(base) in result.stderr


def test_a_baseline_of_the_other_mode_is_refused(tmp_path: Path) -> None:
    """Preview-mode values are `<unknown>` where up-mode ones are filled in: a diff of the two is noise."""
    base = tmp_path / "base.json"
    base.write_text(json.dumps({**report("dev"), "mode": "up"}))
    result = preview("--stack", "dev", "--format", "markdown", "--baseline", base)
    assert result.returncode == 2 and "made in --mode up, this run is --mode preview" in result.stderr


def test_flags_that_disagree_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from tools.preview.__main__ import parse_args

    for argv in (["--json", "--format", "markdown"], ["--format", "svg"], ["--baseline", "b.json"]):
        with pytest.raises(SystemExit) as stop:
            parse_args(argv)
        assert stop.value.code == 2
    assert "--format svg needs --output FILE" in capsys.readouterr().err


def test_summary_counts_what_the_nat_change_creates(nat_report: dict[str, Any]) -> None:
    base = report("dev")
    changes = resource_diff(nat_report, base)
    assert {resource_key(r["urn"]) for r in changes.created} == keys(nat_report) - keys(base)
    assert not changes.deleted and changes.unchanged + len(changes.changed) == len(keys(base))
    created = {diff.short_type(r["type"]) for r in changes.created}
    assert {"NatGateway", "Eip", "InternetGateway", "Subnet", "Route"} <= created
    line = diff.summary_line(changes, True)
    assert line.startswith(f"**{len(changes.created)} to create** (") and "**0 to delete**" in line
    assert f"{sum(r['type'] == 'aws:ec2/route:Route' for r in changes.created)} Route" in line


def test_summary_counts_created_changed_and_deleted_resources() -> None:
    base = report("prod")
    now = copy.deepcopy(base)
    gone = next(r for r in now["resources"] if r["type"] == "aws:lb/listener:Listener")
    now["resources"].remove(gone)
    changed = next(r for r in now["resources"] if r["type"] == "aws:ecs/service:Service")
    changed["inputs"]["desiredCount"] = 5
    changed["protect"] = not changed["protect"]
    added = copy.deepcopy(changed)
    added["urn"] = added["urn"].replace("::service-web-service", "::service-api-service")
    now["resources"].append(added)
    changes = resource_diff(now, base)
    assert [r["urn"] for r in changes.created] == [added["urn"]]
    assert [(r["urn"], k) for r, k in changes.changed] == [(changed["urn"], ["desiredCount", "(protect)"])]
    assert [r["urn"] for r in changes.deleted] == [gone["urn"]]
    assert changes.unchanged == len(keys(base)) - 2
    assert diff.summary_line(changes, True) == ("**1 to create** (Service), **1 to change** (Service), **1 to delete** "
                                                f"(Listener); {changes.unchanged} unchanged.")
    document = render_markdown(now, base)
    assert "- `~` Service `service-web-service`: desiredCount, (protect)" in document
    assert "- `-` Listener `service-web-lb-http`" in document


def test_a_baseline_of_another_stack_name_still_matches() -> None:
    base = report("dev")
    renamed = json.loads(json.dumps(base).replace("urn:pulumi:dev::", "urn:pulumi:staging::"))
    changes = resource_diff(renamed, base)
    assert not changes.created and not changes.deleted and not changes.changed


def test_without_a_baseline_everything_is_to_create() -> None:
    dev = report("dev")
    document = preview("--stack", "dev", "--format", "markdown").stdout
    created = sum(r["type"] != "pulumi:pulumi:Stack" for r in dev["resources"])
    assert f"**{created} to create**" in document and "the stack as it would be created" in document
    assert "baseline" not in document.split("#### Topology")[0]


def test_cost_difference_from_endpoints_to_nat(nat_report: dict[str, Any]) -> None:
    base = report("dev")
    rows = {r.key: r for r in cost_rows(nat_report["cost"], base["cost"])}
    added = {k: r for k, r in rows.items() if r.status == "added"}
    assert {r.after["item"] for r in added.values()} == {"NAT gateway (1)", "public IPv4 addresses (1)"}
    assert all(r.status == "same" for k, r in rows.items() if k.startswith("interface endpoint"))
    total = sum(r.delta for r in rows.values())
    assert round(total, 2) == round(nat_report["cost"]["monthly"] - base["cost"]["monthly"], 2) > 0
    document = render_markdown(nat_report, base)
    nat = added["NAT gateway"].after
    monthly = f"${nat['monthly']:,.2f}"
    assert f"| added | {nat['item']} | - | {monthly} ({nat['quantity']:g} hour) | +{monthly} |" in document
    assert f"**+${total:,.2f}**" in document
    # and back: the NAT items are removed
    back = {r.key: r for r in cost_rows(base["cost"], nat_report["cost"])}
    assert {k for k, r in back.items() if r.status == "removed"} == set(added)
    assert all(r.status in ("same", "changed") for k, r in back.items() if k.startswith("public IPv4"))
    assert "| removed | NAT gateway (1) |" in render_markdown(base, nat_report)


def test_cost_difference_of_changed_quantities() -> None:
    dev, prod = report("dev"), report("prod")
    rows = {r.key: r for r in cost_rows(prod["cost"], dev["cost"])}
    endpoint = rows["interface endpoint ecr.api"]  # 1 AZ in dev, 3 in prod: one item, its quantity changed
    assert endpoint.status == "changed" and endpoint.after["quantity"] == 3 * endpoint.before["quantity"]
    assert rows["service web: x"].status == "changed"
    assert rows["job private-fargate-prod-report: runs"].status == "added"
    assert rows["job private-fargate-dev-report: runs"].status == "removed"
    assert any(k.startswith("load balancer ") and r.status == "added" for k, r in rows.items())
    assert round(sum(r.delta for r in rows.values()), 2) == round(prod["cost"]["monthly"] - dev["cost"]["monthly"], 2)


@pytest.mark.parametrize(("label", "key"), [
    ("interface endpoint ecr.api (3 AZ)", "interface endpoint ecr.api"),
    ("NAT gateway (2)", "NAT gateway"),
    ("load balancer web-int (1 LCU minimum)", "load balancer web-int (# LCU minimum)"),
    ("CloudWatch alarms (5, 8 alarm metrics)", "CloudWatch alarms (#, # alarm metrics)"),
    ("service web: 2 x 0.5 vCPU / 1 GB X86_64, spot, all month", "service web: x"),
    ("service web: 1 x 0.25 vCPU / 0.5 GB ARM64, on-demand, all month", "service web: x"),
    ("job report: 30.42 runs x 10 min, 0.25 vCPU", "job report: runs"),
    ("job report: state transitions (5 a successful run)", "job report: state"),
    ("worker thumbs: 100000 messages x 1 s, 0.25 vCPU", "worker thumbs: messages"),
    ("worker thumbs: SQS requests", "worker thumbs: SQS"),
])
def test_item_keys(label: str, key: str) -> None:
    assert item_key(label) == key


def test_assumptions_that_changed_are_marked() -> None:
    base, now = report("dev"), copy.deepcopy(report("dev"))
    now["cost"]["assumptions"]["endpointDataGbPerMonth"] = 500
    document = render_markdown(now, base)
    assert "Assumptions (1 changed)" in document and "- `endpointDataGbPerMonth`: 500 (baseline: 10)" in document


def violation(policy: str, level: str, urn: str | None, message: str) -> dict[str, Any]:
    return {"policy": policy, "level": level, "urn": urn, "message": message}


def test_policy_rows_mandatory_first_with_policy_and_resource() -> None:
    base = report("dev")
    now = copy.deepcopy(base)
    bucket = next(r for r in now["resources"] if r["type"] == "aws:s3/bucket:Bucket")
    service = next(r for r in now["resources"] if r["type"] == "aws:ecs/service:Service")
    base["violations"] = [violation("old-rule", "advisory", service["urn"], "was wrong")]
    now["violations"] = [violation("s3-thing", "advisory", bucket["urn"], "a | pipe <b>"),
                         violation("no-public-ip", "mandatory", service["urn"], "assigns a public IP"),
                         violation("stack-rule", "mandatory", None, "whole stack")]
    document = render_markdown(now, base)
    rows = [line for line in document.splitlines() if line.startswith("| new |")]
    assert rows == [
        "| new | **mandatory** | `no-public-ip` | Service `service-web-service` | assigns a public IP |",
        "| new | **mandatory** | `stack-rule` | the stack | whole stack |",
        "| new | advisory | `s3-thing` | Bucket `output-bucket` | a \\| pipe &lt;b&gt; |"]
    assert "**2 mandatory**, 1 advisory (`pulumi preview --policy-pack` fails)." in document
    assert "Fixed since the baseline (1):\n\n- advisory `old-rule` on `service-web-service`" in document


def test_policy_rows_of_a_real_run_one_per_violation(nat_project: Path) -> None:
    result = preview("--project-dir", nat_project, "--stack", "dev", "--json", "--policy-config",
                     ROOT / "policy" / "config.prod.json")  # prod's levels: dev's retention is too short there
    violations = result.report["violations"]
    assert violations
    document = render_markdown(result.report)
    rows = [line for line in document.splitlines() if line.startswith(("| **mandatory**", "| advisory"))]
    assert len(rows) == len(violations)
    assert all(f"`{v['policy']}`" in document for v in violations)


def test_secrets_never_reach_the_document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A policy that quotes a secret it read: the printed report and the document say [secret]."""
    (tmp_path / "Pulumi.yaml").write_text("name: tiny\nruntime:\n  name: python\n")
    (tmp_path / "__main__.py").write_text(
        "import pulumi, pulumi_aws as aws\n"
        "aws.ssm.Parameter('p', type='SecureString', value=pulumi.Output.secret('hunter2-db-password'))\n"
        "pulumi.export('password', pulumi.Output.secret('hunter2-db-password'))\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n")
    from tools.preview import policies

    def quoting(rep: dict[str, Any], config: Any) -> list[dict[str, Any]]:
        value = next(r for r in rep["resources"] if r["name"] == "p")["_policy"]["inputs"]["value"]
        return [violation("quotes", "advisory", None, f"the value is {json.dumps(value)}")]

    monkeypatch.setattr(policies, "evaluate", quoting)
    for fmt in ("markdown", "json", "text"):
        result = preview("--project-dir", tmp_path, "--stack", "dev", "--format", fmt)
        assert result.returncode == 0, result.stderr
        assert "hunter2" not in result.stdout and "_policy" not in result.stdout
        assert "the value is" in result.stdout and "[secret]" in result.stdout


def test_values_inside_a_secret_json_are_secret_too() -> None:
    """A container definition built from a secret image reference (`Config.require_secret("image")` inside
    `json.dumps`): the whole JSON is the secret, and the image a policy quotes from it is scrubbed as well."""
    from tools.preview.redact import scrub, secret_values
    from tools.preview.wire import _SECRET, _SIG

    definitions = json.dumps([{"name": "app", "image": "ghcr.io/acme/app:PrivateTag-7f3a9c", "essential": True}])
    resource = {"_policy": {"inputs": {"containerDefinitions": {_SIG: _SECRET, "value": definitions}}}}
    report = {"violations": [{"message": "pulls 'ghcr.io/acme/app:PrivateTag-7f3a9c' from outside ECR"}],
              "notes": ["app runs ghcr.io/acme/app:PrivateTag-7f3a9c"]}
    scrub(report, secret_values([resource]))
    assert "PrivateTag" not in json.dumps(report)
    assert report["violations"][0]["message"] == "pulls '[secret]' from outside ECR"
