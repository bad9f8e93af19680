"""Speed benchmark of the offline preview: wall time and peak memory for growing stacks.

    python bench/run.py [--sizes 1 10 50 100] [--repeat 1]

For the dev stack and for generated stacks of N workloads (half services with a port, half
scheduled jobs, all built from ./app), runs `python -m tools.preview --json` in a fresh process
and measures its wall time (time.perf_counter) and peak memory (the child's own max RSS, from os.wait4),
next to the floor: a process that only imports the SDK modules. Prints a table; the README holds
one measured run. Not a test: timings vary with the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
FLOOR = "import pulumi, pulumi_aws, pulumi_awsx, pulumi_policy, pydantic"


def measure(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process (its own rusage, via wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed: {(proc.stderr.read() if proc.stderr else '').strip()[-300:]}")
    return wall, usage.ru_maxrss / 1024


def generated_project(workloads: int, directory: Path) -> Path:
    """A copy of this project whose stack `bench` has `workloads` services and jobs."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, directory / name)
    for name in ("components", "app", "policy"):
        (directory / name).symlink_to(ROOT / name)
    services = [{"name": f"svc{i}", "image": {"build": "./app"}, "command": ["serve"], "port": 8000 + i}
                for i in range(workloads // 2)]
    jobs = [{"name": f"job{i}", "image": {"build": "./app"}, "command": ["job"], "schedule": "rate(1 hour)",
             "capacity": "spot"} for i in range(workloads - len(services))]
    config = {"aws:region": "us-east-1", "private-fargate:protect": False,
              "private-fargate:services": services, "private-fargate:jobs": jobs}
    (directory / "Pulumi.bench.yaml").write_text(yaml.safe_dump({"config": config}))
    return directory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50, 100])
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the fastest is shown")
    args = parser.parse_args()
    py = sys.executable
    rows: list[tuple[str, int, float, float]] = []

    def best(label: str, resources: int, cmd: list[str], cwd: Path) -> None:
        runs = [measure(cmd, cwd) for _ in range(args.repeat)]
        wall = min(w for w, _ in runs)
        rows.append((label, resources, wall, max(m for _, m in runs)))
        print(f"  measured {label}: {wall:.2f}s", file=sys.stderr)

    best("import the SDKs only (floor)", 0, [py, "-c", FLOOR], ROOT)
    best("dev stack", count(ROOT, "dev"), [py, "-m", "tools.preview", "--stack", "dev", "--json"], ROOT)
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix="pf-bench-") as tmp:
            project = generated_project(n, Path(tmp))
            cmd = [py, "-m", "tools.preview", "--project-dir", str(project), "--stack", "bench", "--json"]
            best(f"{n} services+jobs", count(project, "bench"), cmd, ROOT)
    floor = rows[0][2]
    print(f"{'stack':<30} {'resources':>9} {'wall s':>8} {'above floor s':>13} {'ms/resource':>11} "
          f"{'peak MiB':>9}")
    for label, resources, wall, peak in rows:
        per = f"{(wall - floor) * 1000 / resources:.1f}" if resources else "-"
        print(f"{label:<30} {resources:>9} {wall:>8.2f} {wall - floor:>13.2f} {per:>11} {peak:>9.0f}")
    print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {sys.platform}")
    return 0


def count(project: Path, stack: str) -> int:
    """How many resources the stack registers (one extra run, not timed)."""
    import json

    out = subprocess.run([sys.executable, "-m", "tools.preview", "--project-dir", str(project), "--stack", stack,
                          "--json"], cwd=ROOT, capture_output=True, text=True, check=False)
    return len(json.loads(out.stdout)["resources"]) if out.stdout else 0


if __name__ == "__main__":
    sys.exit(main())
