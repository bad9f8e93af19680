"""How the pack's policies are built, and how their messages read in either mode.

Three outcomes besides a pass, each said once and right in `--mode preview` and `--mode up`:
- a violation, at the policy's level;
- a value unknown at preview (the first preview of a new stack): the SDK's advisory "can't run
  policy 'P' ... during preview: ...", to which the pack adds that P checks it at `pulumi up`
  (in an update every value is known, so this never shows there);
- something the stack does not hold (a subnet from another stack, an AWS managed policy newer than
  the pack's snapshot, an opaque multi-language component): never a pass or a failure of P, but a
  finding of the advisory policy `cannot-verify` naming P. The SDK words any advisory raised from a
  policy as "during preview", which would be wrong in an update, so these go through a policy of
  their own instead of the SDK's unknown-value path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from ._util import UNKNOWN, config
from .graph import Graph, Node

#: The SDK's sentinel for an unknown computed value (any sentinel works; the message is ours).
_UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass
class Findings:
    """What a stack check found: violations, values unknown at preview, things outside the stack."""

    violations: list[tuple[str, str | None]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def violation(self, message: str, urn: str | None = None) -> None:
        """Record a violation (on `urn`, or on the stack)."""
        self.violations.append((message, urn))

    def judge(self, documents: list[Any], passes: Callable[[Any], bool], unknown: str, message: str,
              urn: str) -> None:
        """One resource judged by its policy documents: any passing one is enough; else an unknown one defers
        the verdict to `pulumi up` (`unknown` names it); else `message` is a violation on `urn`."""
        if any(passes(d) for d in documents):
            return
        if any(d is UNKNOWN for d in documents):
            self.unknown.append(unknown)
            return
        self.violation(message, urn)


StackCheck = Callable[[Graph, dict[str, Any], Findings], None]

#: Every stack check by policy name, with its config defaults: `cannot-verify` runs them for what they cannot see.
STACK_CHECKS: dict[str, tuple[StackCheck, dict[str, Any]]] = {}


def unknown_at_preview(policy: str, what: list[str]) -> UnknownValueError:
    """The SDK's advisory for values unknown at preview, saying when the policy does check them."""
    err = UnknownValueError(_UNKNOWN_SENTINEL, [])
    err.message = f"unknown at preview: {'; '.join(sorted(set(what)))}; {policy} checks it at `pulumi up`"
    return err


def schema(properties: dict[str, dict[str, Any]] | None) -> PolicyConfigSchema | None:
    """A config schema from `{key: {"type": ..., "default": ..., "description": ...}}`."""
    return PolicyConfigSchema(properties=properties) if properties else None


def defaults_of(properties: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    """The default of every config key."""
    return {k: v["default"] for k, v in (properties or {}).items() if "default" in v}


def stack_policy(name: str, description: str, level: EnforcementLevel, check: StackCheck,
                 properties: dict[str, dict[str, Any]] | None = None) -> StackValidationPolicy:
    """A stack policy running `check` on the stack's graph; outside things are left to `cannot-verify`."""
    defaults = defaults_of(properties)

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        found = Findings()
        check(Graph(args.resources), config(args, defaults), found)
        for message, urn in found.violations:
            report_violation(message, urn)
        if found.unknown:
            raise unknown_at_preview(name, found.unknown)

    STACK_CHECKS[name] = (check, defaults)
    return StackValidationPolicy(name=name, description=description, enforcement_level=level, validate=validate,
                                 config_schema=schema(properties))


ResourceCheck = Callable[[ResourceValidationArgs, ReportViolation], None]


def resource_policy(name: str, description: str, level: EnforcementLevel, check: ResourceCheck,
                    properties: dict[str, dict[str, Any]] | None = None) -> ResourceValidationPolicy:
    """A resource policy whose unknown-at-preview advisory says that the policy checks it at `pulumi up`."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        try:
            check(args, report_violation)
        except UnknownValueError as err:
            if "at `pulumi up`" not in err.message:
                err.message = f"{err.message}; {name} checks it at `pulumi up`"
            raise

    return ResourceValidationPolicy(name=name, description=description, enforcement_level=level, validate=validate,
                                    config_schema=schema(properties))


# --- which setting of this project made a resource ----------------------------------------------

_COMPONENT = "private-fargate:"
_SETTINGS = {
    "network:PrivateNetwork": "network", "registry:ContainerRepository": "repository",
    "storage:OutputBucket": "outputBucket", "cluster:FargateCluster": "logs",
    "access_logs:AccessLogBucket": "services[].loadBalancer.accessLogs", "mesh:ServiceMesh": "services",
    "alerts:Alerts": "alerts",
}


def setting_hint(urn: str, parent: str | None, detail: str | None = None) -> str:
    """Which setting of this project made a resource (' (private-fargate setting: ...)'), '' for any other.

    Only children of this project's components (type tokens `private-fargate:<module>:<Type>`,
    which other programs do not use) get a hint; their parent's type and name say which setting,
    unless `detail` names the setting that fixes the violation.
    """
    qualified = urn.split("::")[2] if urn.count("::") >= 3 else ""
    parent_type = qualified.rsplit("$", 1)[0].rsplit("$", 1)[-1] if "$" in qualified else ""
    if not parent_type.startswith(_COMPONENT):
        return ""
    kind = parent_type[len(_COMPONENT):]
    if detail:
        return f" (private-fargate setting: {detail})"
    parent_name = parent.rsplit("::", 1)[-1] if parent else ""
    if kind in ("service:FargateService", "loadbalancer:ServiceLoadBalancer"):
        workload = parent_name.removeprefix("service-").removesuffix("-lb") if kind.startswith("load") else \
            parent_name.removeprefix("service-")
        return f" (private-fargate setting: the services entry `{workload}`)"
    if kind in ("job:FargateJob", "job:JobRunner"):
        job = parent_name.removeprefix("job-").removesuffix("-runner")
        return f" (private-fargate setting: the jobs entry `{job}`)"
    if kind == "worker:FargateWorker":
        return f" (private-fargate setting: the workers entry `{parent_name.removeprefix('worker-')}`)"
    setting = _SETTINGS.get(kind)
    return f" (private-fargate setting: {setting})" if setting else ""


def hint(node: Node, detail: str | None = None) -> str:
    """`setting_hint` of a stack resource."""
    return setting_hint(node.urn, node.parent, detail)


def hint_args(args: ResourceValidationArgs, detail: str | None = None) -> str:
    """`setting_hint` of the resource a resource policy is looking at."""
    return setting_hint(args.urn, args.opts.parent if args.opts else None, detail)
