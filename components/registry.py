"""ContainerRepository: the stack's ECR repository, its image builds, the pull-through cache and the
deploy-time image steps; the image resolver (components/resolver.py) decides what each workload needs.

Every task definition waits for what puts its image in place: the build (awsx.ecr.Image), or the
step that warms the cache or copies the image (components/image_steps.py), registered here as
resources the workloads depend on.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from components.context import StackContext
from components.iam import assume_role_policy, document, statement
from components.image_steps import PIN_PREFIX, CacheWarm, ImageMirror
from components.naming import physical_name
from components.resolver import (
    CACHE_ACTIONS,
    PULL_ACTIONS,
    BuildSpec,
    ImageResolver,
    ImageStep,
    ResolvedImage,
    context_hash,
    dockerfile_user,
)
from settings import Settings
from settings.images import Upstream

__all__ = ["CACHE_ACTIONS", "PULL_ACTIONS", "BuildSpec", "ContainerRepository", "ContainerRepositoryArgs",
           "ImageResolver", "ImageStep", "ResolvedImage", "context_hash", "dockerfile_user", "lifecycle_policy"]

#: More images than a repository holds by default (10,000, https://docs.aws.amazon.com/AmazonECR/latest/
#: userguide/service-quotas.html): rule 1 selects every pinned image and never reaches its count, and an
#: image a rule selects cannot be expired by a rule of lower priority (ECR's lifecycle evaluation rules).
PINNED_KEEP = 10000


def lifecycle_policy(keep_images: int, untagged_expiry_days: int) -> str:
    """ECR lifecycle JSON: keep every `pin-*` image, expire untagged images after N days, keep the newest K tagged."""
    return json.dumps({"rules": [
        {"rulePriority": 1, "description": "Keep pinned images: task definitions use them by digest",
         "selection": {"tagStatus": "tagged", "tagPatternList": [f"{PIN_PREFIX}*"], "countType": "imageCountMoreThan",
                       "countNumber": PINNED_KEEP},
         "action": {"type": "expire"}},
        {"rulePriority": 2, "description": f"Expire untagged images after {untagged_expiry_days} days",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                       "countNumber": untagged_expiry_days},
         "action": {"type": "expire"}},
        {"rulePriority": 3, "description": f"Keep the newest {keep_images} tagged images",
         "selection": {"tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan",
                       "countNumber": keep_images},
         "action": {"type": "expire"}},
    ]})


@dataclass(frozen=True)
class ContainerRepositoryArgs:
    """Inputs of ContainerRepository; `from_settings` builds them from `repository` and the workloads.

    builds: images to build and push; upstreams: pull-through cache upstreams in use (by host), with their
    prefixes and credentials (upstream key -> secret ARN); steps: deploy-time warms and mirrors.
    """

    context: StackContext
    name: str
    keep_images: int = 20
    untagged_expiry_days: int = 7
    kms_key_arn: str | None = None
    credentials: Mapping[str, str] = field(default_factory=dict)
    builds: tuple[BuildSpec, ...] = ()
    upstreams: Mapping[str, Upstream] = field(default_factory=dict)
    cache_prefixes: Mapping[str, str] = field(default_factory=dict)
    steps: tuple[ImageStep, ...] = ()
    protect: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, context: StackContext,
                      resolver: ImageResolver) -> ContainerRepositoryArgs:
        """Args for the stack's repository, with what the resolver found the workloads need."""
        repo = settings.repository
        hosts = resolver.upstreams
        return cls(context=context, name=settings.repository_name, keep_images=repo.keep_images,
                   untagged_expiry_days=repo.untagged_expiry_days, kms_key_arn=repo.kms_key_arn,
                   credentials=repo.credentials, builds=tuple(resolver.builds),
                   upstreams={h: resolver.upstream(h) for h in hosts},
                   cache_prefixes={h: resolver.cache_prefix(h) for h in hosts}, steps=tuple(resolver.steps),
                   protect=settings.protect, tags=settings.stack_tags)


class ContainerRepository(pulumi.ComponentResource):
    """The stack's ECR repository (immutable tags, scan on push, lifecycle), its image builds, the
    pull-through cache (a rule and a creation template per upstream) and the deploy-time image steps.

    Attributes: repository; images (build tag -> awsx.ecr.Image); steps (step key -> CacheWarm or
    ImageMirror); image_resources (both, by key) for task definitions to depend on; digests (step key
    -> the digest the step found) for pinned images.
    """

    def __init__(self, name: str, args: ContainerRepositoryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:registry:ContainerRepository", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self._create_repository()
        self.images: dict[str, awsx.ecr.Image] = {}
        for spec in args.builds:
            self._create_image(spec)
        self._cache: dict[str, list[pulumi.Resource]] = {}
        if args.upstreams:
            self._create_pull_through_cache()
        self.steps: dict[str, pulumi.Resource] = {}
        for step in args.steps:
            self._create_step(step)
        self.image_resources: dict[str, pulumi.Resource] = {**self.images, **self.steps}
        self.digests: dict[str, pulumi.Output[str]] = {k: s.digest for k, s in self.steps.items()}  # type: ignore[attr-defined]
        self.register_outputs({"repositoryName": args.name, "repositoryUrl": self.repository.repository_url})

    def _encryption(self) -> dict[str, str]:
        if self._args.kms_key_arn:
            return {"encryption_type": "KMS", "kms_key": self._args.kms_key_arn}
        return {"encryption_type": "AES256"}

    def _create_repository(self) -> None:
        args = self._args
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        self.repository = aws.ecr.Repository(
            f"{self._name}-repository", name=args.name, image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True}, encryption_configurations=[self._encryption()],
            force_delete=not args.protect, tags={**args.tags, "Name": args.name}, opts=stateful)
        self.lifecycle = aws.ecr.LifecyclePolicy(
            f"{self._name}-lifecycle", repository=self.repository.name,
            policy=lifecycle_policy(args.keep_images, args.untagged_expiry_days), opts=self._child)

    def _create_image(self, spec: BuildSpec) -> None:
        # Paths stay relative to the project directory (Pulumi's working directory), so the state is
        # the same from every machine; the tag is the content hash, so an unchanged context is not pushed.
        self.images[spec.tag] = awsx.ecr.Image(
            f"{self._name}-image-{spec.tag}", repository_url=self.repository.repository_url,
            context=spec.context, dockerfile=posixpath.normpath(posixpath.join(spec.context, spec.dockerfile)),
            platform=spec.platform, image_tag=spec.tag, target=spec.target, args=dict(spec.args) or None,
            opts=self._child)

    def _create_pull_through_cache(self) -> None:
        args, ctx = self._args, self._args.context
        role, role_policy = self._create_template_role()
        for host, upstream in args.upstreams.items():
            prefix = args.cache_prefixes[host]
            credential = args.credentials.get(upstream.credential) if upstream.credential else None
            rule = aws.ecr.PullThroughCacheRule(
                f"{self._name}-cache-{upstream.suffix}", ecr_repository_prefix=prefix,
                upstream_registry_url=upstream.url, credential_arn=credential, opts=self._child)
            # Cached repositories mirror upstream tags, which upstream moves (3.12-slim gets patched):
            # those stay mutable so the cache can follow (ECR may not update a cached image under an
            # immutable tag); the pin tags on what tasks pull by digest are excluded: never overwritten,
            # and kept by the lifecycle (MUTABLE_WITH_EXCLUSION, AmazonECR/latest/userguide/repository-edit.html).
            template = aws.ecr.RepositoryCreationTemplate(
                f"{self._name}-cache-{upstream.suffix}", prefix=prefix, applied_fors=["PULL_THROUGH_CACHE"],
                description=f"Repositories cached from {upstream.url} for {ctx.prefix}",
                image_tag_mutability="MUTABLE_WITH_EXCLUSION",
                image_tag_mutability_exclusion_filters=[{"filter": f"{PIN_PREFIX}*", "filter_type": "WILDCARD"}],
                encryption_configurations=[self._encryption()],
                lifecycle_policy=lifecycle_policy(args.keep_images, args.untagged_expiry_days),
                resource_tags=dict(args.tags), custom_role_arn=role.arn,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]))
            self._cache[prefix] = [rule, template]

    def _create_template_role(self) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """ECR needs a role of ours to tag (and KMS-encrypt) the repositories a template creates.

        Its trust policy is the one AWS documents, without conditions: AWS does not document that ECR sends
        aws:SourceAccount or aws:SourceArn when it assumes this role
        (https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-creation-templates-create-iam.html).
        """
        args, ctx = self._args, self._args.context
        role = aws.iam.Role(f"{self._name}-cache-template", name=physical_name(ctx.prefix, "ecr-cache", max_len=64),
                            assume_role_policy=assume_role_policy("ecr.amazonaws.com"),
                            tags={**args.tags, "Name": f"{ctx.prefix}-ecr-cache"}, opts=self._child)
        repos = [ctx.arn("ecr", f"repository/{args.cache_prefixes[h]}/*") for h in args.upstreams]
        statements = [statement(["ecr:CreateRepository", "ecr:TagResource"], repos, sid="CreateCachedRepositories")]
        if args.kms_key_arn:
            statements.append(statement(["kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant"],
                                        [args.kms_key_arn], sid="EncryptCachedRepositories"))
        policy = aws.iam.RolePolicy(f"{self._name}-cache-template", role=role.id, policy=document(statements),
                                    opts=self._child)
        return role, policy

    def _create_step(self, step: ImageStep) -> None:
        """Warm or mirror one image at deploy, after the rule and template (or the repository) it needs."""
        ctx = self._args.context
        inputs = step.props(ctx.region, f"{ctx.account}.dkr.ecr.{ctx.region}.{ctx.dns_suffix}")
        if step.kind == "warm":
            prefix = step.repository.split("/", 1)[0]
            self.steps[step.key] = CacheWarm(f"{self._name}-warm-{step.key}", inputs, pulumi.ResourceOptions(
                parent=self, depends_on=self._cache.get(prefix, [])))
        else:
            self.steps[step.key] = ImageMirror(f"{self._name}-mirror-{step.key}", inputs, pulumi.ResourceOptions(
                parent=self, depends_on=[self.repository, self.lifecycle]))
