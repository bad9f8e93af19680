"""The deploy-time steps against moto's ECR and registries served on loopback: warming the cache (an upstream
that refuses, a timeout, a moved tag), mirroring (multi-platform, multi-part layers, digests kept), the
provider's diff, and one-line failures naming the image."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from moto import mock_aws

from components.image_copy import RegistrySource, mirror
from components.image_steps import (
    OCI_INDEX,
    OCI_MANIFEST,
    STEP_KEYS,
    Clock,
    ImageStep,
    ImageStepError,
    ImageStepProvider,
    StepFailed,
    pin_tag,
    reference_tag,
    run_step,
    warm,
)
from tests.support import cached_clients

REGION = "us-east-1"
CACHE_REPO = "private-fargate-dev-ghcr/org/app"
STACK_REPO = "private-fargate-dev"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_manifest(config: bytes, layers: list[bytes]) -> bytes:
    """An OCI image manifest in the shape registries serve (config + gzip layers)."""
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config),
                                  "digest": digest_of(config)},
                       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": len(b),
                                   "digest": digest_of(b)} for b in layers]}, indent=3).encode()


def index_of(children: dict[str, bytes]) -> bytes:
    """An OCI index with Linux images and a BuildKit attestation entry (platform unknown)."""
    entries = [{"mediaType": OCI_MANIFEST, "size": len(m), "digest": digest_of(m),
                "platform": {"architecture": arch, "os": os_}} for (os_, arch), m in
               ((tuple(k.split("/")), v) for k, v in children.items())]
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()


class Image:
    """A two-platform image with an attestation, every blob and manifest addressable by digest."""

    def __init__(self, seed: str, layer_size: int = 1024):
        self.blobs: dict[str, bytes] = {}
        children: dict[str, bytes] = {}
        for platform in ("linux/amd64", "linux/arm64", "unknown/unknown"):
            config = f'{{"seed": "{seed}", "platform": "{platform}"}}'.encode()
            layer = (hashlib.sha256(f"{seed}{platform}".encode()).digest() * (layer_size // 32 + 1))[:layer_size]
            self.blobs.update({digest_of(config): config, digest_of(layer): layer})
            children[platform] = image_manifest(config, [layer])
        self.children = {digest_of(m): m for m in children.values()}
        self.linux = [digest_of(children[p]) for p in ("linux/amd64", "linux/arm64")]
        self.index = index_of(children)
        self.digest = digest_of(self.index)

    def manifest(self, reference: str) -> bytes | None:
        return self.index if reference in ("1.2", self.digest) else self.children.get(reference)


class Server:
    """A registry on 127.0.0.1: `handle(method, path, headers)` -> (status, headers, body)."""

    def __init__(self, handle: Callable[[str, str, Any], tuple[int, dict[str, str], bytes]]):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                status, headers, body = handle("GET", self.path, self.headers)
                self.send_response(status)
                for k, v in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_GET  # noqa: N815 (the handler's method name)

            def log_message(self, *args: Any) -> None:
                pass

        self.requests: list[str] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def upstream_registry(image: Image, path: str = "dotnet/aspnet") -> Callable[..., tuple[int, dict[str, str], bytes]]:
    """A registry serving `image` under `path`, like mcr.microsoft.com (no sign-in for public images)."""

    def handle(method: str, url: str, headers: Any) -> tuple[int, dict[str, str], bytes]:
        prefix = f"/v2/{path}/"
        if not url.startswith(prefix):
            return 404, {}, b'{"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known"}]}'
        kind, _, ref = url[len(prefix):].partition("/")
        if kind == "manifests" and image.manifest(ref) is not None:
            body = image.manifest(ref)
            assert body is not None
            media = json.loads(body)["mediaType"]
            return 200, {"Content-Type": media, "Docker-Content-Digest": digest_of(body)}, body
        if kind == "blobs" and ref in image.blobs:
            return 200, {"Content-Type": "application/octet-stream"}, image.blobs[ref]
        return 404, {}, b'{"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}'

    return handle


class FakeClock(Clock):
    """Time that passes only when the code sleeps."""

    def __init__(self) -> None:
        self.t = 0.0
        super().__init__(now=lambda: self.t, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def ecr() -> Iterator[Any]:
    with mock_aws():
        yield cached_clients(REGION).client("ecr")


def ecr_registry(ecr: Any, image: Image, behaviour: str = "import") -> Callable[..., tuple[int, dict[str, str], bytes]]:
    """ECR's registry endpoint with a cache rule: a GET by tag makes it import the upstream image (as ECR
    does: the index and each image it lists), unless the upstream refuses or the import never ends."""
    password = base64.b64decode(ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"])

    def handle(method: str, url: str, headers: Any) -> tuple[int, dict[str, str], bytes]:
        if base64.b64decode(headers.get("Authorization", "Basic ").split(" ", 1)[1]) != password:
            return 401, {}, b'{"errors": [{"code": "UNAUTHORIZED", "message": "not signed in"}]}'
        if behaviour == "refuse":
            return 404, {}, (b'{"errors": [{"code": "NAME_UNKNOWN", "message": "The authentication to the upstream '
                             b'registry failed."}]}')
        if behaviour == "import":
            try:
                ecr.create_repository(repositoryName=CACHE_REPO)
            except ecr.exceptions.RepositoryAlreadyExistsException:
                pass
            for digest, manifest in image.children.items():
                ecr.put_image(repositoryName=CACHE_REPO, imageManifest=manifest.decode(), imageDigest=digest,
                              imageManifestMediaType=OCI_MANIFEST)
            ecr.put_image(repositoryName=CACHE_REPO, imageManifest=image.index.decode(), imageDigest=image.digest,
                          imageManifestMediaType=OCI_INDEX, imageTag="1.2")
        return 200, {"Content-Type": OCI_INDEX}, image.index

    return handle


def tags_of(ecr: Any, repository: str, digest: str) -> list[str]:
    return ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])[
        "imageDetails"][0].get("imageTags", [])


class TestWarm:
    """The first pull by tag through ECR's registry API, then DescribeImages, then the pins."""

    def spec(self, digest: str | None = None) -> ImageStep:
        return ImageStep("warm", "ghcr.io/org/app:1.2", CACHE_REPO, "1.2", digest)

    def test_warms_waits_and_pins(self, ecr: Any) -> None:
        image = Image("web")
        with Server(ecr_registry(ecr, image)) as server:
            result = warm(ecr, self.spec(), server.host, base_url=f"http://{server.host}", clock=FakeClock())
        assert server.requests == [f"/v2/{CACHE_REPO}/manifests/1.2"]  # by tag: a pull by digest fills nothing
        assert result == {"digest": image.digest, "pinned": [image.digest, *image.linux]}
        assert sorted(tags_of(ecr, CACHE_REPO, image.digest)) == ["1.2", pin_tag(image.digest)]
        for child in image.linux:  # what a task of each architecture pulls stays pullable
            assert tags_of(ecr, CACHE_REPO, child) == [pin_tag(child)]

    def test_a_pinned_digest_of_the_tag_is_kept(self, ecr: Any) -> None:
        image = Image("web")
        with Server(ecr_registry(ecr, image)) as server:
            result = warm(ecr, self.spec(image.linux[1]), server.host, base_url=f"http://{server.host}",
                          clock=FakeClock())
        assert result["digest"] == image.linux[1] and image.linux[1] in result["pinned"]

    def test_a_tag_that_moved_past_the_pinned_digest_fails(self, ecr: Any) -> None:
        image, old = Image("web"), "sha256:" + "0" * 64
        with Server(ecr_registry(ecr, image)) as server, pytest.raises(ImageStepError, match=r"the tag 1\.2 now "
                                                                                               r"points to sha256:"):
            warm(ecr, self.spec(old), server.host, base_url=f"http://{server.host}", clock=FakeClock())

    def test_an_upstream_that_refuses(self, ecr: Any) -> None:
        with Server(ecr_registry(ecr, Image("web"), "refuse")) as server, pytest.raises(ImageStepError) as info:
            warm(ecr, self.spec(), server.host, base_url=f"http://{server.host}", clock=FakeClock())
        assert str(info.value) == ("ECR could not fetch it through the cache rule: HTTP 404 NAME_UNKNOWN: The "
                                   "authentication to the upstream registry failed.")

    def test_a_timeout(self, ecr: Any) -> None:
        clock = FakeClock()
        with Server(ecr_registry(ecr, Image("web"), "never")) as server, pytest.raises(ImageStepError) as info:
            warm(ecr, self.spec(), server.host, base_url=f"http://{server.host}", clock=clock, timeout=30)
        assert str(info.value).startswith(f"{CACHE_REPO}:1.2 was not in ECR after 30 s")
        assert 30 <= clock.t <= 33  # it polled until the deadline, then stopped

    def test_through_the_provider_one_line_naming_the_image(self, ecr: Any) -> None:
        props = {"kind": "warm", "region": REGION, "registry": "127.0.0.1:9", "repository": CACHE_REPO,
                 "reference": "ghcr.io/org/app:1.2", "tag": "1.2", "timeoutSeconds": 5}
        with pytest.raises(StepFailed) as info:
            run_step(props, clients=lambda region: (ecr, None))
        message = str(info.value)
        assert message.startswith("image ghcr.io/org/app:1.2: could not reach https://127.0.0.1:9")
        assert "\n" not in message


class TestMirror:
    """A copy into the stack's repository: every platform, blobs in ECR's parts, digests unchanged."""

    @pytest.fixture
    def repo(self, ecr: Any) -> Any:
        ecr.create_repository(repositoryName=STACK_REPO, imageTagMutability="IMMUTABLE")
        return ecr

    def test_copies_an_index_and_keeps_digests(self, repo: Any) -> None:
        image = Image("dotnet", layer_size=12 << 20)  # 12 MiB: two upload parts
        reference = "mcr.microsoft.com/dotnet/aspnet:1.2"
        spec = ImageStep("mirror", reference, STACK_REPO, "1.2", source_host="mcr.microsoft.com",
                         source_path="dotnet/aspnet", reference_tag=reference_tag(reference))
        with Server(upstream_registry(image)) as server:
            result = mirror(repo, RegistrySource(server.host, "dotnet/aspnet", insecure=True), spec)
        assert result["digest"] == image.digest and set(result["pinned"]) == {image.digest, *image.children}
        assert sorted(tags_of(repo, STACK_REPO, image.digest)) == sorted([pin_tag(image.digest),
                                                                         reference_tag(reference)])
        stored = repo.batch_get_image(repositoryName=STACK_REPO, imageIds=[{"imageDigest": image.digest}])
        assert stored["images"][0]["imageManifest"].encode() == image.index  # byte for byte: the digest holds
        layers = repo.batch_check_layer_availability(repositoryName=STACK_REPO, layerDigests=list(image.blobs))
        assert {x["layerDigest"] for x in layers["layers"]} == set(image.blobs) and not layers["failures"]

    def test_a_second_run_uploads_nothing_again(self, repo: Any) -> None:
        image = Image("dotnet")
        spec = ImageStep("mirror", "mcr.microsoft.com/dotnet/aspnet:1.2", STACK_REPO, "1.2",
                         source_host="mcr.microsoft.com", source_path="dotnet/aspnet")
        with Server(upstream_registry(image)) as server:
            source = RegistrySource(server.host, "dotnet/aspnet", insecure=True)
            mirror(repo, source, spec)
            blobs_first = [r for r in server.requests if "/blobs/" in r]
            mirror(repo, source, spec)
            assert [r for r in server.requests if "/blobs/" in r] == blobs_first

    def test_by_digest(self, repo: Any) -> None:
        image = Image("dotnet")
        spec = ImageStep("mirror", f"quay.io/org/app@{image.digest}", STACK_REPO, None, image.digest,
                         source_host="quay.io", source_path="dotnet/aspnet")
        with Server(upstream_registry(image)) as server:
            assert mirror(repo, RegistrySource(server.host, "dotnet/aspnet", insecure=True), spec)["digest"] \
                == image.digest

    def test_an_upstream_that_refuses_through_the_provider(self, repo: Any) -> None:
        props = {"kind": "mirror", "region": REGION, "registry": "r", "repository": STACK_REPO,
                 "reference": "mcr.microsoft.com/dotnet/nope:1.2", "tag": "1.2", "sourceHost": "x",
                 "sourcePath": "dotnet/nope", "timeoutSeconds": 5}
        with Server(upstream_registry(Image("dotnet"))) as server:
            with pytest.raises(StepFailed) as info:
                run_step(props, clients=lambda region: (repo, None),
                         source_factory=lambda host, path, creds, timeout: RegistrySource(
                             server.host, path, creds, insecure=True, timeout=timeout))
        assert str(info.value) == (f"image mcr.microsoft.com/dotnet/nope:1.2: {server.host} answered HTTP 404 "
                                   "NAME_UNKNOWN: repository name not known")

    def test_reads_the_upstream_secret(self, repo: Any) -> None:
        secrets = cached_clients(REGION).client("secretsmanager")
        arn = secrets.create_secret(Name="ecr-pullthroughcache/gh", SecretString=json.dumps(
            {"username": "bot", "accessToken": "t0ken"}))["ARN"]
        seen: list[Any] = []

        def source(host: str, path: str, credentials: Any, timeout: float) -> Any:
            seen.append((host, path, credentials))
            raise ImageStepError("stop here")

        props = {"kind": "mirror", "region": REGION, "registry": "r", "repository": STACK_REPO,
                 "reference": "ghcr.io/org/private:3", "tag": "3", "sourceHost": "ghcr.io",
                 "sourcePath": "org/private", "credentialArn": arn}
        with pytest.raises(StepFailed, match="stop here"):
            run_step(props, clients=lambda region: (repo, secrets), source_factory=source)
        assert seen == [("ghcr.io", "org/private", ("bot", "t0ken"))]


class TestProvider:
    """Re-run only when the image inputs change; the provider is stored by reference, not by value."""

    def test_diff(self) -> None:
        olds = {"kind": "warm", "reference": "ghcr.io/org/app:1.2", "repository": CACHE_REPO, "tag": "1.2",
                "digest": "sha256:" + "1" * 64, "pinned": ["x"], "__provider": "old"}
        news = {**olds, "digest": None, "pinned": None, "__provider": "new"}
        provider = ImageStepProvider()
        assert provider.diff("id", olds, news).changes is False  # outputs and the provider itself do not count
        for key in STEP_KEYS:
            assert provider.diff("id", olds, {**news, key: "changed"}).changes is True, key

    def test_serialized_by_reference(self) -> None:
        from pulumi.dynamic.dynamic import serialize_provider

        text = base64.b64decode(serialize_provider(ImageStepProvider()))
        assert b"components.image_steps" in text and b"ImageStepProvider" in text and len(text) < 400
