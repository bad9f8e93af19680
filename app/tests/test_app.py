"""The sample app without AWS: service mode over real HTTP, job mode against moto's S3."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from app.__main__ import MIGRATION_KEY, SCHEMA_VERSION, health, main, make_server, migrate, render_config, run_job

DOCKERFILE = Path(__file__).resolve().parent.parent / "Dockerfile"


@pytest.fixture
def server() -> Iterator[int]:
    srv = make_server(0, host="127.0.0.1")
    # A short poll: shutdown() waits for the loop to notice, half a second at the default.
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


class TestServiceMode:
    def test_health(self, server: int) -> None:
        assert get(server, "/health") == (200, {"status": "ok"})

    def test_root_and_404(self, server: int) -> None:
        status, body = get(server, "/")
        assert status == 200 and "host" in body
        assert get(server, "/nope")[0] == 404

    def test_health_command(self, server: int) -> None:
        assert health(server) == 0

    def test_health_command_fails_without_server(self) -> None:
        srv = make_server(0, host="127.0.0.1")
        port = srv.server_address[1]
        srv.server_close()
        assert health(port, timeout=0.5) == 1


class TestJobMode:
    @mock_aws
    def test_writes_result_object(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("JOB_NAME", "nightly")
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="out")
        key = run_job("out", s3, now=datetime(2026, 11, 28, 3, 0, tzinfo=UTC))
        assert key == "results/20261128T030000Z.json"
        body = json.loads(s3.get_object(Bucket="out", Key=key)["Body"].read())
        assert body["job"] == "nightly" and body["finishedAt"].startswith("2026-11-28T03:00")

    def test_missing_bucket_setting_exits_2(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("OUTPUT_BUCKET", raising=False)
        assert main(["job"]) == 2

    def test_unknown_mode_exits_2(self) -> None:
        assert main(["dance"]) == 2

    @mock_aws
    def test_job_mode_end_to_end(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="results-bucket")
        monkeypatch.setenv("OUTPUT_BUCKET", "results-bucket")
        assert main(["job"]) == 0
        listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket="results-bucket")
        assert listed["KeyCount"] == 1


class TestRenderConfig:
    def test_proxy_config_writes_only_to_its_directory(self, tmp_path: Path) -> None:
        conf = render_config(tmp_path / "rendered", 8080, 8443).read_text()
        assert "listen 8443;" in conf and "proxy_pass http://127.0.0.1:8080;" in conf
        paths = [line.split()[1].rstrip(";") for line in conf.splitlines()
                 if line.strip().startswith(("pid ", "client_body_temp_path", "proxy_temp_path"))]
        assert len(paths) == 3 and all(p.startswith(str(tmp_path / "rendered")) for p in paths)

    def test_mode_reads_its_environment(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("RENDER_DIR", str(tmp_path))
        monkeypatch.setenv("PROXY_PORT", "9443")
        monkeypatch.setenv("PORT", "9080")
        assert main(["render-config"]) == 0
        assert "listen 9443;" in (tmp_path / "nginx.conf").read_text()


class TestMigrateMode:
    """What the dev stack's `web` runs before it moves to a new task definition (`beforeDeploy`)."""

    @mock_aws
    def test_records_the_schema_version_and_is_idempotent(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="out")
        monkeypatch.setenv("OUTPUT_BUCKET", "out")
        assert main(["migrate"]) == 0 and main(["migrate"]) == 0
        listed = s3.list_objects_v2(Bucket="out")
        assert [o["Key"] for o in listed["Contents"]] == [MIGRATION_KEY]
        assert json.loads(s3.get_object(Bucket="out", Key=MIGRATION_KEY)["Body"].read())["version"] == SCHEMA_VERSION

    def test_without_a_bucket_it_only_logs(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("OUTPUT_BUCKET", raising=False)
        record = migrate(None, s3=object(), now=datetime(2026, 11, 28, tzinfo=UTC))  # s3 unused: no call made
        assert record["version"] == SCHEMA_VERSION and record["appliedAt"].startswith("2026-11-28")
        assert main(["migrate"]) == 0


class TestDockerfile:
    """No Docker engine here: the Dockerfile's promises are checked by reading it."""

    def test_runs_as_non_root(self) -> None:
        lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
        users = [line.split()[1] for line in lines if line.startswith("USER ")]
        assert users and users[-1].split(":")[0] not in ("0", "root")
        final_stage = DOCKERFILE.read_text().rsplit("FROM ", 1)[1]
        assert "USER 10001" in final_stage

    def test_multi_stage_and_read_only_friendly(self) -> None:
        text = DOCKERFILE.read_text()
        assert text.count("\nFROM ") + text.startswith("FROM ") >= 2
        assert "PYTHONDONTWRITEBYTECODE=1" in text
        assert 'ENTRYPOINT ["python", "-m", "app"]' in text
