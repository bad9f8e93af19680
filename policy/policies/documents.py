"""Reading IAM-style policy documents: broad actions, roles passed to anyone, grants to the world.

Shared by the IAM, resource-policy and S3 policies, and by tools/managed_policies.py, which reduces
AWS managed policies to what these rules look at.
"""

from __future__ import annotations

import re
from typing import Any

from ._util import allow_statements, as_list

#: Verbs whose wildcards only read (ec2:Describe*, s3:Get*): a wildcard on any other verb can write or
#: grant (s3:Put* includes s3:PutBucketPolicy, iam:Pass* is iam:PassRole).
READ_VERBS = ("Get", "List", "Describe", "BatchGet")


def broad_action(action: Any) -> bool:
    """True for '*', 'service:*', a wildcard in the service ('*Role*') or a wildcard past a write verb."""
    if not isinstance(action, str):
        return False
    if action == "*" or ":" not in action:
        return "*" in action or "?" in action
    service, verb = action.split(":", 1)
    if "*" in service or "?" in service:
        return True
    if "*" not in verb and "?" not in verb:
        return False
    fixed = re.split(r"[*?]", verb)[0]
    return not any(fixed.lower().startswith(r.lower()) for r in READ_VERBS)


def all_roles(resource: Any) -> bool:
    """True for a resource that covers every role: '*', 'arn:aws:iam::*:role/*', '...:role/*'."""
    return isinstance(resource, str) and (resource == "*" or re.fullmatch(r"arn:[^:]*:iam::[^:]*:(role/)?\*",
                                                                           resource) is not None)


def passes_any_role(statement: dict[str, Any]) -> bool:
    """An Allow of exactly iam:PassRole on every role (wildcard actions are broad_action's business)."""
    actions = [a.lower() for a in as_list(statement.get("Action")) if isinstance(a, str)]
    return "iam:passrole" in actions and any(all_roles(r) for r in as_list(statement.get("Resource")))


# --- grants to the world ------------------------------------------------------------------------

#: Condition keys that narrow "Principal: *" to callers the owner chose (AWS's definition of "not
#: public" for S3, SNS, SQS and KMS: fixed source ARN, account, VPC, endpoint, IP range, organization,
#: principal, caller account).
NARROWING_KEYS = frozenset(k.lower() for k in (
    "aws:SourceArn", "aws:SourceAccount", "aws:SourceOwner", "aws:SourceVpc", "aws:SourceVpce", "aws:SourceIp",
    "aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:PrincipalAccount", "aws:PrincipalArn", "aws:userid",
    "aws:SourceOrgID", "aws:SourceOrgPaths", "kms:CallerAccount", "s3:DataAccessPointArn",
    "s3:DataAccessPointAccount", "s3:x-amz-server-side-encryption-aws-kms-key-id"))
#: Operators that require a match (a negated operator or IfExists does not narrow).
_POSITIVE = re.compile(r"^(ForAnyValue:|ForAllValues:)?(StringEquals|StringEqualsIgnoreCase|StringLike|ArnEquals|"
                       r"ArnLike|IpAddress)$", re.IGNORECASE)


def public_principal(principal: Any) -> bool:
    """True for '*' or {"AWS": "*"} (alone or in a list)."""
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any(v == "*" for v in as_list(principal.get("AWS")))
    return False


def narrowed(condition: Any) -> bool:
    """True when a condition pins a narrowing key to a value other than '*'."""
    if not isinstance(condition, dict):
        return False
    for operator, keys in condition.items():
        if not isinstance(keys, dict) or not _POSITIVE.match(str(operator)):
            continue
        for key, value in keys.items():
            if str(key).lower() in NARROWING_KEYS and any(isinstance(v, str) and v.strip("*") for v in as_list(value)):
                return True
    return False


def public_grants(document: Any) -> list[dict[str, Any]]:
    """Allow statements that grant the world (Principal '*', or NotPrincipal) with no narrowing condition."""
    out = []
    for st in allow_statements(document):
        if ("NotPrincipal" in st or public_principal(st.get("Principal"))) and not narrowed(st.get("Condition")):
            out.append(st)
    return out


def denies_insecure_transport(document: Any, actions: tuple[str, ...], covers: Any = None) -> bool:
    """A Deny for everyone of `actions` (or '*') when aws:SecureTransport is false; `covers(resources)`
    narrows which resources the statement must cover (default: any)."""
    if not isinstance(document, dict):
        return False
    for st in as_list(document.get("Statement")):
        if not isinstance(st, dict) or st.get("Effect") != "Deny" or not public_principal(st.get("Principal")):
            continue
        condition = st.get("Condition") or {}
        value = {**(condition.get("Bool") or {}), **(condition.get("BoolIfExists") or {})}.get("aws:SecureTransport")
        if str(as_list(value)[0] if isinstance(value, list) and value else value).lower() != "false":
            continue
        if not any(a == "*" or a in actions for a in as_list(st.get("Action"))):
            continue
        if covers is None or covers([str(r) for r in as_list(st.get("Resource"))]):
            return True
    return False
