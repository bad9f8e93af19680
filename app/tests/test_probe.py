"""The probe (`python -m app probe`): each hop's verdict, with the network faked and AWS from moto or Stubber.

DNS and TLS go through the probe's seams (a test cannot reach a VPC endpoint); Secrets Manager is
moto; ECR is botocore's Stubber, since moto has no GetDownloadUrlForLayer.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from app.__main__ import main as app_main
from app.probe import Probe, main, parse_lines

REGION = "us-east-1"
IMAGE = f"123456789012.dkr.ecr.{REGION}.amazonaws.com/private-fargate-dev:abc123"
LAYER = "sha256:" + "a" * 64
URL = f"https://prod-{REGION}-starport-layer-bucket.s3.{REGION}.amazonaws.com/layer?X-Amz-Signature=x"
MANIFEST = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": "sha256:" + "c" * 64, "size": 1, "mediaType": "x"},
            "layers": [{"digest": LAYER, "size": 10, "mediaType": "y"}]}
PRIVATE = {"api.ecr.us-east-1.amazonaws.com": ["10.0.3.7"],
           "123456789012.dkr.ecr.us-east-1.amazonaws.com": ["10.0.3.8"],
           "logs.us-east-1.amazonaws.com": ["10.0.3.9"], "secretsmanager.us-east-1.amazonaws.com": ["10.0.3.10"],
           "s3.us-east-1.amazonaws.com": ["52.216.1.1"]}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def spec(secrets: list[str]) -> dict[str, Any]:
    return {"region": REGION, "vpcCidr": "10.0.0.0/16", "image": IMAGE, "secrets": secrets,
            "endpoints": {"ecr.api": "api.ecr.us-east-1.amazonaws.com",
                          "ecr.dkr": "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                          "logs": "logs.us-east-1.amazonaws.com",
                          "secretsmanager": "secretsmanager.us-east-1.amazonaws.com"},
            "gateways": {"s3": "s3.us-east-1.amazonaws.com"}}


def ecr_answers(stub: Stubber) -> None:
    stub.add_response("get_authorization_token", {"authorizationData": [{"authorizationToken": "dG9rZW4="}]})
    stub.add_response("batch_get_image", {"images": [{"imageManifest": json.dumps(MANIFEST)}], "failures": []})
    stub.add_response("get_download_url_for_layer", {"downloadUrl": URL, "layerDigest": LAYER},
                      {"repositoryName": "private-fargate-dev", "layerDigest": LAYER})


def run(session: boto3.Session, secrets: list[str], resolve: dict[str, list[str]] = PRIVATE,
        handshake: Any = lambda host: "TLSv1.3", fetch: Any = lambda url: 206,
        ecr: Any = None) -> tuple[int, list[dict[str, Any]]]:
    ecr_client = session.client("ecr")
    lines: list[str] = []

    def lookup(host: str) -> list[str]:
        if host not in resolve:
            raise socket.gaierror(-2, "Name or service not known")
        return resolve[host]

    with Stubber(ecr_client) as stub:
        (ecr or ecr_answers)(stub)
        probe = Probe(spec(secrets), out=lines.append, resolve=lookup, handshake=handshake, fetch=fetch,
                      client=lambda service: ecr_client if service == "ecr" else session.client(service))
        code = probe.run()
    return code, parse_lines(lines)


def verdicts(hops: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    return [(h["hop"], h["target"], h["ok"]) for h in hops]


def test_every_hop_passes(aws: boto3.Session) -> None:
    arn = aws.client("secretsmanager").create_secret(Name="db", SecretString="hunter2")["ARN"]
    code, hops = run(aws, [arn + ":password::"])
    assert code == 0
    assert verdicts(hops) == [
        ("dns", "ecr.api", True), ("tls", "ecr.api", True), ("dns", "ecr.dkr", True), ("tls", "ecr.dkr", True),
        ("dns", "logs", True), ("tls", "logs", True), ("dns", "secretsmanager", True),
        ("tls", "secretsmanager", True), ("dns", "s3", True), ("tls", "s3", True), ("ecr-auth", "ecr.api", True),
        ("image", IMAGE, True), ("layer", f"prod-{REGION}-starport-layer-bucket.s3.{REGION}.amazonaws.com", True),
        ("secret", arn + ":password::", True), ("done", "", True)]
    assert "hunter2" not in json.dumps(hops) and hops[13]["detail"] == "read (7 bytes; the value is not shown)"


def test_public_answer_means_private_dns_is_off(aws: boto3.Session) -> None:
    resolve = {**PRIVATE, "logs.us-east-1.amazonaws.com": ["52.46.1.1"]}
    code, hops = run(aws, [], resolve=resolve)
    failed = [h for h in hops if not h["ok"]]
    assert code == 1 and [(h["hop"], h["target"]) for h in failed] == [("dns", "logs"), ("done", "")]
    assert failed[0]["detail"] == "logs.us-east-1.amazonaws.com resolves to 52.46.1.1, outside the VPC's 10.0.0.0/16"
    assert ("tls", "logs", True) not in verdicts(hops)  # no handshake with a name that leaves the VPC


def test_blocked_port_and_missing_layer_route(aws: boto3.Session) -> None:
    def handshake(host: str) -> str:
        if host.startswith("secretsmanager"):
            raise TimeoutError("timed out")
        return "TLSv1.3"

    def fetch(url: str) -> int:
        raise TimeoutError("timed out")

    code, hops = run(aws, [], handshake=handshake, fetch=fetch)
    failed = {(h["hop"], h["target"]): h["detail"] for h in hops if not h["ok"]}
    assert code == 1
    assert failed[("tls", "secretsmanager")] == "secretsmanager.us-east-1.amazonaws.com:443 (TimeoutError: timed out)"
    assert failed[("layer", f"prod-{REGION}-starport-layer-bucket.s3.{REGION}.amazonaws.com")] == \
        "TimeoutError: timed out"


def test_denied_token_skips_the_image(aws: boto3.Session) -> None:
    def denied(stub: Stubber) -> None:
        stub.add_client_error("get_authorization_token", "AccessDeniedException", "not authorized")

    code, hops = run(aws, [], ecr=denied)
    assert code == 1 and ("ecr-auth", "ecr.api", False) in verdicts(hops)
    assert not any(h["hop"] in ("image", "layer") for h in hops)
    assert next(h for h in hops if h["hop"] == "ecr-auth")["detail"] == "AccessDeniedException: not authorized"


def test_missing_secret_and_parameter(aws: boto3.Session) -> None:
    missing = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:gone-AbCdEf"
    parameter = f"arn:aws:ssm:{REGION}:123456789012:parameter/app/key"
    code, hops = run(aws, [missing, parameter])
    failed = {h["target"]: h["detail"] for h in hops if h["hop"] == "secret"}
    assert code == 1 and failed[missing].startswith("ResourceNotFoundException")
    assert failed[parameter] == "ParameterNotFound: no such parameter"


def test_without_a_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main({}) == 2 and "tools.doctor --probe" in capsys.readouterr().out


def test_exit_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert app_main(["exit", "3"]) == 3
    assert app_main(["exit"]) == 1
