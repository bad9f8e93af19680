"""The mocks the preview's child runs a program with: what the engine and the providers would answer.

Invokes: an answer given with --invokes, else the exact answer (fakes.Cloud.invoke), else a made-up
one shaped like the SDK's result type, recorded so the report can say so. Resources: in `preview`
mode the inputs and unknown computed outputs, in `up` mode every computed output made up from the
SDK's schema; a multi-language component gets its outputs (resources among them as stand-ins the
program can read) in `up` mode. StackReferences: the outputs given with --stack-reference.
Loaded by the child by file path, after its siblings.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from _private_fargate_preview_fakes import UnansweredInvoke, list_counts
from _private_fargate_preview_sdkschema import properties, resource_class, resource_items, snake_to_camel, type_token
from _private_fargate_preview_wire import SECRET_TEXT, UNKNOWN_TEXT, display
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {snake_to_camel(str(k)): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def _matches(wanted: Any, actual: Any) -> bool:
    """True when every key of `wanted` is in `actual` with an equal value (lists element by element)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(k in actual and _matches(v, actual[k]) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(actual, list) and len(wanted) == len(actual) and all(map(_matches, wanted, actual))
    return wanted == actual or (isinstance(wanted, (int, float)) and isinstance(actual, (int, float))
                                and float(wanted) == float(actual))


class PreviewMocks(pulumi_mocks.Mocks):
    """Answers invokes (given answers, exact ones, then made-up ones shaped like the SDK's result type) and,
    in `up` mode, gives resources and multi-language components the outputs their provider would compute."""

    def __init__(self, cloud: Any, preview: bool, stack_references: dict[str, dict[str, Any]] | None = None,
                 answers: list[dict[str, Any]] | None = None):
        self.cloud = cloud
        self.preview = preview
        self.stack_references = stack_references or {}
        self.answers = [{**a, "args": _camel_keys(a.get("args") or {}), "result": _camel_keys(a["result"])}
                        for a in answers or []]
        self.unanswered: list[str] = []
        self.faked: dict[str, dict[str, Any]] = {}
        self.reads: dict[str, dict[str, Any]] = {}
        self.remote = threading.local()  # set by the monitor for the registration it is handling
        self.monitor: Any = None  # the RecordingMonitor, once it exists

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict:
        token, given = args.token, dict(args.args)
        answer = next((a for a in self.answers if a["token"] == token and _matches(a["args"], given)), None)
        try:
            if answer is not None:
                return self.cloud.fake_invoke(token, given, answer["result"])
            try:
                return self.cloud.invoke(token, given)
            except UnansweredInvoke:
                result = self.cloud.fake_invoke(token, given)
        except UnansweredInvoke as exc:
            self.unanswered.append(str(exc))
            raise
        key = json.dumps([token, given], sort_keys=True, default=str)
        self.faked[key] = {"token": token, "args": display(given), "result": _ids(result)}
        return result

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = {k: v for k, v in dict(args.inputs).items() if v is not None}
        if args.typ == "pulumi:pulumi:StackReference":
            return self._stack_reference(str(inputs.get("name", args.name)))
        if args.resource_id:  # `Resource.get(name, id)`: the provider reads an existing resource, whole
            _, state = self.cloud.computed_outputs(args.typ, args.name, inputs, custom=False)
            self.reads[f"{args.typ}::{args.name}"] = {"type": args.typ, "name": args.name, "id": args.resource_id}
            return args.resource_id, {**state, **inputs, "id": args.resource_id}
        remote = getattr(self.remote, "value", False)
        if not args.custom:
            # A multi-language component: its provider, not run here, computes its outputs. A first
            # preview knows none of them (the SDK makes missing ones unknown); `up` makes them up.
            if not remote or self.preview:
                return "", {}
            _, computed = self.cloud.computed_outputs(args.typ, args.name, inputs, custom=False)
            counts = list_counts(args.typ, inputs, custom=False)
            return "", {**computed, **self._component_resources(args.typ, args.name, counts)}
        rid, computed = self.cloud.computed_outputs(args.typ, args.name, inputs)
        if self.preview:
            # The engine's first preview knows the inputs; what the provider computes (the id
            # included) is unknown: present, but without a value.
            return "", {**inputs, **{k: rpc.UNKNOWN for k in computed if k not in inputs and k != "id"}}
        return rid, {**inputs, **computed}

    def _component_resources(self, typ: str, name: str, counts: dict[str, int]) -> dict[str, Any]:
        """A component's outputs that are resources (`awsx.lb.ApplicationLoadBalancer.load_balancer`): references
        to stand-ins with made-up state, which the program can read (`lb.load_balancer.dns_name`) through the
        mock monitor's `getResource`, and which are not registered resources of the stack."""
        cls = resource_class(typ)
        parent = getattr(self.remote, "urn", "")
        out: dict[str, Any] = {}
        for prop in properties(cls) if cls is not None and self.monitor is not None else ():
            item, many = resource_items(prop.hint)
            token = type_token(item) if item is not None else None
            if token is None:
                continue
            refs = []
            children = [f"{name}-{prop.name}-{i}" for i in range(counts.get(prop.name, counts[""]))] if many \
                else [name]  # named as the component's provider names its one child of a kind
            for child in children:
                urn = self.monitor.make_urn(parent, token, child)
                rid, state = self.cloud.computed_outputs(token, child, {})
                self.monitor.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, rid, state)
                refs.append({rpc._special_sig_key: rpc._special_resource_sig, "urn": urn, "id": rid})
            out[prop.name] = refs if many else refs[0]
        return out

    def _stack_reference(self, name: str) -> tuple[str, dict]:
        """Another stack's outputs, as the engine reads them (they are known even in a first preview)."""
        if name not in self.stack_references:
            message = (f"the offline preview has no outputs for the stack reference {name}: give them with "
                       f"--stack-reference {name}=FILE.json")
            self.unanswered.append(message)
            raise UnansweredInvoke(message)
        outputs = self.stack_references[name]
        secret = sorted(k for k, v in outputs.items() if v == SECRET_TEXT)
        values = {k: rpc.UNKNOWN if v == UNKNOWN_TEXT else v for k, v in outputs.items()}
        return name, {"name": name, "outputs": values, "secretOutputNames": secret}


def _ids(result: dict[str, Any]) -> dict[str, Any]:
    """What a made-up invoke result says about identities (for its note): ids and ARNs only."""
    return {k: v for k, v in sorted(result.items())
            if k in ("id", "ids", "arn") or (k.endswith(("Id", "Ids")) and k not in ("ownerId", "accountId"))}
