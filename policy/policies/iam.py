"""IAM policies: no broad actions and no role passed to anyone, in inline, customer managed and attached
AWS managed policies (judged by their documents, from the pack's dated snapshot)."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs

from ._util import allow_statements, as_list, config, load_json, plain, wildcard_match
from .documents import broad_action, passes_any_role
from .framework import hint_args, resource_policy
from .managed import grant, managed_name, taken

#: Attachments, by the property holding the policy ARN(s).
ATTACHMENTS = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "policyArns",
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive": "policyArns",
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive": "policyArns",
    "aws:iam/role:Role": "managedPolicyArns",
}
DOCUMENT_PROPS = {"aws:iam/rolePolicy:RolePolicy": "policy", "aws:iam/policy:Policy": "policy",
                  "aws:iam/userPolicy:UserPolicy": "policy", "aws:iam/groupPolicy:GroupPolicy": "policy"}


def documents(args: ResourceValidationArgs) -> list[tuple[str, Any]]:
    """(label, parsed document) of every policy document on the resource (read through the proxy)."""
    if args.resource_type in DOCUMENT_PROPS:
        raw = args.props.get(DOCUMENT_PROPS[args.resource_type])
        return [("policy", load_json(raw))] if raw is not None else []
    if args.resource_type == "aws:iam/role:Role":
        return [(f"inline policy {p.get('name', '?')!r}", load_json(p.get("policy")))
                for p in args.props.get("inlinePolicies") or [] if p.get("policy")]
    return []


def attached_arns(resource_type: str, props: Any) -> list[Any]:
    """The policy ARNs a resource attaches (read through the proxy when given proxied props)."""
    prop = ATTACHMENTS.get(resource_type)
    return list(as_list(plain(props.get(prop)))) if prop else []


def _allowed(action: str, allowed: set[str]) -> bool:
    return action in allowed or any(wildcard_match(a, action) for a in allowed if "*" not in action)


def _wildcards(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    allowed = set(config(args, {"allowedActions": []})["allowedActions"])
    for arn in attached_arns(args.resource_type, args.props):
        name = managed_name(arn)
        found = grant(name) if name else None
        if found is None or name in allowed:
            continue
        broad = [a for a in found.broad if a not in allowed]
        if broad or found.not_action:
            shown = ", ".join(broad[:4]) + (f" and {len(broad) - 4} more" if len(broad) > 4 else "")
            what = f"allows {shown}" if broad else "allows NotAction (every other action)"
            report_violation(f"{args.name} attaches the AWS managed policy {name}, whose {found.version} "
                             f"(snapshot of {taken()}) {what}: whole services or write actions by wildcard. Attach a "
                             f"policy with the actions the workload uses (or list {name} in allowedActions)"
                             f"{hint_args(args)}.")
    for label, document in documents(args):
        for st in allow_statements(document):
            if "NotAction" in st:
                report_violation(f"{args.name}: {label} allows NotAction {st['NotAction']}, which grants every other "
                                 f"action; list the actions instead{hint_args(args)}.")
            for action in as_list(st.get("Action")):
                if not broad_action(action) or _allowed(action, allowed):
                    continue
                service = "AWS" if ":" not in action else action.split(":")[0]
                what = f"every action of {service}" if action in ("*", f"{service}:*") else \
                    "actions by wildcard, write or permission actions among them"
                report_violation(f"{args.name}: {label} allows {action!r}, {what}; grant the actions the workload "
                                 f"uses (or list it in allowedActions){hint_args(args)}.")


iam_no_wildcard_actions = resource_policy(
    "iam-no-wildcard-actions",
    "No '*', 'service:*' or write wildcards ('s3:Put*', 'iam:Pass*', '*Role*') in inline, customer managed or "
    "attached AWS managed policies, nor NotAction.",
    EnforcementLevel.MANDATORY, _wildcards,
    {"allowedActions": {"type": "array", "items": {"type": "string"}, "default": [],
                        "description": "Wildcard actions (e.g. 'logs:*') and AWS managed policy names accepted "
                                       "anyway."}})


def _pass_role(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for arn in attached_arns(args.resource_type, args.props):
        name = managed_name(arn)
        found = grant(name) if name else None
        if found is not None and found.pass_role_on_all:
            report_violation(f"{args.name} attaches the AWS managed policy {name}, whose {found.version} (snapshot "
                             f"of {taken()}) allows iam:PassRole on every role: whoever holds it can hand any role "
                             f"to a service and act as it. Attach a policy passing only the roles needed"
                             f"{hint_args(args)}.")
    for label, document in documents(args):
        for st in allow_statements(document):
            if passes_any_role(st):
                report_violation(f"{args.name}: {label} allows iam:PassRole on {st.get('Resource')!r}: whoever "
                                 "holds it can hand any role to a service and act as it. Name the roles (the task "
                                 f"and execution roles){hint_args(args)}.")


iam_pass_role_scoped = resource_policy(
    "iam-pass-role-scoped", "iam:PassRole is granted on named roles, never on every role.",
    EnforcementLevel.MANDATORY, _pass_role)

POLICIES = [iam_no_wildcard_actions, iam_pass_role_scoped]
