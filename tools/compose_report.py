"""Measure the docker-compose importer on real files: per file, imported or refused (and why), and the notes.

    python -m tools.compose_report PATH... [--credentials dockerhub,ghcr] [--profiles a,b] [--region R] [--json]

Each PATH is a compose file, or a directory searched recursively for the file `docker compose` would
pick in each folder (compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml). Every file is
loaded as a stack whose only setting is `compose: {file: ...}` (plus the upstream credentials named),
exactly as `Settings.load()` would, with the file's folder as the project directory; nothing is
registered and no AWS call is made. Prints one block per file and the totals; `--json` prints them as JSON.
Exit status 0 (a refused file is a result, not a failure of the tool).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from settings import Settings, SettingsError

#: The files `docker compose` looks for in a folder, in its order.
DEFAULT_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
#: A placeholder secret ARN per upstream, standing for the stack's `repository.upstreamCredentials`.
_CREDENTIAL = "arn:aws:secretsmanager:{region}:123456789012:secret:ecr-pullthroughcache/{key}-AbCdEf"


def compose_files(paths: list[str]) -> list[Path]:
    """The files to measure: given files, and the default compose file of every folder below given directories."""
    out: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_file():
            out.append(path)
            continue
        for folder in sorted({p.parent for p in path.rglob("*") if p.name in DEFAULT_NAMES}):
            out.append(next(folder / n for n in DEFAULT_NAMES if (folder / n).is_file()))
    return out


def measure(path: Path, credentials: list[str], region: str, profiles: list[str] | None = None) -> dict[str, Any]:
    """Load one compose file as a stack's only setting; what it became, or why not."""
    data: dict[str, Any] = {"compose": {"file": path.name, **({"profiles": profiles} if profiles else {})}}
    if credentials:
        data["repository"] = {"upstreamCredentials": {k: _CREDENTIAL.format(region=region, key=k)
                                                      for k in credentials}}
    started = time.perf_counter()
    try:
        settings = Settings.from_dict(data, region=region, base_dir=path.parent)
    except SettingsError as exc:
        lines = [p.split(": ", 2)[-1] if p.startswith("compose: ") else p for p in exc.problems]
        return {"file": str(path), "imported": False, "refused": lines,
                "ms": round((time.perf_counter() - started) * 1000)}
    notes = [n for n in settings.notes if n.startswith("compose: ")]
    if not settings.workloads:
        # every service is behind a profile it was not given: not refused, but nothing was imported either
        return {"file": str(path), "imported": False, "empty": True, "refused": [], "notes": notes,
                "ms": round((time.perf_counter() - started) * 1000)}
    return {"file": str(path), "imported": True, "services": len(settings.services), "jobs": len(settings.jobs),
            "containers": sum(len(w.containers) for w in settings.workloads), "volumes": len(settings.volumes),
            "notes": notes, "ms": round((time.perf_counter() - started) * 1000)}


def refused_key(line: str) -> str:
    """The compose key a refusal names (`services.web.privileged: ...` -> `privileged`)."""
    m = re.match(r"(?:.*?: )?services\.[^.:]+\.([a-z_]+)", line)
    if m:
        return m.group(1)
    return line.split(":", 1)[0]


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Files imported and refused, refusals by compose key, workloads and notes."""
    imported = [r for r in rows if r["imported"]]
    empty = [r for r in rows if r.get("empty")]
    return {"files": len(rows), "imported": len(imported), "empty": len(empty),
            "refused": len(rows) - len(imported) - len(empty),
            "refusalsByKey": dict(Counter(refused_key(line) for r in rows for line in r.get("refused", []))
                                  .most_common()),
            "services": sum(r["services"] for r in imported), "jobs": sum(r["jobs"] for r in imported),
            "containers": sum(r["containers"] for r in imported),
            "notes": sum(len(r["notes"]) for r in imported)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="compose files or directories")
    parser.add_argument("--credentials", default="", help="upstream credentials the stack has: dockerhub,ghcr,...")
    parser.add_argument("--profiles", default="", help="compose profiles to enable: a,b or *")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    credentials = [c for c in args.credentials.split(",") if c]
    profiles = [p for p in args.profiles.split(",") if p]
    rows = [measure(p, credentials, args.region, profiles) for p in compose_files(args.paths)]
    summary = totals(rows)
    if args.json:
        print(json.dumps({"files": rows, "totals": summary}, indent=1))
        return 0
    for row in rows:
        if row["imported"]:
            print(f"imported  {row['file']}: {row['services']} services, {row['jobs']} jobs, "
                  f"{row['containers']} containers, {len(row['notes'])} notes ({row['ms']} ms)")
            for note in row["notes"]:
                print(f"    {note}")
        elif row.get("empty"):
            print(f"empty     {row['file']}: nothing to run (every service is in a profile not enabled: "
                  "--profiles)")
        else:
            print(f"refused   {row['file']}:")
            for line in row["refused"]:
                print(f"    {line}")
    print(f"\n{summary['imported']} of {summary['files']} files imported ({summary['services']} services, "
          f"{summary['jobs']} jobs, {summary['containers']} containers, {summary['notes']} notes); "
          f"{summary['refused']} refused" + (f"; {summary['empty']} with nothing to run in the profiles given"
                                             if summary["empty"] else ""))
    for key, count in summary["refusalsByKey"].items():
        print(f"    refused {count}x: {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
