"""S3 policies: no bucket made public or given ACLs back, every bucket TLS-only for its objects.

Since April 2023 AWS creates every bucket with all four Block Public Access settings on and ACLs
disabled (BucketOwnerEnforced), so a bucket with no access-block or ownership resource keeps those
defaults: only a program that turns them off, or grants the world by policy or ACL, is a violation.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs

from ._util import UNKNOWN, as_list, load_json, plain, wildcard_match
from .documents import denies_insecure_transport, public_grants
from .framework import Findings, hint, hint_args, resource_policy, stack_policy
from .graph import Graph, Node, depends_on

BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ACCOUNT_BLOCK = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_ACLS = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")
PUBLIC_GROUPS = ("http://acs.amazonaws.com/groups/global/AllUsers",
                 "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")


def attached(graph: Graph, bucket: Node, token: str, prop: str = "bucket") -> list[Node]:
    """Resources of `token` whose `prop` is this bucket (by dependency, id or name)."""
    name = bucket.props.get("bucket")
    return [n for n in graph.of_type(token)
            if depends_on(graph, n, prop, bucket) or (isinstance(name, str) and n.props.get(prop) == name)]


def _grants(props: dict[str, Any]) -> list[dict[str, Any]]:
    """ACL grants of a bucket (`grants`) or a BucketAcl (`accessControlPolicy.grants`), as grantee dicts."""
    policy = props.get("accessControlPolicy")
    grants = props.get("grants") or (policy.get("grants") if isinstance(policy, dict) else None) or []
    return [g for g in grants if isinstance(g, dict)]


def _public_grantees(props: dict[str, Any]) -> list[str]:
    out = []
    for g in _grants(props):
        grantee = g.get("grantee") if isinstance(g.get("grantee"), dict) else g
        uri = grantee.get("uri")
        if uri in PUBLIC_GROUPS:
            out.append(uri.rsplit("/", 1)[-1])
    return out


def _block_public(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    kind = args.resource_type
    if kind == ACCESS_BLOCK:
        off = [f for f in FLAGS if args.props.get(f) is not True]
        if off:
            report_violation(f"{args.name} turns off {', '.join(off)} (AWS turns all four on for new buckets): a "
                             f"policy or ACL can then make the bucket public. Set all four to true{hint_args(args)}.")
    if kind in (BUCKET_POLICY, *BUCKETS) and args.props.get("policy") not in (None, ""):
        for st in public_grants(load_json(args.props.get("policy"))):
            actions = ", ".join(map(str, as_list(st.get("Action"))))
            report_violation(f"{args.name}: the bucket policy allows {actions} to '*' with no narrowing condition: "
                             "the bucket is public. Name the principals or add a condition (aws:SourceArn, "
                             f"aws:SourceVpce, aws:PrincipalOrgID...){hint_args(args)}.")
    if kind in (*BUCKET_ACLS, *BUCKETS):
        props = plain(args.props)
        acl = props.get("acl")
        groups = _public_grantees(props)
        if acl in PUBLIC_ACLS or groups:
            report_violation(f"{args.name} grants {acl or ' and '.join(groups)} by ACL: the bucket or its objects "
                             f"are public. Remove the ACL (BucketOwnerEnforced disables them){hint_args(args)}.")


s3_block_public_access = resource_policy(
    "s3-block-public-access",
    "No bucket is made public: no access block with a setting off, no public bucket policy or ACL.",
    EnforcementLevel.MANDATORY, _block_public)


def _block_present(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    if any(all(b.props.get(f) is True for f in FLAGS) for b in graph.of_type(ACCOUNT_BLOCK)):
        return
    for bucket in graph.of_type(*BUCKETS):
        if not attached(graph, bucket, ACCESS_BLOCK):
            found.violation(f"bucket {bucket.name} has no aws.s3.BucketPublicAccessBlock: AWS blocks public access "
                            "on new buckets by default, but nothing in the stack keeps it so if someone turns it "
                            f"off. Declare the block with all four settings on{hint(bucket)}.", bucket.urn)


s3_bucket_public_access_block = stack_policy(
    "s3-bucket-public-access-block",
    "Every bucket declares its public access block (or the stack blocks public access account-wide).",
    EnforcementLevel.ADVISORY, _block_present)


def _acls_disabled(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    kind = args.resource_type
    if kind == OWNERSHIP:
        rule = plain(args.props).get("rule")
        ownership = rule.get("objectOwnership") if isinstance(rule, dict) else rule
        if ownership not in ("BucketOwnerEnforced", UNKNOWN):
            report_violation(f"{args.name} sets object ownership to {ownership}, which turns ACLs back on: access is "
                             "then granted object by object, outside the bucket policy. Use BucketOwnerEnforced"
                             f"{hint_args(args)}.")
    elif kind in (*BUCKET_ACLS, *BUCKETS):
        props = plain(args.props)
        acl, grants = props.get("acl"), _grants(props)
        if acl not in (None, "", "private", UNKNOWN) or (kind in BUCKETS and grants) or \
                (kind in BUCKET_ACLS and _foreign(props)):
            report_violation(f"{args.name} grants access by ACL ({acl or 'grants'}): ACLs are disabled on new "
                             "buckets since April 2023; grant access in the bucket policy instead"
                             f"{hint_args(args)}.")


def _foreign(props: dict[str, Any]) -> bool:
    """True when an access control policy grants anyone but its owner."""
    policy = props.get("accessControlPolicy")
    owner = (policy.get("owner") or {}).get("id") if isinstance(policy, dict) else None
    for g in _grants(props):
        grantee = g.get("grantee") if isinstance(g.get("grantee"), dict) else {}
        if grantee.get("type") != "CanonicalUser" or grantee.get("id") != owner:
            return True
    return False


s3_acls_disabled = resource_policy(
    "s3-acls-disabled", "Buckets keep ACLs disabled: object ownership BucketOwnerEnforced (AWS's default), no ACL "
    "grants.", EnforcementLevel.MANDATORY, _acls_disabled)


def _covers_objects(bucket_name: object) -> Any:
    def covers(resources: list[str]) -> bool:
        if not isinstance(bucket_name, str):
            return any(r == "*" or r.endswith("/*") or r.endswith("*") for r in resources)
        return any(wildcard_match(r.split(":::", 1)[-1] if ":::" in r else r, f"{bucket_name}/object")
                   for r in resources)
    return covers


def _tls_only(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    for bucket in graph.of_type(*BUCKETS):
        documents = [load_json(p.props.get("policy")) for p in attached(graph, bucket, BUCKET_POLICY)]
        documents.append(load_json(bucket.props.get("policy")))
        covers = _covers_objects(bucket.props.get("bucket"))
        partial = any(denies_insecure_transport(d, ("s3:*",)) for d in documents)
        why = "its deny without TLS does not cover the objects (arn:...:bucket/*)" if partial else \
            "no bucket policy denies s3:* when aws:SecureTransport is false"
        found.judge(documents, lambda d, c=covers: denies_insecure_transport(d, ("s3:*",), c),
                    f"the policy of bucket {bucket.name}",
                    f"bucket {bucket.name} accepts requests without TLS: {why}. Deny them on the bucket and "
                    f"its objects{hint(bucket)}.", bucket.urn)


s3_tls_only = stack_policy(
    "s3-tls-only", "Every bucket's policy denies requests without TLS on the bucket's objects (arn/*).",
    EnforcementLevel.MANDATORY, _tls_only)

POLICIES = [s3_block_public_access, s3_bucket_public_access_block, s3_acls_disabled, s3_tls_only]
