"""Resource policies and the services that hold messages and keys: no grant to the world, SNS encrypted
and TLS-only, KMS keys rotated."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs

from ._util import as_list, load_json, plain
from .documents import denies_insecure_transport, public_grants
from .framework import Findings, hint, hint_args, resource_policy, stack_policy
from .graph import Graph

#: Resources that carry a resource policy, by the property holding it (S3 is s3-block-public-access's).
POLICY_PROPS = {
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy", "aws:ecr/registryPolicy:RegistryPolicy": "policy",
    "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate": "repositoryPolicy",
    "aws:sns/topic:Topic": "policy", "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sqs/queue:Queue": "policy", "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:kms/key:Key": "policy", "aws:kms/keyPolicy:KeyPolicy": "policy",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "policy",
}
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
KEY = "aws:kms/key:Key"


def _not_public(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    prop = POLICY_PROPS.get(args.resource_type)
    if prop is None:
        return
    raw = args.props.get(prop)
    if raw in (None, ""):
        return
    for st in public_grants(load_json(raw)):
        who = "everyone but NotPrincipal" if "NotPrincipal" in st else "'*'"
        actions = ", ".join(str(a) for a in as_list(st.get("Action"))[:4])
        report_violation(f"{args.name}: its policy allows {actions} to {who} with no condition narrowing who "
                         "(aws:SourceArn, aws:SourceAccount, aws:PrincipalOrgID, aws:SourceVpce...): anyone with an "
                         f"AWS account can use it. Name the principals or add such a condition{hint_args(args)}.")


resource_policy_not_public = resource_policy(
    "resource-policy-not-public",
    "ECR repository and registry, SNS topic, SQS queue, KMS key and secret policies grant nothing to '*' without "
    "a narrowing condition.", EnforcementLevel.MANDATORY, _not_public)


def _sns_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    # Read without the proxy: a key ARN unknown at preview comes from a key, so it is set.
    if args.resource_type == TOPIC and not plain(args.props).get("kmsMasterKeyId"):
        report_violation(f"{args.name} stores messages unencrypted: set kmsMasterKeyId (a key of yours, or "
                         f"alias/aws/sns){hint_args(args)}.")


sns_encrypted = resource_policy("sns-encrypted", "SNS topics are encrypted with KMS.", EnforcementLevel.MANDATORY,
                                _sns_encrypted)


def _sns_tls_only(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    policies = graph.of_type(TOPIC_POLICY)
    for topic in graph.of_type(TOPIC):
        arn = topic.props.get("arn")
        documents = [load_json(topic.props.get("policy"))]
        documents += [load_json(p.props.get("policy")) for p in policies
                      if topic.urn in p.deps.get("arn", []) or (isinstance(arn, str) and p.props.get("arn") == arn)]
        found.judge(documents, lambda d: denies_insecure_transport(d, ("sns:Publish", "sns:*")),
                    f"the policy of topic {topic.name}",
                    f"topic {topic.name} accepts publishers without TLS: add a topic policy statement that "
                    f"denies sns:Publish to '*' when aws:SecureTransport is false{hint(topic)}.", topic.urn)


sns_tls_only = stack_policy(
    "sns-tls-only", "Every SNS topic's policy denies sns:Publish without TLS (aws:SecureTransport false).",
    EnforcementLevel.MANDATORY, _sns_tls_only)


def _kms_rotation(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != KEY:
        return
    spec = args.props.get("customerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    usage = args.props.get("keyUsage") or "ENCRYPT_DECRYPT"
    if spec != "SYMMETRIC_DEFAULT" or usage != "ENCRYPT_DECRYPT" or args.props.get("customKeyStoreId"):
        return  # KMS rotates only symmetric encryption keys in its own key store
    if args.props.get("enableKeyRotation") is not True:
        report_violation(f"{args.name} is never rotated: set enableKeyRotation (yearly by default, or "
                         f"rotationPeriodInDays){hint_args(args)}.")


kms_key_rotation = resource_policy(
    "kms-key-rotation", "Symmetric KMS keys have automatic rotation on.", EnforcementLevel.MANDATORY, _kms_rotation)

POLICIES = [resource_policy_not_public, sns_encrypted, sns_tls_only, kms_key_rotation]
