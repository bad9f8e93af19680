#!/usr/bin/env python3
"""Set-up and everyday commands, needing only Python 3.11+ on the machine.

    python3 dev.py preview [--stack prod] [...]   offline preview of a stack (default dev)
    python3 dev.py test [pytest args]             the tests
    python3 dev.py lint                           ruff
    python3 dev.py ci                             lint, tests, offline preview of every shipped stack

The first call creates .venv and installs the pinned requirements; later calls reuse it and
reinstall only when a requirements file changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt", "policy/requirements.txt")


def python() -> Path:
    """The virtualenv's interpreter, created and filled on first use."""
    exe = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    stamp = VENV / ".requirements.sha256"
    digest = hashlib.sha256(b"".join((ROOT / r).read_bytes() for r in REQUIREMENTS)).hexdigest()
    if not exe.exists():
        print("dev.py: creating .venv", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    if not stamp.exists() or stamp.read_text() != digest:
        print("dev.py: installing requirements-dev.txt into .venv", file=sys.stderr)
        subprocess.run([exe, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r",
                        ROOT / "requirements-dev.txt"], check=True)
        stamp.write_text(digest)
    return exe


def run(*args: object) -> int:
    """Run a command with the virtualenv's Python from the repository root."""
    return subprocess.run([python(), *map(str, args)], cwd=ROOT, check=False).returncode


def stacks() -> list[str]:
    """The stacks this repository ships (Pulumi.<stack>.yaml files)."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "preview":
        return run("-m", "tools.preview", *rest)
    if command == "test":
        return run("-m", "pytest", *rest)
    if command == "lint":
        return run("-m", "ruff", "check", ".")
    if command == "ci":
        status = run("-m", "ruff", "check", ".") or run("-m", "pytest", *rest)
        for stack in stacks():
            status = status or run("-m", "tools.preview", "--stack", stack)
        return status
    print(__doc__)
    return 0 if command in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
