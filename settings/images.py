"""Image references and the registries ECR's pull-through cache supports; creates no resources.

`parse_reference` reads `name:tag`, `name@sha256:...` and `name:tag@sha256:...` as Docker does (a
first component with a dot or a port names the registry, else Docker Hub, whose one-word names live
under `library/`). `UPSTREAMS`/`upstream_for` list the upstream registries ECR can cache, with the
credential each needs (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache.html;
upstream URLs from the CreatePullThroughCacheRule API reference). `image_setting` turns any reference
into the `image` setting a stack should use (the docker-compose importer reuses it). `ImageSettings`
is the `image` setting itself (and `BuildSettings` its `build`), validated with these.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from settings.base import EnvValue, Model, shown
from settings.errors import SettingError
from settings.patterns import ECR_REPO_NAME, ENV_NAME, PRIVATE_ECR_URI

#: A Docker path component (lowercase, separators `.`, `_`, `__`, `-`...), as the distribution spec has it.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
                   r"(?::\d{1,5})?$")
TAG = re.compile(r"^[\w][\w.-]{0,127}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
#: ECR repository names (the cached repository is `<prefix>/<upstream path>`): at most 256 characters.
ECR_NAME = re.compile("^" + ECR_REPO_NAME + "$")
ECR_NAME_MAX = 256
#: A pull-through cache rule's ecrRepositoryPrefix: 2 to 30 characters (CreatePullThroughCacheRule API reference).
CACHE_PREFIX_MAX = 30
_DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")
_ACR = re.compile(r"^([a-z0-9]{5,50})\.azurecr\.io$")
_PRIVATE_ECR = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$")


@dataclass(frozen=True)
class ImageReference:
    """One parsed reference: registry host, repository path, tag and/or digest."""

    host: str
    path: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        return (f"{self.host}/{self.path}" + (f":{self.tag}" if self.tag else "")
                + (f"@{self.digest}" if self.digest else ""))

    @property
    def floating(self) -> bool:
        """No digest and no tag, or `latest`: what it names changes under you."""
        return self.digest is None and self.tag in (None, "latest")

    @property
    def pull_tag(self) -> str:
        """The tag a pull asks for (an untagged reference means latest)."""
        return self.tag or "latest"


def parse_reference(text: str) -> ImageReference:
    """An image reference as Docker reads it; ValueError with what is wrong otherwise."""
    if not isinstance(text, str) or not text or text != text.strip() or any(c.isspace() for c in text):
        raise ValueError("expected an image reference such as ghcr.io/org/app:1.2 (no spaces)")
    rest, _, digest = text.partition("@")
    if digest and not DIGEST.match(digest):
        raise ValueError(f"the digest {digest!r} is not valid; a digest is sha256: followed by 64 lowercase "
                         "hex characters")
    name, tag = rest, None
    if ":" in rest.rsplit("/", 1)[-1]:
        name, tag = rest.rsplit(":", 1)
        if not TAG.match(tag):
            raise ValueError(f"the tag {tag!r} is not valid; a tag is letters, digits, '_', '.' and '-' "
                             "(up to 128, not starting with '.' or '-')")
    first, _, remainder = name.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        host, path = first.lower(), remainder
        if not _HOST.match(host):
            raise ValueError(f"{first!r} is not a registry host name")
    else:
        host, path = "docker.io", name
    if host in _DOCKER_HUB:
        host = "docker.io"
        if "/" not in path:
            path = f"library/{path}"  # Docker Hub's official images live under library/
    if not _PATH.match(path):
        raise ValueError(f"the repository {path!r} is not valid; expected lowercase letters, digits and "
                         "'.', '_', '-' separated by '/'")
    return ImageReference(host, path, tag, digest or None)


@dataclass(frozen=True)
class Upstream:
    """An upstream registry of ECR's pull-through cache."""

    name: str
    url: str  # the rule's upstreamRegistryUrl
    suffix: str  # the end of the stack's cache prefix for it
    credential: str | None  # the key of repository.upstreamCredentials it needs, None: no credentials

    @property
    def needs_credentials(self) -> bool:
        """ECR requires a Secrets Manager secret for this upstream."""
        return self.credential is not None


#: Settings host -> upstream. Amazon ECR Public, Quay and registry.k8s.io need no credentials; Docker Hub,
#: GitHub, GitLab.com and Azure need a secret named `ecr-pullthroughcache/...`.
UPSTREAMS: dict[str, Upstream] = {
    "public.ecr.aws": Upstream("Amazon ECR Public", "public.ecr.aws", "ecr-public", None),
    "quay.io": Upstream("Quay", "quay.io", "quay", None),
    "registry.k8s.io": Upstream("the Kubernetes registry", "registry.k8s.io", "k8s", None),
    "docker.io": Upstream("Docker Hub", "registry-1.docker.io", "docker-hub", "dockerhub"),
    "ghcr.io": Upstream("GitHub Container Registry", "ghcr.io", "ghcr", "ghcr"),
    "registry.gitlab.com": Upstream("GitLab.com's container registry", "registry.gitlab.com", "gitlab", "gitlab"),
}
CREDENTIAL_KEYS = ("dockerhub", "ghcr", "gitlab", "acr")
#: Partitions without pull-through cache rules for these upstreams (the GovCloud pages list only ECR-to-ECR
#: rules; the pull-through cache page excluded GovCloud and China): public images are mirrored there.
NO_CACHE_PARTITIONS = ("aws-us-gov", "aws-cn")


def upstream_for(host: str) -> Upstream | None:
    """The pull-through cache upstream for a registry host (one per Azure registry), or None."""
    if host in UPSTREAMS:
        return UPSTREAMS[host]
    acr = _ACR.match(host)
    if acr:
        return Upstream(f"Azure Container Registry {acr.group(1)}", host, f"acr-{acr.group(1)}", "acr")
    return None


def source_host(host: str) -> str:
    """The host that serves a registry's API (Docker Hub's is registry-1.docker.io)."""
    return "registry-1.docker.io" if host == "docker.io" else host


def supported_hosts() -> str:
    """The hosts `image.public` takes, for messages."""
    return ", ".join([*UPSTREAMS, "<name>.azurecr.io"])


def image_setting(reference: str, *, credentials: Collection[str] = (), partition: str = "aws") -> dict[str, Any]:
    """The `image` setting for any reference: `uri` for this kind of registry (private ECR), `public` when
    ECR can cache the registry in this partition (with the credentials it needs among `credentials`, keys
    of repository.upstreamCredentials), else `mirror`; `pinAtDeploy` when the reference is untagged or latest.
    """
    ref = parse_reference(reference)
    if _PRIVATE_ECR.match(ref.host):
        return {"uri": reference}
    upstream = upstream_for(ref.host)
    cached = upstream is not None and partition not in NO_CACHE_PARTITIONS
    if cached and upstream is not None and upstream.credential and upstream.credential not in credentials:
        cached = False  # the deployer copies it anonymously instead
    if ref.tag is None and ref.digest is not None:
        cached = False  # a pull by digest alone does not fill the cache: copied instead
    setting: dict[str, Any] = {"public" if cached else "mirror": str(ref) if cached else reference}
    if ref.floating:
        setting["pinAtDeploy"] = True
    return setting


class BuildSettings(Model):
    """`image.build` in its long form; the short form is the context directory alone."""

    context: str = Field(description="the build context, relative to the project")
    dockerfile: str = Field("Dockerfile", description="the Dockerfile, relative to the context")
    target: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", json_schema_extra=shown("the last stage"),
                               description="the stage of a multi-stage Dockerfile to build")
    args: dict[Annotated[str, Field(pattern=ENV_NAME)], EnvValue] = Field({}, description=(
        "build arguments (`--build-arg`); part of the image's tag"))


class ImageSettings(Model):
    """`image`: exactly one of build, uri, public, mirror; pinAtDeploy for untagged or `latest` references."""

    build: BuildSettings | None = Field(None, description="`DIR` or `{context, dockerfile}`: built and pushed here")
    uri: str | None = Field(None, description=(
        "`<account>.dkr.ecr.<region>.amazonaws.com/repo:tag` or `@sha256:...` (this account and region)"))
    public: str | None = Field(None, description=(
        "`<registry>/<name>:<tag>` (or `@sha256:...`, or both) from " + supported_hosts() + ", through the "
        "stack's pull-through cache, fetched at deploy; Docker Hub, ghcr.io, registry.gitlab.com and Azure need "
        "`repository.upstreamCredentials`"))
    mirror: str | None = Field(None, description=(
        "any registry's `<registry>/<name>:<tag>` (or `@sha256:...`): copied into the stack's repository at "
        "deploy"))
    pin_at_deploy: bool = Field(False, description=(
        "accept an untagged or `latest` `public`/`mirror` reference: the task uses the digest found at deploy"))

    @field_validator("build", mode="before")
    @classmethod
    def _short_build(cls, value: Any) -> Any:
        return {"context": value} if isinstance(value, str) else value

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str | None) -> str | None:
        if value is None:
            return value
        first = value.split("/")[0]
        # Docker's rule: the first component names a registry only if it has a dot or a port.
        no_registry = "/" not in value or not ("." in first or ":" in first or first == "localhost")
        if no_registry or not PRIVATE_ECR_URI.match(value) and ".dkr.ecr." not in first:
            raise ValueError("a task with no internet route cannot pull it; use image.public (through the ECR "
                             "pull-through cache) or image.mirror (copied into the stack's repository)")
        m = PRIVATE_ECR_URI.match(value)
        if not m:
            raise ValueError("expected <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> "
                             "or @sha256:<digest>, the only registry a private task can reach")
        if m.group(4) is None and m.group(5) is None:
            raise ValueError("give a tag or a digest; an untagged image means latest")
        if m.group(4) == "latest":
            raise ValueError("'latest' is mutable and the repository's tags are immutable; pin a tag or digest")
        return value

    @field_validator("public")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if "/" not in value or not ("." in value.split("/")[0] or ":" in value.split("/")[0]):
            raise ValueError(f"name the registry, e.g. docker.io/library/nginx:1.27; public takes {supported_hosts()}")
        ref = parse_reference(value)
        upstream = upstream_for(ref.host)
        if upstream is None:
            raise ValueError(f"ECR's pull-through cache does not support {ref.host} (it supports "
                             f"{supported_hosts()}); use image.mirror to copy the image into the stack's repository")
        if ref.host == "public.ecr.aws" and "/" not in ref.path:
            raise ValueError("public.ecr.aws images are public.ecr.aws/<alias>/<name>:<tag>")
        if not ECR_NAME.match(ref.path):
            raise ValueError(f"the repository {ref.path!r} cannot be an ECR repository name ('__' and '--' are not "
                             "allowed); use image.mirror")
        return value

    @field_validator("mirror")
    @classmethod
    def _mirror(cls, value: str | None) -> str | None:
        if value is not None:
            ref = parse_reference(value)
            if PRIVATE_ECR_URI.match(str(ref).split("@")[0]) or ".dkr.ecr." in ref.host:
                raise ValueError("already in ECR; use image.uri for an image of this account and region")
        return value

    @model_validator(mode="after")
    def _exactly_one(self, info: ValidationInfo) -> ImageSettings:
        given = [k for k in ("build", "uri", "public", "mirror") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of build, uri, public, mirror (got {', '.join(given) or 'none'})")
        reference = self.public or self.mirror
        if self.pin_at_deploy and reference is None:
            raise SettingError("pinAtDeploy", f"only for public and mirror images (this one is {given[0]})")
        if reference is not None and parse_reference(reference).floating and not self.pin_at_deploy:
            key = "public" if self.public else "mirror"
            what = "'latest'" if parse_reference(reference).tag else "an untagged image (that means latest)"
            raise SettingError(key, f"{reference!r} is {what}, which changes under you; give a tag or a digest, "
                                    "or set pinAtDeploy: true to use the digest latest has at deploy")
        base = (info.context or {}).get("base_dir")
        if self.build is not None and base is not None:
            context = Path(base, self.build.context)
            if not context.is_dir():
                raise SettingError(("build", "context"), f"{self.build.context!r} is not a directory "
                                                         "(paths are relative to the project directory)")
            if not Path(os.path.normpath(context / self.build.dockerfile)).is_file():  # `..` read lexically
                raise SettingError(("build", "dockerfile"),
                                   f"{self.build.dockerfile!r} not found in {self.build.context!r}")
        return self

    @property
    def source(self) -> str:
        """Which of build, uri, public, mirror is set."""
        return next(k for k in ("build", "uri", "public", "mirror") if getattr(self, k) is not None)

    @property
    def reference(self) -> ImageReference | None:
        """The parsed `public` or `mirror` reference."""
        text = self.public or self.mirror
        return parse_reference(text) if text else None
