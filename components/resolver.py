"""The image resolver: each workload's `image` setting -> the URI its task pulls, the grants it needs and
the deploy-time step that puts the image there. Creates no resources; everything is a plain string.

A private task reaches only its own region's ECR (through the ecr.api/ecr.dkr endpoints), so every
image ends up there: `build` images are built and pushed to the stack's repository under a
content-hash tag; `uri` images must already be in this account's ECR in this region; `public` images
go through an ECR pull-through cache rule whose prefix carries the stack name, warmed at deploy
(components/image_steps.py); `mirror` images, and public ones ECR cannot cache (a digest-only
reference, a partition without the cache), are copied into the stack's repository at deploy.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from components.context import StackContext
from components.iam import statement
from components.image_steps import ImageStep, reference_tag
from components.naming import physical_name
from settings import BuildSettings, ImageSettings, Settings, WorkloadSettings
from settings.dockerignore import dockerignore_patterns, ignored
from settings.errors import SettingsError
from settings.images import NO_CACHE_PARTITIONS, ImageReference, Upstream, source_host, upstream_for

#: Actions that pull an image from a repository.
PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
#: What a pull by tag from a cached repository may also need: ECR checks the upstream for a newer image of
#: that tag (at most once a day) on the puller's behalf. The repository exists (the deploy-time warm created
#: it), so no ecr:CreateRepository: https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html
CACHE_ACTIONS = ("ecr:BatchImportUpstreamImage",)
_PLATFORMS = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}
#: The sample app's build context: its image also runs `python -m app probe` for `tools.doctor --probe`.
PROBE_CONTEXT = "app"


def container_label(workload: str, container: str) -> str:
    """The resolver's key for a sidecar's or init container's image (workload names have no '/')."""
    return f"{workload}/{container}"


@dataclass(frozen=True)
class BuildSpec:
    """One image to build: context, Dockerfile and platform, tagged by the hash of what goes in."""

    context: str
    dockerfile: str
    platform: str
    tag: str
    target: str | None = None
    args: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ResolvedImage:
    """Where a workload's image comes from and what its execution role must be allowed to do.

    `uri` is what the task pulls; with `pinned` it is the repository alone and the task pulls the digest
    the step found (`uri@<digest>`), which is known only after the step ran.
    """

    uri: str
    repository_arns: tuple[str, ...]
    actions: tuple[str, ...] = PULL_ACTIONS
    build: BuildSpec | None = None
    user: str | None = None
    step: ImageStep | None = None
    pinned: bool = False

    @property
    def resource_key(self) -> str | None:
        """The key of the resource that must exist before a task definition names this image."""
        return self.build.tag if self.build else self.step.key if self.step else None

    def statements(self) -> list[dict]:
        """IAM statements for the execution role (GetAuthorizationToken has no resource scope)."""
        return [statement(["ecr:GetAuthorizationToken"], "*", sid="EcrLogin"),
                statement(self.actions, list(self.repository_arns), sid="PullImage")]


def context_hash(directory: Path, dockerfile: str, platform: str, target: str | None = None,
                 args: tuple[tuple[str, str], ...] = ()) -> str:
    """A tag from the build context's content: unchanged files keep the tag, any change makes a new one.

    Paths matched by .dockerignore are left out, as Docker leaves them out of the build. The target stage and
    build arguments count too; a Dockerfile outside the context (a derived one) is hashed with the files.
    """
    ignore = dockerignore_patterns(directory)
    digest = hashlib.sha256(f"{dockerfile}\0{platform}\0".encode())
    if target or args:
        digest.update(f"{target or ''}\0{sorted(args)}\0".encode())
    outside = Path(os.path.normpath(directory / dockerfile))  # lexically, as Docker reads a path given to -f
    if not outside.is_relative_to(Path(os.path.normpath(directory))) and outside.is_file():
        digest.update(outside.read_bytes() + b"\0")
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            path = Path(root, name)
            rel = path.relative_to(directory).as_posix()
            if ignored(rel, ignore) or "__pycache__" in rel.split("/"):
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


class ImageResolver:
    """Turns each workload's `image` setting into a URI, execution-role grants and a deploy-time step."""

    def __init__(self, settings: Settings, context: StackContext, base_dir: Path | None = None):
        self.context = context
        self.repository_name = settings.repository_name
        self.base_dir = base_dir or Path.cwd()
        self.registry = f"{context.account}.dkr.ecr.{context.region}.{context.dns_suffix}"
        self.credentials = settings.repository.credentials
        self.images: dict[str, ResolvedImage] = {}
        self._upstreams: dict[str, Upstream] = {}
        self._tags: dict[tuple[object, ...], str] = {}
        self._check_credentials(settings)
        for kind, items in settings.kinds():
            for i, workload in enumerate(items):
                self.images[workload.name] = self._resolve(workload, f"{kind}[{i}].image")
                for path, container in workload.containers[1:]:  # sidecars and init containers
                    where = f"{kind}[{i}].{path[0]}[{path[1]}].image"
                    self.resolve(container.image, workload.arch, container_label(workload.name, container.name), where)
        self.probe: ResolvedImage | None = self._resolve_probe()

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
        upstream = upstream_for(host)
        assert upstream is not None
        return physical_name(self.context.project, self.context.stack, upstream.suffix, max_len=30)

    @property
    def upstreams(self) -> list[str]:
        """Upstream hosts the workloads pull from through the cache, in a stable order."""
        return sorted(self._upstreams)

    def upstream(self, host: str) -> Upstream:
        """The cache upstream of a host the workloads use."""
        return self._upstreams[host]

    @property
    def builds(self) -> list[BuildSpec]:
        """The distinct images to build: one per tag (same content and platform, same image)."""
        images = [*self.images.values(), *([self.probe] if self.probe else [])]
        by_tag = {img.build.tag: img.build for img in images if img.build is not None}
        return list(by_tag.values())

    @property
    def probe_output(self) -> dict[str, str] | None:
        """The `probeImage` stack output: the image `tools.doctor --probe` runs, and its CPU architecture."""
        if self.probe is None or self.probe.build is None:
            return None
        arch = next(a for a, p in _PLATFORMS.items() if p == self.probe.build.platform)
        return {"uri": self.probe.uri, "cpuArchitecture": arch}

    def _resolve_probe(self) -> ResolvedImage | None:
        """The sample app's image, which the doctor's probe runs: the one a workload builds already (no extra
        build), else one more build beside the stack's others; none when the stack builds nothing (then
        `pulumi up` needs no Docker, and should not start to for the doctor)."""
        built = [img for img in self.images.values() if img.build is not None]
        for img in built:
            if img.build is not None and (img.build.context, img.build.dockerfile) == (PROBE_CONTEXT, "Dockerfile"):
                return img
        if not built or not (self.base_dir / PROBE_CONTEXT / "Dockerfile").is_file():
            return None
        assert built[0].build is not None
        arch = next(a for a, p in _PLATFORMS.items() if p == built[0].build.platform)
        return self._resolve_build(BuildSettings(context=PROBE_CONTEXT), arch)

    @property
    def steps(self) -> list[ImageStep]:
        """The distinct deploy-time steps: one per image and target repository."""
        by_key = {img.step.key: img.step for img in self.images.values() if img.step is not None}
        return [by_key[k] for k in sorted(by_key)]

    def _check_credentials(self, settings: Settings) -> None:
        for key, arn in self.credentials.items():
            account = arn.split(":")[4] if arn.count(":") >= 5 else self.context.account
            if account != self.context.account:
                alias = arn == settings.repository.docker_hub_credential_arn
                where = "repository.dockerHubCredentialArn" if alias else f"repository.upstreamCredentials.{key}"
                raise SettingsError([f"{where}: the secret is in account {account} but the stack runs in "
                                     f"{self.context.account}; ECR reads it from the cache rule's own account"])

    def resolve(self, image: ImageSettings, arch: str, label: str, where: str) -> ResolvedImage:
        """Resolve any image setting (a sidecar's, an init container's) and keep it under `label` for the builds."""
        resolved = self._resolve_image(image, arch, where)
        self.images[label] = resolved
        return resolved

    def _resolve(self, workload: WorkloadSettings, where: str) -> ResolvedImage:
        return self._resolve_image(workload.image, workload.arch, where)

    def _resolve_image(self, image: ImageSettings, arch: str, where: str) -> ResolvedImage:
        if image.build is not None:
            return self._resolve_build(image.build, arch)
        if image.uri is not None:
            return self._resolve_uri(image.uri, where)
        ref = image.reference
        assert ref is not None
        cacheable = ref.tag is not None or ref.digest is None  # a digest alone does not fill the cache
        if image.public is not None and cacheable and self.context.partition not in NO_CACHE_PARTITIONS:
            return self._resolve_cached(ref, image.pin_at_deploy)
        return self._resolve_mirror(ref, image.pin_at_deploy)

    def _resolve_build(self, build: BuildSettings, arch: str) -> ResolvedImage:
        platform = _PLATFORMS[arch]
        args = tuple(sorted(build.args.items()))
        key = (posixpath.normpath(build.context), build.dockerfile, platform, build.target, args)
        if key not in self._tags:  # one hash per build, however many workloads share it
            self._tags[key] = context_hash(self.base_dir / build.context, build.dockerfile, platform, build.target,
                                           args)
        tag = self._tags[key]
        spec = BuildSpec(posixpath.normpath(build.context), build.dockerfile, platform, tag, build.target, args)
        user = dockerfile_user(Path(os.path.normpath(self.base_dir / build.context / build.dockerfile)))
        return ResolvedImage(f"{self.repository_url}:{tag}", (self.repository_arn,), PULL_ACTIONS, spec, user)

    def _resolve_uri(self, uri: str, where: str) -> ResolvedImage:
        registry, _, rest = uri.partition("/")
        account = registry.split(".")[0]
        if account != self.context.account:
            raise SettingsError([f"{where}.uri: the image is in account {account} but the stack runs in "
                                 f"{self.context.account}; a private task pulls only from its own account's ECR "
                                 "(use image.mirror to copy it, or ECR replication)"])
        repo = rest.split("@")[0].split(":")[0]
        return ResolvedImage(uri, (self.context.arn("ecr", f"repository/{repo}"),))

    def _resolve_cached(self, ref: ImageReference, pin: bool) -> ResolvedImage:
        upstream = upstream_for(ref.host)
        assert upstream is not None
        self._upstreams[ref.host] = upstream
        repository = f"{self.cache_prefix(ref.host)}/{ref.path}"
        arn = self.context.arn("ecr", f"repository/{repository}")
        step = ImageStep("warm", str(ref), repository, tag=ref.pull_tag, digest=ref.digest)
        base = f"{self.registry}/{repository}"
        if ref.digest:  # the task pulls the digest: no upstream check, so no import grant
            return ResolvedImage(f"{base}@{ref.digest}", (arn,), PULL_ACTIONS, step=step)
        if pin:
            return ResolvedImage(base, (arn,), PULL_ACTIONS, step=step, pinned=True)
        return ResolvedImage(f"{base}:{ref.tag}", (arn,), PULL_ACTIONS + CACHE_ACTIONS, step=step)

    def _resolve_mirror(self, ref: ImageReference, pin: bool) -> ResolvedImage:
        upstream = upstream_for(ref.host)
        credential = self.credentials.get(upstream.credential) if upstream and upstream.credential else None
        ref_tag = None if ref.digest or pin else reference_tag(str(ref))
        step = ImageStep("mirror", str(ref), self.repository_name, tag=ref.pull_tag if not ref.digest else ref.tag,
                         digest=ref.digest, source_host=source_host(ref.host), source_path=ref.path,
                         reference_tag=ref_tag, credential_arn=credential)
        arns = (self.repository_arn,)
        if ref.digest:
            return ResolvedImage(f"{self.repository_url}@{ref.digest}", arns, step=step)
        if pin:
            return ResolvedImage(self.repository_url, arns, step=step, pinned=True)
        return ResolvedImage(f"{self.repository_url}:{ref_tag}", arns, step=step)
