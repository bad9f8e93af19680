"""The GitHub workflows stay hardened: SHA pins in the form Dependabot updates, least-privilege
permissions per job, no persisted checkout token, explicit secrets, one deploy per stack at a time,
the checks the README promises, Dependabot over every lock, and the zizmor gate that fails on low.

Each rule is a function returning the problems it finds, run on the real files (no problem) and on
a copy broken on purpose (the problem named), so a rule that stopped looking would fail here.
"""

from __future__ import annotations

import copy
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import dev
from tests.support import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
DEPENDABOT = ROOT / ".github" / "dependabot.yml"
#: `owner/repo[/path]@<40 hex> # v<version>`: what Dependabot reads and rewrites (SHA and comment).
PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+(/[^@\s]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^v\d+(\.\d+){0,2}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*?))?\s*$")
#: The only grants above `read`, and what a job must do to hold them.
WRITE_GRANTS = {"id-token": "assumes AWS credentials", "pull-requests": "comments on the pull request"}


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def workflows() -> dict[str, dict[str, Any]]:
    return {p.name: load(p) for p in sorted(WORKFLOWS.glob("*.y*ml"))}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps") or []


def action(step: dict[str, Any]) -> str:
    """`owner/repo[/path]` of a step's action ('' for a `run:` step)."""
    return str(step.get("uses", "")).split("@", 1)[0]


def is_local(ref: str) -> bool:
    return ref.startswith(("./", "$/"))


def called_jobs(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The jobs of the reusable workflow a job calls (none for a job with steps)."""
    ref = job.get("uses", "")
    if not is_local(ref):
        return []
    return list(load(ROOT / ref[2:])["jobs"].values())


def assumes_aws(job: dict[str, Any]) -> bool:
    inner = [job, *called_jobs(job)]
    return any(action(s) == "aws-actions/configure-aws-credentials" for j in inner for s in steps(j))


def comments_on_pr(job: dict[str, Any]) -> bool:
    """A step that writes a PR comment: pulumi/actions' `comment-on-pr`, `gh pr comment`, github-script, or
    this repository's `tools/pr_comment.py post`."""
    for step in steps(job):
        if str((step.get("with") or {}).get("comment-on-pr", "")).lower() == "true":
            return True
        run = str(step.get("run", ""))
        if "gh pr comment" in run or "pr_comment.py post" in run or action(step) == "actions/github-script":
            return True
    return False


# -- rules: each returns the problems it finds -------------------------------------------------------


def pin_problems(text: str, parsed: dict[str, Any]) -> list[str]:
    """Every `uses:` of a third-party action is `owner/repo[/path]@<sha> # v<version>`; local ones exist."""
    problems = []
    seen = []
    for number, line in enumerate(text.splitlines(), 1):
        m = USES_LINE.match(line)
        if not m:
            continue
        ref, comment = m.group("ref"), m.group("comment")
        seen.append(ref)
        if is_local(ref):
            if not (ROOT / ref[2:]).is_file():
                problems.append(f"line {number}: {ref} does not exist")
        elif ref.startswith("docker://"):
            if "@sha256:" not in ref:
                problems.append(f"line {number}: {ref} is not pinned to a digest")
        elif not PINNED.match(ref):
            problems.append(f"line {number}: {ref} is not pinned to a full commit SHA")
        elif not (comment and VERSION_COMMENT.match(comment)):
            problems.append(f"line {number}: {ref} has no `# v<version>` comment (got {comment!r})")
    parsed_refs = [j["uses"] for j in parsed["jobs"].values() if "uses" in j]
    parsed_refs += [s["uses"] for j in parsed["jobs"].values() for s in steps(j) if "uses" in s]
    if sorted(parsed_refs) != sorted(seen):  # a `uses` the line scan missed (flow style, odd spacing)
        problems.append(f"uses not on their own line: {sorted(set(parsed_refs) - set(seen))}")
    return problems


def permission_problems(doc: dict[str, Any]) -> list[str]:
    """No default grant for the workflow; each job names its own, only `read`, `none` or a justified write."""
    problems = []
    if doc.get("permissions") != {}:
        problems.append(f"workflow-level permissions are {doc.get('permissions')!r}, not {{}}")
    for name, job in doc["jobs"].items():
        grants = job.get("permissions")
        if not isinstance(grants, dict):
            problems.append(f"{name}: no per-job permissions mapping (got {grants!r})")
            continue
        for scope, level in grants.items():
            if level in ("read", "none"):
                continue
            needed = {"id-token": assumes_aws(job), "pull-requests": comments_on_pr(job)}.get(scope)
            if level != "write" or not needed:
                why = WRITE_GRANTS.get(scope, "never granted")
                problems.append(f"{name}: {scope}: {level} but the job does not need it ({scope} write: {why})")
        if assumes_aws(job) and grants.get("id-token") != "write":
            problems.append(f"{name}: assumes AWS credentials without id-token: write")
    return problems


def job_problems(doc: dict[str, Any]) -> list[str]:
    """Checkouts keep no token, secrets are passed by name, secrets reach steps only."""
    problems = []
    for name, job in doc["jobs"].items():
        if job.get("secrets") == "inherit":
            problems.append(f"{name}: secrets: inherit")
        if "secrets." in yaml.safe_dump(job.get("env") or {}):
            problems.append(f"{name}: a secret in the job's env (every step would see it)")
        for step in steps(job):
            if action(step) == "actions/checkout" and (step.get("with") or {}).get("persist-credentials") is not False:
                problems.append(f"{name}: checkout without persist-credentials: false")
    return problems


def deploy_problems(doc: dict[str, Any]) -> list[str]:
    """A job running `pulumi up` is in an environment and in a per-stack concurrency group it never cancels."""
    problems = []
    for name, job in doc["jobs"].items():
        for step in steps(job):
            args = step.get("with") or {}
            if action(step) != "pulumi/actions" or args.get("command") not in ("up", "destroy"):
                continue
            stack = str(args.get("stack-name", "")).rsplit("/", 1)[-1]
            group = (job.get("concurrency") or {}).get("group", "")
            if not stack or stack not in str(group):
                problems.append(f"{name}: concurrency group {group!r} does not name the stack {stack!r}")
            if (job.get("concurrency") or {}).get("cancel-in-progress") is not False:
                problems.append(f"{name}: a newer deploy may cancel a running `pulumi up`")
            if not job.get("environment"):
                problems.append(f"{name}: deploys outside a GitHub environment")
    return problems


def pulumi_problems(doc: dict[str, Any]) -> list[str]:
    """pulumi/actions runs the policy pack with the stack's config and the CLI of the locked SDK."""
    problems = []
    for name, job in doc["jobs"].items():
        for step in (s for s in steps(job) if action(s) == "pulumi/actions"):
            args = step.get("with") or {}
            if args.get("policyPacks") != "policy" or "policy/config." not in str(args.get("policyPackConfigs")):
                problems.append(f"{name}: pulumi {args.get('command')} without the policy pack and its config")
            if not str(args.get("pulumi-version", "")).startswith("${{ steps."):
                problems.append(f"{name}: the Pulumi CLI version is {args.get('pulumi-version')!r}, not the lock's")
    return problems


def all_problems(name: str, text: str) -> list[str]:
    doc = yaml.safe_load(text)
    rules = (permission_problems, job_problems, deploy_problems, pulumi_problems)
    return [f"{name}: {p}" for p in pin_problems(text, doc) + [p for rule in rules for p in rule(doc)]]


# -- the real files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.y*ml")), ids=lambda p: p.name)
def test_workflow_follows_every_rule(path: Path) -> None:
    assert all_problems(path.name, path.read_text()) == []


def test_one_commit_per_action_everywhere() -> None:
    """Dependabot moves an action in every file at once; two SHAs for one action means one was missed."""
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS.glob("*.y*ml"):
        for line in path.read_text().splitlines():
            m = USES_LINE.match(line)
            if m and not is_local(m.group("ref")):
                name, sha = m.group("ref").split("@")
                pins.setdefault(name, set()).add(f"{sha} # {m.group('comment')}")
    assert pins and {n: s for n, s in pins.items() if len(s) > 1} == {}


def test_pull_requests_run_what_the_readme_promises() -> None:
    pr = workflows()["pull-request.yml"]
    checks = "\n".join(str(s.get("run", "")) for s in steps(pr["jobs"]["checks"]))
    for command in ("dev.py verify", "dev.py audit", "dev.py lint", "dev.py zizmor", "dev.py test", "dev.py preview"):
        assert command in checks
    preview = pr["jobs"]["preview"]
    # Forks and Dependabot get no secrets: the real preview is skipped for them, the checks still run.
    assert "head.repo.full_name == github.repository" in preview["if"] and "dependabot[bot]" in preview["if"]
    assert preview["needs"] == "checks" and preview["strategy"]["matrix"]["stack"] == dev.deployed_stacks()
    (pulumi,) = [s["with"] for s in steps(preview) if action(s) == "pulumi/actions"]
    assert (pulumi["command"], pulumi["comment-on-pr"]) == ("preview", True)
    assert pulumi["policyPackConfigs"] == "policy/config.${{ matrix.stack }}.json"
    (aws,) = [s["with"] for s in steps(preview) if action(s) == "aws-actions/configure-aws-credentials"]
    assert aws["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    # ARM64 images build on x86 runners.
    assert {"docker/setup-qemu-action", "docker/setup-buildx-action"} <= {action(s) for s in steps(preview)}


def test_main_deploys_dev_then_prod_behind_production() -> None:
    deploy = workflows()["deploy.yml"]
    on = deploy.get("on", deploy.get(True))  # YAML 1.1 reads a bare `on` as true
    assert on["push"]["branches"] == ["main"]
    jobs = deploy["jobs"]
    assert "refs/heads/main" in jobs["checks"]["if"]
    assert (jobs["dev"]["needs"], jobs["prod"]["needs"]) == ("checks", "dev")
    assert [(jobs[j]["with"]["stack"], jobs[j]["with"]["environment"]) for j in ("dev", "prod")] == [
        ("dev", "dev"), ("prod", "production")]
    called = load(ROOT / jobs["prod"]["uses"][2:])
    assert set(called["on"] if "on" in called else called[True]) == {"workflow_call"}
    up = called["jobs"]["up"]
    assert up["environment"] == "${{ inputs.environment }}"
    (pulumi,) = [s["with"] for s in steps(up) if action(s) == "pulumi/actions"]
    assert (pulumi["command"], pulumi["policyPackConfigs"]) == ("up", "policy/config.${{ inputs.stack }}.json")
    (aws,) = [s["with"] for s in steps(up) if action(s) == "aws-actions/configure-aws-credentials"]
    assert aws["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"


@pytest.mark.parametrize("name", ["pull-request.yml", "deploy-stack.yml"])
def test_the_cli_version_step_reads_the_locked_sdk(name: str, tmp_path: Path) -> None:
    """The line that feeds `pulumi-version` prints the version requirements.txt pins, nothing else."""
    install = next(s for j in workflows()[name]["jobs"].values() for s in steps(j) if s.get("id") == "install")
    lines = [line for line in install["run"].splitlines() if "GITHUB_OUTPUT" in line]
    output = tmp_path / "output"
    subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(lines)], cwd=ROOT, check=True,
                   env={"GITHUB_OUTPUT": str(output), "PATH": "/usr/bin:/bin"})
    pins, _ = dev.locked_versions(ROOT / "requirements.txt")
    assert output.read_text() == f"pulumi={pins['pulumi']}\n"


# -- the rules catch what they are for ---------------------------------------------------------------


def _broken(name: str, change: Callable[[dict[str, Any]], object]) -> list[str]:
    doc = copy.deepcopy(workflows()[name])
    change(doc)
    rules = (permission_problems, job_problems, deploy_problems, pulumi_problems)
    return [p for rule in rules for p in rule(doc)]


@pytest.mark.parametrize("line,expected", [
    ("      - uses: actions/checkout@v4.2.2", "not pinned to a full commit SHA"),
    ("      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683", "no `# v<version>` comment"),
    ("      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # main", "no `# v<version>`"),
    ("      - uses: actions/checkout@11bd719", "not pinned to a full commit SHA"),
    ("      - uses: docker://alpine:3.20", "not pinned to a digest"),
    ("    uses: ./.github/workflows/missing.yml", "does not exist"),
], ids=["tag", "no-comment", "branch-comment", "short-sha", "image-tag", "missing-local"])
def test_pin_rule_catches(line: str, expected: str) -> None:
    ref = line.split("uses:")[1].split("#")[0].strip()
    doc = {"jobs": {"j": {"steps": [{"uses": ref}]}}}
    assert any(expected in p for p in pin_problems(line, doc))


def test_pin_rule_catches_a_uses_the_line_scan_cannot_read() -> None:
    text = "jobs:\n  j:\n    steps: [{uses: actions/checkout@v4}]\n"
    assert any("not on their own line" in p for p in pin_problems(text, yaml.safe_load(text)))


@pytest.mark.parametrize("name,change,expected", [
    ("pull-request.yml", lambda d: d.update(permissions={"contents": "read"}), "workflow-level permissions"),
    ("pull-request.yml", lambda d: d["jobs"]["checks"].pop("permissions"), "checks: no per-job permissions"),
    ("pull-request.yml", lambda d: d["jobs"]["checks"]["permissions"].update({"id-token": "write"}),
     "checks: id-token: write but the job does not need it"),
    ("pull-request.yml", lambda d: d["jobs"]["checks"]["permissions"].update({"pull-requests": "write"}),
     "checks: pull-requests: write but the job does not need it"),
    ("pull-request.yml", lambda d: d["jobs"]["preview"]["permissions"].update({"contents": "write"}),
     "preview: contents: write"),
    ("pull-request.yml", lambda d: d["jobs"]["preview"]["permissions"].pop("id-token"),
     "preview: assumes AWS credentials without id-token: write"),
    ("pull-request.yml", lambda d: d["jobs"]["preview"]["steps"][-1]["with"].pop("comment-on-pr"),
     "preview: pull-requests: write but the job does not need it"),
    ("deploy.yml", lambda d: d["jobs"]["dev"]["permissions"].pop("id-token"),
     "dev: assumes AWS credentials without id-token: write"),
    ("deploy.yml", lambda d: d["jobs"]["prod"].update(secrets="inherit"), "prod: secrets: inherit"),
    ("pull-request.yml", lambda d: d["jobs"]["preview"].update(env={"T": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}),
     "preview: a secret in the job's env"),
    ("pull-request.yml", lambda d: d["jobs"]["checks"]["steps"][0].pop("with"),
     "checks: checkout without persist-credentials: false"),
    ("deploy-stack.yml", lambda d: d["jobs"]["up"].pop("concurrency"), "up: concurrency group '' does not name"),
    ("deploy-stack.yml", lambda d: d["jobs"]["up"]["concurrency"].update(group="deploy"),
     "does not name the stack '${{ inputs.stack }}'"),
    ("deploy-stack.yml", lambda d: d["jobs"]["up"]["concurrency"].update({"cancel-in-progress": True}),
     "a newer deploy may cancel a running `pulumi up`"),
    ("deploy-stack.yml", lambda d: d["jobs"]["up"].pop("environment"), "up: deploys outside a GitHub environment"),
    ("deploy-stack.yml", lambda d: d["jobs"]["up"]["steps"][-1]["with"].pop("policyPacks"),
     "up: pulumi up without the policy pack"),
    ("deploy-stack.yml", lambda d: d["jobs"]["up"]["steps"][-1]["with"].update({"pulumi-version": "^3"}),
     "the Pulumi CLI version is '^3'"),
], ids=["workflow-grant", "job-without-permissions", "id-token-unused", "pr-write-unused", "contents-write",
        "oidc-without-id-token", "comment-removed", "called-workflow-oidc", "inherit", "secret-in-job-env",
        "persisted-token", "no-concurrency", "group-without-stack", "cancels-deploy", "no-environment",
        "no-policy-pack", "cli-range"])
def test_structural_rules_catch(name: str, change: Callable[[dict[str, Any]], object], expected: str) -> None:
    assert any(expected in p for p in _broken(name, change)), _broken(name, change)


# -- Dependabot and zizmor ---------------------------------------------------------------------------


def test_dependabot_updates_the_pins_and_every_lock_after_a_cooldown() -> None:
    config = load(DEPENDABOT)
    by_ecosystem = {u["package-ecosystem"]: u for u in config["updates"]}
    assert by_ecosystem["github-actions"]["directory"] == "/"
    lock_dirs = {"/" + str(Path(source).parent).strip(".") for source, _ in dev.LOCKS}
    assert lock_dirs == {"/", "/policy", "/app"} and set(by_ecosystem["pip"]["directories"]) == lock_dirs
    for update in config["updates"]:
        assert update["cooldown"]["default-days"] >= 7
        assert update.get("insecure-external-code-execution", "deny") == "deny"


def test_zizmor_passes_here_and_fails_on_a_low_finding(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert dev.main(["zizmor"]) == 0
    workflow = tmp_path / ".github" / "workflows" / "w.yml"
    workflow.parent.mkdir(parents=True)
    # One finding only, and of low severity (self-repository): `--min-severity low` must still fail on it.
    workflow.write_text("name: w\non: push\npermissions: {}\njobs:\n  call:\n    name: call\n"
                        "    uses: ./.github/workflows/w.yml\n")
    assert dev.main(["zizmor", str(tmp_path / ".github")]) != 0
    assert "self-repository" in capfd.readouterr().out
