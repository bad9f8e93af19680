"""SQS queues of the stack (a job's dead-letter queue, a worker's queue and its DLQ): encrypted, TLS only.

Every queue is encrypted with SQS-managed keys (SSE-SQS) and carries a queue policy that denies any
request not made over TLS (`aws:SecureTransport` false), AWS's recommendation for SQS
(AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-security-best-practices.html). The policy names
the queue by its ARN, built from account, region and name, so it is known at preview.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.iam import deny_without_tls, document


def tls_only_policy(queue_arn: str) -> str:
    """Deny every SQS action on the queue to anyone, when the request is not over TLS."""
    return document([deny_without_tls("TlsOnly", "sqs:*", queue_arn)])


def queue_url(context: StackContext, queue_name: str) -> str:
    """A queue's URL, known at preview (`https://sqs.<region>.<dns suffix>/<account>/<name>`)."""
    return f"https://sqs.{context.region}.{context.dns_suffix}/{context.account}/{queue_name}"


def create_queue(parent: pulumi.Resource, resource_name: str, queue_name: str, context: StackContext,
                 tags: Mapping[str, str], after: Sequence[pulumi.Resource] = (), **queue_args: Any) -> aws.sqs.Queue:
    """An encrypted queue with its TLS-only policy, as children of `parent` (created after `after`)."""
    child = pulumi.ResourceOptions(parent=parent)
    queue = aws.sqs.Queue(resource_name, name=queue_name, sqs_managed_sse_enabled=True,
                          tags={**tags, "Name": queue_name},
                          opts=pulumi.ResourceOptions(parent=parent, depends_on=list(after)), **queue_args)
    aws.sqs.QueuePolicy(f"{resource_name}-tls-only", queue_url=queue.url,
                        policy=tls_only_policy(context.arn("sqs", queue_name)), opts=child)
    return queue
