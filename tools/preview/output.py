"""Writing a report in the format asked for: text, JSON, the pull-request Markdown or an SVG of the topology."""

from __future__ import annotations

import argparse
import io
import json
import sys
from typing import Any

from tools.preview.render import render

#: What `--format svg` needs, said in one line when it is missing.
GRAPHVIZ_HINT = ("Graphviz's `dot` (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz) and "
                 "the Python package graphviz (in requirements-dev.txt); --format markdown draws the same "
                 "diagram in Mermaid with neither")


class OutputError(Exception):
    """The document cannot be written; the message is the one line to print."""


def document(args: argparse.Namespace, report: dict[str, Any], baseline: dict[str, Any] | None) -> str | bytes:
    """The report in `args.format`."""
    if args.format == "json":
        try:
            return json.dumps(report, indent=2, allow_nan=False) + "\n"
        except ValueError as exc:  # a NaN or infinity in an output: not JSON, so not a report
            raise OutputError(f"the report is not valid JSON: {exc}") from None
    if args.format == "markdown":
        from tools.preview.markdown import render_markdown

        return render_markdown(report, baseline)
    if args.format == "svg":
        return _svg(report)
    out = io.StringIO()
    render(report, out)
    return out.getvalue()


def _svg(report: dict[str, Any]) -> bytes:
    from tools.preview import topology
    from tools.preview.diagram import svg

    try:
        import graphviz
    except ImportError:
        raise OutputError(f"--format svg needs {GRAPHVIZ_HINT}: the Python package graphviz is not "
                          "installed") from None
    try:
        return svg(topology.build(report), title=diagram_title(report))
    except graphviz.ExecutableNotFound:
        raise OutputError(f"--format svg needs {GRAPHVIZ_HINT}: `dot` is not on PATH") from None


def diagram_title(report: dict[str, Any]) -> str:
    """The title drawn above an SVG topology."""
    return f"{report['project']} / {report['stack']}: topology from the offline preview"


def emit(args: argparse.Namespace, report: dict[str, Any], baseline: dict[str, Any] | None) -> int:
    """Write the document to `--output` or stdout; 0 (errors raise OutputError)."""
    doc = document(args, report, baseline)
    if args.output is not None:
        try:
            args.output.write_bytes(doc if isinstance(doc, bytes) else doc.encode())
        except OSError as exc:
            raise OutputError(f"--output {args.output}: cannot write it ({exc.strerror or exc})") from None
        return 0
    sys.stdout.write(doc if isinstance(doc, str) else doc.decode())
    return 0
