"""SQS policies: every queue is encrypted at rest and refuses requests without TLS."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs

from ._util import UNKNOWN, load_json, plain
from .documents import denies_insecure_transport
from .framework import Findings, hint, hint_args, resource_policy, stack_policy
from .graph import Graph, Node, depends_on

QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"


def _encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != QUEUE:
        return
    props = plain(args.props)
    sse, key = props.get("sqsManagedSseEnabled"), props.get("kmsMasterKeyId")
    if sse is UNKNOWN or key is UNKNOWN or sse is True or key:
        return
    report_violation(f"{args.name} does not say it is encrypted: set sqsManagedSseEnabled (SSE-SQS) or kmsMasterKeyId "
                     f"(SSE-KMS); an explicit false turns SQS's default encryption off{hint_args(args)}.")


sqs_encrypted = resource_policy(
    "sqs-encrypted", "Queues are encrypted: SSE-SQS (sqsManagedSseEnabled) or a KMS key.",
    EnforcementLevel.MANDATORY, _encrypted)


def _covers(queue: Node) -> Any:
    """Whether a statement's resources include this queue: '*', its ARN, or an SQS ARN ending in its name."""
    name, arn = queue.props.get("name"), queue.props.get("arn")

    def check(resources: list[str]) -> bool:
        return any(r == "*" or (isinstance(arn, str) and r == arn)
                   or (isinstance(name, str) and ":sqs:" in r and r.split(":")[-1] == name) for r in resources)
    return check


def _attached(graph: Graph, queue: Node) -> list[Node]:
    """Queue policies on this queue: by dependency (ids unknown) or by its URL/id."""
    url = queue.props.get("url") or queue.id
    return [p for p in graph.of_type(QUEUE_POLICY)
            if depends_on(graph, p, "queueUrl", queue) or (isinstance(url, str) and p.props.get("queueUrl") == url)]


def _tls_only(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    for queue in graph.of_type(QUEUE):
        documents = [load_json(p.props.get("policy")) for p in _attached(graph, queue)]
        documents.append(load_json(queue.props.get("policy")))
        found.judge(documents, lambda d, q=queue: denies_insecure_transport(d, ("sqs:*",), _covers(q)),
                    f"the policy of queue {queue.name}",
                    f"queue {queue.name} accepts requests without TLS: add a queue policy that denies sqs:* when "
                    f"aws:SecureTransport is false{hint(queue)}.", queue.urn)


sqs_tls_only = stack_policy(
    "sqs-tls-only", "Every queue has a policy denying sqs:* with aws:SecureTransport false.",
    EnforcementLevel.MANDATORY, _tls_only)

POLICIES = [sqs_encrypted, sqs_tls_only]
