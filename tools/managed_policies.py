"""Refresh policy/data/aws_managed_policies.json: what each AWS managed IAM policy grants, as the pack judges it.

The pack judges an attached AWS managed policy by its document, not its name. It cannot call IAM,
so it reads a dated snapshot kept in the repository: for every AWS managed policy, its default
version and the parts of its Allow statements the IAM rules flag (wildcards over whole services or
write verbs, NotAction, iam:PassRole on every role). Refresh it from an account (IAM ListPolicies with scope
AWS, then GetPolicyVersion of each default version; read-only, a few minutes):

    python -m tools.managed_policies --from-account [--profile NAME]

or from a directory of `aws iam get-policy-version` outputs, one file per policy named after it
(the layout of github.com/z0ph/MAMIP's policies/ directory, which mirrors them daily):

    python -m tools.managed_policies --from-dir ../MAMIP/policies --taken 2025-02-22 \\
        --source "github.com/z0ph/MAMIP policies/ at de4971a"
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from policy.policies._util import allow_statements, as_list
from policy.policies.documents import broad_action, passes_any_role

OUTPUT = Path(__file__).resolve().parent.parent / "policy" / "data" / "aws_managed_policies.json"
REFRESH = "python -m tools.managed_policies --from-account (or --from-dir DIR of get-policy-version outputs)"


def reduce(document: Any) -> dict[str, Any]:
    """What the pack's IAM rules flag in a policy document: broad wildcard actions (read-only ones such as
    ec2:Describe* are left out), NotAction, PassRole on all roles. Re-run after changing those rules."""
    wildcards: set[str] = set()
    not_action = pass_role = False
    for st in allow_statements(document):
        if "NotAction" in st:
            not_action = True
        wildcards.update(a for a in as_list(st.get("Action")) if broad_action(a))
        pass_role = pass_role or passes_any_role(st)
    out: dict[str, Any] = {}
    if wildcards:
        out["wildcards"] = sorted(wildcards)
    if not_action:
        out["notAction"] = True
    if pass_role:
        out["passRoleOnAll"] = True
    return out


def _document(raw: Any) -> Any:
    """A policy document as IAM returns it: a dict, or URL-encoded/plain JSON text."""
    if isinstance(raw, str):
        from urllib.parse import unquote
        return json.loads(unquote(raw))
    return raw


def from_dir(directory: Path) -> Iterator[tuple[str, str, Any]]:
    """(name, version, document) from files holding `aws iam get-policy-version` output."""
    for path in sorted(directory.iterdir()):
        try:
            version = json.loads(path.read_text())["PolicyVersion"]
        except (OSError, ValueError, KeyError, TypeError):
            print(f"skipped {path.name}: not a get-policy-version output", file=sys.stderr)
            continue
        yield path.name, version["VersionId"], _document(version["Document"])


def from_account(iam: Any) -> Iterator[tuple[str, str, Any]]:
    """(name, version, document) of every AWS managed policy, from IAM."""
    for page in iam.get_paginator("list_policies").paginate(Scope="AWS"):
        for policy in page["Policies"]:
            version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
            yield policy["PolicyName"], policy["DefaultVersionId"], _document(version["PolicyVersion"]["Document"])


def snapshot(policies: Iterable[tuple[str, str, Any]], taken: str, source: str) -> dict[str, Any]:
    """The data file's content."""
    return {"source": source, "taken": taken, "refresh": REFRESH,
            "policies": {name: {"version": version, **reduce(doc)} for name, version, doc in policies}}


def write(data: dict[str, Any], path: Path = OUTPUT) -> None:
    """One policy per line, so a refresh diffs line by line."""
    lines = [f"  {json.dumps(name)}: {json.dumps(entry, sort_keys=True)}" for name, entry in
             sorted(data["policies"].items())]
    head = {k: v for k, v in data.items() if k != "policies"}
    text = json.dumps(head, indent=2)[:-2] + ',\n  "policies": {\n  ' + ",\n  ".join(lines) + "\n  }\n}\n"
    json.loads(text)  # never write a file the pack cannot read
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--from-account", action="store_true", help="read every AWS managed policy from IAM")
    where.add_argument("--from-dir", type=Path, help="a directory of get-policy-version outputs")
    parser.add_argument("--profile", help="AWS profile for --from-account")
    parser.add_argument("--taken", default=date.today().isoformat(), help="the date the documents were read")
    parser.add_argument("--source", help="where the documents came from (default: the account or directory)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.from_account:
        import boto3
        iam = boto3.Session(profile_name=args.profile).client("iam")
        data = snapshot(from_account(iam), args.taken, args.source or "IAM ListPolicies (Scope=AWS) and "
                                                                      "GetPolicyVersion of each default version")
    else:
        data = snapshot(from_dir(args.from_dir), args.taken, args.source or str(args.from_dir))
    write(data, args.output)
    print(f"{len(data['policies'])} policies written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
