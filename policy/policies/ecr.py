"""ECR policies: repositories (and the templates ECR creates repositories from) scan, keep tags immutable,
expire old images, (optionally) use KMS."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs

from ._util import UNKNOWN, config, wildcard_match
from .framework import Findings, hint, hint_args, resource_policy, stack_policy
from .graph import Graph, Node

REPOSITORY = "aws:ecr/repository:Repository"
TEMPLATE = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
SCANNING = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"
IMMUTABLE = ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION")


def _registry_scans(graph: Graph, repo: Node) -> bool | None:
    """Whether a registry scanning configuration of the stack scans this repository (None: none decides)."""
    name = repo.props.get("name")
    for registry in graph.of_type(SCANNING):
        for rule in registry.props.get("rules") or []:
            if not isinstance(rule, dict) or rule.get("scanFrequency") not in ("SCAN_ON_PUSH", "CONTINUOUS_SCAN"):
                continue
            filters = [f.get("filter") for f in rule.get("repositoryFilters") or [] if isinstance(f, dict)]
            if any(f == "*" or (isinstance(name, str) and isinstance(f, str) and wildcard_match(f, name))
                   for f in filters):
                return True
        if registry.props.get("scanType") == "ENHANCED":
            return False  # enhanced scanning ignores repository settings: only its rules scan
    return None


def _scanning(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    for repo in graph.of_type(REPOSITORY):
        registry = _registry_scans(graph, repo)
        if registry:
            continue
        scan = repo.props.get("imageScanningConfiguration")
        on_push = scan.get("scanOnPush") if isinstance(scan, dict) else scan
        if on_push is UNKNOWN:
            found.unknown.append(f"the scanning setting of {repo.name}")
        elif registry is False or on_push is not True:
            why = "the registry's enhanced scanning rules do not cover it" if registry is False else \
                "it does not scan images on push"
            found.violation(f"{repo.name}: {why}, so known vulnerabilities go unnoticed. Set "
                            "imageScanningConfiguration.scanOnPush, or a registry scanning configuration whose "
                            f"rules cover the repository{hint(repo)}.", repo.urn)


ecr_image_scanning = stack_policy(
    "ecr-image-scanning", "ECR repositories scan images on push, themselves or by a registry scanning rule.",
    EnforcementLevel.MANDATORY, _scanning)


def _pull_through_only(props: Any) -> bool:
    return list(props.get("appliedFors") or []) == ["PULL_THROUGH_CACHE"]


def _immutable(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == REPOSITORY:
        if args.props.get("imageTagMutability") not in IMMUTABLE:
            report_violation(f"{args.name} has mutable tags: a pushed tag can be replaced by another image under "
                             f"the running tasks. Set imageTagMutability: IMMUTABLE{hint_args(args)}.")
    elif args.resource_type == TEMPLATE:
        allow = config(args, {"allowMutablePullThroughCache": False})["allowMutablePullThroughCache"]
        mutability = args.props.get("imageTagMutability")
        # A cache must follow upstream's moving tags; with MUTABLE_WITH_EXCLUSION the tags it excludes
        # (the ones tasks are pinned to) can never be overwritten, which is what the rule protects.
        filters = args.props.get("imageTagMutabilityExclusionFilters")
        excluding = mutability == "MUTABLE_WITH_EXCLUSION" and bool(filters)
        if mutability not in IMMUTABLE and not (_pull_through_only(args.props) and (allow or excluding)):
            report_violation(f"{args.name} creates repositories ({', '.join(args.props.get('appliedFors') or [])}) "
                             "with mutable tags (MUTABLE is the template default): a tag can be replaced under "
                             f"running tasks. Set imageTagMutability: IMMUTABLE{hint_args(args)}.")


ecr_immutable_tags = resource_policy(
    "ecr-immutable-tags", "ECR repositories and repository creation templates have IMMUTABLE tags.",
    EnforcementLevel.MANDATORY, _immutable,
    {"allowMutablePullThroughCache": {
        "type": "boolean", "default": False,
        "description": "Accept MUTABLE on templates applied only to PULL_THROUGH_CACHE, so cached tags follow "
                       "upstream (a pulled tag is then re-synced from upstream at most daily)."}})


def _kms(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != REPOSITORY:
        return
    configs = args.props.get("encryptionConfigurations") or []
    if not any(c.get("encryptionType") == "KMS" for c in configs):
        report_violation(f"{args.name} is encrypted with AES256; use a KMS key to control who can decrypt images"
                         f"{hint_args(args, 'repository.kmsKeyArn')}.")


def _lifecycle(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    policies = graph.of_type(LIFECYCLE)
    for repo in graph.of_type(REPOSITORY):
        name = repo.props.get("name")
        covered = any(repo.urn in p.deps.get("repository", []) or (name and p.props.get("repository") == name)
                      for p in policies)
        if not covered:
            found.violation(f"{repo.name} has no lifecycle policy: images accumulate and are billed forever. Add an "
                            f"aws.ecr.LifecyclePolicy{hint(repo)}.", repo.urn)
    for template in graph.of_type(TEMPLATE):
        if template.props.get("lifecyclePolicy") in (None, ""):
            applied = ", ".join(template.props.get("appliedFors") or [])
            found.violation(f"{template.name} creates repositories ({applied}) with no lifecycle policy: their "
                            "images accumulate and are billed forever. Set lifecyclePolicy on the template"
                            f"{hint(template)}.", template.urn)


ecr_lifecycle_policy = stack_policy(
    "ecr-lifecycle-policy", "Every ECR repository and repository creation template has a lifecycle policy.",
    EnforcementLevel.MANDATORY, _lifecycle)
ecr_kms_encryption = resource_policy(
    "ecr-kms-encryption", "ECR repositories are encrypted with a KMS key.", EnforcementLevel.ADVISORY, _kms)

POLICIES = [ecr_image_scanning, ecr_immutable_tags, ecr_lifecycle_policy, ecr_kms_encryption]
