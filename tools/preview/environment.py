"""Which Python runs a previewed program: the environment its Pulumi.yaml names, as the Pulumi CLI picks it.

The CLI's Python language host (pulumi/pulumi sdk/python/toolchain: pip.go, poetry.go, uv.go) runs
a program with
- `toolchain: pip` (the default): `<virtualenv>/bin/python` when `runtime.options.virtualenv` is set,
  else `$PULUMI_PYTHON_CMD` if set, else the Python on the PATH (here: the one running this tool);
- `toolchain: poetry`: the environment `poetry env info --path` reports in the program's directory;
- `toolchain: uv`: `virtualenv` if set, else `.venv` next to the nearest `uv.lock`, else next to the
  nearest `pyproject.toml`, else in the project directory.
When the named environment does not exist (not created yet, or poetry is not installed) the preview
runs the program with this tool's own Python and says so in a note, since the program may well run
with the SDKs installed here; when it exists it is used as is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Interpreter:
    """The Python to run a program with, where it came from, and a note when it is a fallback."""

    python: str
    source: str
    note: str | None = None

    @property
    def own(self) -> bool:
        """True when it is the Python running this tool (the program can run in this process)."""
        return Path(self.python).resolve() == Path(sys.executable).resolve() or self.python == sys.executable


def _python_in(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _search_up(start: Path, name: str) -> Path | None:
    for directory in (start, *start.parents):
        if (directory / name).exists():
            return directory
    return None


def _poetry_env(directory: Path) -> Path | None:
    poetry = shutil.which("poetry")
    if poetry is None:
        return None
    proc = subprocess.run([poetry, "env", "info", "--path"], cwd=directory, capture_output=True, text=True,
                          check=False, timeout=60)
    path = proc.stdout.strip()
    return Path(path) if proc.returncode == 0 and path else None


def resolve(directory: Path, runtime: Any) -> Interpreter:
    """The interpreter for a project whose Pulumi.yaml `runtime` is `runtime` (a name or a mapping)."""
    options = runtime.get("options") if isinstance(runtime, dict) else None
    options = options if isinstance(options, dict) else {}
    toolchain = str(options.get("toolchain") or "pip")
    virtualenv = options.get("virtualenv")
    here = Interpreter(sys.executable, "this tool's Python")
    if toolchain == "poetry":
        venv = _poetry_env(directory)
        if venv is None:
            venv = directory / ".venv" if _python_in(directory / ".venv").exists() else None
        wanted = "the poetry environment (toolchain: poetry)"
    elif toolchain == "uv":
        if virtualenv:
            venv = directory / str(virtualenv)
        else:
            root = _search_up(directory, "uv.lock") or _search_up(directory, "pyproject.toml") or directory
            venv = root / ".venv"
        wanted = f"the uv environment {_shown(venv, directory)} (toolchain: uv)"
    elif virtualenv:
        venv = directory / str(virtualenv)
        wanted = f"the virtualenv {_shown(venv, directory)} (Pulumi.yaml runtime.options.virtualenv)"
    elif os.environ.get("PULUMI_PYTHON_CMD"):
        command = os.environ["PULUMI_PYTHON_CMD"]
        found = shutil.which(command)
        if found is None:
            return Interpreter(sys.executable, here.source, f"environment: PULUMI_PYTHON_CMD is {command!r}, which "
                               f"is not on the PATH; the program ran with this tool's Python ({sys.executable})")
        return Interpreter(found, f"PULUMI_PYTHON_CMD ({command})")
    else:
        return here
    if venv is not None and _python_in(venv).exists():
        return Interpreter(str(_python_in(venv)), wanted)
    return Interpreter(sys.executable, here.source,
                       f"environment: Pulumi.yaml names {wanted}, which does not exist here; the program ran "
                       f"with this tool's Python and its packages ({sys.executable})")


def _shown(path: Path, directory: Path) -> str:
    try:
        return str(path.resolve().relative_to(directory.resolve()))
    except ValueError:
        return str(path)


def hint(error: str, interpreter: Interpreter) -> str:
    """A failed run's message, plus where to install what is missing when a module was not found."""
    if "ModuleNotFoundError" not in error and "cannot run the offline preview" not in error:
        return error
    if interpreter.note:
        return (f"{error}; {interpreter.note.removeprefix('environment: ')}: create that environment with the "
                "program's requirements")
    return f"{error}; the program ran with {interpreter.source} ({interpreter.python}): install the program's " \
           "requirements there"
