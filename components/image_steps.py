"""Deploy-time image steps, run by `pulumi up` from the deployer: warm the pull-through cache, mirror an image.

A task with no internet route cannot make ECR fetch an image for the first time: ECR documents that
the first pull through a cache rule over interface endpoints needs a NAT gateway, later pulls do not
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html). The deployer has internet
access and AWS credentials, so it does that first pull, by tag, as a Pulumi dynamic provider:

- CacheWarm: GET /v2/<cache repository>/manifests/<tag> on the ECR registry with the Basic token of
  GetAuthorizationToken (https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry_auth.html),
  then DescribeImages until the image (and each Linux image of a multi-platform index, which ECR
  caches with it) is there. A first pull by digest does not fill the cache
  (https://github.com/aws/containers-roadmap/issues/2837), so digest-only references are mirrored.
- ImageMirror: copy manifests and blobs from any registry's v2 API (python-dxf: token auth, digest-checked
  streams) into the stack's repository with ECR's own API (layer uploads, PutImage), the manifest
  bytes unchanged so every digest is kept.

Each step tags every digest it leaves for a task with `pin-sha256-<hex>`, which the lifecycle rules of
components/registry.py never expire (ECR moves cached tags as upstream moves them, and untagged
images expire). The providers re-run only when the image reference changes (their `diff`), and
delete nothing: a pinned image may still be what a running task or a rollback uses. Failures end the
update with one line naming the image. Imports of boto3 and dxf are inside functions: the module is
also imported by the program, which only registers the steps.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
from pulumi import dynamic

from components.naming import physical_name

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPES = (OCI_INDEX, MANIFEST_LIST, OCI_MANIFEST, MANIFEST)
INDEX_TYPES = (OCI_INDEX, MANIFEST_LIST)
#: Tags the lifecycle rules keep forever (components/registry.py, rule 1).
PIN_PREFIX = "pin-"
#: Seconds a step waits for ECR; the update fails after that with the image named.
DEFAULT_TIMEOUT = 600
POLL_SECONDS = 3.0
#: Inputs whose change re-runs a step; anything else (the serialized provider itself) does not.
STEP_KEYS = ("kind", "reference", "registry", "repository", "tag", "referenceDigest", "sourceHost", "sourcePath",
             "referenceTag", "credentialArn")


def pin_tag(digest: str) -> str:
    """The protective tag of a digest: `pin-sha256-<64 hex>` (75 characters; ECR allows 128)."""
    return PIN_PREFIX + digest.replace(":", "-")


def reference_tag(reference: str) -> str:
    """The tag a mirrored tag reference gets in the stack's repository: from the reference, so known at
    preview; the repository's tags are immutable, so it keeps the image of the first copy."""
    return f"{PIN_PREFIX}ref-{hashlib.sha256(reference.encode()).hexdigest()[:16]}"


def sha256_digest(data: bytes) -> str:
    """`sha256:<hex>` of some bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class ImageStepError(Exception):
    """A step failed; the message is one line (the image is named by the caller)."""


@dataclass
class Clock:
    """Time for the waits (tests pass a fake one instead of sleeping)."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def registry_error(body: bytes) -> str:
    """The first error of a registry API error body (`{"errors": [{"code", "message"}]}`), else its text."""
    try:
        first = json.loads(body)["errors"][0]
        return f"{first.get('code', '')}: {first.get('message', '')}".strip(": ")
    except (ValueError, KeyError, IndexError, TypeError):
        return " ".join(body.decode(errors="replace").split())[:200]


def request_manifest(base_url: str, repository: str, tag: str, token: str, timeout: float = 60,
                     opener: Callable[..., Any] = urllib.request.urlopen) -> None:
    """Pull the manifest of `repository:tag` from the ECR registry, as `docker pull` does first: the pull
    that makes ECR fetch the image through the cache rule."""
    request = urllib.request.Request(f"{base_url}/v2/{repository}/manifests/{tag}", headers={
        "Authorization": f"Basic {token}", "Accept": ", ".join(MANIFEST_TYPES)})
    try:
        with opener(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise ImageStepError(f"ECR could not fetch it through the cache rule: HTTP {exc.code} "
                             f"{registry_error(exc.read())}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ImageStepError(f"could not reach {base_url}: {getattr(exc, 'reason', exc)}") from None


def find_image(ecr: Any, repository: str, image_id: dict[str, str]) -> dict[str, Any] | None:
    """The image's DescribeImages entry, or None while it is not there (nor its repository)."""
    try:
        details = ecr.describe_images(repositoryName=repository, imageIds=[image_id])["imageDetails"]
    except (ecr.exceptions.ImageNotFoundException, ecr.exceptions.RepositoryNotFoundException):
        return None
    return details[0] if details else None


def wait_for_image(ecr: Any, repository: str, image_id: dict[str, str], deadline: float, clock: Clock,
                   timeout: float) -> dict[str, Any]:
    """Poll DescribeImages until the image is in the repository, or fail at the deadline."""
    while True:
        found = find_image(ecr, repository, image_id)
        if found is not None:
            return found
        if clock.now() >= deadline:
            what = image_id.get("imageTag") or image_id.get("imageDigest")
            raise ImageStepError(f"{repository}:{what} was not in ECR after {timeout:g} s; run `pulumi up` again "
                                 "(large images take longer)")
        clock.sleep(POLL_SECONDS)


def get_manifest(ecr: Any, repository: str, digest: str) -> tuple[str, str]:
    """The manifest text and media type of an image in ECR."""
    images = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageDigest": digest}],
                                 acceptedMediaTypes=list(MANIFEST_TYPES))["images"]
    if not images:
        raise ImageStepError(f"{repository}@{digest} is not in ECR")
    text = images[0]["imageManifest"]
    return text, images[0].get("imageManifestMediaType") or json.loads(text).get("mediaType", MANIFEST)


def put_tag(ecr: Any, repository: str, manifest: str, media_type: str, digest: str, tag: str) -> None:
    """Put `tag` on the image with this manifest (PutImage; nothing to do when the tag is already there)."""
    try:
        ecr.put_image(repositoryName=repository, imageManifest=manifest, imageManifestMediaType=media_type,
                      imageTag=tag, imageDigest=digest)
    except ecr.exceptions.ImageAlreadyExistsException:
        pass
    except ecr.exceptions.ImageTagAlreadyExistsException:
        raise ImageStepError(f"{repository}:{tag} already holds another image (the repository's tags are "
                             "immutable)") from None


def platform_children(manifest: str) -> list[str]:
    """Digests of the Linux images of an index (attestations and other platforms' entries left out)."""
    doc = json.loads(manifest)
    return [m["digest"] for m in doc.get("manifests", [])
            if (m.get("platform") or {}).get("os", "linux") == "linux"]


def protect(ecr: Any, repository: str, digest: str) -> list[str]:
    """Tag a digest, and each Linux image of it when it is an index, with its pin tag."""
    manifest, media_type = get_manifest(ecr, repository, digest)
    put_tag(ecr, repository, manifest, media_type, digest, pin_tag(digest))
    pinned = [digest]
    if media_type in INDEX_TYPES:
        for child in platform_children(manifest):
            child_manifest, child_type = get_manifest(ecr, repository, child)
            put_tag(ecr, repository, child_manifest, child_type, child, pin_tag(child))
            pinned.append(child)
    return pinned


@dataclass(frozen=True)
class ImageStep:
    """A deploy-time step: warm a cached image (`warm`) or copy one into the stack's repository (`mirror`).

    repository: the cache repository (`<prefix>/<path>`) or the stack's; tag/digest: what the reference
    names; source_*: where a mirror reads; reference_tag: the tag a mirrored tag reference gets.
    """

    kind: Literal["warm", "mirror"]
    reference: str
    repository: str
    tag: str | None = None
    digest: str | None = None
    source_host: str | None = None
    source_path: str | None = None
    reference_tag: str | None = None
    credential_arn: str | None = None

    @property
    def key(self) -> str:
        """A stable, readable name part: one step per image and repository, however many workloads use it."""
        digest = hashlib.sha256(f"{self.kind}\0{self.repository}\0{self.reference}".encode()).hexdigest()[:7]
        return physical_name(self.reference.split("/", 1)[-1].split("@")[0], max_len=40) + f"-{digest}"

    def props(self, region: str, registry: str, timeout: int = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """The resource's camelCase inputs, with its outputs declared (None) so the SDK resolves them."""
        return {"kind": self.kind, "region": region, "registry": registry, "repository": self.repository,
                "reference": self.reference, "tag": self.tag, "referenceDigest": self.digest,
                "sourceHost": self.source_host, "sourcePath": self.source_path, "referenceTag": self.reference_tag,
                "credentialArn": self.credential_arn, "timeoutSeconds": timeout, "digest": None, "pinned": None}

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> ImageStep:
        """The step back from the resource's inputs."""
        return cls(props["kind"], props["reference"], props["repository"], props.get("tag"),
                   props.get("referenceDigest"), props.get("sourceHost"), props.get("sourcePath"),
                   props.get("referenceTag"), props.get("credentialArn"))


def warm(ecr: Any, spec: ImageStep, registry: str, *, base_url: str | None = None, clock: Clock | None = None,
         timeout: float = DEFAULT_TIMEOUT, opener: Callable[..., Any] = urllib.request.urlopen) -> dict[str, Any]:
    """Make ECR cache the image by tag, wait until it (and its Linux images) is there, pin what the task uses.

    Returns `digest` (what the task pulls: the reference's digest, else the tag's) and `pinned`.
    """
    clock = clock or Clock()
    deadline = clock.now() + timeout
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    tag = spec.tag or "latest"
    request_manifest(base_url or f"https://{registry}", spec.repository, tag, token, opener=opener)
    tagged = wait_for_image(ecr, spec.repository, {"imageTag": tag}, deadline, clock, timeout)
    manifest, media_type = get_manifest(ecr, spec.repository, tagged["imageDigest"])
    if media_type in INDEX_TYPES:
        for child in platform_children(manifest):
            wait_for_image(ecr, spec.repository, {"imageDigest": child}, deadline, clock, timeout)
    digest = spec.digest or tagged["imageDigest"]
    if find_image(ecr, spec.repository, {"imageDigest": digest}) is None:
        raise ImageStepError(f"the tag {tag} now points to {tagged['imageDigest']}, which is not (and does "
                             f"not contain) the pinned {digest}; update the digest, or use image.mirror to copy "
                             "the pinned one")
    pinned = protect(ecr, spec.repository, tagged["imageDigest"])
    if digest not in pinned:
        pinned += protect(ecr, spec.repository, digest)
    return {"digest": digest, "pinned": pinned}


def upstream_credentials(secretsmanager: Any, arn: str | None) -> tuple[str, str] | None:
    """The username and access token of a pull-through cache secret (the JSON keys ECR documents)."""
    if not arn:
        return None
    secret = json.loads(secretsmanager.get_secret_value(SecretId=arn)["SecretString"])
    return secret["username"], secret["accessToken"]


def _clients(region: str) -> tuple[Any, Any]:
    import boto3

    return boto3.client("ecr", region_name=region), boto3.client("secretsmanager", region_name=region)


class StepFailed(Exception):
    """What `pulumi up` shows as the last line of a failed step: the image and what went wrong."""


def run_step(props: dict[str, Any], clients: Callable[[str], tuple[Any, Any]] = _clients,
             source_factory: Callable[..., Any] | None = None) -> dict[str, Any]:
    """Run the step the inputs describe (warm or mirror) and return its outputs."""
    from components.image_copy import RegistrySource, mirror

    ecr, secrets = clients(props["region"])
    timeout = float(props.get("timeoutSeconds") or DEFAULT_TIMEOUT)
    try:
        step = ImageStep.from_props(props)
        if step.kind == "warm":
            result = warm(ecr, step, props["registry"], timeout=timeout)
        else:
            source = (source_factory or RegistrySource)(step.source_host, step.source_path,
                                                        upstream_credentials(secrets, step.credential_arn),
                                                        timeout=timeout)
            result = mirror(ecr, source, step)
    except ImageStepError as exc:
        raise StepFailed(f"image {props['reference']}: {exc}") from None
    except Exception as exc:  # registry HTTP errors, AWS errors: still one line naming the image
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise StepFailed(f"image {props['reference']}: {type(exc).__name__}: {text}") from None
    return result


class ImageStepProvider(dynamic.ResourceProvider):
    """The dynamic provider of both steps; `diff` re-runs a step only when its image inputs change."""

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        outs = {k: v for k, v in props.items() if not k.startswith("__")}
        outs.update(run_step(props))
        return dynamic.CreateResult(id_=f"{props['repository']}@{outs['digest']}", outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = [k for k in STEP_KEYS if olds.get(k) != news.get(k)]
        return dynamic.DiffResult(changes=bool(changed), replaces=[], stables=["digest", "pinned"] if not changed
                                  else [], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        outs = {k: v for k, v in news.items() if not k.startswith("__")}
        outs.update(run_step(news))
        return dynamic.UpdateResult(outs=outs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing: a pinned image may still be what a running task, a rollback or another stack uses."""


class CacheWarm(dynamic.Resource, module="images", name="CacheWarm"):
    """Fetches a cached image into the pull-through cache at deploy (type pulumi-python:dynamic/images:CacheWarm)."""

    digest: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__(ImageStepProvider(), name, props, opts)


class ImageMirror(dynamic.Resource, module="images", name="ImageMirror"):
    """Copies an image into the stack's repository at deploy (type pulumi-python:dynamic/images:ImageMirror)."""

    digest: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__(ImageStepProvider(), name, props, opts)

