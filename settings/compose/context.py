"""What the mapping of every compose service shares, and what one service's mapping reports."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from settings.compose.project import Project

#: Where derived build contexts (project files baked into an image, inline Dockerfiles) are written,
#: below the Pulumi project directory. Generated on every run; keep it out of version control.
CACHE_DIR = ".private-fargate/compose"


class Refused(Exception):
    """One compose key Fargate cannot honour; the message is `<key>: why; what to do`."""

    @property
    def key(self) -> str:
        """The compose key the refusal names (`volumes`, `healthcheck.timeout`)."""
        return str(self).partition(": ")[0]

    @property
    def why(self) -> str:
        """Why, and what to do instead."""
        return str(self).partition(": ")[2]


@dataclass
class Report:
    """What became of one compose service: what it maps to, the keys mapped, notes and refusals."""

    service: str
    becomes: str = ""
    mapped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    #: Notes a later pass may withdraw (no port until ports are inferred, no size for an init container).
    provisional: dict[str, str] = field(default_factory=dict)

    def note(self, message: str, *, provisional: str | None = None) -> None:
        """Something left out, rounded or changed, and why; `provisional` names it for `withdraw`."""
        if message not in self.notes:
            self.notes.append(message)
        if provisional is not None:
            self.provisional[provisional] = message

    def withdraw(self, tag: str) -> None:
        """Take back the provisional note `tag` (nothing when there is none)."""
        message = self.provisional.pop(tag, None)
        if message in self.notes:
            self.notes.remove(message)

    def lines(self) -> list[str]:
        """The report as notes for the preview: one summary line, then one line per note."""
        head = f"compose: services.{self.service}: {self.becomes}"
        if self.mapped:
            head += f" (mapped: {', '.join(dict.fromkeys(self.mapped))})"
        return [head, *(f"compose: services.{self.service}: {n}" for n in self.notes)]


@dataclass
class MapContext:
    """The project, where settings paths are relative to, and what the stack can pull images through."""

    project: Project
    base_dir: Path
    credentials: frozenset[str] = frozenset()
    partition: str = "aws"
    secret_refs: dict[str, Any] = field(default_factory=dict)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    volume_users: dict[str, str] = field(default_factory=dict)
    secret_values: dict[str, str] = field(default_factory=dict)
    explicit_volumes: frozenset[str] = frozenset()  # keys of the settings' own `volumes`, which win

    @property
    def cache_dir(self) -> Path:
        """The directory derived build contexts are written to."""
        return self.base_dir / CACHE_DIR

    def settings_path(self, path: Path) -> str:
        """A path as settings take it: relative to the Pulumi project directory, with '/'."""
        return Path(os.path.relpath(path, self.base_dir)).as_posix()


def norm(path: Path) -> Path:
    """An absolute path without '..' (symlinks kept: a linked folder stays inside the project)."""
    return Path(os.path.normpath(path.absolute()))
