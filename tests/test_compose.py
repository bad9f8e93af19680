"""docker-compose files as services and jobs: each form of each key, what is refused, what is noted."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from settings import Settings, SettingsError
from settings.compose import duration_seconds, fargate_size, size_mib
from tests.support import ROOT, preview, task_definition_problems

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
HUB = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/hub-AbCdEf"

FULL = """
services:
  web:
    build: ./app
    command: python -m app serve --port 8080
    environment:
      LOG_LEVEL: info
      DEBUG: false
      WORKERS: 4
    env_file: web.env
    ports: ["80:8080", "127.0.0.1:9090:9090/tcp"]
    healthcheck:
      test: ["CMD", "python", "-m", "app", "health"]
      interval: 1m30s
      timeout: 10s
      retries: 5
      start_period: 500ms
    deploy:
      replicas: 3
      resources: {limits: {cpus: "0.3", memory: 700M}}
    secrets: [db_password, {source: api_key, target: API_TOKEN}]
    read_only: true
    user: "10001:10001"
    platform: linux/arm64
    depends_on: [cache]
    volumes: ["cache-data:/srv/cache"]
    tmpfs: /run
    restart: always
  cache:
    image: public.ecr.aws/docker/library/redis:7.2
    entrypoint: ["redis-server"]
    command: "--save '' --appendonly no"
    environment: ["MAXMEMORY=64mb", "POLICY=allkeys-lru"]
    ports:
      - target: 6379
        published: 6379
        protocol: tcp
    read_only: false
  report:
    image: nginx:1.27
    command: ["job"]
    healthcheck: {test: "curl -f localhost/ || exit 1", disable: false}
secrets:
  db_password: {external: true}
  api_key: {external: true}
volumes:
  cache-data: {}
"""


def project(tmp_path: Path, compose: str, extra: dict[str, Any] | None = None, env: str = "EXTRA=1\n") -> Path:
    (tmp_path / "docker-compose.yml").write_text(textwrap.dedent(compose))
    (tmp_path / "web.env").write_text("# comment\n" + env)
    (tmp_path / "app").symlink_to(ROOT / "app")
    return tmp_path


def load(tmp_path: Path, compose: str, settings: dict[str, Any] | None = None, jobs: list[str] | None = None,
         secrets: dict[str, str] | None = None) -> Settings:
    project(tmp_path, compose)
    data = {"compose": {"file": "docker-compose.yml", "jobs": jobs or [], "secrets": secrets or {}},
            "repository": {"dockerHubCredentialArn": HUB}, **(settings or {})}
    return Settings.from_dict(data, base_dir=tmp_path)


@pytest.fixture
def full(tmp_path: Path) -> Settings:
    return load(tmp_path, FULL, jobs=["report"], secrets={"db_password": SECRET, "api_key": SECRET})


class TestMapping:
    def test_services_and_jobs(self, full: Settings) -> None:
        assert [s.name for s in full.services] == ["web", "cache"] and [j.name for j in full.jobs] == ["report"]

    def test_build_command_environment(self, full: Settings) -> None:
        web = full.services[0]
        assert web.image.build is not None and (web.image.build.context, web.image.build.dockerfile) == (
            "app", "Dockerfile")
        assert web.command == ["python", "-m", "app", "serve", "--port", "8080"]
        assert web.environment == {"EXTRA": "1", "LOG_LEVEL": "info", "DEBUG": "false", "WORKERS": "4"}

    def test_ports_short_and_long(self, full: Settings) -> None:
        web, cache = full.services
        assert web.port is None and web.container_ports == [8080, 9090] and web.primary_port == 8080
        assert cache.port == 6379 and cache.ports is None

    def test_every_port_udp_too(self, tmp_path: Path) -> None:
        """The shape of prometheus/statsd_exporter's documented compose service: StatsD in on UDP, metrics on TCP."""
        s = load(tmp_path, """
            services:
              statsd:
                image: public.ecr.aws/x/statsd-exporter:v0.28.0
                ports: ["9125:9125/udp", "9102:9102"]
              batch:
                image: public.ecr.aws/x/batch:1
                ports: ["8080"]
            """, jobs=["batch"])
        statsd = s.services[0]
        assert [(p.port, p.protocol) for p in statsd.port_specs] == [(9125, "udp"), (9102, "tcp")]
        assert statsd.primary_port == 9102 and s.jobs[0].port_specs == []

    def test_healthcheck_forms(self, full: Settings) -> None:
        hc = full.services[0].health_check
        assert hc is not None and hc.command == ["CMD", "python", "-m", "app", "health"]
        assert (hc.interval, hc.timeout, hc.retries, hc.start_period) == (90, 10, 5, 1)
        job_hc = full.jobs[0].health_check
        assert job_hc is not None and job_hc.command == ["CMD-SHELL", "curl -f localhost/ || exit 1"]

    def test_deploy_limits_rounded_to_fargate(self, full: Settings) -> None:
        web = full.services[0]
        assert (web.cpu, web.memory_mib, web.desired_count) == (512, 1024, 3)
        assert any("cpus 0.3 and memory 700M became the Fargate size 512 cpu / 1024 MiB" in n for n in full.notes)

    def test_secrets_by_name(self, full: Settings) -> None:
        assert full.services[0].secrets == {"DB_PASSWORD": SECRET, "API_TOKEN": SECRET}

    def test_filesystem_user_platform(self, full: Settings) -> None:
        web, cache = full.services[0], full.services[1]
        assert web.readonly_root_filesystem is True and cache.readonly_root_filesystem is False
        assert web.writable_paths == ["/tmp", "/srv/cache", "/run"]
        assert web.user == "10001:10001" and web.arch == "ARM64"
        assert full.jobs[0].readonly_root_filesystem is True
        assert any("report: read_only not set" in n for n in full.notes)

    def test_images_and_entrypoint(self, full: Settings) -> None:
        cache, report = full.services[1], full.jobs[0]
        assert cache.image.public == "public.ecr.aws/docker/library/redis:7.2"
        assert cache.entrypoint == ["redis-server"] and cache.command == ["--save", "", "--appendonly", "no"]
        assert cache.environment == {"MAXMEMORY": "64mb", "POLICY": "allkeys-lru"}
        assert report.image.public == "docker.io/library/nginx:1.27"

    def test_notes_for_what_is_left_out(self, full: Settings) -> None:
        notes = "\n".join(full.notes)
        assert "web: restart left out" in notes
        assert "depends_on cache left out" in notes
        assert "published host ports have no meaning" in notes

    def test_explicit_entries_win(self, tmp_path: Path) -> None:
        s = load(tmp_path, FULL, settings={"jobs": [{"name": "report", "schedule": "rate(1 day)", "cpu": 1024}]},
                 jobs=["report"], secrets={"db_password": SECRET, "api_key": SECRET})
        report = s.jobs[0]
        assert report.schedule == "rate(1 day)" and report.cpu == 1024 and report.image.public
        assert any("job 'report' is also in the settings" in n for n in s.notes)

    def test_names_are_made_valid(self, tmp_path: Path) -> None:
        s = load(tmp_path, "services:\n  My_Worker:\n    image: public.ecr.aws/x/y:1\n")
        assert s.services[0].name == "my-worker" and any("named 'my-worker'" in n for n in s.notes)

    @pytest.mark.parametrize("value,seconds", [("30s", 30), ("1m30s", 90), ("2h", 7200), ("500ms", 1), (15, 15)])
    def test_durations(self, value: Any, seconds: int) -> None:
        assert duration_seconds(value) == seconds

    @pytest.mark.parametrize("value,mib", [("512M", 512), ("1g", 1024), ("1.5GB", 1536), (1073741824, 1024)])
    def test_sizes(self, value: Any, mib: float) -> None:
        assert size_mib(value) == mib

    @pytest.mark.parametrize("cpus,memory,size", [(None, None, (256, 512)), (0.25, 2048, (256, 2048)),
                                                  (0.25, 3000, (512, 3072)), (4, 8000, (4096, 8192)),
                                                  (9, None, (16384, 32768))])
    def test_smallest_fargate_size(self, cpus: float | None, memory: float | None, size: tuple[int, int]) -> None:
        assert fargate_size(cpus, memory) == size


class TestRefused:
    @pytest.mark.parametrize("service,message", [
        ({"image": "public.ecr.aws/x/y:1", "privileged": True}, "services.w.privileged: Fargate does not run"),
        ({"image": "public.ecr.aws/x/y:1", "network_mode": "host"}, "services.w.network_mode: 'host'"),
        ({"image": "public.ecr.aws/x/y:1", "devices": ["/dev/sda"]}, "services.w.devices"),
        ({"image": "public.ecr.aws/x/y:1", "volumes": ["./data:/data"]}, "binds a host path"),
        ({"image": "public.ecr.aws/x/y:1", "volumes": [{"type": "bind", "source": "/x", "target": "/y"}]},
         "binds a host path"),
        ({"image": "public.ecr.aws/x/y:1", "cap_add": ["NET_ADMIN"]}, "NET_ADMIN: Fargate only allows adding"),
        ({"image": "public.ecr.aws/x/y:1", "frobnicate": 1}, "services.w.frobnicate: not supported"),
        ({"image": "ghcr.io/org/app:1"}, "cannot reach"),
        ({"image": "public.ecr.aws/x/y:1", "ports": ["53:53/sctp"]}, "only TCP and UDP"),
        ({"image": "public.ecr.aws/x/y:1", "environment": ["FROM_HOST"]}, "environment.FROM_HOST: takes its value"),
        ({"image": "public.ecr.aws/x/y:1", "secrets": ["nope"]}, "'nope' has no ARN in compose.secrets"),
        ({"image": "public.ecr.aws/x/y:1", "platform": "linux/s390x"}, "platform: 'linux/s390x'"),
        ({"build": {"context": "app", "args": {"A": 1}}}, "build.args: not supported"),
        ({"image": "public.ecr.aws/x/y:1", "deploy": {"resources": {"limits": {"cpus": "32"}}}},
         "no Fargate size"),
    ])
    def test_refused_with_service_and_key(self, tmp_path: Path, service: dict[str, Any], message: str) -> None:
        with pytest.raises(SettingsError) as info:
            load(tmp_path, json.dumps({"services": {"w": service}}))
        text = str(info.value)
        assert text.startswith("settings: compose: docker-compose.yml: ") and message in text

    def test_docker_hub_needs_credentials(self, tmp_path: Path) -> None:
        project(tmp_path, "services:\n  w:\n    image: nginx:1.27\n")
        with pytest.raises(SettingsError, match="dockerHubCredentialArn"):
            Settings.from_dict({"compose": {"file": "docker-compose.yml"}}, base_dir=tmp_path)

    def test_unknown_job_name(self, tmp_path: Path) -> None:
        with pytest.raises(SettingsError, match="compose: docker-compose.yml: jobs: nightly not in"):
            load(tmp_path, "services:\n  w:\n    image: public.ecr.aws/x/y:1\n", jobs=["nightly"])

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(SettingsError, match="cannot read 'docker-compose.yml'"):
            Settings.from_dict({"compose": {"file": "docker-compose.yml"}}, base_dir=tmp_path)


class TestDeployable:
    """What compose produces passes the mandatory policies and the ECS API's input validation."""

    def test_through_the_offline_preview(self, tmp_path: Path, project_copy: Any) -> None:
        directory = project_copy({"compose": {"file": "docker-compose.yml", "jobs": ["report"],
                                              "secrets": {"db_password": SECRET, "api_key": SECRET}},
                                  "repository": {"dockerHubCredentialArn": HUB},
                                  "network": {"extraEndpoints": ["secretsmanager"]}})
        (directory / "docker-compose.yml").write_text(textwrap.dedent(FULL))
        (directory / "web.env").write_text("EXTRA=1\n")
        # Docker Hub images come through the pull-through cache, whose cached tags follow upstream (README).
        (directory / "policy").mkdir()
        (directory / "policy" / "config.t.json").write_text(json.dumps({
            "ecr-immutable-tags": {"allowMutablePullThroughCache": True}}))
        result = preview("--project-dir", directory, "--stack", "t", "--mode", "up", "--json")
        assert result.returncode == 0, result.stderr
        report = result.report
        assert [v for v in report["violations"] if v["level"] == "mandatory"] == []
        assert any("became the Fargate size 512 cpu / 1024 MiB" in n for n in report["notes"])
        tds = [r for r in report["resources"] if r["type"] == "aws:ecs/taskDefinition:TaskDefinition"]
        assert len(tds) == 3
        for td in tds:
            assert task_definition_problems(td) == ""
        cache = next(json.loads(t["inputs"]["containerDefinitions"])[0] for t in tds
                     if t["name"] == "service-cache-task")
        assert cache["entryPoint"] == ["redis-server"]


class TestRealWorldFiles:
    """Forms seen in real compose files: variables, .env, odd keys; each either mapped, noted or refused."""

    def test_variables_from_dotenv_and_defaults(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("FROM_PROCESS", "p")
        (tmp_path / ".env").write_text("TAG=7.2\nexport DB_HOST=db.internal  # inline comment\n")
        compose = """
            services:
              cache:
                image: public.ecr.aws/docker/library/redis:${TAG}
                environment:
                  HOST: ${DB_HOST}
                  MODE: ${MODE:-fast}
                  PRICE: costs $$5
                  BOTH: ${FROM_PROCESS}-$FROM_PROCESS
        """
        s = load(tmp_path, compose)
        cache = s.services[0]
        assert cache.image.public == "public.ecr.aws/docker/library/redis:7.2"
        assert cache.environment == {"HOST": "db.internal", "MODE": "fast", "PRICE": "costs $5", "BOTH": "p-p"}

    @pytest.mark.parametrize("value,message", [
        ("${MISSING}", "variable MISSING is not set; give it in .env"),
        ("${MISSING:?the password}", "variable MISSING is not set: the password"),
    ])
    def test_unset_variables_are_errors(self, tmp_path: Path, value: str, message: str) -> None:
        with pytest.raises(SettingsError, match=message):
            load(tmp_path, f"services:\n  w:\n    image: public.ecr.aws/x/y:1\n    environment: {{A: '{value}'}}\n")

    def test_env_file_export_and_comments(self, tmp_path: Path) -> None:
        project(tmp_path, "services:\n  w:\n    image: public.ecr.aws/x/y:1\n    env_file: web.env\n",
                env="export A=1\nB='two words' \nC=3 # comment\n")
        s = Settings.from_dict({"compose": {"file": "docker-compose.yml"}}, base_dir=tmp_path)
        assert s.services[0].environment == {"A": "1", "B": "two words", "C": "3"}

    def test_privileged_false_is_fine(self, tmp_path: Path) -> None:
        s = load(tmp_path, "services:\n  w:\n    image: public.ecr.aws/x/y:1\n    privileged: false\n")
        assert s.services[0].name == "w"

    @pytest.mark.parametrize("service,message", [
        ({"image": "public.ecr.aws/x/y:1", "ports": [{"published": 8080}]}, "expected one container port"),
        ({"image": "public.ecr.aws/x/y:1", "ports": [{"target": 80, "bogus": 1}]}, "ports.bogus"),
        ({"image": "public.ecr.aws/x/y:1", "expose": ["3000-3005"]}, "expected one container port"),
        ({"image": "public.ecr.aws/x/y:1", "healthcheck": "curl localhost"}, "healthcheck: expected a mapping"),
        ({"image": "public.ecr.aws/x/y:1", "deploy": {"resources": {"reservations": {"devices": [
            {"capabilities": ["gpu"]}]}}}}, "Fargate has no GPUs"),
    ])
    def test_malformed_is_one_line(self, tmp_path: Path, service: dict[str, Any], message: str) -> None:
        with pytest.raises(SettingsError) as info:
            load(tmp_path, json.dumps({"services": {"w": service}}))
        assert message in str(info.value) and "\n" not in str(info.value)

    def test_include_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(SettingsError, match="include: not supported"):
            load(tmp_path, "include: [other.yml]\nservices:\n  w:\n    image: public.ecr.aws/x/y:1\n")

    def test_notes_for_jobs_ports_volumes_and_unreachable(self, tmp_path: Path) -> None:
        compose = """
            services:
              db:
                image: public.ecr.aws/docker/library/postgres:16
                volumes: ["pgdata:/var/lib/postgresql/data:ro"]
              migrate:
                image: public.ecr.aws/x/y:1
                ports: ["8080"]
                deploy: {replicas: 2}
                secrets: [{source: pw, target: /run/secrets/db_password, mode: 0400}]
            volumes: {pgdata: {}}
        """
        s = load(tmp_path, compose, jobs=["migrate"], secrets={"pw": SECRET})
        notes = "\n".join(s.notes)
        assert "db: no ports or expose: other services cannot reach it" in notes
        assert "migrate: port left out: it is a job" in notes and "migrate: desiredCount left out" in notes
        assert "volume /var/lib/postgresql/data is mounted writable" in notes
        assert "jobs run outside Service Connect" in notes
        assert s.jobs[0].secrets == {"DB_PASSWORD": SECRET}
