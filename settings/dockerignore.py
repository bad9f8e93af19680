"""`.dockerignore` patterns, as far as this project needs them: what a build context leaves out.

Used for the build's content hash (components/resolver.py) and when the compose importer copies a
build context to add project files to it (settings/compose/storage.py). Negations (`!`) are not applied.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path


def dockerignore_patterns(directory: Path) -> list[str]:
    """The patterns of a context's .dockerignore (none without one)."""
    path = directory / ".dockerignore"
    if not path.is_file():
        return []
    return [line.strip().rstrip("/") for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def ignored(rel: str, patterns: list[str]) -> bool:
    """True when a path relative to the context matches a pattern (or sits below one)."""
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel, p + "/*") or rel.startswith(p.lstrip("*/") + "/")
               for p in patterns if not p.startswith("!"))
