#!/usr/bin/env python3
"""Set-up and everyday commands, needing only Python 3.11+ on the machine.

    python3 dev.py preview [--stack prod] [...]   offline preview of a stack (default dev)
    python3 dev.py test [pytest args]             the tests (in parallel; one file or -k runs serially)
    python3 dev.py lint                           ruff
    python3 dev.py zizmor [PATH ...]              GitHub Actions security lint of .github/ (offline)
    python3 dev.py ci                             lint, zizmor, tests, offline preview of every shipped stack
    python3 dev.py lock [--upgrade | --upgrade-package NAME ...]   re-lock after changing a *.in file
    python3 dev.py verify                         the installed packages are exactly the locked ones
    python3 dev.py audit                          pip-audit of every lock (needs the vulnerability services)
    python3 dev.py docs                           regenerate the README's settings and outputs tables

The first call creates .venv and installs requirements-dev.txt, the hash-checked lock of the
program, the policy pack and the development tools; later calls reuse it and rebuild it only when
the lock changed. Every call first checks that each lock still satisfies its *.in file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
DEV_LOCK = "requirements-dev.txt"
#: (input with ranges, hash-checked lock), in the order they are compiled: the development lock resolves
#: everything together; the others are constrained by it, so they pin exactly what the tests ran.
LOCKS = (("requirements-dev.in", DEV_LOCK), ("requirements.in", "requirements.txt"),
         ("policy/requirements.in", "policy/requirements.txt"), ("app/requirements.in", "app/requirements.txt"))
#: The constraint every lock but the development one is compiled with.
CONSTRAINT = ("--constraint", DEV_LOCK)
COMPILE_OPTIONS = ("--generate-hashes", "--allow-unsafe", "--strip-extras", "--no-emit-index-url",
                   "--no-emit-find-links", "--no-emit-trusted-host", "--quiet")
#: pip's words when it cannot reach an index, to say so in one line instead of pip's page of retries.
_OFFLINE = ("Failed to establish a new connection", "Could not fetch URL", "NewConnectionError",
            "Temporary failure in name resolution", "ConnectTimeoutError", "Network is unreachable",
            "ProxyError", "SSLError")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


class SetupError(Exception):
    """Set-up cannot go on; the message is the one line to print."""


def say(message: str) -> None:
    print(f"dev.py: {message}", file=sys.stderr, flush=True)


def _packaging():
    """`packaging` for PEP 440 and 508: installed, or the copy every pip carries."""
    try:
        from packaging import requirements, utils
    except ImportError:
        from pip._vendor.packaging import requirements, utils  # type: ignore[no-redef]
    return requirements, utils


def direct_requirements(path: Path) -> dict[str, object]:
    """Normalized name -> Requirement of an input file, following `-r` includes (not `-c` constraints)."""
    requirements, utils = _packaging()
    out: dict[str, object] = {}
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#") or line.startswith(("-c", "--constraint")):
            continue
        if line.startswith(("-r", "--requirement")):
            out.update(direct_requirements(path.parent / line.split(None, 1)[1]))
            continue
        req = requirements.Requirement(line)
        out[utils.canonicalize_name(req.name)] = req
    return out


def locked_versions(path: Path) -> tuple[dict[str, str], set[str]]:
    """(normalized name -> pinned version, names pip-compile says come from a `-r` input) of a lock file."""
    _, utils = _packaging()
    pins: dict[str, str] = {}
    from_inputs: set[str] = set()
    current = None
    for line in path.read_text().splitlines():
        m = _PIN.match(line)
        if m:
            current = utils.canonicalize_name(m.group(1))
            pins[current] = m.group(2)
        elif current and re.match(r"^\s+#\s+(via\s+)?-r\s", line):
            from_inputs.add(current)
    return pins, from_inputs


def stale_lock() -> str | None:
    """Why a lock no longer matches its input file, or None when every lock is current."""
    for source, lock in sorted(LOCKS, key=lambda pair: pair[1] == DEV_LOCK):  # the narrower input names the cause
        if not (ROOT / lock).is_file():
            return f"{lock} is missing"
        wanted = direct_requirements(ROOT / source)
        pins, from_inputs = locked_versions(ROOT / lock)
        for name, req in wanted.items():
            if req.marker is not None and not req.marker.evaluate():  # type: ignore[attr-defined]
                continue
            if name not in pins:
                return f"{source} asks for {req}, which {lock} does not pin"
            if not req.specifier.contains(pins[name], prereleases=True):  # type: ignore[attr-defined]
                return f"{source} asks for {req}, but {lock} pins {name}=={pins[name]}"
        gone = sorted(from_inputs - set(wanted))
        if gone:
            return f"{lock} still pins {gone[0]}, which {source} no longer asks for"
    return None


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def pip(exe: Path, *args: str, what: str) -> None:
    """Run pip quietly; on failure one line (the index unreachable, or pip's last error)."""
    proc = subprocess.run([str(exe), "-m", "pip", *args, "--disable-pip-version-check", "--no-input"],
                          capture_output=True, text=True, check=False)
    if proc.returncode == 0:
        return
    output = proc.stdout + proc.stderr
    if any(word in output for word in _OFFLINE):
        raise SetupError(f"{what}: the package index cannot be reached (check the network, a proxy or "
                         "PIP_INDEX_URL), so nothing was installed")
    errors = [line.strip() for line in output.splitlines() if line.strip().startswith("ERROR")]
    none = re.search(r"requirement (\S+) \(from versions: none\)", output)
    if none:
        raise SetupError(f"{what}: no package index offered {none.group(1)} (is the index reachable from here, "
                         "and does it mirror that version?); nothing was installed")
    raise SetupError(f"{what} failed: {(errors or output.strip().splitlines() or ['no output'])[-1]}")


def installed(exe: Path) -> dict[str, str]:
    """Normalized name -> version of what the virtualenv holds (pip's own tools left out)."""
    _, utils = _packaging()
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")
    found = json.loads(subprocess.run([str(exe), "-c", code], capture_output=True, text=True, check=True).stdout)
    return {utils.canonicalize_name(k): v for k, v in found.items()}


def differences(exe: Path, lock: str = DEV_LOCK) -> list[str]:
    """How the virtualenv differs from a lock (empty when it holds exactly the locked versions)."""
    pins, _ = locked_versions(ROOT / lock)
    # venv puts pip (and setuptools) in every environment: they count only when the lock pins them.
    have = {n: v for n, v in installed(exe).items() if n in pins or n not in ("pip", "setuptools", "wheel")}
    out = [f"{n}=={v} is locked but {'missing' if n not in have else 'installed as ' + have[n]}"
           for n, v in sorted(pins.items()) if have.get(n) != v]
    out += [f"{n}=={v} is installed but not locked" for n, v in sorted(have.items()) if n not in pins]
    return out


def python(check_locks: bool = True) -> Path:
    """The virtualenv's interpreter: created and filled from the dev lock on first use or after the lock changed."""
    if check_locks:
        why = stale_lock()
        if why:
            raise SetupError(f"{why}: run `python3 dev.py lock` and commit the lock files")
    exe = venv_python()
    stamp = VENV / ".lock.sha256"
    digest = hashlib.sha256((ROOT / DEV_LOCK).read_bytes()).hexdigest()
    if exe.exists() and stamp.is_file() and stamp.read_text() == digest:
        return exe
    started = time.monotonic()
    say(f"creating .venv with Python {sys.version.split()[0]}")
    venv.create(VENV, with_pip=True, clear=True)  # a new lock means a clean environment, nothing left over
    count = len(locked_versions(ROOT / DEV_LOCK)[0])
    say(f"installing {count} locked packages from {DEV_LOCK} (hash-checked; about a minute)")
    pip(exe, "install", "--quiet", "--require-hashes", "--no-deps", "-r", str(ROOT / DEV_LOCK),
        what=f"installing {DEV_LOCK}")
    wrong = differences(exe)
    if wrong:
        raise SetupError(f".venv does not match {DEV_LOCK}: {wrong[0]}")
    stamp.write_text(digest)
    say(f".venv ready in {time.monotonic() - started:.0f} s")
    return exe


def run(*args: object, exe: Path | None = None) -> int:
    """Run a command with the virtualenv's Python from the repository root."""
    return subprocess.run([str(exe or python()), *map(str, args)], cwd=ROOT, check=False).returncode


def stacks() -> list[str]:
    """The stacks this repository ships (Pulumi.<stack>.yaml files)."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


#: Example stacks: previewed offline like the others, never previewed for real nor deployed by the workflows:
#: their `secure:` values are placeholders for your own, which no secrets provider can decrypt.
EXAMPLE_STACKS = ("fullstack",)


def deployed_stacks() -> list[str]:
    """The shipped stacks the workflows preview for real and deploy (all but the examples)."""
    return [s for s in stacks() if s not in EXAMPLE_STACKS]


def pytest_args(rest: list[str]) -> list[str]:
    """All tests run on every core (pytest-xdist); a chosen file, test or -k runs in this process, at once."""
    named = [a for a in rest if not a.startswith("-") and ("::" in a or (ROOT / a.split("::")[0]).exists())]
    chosen = bool(named) or any(a in ("-k", "-n", "--lf", "--sw", "-x") for a in rest)
    return ["-m", "pytest", *rest] if chosen else ["-m", "pytest", "-n", "auto", *rest]


def lock(rest: list[str]) -> int:
    """Re-resolve every lock from its input file (pip-tools), keeping current versions unless asked to upgrade."""
    exe = venv_python()
    if not exe.exists() or not shutil.which("pip-compile", path=str(exe.parent)):
        if not exe.exists():
            say("creating .venv to run pip-compile")
            venv.create(VENV, with_pip=True)
        pip(exe, "install", "--quiet", "pip-tools>=7.4,<8", what="installing pip-tools")
    compile_ = exe.parent / "pip-compile"
    for source, target in LOCKS:
        say(f"locking {target} from {source}")
        constraint = CONSTRAINT if target != DEV_LOCK else ()
        proc = subprocess.run([str(compile_), *COMPILE_OPTIONS, *constraint, *rest, "--output-file", target, source],
                              cwd=ROOT,
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            lines = [line for line in proc.stderr.splitlines() if line.strip() and "WARNING: Location" not in line]
            say(f"pip-compile {source} failed: {(lines or ['no output'])[-1]}")
            return 1
    say("locks written; commit them with the *.in files (the next command rebuilds .venv)")
    return 0


def audit() -> int:
    """pip-audit every lock; fail on a known vulnerability that has a fixed version (runs in GitHub workflows)."""
    exe = python()
    status = 0
    for _, lock_file in LOCKS:
        proc = subprocess.run([str(exe), "-m", "pip_audit", "--requirement", lock_file, "--require-hashes",
                               "--disable-pip", "--format", "json", "--progress-spinner", "off"], cwd=ROOT,
                              capture_output=True, text=True, check=False)
        try:
            report = json.loads(proc.stdout)
        except ValueError:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            say(f"pip-audit {lock_file} failed: {last}")
            return 2
        for dep in report.get("dependencies", []):
            for vuln in dep.get("vulns", []):
                if vuln.get("fix_versions"):
                    say(f"{lock_file}: {dep['name']}=={dep['version']} has {vuln['id']}, fixed in "
                        f"{', '.join(vuln['fix_versions'])}: run `python3 dev.py lock --upgrade-package {dep['name']}`")
                    status = 1
        deps = report.get("dependencies", [])
        skipped = [d["name"] for d in deps if d.get("skip_reason")]
        if deps and len(skipped) == len(deps):  # pip-audit passes when it could look nothing up: not here
            say(f"pip-audit {lock_file}: every package was skipped ({skipped[0]}: "
                f"{next(d['skip_reason'] for d in deps if d.get('skip_reason'))}); the vulnerability service "
                "cannot be reached from here, so nothing was checked")
            return 2
        say(f"{lock_file}: {len(deps)} packages audited" + (f", {len(skipped)} skipped ({', '.join(skipped)})"
                                                            if skipped else ""))
    return status


def zizmor(paths: list[str]) -> int:
    """zizmor over .github/ (workflows and dependabot.yml), offline: any finding of low severity or above fails.

    Suppressions live next to the line they excuse (`# zizmor: ignore[rule] reason`), never in a config file.
    """
    tool = shutil.which("zizmor", path=str(python().parent))  # zizmor.exe on Windows
    if tool is None:
        raise SetupError(f"zizmor is not in .venv: it is pinned in {DEV_LOCK}; delete .venv to reinstall it")
    command = [tool, "--offline", "--min-severity", "low", "--no-progress", "--quiet"]
    return subprocess.run([*command, *(paths or [".github"])], cwd=ROOT, check=False).returncode


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    try:
        if command == "preview":
            return run("-m", "tools.preview", *rest)
        if command == "test":
            return run(*pytest_args(rest))
        if command == "lint":
            return run("-m", "ruff", "check", ".")
        if command == "zizmor":
            return zizmor(rest)
        if command == "ci":
            status = run("-m", "ruff", "check", ".") or zizmor([]) or run(*pytest_args(rest))
            for stack in stacks():
                status = status or run("-m", "tools.preview", "--stack", stack)
            return status
        if command == "lock":
            return lock(rest)
        if command == "verify":
            wrong = differences(python())
            if wrong:
                say(f".venv does not match {DEV_LOCK}: {'; '.join(wrong)}")
                return 1
            say(f".venv holds exactly the {len(locked_versions(ROOT / DEV_LOCK)[0])} packages of {DEV_LOCK}")
            return 0
        if command == "audit":
            return audit()
        if command == "docs":
            return run("-m", "tools.docs", "--write")
    except SetupError as exc:
        say(str(exc))
        return 2
    print(__doc__)
    return 0 if command in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
