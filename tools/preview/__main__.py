"""`python -m tools.preview`: the offline preview of a stack (plan, policy violations, outputs, cost).

Exit status: 0 no mandatory violation; 1 mandatory violations; 2 the program or its settings failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tools import cost
from tools.preview import environment, multilang, policies, redact
from tools.preview.diff import FORMAT_VERSION, BaselineError, check_mode, load_baseline
from tools.preview.inputs import InputError, load_invokes, load_stack_references
from tools.preview.output import OutputError, emit
from tools.preview.projectconfig import ProjectError, load_project
from tools.preview.render import compose_services

REPO = Path(__file__).resolve().parent.parent.parent
CHILD = Path(__file__).resolve().parent / "child.py"


class PreviewFailed(Exception):
    """The program or its settings failed; the message is the one line to print."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of `tools.preview` (README, "Offline preview")."""
    p = argparse.ArgumentParser(prog="python -m tools.preview", description=__doc__.splitlines()[0])
    p.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to use [dev]")
    p.add_argument("--project-dir", type=Path, default=REPO, help="Pulumi project to preview [this repo]")
    p.add_argument("--mode", choices=("preview", "up"), default="preview",
                   help="preview: computed outputs and ids unknown, as a first preview; up: all known")
    p.add_argument("--policy-config", type=Path, help="policy config (CLI format) [policy/config.<stack>.json]")
    p.add_argument("--compare", choices=("nat",), help="add a cost comparison with NAT gateways")
    p.add_argument("--invokes", type=Path, metavar="FILE",
                   help="real answers for invokes (YAML or JSON: token -> {args, result}); others are made up")
    p.add_argument("--stack-reference", action="append", metavar="NAME=FILE", dest="stack_references",
                   help="outputs of the stack NAME for StackReference (JSON: `pulumi stack output --json` or a "
                        "tools.preview --json report); repeatable")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout, nothing else "
                                                       "(the same as --format json)")
    p.add_argument("--format", choices=("text", "json", "markdown", "svg"), default=None,
                   help="text (default); json; markdown: one document for a pull-request comment; svg: the "
                        "topology drawn by Graphviz (with --output)")
    p.add_argument("--baseline", type=Path, metavar="BASE.json",
                   help="with --format markdown: a previous --json report to compare with (the base branch's)")
    p.add_argument("--output", type=Path, metavar="FILE", help="write the document to FILE instead of stdout")
    args = p.parse_args(argv)
    args.format = args.format or ("json" if args.json else "text")
    if args.json and args.format != "json":
        p.error(f"--json and --format {args.format} disagree; give one of them")
    if args.format == "svg" and args.output is None:
        p.error("--format svg needs --output FILE")
    if args.baseline is not None and args.format != "markdown":
        p.error("--baseline goes with --format markdown")
    return args


def run_program(project_dir: Path, stack: str, mode: str, *, in_process: bool = False,
                invokes: list[dict[str, Any]] | None = None,
                stack_references: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run the project's program in a child process under mocks; return its report (without policy/cost).

    The child is the Python of the environment the project's Pulumi.yaml names, if it exists.
    `in_process` runs it in this process instead (the tests' fast path: no interpreter start, the SDK
    already imported), with the same isolation of the project's own modules (see `_isolated`); a
    program with an environment of its own always gets a process of that environment's Python.
    """
    try:
        project = load_project(project_dir, stack)
    except ProjectError as exc:
        raise PreviewFailed(str(exc)) from None
    region = project.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    account = _allowed_account(project.config.get("aws:allowedAccountIds"))
    interpreter = environment.resolve(project.directory, project.runtime)
    job = {"directory": str(project.directory), "main": str(project.main), "project": project.name,
           "stack": stack, "mode": mode, "config": project.config, "secretKeys": list(project.secret_keys),
           "region": region, "account": account, "invokes": invokes or [],
           "stackReferences": stack_references or {}}
    if in_process and interpreter.own:
        result = _run_in_process(job, project.directory, project.main)
    else:
        result = _run_child(job, project.directory, interpreter.python)
    if not result["ok"]:
        raise PreviewFailed(environment.hint(result["error"], interpreter))
    notes = [*result["notes"], *([interpreter.note] if interpreter.note else []),
             *(_faked_note(f) for f in result["faked"]), *(_read_note(r) for r in result["reads"])]
    return {"project": project.name, "stack": stack, "mode": mode, "resources": result["resources"],
            "outputs": result["outputs"], "violations": [], "notes": notes,
            "compose": compose_services(result["notes"]),
            "_region": region, "_config": project.config, "_opaque": result["opaque"]}


def _faked_note(faked: dict[str, Any]) -> str:
    args = json.dumps(faked["args"], sort_keys=True, separators=(",", ":"))
    ids = [f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in faked["result"].items()]
    shown = ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
    return (f"invoke {faked['token']} {args if len(args) <= 160 else args[:157] + '...'}: answered with made-up "
            f"values ({shown or 'no ids'}); what rests on them is 'cannot verify' (give real answers with "
            "--invokes FILE)")


def _read_note(read: dict[str, Any]) -> str:
    return (f"{read['type']} {read['name']!r} read by id {read['id']}: its state is made up; what rests on it is "
            "'cannot verify'")


def _run_child(job: dict[str, Any], directory: Path, python: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_CONFIG")}
    with tempfile.TemporaryDirectory(prefix="pf-preview-") as tmp:
        job_file, result_file = Path(tmp, "job.json"), Path(tmp, "result.json")
        job_file.write_text(json.dumps(job))
        try:
            prints: Any = sys.stderr.fileno()  # the program's prints go to stderr as it makes them
        except (OSError, ValueError):  # stderr is not a file (the tests' in-process runs): pass them on after
            prints = subprocess.PIPE
        proc = subprocess.run([python, str(CHILD), str(job_file), str(result_file)],
                              cwd=directory, env=env, stdin=subprocess.DEVNULL, stdout=prints, check=False)
        if prints == subprocess.PIPE and proc.stdout:
            sys.stderr.write(proc.stdout.decode(errors="replace"))
        if not result_file.is_file():
            raise PreviewFailed(f"the program's process ended with status {proc.returncode} before reporting")
        return json.loads(result_file.read_text())


def _run_in_process(job: dict[str, Any], directory: Path, main: Path) -> dict[str, Any]:
    from tools.preview import child

    with _isolated(directory, main), contextlib.redirect_stdout(sys.stderr):
        # The child's result goes through JSON: the same values, no shared objects, as from a process.
        return json.loads(json.dumps(child.run(job)))


@contextlib.contextmanager
def _isolated(directory: Path, main: Path) -> Iterator[None]:
    """What a child process gives for free: this process's path, directory and modules back as they were,
    the project's own modules (a `components` package of its own) in place of ours while it runs, and
    none of ours that the project does not have.

    A module already imported from the same file the project would import (our own code, reached
    through a symlink) is kept, so it is not imported again for every run.
    """
    path, cwd, before = list(sys.path), os.getcwd(), set(sys.modules)
    roots = {directory.resolve(), main.parent.resolve()}
    # The project's top-level modules, and ours: a child process could import none of ours.
    names = {entry.stem if entry.suffix == ".py" else entry.name
             for root in (*roots, REPO) for entry in root.iterdir()
             if entry.suffix == ".py" or entry.is_dir()} - {"__main__"}
    stashed = {}
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in names and not _same_source(module, roots):
            stashed[name] = sys.modules.pop(name)
    try:
        yield
    finally:
        for name in set(sys.modules) - before:
            module = sys.modules[name]
            if name.split(".")[0] in names and not _under(module, REPO):
                del sys.modules[name]
        sys.modules.update(stashed)
        sys.path[:] = path
        os.chdir(cwd)


def _source(module: Any) -> Path | None:
    file = getattr(module, "__file__", None)
    return Path(file).resolve() if file else None


def _under(module: Any, root: Path) -> bool:
    source = _source(module)
    return source is not None and source.is_relative_to(root.resolve())


def _same_source(module: Any, roots: set[Path]) -> bool:
    """True when the project would import this very file (its directory links to ours)."""
    source = _source(module)
    if source is None:
        return False
    for root in roots:
        for candidate in root.iterdir():
            if candidate.is_dir() and source.is_relative_to(candidate.resolve()):
                return True
    return False


def _allowed_account(value: str | None) -> str | None:
    """`aws:allowedAccountIds[0]`, so offline ARNs carry the real account when the stack pins one."""
    try:
        ids = json.loads(value) if value else []
    except ValueError:
        return None
    return str(ids[0]) if isinstance(ids, list) and ids else None


def build_report(args: argparse.Namespace, *, in_process: bool = False) -> dict[str, Any]:
    """The full `--json` document: program run, policy evaluation and cost estimate."""
    try:
        invokes = load_invokes(args.invokes)
        references = load_stack_references(args.stack_references)
    except InputError as exc:
        raise PreviewFailed(str(exc)) from None
    report = run_program(args.project_dir, args.stack, args.mode, in_process=in_process, invokes=invokes,
                         stack_references=references)
    region, config, opaque = report.pop("_region"), report.pop("_config"), report.pop("_opaque")
    try:
        policy_config = policies.load_policy_config(Path(args.project_dir).resolve(), args.stack, args.policy_config)
        report["violations"] = policies.evaluate(report, policy_config)
        enabled = policies.enabled(policy_config)
    except policies.PolicyConfigError as exc:
        raise PreviewFailed(str(exc)) from None
    report["violations"] += multilang.advisories(opaque, enabled, report["violations"])
    secrets = redact.secret_values(report["resources"])
    for resource in report["resources"]:
        resource.pop("_policy", None)
    redact.scrub(report, secrets)  # a policy may quote a value it read: what it read as a secret stays one
    report = {"formatVersion": FORMAT_VERSION, **report}
    report["cost"] = cost.estimate(report, region, _cost_assumptions(config), config, args.compare, opaque)
    if "unavailable" in report["cost"]:
        report["notes"].append(f"cost: {report['cost']['unavailable']}")
    elif report["cost"].get("unpriced"):
        report["notes"].append(cost.unpriced_note(report["cost"]["unpriced"]))
    return report


def _cost_assumptions(config: dict[str, str]) -> dict[str, Any]:
    from settings import CostSettings

    raw = config.get("private-fargate:cost")
    try:
        return CostSettings.model_validate(json.loads(raw) if raw else {}).model_dump(by_alias=True)
    except ValueError:
        return CostSettings().model_dump(by_alias=True)


def main(argv: list[str] | None = None, *, in_process: bool = False) -> int:
    """Entry point; returns the exit status. `in_process` runs the program here (tests), not in a child."""
    args = parse_args(argv)
    try:
        baseline = load_baseline(args.baseline) if args.baseline else None
        report = build_report(args, in_process=in_process)
        if baseline is not None:
            check_mode(baseline, report)
        status = emit(args, report, baseline)
    except (PreviewFailed, BaselineError, OutputError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if status:
        return status
    return 1 if any(v["level"] == "mandatory" for v in report["violations"]) else 0


if __name__ == "__main__":
    sys.exit(main())
