"""`python -m app probe`: the network probe `tools.doctor --probe` runs inside a workload's subnets.

It walks, from inside the VPC, every hop a private task needs before its own code runs, and prints
one `PROBE {json}` line per hop (the doctor reads them from the log stream, which proves the logs
hop too): each endpoint name resolves to a private address of the VPC (interface endpoints with
private DNS; S3 is a gateway, its name stays public), a TLS handshake with each succeeds, an ECR
auth token comes back, the workload's image manifest is readable and one byte of its first layer
downloads from ECR's S3 layer bucket, and each secret the workload names is readable. The doctor
runs it with the workload's execution role as task role, so these calls carry the permissions ECS
uses at start. Secret values are never printed, only their size.

The spec comes in `$PROBE_SPEC` (JSON): region, vpcCidr, endpoints {short name: host}, gateways
{short name: host}, image (URI), secrets [ARNs]. Exit 0 when every hop passed, 1 otherwise.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

PREFIX = "PROBE "
TIMEOUT = 5.0
_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
_MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                   "application/vnd.docker.distribution.manifest.v2+json", *_INDEX_TYPES)


def resolve(host: str) -> list[str]:
    """The IPv4 addresses a name resolves to from here."""
    return sorted({info[4][0] for info in socket.getaddrinfo(host, 443, socket.AF_INET, socket.SOCK_STREAM)})


def handshake(host: str) -> str:
    """Open TLS to host:443 and return the negotiated version."""
    context = ssl.create_default_context()
    with socket.create_connection((host, 443), timeout=TIMEOUT) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        return tls.version() or "TLS"


def read_first_byte(url: str) -> int:
    """GET one byte of a (presigned) URL; the HTTP status."""
    request = urllib.request.Request(url, headers={"Range": "bytes=0-0"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        response.read(1)
        return int(response.status)


def clients(region: str) -> Callable[[str], Any]:
    """boto3 clients that give up fast: a broken hop should fail in seconds, not minutes."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=TIMEOUT, read_timeout=TIMEOUT, retries={"mode": "standard", "max_attempts": 2})
    session = boto3.Session(region_name=region)
    return lambda service: session.client(service, config=config)


def reason(exc: BaseException) -> str:
    """An error in one line: the AWS error code when there is one."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        error = response["Error"]
        return f"{error.get('Code', '')}: {' '.join(str(error.get('Message', '')).split())}".strip(": ")
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


class Probe:
    """Runs the hops; `resolve`, `handshake`, `fetch` and `client` are seams for tests."""

    def __init__(self, spec: dict[str, Any], out: Callable[[str], None] = print,
                 resolve: Callable[[str], list[str]] = resolve, handshake: Callable[[str], str] = handshake,
                 fetch: Callable[[str], int] = read_first_byte, client: Callable[[str], Any] | None = None):
        self.spec = spec
        self.out = out
        self.resolve = resolve
        self.handshake = handshake
        self.fetch = fetch
        self.client = client or clients(spec["region"])
        self.failed = 0

    def report(self, hop: str, target: str, ok: bool, detail: str) -> bool:
        """Print one hop's result."""
        self.failed += 0 if ok else 1
        self.out(PREFIX + json.dumps({"hop": hop, "target": target, "ok": ok, "detail": detail}))
        return ok

    def run(self) -> int:
        """Every hop, in the order a task start needs them; 0 when all passed."""
        cidr = ipaddress.ip_network(self.spec["vpcCidr"])
        for short, host in sorted(self.spec.get("endpoints", {}).items()):
            if self.dns(short, host, cidr):
                self.tls(short, host)
        for short, host in sorted(self.spec.get("gateways", {}).items()):
            if self.dns(short, host, None):
                self.tls(short, host)
        if self.ecr_auth():
            self.image_layer(self.spec.get("image", ""))
        for arn in self.spec.get("secrets", []):
            self.secret(arn)
        self.out(PREFIX + json.dumps({"hop": "done", "target": "", "ok": not self.failed,
                                      "detail": f"{self.failed} failed"}))
        return 1 if self.failed else 0

    def dns(self, short: str, host: str, cidr: ipaddress.IPv4Network | ipaddress.IPv6Network | None) -> bool:
        try:
            addresses = self.resolve(host)
        except OSError as exc:
            return self.report("dns", short, False, f"{host} does not resolve ({reason(exc)})")
        if not addresses:
            return self.report("dns", short, False, f"{host} resolves to no address")
        if cidr is not None:
            outside = [a for a in addresses if ipaddress.ip_address(a) not in cidr]
            if outside:
                return self.report("dns", short, False, f"{host} resolves to {', '.join(outside)}, outside the "
                                                        f"VPC's {cidr}")
        return self.report("dns", short, True, f"{host} -> {', '.join(addresses)}")

    def tls(self, short: str, host: str) -> bool:
        try:
            version = self.handshake(host)
        except (OSError, ssl.SSLError) as exc:
            return self.report("tls", short, False, f"{host}:443 ({reason(exc)})")
        return self.report("tls", short, True, f"{host}:443 {version}")

    def ecr_auth(self) -> bool:
        try:
            data = self.client("ecr").get_authorization_token().get("authorizationData") or []
        except Exception as exc:  # any AWS or network error is this hop's result
            return self.report("ecr-auth", "ecr.api", False, reason(exc))
        return self.report("ecr-auth", "ecr.api", bool(data), "token received" if data else "no token returned")

    def image_layer(self, uri: str) -> None:
        """Read the image's manifest (ecr.api) and one byte of its first layer (S3 layer bucket)."""
        registry, _, path = uri.partition("/")
        if ".dkr.ecr." not in registry or not path:
            self.report("image", uri, True, "not in this account's ECR: skipped")
            return
        if "@" in path:
            repo, ref = path.split("@", 1)
        else:
            repo, _, ref = path.partition(":")
            ref = ref or "latest"
        image_id = {"imageDigest": ref} if ref.startswith("sha256:") else {"imageTag": ref}
        ecr = self.client("ecr")
        try:
            manifest = self._manifest(ecr, repo, image_id)
            digest = (manifest.get("layers") or [{}])[0].get("digest")
            if not digest:
                self.report("image", uri, False, "the manifest lists no layer")
                return
            url = ecr.get_download_url_for_layer(repositoryName=repo, layerDigest=digest)["downloadUrl"]
        except Exception as exc:
            self.report("image", uri, False, reason(exc))
            return
        self.report("image", uri, True, f"manifest read; first layer {digest[:19]}")
        host = urllib.parse.urlparse(url).hostname or "the layer bucket"
        try:
            status = self.fetch(url)
        except (OSError, urllib.error.URLError) as exc:
            self.report("layer", host, False, reason(exc))
            return
        self.report("layer", host, status in (200, 206), f"HTTP {status} for the first byte")

    def _manifest(self, ecr: Any, repo: str, image_id: dict[str, str]) -> dict[str, Any]:
        found = ecr.batch_get_image(repositoryName=repo, imageIds=[image_id],
                                    acceptedMediaTypes=list(_MANIFEST_TYPES)).get("images") or []
        if not found:
            raise LookupError(f"{repo} has no image {next(iter(image_id.values()))}")
        manifest = json.loads(found[0]["imageManifest"])
        if manifest.get("mediaType") in _INDEX_TYPES or "manifests" in manifest:
            entries = manifest.get("manifests") or []
            chosen = next((m for m in entries if (m.get("platform") or {}).get("os") == "linux"), None)
            if chosen is None:
                raise LookupError(f"{repo}: the image index lists no linux image")
            return self._manifest(ecr, repo, {"imageDigest": chosen["digest"]})
        return manifest

    def secret(self, arn: str) -> None:
        try:
            if ":secretsmanager:" in arn:
                # `arn:...:secret:name-AbCdEf:json-key:stage:version` names a key: the secret is the first 7 parts.
                value = self.client("secretsmanager").get_secret_value(SecretId=":".join(arn.split(":")[:7]))
                size = len(value.get("SecretString") or value.get("SecretBinary") or b"")
            else:
                response = self.client("ssm").get_parameters(Names=[arn], WithDecryption=True)
                if response.get("InvalidParameters"):
                    self.report("secret", arn, False, "ParameterNotFound: no such parameter")
                    return
                size = len(response["Parameters"][0].get("Value", ""))
        except Exception as exc:
            self.report("secret", arn, False, reason(exc))
            return
        self.report("secret", arn, True, f"read ({size} bytes; the value is not shown)")


def parse_lines(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The hops in a probe's output (other lines ignored)."""
    hops = []
    for line in lines:
        start = line.find(PREFIX)
        if start >= 0:
            try:
                hops.append(json.loads(line[start + len(PREFIX):]))
            except ValueError:
                continue
    return hops


def main(environ: dict[str, str] | None = None, **seams: Any) -> int:
    """`python -m app probe`."""
    raw = (environ if environ is not None else os.environ).get("PROBE_SPEC")
    if not raw:
        print("PROBE_SPEC is not set: the probe is started by `python -m tools.doctor --probe`")
        return 2
    return Probe(json.loads(raw), **seams).run()
