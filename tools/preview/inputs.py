"""What a user gives the preview about the world outside the program: real invoke answers and other stacks' outputs.

`--invokes FILE` (YAML or JSON) maps an invoke token to one answer or a list of them; an answer is
`{args: {...}, result: {...}}`, where `args` (optional) must match the call's arguments (the keys it
names, camelCase or snake_case) and `result` gives values of the SDK's result type (the rest is still
made up). The first matching answer wins:

    aws:ec2/getVpc:getVpc:
      result: {id: vpc-0a1b2c3d4e5f60718, cidrBlock: 172.31.0.0/16}
    aws:ec2/getSubnets:getSubnets:
      - args: {filters: [{name: vpc-id, values: [vpc-0a1b2c3d4e5f60718]}]}
        result: {ids: [subnet-0aaa, subnet-0bbb]}

`--stack-reference NAME=FILE.json` gives the outputs of the stack `NAME` (org/project/stack): the
output of `pulumi stack output --json`, or a `python -m tools.preview --json` report of that stack
(its `outputs`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


class InputError(ValueError):
    """A given file cannot be used; the message is one line naming the file and the key."""


def _read(path: Path, what: str) -> Any:
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"{what} {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise InputError(f"{what} {path}{where}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}") from None


def load_invokes(path: Path | None) -> list[dict[str, Any]]:
    """The answers of an --invokes file, in file order, as `{token, args, result}`."""
    if path is None:
        return []
    doc = _read(path, "--invokes")
    if not isinstance(doc, dict):
        raise InputError(f"--invokes {path}: expected a mapping of invoke tokens to answers")
    answers = []
    for token, given in doc.items():
        if not isinstance(token, str) or token.count(":") != 2:
            raise InputError(f"--invokes {path}: {token!r} is not an invoke token (like aws:ec2/getVpc:getVpc)")
        for i, answer in enumerate(given if isinstance(given, list) else [given]):
            where = f"--invokes {path}: {token}" + (f"[{i}]" if isinstance(given, list) else "")
            if not isinstance(answer, dict) or not isinstance(answer.get("result"), dict):
                raise InputError(f"{where}: expected {{args: {{...}}, result: {{...}}}} with a mapping 'result'")
            extra = sorted(set(answer) - {"args", "result"})
            if extra:
                raise InputError(f"{where}: unknown key {extra[0]!r}; allowed keys: args, result")
            if not isinstance(answer.get("args", {}), dict):
                raise InputError(f"{where}.args: expected a mapping of argument names to values")
            answers.append({"token": token, "args": answer.get("args") or {}, "result": answer["result"]})
    return answers


def load_stack_references(specs: list[str] | None) -> dict[str, dict[str, Any]]:
    """Stack name -> outputs, from `NAME=FILE` arguments."""
    out: dict[str, dict[str, Any]] = {}
    for spec in specs or []:
        name, sep, file = spec.partition("=")
        if not sep or not name or not file:
            raise InputError(f"--stack-reference {spec!r}: expected NAME=FILE.json (NAME as the program passes it "
                             "to StackReference, e.g. acme/platform/dev)")
        doc = _read(Path(file), f"--stack-reference {name}:")
        if isinstance(doc, dict) and isinstance(doc.get("outputs"), dict) and "resources" in doc:
            doc = doc["outputs"]  # a tools.preview --json report of that stack
        if not isinstance(doc, dict):
            raise InputError(f"--stack-reference {name}: {file} must hold a mapping of output names to values")
        out[name] = doc
    return out
