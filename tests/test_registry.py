"""ContainerRepository and the image resolver: URIs a private task can pull, and only the grants it needs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from components.context import StackContext
from components.registry import (
    PULL_ACTIONS,
    ContainerRepository,
    ContainerRepositoryArgs,
    ImageResolver,
    context_hash,
    lifecycle_policy,
)
from settings import Settings, SettingsError
from tests.support import (
    CACHE_RULE,
    IMAGE,
    LIFECYCLE,
    REPO,
    ROOT,
    TEMPLATE,
    UNKNOWN,
    Registered,
    run_main,
    simulate,
)
from tools.preview.child import ProgramFailed

CTX = StackContext("private-fargate", "dev", "us-east-1", "123456789012")
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
HUB_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/hub-AbCdEf"


def job(image: dict[str, Any], name: str = "j", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **extra}


def resolver(data: dict[str, Any], base_dir: Path = ROOT, ctx: StackContext = CTX) -> ImageResolver:
    settings = Settings.from_dict(data, project=ctx.project, stack=ctx.stack, region=ctx.region, base_dir=base_dir)
    return ImageResolver(settings, ctx, base_dir)


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    ctx = tmp_path / "svc"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM public.ecr.aws/docker/library/python:3.12-slim\nCOPY . /srv\n")
    (ctx / "main.py").write_text("print('v1')\n")
    (ctx / ".dockerignore").write_text("notes/\n*.log\n")
    return tmp_path


def check_lifecycle_json(text: str) -> list[dict[str, Any]]:
    """The rules ECR itself enforces on a lifecycle policy document."""
    rules = json.loads(text)["rules"]
    priorities = [r["rulePriority"] for r in rules]
    assert priorities == sorted(set(priorities)) and all(isinstance(p, int) and p >= 1 for p in priorities)
    for rule in rules:
        sel = rule["selection"]
        assert set(rule) <= {"rulePriority", "description", "selection", "action"}
        assert rule["action"] == {"type": "expire"}
        assert sel["tagStatus"] in ("tagged", "untagged", "any")
        assert sel["countType"] in ("imageCountMoreThan", "sinceImagePushed")
        assert isinstance(sel["countNumber"], int) and sel["countNumber"] >= 1
        assert ("countUnit" in sel) == (sel["countType"] == "sinceImagePushed")
        if sel["tagStatus"] == "tagged":
            assert sel.get("tagPatternList") or sel.get("tagPrefixList")
        if sel["tagStatus"] == "any":
            assert rule["rulePriority"] == max(priorities)
    return rules


class TestRepository:
    """The stack repository: immutable tags, scan on push, encryption, lifecycle, protection."""

    def build(self, **overrides: Any) -> Registered:
        args = ContainerRepositoryArgs(context=CTX, name="team-app", keep_images=15, untagged_expiry_days=3,
                                       tags={"project": "private-fargate", "stack": "dev"}, **overrides)
        return simulate(lambda: ContainerRepository("registry", args))

    def test_repository_settings(self) -> None:
        repo = self.build().one(REPO)["inputs"]
        assert repo["name"] == "team-app" and repo["imageTagMutability"] == "IMMUTABLE"
        assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo["encryptionConfigurations"] == [{"encryptionType": "AES256"}]
        assert repo["forceDelete"] is False
        assert repo["tags"]["project"] == "private-fargate"

    def test_kms_encryption(self) -> None:
        repo = self.build(kms_key_arn=KMS).one(REPO)["inputs"]
        assert repo["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": KMS}]

    @pytest.mark.parametrize("protect", [True, False])
    def test_protect_maps_to_protect_and_retain(self, protect: bool) -> None:
        run = self.build(protect=protect)
        repo = run.one(REPO)
        assert (repo["protect"], repo["retainOnDelete"]) == (protect, protect)
        assert run.one(LIFECYCLE)["protect"] is False

    def test_lifecycle_policy(self) -> None:
        run = self.build()
        policy = run.one(LIFECYCLE)
        assert policy["propertyDependencies"]["repository"] == [run.one(REPO)["urn"]]
        pinned, untagged, tagged = check_lifecycle_json(policy["inputs"]["policy"])
        # Rule 1 selects every pin-* image and never reaches its count; no lower rule may expire them.
        assert pinned["selection"] == {"tagStatus": "tagged", "tagPatternList": ["pin-*"],
                                       "countType": "imageCountMoreThan", "countNumber": 10000}
        assert pinned["rulePriority"] < untagged["rulePriority"] < tagged["rulePriority"]
        assert untagged["selection"] == {"tagStatus": "untagged", "countType": "sinceImagePushed",
                                         "countUnit": "days", "countNumber": 3}
        assert tagged["selection"]["tagStatus"] == "tagged"
        assert tagged["selection"]["countType"] == "imageCountMoreThan" and tagged["selection"]["countNumber"] == 15

    @pytest.mark.parametrize("keep,days", [(1, 1), (20, 7), (500, 365)])
    def test_lifecycle_json_valid_for_any_setting(self, keep: int, days: int) -> None:
        rules = check_lifecycle_json(lifecycle_policy(keep, days))
        assert [r["selection"]["countNumber"] for r in rules] == [10000, days, keep]

    def test_no_cache_without_public_images(self) -> None:
        run = self.build()
        assert run.of_type(CACHE_RULE) == [] and run.of_type(TEMPLATE) == [] and run.of_type(IMAGE) == []


class TestBuildImages:
    """`build`: content-hash tag, URI in the stack repository, pushed before tasks use it."""

    def test_uri_and_grants(self, build_dir: Path) -> None:
        r = resolver({"jobs": [job({"build": "svc"})]}, build_dir)
        img = r.images["j"]
        tag = context_hash(build_dir / "svc", "Dockerfile", "linux/amd64")
        assert img.uri == f"{REGISTRY}/private-fargate-dev:{tag}"
        assert img.repository_arns == ("arn:aws:ecr:us-east-1:123456789012:repository/private-fargate-dev",)
        assert img.actions == PULL_ACTIONS
        login, pull = img.statements()
        assert login["Action"] == ["ecr:GetAuthorizationToken"] and login["Resource"] == ["*"]
        assert pull["Resource"] == list(img.repository_arns) and sorted(pull["Action"]) == sorted(PULL_ACTIONS)

    def test_tag_follows_content(self, build_dir: Path) -> None:
        ctx = build_dir / "svc"
        first = context_hash(ctx, "Dockerfile", "linux/amd64")
        assert context_hash(ctx, "Dockerfile", "linux/amd64") == first
        (ctx / "notes").mkdir()
        (ctx / "notes" / "todo.txt").write_text("ignored by .dockerignore")
        (ctx / "run.log").write_text("ignored too")
        assert context_hash(ctx, "Dockerfile", "linux/amd64") == first
        (ctx / "main.py").write_text("print('v2')\n")
        second = context_hash(ctx, "Dockerfile", "linux/amd64")
        assert second != first
        (ctx / "main.py").write_text("print('v1')\n")
        assert context_hash(ctx, "Dockerfile", "linux/amd64") == first
        (ctx / "extra.py").write_text("")
        assert context_hash(ctx, "Dockerfile", "linux/amd64") not in (first, second)
        assert context_hash(ctx, "Dockerfile", "linux/arm64") != context_hash(ctx, "Dockerfile", "linux/amd64")

    def test_tag_independent_of_location(self, build_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
        copy = tmp_path_factory.mktemp("elsewhere") / "svc"
        shutil.copytree(build_dir / "svc", copy)
        assert context_hash(copy, "Dockerfile", "linux/amd64") == context_hash(build_dir / "svc", "Dockerfile",
                                                                                "linux/amd64")

    def test_one_build_per_context_and_platform(self, build_dir: Path) -> None:
        r = resolver({"jobs": [job({"build": "svc"}, "a"), job({"build": "svc"}, "b"),
                               job({"build": "svc"}, "c", arch="ARM64")]}, build_dir)
        assert [b.platform for b in r.builds] == ["linux/amd64", "linux/arm64"]
        assert r.images["a"].uri == r.images["b"].uri != r.images["c"].uri

    def test_same_content_is_one_image_whatever_the_path_spelling(self, build_dir: Path) -> None:
        (build_dir / "copy").mkdir()
        for f in (build_dir / "svc").iterdir():
            (build_dir / "copy" / f.name).write_bytes(f.read_bytes())
        data = {"jobs": [job({"build": "svc"}, "a"), job({"build": "./svc"}, "b"), job({"build": "copy"}, "c")]}
        r = resolver(data, build_dir)
        assert len(r.builds) == 1 and len({img.uri for img in r.images.values()}) == 1
        settings = Settings.from_dict(data, base_dir=build_dir)
        run = simulate(lambda: ContainerRepository("registry", ContainerRepositoryArgs.from_settings(settings, CTX, r)))
        assert len(run.of_type(IMAGE)) == 1

    def test_images_registered_with_tag_and_platform(self, build_dir: Path) -> None:
        r = resolver({"jobs": [job({"build": "svc"}, arch="ARM64")]}, build_dir)
        settings = Settings.from_dict({"jobs": [job({"build": "svc"}, arch="ARM64")]}, base_dir=build_dir)
        args = ContainerRepositoryArgs.from_settings(settings, CTX, r)
        run = simulate(lambda: ContainerRepository("registry", args))
        image = run.one(IMAGE)
        tag = r.builds[0].tag
        assert image["inputs"]["imageTag"] == tag and r.images["j"].uri.endswith(":" + tag)
        assert image["inputs"]["platform"] == "linux/arm64"
        assert image["inputs"]["context"] == "svc" and image["inputs"]["dockerfile"] == "svc/Dockerfile"
        assert image["propertyDependencies"]["repositoryUrl"] == [run.one(REPO)["urn"]]


class TestPrivateUri:
    """`uri`: an image already in this account's ECR, in this region, pinned."""

    def test_uri_kept_and_grants_on_its_repository(self) -> None:
        uri = f"{REGISTRY}/team/api:2.4.1"
        img = resolver({"jobs": [job({"uri": uri})]}).images["j"]
        assert img.uri == uri
        assert img.repository_arns == ("arn:aws:ecr:us-east-1:123456789012:repository/team/api",)
        assert "ecr:BatchImportUpstreamImage" not in img.actions

    def test_digest(self) -> None:
        uri = f"{REGISTRY}/team/api@sha256:{'b' * 64}"
        assert resolver({"jobs": [job({"uri": uri})]}).images["j"].repository_arns[0].endswith("repository/team/api")

    def test_other_account_rejected(self) -> None:
        with pytest.raises(SettingsError, match=r"jobs\[0\]\.image\.uri: the image is in account 210987654321 "
                                                r"but the stack runs in 123456789012"):
            resolver({"jobs": [job({"uri": "210987654321.dkr.ecr.us-east-1.amazonaws.com/x:1"})]})

    @pytest.mark.parametrize("uri,fragment", [
        ("docker.io/library/nginx:1.27", "no internet route"),
        ("nginx:1.27", "no internet route"),
        ("library/nginx:1.27", "no internet route"),
        ("ghcr.io/org/app:1.0", "image.mirror"),
        (f"{REGISTRY}/team/api:latest", "'latest' is mutable"),
        (f"{REGISTRY}/team/api", "give a tag or a digest"),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api:1", "the image is in eu-west-1"),
    ])
    def test_rejected(self, uri: str, fragment: str) -> None:
        with pytest.raises(SettingsError) as info:
            resolver({"jobs": [job({"uri": uri})]})
        assert str(info.value).startswith("settings: jobs[0].image.uri: ") and fragment in str(info.value)

    def test_other_account_fails_the_program_before_any_resource(self) -> None:
        with pytest.raises(ProgramFailed, match="account 210987654321") as info:
            simulate(run_main, {"jobs": [job({"uri": "210987654321.dkr.ecr.us-east-1.amazonaws.com/x:1"})]})
        assert [r for r in info.value.resources if r["type"] != "pulumi:pulumi:Stack"] == []


class TestProgram:
    """The registry in the whole program: outputs known at preview."""

    def test_repository_outputs_known_in_preview(self) -> None:
        run = simulate(run_main, {"jobs": [job({"public": "public.ecr.aws/nginx/nginx:1.27"})]})
        assert run.outputs["repositoryName"] == "private-fargate-dev"
        assert run.outputs["repositoryUrl"] == f"{REGISTRY}/private-fargate-dev"
        assert run.outputs["repositoryUrl"] != UNKNOWN
        assert len(run.of_type(CACHE_RULE)) == 1

    def test_repository_name_setting(self) -> None:
        run = simulate(run_main, {"repository": {"name": "team/app"}})
        assert run.one(REPO)["inputs"]["name"] == "team/app"
        assert run.outputs["repositoryUrl"].endswith("/team/app")


class TestProbeImage:
    """The image `tools.doctor --probe` runs: the sample app's, built only where Docker runs anyway."""

    @pytest.fixture
    def with_app(self, build_dir: Path) -> Path:
        shutil.copytree(ROOT / "app", build_dir / "app", ignore=shutil.ignore_patterns("tests", "__pycache__"))
        return build_dir

    def test_reuses_the_image_a_workload_builds(self, with_app: Path) -> None:
        r = resolver({"jobs": [job({"build": "./app"}, "a", arch="ARM64")]}, with_app)
        assert r.probe == r.images["a"] and len(r.builds) == 1
        assert r.probe_output == {"uri": r.images["a"].uri, "cpuArchitecture": "ARM64"}

    def test_one_more_build_beside_other_builds(self, with_app: Path) -> None:
        r = resolver({"jobs": [job({"build": "svc"}, "a")]}, with_app)
        assert [b.context for b in r.builds] == ["svc", "app"]
        assert r.probe_output == {"uri": f"{REGISTRY}/private-fargate-dev:{r.builds[1].tag}",
                                  "cpuArchitecture": "X86_64"}

    def test_none_when_the_stack_builds_nothing(self, with_app: Path) -> None:
        r = resolver({"jobs": [job({"uri": f"{REGISTRY}/team/api:1.0"})]}, with_app)
        assert r.probe is None and r.probe_output is None and r.builds == []

    def test_none_without_the_app_directory(self, build_dir: Path) -> None:
        assert resolver({"jobs": [job({"build": "svc"})]}, build_dir).probe_output is None
