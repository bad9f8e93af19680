"""Image references as Docker reads them, the `image` setting's rules, and `image_setting`, the one function
the docker-compose importer uses to pick `public` (cache) or `mirror` for any reference."""

from __future__ import annotations

from typing import Any

import pytest

from settings import Settings, SettingsError
from settings.images import ImageReference, image_setting, parse_reference, upstream_for

DIGEST = "sha256:" + "ab" * 32
ACCOUNT = "123456789012"


def secret(name: str, region: str = "us-east-1") -> str:
    return f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:ecr-pullthroughcache/{name}-AbCdEf"


@pytest.mark.parametrize("text,expected", [
    ("nginx", ImageReference("docker.io", "library/nginx")),
    ("nginx:1.27", ImageReference("docker.io", "library/nginx", "1.27")),
    ("bitnami/redis:7.2", ImageReference("docker.io", "bitnami/redis", "7.2")),
    ("index.docker.io/library/nginx:1.27", ImageReference("docker.io", "library/nginx", "1.27")),
    (f"ghcr.io/org/app:1.2@{DIGEST}", ImageReference("ghcr.io", "org/app", "1.2", DIGEST)),
    (f"quay.io/org/app@{DIGEST}", ImageReference("quay.io", "org/app", None, DIGEST)),
    ("localhost:5000/team/app:1", ImageReference("localhost:5000", "team/app", "1")),
    ("registry.example.com:5000/a/b/c:v1.0-rc.1", ImageReference("registry.example.com:5000", "a/b/c", "v1.0-rc.1")),
    ("mcr.microsoft.com/dotnet/aspnet:8.0", ImageReference("mcr.microsoft.com", "dotnet/aspnet", "8.0")),
])
def test_references(text: str, expected: ImageReference) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize("text,fragment", [
    ("nginx@sha256:abc", "64 lowercase hex"),
    (f"nginx@sha256:{'AB' * 32}", "64 lowercase hex"),
    ("nginx@md5:" + "a" * 32, "64 lowercase hex"),
    ("nginx:-bad", "the tag '-bad' is not valid"),
    ("ghcr.io/Org/App:1", "the repository 'Org/App' is not valid"),
    ("ghcr.io/org/app:1 ", "no spaces"),
    ("", "expected an image reference"),
])
def test_bad_references(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_reference(text)
    assert fragment in str(info.value)


def test_floating_references() -> None:
    assert parse_reference("nginx").floating and parse_reference("nginx:latest").floating
    assert not parse_reference("nginx:1.27").floating and not parse_reference(f"nginx@{DIGEST}").floating
    assert not parse_reference(f"nginx:latest@{DIGEST}").floating


def test_azure_registries_are_upstreams_one_each() -> None:
    assert upstream_for("myregistry.azurecr.io").url == "myregistry.azurecr.io"  # type: ignore[union-attr]
    assert upstream_for("other.azurecr.io").suffix == "acr-other"  # type: ignore[union-attr]
    assert upstream_for("mcr.microsoft.com") is None


ALL = {"dockerhub", "ghcr", "gitlab", "acr"}


@pytest.mark.parametrize("reference,credentials,partition,expected", [
    ("nginx:1.27", ALL, "aws", {"public": "docker.io/library/nginx:1.27"}),
    ("nginx:1.27", set(), "aws", {"mirror": "nginx:1.27"}),  # no Docker Hub secret: the deployer copies it
    ("nginx", ALL, "aws", {"public": "docker.io/library/nginx", "pinAtDeploy": True}),
    ("quay.io/prometheus/prometheus:v2.53.0", set(), "aws", {"public": "quay.io/prometheus/prometheus:v2.53.0"}),
    ("ghcr.io/org/app:latest", {"ghcr"}, "aws", {"public": "ghcr.io/org/app:latest", "pinAtDeploy": True}),
    (f"ghcr.io/org/app:1@{DIGEST}", {"ghcr"}, "aws", {"public": f"ghcr.io/org/app:1@{DIGEST}"}),
    (f"quay.io/org/app@{DIGEST}", set(), "aws", {"mirror": f"quay.io/org/app@{DIGEST}"}),
    ("mcr.microsoft.com/dotnet/aspnet:8.0", ALL, "aws", {"mirror": "mcr.microsoft.com/dotnet/aspnet:8.0"}),
    ("myreg.azurecr.io/team/api:5", {"acr"}, "aws", {"public": "myreg.azurecr.io/team/api:5"}),
    ("public.ecr.aws/nginx/nginx:1.27", set(), "aws-us-gov", {"mirror": "public.ecr.aws/nginx/nginx:1.27"}),
    (f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team/api:2", set(), "aws",
     {"uri": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team/api:2"}),
])
def test_image_setting(reference: str, credentials: set[str], partition: str, expected: dict[str, Any]) -> None:
    setting = image_setting(reference, credentials=credentials, partition=partition)
    assert setting == expected
    # What it returns is a setting the stack accepts, with the credentials it assumed.
    given = {k: secret(k) for k in credentials}
    region = "us-gov-west-1" if partition == "aws-us-gov" else "us-east-1"
    if partition == "aws-us-gov":
        given = {}
    settings = Settings.from_dict({"repository": {"upstreamCredentials": given},
                                   "jobs": [{"name": "j", "image": setting}]}, region=region)
    assert settings.jobs[0].image.source == next(iter(expected))


class TestImageSettings:
    """Bad input gets one line naming the key."""

    def load(self, image: dict[str, Any], **repository: Any) -> Settings:
        return Settings.from_dict({"repository": repository, "jobs": [{"name": "j", "image": image}]})

    @pytest.mark.parametrize("image,message", [
        ({"public": "ghcr.io/org/app:latest"}, "jobs[0].image.public: 'ghcr.io/org/app:latest' is 'latest'"),
        ({"mirror": "nginx"}, "jobs[0].image.mirror: 'nginx' is an untagged image"),
        ({"public": "quay.io/x/y:1", "pinAtDeploy": "yes"}, "jobs[0].image.pinAtDeploy"),
        ({"uri": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/x:1", "pinAtDeploy": True},
         "jobs[0].image.pinAtDeploy: only for public and mirror images (this one is uri)"),
        ({"public": "quay.io/x/y:1", "mirror": "quay.io/x/y:1"}, "give exactly one of build, uri, public, mirror"),
        ({"public": "nginx:1.27"}, "name the registry"),
        ({"public": "public.ecr.aws/nginx:1"}, "public.ecr.aws/<alias>/<name>:<tag>"),
        ({"public": "quay.io/a__b/c:1"}, "cannot be an ECR repository name"),
        ({"mirror": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/x:1"}, "use image.uri"),
    ])
    def test_refused(self, image: dict[str, Any], message: str) -> None:
        with pytest.raises(SettingsError) as info:
            self.load(image)
        assert message in str(info.value) and "\n" not in str(info.value)

    def test_pin_at_deploy_accepts_latest_with_a_note(self) -> None:
        s = self.load({"public": "quay.io/x/y:latest", "pinAtDeploy": True})
        assert any("jobs[0].image: quay.io/x/y:latest is pinned at deploy" in n for n in s.notes)

    def test_credentials_in_another_region(self) -> None:
        with pytest.raises(SettingsError, match=r"repository\.upstreamCredentials\.ghcr: the secret is in "
                                                r"aws/eu-west-1 but the stack is in aws/us-east-1"):
            self.load({"public": "ghcr.io/o/a:1"}, upstreamCredentials={"ghcr": secret("gh", "eu-west-1")})

    def test_docker_hub_alias(self) -> None:
        s = self.load({"public": "docker.io/library/nginx:1.27"}, dockerHubCredentialArn=secret("hub"))
        assert s.repository.credentials == {"dockerhub": secret("hub")}
        same = self.load({"public": "docker.io/library/nginx:1.27"}, dockerHubCredentialArn=secret("hub"),
                         upstreamCredentials={"dockerhub": secret("hub")})
        assert same.repository.credentials == {"dockerhub": secret("hub")}
