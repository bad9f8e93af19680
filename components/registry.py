"""ContainerRepository and the image resolver: images a task with no internet route can pull.

A private task reaches only its own region's ECR (through the ecr.api/ecr.dkr endpoints). So every
workload image ends up there: `build` images are built and pushed to the stack's repository under
a content-hash tag; `uri` images must already be in this account's ECR in this region; `public`
images (public.ecr.aws, Docker Hub with credentials) go through an ECR pull-through cache whose
prefix carries the stack name. The resolver computes each workload's URI and the pull permissions
its execution role needs as plain strings, so both are known at preview.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from components.context import StackContext
from components.iam import assume_role_policy, document, statement
from components.naming import physical_name
from settings import BuildSettings, Settings, WorkloadSettings
from settings.errors import SettingsError

#: Actions that pull an image from a repository.
PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
#: Extra actions a first pull through a cache rule needs: ECR creates the repository (tagging it, as
#: the creation template sets tags) and imports the image, all on behalf of the pulling role.
CACHE_ACTIONS = ("ecr:BatchImportUpstreamImage", "ecr:CreateRepository", "ecr:TagResource")
#: Upstream registries of the pull-through cache: settings host -> (ECR upstream URL, prefix suffix).
UPSTREAMS = {"public.ecr.aws": ("public.ecr.aws", "ecr-public"),
             "docker.io": ("registry-1.docker.io", "docker-hub")}
_PLATFORMS = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}


@dataclass(frozen=True)
class BuildSpec:
    """One image to build: context, Dockerfile and platform, tagged by the hash of what goes in."""

    context: str
    dockerfile: str
    platform: str
    tag: str


@dataclass(frozen=True)
class ResolvedImage:
    """Where a workload's image comes from and what its execution role must be allowed to do."""

    uri: str
    repository_arns: tuple[str, ...]
    actions: tuple[str, ...] = PULL_ACTIONS
    build: BuildSpec | None = None
    user: str | None = None

    def statements(self) -> list[dict]:
        """IAM statements for the execution role (GetAuthorizationToken has no resource scope)."""
        return [statement(["ecr:GetAuthorizationToken"], "*", sid="EcrLogin"),
                statement(self.actions, list(self.repository_arns), sid="PullImage")]


def context_hash(directory: Path, dockerfile: str, platform: str) -> str:
    """A tag from the build context's content: unchanged files keep the tag, any change makes a new one.

    Paths matched by .dockerignore are left out, as Docker leaves them out of the build.
    """
    ignore = _dockerignore(directory)
    digest = hashlib.sha256(f"{dockerfile}\0{platform}\0".encode())
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            path = Path(root, name)
            rel = path.relative_to(directory).as_posix()
            if _ignored(rel, ignore) or "__pycache__" in rel.split("/"):
                continue
            digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def dockerfile_user(dockerfile: Path) -> str | None:
    """The user the final stage of a Dockerfile runs as, when it is not root (None otherwise)."""
    user = None
    for line in dockerfile.read_text().splitlines():
        words = line.strip().split()
        if not words:
            continue
        if words[0].upper() == "FROM":
            user = None
        elif words[0].upper() == "USER" and len(words) > 1:
            user = words[1]
    if user is None or user.split(":")[0] in ("root", "0"):
        return None
    return user


def _dockerignore(directory: Path) -> list[str]:
    path = directory / ".dockerignore"
    if not path.is_file():
        return []
    return [line.strip().rstrip("/") for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def _ignored(rel: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel, p + "/*") or rel.startswith(p.lstrip("*/") + "/")
               for p in patterns if not p.startswith("!"))


class ImageResolver:
    """Turns each workload's `image` setting into a URI and execution-role grants, without resources."""

    def __init__(self, settings: Settings, context: StackContext, base_dir: Path | None = None):
        self.context = context
        self.repository_name = settings.repository_name
        self.base_dir = base_dir or Path.cwd()
        self.registry = f"{context.account}.dkr.ecr.{context.region}.{context.dns_suffix}"
        self.images: dict[str, ResolvedImage] = {}
        self._hosts: set[str] = set()
        self._tags: dict[tuple[str, str, str], str] = {}
        for kind, items in (("services", settings.services), ("jobs", settings.jobs), ("workers", settings.workers)):
            for i, workload in enumerate(items):
                self.images[workload.name] = self._resolve(workload, f"{kind}[{i}].image")

    @property
    def repository_arn(self) -> str:
        """The stack repository's ARN."""
        return self.context.arn("ecr", f"repository/{self.repository_name}")

    @property
    def repository_url(self) -> str:
        """The stack repository's URL (deterministic, so known at preview)."""
        return f"{self.registry}/{self.repository_name}"

    def cache_prefix(self, host: str) -> str:
        """The pull-through cache prefix for an upstream host; it carries the stack (dev and prod share an
        account without colliding) and fits ECR's 30-character limit."""
        return physical_name(self.context.project, self.context.stack, UPSTREAMS[host][1], max_len=30)

    @property
    def upstreams(self) -> list[str]:
        """Upstream hosts the workloads pull from through the cache."""
        return [h for h in UPSTREAMS if h in self._hosts]

    @property
    def builds(self) -> list[BuildSpec]:
        """The distinct images to build: one per tag (same content and platform, same image)."""
        by_tag = {img.build.tag: img.build for img in self.images.values() if img.build is not None}
        return list(by_tag.values())

    def _resolve(self, workload: WorkloadSettings, where: str) -> ResolvedImage:
        image = workload.image
        if image.build is not None:
            return self._resolve_build(image.build, workload.arch)
        if image.uri is not None:
            return self._resolve_uri(image.uri, where)
        assert image.public is not None
        return self._resolve_public(image.public, where)

    def _resolve_build(self, build: BuildSettings, arch: str) -> ResolvedImage:
        platform = _PLATFORMS[arch]
        key = (posixpath.normpath(build.context), build.dockerfile, platform)
        if key not in self._tags:  # one hash per build, however many workloads share it
            self._tags[key] = context_hash(self.base_dir / build.context, build.dockerfile, platform)
        tag = self._tags[key]
        spec = BuildSpec(posixpath.normpath(build.context), build.dockerfile, platform, tag)
        user = dockerfile_user(self.base_dir / build.context / build.dockerfile)
        return ResolvedImage(f"{self.repository_url}:{tag}", (self.repository_arn,), PULL_ACTIONS, spec, user)

    def _resolve_uri(self, uri: str, where: str) -> ResolvedImage:
        registry, _, rest = uri.partition("/")
        account = registry.split(".")[0]
        if account != self.context.account:
            raise SettingsError([f"{where}.uri: the image is in account {account} but the stack runs in "
                                 f"{self.context.account}; a private task pulls only from its own account's ECR "
                                 "(copy the image, or use ECR replication)"])
        repo = rest.split("@")[0].split(":")[0]
        return ResolvedImage(uri, (self.context.arn("ecr", f"repository/{repo}"),))

    def _resolve_public(self, ref: str, where: str) -> ResolvedImage:
        host, _, path = ref.partition("/")
        if host == "docker.io" and "/" not in path.split(":")[0].split("@")[0]:
            path = f"library/{path}"  # Docker Hub's official images live under library/
        self._hosts.add(host)
        prefix = self.cache_prefix(host)
        repo = path.split("@")[0].split(":")[0]
        arn = self.context.arn("ecr", f"repository/{prefix}/{repo}")
        return ResolvedImage(f"{self.registry}/{prefix}/{path}", (arn,), PULL_ACTIONS + CACHE_ACTIONS)


def lifecycle_policy(keep_images: int, untagged_expiry_days: int) -> str:
    """ECR lifecycle JSON: expire untagged images after N days, keep the newest K tagged ones."""
    return json.dumps({"rules": [
        {"rulePriority": 1, "description": f"Expire untagged images after {untagged_expiry_days} days",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                       "countNumber": untagged_expiry_days},
         "action": {"type": "expire"}},
        {"rulePriority": 2, "description": f"Keep the newest {keep_images} tagged images",
         "selection": {"tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan",
                       "countNumber": keep_images},
         "action": {"type": "expire"}},
    ]})


@dataclass(frozen=True)
class ContainerRepositoryArgs:
    """Inputs of ContainerRepository; `from_settings` builds them from `repository` and the workloads.

    builds: images to build and push (from the resolver); upstreams: pull-through cache hosts in use.
    """

    context: StackContext
    name: str
    keep_images: int = 20
    untagged_expiry_days: int = 7
    kms_key_arn: str | None = None
    docker_hub_credential_arn: str | None = None
    builds: tuple[BuildSpec, ...] = ()
    upstreams: tuple[str, ...] = ()
    cache_prefixes: Mapping[str, str] = field(default_factory=dict)
    protect: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, context: StackContext,
                      resolver: ImageResolver) -> ContainerRepositoryArgs:
        """Args for the stack's repository, with what the resolver found the workloads need."""
        repo = settings.repository
        upstreams = tuple(resolver.upstreams)
        return cls(context=context, name=settings.repository_name, keep_images=repo.keep_images,
                   untagged_expiry_days=repo.untagged_expiry_days, kms_key_arn=repo.kms_key_arn,
                   docker_hub_credential_arn=repo.docker_hub_credential_arn, builds=tuple(resolver.builds),
                   upstreams=upstreams, cache_prefixes={h: resolver.cache_prefix(h) for h in upstreams},
                   protect=settings.protect, tags=settings.stack_tags)


class ContainerRepository(pulumi.ComponentResource):
    """The stack's ECR repository (immutable tags, scan on push, lifecycle), its image builds and the
    pull-through cache for public images, with a creation template for the cached repositories.

    Attributes: repository, images (build tag -> awsx.ecr.Image), for task definitions to depend on.
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
        if args.upstreams:
            self._create_pull_through_cache()
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
        aws.ecr.LifecyclePolicy(f"{self._name}-lifecycle", repository=self.repository.name,
                                policy=lifecycle_policy(args.keep_images, args.untagged_expiry_days),
                                opts=self._child)

    def _create_image(self, spec: BuildSpec) -> None:
        # Paths stay relative to the project directory (Pulumi's working directory), so the state is
        # the same from every machine; the tag is the content hash, so an unchanged context is not pushed.
        self.images[spec.tag] = awsx.ecr.Image(
            f"{self._name}-image-{spec.tag}", repository_url=self.repository.repository_url,
            context=spec.context, dockerfile=posixpath.join(spec.context, spec.dockerfile),
            platform=spec.platform, image_tag=spec.tag, opts=self._child)

    def _create_pull_through_cache(self) -> None:
        args, ctx = self._args, self._args.context
        role = self._create_template_role()
        for host in args.upstreams:
            upstream_url, suffix = UPSTREAMS[host]
            prefix = args.cache_prefixes[host]
            aws.ecr.PullThroughCacheRule(
                f"{self._name}-cache-{suffix}", ecr_repository_prefix=prefix, upstream_registry_url=upstream_url,
                credential_arn=args.docker_hub_credential_arn if host == "docker.io" else None, opts=self._child)
            # Cached repositories mirror upstream tags, which upstream moves (3.12-slim gets patched):
            # they stay MUTABLE so the cache can follow; pin a digest for a fixed image.
            aws.ecr.RepositoryCreationTemplate(
                f"{self._name}-cache-{suffix}", prefix=prefix, applied_fors=["PULL_THROUGH_CACHE"],
                description=f"Repositories cached from {upstream_url} for {ctx.prefix}",
                image_tag_mutability="MUTABLE", encryption_configurations=[self._encryption()],
                lifecycle_policy=lifecycle_policy(args.keep_images, args.untagged_expiry_days),
                resource_tags=dict(args.tags), custom_role_arn=role.arn, opts=self._child)

    def _create_template_role(self) -> aws.iam.Role:
        """ECR needs a role of ours to tag (and KMS-encrypt) the repositories a template creates."""
        args, ctx = self._args, self._args.context
        role = aws.iam.Role(f"{self._name}-cache-template", name=physical_name(ctx.prefix, "ecr-cache", max_len=64),
                            assume_role_policy=assume_role_policy("ecr.amazonaws.com", ctx.account),
                            tags={**args.tags, "Name": f"{ctx.prefix}-ecr-cache"}, opts=self._child)
        repos = [ctx.arn("ecr", f"repository/{args.cache_prefixes[h]}/*") for h in args.upstreams]
        statements = [statement(["ecr:CreateRepository", "ecr:TagResource"], repos, sid="CreateCachedRepositories")]
        if args.kms_key_arn:
            statements.append(statement(["kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant"],
                                        [args.kms_key_arn], sid="EncryptCachedRepositories"))
        aws.iam.RolePolicy(f"{self._name}-cache-template", role=role.id, policy=document(statements),
                           opts=self._child)
        return role
