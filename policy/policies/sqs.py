"""SQS policies: every queue is encrypted at rest and refuses requests without TLS."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from ._util import UNKNOWN, Graph, Node, as_list, cannot_verify, depends_on, load_json, plain, setting_hint

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
                     f"(SSE-KMS); an explicit false turns SQS's default encryption off{setting_hint(args.name)}.")


sqs_encrypted = ResourceValidationPolicy(
    name="sqs-encrypted", description="Queues are encrypted: SSE-SQS (sqsManagedSseEnabled) or a KMS key.",
    enforcement_level=EnforcementLevel.MANDATORY, validate=_encrypted)


def _names_queue(resource: Any, queue: Node) -> bool:
    """True when a policy's Resource is this queue (by ARN ending in its name) or everything."""
    name = queue.props.get("name")
    for arn in as_list(resource):
        text = str(arn)
        if text == "*" or (isinstance(name, str) and text.split(":")[-1] == name and ":sqs:" in text):
            return True
        if isinstance(queue.props.get("arn"), str) and text == queue.props["arn"]:
            return True
    return False


def _denies_insecure_transport(document: Any, queue: Node) -> bool:
    """A Deny for everyone, on all SQS actions, on this queue, when the request is not over TLS."""
    if not isinstance(document, dict):
        return False
    for st in as_list(document.get("Statement")):
        if not isinstance(st, dict) or st.get("Effect") != "Deny":
            continue
        condition = st.get("Condition") or {}
        value = {**(condition.get("Bool") or {}), **(condition.get("BoolIfExists") or {})}.get("aws:SecureTransport")
        everyone = st.get("Principal") in ("*", {"AWS": "*"})
        all_actions = any(a in ("sqs:*", "*") for a in as_list(st.get("Action")))
        if str(value).lower() == "false" and everyone and all_actions and _names_queue(st.get("Resource"), queue):
            return True
    return False


def _attached(graph: Graph, queue: Node) -> list[Node]:
    """Queue policies on this queue: by dependency (ids unknown) or by its URL/id."""
    url = queue.props.get("url") or queue.id
    return [p for p in graph.of_type(QUEUE_POLICY)
            if depends_on(graph, p, "queueUrl", queue) or (isinstance(url, str) and p.props.get("queueUrl") == url)]


def _tls_only(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    graph = Graph(args.resources)
    unknown: list[str] = []
    for queue in graph.of_type(QUEUE):
        documents = [load_json(p.props.get("policy")) for p in _attached(graph, queue)]
        documents.append(load_json(queue.props.get("policy")))
        if any(_denies_insecure_transport(d, queue) for d in documents):
            continue
        if any(d is UNKNOWN for d in documents):
            unknown.append(f"the policy of queue {queue.name} (unknown at preview)")
            continue
        report_violation(f"queue {queue.name} accepts requests without TLS: add a queue policy that denies sqs:* when "
                         f"aws:SecureTransport is false{setting_hint(queue.name)}.", queue.urn)
    if unknown:
        raise cannot_verify(unknown)


sqs_tls_only = StackValidationPolicy(
    name="sqs-tls-only", description="Every queue has a policy denying requests with aws:SecureTransport false.",
    enforcement_level=EnforcementLevel.MANDATORY, validate=_tls_only)

POLICIES = [sqs_encrypted, sqs_tls_only]
