"""docker-compose services as settings, continued: depends_on, ports and health, notes, refusals and credentials
(issue 16), on compose files written for the tests in the shapes of the public projects named (none is copied)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from settings import Settings, SettingsError
from settings.compose import duration_seconds, fargate_size, size_mib
from tests.support_compose import HUB, load, notes, refusal, service


class TestDependsOn:
    def test_one_shot_becomes_an_init_container(self, tmp_path: Path) -> None:
        """Plausible's shape: a migration that must complete before the app starts; the app waits for a healthy db."""
        s = load(tmp_path, """
            services:
              db: {image: "postgres:16.4", healthcheck: {test: pg_isready}}
              migrate:
                image: ghcr.io/plausible/community-edition:v2.1.4
                command: /entrypoint.sh db migrate
                depends_on: {db: {condition: service_healthy}}
              plausible:
                image: ghcr.io/plausible/community-edition:v2.1.4
                depends_on:
                  db: {condition: service_healthy}
                  migrate: {condition: service_completed_successfully}
        """)
        assert [w.name for w in s.services] == ["db", "plausible"] and not s.jobs
        plausible = service(s, "plausible")
        assert [c.name for c in plausible.init_containers] == ["migrate"]
        assert plausible.init_containers[0].command == ["/entrypoint.sh", "db", "migrate"]
        text = notes(s)
        assert "compose: services.migrate: init container migrate of plausible" in text
        assert "depends_on db (service_healthy) left out: ECS starts separate services independently" in text

    def test_one_shot_for_several_becomes_a_job(self, tmp_path: Path) -> None:
        """Sentry self-hosted's shape: several services wait for one setup step."""
        s = load(tmp_path, """
            services:
              setup: {image: "getsentry/sentry:24.1.0", command: upgrade}
              web:
                image: getsentry/sentry:24.1.0
                depends_on: &setup {setup: {condition: service_completed_successfully}}
              worker: {image: "getsentry/sentry:24.1.0", depends_on: *setup}
        """)
        assert [j.name for j in s.jobs] == ["setup"] and "python -m tools.run_task setup" in notes(s)


class TestPortsAndHealth:
    def test_ports_expose_and_udp(self, tmp_path: Path) -> None:
        """docker-mailserver's and statsd's shapes: several published TCP ports, UDP, expose, a range."""
        s = load(tmp_path, """
            services:
              mail:
                image: ghcr.io/docker-mailserver/docker-mailserver:14.0
                ports: ["25:25", "127.0.0.1:143:143", "[::1]:587:587", {target: 993, published: 993}]
                expose: ["4190", "8125/udp", "6000-6002"]
        """)
        mail = s.services[0]
        assert [(p.port, p.protocol) for p in mail.port_specs] == [
            (25, "tcp"), (143, "tcp"), (587, "tcp"), (993, "tcp"), (4190, "tcp"), (8125, "udp"), (6000, "tcp"),
            (6001, "tcp"), (6002, "tcp")]
        assert "UDP port 8125 is in the task definition" in notes(s)

    def test_health_checks_clamped(self, tmp_path: Path) -> None:
        """Immich's valkey check runs every 2 s with many retries; ECS allows interval >= 5, retries <= 10."""
        s = load(tmp_path, """
            services:
              redis:
                image: docker.io/valkey/valkey:8.0.1
                healthcheck: {test: redis-cli ping || exit 1, interval: 2s, timeout: 3m, retries: 30,
                              start_period: 10m, start_interval: 1s, disable: false}
        """)
        hc = s.services[0].health_check
        assert hc is not None and hc.command == ["CMD-SHELL", "redis-cli ping || exit 1"]
        assert (hc.interval, hc.timeout, hc.retries, hc.start_period) == (5, 60, 10, 300)
        assert "healthcheck.interval 2s became 5: ECS allows 5 to 300" in notes(s)

    def test_an_unset_timeout_keeps_composes_30_seconds(self, tmp_path: Path) -> None:
        """Mastodon's shape: `interval` and `retries` given, `timeout` not: compose waits 30 s, ECS would wait 5."""
        s = load(tmp_path, """
            services:
              web:
                image: ghcr.io/mastodon/mastodon:v4.3.0
                healthcheck: {test: ["CMD-SHELL", "wget -q --spider localhost:3000/health"], interval: 1m30s}
        """)
        hc = s.services[0].health_check
        assert hc is not None and (hc.interval, hc.timeout) == (90, 30)
        assert "healthcheck.timeout unset: 30 s, compose's default" in notes(s)

    def test_resources(self, tmp_path: Path) -> None:
        s = load(tmp_path, """
            services:
              a: {image: "x/a:1", deploy: {resources: {limits: {cpus: "0.3", memory: 700M}}, replicas: 2}}
              b: {image: "x/b:1", mem_limit: 3g, cpus: 1.5}
              c: {image: "x/c:1", deploy: {resources: {reservations: {memory: 1G}}}}
              d: {image: "x/d:1"}
        """)
        assert [(w.cpu, w.memory_mib) for w in s.services] == [(512, 1024), (2048, 4096), (256, 1024), (256, 512)]
        assert service(s, "a").desired_count == 2
        assert "compose: services.d: no cpu or memory limit: the smallest Fargate size" in notes(s)

    @pytest.mark.parametrize("cpus,memory,size", [(None, None, (256, 512)), (0.25, 2048, (256, 2048)),
                                                  (0.25, 3000, (512, 3072)), (4, 8000, (4096, 8192)),
                                                  (9, None, (16384, 32768))])
    def test_smallest_fargate_size(self, cpus: float | None, memory: float | None, size: tuple[int, int]) -> None:
        assert fargate_size(cpus, memory) == size

    @pytest.mark.parametrize("value,seconds", [("30s", 30), ("1m30s", 90), ("2h", 7200), ("500ms", 1), (15, 15)])
    def test_durations(self, value: Any, seconds: int) -> None:
        assert duration_seconds(value) == seconds

    @pytest.mark.parametrize("value,mib", [("512M", 512), ("1g", 1024), ("1.5GB", 1536), (1073741824, 1024)])
    def test_sizes(self, value: Any, mib: float) -> None:
        assert size_mib(value) == mib


class TestNotes:
    def test_harmless_keys(self, tmp_path: Path) -> None:
        """Authentik's worker and Mastodon's db: ulimits, shm_size, container_name, restart and friends."""
        s = load(tmp_path, """
            services:
              worker:
                image: ghcr.io/goauthentik/server:2024.10.4
                container_name: authentik_worker
                restart: unless-stopped
                stop_grace_period: 5m
                init: true
                working_dir: /web
                security_opt: [no-new-privileges:true]
                pids_limit: 100
                shm_size: 256mb
                ulimits: {nofile: {soft: 10240, hard: 10240}, nproc: 65535}
                labels: [traefik.enable=true]
                logging: {driver: json-file}
                networks: {backend: {aliases: [auth]}}
                hostname: worker
                cap_add: [SYS_PTRACE]
                cap_drop: [NET_RAW]
        """)
        worker = s.services[0]
        assert worker.stop_timeout == 120 and worker.init_process_enabled and worker.working_directory == "/web"
        assert worker.ulimits is not None and (worker.ulimits.nofile.soft, worker.ulimits.nofile.hard) == (10240,
                                                                                                           10240)
        text = notes(s)
        for expected in ("container_name 'authentik_worker' left out", "restart 'unless-stopped' left out",
                         "stop_grace_period 5m became stopTimeout 120", "no-new-privileges", "pids_limit left out",
                         "shm_size left out: Fargate has no /dev/shm size", "ulimits.nproc left out", "labels left out",
                         "logging left out", "networks left out", "the aliases auth are not created",
                         "hostname left out", "cap_add SYS_PTRACE left out: private-fargate adds no capabilities",
                         "cap_drop left out"):
            assert expected in text, expected

    def test_names_and_ports_others_use(self, tmp_path: Path) -> None:
        """Immich's shape: the server finds the database by its container_name and the ML service by URL."""
        s = load(tmp_path, """
            services:
              server:
                image: ghcr.io/immich-app/immich-server:v1.120.0
                environment:
                  DB_HOSTNAME: immich_postgres
                  DB_USERNAME: postgres
                  ML_URL: http://immich-machine-learning:3003
                  DB_URL: postgres://postgres:pw@immich_postgres:5432/immich_postgres
              immich-machine-learning: {image: "ghcr.io/immich-app/immich-machine-learning:v1.120.0"}
              database: {image: "ghcr.io/immich-app/postgres:14-vectorchord0.3.0", container_name: immich_postgres}
            """, jobs=[])
        server = service(s, "server")
        assert server.environment["DB_HOSTNAME"] == "database" and server.environment["DB_USERNAME"] == "postgres"
        assert s.stack_secret_values[server.secrets["DB_URL"].stack_secret] == \
            "postgres://postgres:pw@database:5432/immich_postgres"  # a credential: a stack-owned secret
        assert service(s, "database").port == 5432 and service(s, "immich-machine-learning").port == 3003
        assert "port 5432 assumed" in notes(s)

    def test_jobs_use_dns_names(self, tmp_path: Path) -> None:
        s = load(tmp_path, """
            services:
              db_main: {image: "postgres:16.4", expose: ["5432"]}
              backup: {image: "postgres:16.4", environment: {PGHOST: db_main}}
        """, jobs=["backup"])
        assert s.jobs[0].environment["PGHOST"] == "db-main.dev.private-fargate.internal"


class TestRefused:
    @pytest.mark.parametrize("svc,message", [
        ({"privileged": True}, "services.w.privileged: Fargate does not run privileged containers"),
        ({"cap_add": ["SYS_PTRACE", "NET_ADMIN"]}, "services.w.cap_add: NET_ADMIN: Fargate lets a task add only"),
        ({"sysctls": {"net.core.somaxconn": 1024}}, "services.w.sysctls: private-fargate does not pass kernel"),
        ({"devices": ["/dev/fuse"]}, "services.w.devices: Fargate gives containers no host devices"),
        ({"network_mode": "host"}, "services.w.network_mode: 'host': Fargate tasks have their own network"),
        ({"network_mode": "service:vpn"}, "make it a sidecar of vpn"),
        ({"pid": "host"}, "services.w.pid: 'host'"), ({"ipc": "host"}, "services.w.ipc: 'host'"),
        ({"runtime": "nvidia"}, "services.w.runtime: Fargate runs containers with its own runtime"),
        ({"userns_mode": "host"}, "services.w.userns_mode: Fargate has no user-namespace setting"),
        ({"volumes": ["/var/lib/data:/data"]}, "services.w.volumes: /var/lib/data: a host path outside the project"),
        ({"volumes": ["~/media:/media"]}, "services.w.volumes: ~/media: a host path outside the project"),
        ({"volumes": ["/var/run/docker.sock:/var/run/docker.sock"]}, "Fargate has no Docker Engine to share"),
        ({"security_opt": ["seccomp:unconfined"]}, "services.w.security_opt: 'seccomp:unconfined'"),
        ({"frobnicate": 1}, "services.w.frobnicate: not a compose service key"),
        ({"build": {"context": "app", "secrets": ["npmrc"]}}, "services.w.build.secrets: build secrets cannot"),
        ({"ports": ["53:53/sctp"]}, "sctp ports cannot be served on Fargate"),
        ({"deploy": {"resources": {"reservations": {"devices": [{"capabilities": ["gpu"]}]}}}}, "Fargate has no GPUs"),
        ({"image": "x/y:1", "deploy": {"resources": {"limits": {"cpus": "32"}}}}, "no Fargate size has 32"),
    ])
    def test_one_line_naming_service_and_key(self, tmp_path: Path, svc: dict[str, Any], message: str) -> None:
        svc = {"image": "public.ecr.aws/x/y:1", **svc} if "build" not in svc else svc
        text = refusal(tmp_path, {"services": {"w": svc}})
        assert text.startswith("settings: compose: docker-compose.yml: services.w.") and message in text
        assert "\n" not in text and "services[" not in text

    def test_every_refusal_is_reported(self, tmp_path: Path) -> None:
        """Traefik with the Docker provider (awesome-compose's traefik-golang): socket and host network at once."""
        text = refusal(tmp_path, {"services": {"proxy": {"image": "traefik:v3.1", "network_mode": "host",
                                                         "volumes": ["/var/run/docker.sock:/var/run/docker.sock"]}}})
        assert "services.proxy.network_mode" in text and "services.proxy.volumes" in text and "1 more" in text

    def test_every_refusal_of_one_key_group_is_reported(self, tmp_path: Path) -> None:
        """A VPN container's shape (linuxserver/wireguard-like): privileged, host namespaces, NET_ADMIN, host binds."""
        text = refusal(tmp_path, {"services": {"vpn": {
            "image": "x/vpn:1.0", "privileged": True, "network_mode": "host", "pid": "host", "ipc": "host",
            "cap_add": ["NET_ADMIN"], "volumes": ["/var/lib/vpn:/data", "~/conf:/conf"]}}})
        for key in ("privileged", "network_mode", "pid", "ipc", "cap_add", "volumes: /var/lib/vpn",
                    "volumes: ~/conf"):
            assert f"services.vpn.{key}" in text, key

    @pytest.mark.parametrize("svc,message", [
        ({"deploy": {"replicas": "two"}}, "services.d.deploy.replicas: 'two' is not a whole number of tasks"),
        ({"stop_grace_period": "soon"}, "services.d.stop_grace_period: 'soon' is not a duration"),
        ({"ulimits": {"nofile": {"soft": 1024}}}, "services.d.ulimits.nofile: {'soft': 1024}: give a number"),
    ])
    def test_bad_values_name_the_compose_key(self, tmp_path: Path, svc: dict[str, Any], message: str) -> None:
        text = refusal(tmp_path, {"services": {"d": {"image": "x/y:1", **svc}}})
        assert message in text and "int()" not in text

    def test_a_reserved_name_names_the_compose_service(self, tmp_path: Path) -> None:
        text = refusal(tmp_path, {"services": {"exec": {"image": "x/y:1"}}})
        assert "compose: services.exec: 'exec' is reserved" in text and "services[" not in text

    def test_invalid_settings_name_the_compose_service(self, tmp_path: Path) -> None:
        text = refusal(tmp_path, {"services": {"my_api": {"image": "x/y:1", "user": "bad user!"}}})
        assert "services.my_api: its settings are not valid: user:" in text and "services[" not in text

    def test_nothing_is_registered(self, tmp_path: Path) -> None:
        """A refused compose file stops settings loading, which runs before any resource (settings/model.py)."""
        with pytest.raises(SettingsError):
            load(tmp_path, json.dumps({"services": {"w": {"image": "x/y:1", "privileged": True}}}))


@pytest.mark.parametrize("name,value,moved", [
    ("POSTGRES_PASSWORD", "example", True), ("MYSQL_ROOT_PASSWORD", "x", True), ("SECRET_KEY_BASE", "x", True),
    ("AUTHENTIK_SECRET_KEY", "x", True), ("DB_PASS", "x", True), ("API_KEY", "x", True),
    ("DATABASE_URL", "postgres://u:p@db:5432/app", True), ("POSTGRES_PASSWORD_FILE", "/run/secrets/pw", False),
    ("POSTGRES_USER", "postgres", False), ("TOKEN_TTL", "300", False), ("PWD", "/app", False),
    ("REDIS_URL", "redis://redis:6379", False)])
def test_credentials_in_environment_become_stack_secrets(tmp_path: Path, name: str, value: str, moved: bool) -> None:
    """WordPress with MySQL (awesome-compose) sets its passwords in plain environment."""
    s = load(tmp_path, json.dumps({"services": {"db": {"image": "mariadb:10.11", "environment": {name: value}}}}))
    db = s.services[0]
    assert (name in db.secrets) is moved and (name in db.environment) is not moved
    if moved:
        assert s.stack_secret_values[db.secrets[name].stack_secret] == value


#: Names in the shapes of real compose files (Sentry self-hosted's seaweedfs, Prowler's API, Docker Mailserver,
#: Authentik, Nextcloud), and values: whatever the pack refuses in plain environment, the importer moves.
PACK_NAMES = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ECS_ENGINE_AUTH_DATA", "SSH_KEY", "SSH_PRIVATE_KEY",
              "DJANGO_OUTPUT_S3_AWS_SECRET_ACCESS_KEY", "DJANGO_OUTPUT_S3_AWS_SESSION_TOKEN",
              "DJANGO_TOKEN_SIGNING_KEY",
              "RELAY_PASSWORD", "SASLAUTHD_LDAP_PASSWORD", "SRS_SECRET", "AUTHENTIK_SECRET_KEY", "MYSQL_PWD",
              "OAUTH_CLIENTSECRET", "APIKEY", "GITHUB_TOKEN", "DB_PASS", "SECRET_KEY_BASE", "LICENSE_KEY",
              "DJANGO_ACCESS_TOKEN_LIFETIME", "PASSWORD_MIN_LENGTH", "DB_PASSWORD_FILE", "CACHE_KEY", "PWD"]
PACK_VALUES = ["AKIAIOSFODNN7EXAMPLE", "ASIAIOSFODNN7EXAMPLE", "postgres://app:hunter2@db:5432/app",
               "ghp_" + "a" * 36, "xoxb-1234567890-abcdef", "-----BEGIN RSA PRIVATE KEY-----"]


def test_the_importer_moves_everything_the_pack_refuses() -> None:
    from policy.policies.ecs import env_problem
    from settings.compose.credentials import credential
    for name in PACK_NAMES:
        refused = env_problem([{"name": name, "value": "x"}]) is not None
        assert not refused or credential(name, "x"), name
    for value in PACK_VALUES:
        assert env_problem([{"name": "V", "value": value}]) is not None and credential("V", value), value


def test_an_empty_credential_is_left_out(tmp_path: Path) -> None:
    """Nextcloud's shape: `env_file: db.env` with `POSTGRES_PASSWORD=` left blank for the user to fill in."""
    (tmp_path / "db.env").write_text("POSTGRES_PASSWORD=\nPOSTGRES_DB=nextcloud\n")
    s = load(tmp_path, "services:\n  db: {image: 'postgres:16.4', env_file: [db.env]}\n")
    db = s.services[0]
    assert db.environment == {"POSTGRES_DB": "nextcloud"} and not db.secrets
    assert "environment.POSTGRES_PASSWORD left out: it is empty and names a credential" in notes(s)


def test_explicit_entries_win(tmp_path: Path) -> None:
    s = load(tmp_path, "services:\n  report: {image: 'x/report:1'}\n", jobs=["report"],
             settings={"jobs": [{"name": "report", "schedule": "rate(1 day)", "cpu": 1024}]})
    assert s.jobs[0].schedule == "rate(1 day)" and s.jobs[0].cpu == 1024
    assert "job 'report' is also in the settings" in notes(s)


def test_files_and_profiles_settings(tmp_path: Path) -> None:
    """`compose.files` layers files; `compose.profiles` enables profiles (n8n-hosting's worker shape)."""
    (tmp_path / "override.yml").write_text("services:\n  n8n: {environment: {EXECUTIONS_MODE: queue}}\n")
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  n8n: {image: 'n8nio/n8n:1.64.0'}\n  worker: {image: 'n8nio/n8n:1.64.0', profiles: [queue]}\n")
    data = {"compose": {"files": ["docker-compose.yml", "override.yml"], "profiles": ["queue"]},
            "repository": {"upstreamCredentials": {"dockerhub": HUB}}}
    s = Settings.from_dict(data, base_dir=tmp_path)
    assert [w.name for w in s.services] == ["n8n", "worker"]
    assert s.services[0].environment == {"EXECUTIONS_MODE": "queue"}
    data["compose"]["profiles"] = []
    assert [w.name for w in Settings.from_dict(data, base_dir=tmp_path).services] == ["n8n"]
    with pytest.raises(SettingsError, match="compose: .* give exactly one of file and files"):
        Settings.from_dict({"compose": {"file": "a.yml", "files": ["b.yml"]}}, base_dir=tmp_path)
