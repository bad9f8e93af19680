"""S3 policies: every bucket blocks public access and refuses requests without TLS."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from ._util import UNKNOWN, Graph, Node, as_list, cannot_verify, depends_on, load_json, setting_hint

BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _attached(graph: Graph, bucket: Node, token: str) -> list[Node]:
    """Resources of `token` whose `bucket` property is this bucket (by dependency, id or name)."""
    name = bucket.props.get("bucket")
    return [n for n in graph.of_type(token)
            if depends_on(graph, n, "bucket", bucket) or (isinstance(name, str) and n.props.get("bucket") == name)]


def _block_public(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    graph = Graph(args.resources)
    for bucket in graph.of_type(*BUCKETS):
        blocks = _attached(graph, bucket, ACCESS_BLOCK)
        if not any(all(b.props.get(f) is True for f in FLAGS) for b in blocks):
            report_violation(f"bucket {bucket.name} lacks a public access block with all four flags "
                             f"({', '.join(FLAGS)}) true: a policy or ACL could make it public. Add an "
                             f"aws.s3.BucketPublicAccessBlock{setting_hint(bucket.name)}.", bucket.urn)


def _denies_insecure_transport(document: object, bucket_name: object) -> bool:
    """A Deny for everyone, on all S3 actions, on this bucket, when the request is not over TLS."""
    if not isinstance(document, dict):
        return False
    for st in as_list(document.get("Statement")):
        if not isinstance(st, dict) or st.get("Effect") != "Deny":
            continue
        condition = st.get("Condition") or {}
        value = {**(condition.get("Bool") or {}), **(condition.get("BoolIfExists") or {})}.get("aws:SecureTransport")
        everyone = st.get("Principal") in ("*", {"AWS": "*"})
        all_actions = any(a in ("s3:*", "*") for a in as_list(st.get("Action")))
        resources = [str(r) for r in as_list(st.get("Resource"))]
        this_bucket = not isinstance(bucket_name, str) or any(
            r == "*" or r.split(":::", 1)[-1].split("/", 1)[0] == bucket_name for r in resources)
        if str(value).lower() == "false" and everyone and all_actions and this_bucket:
            return True
    return False


def _tls_only(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    graph = Graph(args.resources)
    unknown: list[str] = []
    for bucket in graph.of_type(*BUCKETS):
        documents = [load_json(p.props.get("policy")) for p in _attached(graph, bucket, BUCKET_POLICY)]
        documents.append(load_json(bucket.props.get("policy")))
        if any(_denies_insecure_transport(d, bucket.props.get("bucket")) for d in documents):
            continue
        if any(d is UNKNOWN for d in documents):
            unknown.append(f"the policy of bucket {bucket.name} (unknown at preview)")
            continue
        report_violation(f"bucket {bucket.name} accepts requests without TLS: add a bucket policy that denies "
                         f"s3:* when aws:SecureTransport is false{setting_hint(bucket.name)}.", bucket.urn)
    if unknown:
        raise cannot_verify(unknown)


s3_block_public_access = StackValidationPolicy(
    name="s3-block-public-access", description="Every bucket has a public access block with all four flags on.",
    enforcement_level=EnforcementLevel.MANDATORY, validate=_block_public)
s3_tls_only = StackValidationPolicy(
    name="s3-tls-only", description="Every bucket has a policy denying requests with aws:SecureTransport false.",
    enforcement_level=EnforcementLevel.MANDATORY, validate=_tls_only)

POLICIES = [s3_block_public_access, s3_tls_only]
