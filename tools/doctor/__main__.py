"""The doctor's command line: pick the workloads, run the checks (and the probe), print, exit."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from tools import doctor
from tools.aws import EXIT_FAILED, EXIT_OK, Stack, add_source_args, run_with_stack
from tools.doctor import probe
from tools.doctor.checks import Deployed, Finding, check_network
from tools.doctor.resources import check_images, check_log_group, check_secrets

CHECKS = (check_network, check_images, check_secrets, check_log_group)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.doctor", description=doctor.__doc__.splitlines()[0])
    p.add_argument("workload", nargs="?", help="one job or service [all of them]")
    add_source_args(p)
    p.add_argument("--probe", action="store_true",
                   help="also run a probe task in the workload's network and roles (about a minute; a Fargate task)")
    p.add_argument("--probe-timeout", type=float, default=600.0, help="seconds to wait for the probe [600]")
    return p.parse_args(argv)


def main(argv: list[str] | None = None, session: Any = None, out: Callable[[str], None] = print,
         sleep: Callable[[float], None] = time.sleep) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)

    def body(stack: Stack) -> int:
        chosen = stack.chosen(args.workload)
        d = Deployed(stack.session, stack.outputs, stack.region)
        out(f"doctor: cluster {stack.outputs.get('clusterName')} in {stack.region}, {stack.outputs.get('vpcId')}")
        found: list[Finding] = []
        for w in chosen:
            out(f"{w.kind} {w.name}")
            for check in CHECKS:
                for finding in check(d, w):
                    found.append(finding)
                    out(finding.line())
            if args.probe:
                for finding in probe.run(d, w, args.probe_timeout, sleep=sleep, progress=out):
                    found.append(finding)
                    out(finding.line())
        failed = sum(f.status == "fail" for f in found)
        warned = sum(f.status == "warn" for f in found)
        if not chosen:
            out("no workloads in the outputs: nothing to check")
        out(f"{failed} failed, {warned} warnings, {len(found) - failed - warned} ok")
        return EXIT_FAILED if failed else EXIT_OK

    return run_with_stack(args, session, body)


if __name__ == "__main__":
    sys.exit(main())
