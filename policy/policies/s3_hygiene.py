"""S3 housekeeping: abandoned multipart uploads are cleaned up, and access to buckets is logged."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel

from .framework import Findings, hint, stack_policy
from .graph import Graph, Node
from .s3 import BUCKETS, attached
from .topology import LOAD_BALANCER

LIFECYCLES = ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
              "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2")
LOGGINGS = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")


def _aborts(rule: Any) -> bool:
    if not isinstance(rule, dict):
        return False
    if "abortIncompleteMultipartUploadDays" in rule:  # the bucket's own lifecycleRules
        return rule.get("enabled") is not False and bool(rule.get("abortIncompleteMultipartUploadDays"))
    abort = rule.get("abortIncompleteMultipartUpload")
    return rule.get("status", "Enabled") == "Enabled" and isinstance(abort, dict) and \
        bool(abort.get("daysAfterInitiation"))


def _abort_uploads(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    for bucket in graph.of_type(*BUCKETS):
        rules = list(bucket.props.get("lifecycleRules") or [])
        for token in LIFECYCLES:
            for lifecycle in attached(graph, bucket, token):
                rules += lifecycle.props.get("rules") or []
        if not any(_aborts(r) for r in rules):
            found.violation(f"bucket {bucket.name} keeps the parts of abandoned multipart uploads forever (billed, "
                            "invisible in listings): add a lifecycle rule with abortIncompleteMultipartUpload "
                            f"(7 days is usual){hint(bucket)}.", bucket.urn)


s3_abort_incomplete_uploads = stack_policy(
    "s3-abort-incomplete-uploads", "Every bucket has a lifecycle rule aborting incomplete multipart uploads.",
    EnforcementLevel.ADVISORY, _abort_uploads)


def _log_targets(graph: Graph) -> set[str]:
    """Names of buckets that receive logs (server access logs, load balancer access logs): not logged themselves."""
    names: set[str] = set()
    for bucket in graph.of_type(*BUCKETS):
        logging = bucket.props.get("logging") or (bucket.props.get("loggings") or [None])[0]
        if isinstance(logging, dict) and isinstance(logging.get("targetBucket"), str):
            names.add(logging["targetBucket"])
    for logging in graph.of_type(*LOGGINGS):
        if isinstance(logging.props.get("targetBucket"), str):
            names.add(logging.props["targetBucket"])
    for lb in graph.of_type(*LOAD_BALANCER):
        for key in ("accessLogs", "connectionLogs", "healthCheckLogs"):
            logs = lb.props.get(key)
            if isinstance(logs, dict) and isinstance(logs.get("bucket"), str):
                names.add(logs["bucket"])
    return names


def _logged(graph: Graph, bucket: Node, targets: set[str]) -> bool:
    if bucket.props.get("bucket") in targets:
        return True
    if bucket.props.get("logging") or bucket.props.get("loggings"):
        return True
    if any(attached(graph, bucket, token) for token in LOGGINGS):
        return True
    # A bucket receiving logs, referenced by dependency rather than by name, is exempt too.
    return any(bucket.urn in n.deps.get("targetBucket", []) for n in graph.of_type(*LOGGINGS)) or \
        any(bucket.urn in lb.deps.get(key, []) for lb in graph.of_type(*LOAD_BALANCER)
            for key in ("accessLogs", "connectionLogs", "healthCheckLogs"))


def _access_logging(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    targets = _log_targets(graph)
    for bucket in graph.of_type(*BUCKETS):
        if not _logged(graph, bucket, targets):
            found.violation(f"bucket {bucket.name} keeps no server access log: who read or changed what cannot be "
                            "traced. Log it to a log bucket (aws.s3.BucketLogging); buckets that receive logs are "
                            f"exempt{hint(bucket)}.", bucket.urn)


s3_access_logging = stack_policy(
    "s3-access-logging", "Every bucket (but those receiving logs) writes server access logs.",
    EnforcementLevel.ADVISORY, _access_logging)

POLICIES = [s3_abort_incomplete_uploads, s3_access_logging]
