"""Copy an image from any registry into the stack's ECR repository (the ImageMirror step, run at deploy).

The source is read through its registry v2 API with python-dxf (anonymous bearer tokens, or a username
and token; every blob checked against its digest); the destination is written with ECR's own API:
BatchCheckLayerAvailability, InitiateLayerUpload/UploadLayerPart/CompleteLayerUpload (parts of 5 to
10 MiB, https://docs.aws.amazon.com/AmazonECR/latest/userguide/service-quotas.html) and PutImage with
the manifest bytes unchanged, so every digest (an index's and each of its images') is kept and a
reference by digest still names the copy. Why not `docker buildx imagetools create` or
pulumi-docker-build: both need a Docker daemon and CLI on the deployer and a registry login step, and
neither can be exercised offline; this runs in the program's own Python against moto and a loopback
registry in the tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from components.image_steps import (
    INDEX_TYPES,
    MANIFEST,
    ImageStep,
    ImageStepError,
    get_manifest,
    pin_tag,
    put_tag,
    registry_error,
    sha256_digest,
)


class RegistrySource:
    """Reads an image from a registry's v2 API with python-dxf (anonymous or username/token sign-in)."""

    def __init__(self, host: str, path: str, credentials: tuple[str, str] | None = None, *,
                 insecure: bool = False, timeout: float = 60):
        from dxf import DXF

        def sign_in(client: Any, response: Any) -> None:
            username, password = credentials or (None, None)
            client.authenticate(username, password, response=response, actions=["pull"])

        self._host = host
        self._client = DXF(host, path, auth=sign_in, insecure=insecure, timeout=timeout)

    def manifest(self, reference: str) -> tuple[bytes, str]:
        """The manifest bytes (exactly as served, so its digest holds) and media type."""
        _, response = self._call(self._client.get_manifest_and_response, reference)
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return response.content, media_type or json.loads(response.content).get("mediaType", MANIFEST)

    def blob(self, digest: str) -> Iterable[bytes]:
        """The blob's bytes, in chunks (python-dxf checks the digest at the end)."""
        return self._call(self._client.pull_blob, digest, chunk_size=1 << 20)

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        import requests

        try:
            return method(*args, **kwargs)
        except requests.exceptions.HTTPError as exc:
            response = exc.response
            code = response.status_code if response is not None else "?"
            body = registry_error(response.content) if response is not None else str(exc)
            raise ImageStepError(f"{self._host} answered HTTP {code} {body}".strip()) from None
        except requests.exceptions.RequestException as exc:
            raise ImageStepError(f"could not reach {self._host}: {type(exc).__name__}") from None


def _parts(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield buffer[:size]
            buffer = buffer[size:]
    if buffer:
        yield buffer


def copy_blob(ecr: Any, source: Any, repository: str, digest: str) -> None:
    """Upload one blob (layer or config) to ECR with the layer-upload API, unless it is there already."""
    check = ecr.batch_check_layer_availability(repositoryName=repository, layerDigests=[digest])
    if any(layer.get("layerAvailability") == "AVAILABLE" for layer in check.get("layers", [])):
        return
    upload = ecr.initiate_layer_upload(repositoryName=repository)
    # ECR's parts are 5 to 10 MiB (the last one may be smaller): https://docs.aws.amazon.com/AmazonECR/latest/
    # userguide/service-quotas.html
    part_size = min(max(int(upload.get("partSize") or 0), 5 << 20), 10 << 20)
    first = 0
    for part in _parts(source.blob(digest), part_size):
        ecr.upload_layer_part(repositoryName=repository, uploadId=upload["uploadId"], partFirstByte=first,
                              partLastByte=first + len(part) - 1, layerPartBlob=part)
        first += len(part)
    try:
        done = ecr.complete_layer_upload(repositoryName=repository, uploadId=upload["uploadId"],
                                         layerDigests=[digest])
    except ecr.exceptions.LayerAlreadyExistsException:
        return
    if done.get("layerDigest") not in (None, digest):
        raise ImageStepError(f"the blob {digest} arrived as {done['layerDigest']}")


def copy_manifest(ecr: Any, source: Any, repository: str, reference: str, expected: str | None = None,
                  seen: set[str] | None = None) -> tuple[str, list[str]]:
    """Copy one manifest (an index: with every image it lists) and its blobs; returns its digest and the pins."""
    data, media_type = source.manifest(reference)
    digest = sha256_digest(data)
    if expected and digest != expected:
        raise ImageStepError(f"the registry served {digest} for {expected}")
    doc = json.loads(data)
    media_type = doc.get("mediaType") or media_type
    if doc.get("schemaVersion") == 1:
        raise ImageStepError("it has a schema 1 manifest, which ECR does not take; use a newer tag")
    seen = seen if seen is not None else set()
    pinned: list[str] = []
    if media_type in INDEX_TYPES or "manifests" in doc:
        for child in doc.get("manifests", []):
            if child["digest"] not in seen:
                pinned += copy_manifest(ecr, source, repository, child["digest"], child["digest"], seen)[1]
    else:
        for blob in [doc["config"], *doc.get("layers", [])]:
            if blob.get("urls"):
                raise ImageStepError("it has foreign layers (URLs outside the registry), which cannot be copied")
            copy_blob(ecr, source, repository, blob["digest"])
    put_tag(ecr, repository, data.decode(), media_type, digest, pin_tag(digest))
    seen.add(digest)
    return digest, [*pinned, digest]


def mirror(ecr: Any, source: Any, spec: ImageStep) -> dict[str, Any]:
    """Copy the image a reference names into the stack's repository; tag it with its pin (and reference) tag."""
    digest, pinned = copy_manifest(ecr, source, spec.repository, spec.digest or spec.tag or "latest", spec.digest)
    if spec.reference_tag:
        manifest, media_type = get_manifest(ecr, spec.repository, digest)
        put_tag(ecr, spec.repository, manifest, media_type, digest, spec.reference_tag)
    return {"digest": digest, "pinned": pinned}
