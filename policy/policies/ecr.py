"""ECR policies: repositories scan, keep tags immutable, expire old images, (optionally) use KMS."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from ._util import Graph

REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
HINT = " (private-fargate: repository)"


def _scanning(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != REPOSITORY:
        return
    if (args.props.get("imageScanningConfiguration") or {}).get("scanOnPush") is not True:
        report_violation(f"{args.name} does not scan images on push: known vulnerabilities go unnoticed. Set "
                         "imageScanningConfiguration.scanOnPush.")


def _immutable(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != REPOSITORY:
        return
    if args.props.get("imageTagMutability") != "IMMUTABLE":
        report_violation(f"{args.name} has mutable tags: a pushed tag can be replaced by another image under the "
                         "running tasks. Set imageTagMutability: IMMUTABLE.")


def _kms(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != REPOSITORY:
        return
    configs = args.props.get("encryptionConfigurations") or []
    if not any(c.get("encryptionType") == "KMS" for c in configs):
        report_violation(f"{args.name} is encrypted with AES256; use a KMS key to control who can decrypt images "
                         f"(private-fargate: repository.kmsKeyArn).")


def _lifecycle(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    graph = Graph(args.resources)
    policies = graph.of_type(LIFECYCLE)
    for repo in graph.of_type(REPOSITORY):
        name = repo.props.get("name")
        covered = any(repo.urn in p.deps.get("repository", []) or (name and p.props.get("repository") == name)
                      for p in policies)
        if not covered:
            report_violation(f"{repo.name} has no lifecycle policy: images accumulate and are billed forever. Add an "
                             f"aws.ecr.LifecyclePolicy{HINT}.", repo.urn)


ecr_image_scanning = ResourceValidationPolicy(
    name="ecr-image-scanning", description="ECR repositories scan images on push.",
    enforcement_level=EnforcementLevel.MANDATORY, validate=_scanning)
ecr_immutable_tags = ResourceValidationPolicy(
    name="ecr-immutable-tags", description="ECR repositories have IMMUTABLE tags.",
    enforcement_level=EnforcementLevel.MANDATORY, validate=_immutable)
ecr_lifecycle_policy = StackValidationPolicy(
    name="ecr-lifecycle-policy", description="Every ECR repository of the stack has a lifecycle policy.",
    enforcement_level=EnforcementLevel.MANDATORY, validate=_lifecycle)
ecr_kms_encryption = ResourceValidationPolicy(
    name="ecr-kms-encryption", description="ECR repositories are encrypted with a KMS key.",
    enforcement_level=EnforcementLevel.ADVISORY, validate=_kms)

POLICIES = [ecr_image_scanning, ecr_immutable_tags, ecr_lifecycle_policy, ecr_kms_encryption]
