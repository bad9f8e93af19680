"""The holes issue 20 and 25 found in storage, IAM, resource policies and ECR, one program per hole.

As in test_policy_holes_tasks.py: each program follows a public example (named in its first comment),
`broken` makes the mistake, both variants run through the offline preview in both modes. Also: setting
hints appear only on this project's resources, never on another program's resources named alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import PROGRAM_HEAD, preview_program

HEAD = PROGRAM_HEAD + '''
LIFECYCLE = json.dumps({"rules": [{"rulePriority": 1, "description": "keep 20", "selection": {
    "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 20}, "action": {"type": "expire"}}]})
'''

S3_TLS = '''
# Shape: the "force SSL" bucket policy of many blog posts, denying on the bucket ARN alone; AWS's own example
# (Security Hub S3.5 remediation) lists the bucket and bucket/*.
bucket = aws.s3.Bucket("data", bucket="data-bucket-123456789012")
resources = ["arn:aws:s3:::data-bucket-123456789012"] + ([] if v.get("broken") else
                                                         ["arn:aws:s3:::data-bucket-123456789012/*"])
aws.s3.BucketPolicy("data", bucket=bucket.id, policy=doc({
    "Sid": "AllowSSLRequestsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": resources,
    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}))
'''

BUCKET_DEFAULT = '''
# Shape: pulumi/templates aws-python (an aws.s3.Bucket and nothing else), made TLS-only; the broken variant
# turns the block off and makes the bucket public, as static-website tutorials do.
bucket = aws.s3.Bucket("my-bucket", bucket="my-bucket-123456789012")
statements = [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
               "Resource": ["arn:aws:s3:::my-bucket-123456789012", "arn:aws:s3:::my-bucket-123456789012/*"],
               "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]
if v.get("broken"):
    aws.s3.BucketPublicAccessBlock("my-bucket", bucket=bucket.id, block_public_acls=False, block_public_policy=False,
                                   ignore_public_acls=False, restrict_public_buckets=False)
    statements.append({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": "arn:aws:s3:::my-bucket-123456789012/*"})
aws.s3.BucketPolicy("my-bucket", bucket=bucket.id, policy=doc(*statements))
'''

IAM_PATHS = '''
# Shape: the Pulumi Registry's examples of aws.iam.RolePolicyAttachmentsExclusive, PolicyAttachment, GroupPolicy
# and UserPolicy.
role = aws.iam.Role("ci", assume_role_policy=trust("codebuild.amazonaws.com"))
group = aws.iam.Group("developers")
user = aws.iam.User("deployer")
managed = "arn:aws:iam::aws:policy/" + ("AdministratorAccess" if v.get("broken") else
                                        "AmazonEC2ContainerRegistryReadOnly")
aws.iam.RolePolicyAttachmentsExclusive("ci", role_name=role.name, policy_arns=[managed])
aws.iam.PolicyAttachment("developers", groups=[group.name], policy_arn=managed)
aws.iam.GroupPolicy("developers", group=group.name, policy=doc(
    {"Effect": "Allow", "Action": "*" if v.get("broken") else ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
     "Resource": f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/app"}))
aws.iam.UserPolicy("deployer", user=user.name, policy=doc(
    {"Effect": "Allow", "Action": "ecs:*" if v.get("broken") else "ecs:UpdateService",
     "Resource": f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/main/app"}))
'''

PARTIAL_WILDCARDS = '''
# Shape: a task role written by hand in the style of the AWS CLI user guide's examples: read wildcards
# (s3:Get*, ec2:Describe*) next to write and permission wildcards (s3:Put*, iam:Pass*, *Role*).
role = aws.iam.Role("worker", assume_role_policy=trust("ecs-tasks.amazonaws.com"))
actions = ["s3:Get*", "s3:List*", "ec2:Describe*"] + (["s3:Put*", "iam:Pass*", "*Role*"] if v.get("broken")
                                                       else ["s3:PutObject"])
aws.iam.RolePolicy("worker", role=role.id, policy=doc(
    {"Effect": "Allow", "Action": actions, "Resource": "arn:aws:s3:::results-123456789012/*"}))
'''

PASS_ROLE = '''
# Shape: the EventBridge role for scheduled tasks of the Amazon ECS Developer Guide, written inline: ecs:RunTask
# and iam:PassRole, the latter on every role unless the task's roles are named.
role = aws.iam.Role("events", assume_role_policy=trust("events.amazonaws.com"))
aws.iam.RolePolicy("events", role=role.id, policy=doc(
    {"Effect": "Allow", "Action": "ecs:RunTask", "Resource": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/app:*"},
    {"Effect": "Allow", "Action": "iam:PassRole",
     "Resource": "*" if v.get("broken") else [f"arn:aws:iam::{ACCOUNT}:role/app-execution",
                                              f"arn:aws:iam::{ACCOUNT}:role/app-task"]}))
'''

MANAGED_BY_CONTENT = '''
# Shape: pulumi/examples aws-py-redshift-glue-etl (a Glue role given the AWS managed AWSGlueServiceRole, whose
# document allows glue:* although its name says nothing of it).
role = aws.iam.Role("glue", assume_role_policy=trust("glue.amazonaws.com"))
aws.iam.RolePolicyAttachment("glue", role=role.name, policy_arn=(
    "arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole" if v.get("broken")
    else "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"))
'''

PUBLIC_POLICIES = '''
# Shape: the resource policies of the Pulumi Registry examples of aws.ecr.RepositoryPolicy, aws.sns.TopicPolicy,
# aws.sqs.QueuePolicy and aws.kms.Key, with "Principal: *" as S3-notification examples write it; the fixed
# variant narrows each with a condition AWS accepts as non-public.
repo = aws.ecr.Repository("app", image_tag_mutability="IMMUTABLE", image_scanning_configuration={"scan_on_push": True})
aws.ecr.LifecyclePolicy("app", repository=repo.name, policy=LIFECYCLE)
narrow = lambda key, value: {} if v.get("broken") else {"Condition": {"StringEquals": {key: value}}}
key = aws.kms.Key("messages", enable_key_rotation=True, policy=doc(
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
     **narrow("kms:CallerAccount", ACCOUNT)}))
topic = aws.sns.Topic("events", kms_master_key_id=key.arn)
queue = aws.sqs.Queue("events", sqs_managed_sse_enabled=True)
aws.ecr.RepositoryPolicy("app", repository=repo.name, policy=doc(
    {"Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
     **narrow("aws:PrincipalOrgID", "o-a1b2c3d4e5")}))
aws.sns.TopicPolicy("events", arn=topic.arn, policy=topic.arn.apply(lambda arn: doc(
    {"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": arn,
     **narrow("aws:SourceAccount", ACCOUNT)},
    {"Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": arn,
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}})))
aws.sqs.QueuePolicy("events", queue_url=queue.id, policy=queue.arn.apply(lambda arn: doc(
    {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": arn,
     **narrow("aws:SourceAccount", ACCOUNT)},
    {"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": arn,
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}})))
'''

CREATION_TEMPLATE = '''
# Shape: the Pulumi Registry's aws.ecr.RepositoryCreationTemplate example (CREATE_ON_PUSH and PULL_THROUGH_CACHE),
# which leaves tags MUTABLE (the template default) and sets no lifecycle unless told.
aws.ecr.RepositoryCreationTemplate("teams", prefix="teams", applied_fors=["CREATE_ON_PUSH", "PULL_THROUGH_CACHE"],
    description="repositories created on push", encryption_configurations=[{"encryption_type": "AES256"}],
    **({} if v.get("broken") else {"image_tag_mutability": "IMMUTABLE", "lifecycle_policy": LIFECYCLE}))
'''

REGISTRY_SCANNING = '''
# Shape: the Pulumi Registry's aws.ecr.RegistryScanningConfiguration example (enhanced scanning on push of every
# repository), with a repository that leaves its own (then ignored) scanOnPush off.
aws.ecr.RegistryScanningConfiguration("registry", scan_type="ENHANCED", rules=[{
    "scan_frequency": "SCAN_ON_PUSH",
    "repository_filters": [{"filter": "tools-*" if v.get("broken") else "*", "filter_type": "WILDCARD"}]}])
repo = aws.ecr.Repository("app", name="app", image_tag_mutability="IMMUTABLE")
aws.ecr.LifecyclePolicy("app", repository=repo.name, policy=LIFECYCLE)
'''


@dataclass(frozen=True)
class Hole:
    """A hole: its program and the policies that must catch the broken variant, with how many findings at `up`."""

    id: str
    program: str
    policies: tuple[str, ...]
    at_up: int = 1


HOLES = [
    Hole("s3-tls-only-objects", S3_TLS, ("s3-tls-only",)),
    Hole("bucket-made-public", BUCKET_DEFAULT, ("s3-block-public-access",), at_up=2),
    Hole("iam-attachment-paths", IAM_PATHS, ("iam-no-wildcard-actions",), at_up=4),
    Hole("iam-partial-wildcards", PARTIAL_WILDCARDS, ("iam-no-wildcard-actions",), at_up=3),
    Hole("iam-pass-role-on-all", PASS_ROLE, ("iam-pass-role-scoped",)),
    Hole("managed-policy-by-content", MANAGED_BY_CONTENT, ("iam-no-wildcard-actions",)),
    Hole("resource-policies-public", PUBLIC_POLICIES, ("resource-policy-not-public",), at_up=4),
    Hole("ecr-creation-template", CREATION_TEMPLATE, ("ecr-immutable-tags", "ecr-lifecycle-policy"), at_up=2),
    Hole("registry-scanning", REGISTRY_SCANNING, ("ecr-image-scanning",)),
]


def run(tmp_path: Path, hole: Hole, broken: bool, mode: str) -> tuple[int, list[dict[str, str]]]:
    directory = tmp_path / ("broken" if broken else "fixed")
    directory.mkdir()
    result = preview_program(directory, HEAD + hole.program, {"broken": broken}, mode)
    assert result.stdout, result.stderr
    return result.returncode, result.report["violations"]


@pytest.mark.parametrize("mode", ["preview", "up"])
@pytest.mark.parametrize("hole", HOLES, ids=lambda h: h.id)
def test_broken_is_caught_and_fixed_passes(tmp_path: Path, hole: Hole, mode: str) -> None:
    code, violations = run(tmp_path, hole, True, mode)
    caught = [v for v in violations if v["policy"] in hole.policies]
    assert code == 1 and {v["policy"] for v in caught if v["level"] == "mandatory"} == set(hole.policies), violations
    if mode == "up":
        assert len(caught) == hole.at_up and {v["level"] for v in caught} == {"mandatory"}, caught
    code, violations = run(tmp_path, hole, False, mode)
    assert code == 0 and not [v for v in violations if v["level"] == "mandatory"], violations
    if mode == "up":
        assert not [v for v in violations if v["policy"] in hole.policies], violations


def test_a_bucket_without_access_block_is_only_advisory(tmp_path: Path) -> None:
    code, violations = run(tmp_path, HOLES[1], False, "preview")
    (advice,) = [v for v in violations if v["policy"] == "s3-bucket-public-access-block"]
    assert code == 0 and advice["level"] == "advisory" and "AWS blocks public access" in advice["message"]


LOOKALIKE = '''
# Shape: any program whose resources happen to carry this project's name prefixes (service-, network-, job-).
aws.ec2.SecurityGroup("service-web-sg", description="web", ingress=[
    {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"], "description": "ssh"}])
aws.cloudwatch.LogGroup("network-flow-logs", retention_in_days=None if v.get("broken") else 30)
'''


@pytest.mark.parametrize("mode", ["preview", "up"])
def test_no_setting_hint_on_another_programs_resources(tmp_path: Path, mode: str) -> None:
    result = preview_program(tmp_path, HEAD + LOOKALIKE, {"broken": True}, mode)
    found = {v["policy"]: v["message"] for v in result.report["violations"]}
    assert {"security-group-no-public-ingress", "log-group-retention", "log-group-kms"} <= set(found)
    assert not [m for m in found.values() if "private-fargate" in m]
