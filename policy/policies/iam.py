"""IAM policy: no wildcard actions in the policies roles get."""

from __future__ import annotations

import json

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from ._util import allow_statements, as_list, config, plain, setting_hint

ATTACHMENTS = ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/policyAttachment:PolicyAttachment",
               "aws:iam/userPolicyAttachment:UserPolicyAttachment",
               "aws:iam/groupPolicyAttachment:GroupPolicyAttachment")
DOCUMENT_PROPS = {"aws:iam/rolePolicy:RolePolicy": "policy", "aws:iam/policy:Policy": "policy",
                  "aws:iam/userPolicy:UserPolicy": "policy", "aws:iam/groupPolicy:GroupPolicy": "policy"}


def _documents(args: ResourceValidationArgs) -> list[tuple[str, object]]:
    """(label, parsed document) of every policy document on the resource (read through the proxy)."""
    if args.resource_type in DOCUMENT_PROPS:
        raw = args.props.get(DOCUMENT_PROPS[args.resource_type])
        return [("policy", _parse(raw))] if raw is not None else []
    if args.resource_type == "aws:iam/role:Role":
        return [(f"inline policy {p.get('name', '?')!r}", _parse(p.get("policy")))
                for p in args.props.get("inlinePolicies") or [] if p.get("policy")]
    return []


def _parse(raw: object) -> object:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return None
    return plain(raw)


def broad_managed_policy(arn: object) -> str | None:
    """The name of an AWS managed policy that grants whole services (AdministratorAccess, *FullAccess...)."""
    if not isinstance(arn, str) or ":iam::aws:policy/" not in arn:
        return None
    name = arn.rsplit("/", 1)[-1]
    return name if name in ("AdministratorAccess", "PowerUserAccess") or name.endswith("FullAccess") else None


def _attached(args: ResourceValidationArgs) -> list[str]:
    if args.resource_type in ATTACHMENTS:
        return [args.props.get("policyArn")]
    if args.resource_type == "aws:iam/role:Role":
        return list(args.props.get("managedPolicyArns") or [])
    return []


def _wildcards(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    allowed = set(config(args, {"allowedActions": []})["allowedActions"])
    for arn in _attached(args):
        name = broad_managed_policy(arn)
        if name and name not in allowed:
            report_violation(f"{args.name} attaches the AWS managed policy {name}, which allows whole services "
                             "('*' actions); attach a policy with the actions the workload uses"
                             f"{setting_hint(args.name)}.")
    for label, document in _documents(args):
        for st in allow_statements(document):
            if "NotAction" in st:
                report_violation(f"{args.name}: {label} allows NotAction {st['NotAction']}, which grants every other "
                                 f"action; list the actions instead{setting_hint(args.name)}.")
            for action in as_list(st.get("Action")):
                if not isinstance(action, str) or action in allowed:
                    continue
                if action == "*" or action.endswith(":*"):
                    report_violation(f"{args.name}: {label} allows {action!r}, every action of "
                                     f"{'AWS' if action == '*' else action.split(':')[0]}; grant the actions the "
                                     f"workload uses (or list it in allowedActions){setting_hint(args.name)}.")


iam_no_wildcard_actions = ResourceValidationPolicy(
    name="iam-no-wildcard-actions",
    description="No '*' or 'service:*' actions in role, inline and attached policies (nor broad AWS managed ones).",
    enforcement_level=EnforcementLevel.MANDATORY, validate=_wildcards,
    config_schema=PolicyConfigSchema(properties={"allowedActions": {
        "type": "array", "items": {"type": "string"}, "default": [],
        "description": "Wildcard actions that are accepted anyway (e.g. 'logs:*' for a logging role)."}}))

POLICIES = [iam_no_wildcard_actions]
