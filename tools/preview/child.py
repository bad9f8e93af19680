"""Child process of `tools.preview`: run one Pulumi Python program under mocks, write what it registered.

Run as a script (`python child.py JOB.json RESULT.json`) with the project directory as working
directory, by the program's own Python when its Pulumi.yaml names an environment. It imports nothing
from this repository but its siblings (`sdkschema`, `plausible`, `fakes`, `wire`: by file path, under
private module names), and takes this repository off `sys.path`, so a previewed project with its
own `components` or `tools` package gets its own. It needs only the `pulumi` SDK (and the program's
own packages). The program's prints go wherever the parent sends this process's stdout; the result
goes to RESULT.json only.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import logging
import os
import runpy
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
#: Siblings loaded by file path under private names, in import order (each may import the ones before it).
_SIBLINGS = ("sdkschema", "plausible", "fakes_db", "fakes", "wire", "mocks")


def _load(stem: str) -> Any:
    name = f"_private_fargate_preview_{stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / f"{stem}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _cannot_run(exc: ImportError) -> None:
    """Run by a Python without a usable pulumi SDK (the program's own environment lacks it): say so and stop."""
    message = (f"{sys.executable} cannot run the offline preview: {exc} (it needs the pulumi SDK, 3.x, "
               "and the program's own packages)")
    Path(sys.argv[2]).write_text(json.dumps({"ok": False, "error": message, "environment": True}))
    os._exit(0)


# All before the project's path is installed (its own `tools` or `wire` must not shadow them).
try:
    sdkschema, plausible, _fakes_db, fakes, wire, preview_mocks = (_load(stem) for stem in _SIBLINGS)
    from pulumi.runtime import mocks as pulumi_mocks
    from pulumi.runtime.stack import wait_for_rpcs
except ImportError as _exc:
    if __name__ != "__main__":
        raise
    _cannot_run(_exc)

import pulumi  # noqa: E402

UNKNOWN_TEXT = wire.UNKNOWN_TEXT
SECRET_TEXT = wire.SECRET_TEXT



class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Sees every RegisterResource request, as the policy engine does: parent, dependencies, protect.

    It also hands the SDK's mock monitor the request with resource references turned into ids and
    URNs. The mock monitor deserializes a request on the gRPC worker thread that carries it; a
    resource reference there (a resource passed to a component) is rebuilt into a resource object,
    whose registration starts on that thread's own event loop while the program waits for it on its
    loop: "Task got Future attached to a different loop" (pulumi/pulumi#6561). A provider never
    receives references anyway: the engine sends it ids and URNs.
    """

    def __init__(self, mocks: preview_mocks.PreviewMocks):
        super().__init__(mocks)
        mocks.monitor = self
        self.records: list[dict[str, Any]] = []
        self.preview = mocks.preview
        # Options the engine applies but the policy pack does not see; kept for tests, not in --json.
        self.options: dict[str, dict[str, Any]] = {}
        self.opaque: list[dict[str, str]] = []
        self._urns: set[str] = set()
        self._lock = threading.Lock()

    def Invoke(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        return super().Invoke(_without_references(request, "args"))

    def ReadResource(self, request: Any) -> Any:  # noqa: N802
        response = super().ReadResource(_without_references(request, "properties"))
        # The SDK's mock monitor leaves the response's id empty, which a preview takes for unknown; the
        # engine returns the id the provider read (known, even in a first preview).
        read = self.resources.get(response.urn)
        if read is not None and "id" in type(response).DESCRIPTOR.fields_by_name and not response.id:
            response.id = read.id or request.id
        return response

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802
        urn = self.make_urn(request.parent, request.type, request.name)
        with self._lock:  # registrations arrive on several threads
            duplicate = urn in self._urns
            self._urns.add(urn)
        if duplicate:
            # The engine refuses a second resource with the same URN; so does the offline preview.
            message = f"two resources have the same name: {request.type} {request.name!r} ({urn})"
            self.mocks.unanswered.append(message)
            raise ValueError(message)
        remote = bool(getattr(request, "remote", False))
        self.mocks.remote.value, self.mocks.remote.urn = remote, urn
        try:
            response = super().RegisterResource(_without_references(request, "object"))
        finally:
            self.mocks.remote.value = False
        custom = bool(request.custom)
        if request.type == "pulumi:pulumi:Stack":
            rid, outputs = "", {}
        else:
            rid = response.id if custom else ""
            outputs = wire.to_dict(response.object) if custom or remote else {}
        if custom and not rid:
            rid = UNKNOWN_TEXT
        inputs = wire.to_dict(request.object)
        if remote:
            self.opaque.append({"urn": response.urn, "type": request.type})
        self.records.append({
            "urn": response.urn,
            "type": request.type,
            "name": request.name,
            "parent": request.parent or None,
            "custom": custom,
            "inputs": wire.display(inputs),
            "id": rid,
            "outputs": wire.display(outputs),
            # The SDK gathers dependencies in sets, whose order changes from process to process: sorted,
            # two runs of one program give the same report byte for byte.
            "propertyDependencies": {k: sorted(v.urns) for k, v in sorted(request.propertyDependencies.items())},
            "dependencies": sorted(request.dependencies),
            "protect": bool(request.protect) if request.HasField("protect") else False,
            "retainOnDelete": bool(request.retainOnDelete) if request.HasField("retainOnDelete") else False,
            # What the policy pack is given (secrets readable); dropped from the printed report.
            "_policy": {"inputs": wire.for_policies(inputs), "outputs": wire.for_policies(outputs)},
        })
        self.options[response.urn] = {"ignoreChanges": list(request.ignoreChanges),
                                      "deleteBeforeReplace": bool(request.deleteBeforeReplace),
                                      # an alias is a URN, or a spec whose name is enough to tell them apart
                                      "aliases": sorted(filter(None, (a.urn or a.spec.name for a in request.aliases)))
                                      + sorted(request.aliasURNs)}
        return response


def _without_references(request: Any, field: str) -> Any:
    """The request with resource references in `field` replaced by ids/URNs (the same request if it has none)."""
    plain = wire.downgraded(getattr(request, field))
    if plain is None:
        return request
    copy = type(request)()
    copy.CopyFrom(request)
    getattr(copy, field).CopyFrom(plain)
    return copy


class _Notes(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def _resolve(value: Any) -> Any:
    """A stack output made JSON-safe: unknown leaves as `<unknown>`, secrets as `[secret]`."""
    if isinstance(value, pulumi.Output):
        if not await value.is_known():
            return UNKNOWN_TEXT
        if await value.is_secret():
            return SECRET_TEXT
        return await _resolve(await value.future())
    if isinstance(value, pulumi.Resource):
        return await _resolve(value.urn)
    if isinstance(value, dict):
        return {str(k): await _resolve(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [await _resolve(v) for v in value]
    if inspect.isawaitable(value):
        return await _resolve(await value)
    return value


def _where(exc: BaseException, project_dir: Path) -> str:
    """The innermost frame of the project's own code, so a one-line error still points somewhere
    (through the exceptions it was raised from: the SDK re-raises an apply's error)."""
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    frames = [(f.filename, f.lineno) for e in reversed(chain) for f in traceback.extract_tb(e.__traceback__)]
    for e in chain:
        if isinstance(e, SyntaxError) and e.filename:
            frames.append((e.filename, e.lineno))
    for filename, lineno in reversed(frames):
        if filename.startswith("<"):
            continue
        path = Path(filename)
        try:
            rel = path.resolve().relative_to(project_dir)
        except ValueError:
            continue
        if ".venv" not in rel.parts and "site-packages" not in rel.parts:
            return f" (at {rel}:{lineno})"
    return ""


def _message(exc: BaseException, mocks: preview_mocks.PreviewMocks, project_dir: Path) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    for unanswered in mocks.unanswered:  # the SDK may wrap it; say it as the mocks did
        if unanswered.rsplit(" ", 1)[-1] in text:
            return unanswered
    if isinstance(exc, pulumi.RunError):
        return text
    return f"the program failed: {type(exc).__name__}: {text}{_where(exc, project_dir)}"


class ProgramFailed(Exception):
    """The program (or what it asked of the mocks) failed; the message is one line.

    `resources` holds what was registered before the failure (a settings error must leave none).
    """

    def __init__(self, message: str, resources: list[dict[str, Any]]):
        super().__init__(message)
        self.resources = resources


def simulate(build: Any, *, project: str, stack: str, config: dict[str, str], secret_keys: list[str],
             region: str, account: str | None = None, mode: str = "preview",
             project_dir: Path | None = None,
             stack_references: dict[str, dict[str, Any]] | None = None,
             answers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run `build()` (a program or one component) under mocks; return resources, outputs and notes,
    the multi-language components it registered (`opaque`) and the invokes it got made-up answers to.

    Each call gets a fresh event loop, root stack and config, so tests can call it repeatedly.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    notes = _Notes()
    logger = logging.getLogger(f"private-fargate.preview.{id(notes)}")
    logger.addHandler(notes)
    logger.propagate = False
    logger.setLevel(logging.INFO)

    preview = mode == "preview"
    cloud = fakes.Cloud(region, account or fakes.DEFAULT_ACCOUNT)
    mocks = preview_mocks.PreviewMocks(cloud, preview, stack_references, answers)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.settings.SETTINGS.outputs = set()
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, logger=logger, monitor=monitor)
    try:
        try:
            build()
            loop.run_until_complete(wait_for_rpcs())
            root = pulumi.runtime.settings.get_root_resource()
            outputs = loop.run_until_complete(_resolve(dict(getattr(root, "outputs", {}) or {})))
        except BaseException as exc:  # reported as one line, SystemExit too
            if os.environ.get("PRIVATE_FARGATE_PREVIEW_DEBUG"):
                traceback.print_exc()
            if isinstance(exc, SystemExit) and not exc.code:
                raise ProgramFailed("the program called sys.exit() before it finished", monitor.records) from exc
            message = _message(exc, mocks, project_dir or Path.cwd().resolve())
            raise ProgramFailed(message, monitor.records) from exc
    finally:
        _drain(loop)
        # A failed program leaves futures whose errors it already reported in one line; when they are
        # collected later, asyncio would print each again with a traceback.
        loop.set_exception_handler(lambda _loop, _context: None)
        loop.close()
        asyncio.set_event_loop(None)
    return {"resources": _ordered(monitor.records), "outputs": outputs, "notes": notes.messages,
            "options": monitor.options, "opaque": sorted(monitor.opaque, key=lambda o: o["urn"]),
            "faked": [mocks.faked[k] for k in sorted(mocks.faked)],
            "reads": [mocks.reads[k] for k in sorted(mocks.reads)]}


def _ordered(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parents before children, siblings by type and name: registration order varies run to run."""
    children: dict[str | None, list[dict[str, Any]]] = {}
    urns = {r["urn"] for r in records}
    for record in records:
        children.setdefault(record["parent"] if record["parent"] in urns else None, []).append(record)
    return _ordered_below(None, children)


def _ordered_below(urn: str | None, children: dict[str | None, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for record in sorted(children.get(urn, []), key=lambda r: (r["type"], r["name"])):
        out.append(record)
        out.extend(_ordered_below(record["urn"], children))
    return out


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what a failed program left pending, so closing the loop reports nothing spurious."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def run(job: dict[str, Any]) -> dict[str, Any]:
    """Run the program described by `job` in this process, isolated from this repository's modules."""
    project_dir = Path(job["directory"]).resolve()
    main = Path(job["main"]).resolve()
    own = {HERE, REPO}
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() not in own]
    # The project directory first (as the CLI runs it), then the entry point's own directory.
    for entry in dict.fromkeys([main.parent, project_dir]):
        sys.path.insert(0, str(entry))
    os.chdir(project_dir)
    try:
        result = simulate(lambda: runpy.run_path(str(main), run_name="__main__"), project=job["project"],
                          stack=job["stack"], config=job["config"], secret_keys=job["secretKeys"],
                          region=job["region"], account=job.get("account"), mode=job["mode"],
                          project_dir=project_dir, stack_references=job.get("stackReferences"),
                          answers=job.get("invokes"))
    except ProgramFailed as exc:
        return {"ok": False, "error": str(exc)}
    result.pop("options")
    return {"ok": True, **result}


def main() -> None:
    job_file, result_file = sys.argv[1], sys.argv[2]
    job = json.loads(Path(job_file).read_text())
    result = run(job)
    Path(result_file).write_text(json.dumps(result))
    sys.stdout.flush()
    sys.stderr.flush()
    # The SDK's mock monitor leaves an event loop in each worker thread; finalizing them at
    # interpreter exit prints spurious tracebacks. The result is written: leave without finalizers.
    os._exit(0)


if __name__ == "__main__":
    main()
