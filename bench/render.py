"""Benchmark of the pull-request document: what rendering adds to the offline preview, for dev and prod.

    python bench/render.py [--repeat 20]

For each stack: the preview itself once (program under mocks, policy pack, cost: `build_report`, in this
process), then the median of `--repeat` renderings of the Markdown document without a baseline and with
one (the stack against the other, so every node gets a mark), of the DOT text, and of the SVG through
Graphviz's `dot` when it is installed; then two fresh processes, `--json` and `--format markdown`,
whose difference is what a user waits for. Not a test: timings vary with the machine; the README holds
one measured run. The bar (issue 24): rendering dev and prod under 0.5 s beyond the preview.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.preview.__main__ import build_report, parse_args  # noqa: E402
from tools.preview.diagram import dot, svg  # noqa: E402
from tools.preview.markdown import render_markdown  # noqa: E402
from tools.preview.topology import build  # noqa: E402


def median(fn: Callable[..., Any], repeat: int, *args: Any) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def process(stack: str, *flags: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tools.preview", "--stack", stack, *flags], cwd=ROOT, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=20)
    args = p.parse_args()
    reports = {}
    print("| stack | resources | preview s | markdown s | markdown with baseline s | DOT s | SVG (dot) s "
          "| process --json s | process --format markdown s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for stack in ("dev", "prod"):
        start = time.perf_counter()
        reports[stack] = build_report(parse_args(["--stack", stack]), in_process=True)
        reports[stack + "_s"] = time.perf_counter() - start
    for stack, other in (("dev", "prod"), ("prod", "dev")):
        rep, base = reports[stack], reports[other]
        md = median(render_markdown, args.repeat, rep)
        md_base = median(render_markdown, args.repeat, rep, base)
        dot_s = median(lambda r: dot(build(r)).source, args.repeat, rep)
        svg_s = f"{median(lambda r: svg(build(r)), max(args.repeat // 4, 1), rep):.3f}" if shutil.which("dot") else "-"
        json_p = statistics.median(process(stack, "--json") for _ in range(3))
        md_p = statistics.median(process(stack, "--format", "markdown") for _ in range(3))
        print(f"| {stack} | {len(rep['resources'])} | {reports[stack + '_s']:.2f} | {md:.3f} | {md_base:.3f} | "
              f"{dot_s:.3f} | {svg_s} | {json_p:.2f} | {md_p:.2f} |")


if __name__ == "__main__":
    main()
