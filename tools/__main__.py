"""`python -m tools`: the operator commands, one line each (read from each module's docstring, not imported)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: In the order an operator meets them: before deploying, then day 2.
COMMANDS = ("preview", "run_task", "logs", "status", "exec", "doctor")


def summary(name: str) -> str:
    """The first line of a command's docstring, without the usage part before the colon."""
    paths = [HERE / name / "__init__.py", HERE / name / "__main__.py"] if (HERE / name).is_dir() \
        else [HERE / f"{name}.py"]
    docs = [ast.get_docstring(ast.parse(p.read_text())) for p in paths]
    first = next((d for d in docs if d), "").splitlines()[0]
    return first.split("`: ", 1)[1] if "`: " in first else first


def main() -> int:
    print("python -m tools.<command> --help for the options of each; all but preview read the stack outputs "
          "(--stack S or --outputs FILE)")
    width = max(map(len, COMMANDS))
    for name in COMMANDS:
        print(f"  {name.ljust(width)}  {summary(name)}")
    print("exit status: 0 ok, 1 a check failed, 2 bad arguments or an AWS error, 130 interrupted "
          "(run_task: the container's exit code)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
