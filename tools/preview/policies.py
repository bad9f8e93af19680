"""Evaluate the policy pack on a preview report the way `pulumi preview --policy-pack policy` does.

The pack's own analyzer (pulumi_policy's servicer, without its gRPC server) gets the same
requests the engine would send: every resource's inputs through the resource policies, every
resource's outputs with parents and (property) dependencies through the stack policies, after a
Configure with the policy config. Unknown values travel as the engine's sentinels, so a check on
one becomes the SDK's advisory "can't run policy during preview", as in a real preview.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi_policy import EnforcementLevel, Policy
from pulumi_policy.policy import _PolicyAnalyzerServicer

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


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(_wire(props), struct_pb2.Struct())


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
    servicer = _PolicyAnalyzerServicer(PACK_NAME, pack_version(), policies, EnforcementLevel.ADVISORY)
    servicer.Configure(configure_request(policy_config, policies), None)
    resources = [r for r in report["resources"] if r["type"] != "pulumi:pulumi:Stack"]
    violations: list[dict[str, Any]] = []
    for r in resources:
        request = proto.AnalyzeRequest(type=r["type"], properties=_struct(r["inputs"]), urn=r["urn"], name=r["name"],
                                       options=_options(r))
        violations += _violations(servicer.Analyze(request, None), r["urn"])
    stack = proto.AnalyzeStackRequest()
    for r in resources:
        outputs = dict(r["outputs"])
        if r["id"] and r["id"] != UNKNOWN_TEXT:
            outputs["id"] = r["id"]
        item = proto.AnalyzerResource(type=r["type"], properties=_struct(outputs), urn=r["urn"], name=r["name"],
                                      options=_options(r), parent=r["parent"] or "",
                                      dependencies=r["dependencies"])
        for key, urns in r["propertyDependencies"].items():
            item.propertyDependencies[key].CopyFrom(proto.AnalyzerPropertyDependencies(urns=urns))
        stack.resources.append(item)
    violations += _violations(servicer.AnalyzeStack(stack, None), None)
    return violations
