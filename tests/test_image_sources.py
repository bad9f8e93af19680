"""Images from other registries in the whole program: the cache rule per upstream, its credentials, the
deploy-time step, the task definition's dependency on it, and the execution role's exact grants."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.image_steps import reference_tag
from components.naming import physical_name
from components.resolver import CACHE_ACTIONS, PULL_ACTIONS
from settings import SettingsError
from tests.support import (
    CACHE_RULE,
    ROLE,
    ROLE_POLICY,
    TASK_DEF,
    TEMPLATE,
    UNKNOWN,
    Registered,
    program,
)
from tools.preview.child import ProgramFailed

ACCOUNT = "123456789012"
REGISTRY = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
WARM = "pulumi-python:dynamic/images:CacheWarm"
MIRROR = "pulumi-python:dynamic/images:ImageMirror"
DIGEST = "sha256:" + "4f" * 32


def secret(name: str, region: str = "us-east-1", account: str = ACCOUNT) -> str:
    return f"arn:aws:secretsmanager:{region}:{account}:secret:ecr-pullthroughcache/{name}-AbCdEf"


CREDENTIALS = {k: secret(k) for k in ("dockerhub", "ghcr", "gitlab", "acr")}

#: reference, credential key, upstream URL, prefix suffix, cached repository path (the shapes of images
#: real compose files use: Bitnami/Quay, the Kubernetes pause image, GitHub and GitLab packages, an Azure registry).
UPSTREAM_CASES = [
    ("public.ecr.aws/docker/library/python:3.12-slim", None, "public.ecr.aws", "ecr-public", "docker/library/python"),
    ("quay.io/prometheus/prometheus:v2.53.0", None, "quay.io", "quay", "prometheus/prometheus"),
    ("registry.k8s.io/pause:3.10", None, "registry.k8s.io", "k8s", "pause"),
    ("docker.io/nginx:1.27", "dockerhub", "registry-1.docker.io", "docker-hub", "library/nginx"),
    ("ghcr.io/org/app:1.2.3", "ghcr", "ghcr.io", "ghcr", "org/app"),
    ("registry.gitlab.com/group/project/app:2.0", "gitlab", "registry.gitlab.com", "gitlab", "group/project/app"),
    ("myregistry.azurecr.io/team/api:5", "acr", "myregistry.azurecr.io", "acr-myregistry", "team/api"),
]


def run(image: dict[str, Any], *, mode: str = "preview", region: str = "us-east-1", **extra: Any) -> Registered:
    return program({"repository": {"upstreamCredentials": CREDENTIALS},
                    "jobs": [{"name": "j", "image": image}], **extra}, mode=mode, region=region)


def execution_statements(r: Registered, name: str = "j") -> list[dict[str, Any]]:
    return json.loads(r.one(ROLE_POLICY, f"job-{name}-execution")["inputs"]["policy"])["Statement"]


def image_of(r: Registered, name: str = "j") -> str:
    definitions = r.one(TASK_DEF, f"job-{name}-task")["inputs"]["containerDefinitions"]
    return definitions if definitions == UNKNOWN else json.loads(definitions)[0]["image"]


class TestCachedUpstreams:
    """Every upstream ECR's pull-through cache supports: rule, credentials, warm step, dependency, grants."""

    @pytest.mark.parametrize("reference,credential,url,suffix,path", UPSTREAM_CASES,
                             ids=[c[3] for c in UPSTREAM_CASES])
    def test_upstream(self, reference: str, credential: str | None, url: str, suffix: str, path: str) -> None:
        r = run({"public": reference})
        rule = r.one(CACHE_RULE)["inputs"]
        prefix = physical_name("private-fargate", "dev", suffix, max_len=30)
        assert rule["upstreamRegistryUrl"] == url and rule["ecrRepositoryPrefix"] == prefix and len(prefix) <= 30
        assert rule.get("credentialArn") == (CREDENTIALS[credential] if credential else None)
        template = r.one(TEMPLATE)["inputs"]
        assert template["prefix"] == prefix and template["appliedFors"] == ["PULL_THROUGH_CACHE"]
        warm = r.one(WARM)
        repository = f"{prefix}/{path}"
        tag = reference.rsplit(":", 1)[1]
        assert {k: warm["inputs"][k] for k in ("kind", "repository", "tag", "registry", "reference")} == {
            "kind": "warm", "repository": repository, "tag": tag, "registry": REGISTRY,
            "reference": reference.replace("docker.io/nginx", "docker.io/library/nginx")}
        # The warm runs after the rule and template exist, the task definition after the warm.
        assert {r.one(CACHE_RULE)["urn"], r.one(TEMPLATE)["urn"]} <= set(warm["dependencies"])
        assert warm["urn"] in r.one(TASK_DEF, "job-j-task")["dependencies"]
        assert image_of(r) == f"{REGISTRY}/{repository}:{tag}"
        login, pull, _logs = execution_statements(r)
        assert login == {"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"],
                         "Resource": ["*"]}
        assert pull == {"Sid": "PullImage", "Effect": "Allow", "Action": sorted(PULL_ACTIONS + CACHE_ACTIONS),
                        "Resource": [f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{repository}"]}

    def test_a_pinned_digest_is_pulled_by_digest_with_pull_grants_only(self) -> None:
        r = run({"public": f"ghcr.io/org/app:1.2.3@{DIGEST}"})
        warm = r.one(WARM)["inputs"]
        assert (warm["tag"], warm["referenceDigest"]) == ("1.2.3", DIGEST)  # warmed by tag, checked by digest
        assert image_of(r) == f"{REGISTRY}/private-fargate-dev-ghcr/org/app@{DIGEST}"
        assert execution_statements(r)[1]["Action"] == sorted(PULL_ACTIONS)

    def test_digest_only_is_mirrored(self) -> None:
        r = run({"public": f"quay.io/org/app@{DIGEST}"})
        assert r.of_type(WARM) == [] and r.of_type(CACHE_RULE) == []
        mirror = r.one(MIRROR)["inputs"]
        assert (mirror["sourceHost"], mirror["sourcePath"], mirror["referenceDigest"]) == ("quay.io", "org/app", DIGEST)
        assert image_of(r) == f"{REGISTRY}/private-fargate-dev@{DIGEST}"

    def test_one_rule_and_one_step_per_image_whatever_the_workloads(self) -> None:
        r = program({"repository": {"upstreamCredentials": CREDENTIALS}, "jobs": [
            {"name": "a", "image": {"public": "ghcr.io/org/app:1"}},
            {"name": "b", "image": {"public": "ghcr.io/org/app:1"}},
            {"name": "c", "image": {"public": "ghcr.io/org/other:1"}}]})
        assert len(r.of_type(CACHE_RULE)) == 1 and len(r.of_type(WARM)) == 2
        a, b = (r.one(TASK_DEF, f"job-{n}-task")["dependencies"] for n in "ab")
        assert {u for u in a if WARM in u} == {u for u in b if WARM in u}

    def test_pin_at_deploy_uses_the_digest_the_warm_found(self) -> None:
        image = {"public": "docker.io/library/redis", "pinAtDeploy": True}
        preview, up = run(image), run(image, mode="up")
        assert image_of(preview) == UNKNOWN  # known once the step ran
        digest = up.one(WARM)["outputs"]["digest"]
        assert image_of(up) == f"{REGISTRY}/private-fargate-dev-docker-hub/library/redis@{digest}"
        assert preview.one(WARM)["inputs"]["tag"] == "latest"
        assert execution_statements(up)[1]["Action"] == sorted(PULL_ACTIONS)

    def test_template_role_trusts_ecr_as_aws_documents_it(self) -> None:
        r = run({"public": "quay.io/org/app:1"})
        trust = json.loads(r.one(ROLE, "registry-cache-template")["inputs"]["assumeRolePolicy"])
        assert trust == {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
            "Service": "ecr.amazonaws.com"}, "Action": "sts:AssumeRole"}]}

    def test_govcloud_mirrors_public_images(self) -> None:
        r = program({"jobs": [{"name": "j", "image": {"public": "public.ecr.aws/nginx/nginx:1.27"}}]},
                    region="us-gov-west-1")
        assert r.of_type(CACHE_RULE) == [] and r.of_type(WARM) == []
        assert r.one(MIRROR)["inputs"]["sourceHost"] == "public.ecr.aws"
        assert any("aws-us-gov has no pull-through cache" in n for n in r.notes)

    def test_credential_of_another_account_fails_before_any_resource(self) -> None:
        with pytest.raises(ProgramFailed, match=r"repository\.upstreamCredentials\.ghcr: the secret is in account "
                                                r"210987654321") as info:
            program({"repository": {"upstreamCredentials": {"ghcr": secret("gh", account="210987654321")}},
                     "jobs": [{"name": "j", "image": {"public": "ghcr.io/org/app:1"}}]})
        assert [r for r in info.value.resources if r["type"] != "pulumi:pulumi:Stack"] == []


class TestMirroredImages:
    """`mirror`: any registry, copied into the stack's repository at deploy; the task pulls it from there."""

    def test_mcr_image(self) -> None:
        r = run({"mirror": "mcr.microsoft.com/dotnet/aspnet:8.0"})
        mirror = r.one(MIRROR)
        tag = reference_tag("mcr.microsoft.com/dotnet/aspnet:8.0")
        assert {k: mirror["inputs"].get(k) for k in ("kind", "repository", "sourceHost", "sourcePath", "tag",
                                                     "referenceTag", "credentialArn")} == {
            "kind": "mirror", "repository": "private-fargate-dev", "sourceHost": "mcr.microsoft.com",
            "sourcePath": "dotnet/aspnet", "tag": "8.0", "referenceTag": tag, "credentialArn": None}
        assert mirror["urn"] in r.one(TASK_DEF, "job-j-task")["dependencies"]
        assert image_of(r) == f"{REGISTRY}/private-fargate-dev:{tag}" and tag.startswith("pin-ref-")
        assert execution_statements(r)[1]["Action"] == sorted(PULL_ACTIONS)
        assert execution_statements(r)[1]["Resource"] == [
            f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/private-fargate-dev"]
        assert r.of_type(CACHE_RULE) == []

    def test_mirror_signs_in_with_the_upstream_secret(self) -> None:
        r = run({"mirror": "ghcr.io/org/private:3"})
        assert r.one(MIRROR)["inputs"]["credentialArn"] == CREDENTIALS["ghcr"]
        assert r.one(MIRROR)["inputs"]["sourceHost"] == "ghcr.io"

    def test_docker_hub_mirror_reads_the_registry_host(self) -> None:
        assert run({"mirror": "nginx:1.27"}).one(MIRROR)["inputs"]["sourceHost"] == "registry-1.docker.io"


class TestBadInput:
    """One line naming the key, nothing registered."""

    @pytest.mark.parametrize("image,fragment", [
        ({"public": "mcr.microsoft.com/dotnet/aspnet:8.0"}, "does not support mcr.microsoft.com"),
        ({"public": "ghcr.io/org/app@sha256:abc"}, "64 lowercase hex"),
        ({"public": "ghcr.io/org/app:latest"}, "pinAtDeploy"),
        ({"mirror": "mcr.microsoft.com/dotnet/aspnet"}, "untagged"),
        ({"build": "app", "pinAtDeploy": True}, "pinAtDeploy: only for public and mirror"),
    ])
    def test_refused(self, image: dict[str, Any], fragment: str) -> None:
        with pytest.raises(ProgramFailed, match="settings: jobs") as info:
            program({"jobs": [{"name": "j", "image": image}]})
        assert fragment in str(info.value) and "\n" not in str(info.value)
        assert [r for r in info.value.resources if r["type"] != "pulumi:pulumi:Stack"] == []

    def test_credential_outside_the_prefix(self) -> None:
        with pytest.raises(ProgramFailed, match=r"repository\.upstreamCredentials\.ghcr: .*ecr-pullthroughcache/"):
            program({"repository": {"upstreamCredentials": {
                "ghcr": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:github-token-AbCdEf"}}})

    def test_upstream_without_its_credentials(self) -> None:
        with pytest.raises(ProgramFailed, match=r"jobs\[0\]\.image\.public: GitHub Container Registry images need "
                                                r"repository\.upstreamCredentials\.ghcr"):
            program({"jobs": [{"name": "j", "image": {"public": "ghcr.io/org/app:1"}}]})

    def test_cached_repository_name_over_ecr_limit(self) -> None:
        path = "/".join(["a" * 60] * 4)
        with pytest.raises(ProgramFailed, match=r"jobs\[0\]\.image\.public: the cached repository .* over ECR's 256"):
            program({"jobs": [{"name": "j", "image": {"public": f"quay.io/{path}:1"}}]})

    def test_two_docker_hub_secrets(self) -> None:
        with pytest.raises(SettingsError, match="repository.dockerHubCredentialArn: differs"):
            from settings import Settings
            Settings.from_dict({"repository": {"dockerHubCredentialArn": secret("a"),
                                               "upstreamCredentials": {"dockerhub": secret("b")}}})


class TestCacheResources:
    """The cache's prefixes, creation templates and their role."""

    def test_prefix_carries_the_stack_and_fits_ecr(self) -> None:
        dev = program({"jobs": [{"name": "j", "image": {"public": "quay.io/org/app:1"}}]})
        prod = program({"jobs": [{"name": "j", "image": {"public": "quay.io/org/app:1"}}]}, stack="production-eu")
        dev_prefix, prod_prefix = (x.one(CACHE_RULE)["inputs"]["ecrRepositoryPrefix"] for x in (dev, prod))
        assert dev_prefix != prod_prefix and "dev" in dev_prefix and len(prod_prefix) <= 30

    def test_templates_encrypt_tag_and_expire_like_the_repository(self) -> None:
        kms = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        r = program({"repository": {"kmsKeyArn": kms, "upstreamCredentials": CREDENTIALS}, "jobs": [
            {"name": "a", "image": {"public": "public.ecr.aws/nginx/nginx:1.27"}},
            {"name": "b", "image": {"public": "docker.io/library/redis:7"}}]})
        prefixes = sorted(c["inputs"]["ecrRepositoryPrefix"] for c in r.of_type(CACHE_RULE))
        for template in r.of_type(TEMPLATE):
            inputs = template["inputs"]
            # upstream tags move, the pin tags tasks use never do
            assert inputs["prefix"] in prefixes and inputs["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION"
            assert inputs["imageTagMutabilityExclusionFilters"] == [{"filter": "pin-*", "filterType": "WILDCARD"}]
            assert inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": kms}]
            assert json.loads(inputs["lifecyclePolicy"])["rules"][0]["selection"]["tagPatternList"] == ["pin-*"]
            assert inputs["resourceTags"]["stack"] == "dev"
        create, encrypt = json.loads(r.one(ROLE_POLICY, "registry-cache-template")["inputs"]["policy"])["Statement"]
        assert create["Action"] == ["ecr:CreateRepository", "ecr:TagResource"]
        assert create["Resource"] == [f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{p}/*" for p in prefixes]
        assert encrypt["Resource"] == [kms]
