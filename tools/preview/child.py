"""Child process of `tools.preview`: run one Pulumi Python program under mocks, write what it registered.

Run as a script (`python child.py JOB.json RESULT.json`) with the project directory as working
directory. It imports nothing from this repository but its sibling `fakes.py` (by file path, under
a private module name), and takes this repository off `sys.path`, so a previewed project with its
own `components` or `tools` package gets its own. The program's prints go wherever the parent sends
this process's stdout; the result goes to RESULT.json only.
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
UNKNOWN_TEXT = "<unknown>"
SECRET_TEXT = "[secret]"


def _load_fakes() -> Any:
    spec = importlib.util.spec_from_file_location("_private_fargate_preview_fakes", HERE / "fakes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fakes = _load_fakes()

import pulumi  # noqa: E402  (after fakes: both must load before the project's path is installed)
from google.protobuf import json_format  # noqa: E402
from pulumi.runtime import mocks as pulumi_mocks  # noqa: E402
from pulumi.runtime import rpc  # noqa: E402
from pulumi.runtime.stack import wait_for_rpcs  # noqa: E402

_SIG = rpc._special_sig_key
_SIGS = {
    rpc._special_secret_sig: "secret",
    rpc._special_resource_sig: "resource",
    rpc._special_asset_sig: "asset",
    rpc._special_archive_sig: "archive",
    rpc._special_output_value_sig: "output",
}


def wire_to_json(value: Any) -> Any:
    """A value as the engine sees it on the wire, with unknowns and secrets made readable."""
    if isinstance(value, dict):
        kind = _SIGS.get(value.get(_SIG, ""))
        if kind == "secret":
            return SECRET_TEXT
        if kind == "resource":
            return value.get("urn")
        if kind in ("asset", "archive"):
            return {kind: value.get("path") or value.get("uri") or value.get("text") or "<inline>"}
        if kind == "output":
            if "value" not in value:
                return UNKNOWN_TEXT
            return SECRET_TEXT if value.get("secret") else wire_to_json(value["value"])
        return {k: wire_to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wire_to_json(v) for v in value]
    if value == rpc.UNKNOWN:
        return UNKNOWN_TEXT
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def struct_to_json(struct: Any) -> dict[str, Any]:
    """A protobuf Struct from a register request or response as plain JSON."""
    if struct is None:
        return {}
    return wire_to_json(json_format.MessageToDict(struct))


class PreviewMocks(pulumi_mocks.Mocks):
    """Answers invokes from the fakes; in `up` mode adds the outputs a provider would compute."""

    def __init__(self, cloud: Any, preview: bool, stack_references: dict[str, dict[str, Any]] | None = None):
        self.cloud = cloud
        self.preview = preview
        self.stack_references = stack_references or {}
        self.unanswered: list[str] = []

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict:
        try:
            return self.cloud.invoke(args.token, dict(args.args))
        except fakes.UnansweredInvoke as exc:
            self.unanswered.append(str(exc))
            raise

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = {k: v for k, v in dict(args.inputs).items() if v is not None}
        if args.typ == "pulumi:pulumi:StackReference":
            return self._stack_reference(str(inputs.get("name", args.name)))
        if not args.custom:
            return "", {}
        rid, computed = self.cloud.computed_outputs(args.typ, args.name, inputs)
        if self.preview:
            # The engine's first preview knows the inputs; what the provider computes (the id
            # included) is unknown: present, but without a value.
            return "", {**inputs, **{k: rpc.UNKNOWN for k in computed if k not in inputs and k != "id"}}
        return rid, {**inputs, **computed}


    def _stack_reference(self, name: str) -> tuple[str, dict]:
        """Another stack's outputs, as the engine reads them (they are known even in a first preview)."""
        if name not in self.stack_references:
            message = f"the offline preview has no outputs for the stack reference {name}"
            self.unanswered.append(message)
            raise fakes.UnansweredInvoke(message)
        return name, {"name": name, "outputs": self.stack_references[name], "secretOutputNames": []}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Sees every RegisterResource request, as the policy engine does: parent, dependencies, protect."""

    def __init__(self, mocks: PreviewMocks):
        super().__init__(mocks)
        self.records: list[dict[str, Any]] = []
        self.preview = mocks.preview
        # Options the engine applies but the policy pack does not see; kept for tests, not in --json.
        self.options: dict[str, dict[str, Any]] = {}
        self._urns: set[str] = set()
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        urn = self.make_urn(request.parent, request.type, request.name)
        with self._lock:  # registrations arrive on several threads
            duplicate = urn in self._urns
            self._urns.add(urn)
        if duplicate:
            # The engine refuses a second resource with the same URN; so does the offline preview.
            message = f"two resources have the same name: {request.type} {request.name!r} ({urn})"
            self.mocks.unanswered.append(message)
            raise ValueError(message)
        response = super().RegisterResource(request)
        custom = bool(request.custom)
        if request.type == "pulumi:pulumi:Stack":
            rid, outputs = "", {}
        else:
            rid = response.id if custom else ""
            outputs = struct_to_json(response.object) if custom else {}
        if custom and not rid:
            rid = UNKNOWN_TEXT
        self.records.append({
            "urn": response.urn,
            "type": request.type,
            "name": request.name,
            "parent": request.parent or None,
            "custom": custom,
            "inputs": struct_to_json(request.object),
            "id": rid,
            "outputs": outputs,
            # The SDK gathers dependencies in sets, whose order changes from process to process: sorted,
            # two runs of one program give the same report byte for byte.
            "propertyDependencies": {k: sorted(v.urns) for k, v in sorted(request.propertyDependencies.items())},
            "dependencies": sorted(request.dependencies),
            "protect": bool(request.protect) if request.HasField("protect") else False,
            "retainOnDelete": bool(request.retainOnDelete) if request.HasField("retainOnDelete") else False,
        })
        self.options[response.urn] = {"ignoreChanges": list(request.ignoreChanges),
                                      "deleteBeforeReplace": bool(request.deleteBeforeReplace),
                                      # an alias is a URN, or a spec whose name is enough to tell them apart
                                      "aliases": sorted(filter(None, (a.urn or a.spec.name for a in request.aliases)))
                                      + sorted(request.aliasURNs)}
        return response


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
    """The innermost frame of the project's own code, so a one-line error still points somewhere."""
    frames = [(f.filename, f.lineno) for f in traceback.extract_tb(exc.__traceback__)]
    if isinstance(exc, SyntaxError) and exc.filename:
        frames.append((exc.filename, exc.lineno))
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


def _message(exc: BaseException, mocks: PreviewMocks, project_dir: Path) -> str:
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
             stack_references: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run `build()` (a program or one component) under mocks; return resources, outputs and notes.

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
    mocks = PreviewMocks(fakes.Cloud(region, account or fakes.DEFAULT_ACCOUNT), preview, stack_references)
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
            "options": monitor.options}


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
                          project_dir=project_dir)
    except ProgramFailed as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "resources": result["resources"], "outputs": result["outputs"], "notes": result["notes"]}


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
