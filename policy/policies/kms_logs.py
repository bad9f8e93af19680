"""A log group encrypted with a KMS key of the stack: the key lets CloudWatch Logs use it, for log groups only.

CloudWatch Logs encrypts with the key as the service principal `logs.<region>.amazonaws.com`; without
a statement for it in the key policy, creating or associating the log group fails. AWS's documented
statement scopes it with the `kms:EncryptionContext:aws:logs:arn` condition, so the key serves log
groups and not any caller that can name the service
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel

from ._util import UNKNOWN, allow_statements, as_list, load_json, wildcard_match
from .framework import Findings, stack_policy
from .graph import Graph

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KEY = ("aws:kms/key:Key",)
CONTEXT_KEY = "kms:encryptioncontext:aws:logs:arn"
NEEDED = ("kms:encrypt", "kms:decrypt", "kms:generatedatakey")


def _grants_logs(statement: dict[str, Any]) -> bool:
    """An Allow for the CloudWatch Logs service, with the logs-ARN context condition, covering what it uses."""
    principal = statement.get("Principal")
    services = as_list(principal.get("Service")) if isinstance(principal, dict) else []
    if not any(isinstance(s, str) and s.startswith("logs.") and s.endswith(".amazonaws.com") for s in services):
        return False
    conditions = statement.get("Condition") or {}
    keys = {k.lower() for block in conditions.values() if isinstance(block, dict) for k in block}
    actions = [str(a) for a in as_list(statement.get("Action"))]
    return CONTEXT_KEY in keys and all(any(wildcard_match(a, needed) for a in actions) for needed in NEEDED)


def _key_policy(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    for group in graph.of_type(LOG_GROUP):
        keys, _, _ = graph.refs(group, "kmsKeyId", KEY)
        for key in keys:
            document = load_json(key.props.get("policy"))
            if document is UNKNOWN:
                found.unknown.append(f"the policy of key {key.name}")
            elif not any(_grants_logs(s) for s in allow_statements(document)):
                found.violation(
                    f"log group {group.name} is encrypted with key {key.name}, whose policy does not let CloudWatch "
                    "Logs use it: add an Allow for the service principal logs.<region>.amazonaws.com with "
                    "kms:Encrypt*, kms:Decrypt*, kms:ReEncrypt*, kms:GenerateDataKey*, kms:Describe* and the "
                    "condition ArnLike kms:EncryptionContext:aws:logs:arn on your log groups' ARNs.", group.urn)


log_group_kms_key_policy = stack_policy(
    "log-group-kms-key-policy",
    "A KMS key of the stack that encrypts a log group lets CloudWatch Logs use it, scoped to log groups.",
    EnforcementLevel.MANDATORY, _key_policy)

POLICIES = [log_group_kms_key_policy]
