"""What importing a docker-compose file costs on top of the preview of the same stack written by hand.

    python bench/compose.py [--services 50] [--repeat 3]

Generates a compose file of N services in the shapes real files have (Docker Hub and ghcr.io images with
tags, environment, published ports, health checks, named volumes, depends_on, a config file mounted into
every tenth service, builds of ./app), and the same stack written by hand: the settings the importer
produces for it, as `services`/`volumes` entries of a second stack file. Runs `python -m tools.preview
--json` on each stack in a fresh process (the fastest of --repeat runs) and prints both wall times, their
difference, and the import alone (`Settings.from_dict` in this process). The README holds one measured
run; the bar (issue 16) is under 2 s for 50 services. Not a test: timings vary with the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.run import measure  # noqa: E402

HUB = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/hub-AbCdEf"
GHCR = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/ghcr-AbCdEf"
IMAGES = ("postgres:16.4-alpine", "docker.io/valkey/valkey:8.0.1", "ghcr.io/example-org/api:2.4.1",
          "nginx:1.27-alpine", "ghcr.io/example-org/worker:2.4.1")


def compose_file(services: int) -> dict[str, Any]:
    """N services; one in five is built from ./app."""
    out: dict[str, Any] = {"services": {}, "volumes": {}}
    for i in range(services):
        svc: dict[str, Any] = {"restart": "unless-stopped", "environment": {"LOG_LEVEL": "info", "INDEX": str(i)},
                               "ports": [f"{9000 + i}:{8000 + i}"], "logging": {"driver": "json-file"},
                               "healthcheck": {"test": ["CMD-SHELL", f"wget -qO- localhost:{8000 + i}/health"],
                                               "interval": "10s", "retries": 3},
                               "deploy": {"resources": {"limits": {"cpus": "0.5", "memory": "1G"}}}}
        if i % 5 == 4:
            svc["build"] = {"context": "./app"}
            svc["command"] = ["serve"]
        else:
            svc["image"] = IMAGES[i % len(IMAGES)]
        if i % 10 == 3:
            svc["volumes"] = [f"data{i}:/var/lib/data", "./config/app.ini:/etc/app.ini:ro"]
            out["volumes"][f"data{i}"] = {}
        if i:
            svc["depends_on"] = {f"s{i - 1}": {"condition": "service_healthy"}}
        out["services"][f"s{i}"] = svc
    return out


def project(directory: Path, services: int) -> None:
    """The project with two stacks: `compose` (the compose file) and `hand` (what it imports to, written out)."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, directory / name)
    for name in ("components", "settings", "app", "policy"):
        (directory / name).symlink_to(ROOT / name)
    (directory / "config").mkdir()
    (directory / "config" / "app.ini").write_text("[app]\n")
    (directory / "docker-compose.yml").write_text(yaml.safe_dump(compose_file(services)))
    common = {"aws:region": "us-east-1", "private-fargate:protect": False,
              "private-fargate:repository": {"upstreamCredentials": {"dockerhub": HUB, "ghcr": GHCR}}}
    (directory / "Pulumi.compose.yaml").write_text(yaml.safe_dump({"config": {
        **common, "private-fargate:compose": {"file": "docker-compose.yml"}}}))
    from settings import compose
    result = compose.load({"file": "docker-compose.yml"}, directory, credentials=frozenset({"dockerhub", "ghcr"}))
    (directory / "Pulumi.hand.yaml").write_text(yaml.safe_dump({"config": {
        **common, "private-fargate:services": result.services, "private-fargate:volumes": result.volumes}}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="runs per stack; the fastest is shown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pf-bench-compose-") as tmp:
        directory = Path(tmp)
        project(directory, args.services)
        walls = {}
        for stack in ("hand", "compose"):
            cmd = [sys.executable, "-m", "tools.preview", "--project-dir", str(directory), "--stack", stack, "--json"]
            walls[stack] = min(measure(cmd, ROOT)[0] for _ in range(args.repeat))
            print(f"  measured {stack}: {walls[stack]:.2f}s", file=sys.stderr)
        from settings import Settings
        data = yaml.safe_load((directory / "Pulumi.compose.yaml").read_text())["config"]
        settings = {k.split(":", 1)[1]: v for k, v in data.items() if k.startswith("private-fargate:")}
        started = time.perf_counter()
        Settings.from_dict(settings, base_dir=directory)
        alone = time.perf_counter() - started
    print(f"{'stack (' + str(args.services) + ' services)':<34} {'wall s':>8}")
    print(f"{'written by hand':<34} {walls['hand']:>8.2f}")
    print(f"{'from the compose file':<34} {walls['compose']:>8.2f}")
    print(f"{'difference':<34} {walls['compose'] - walls['hand']:>8.2f}")
    print(f"{'the import alone (in process)':<34} {alone:>8.2f}")
    print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {sys.platform}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
