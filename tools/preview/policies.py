"""Evaluate the policy pack on a preview report the way `pulumi preview --policy-pack policy` does.

The pack's own analyzer (pulumi_policy's servicer, without its gRPC server) gets the same
requests the engine would send: every resource's inputs through the resource policies, every
resource's outputs with parents and (property) dependencies through the stack policies, after a
Configure with the policy config. Unknown values travel as the engine's sentinels, so a check on
one becomes the SDK's advisory "can't run policy during preview", as in a real preview; secret
values travel wrapped, as the engine sends them, and reach the policies unwrapped. A policy that
raises becomes one violation naming it and the resource (at its own level), never a lost report.
"""

from __future__ import annotations

import asyncio
import json
from inspect import isawaitable
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError, _PolicyAnalyzerServicer
from pulumi_policy.proxy import UnknownValueError

from policy.policies import PACK_NAME, POLICIES

UNKNOWN_TEXT = "<unknown>"
PACK_DIR = Path(__file__).resolve().parent.parent.parent / "policy"
_LEVELS = {"advisory": proto.ADVISORY, "mandatory": proto.MANDATORY, "disabled": proto.DISABLED,
           "remediate": proto.REMEDIATE}
_LEVEL_NAMES = {v: k for k, v in _LEVELS.items()}


class PolicyConfigError(ValueError):
    """The policy config names a policy, a property or a level the pack does not have."""


def load_policy_config(project_dir: Path, stack: str, explicit: Path | None) -> dict[str, Any] | None:
    """The CLI-format policy config: `--policy-config FILE`, else `policy/config.<stack>.json` if present."""
    path = explicit or project_dir / "policy" / f"config.{stack}.json"
    if explicit is None and not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise PolicyConfigError(f"{path}: cannot read the policy config ({exc})") from None


def pack_version() -> str:
    """The version in policy/PulumiPolicy.yaml."""
    doc = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text()) or {}
    return str(doc.get("version", "0.0.0"))


def configure_request(policy_config: dict[str, Any] | None,
                      policies: list[Policy] = POLICIES) -> proto.ConfigureAnalyzerRequest:
    """What the CLI sends the pack: per policy, its level and its properties (schema defaults filled in)."""
    by_name = {p.name: p for p in policies}
    given = dict(policy_config or {})
    everything = given.pop("all", None)
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        raise PolicyConfigError(f"policy config names unknown policies: {', '.join(unknown)}")
    request = proto.ConfigureAnalyzerRequest()
    for name, policy in by_name.items():
        value = given.get(name, everything)
        level, props = (value, {}) if isinstance(value, str) or value is None else (
            value.get("enforcementLevel"), {k: v for k, v in value.items() if k != "enforcementLevel"})
        schema = (policy.config_schema.properties if policy.config_schema else {}) or {}
        extra = sorted(set(props) - set(schema))
        if extra:
            raise PolicyConfigError(f"policy config for {name}: unknown properties {', '.join(extra)}; "
                                    f"allowed: {', '.join(schema) or 'none'}")
        level = level or (policy.enforcement_level.value if policy.enforcement_level else "advisory")
        if level not in _LEVELS:
            raise PolicyConfigError(f"policy config for {name}: enforcementLevel {level!r}; allowed: "
                                    f"{', '.join(_LEVELS)}")
        defaults = {k: s["default"] for k, s in schema.items() if "default" in s}
        properties = json_format.ParseDict({**defaults, **props}, struct_pb2.Struct())
        request.policyConfig[name].CopyFrom(proto.PolicyConfig(enforcementLevel=_LEVELS[level],
                                                               properties=properties))
    return request


def _wire(value: Any) -> Any:
    """A report value as the engine sends it: `<unknown>` becomes the unknown sentinel."""
    if value == UNKNOWN_TEXT:
        return rpc.UNKNOWN
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value


def _struct(resource: dict[str, Any], view: str) -> struct_pb2.Struct:
    """A resource's inputs or outputs as the engine sends them: the child's policy view (secrets readable),
    else the report's values (unknowns turned back into sentinels)."""
    props = (resource.get("_policy") or {}).get(view)
    if props is None:
        props = _wire(resource[view])
    return json_format.ParseDict(props, struct_pb2.Struct())


def _failed(policy: Policy, exc: BaseException, urn: str | None) -> str:
    where = f" on {urn.rsplit('::', 1)[-1]}" if urn else ""
    text = " ".join(str(exc).split())[:300] or type(exc).__name__
    return (f"the policy {policy.name} raised {type(exc).__name__}{where} ({text}), so it did not finish: the "
            "resource is not verified by it. Report the error to the policy pack's authors.")


def _urn_in_traceback(exc: BaseException) -> str | None:
    """The URN of the resource a stack policy was looking at when it raised (the innermost local with one)."""
    tb, found = exc.__traceback__, None
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            urn = getattr(value, "urn", None)
            if isinstance(urn, str) and urn.startswith("urn:pulumi:"):
                found = urn
        tb = tb.tb_next
    return found


def _run(result: Any) -> None:
    if isawaitable(result):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(result)
        finally:
            loop.close()


def guarded(policy: Policy) -> Policy:
    """The policy with its errors reported as one violation (the SDK's own outcomes pass through)."""
    common = {"name": policy.name, "description": policy.description,
              "enforcement_level": policy.enforcement_level, "config_schema": policy.config_schema}
    if isinstance(policy, ResourceValidationPolicy):
        def validate_resource(args: ResourceValidationArgs, report: ReportViolation) -> None:
            try:
                _run(policy.validate(args, report))
            except (UnknownValueError, _NotApplicableError):
                raise
            except Exception as exc:
                report(_failed(policy, exc, args.urn))

        return ResourceValidationPolicy(validate=validate_resource, **common)
    if isinstance(policy, StackValidationPolicy):
        def validate_stack(args: StackValidationArgs, report: ReportViolation) -> None:
            try:
                _run(policy.validate(args, report))
            except (UnknownValueError, _NotApplicableError):
                raise
            except Exception as exc:
                urn = _urn_in_traceback(exc)
                report(_failed(policy, exc, urn), urn)

        return StackValidationPolicy(validate=validate_stack, **common)
    return policy


def _options(resource: dict[str, Any]) -> proto.AnalyzerResourceOptions:
    return proto.AnalyzerResourceOptions(protect=resource["protect"], parent=resource["parent"] or "")


def _violations(response: proto.AnalyzeResponse, fallback_urn: str | None) -> list[dict[str, Any]]:
    out = []
    for d in response.diagnostics:
        message = d.message
        if d.description and message.startswith(d.description + "\n"):
            message = message[len(d.description) + 1:]
        out.append({"policy": d.policyName, "level": _LEVEL_NAMES.get(d.enforcementLevel, "advisory"),
                    "urn": d.urn or fallback_urn, "message": message})
    return out


def evaluate(report: dict[str, Any], policy_config: dict[str, Any] | None,
             policies: list[Policy] = POLICIES) -> list[dict[str, Any]]:
    """Violations as `{policy, level, urn, message}`, resource policies first, then stack policies."""
    servicer = _PolicyAnalyzerServicer(PACK_NAME, pack_version(), [guarded(p) for p in policies],
                                       EnforcementLevel.ADVISORY)
    servicer.Configure(configure_request(policy_config, policies), None)
    resources = [r for r in report["resources"] if r["type"] != "pulumi:pulumi:Stack"]
    violations: list[dict[str, Any]] = []
    for r in resources:
        request = proto.AnalyzeRequest(type=r["type"], properties=_struct(r, "inputs"), urn=r["urn"], name=r["name"],
                                       options=_options(r))
        violations += _violations(servicer.Analyze(request, None), r["urn"])
    stack = proto.AnalyzeStackRequest()
    for r in resources:
        properties = _struct(r, "outputs")
        if r["id"] and r["id"] != UNKNOWN_TEXT:
            properties.update({"id": r["id"]})
        item = proto.AnalyzerResource(type=r["type"], properties=properties, urn=r["urn"], name=r["name"],
                                      options=_options(r), parent=r["parent"] or "",
                                      dependencies=r["dependencies"])
        for key, urns in r["propertyDependencies"].items():
            item.propertyDependencies[key].CopyFrom(proto.AnalyzerPropertyDependencies(urns=urns))
        stack.resources.append(item)
    violations += _violations(servicer.AnalyzeStack(stack, None), None)
    return violations


def enabled(policy_config: dict[str, Any] | None, policies: list[Policy] = POLICIES) -> list[str]:
    """Names of the policies the config leaves on (any level but disabled), in the pack's order."""
    request = configure_request(policy_config, policies)
    return [p.name for p in policies if request.policyConfig[p.name].enforcementLevel != proto.DISABLED]
