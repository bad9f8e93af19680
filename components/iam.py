"""IAM policy documents as plain JSON strings, so policies (and the policy pack) can read them at preview.

Documents are built with json.dumps from deterministic ARNs, never with the get_policy_document
invoke, whose result a first preview would not know. `UNSCOPED_ACTIONS` is the one list of actions
this project grants on `Resource: "*"`: AWS offers no resource-level permission for them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

#: Actions without resource-level permissions, the only ones granted on "*" (the Service Authorization
#: Reference lists no resource type for them: list_amazonelasticcontainerregistry.html,
#: list_amazonsessionmanagermessagegatewayservice.html, list_amazoncloudwatchlogs.html; AWS's own
#: policies for ECS Exec logging and flow-log delivery grant logs:DescribeLogGroups on "*":
#: AmazonECS/latest/developerguide/ecs-exec.html, vpc/latest/userguide/flow-logs-iam-role.html).
#: The log-delivery actions are what a state machine's role needs to log its executions; AWS's policy
#: grants them on "*" (step-functions/latest/dg/cw-logs.html#cloudwatch-iam-policy), and CloudWatch Logs
#: asks for "*" on DescribeLogGroups, DescribeResourcePolicies and PutResourcePolicy
#: (AmazonCloudWatch/latest/logs/AWS-logs-infrastructure-CWL.html).
UNSCOPED_ACTIONS = (
    "ecr:GetAuthorizationToken",
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)


def statement(actions: Iterable[str], resources: Sequence[str] | str, sid: str | None = None,
              condition: dict[str, Any] | None = None) -> dict[str, Any]:
    """One Allow statement; `*` resources are refused unless every action is in UNSCOPED_ACTIONS."""
    actions = sorted(set(actions))
    resource_list = [resources] if isinstance(resources, str) else list(resources)
    if "*" in resource_list and not set(actions) <= set(UNSCOPED_ACTIONS):
        raise ValueError(f"Resource '*' only for {UNSCOPED_ACTIONS}, not {actions}")
    out: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resource_list}
    if sid:
        out = {"Sid": sid, **out}
    if condition:
        out["Condition"] = condition
    return out


def deny_without_tls(sid: str, action: str, resources: list[str] | str) -> dict[str, Any]:
    """The resource-policy statement that refuses every request to `resources` not made over TLS
    (aws:SecureTransport false), for anyone: buckets, queues."""
    return {"Sid": sid, "Effect": "Deny", "Principal": "*", "Action": action, "Resource": resources,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def document(statements: Iterable[dict[str, Any]]) -> str:
    """A policy document (JSON string) from statements."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role_policy(service: str, account: str | None = None, source_arn: str | None = None) -> str:
    """Trust policy for an AWS service, limited to this account (and `source_arn`): confused-deputy protection.

    Without `account`, no condition: for services AWS does not document as sending aws:SourceAccount.
    """
    statement_: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    condition: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": account}} if account else {}
    if source_arn:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    if condition:
        statement_["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement_]})
