"""`python -m tools.preview`: the offline preview of a stack (plan, policy violations, outputs, cost).

Exit status: 0 no mandatory violation; 1 mandatory violations; 2 the program or its settings failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tools import cost
from tools.preview import policies
from tools.preview.projectconfig import ProjectError, load_project
from tools.preview.render import render

REPO = Path(__file__).resolve().parent.parent.parent
CHILD = Path(__file__).resolve().parent / "child.py"


class PreviewFailed(Exception):
    """The program or its settings failed; the message is the one line to print."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of DESIGN.md's `tools.preview` interface."""
    p = argparse.ArgumentParser(prog="python -m tools.preview", description=__doc__.splitlines()[0])
    p.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to use [dev]")
    p.add_argument("--project-dir", type=Path, default=REPO, help="Pulumi project to preview [this repo]")
    p.add_argument("--mode", choices=("preview", "up"), default="preview",
                   help="preview: computed outputs and ids unknown, as a first preview; up: all known")
    p.add_argument("--policy-config", type=Path, help="policy config (CLI format) [policy/config.<stack>.json]")
    p.add_argument("--compare", choices=("nat",), help="add a cost comparison with NAT gateways")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout, nothing else")
    return p.parse_args(argv)


def run_program(project_dir: Path, stack: str, mode: str) -> dict[str, Any]:
    """Run the project's program in a child process under mocks; return its report (without policy/cost)."""
    try:
        project = load_project(project_dir, stack)
    except ProjectError as exc:
        raise PreviewFailed(str(exc)) from None
    region = project.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    account = _allowed_account(project.config.get("aws:allowedAccountIds"))
    job = {"directory": str(project.directory), "main": str(project.main), "project": project.name,
           "stack": stack, "mode": mode, "config": project.config, "secretKeys": list(project.secret_keys),
           "region": region, "account": account}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_CONFIG")}
    with tempfile.TemporaryDirectory(prefix="pf-preview-") as tmp:
        job_file, result_file = Path(tmp, "job.json"), Path(tmp, "result.json")
        job_file.write_text(json.dumps(job))
        proc = subprocess.run([sys.executable, str(CHILD), str(job_file), str(result_file)],
                              cwd=project.directory, env=env, stdin=subprocess.DEVNULL,
                              stdout=sys.stderr.fileno(), check=False)
        if not result_file.is_file():
            raise PreviewFailed(f"the program's process ended with status {proc.returncode} before reporting")
        result = json.loads(result_file.read_text())
    if not result["ok"]:
        raise PreviewFailed(result["error"])
    return {"project": project.name, "stack": stack, "mode": mode, "resources": result["resources"],
            "outputs": result["outputs"], "violations": [], "notes": result["notes"],
            "_region": region, "_config": project.config}


def _allowed_account(value: str | None) -> str | None:
    """`aws:allowedAccountIds[0]`, so offline ARNs carry the real account when the stack pins one."""
    try:
        ids = json.loads(value) if value else []
    except ValueError:
        return None
    return str(ids[0]) if isinstance(ids, list) and ids else None


def build_report(args: argparse.Namespace) -> dict[str, Any]:
    """The full `--json` document: program run, policy evaluation and cost estimate."""
    report = run_program(args.project_dir, args.stack, args.mode)
    region, config = report.pop("_region"), report.pop("_config")
    try:
        policy_config = policies.load_policy_config(Path(args.project_dir).resolve(), args.stack, args.policy_config)
        report["violations"] = policies.evaluate(report, policy_config)
    except policies.PolicyConfigError as exc:
        raise PreviewFailed(str(exc)) from None
    report["cost"] = cost.estimate(report, region, _cost_assumptions(config), config, args.compare)
    if "unavailable" in report["cost"]:
        report["notes"].append(f"cost: {report['cost']['unavailable']}")
    return report


def _cost_assumptions(config: dict[str, str]) -> dict[str, Any]:
    from components.settings import CostSettings

    raw = config.get("private-fargate:cost")
    try:
        return CostSettings.model_validate(json.loads(raw) if raw else {}).model_dump(by_alias=True)
    except ValueError:
        return CostSettings().model_dump(by_alias=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    try:
        report = build_report(args)
        text = json.dumps(report, indent=2, allow_nan=False) if args.json else None
    except PreviewFailed as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a NaN or infinity in an output: not JSON, so not a report
        print(f"error: the report is not valid JSON: {exc}", file=sys.stderr)
        return 2
    if text is not None:
        sys.stdout.write(text + "\n")
    else:
        render(report, sys.stdout)
    return 1 if any(v["level"] == "mandatory" for v in report["violations"]) else 0


if __name__ == "__main__":
    sys.exit(main())
