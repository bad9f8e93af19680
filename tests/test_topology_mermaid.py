"""The Mermaid text of every diagram, checked by Mermaid's own parser (opt-in: needs node and tests/mermaid).

`npm ci --prefix tests/mermaid` installs mermaid and jsdom (pinned in tests/mermaid/package-lock.json);
tests/mermaid/check.mjs runs `mermaid.parse` on each file, in a jsdom window (no browser). Without node
or that install the test is skipped and says how to install it; .ci/run installs it when npm is there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT, preview
from tests.test_pr_document import nat_project, nat_report  # noqa: F401 (module fixtures shared)
from tests.test_topology import other_program  # noqa: F401
from tools.preview.markdown import diagram

CHECKER = ROOT / "tests" / "mermaid"
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (CHECKER / "node_modules" / "mermaid").is_dir(),
    reason="Mermaid's parser is not installed: npm ci --prefix tests/mermaid (needs node 20 and npm)")


def parse(files: list[Path]) -> list[dict[str, Any]]:
    proc = subprocess.run(["node", str(CHECKER / "check.mjs"), *map(str, files)], capture_output=True, text=True,
                          timeout=120, check=False)
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(files), proc.stderr
    return results


def test_every_diagram_parses(tmp_path: Path, nat_report: dict[str, Any],  # noqa: F811
                              other_program: dict[str, Any]) -> None:  # noqa: F811
    reports = {s: preview("--stack", s, "--json").report for s in ("dev", "prod", "fullstack")}
    texts = {f"{s}.mmd": diagram(r, None) for s, r in reports.items()}
    texts["dev-to-nat.mmd"] = diagram(nat_report, reports["dev"])
    texts["nat-to-dev.mmd"] = diagram(reports["dev"], nat_report)
    texts["prod-from-dev.mmd"] = diagram(reports["prod"], reports["dev"])
    texts["other-program.mmd"] = diagram(other_program, None)
    # the whole document: its fenced block is what GitHub hands Mermaid
    document = preview("--stack", "fullstack", "--format", "markdown").stdout
    texts["document.mmd"] = document.split("```mermaid\n", 1)[1].split("```", 1)[0]
    texts["broken.mmd"] = texts["dev.mmd"].replace('"]', '"', 1)  # proves the parser is really consulted
    files = []
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
        files.append(tmp_path / name)
    results = {Path(r["file"]).name: r for r in parse(files)}
    assert not results.pop("broken.mmd")["ok"]
    assert {name: r.get("error") for name, r in results.items() if not r["ok"]} == {}
    assert {r["type"] for r in results.values()} == {"flowchart-v2"}
