"""docker-compose services as settings: each mapping, note and refusal of issue 16, on compose files written for the
tests in the shapes of the public projects named (none is copied)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT
from tests.support_compose import SECRET, load, notes, refusal, service


class TestCompose:
    """Compose semantics come first."""

    @pytest.mark.parametrize("value,writable", [(None, True), ("false", True), (False, True), ("true", False),
                                                ("yes", False)])
    def test_root_is_writable_unless_read_only(self, tmp_path: Path, value: Any, writable: bool) -> None:
        """Gitea's documented compose service leaves read_only unset, and must be able to write under /data."""
        svc: dict[str, Any] = {"image": "gitea/gitea:1.22.3"}
        if value is not None:
            svc["read_only"] = value
        s = load(tmp_path, json.dumps({"services": {"gitea": svc}}))
        gitea = s.services[0]
        assert gitea.readonly_root_filesystem is not writable
        assert gitea.writable_paths == ([] if writable else ["/tmp"])

    def test_environment_forms(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Elasticsearch's shape (awesome-compose): dotted names, a bare name from the environment, an env_file."""
        monkeypatch.setenv("ES_JAVA_OPTS", "-Xms512m")
        s = load(tmp_path, """
            services:
              es:
                image: docker.elastic.co/elasticsearch/elasticsearch:7.16.1
                env_file: [es.env, {path: optional.env, required: false}]
                environment:
                  - discovery.type=single-node
                  - ES_JAVA_OPTS
                  - NOT_SET_ANYWHERE
                  - DEBUG=true
        """, **{"es.env": "xpack.security.enabled=false\n"})
        es = s.services[0]
        assert es.environment == {"xpack.security.enabled": "false", "discovery.type": "single-node",
                                  "ES_JAVA_OPTS": "-Xms512m", "DEBUG": "true"}
        assert "environment.NOT_SET_ANYWHERE left out" in notes(s)


class TestImages:
    def test_any_registry(self, tmp_path: Path) -> None:
        """Immich's and Sentry's images: ghcr.io, Docker Hub, quay.io, mcr.microsoft.com, GitLab; tags and digests."""
        digest = "sha256:" + "a" * 64
        s = load(tmp_path, f"""
            services:
              server: {{image: ghcr.io/immich-app/immich-server:v1.120.0}}
              redis: {{image: "docker.io/valkey/valkey:8-bookworm@{digest}"}}
              keycloak: {{image: quay.io/keycloak/keycloak:25.0}}
              mssql: {{image: mcr.microsoft.com/mssql/server:2022-latest}}
              smtp: {{image: registry.gitlab.com/egos-tech/smtp:1.1.2}}
              cache: {{image: memcached}}
        """)
        assert service(s, "server").image.public == "ghcr.io/immich-app/immich-server:v1.120.0"
        assert service(s, "redis").image.public == f"docker.io/valkey/valkey:8-bookworm@{digest}"
        assert service(s, "keycloak").image.public == "quay.io/keycloak/keycloak:25.0"
        assert service(s, "mssql").image.mirror == "mcr.microsoft.com/mssql/server:2022-latest"
        assert service(s, "smtp").image.mirror == "registry.gitlab.com/egos-tech/smtp:1.1.2"  # no gitlab credential
        cache = service(s, "cache").image
        assert cache.public == "docker.io/library/memcached" and cache.pin_at_deploy
        assert "image 'memcached' has no tag or is latest: the digest it has at deploy is pinned" in notes(s)

    def test_without_credentials_images_are_copied(self, tmp_path: Path) -> None:
        s = load(tmp_path, "services:\n  web: {image: 'ghcr.io/org/web:2.4.1'}\n", credentials=False)
        assert s.services[0].image.mirror == "ghcr.io/org/web:2.4.1"
        assert "without repository.upstreamCredentials.ghcr" in notes(s)

    def test_build_keys(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """awesome-compose's react-express-mongodb shape: `build.target`, args in list form, cache_from."""
        monkeypatch.setenv("NODE_VERSION", "20")
        s = load(tmp_path, """
            services:
              backend:
                build:
                  context: app
                  dockerfile: Dockerfile
                  target: development
                  args: [NODE_VERSION, MODE=dev, MISSING]
                  cache_from: [type=local,src=/tmp/cache]
                  platforms: [linux/arm64]
                image: example/backend
        """)
        build = s.services[0].image.build
        assert build is not None and (build.context, build.target) == ("app", "development")
        assert build.args == {"NODE_VERSION": "20", "MODE": "dev"}
        assert s.services[0].arch == "ARM64"
        text = notes(s)
        assert "build.cache_from left out" in text and "build.args.MISSING left out" in text
        assert "image 'example/backend' is compose's name for the build" in text

    def test_inline_dockerfile(self, tmp_path: Path) -> None:
        s = load(tmp_path, "services:\n  tool:\n    build:\n      context: app\n"
                           "      dockerfile_inline: |\n        FROM python:3.12-slim\n")
        build = s.services[0].image.build
        assert build is not None and build.dockerfile == "../.private-fargate/compose/tool/inline.Dockerfile"
        assert (tmp_path / ".private-fargate/compose/tool/inline.Dockerfile").read_text() == "FROM python:3.12-slim\n"


class TestFiles:
    def test_config_files_are_baked_into_a_derived_image(self, tmp_path: Path) -> None:
        """Nextcloud's fpm example: nginx reads ./web/nginx.conf; prometheus reads a folder (awesome-compose)."""
        s = load(tmp_path, """
            services:
              web:
                image: nginx:1.27-alpine
                volumes: ["./web/nginx.conf:/etc/nginx/nginx.conf:ro", "/etc/localtime:/etc/localtime:ro"]
              prometheus:
                image: prom/prometheus:v2.54.1
                volumes: ["./prometheus:/etc/prometheus"]
        """, **{"web__nginx.conf": "events {}\n", "prometheus__prometheus.yml": "scrape_configs: []\n"})
        web = service(s, "web").image.build
        assert web is not None and web.context == ".private-fargate/compose/web"
        dockerfile = (tmp_path / web.context / "Dockerfile").read_text()
        assert "FROM nginx:1.27-alpine" in dockerfile
        assert 'COPY ["files/0", "/etc/nginx/nginx.conf"]' in dockerfile
        assert (tmp_path / web.context / "files/0").read_text() == "events {}\n"
        prom = service(s, "prometheus").image.build
        assert prom is not None
        assert 'COPY ["files/0/", "/etc/prometheus/"]' in (tmp_path / prom.context / "Dockerfile").read_text()
        assert "web/nginx.conf -> /etc/nginx/nginx.conf" in notes(s)
        assert "volume /etc/localtime left out" in notes(s)

    def test_build_context_mount_dropped_and_context_files_baked(self, tmp_path: Path) -> None:
        """awesome-compose's django/flask shape: the source mounted over the image built from it."""
        s = load(tmp_path, """
            services:
              web:
                build: {context: ./app, target: runtime}
                volumes: ["./app:/srv/app", "/srv/app/node_modules", "./app/Dockerfile:/etc/app.py", "./shared:/shared"]
        """, **{"shared__x.txt": "x\n"})
        build = s.services[0].image.build
        assert build is not None and build.target == "private-fargate-files"
        derived = tmp_path / ".private-fargate/compose/web/Dockerfile"
        assert build.context == ".private-fargate/compose/web" and (tmp_path / build.context / "app").is_dir()
        text = derived.read_text()
        assert text.startswith((ROOT / "app" / "Dockerfile").read_text().rstrip("\n"))
        assert "FROM runtime AS private-fargate-files" in text
        assert 'COPY ["private-fargate-files/files/0", "/etc/app.py"]' in text
        assert 'COPY ["private-fargate-files/files/1/", "/shared/"]' in text
        assert (ROOT / "app" / "Dockerfile").read_text() != text  # the project's own Dockerfile is untouched
        assert "volume ./app:/srv/app left out: it mounts the build context" in notes(s)
        assert "anonymous volume /srv/app/node_modules left out" in notes(s)

    def test_named_volumes_become_efs(self, tmp_path: Path) -> None:
        """Gitea with postgres (awesome-compose): named volumes, the database as user 999."""
        s = load(tmp_path, """
            services:
              db:
                image: postgres:16.4
                user: "999:999"
                volumes: ["db_data:/var/lib/postgresql/data"]
              gitea:
                image: gitea/gitea:1.22.3
                volumes: [{type: volume, source: git_data, target: /data, read_only: true}]
            volumes: {db_data: {}, git_data: {external: true}}
        """)
        assert s.volumes["db_data"].uid == 999 and s.volumes["git_data"].uid == 1000
        db, gitea = s.services
        assert [(m.volume, m.path, m.read_only) for m in db.mounts] == [("db_data", "/var/lib/postgresql/data",
                                                                           False)]
        assert gitea.mounts[0].read_only
        assert "set volumes.git_data in the settings" in notes(s) and "starts empty" in notes(s)

    def test_settings_volumes_win(self, tmp_path: Path) -> None:
        s = load(tmp_path, "services:\n  db: {image: 'postgres:16.4', volumes: ['pg:/data']}\nvolumes: {pg: {}}\n",
                 settings={"volumes": {"pg": {"uid": 999, "gid": 999}}})
        assert s.volumes["pg"].uid == 999 and "with the uid and gid of volumes.pg in the settings" in notes(s)

    def test_tmpfs_and_missing_bind_source(self, tmp_path: Path) -> None:
        """Paperless-ngx's read-only hardening shape: tmpfs for /run and /tmp."""
        s = load(tmp_path, """
            services:
              web:
                image: ghcr.io/paperless-ngx/paperless-ngx:2.13
                read_only: true
                tmpfs: ["/run:size=64m", /var/tmp]
                volumes: ["./consume:/usr/src/paperless/consume"]
        """)
        web = s.services[0]
        assert web.writable_paths == ["/tmp", "/run", "/var/tmp"]
        assert [(m.volume, m.path) for m in web.mounts] == [("consume", "/usr/src/paperless/consume")]
        assert "Fargate has no tmpfs" in notes(s) and "volume ./consume does not exist yet" in notes(s)

    def test_a_data_folder_compose_creates_is_kept_and_shared(self, tmp_path: Path) -> None:
        """Mastodon's shape: `./postgres14` for the database, `./public/system` mounted by web and sidekiq."""
        s = load(tmp_path, """
            services:
              db: {image: "postgres:14-alpine", volumes: ["./postgres14:/var/lib/postgresql/data"]}
              web: {image: "ghcr.io/mastodon/mastodon:v4.3.0", volumes: ["./public/system:/mastodon/public/system"]}
              sidekiq: {image: "ghcr.io/mastodon/mastodon:v4.3.0", volumes: ["./public/system:/mastodon/public/system"]}
        """)
        mounts = {w.name: [(m.volume, m.path) for m in w.mounts] for w in s.services}
        assert mounts == {"db": [("postgres14", "/var/lib/postgresql/data")],
                          "web": [("public-system", "/mastodon/public/system")],
                          "sidekiq": [("public-system", "/mastodon/public/system")]}
        assert set(s.volumes) == {"postgres14", "public-system"}
        assert "kept across tasks and shared by every service that mounts ./public/system" in notes(s)


class TestSecrets:
    COMPOSE = """
        services:
          db:
            image: postgres:16.4
            environment: {POSTGRES_PASSWORD_FILE: /run/secrets/db_password}
            secrets: [db_password, {source: token, target: api_token, uid: "999", mode: 0400}]
          app:
            image: ghcr.io/org/app:1.0
            secrets: [db_password, vendor]
        secrets:
          db_password: {file: ./db_password.txt}
          token: {environment: API_TOKEN}
          vendor: {external: true}
    """

    def test_file_environment_and_external_secrets(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """awesome-compose's nginx-flask-mysql: a `file:` secret read as POSTGRES_PASSWORD_FILE (`*_FILE`)."""
        monkeypatch.setenv("API_TOKEN", "t0ken")
        s = load(tmp_path, self.COMPOSE, secrets={"vendor": SECRET}, **{"db_password.txt": "hunter2\n"})
        assert s.stack_secret_values == {"compose-db_password": "hunter2\n", "compose-token": "t0ken"}
        assert s.secret_values == {}  # the values are not in the plain settings
        db = service(s, "db")
        writer = db.init_containers[0]
        assert writer.name == "write-secrets" and writer.user == "0"
        assert {k: v.stack_secret for k, v in writer.secrets.items()} == {
            "COMPOSE_SECRET_0": "compose-db_password", "COMPOSE_SECRET_1": "compose-token"}
        script = writer.command[-1]
        assert "> '/run/secrets/db_password'" in script and "chmod 444 '/run/secrets/db_password'" in script
        assert "chown 999:0 '/run/secrets/api_token'" in script and "chmod 400 '/run/secrets/api_token'" in script
        assert db.writable_paths == ["/run/secrets"] and writer.writable_paths == ["/run/secrets"]
        assert db.environment["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password" and not db.secrets
        app_writer = service(s, "app").init_containers[0]
        assert app_writer.secrets["COMPOSE_SECRET_1"] == SECRET

    @pytest.mark.parametrize("missing,message", [
        ("file", "services.db.secrets: 'db_password': the file './db_password.txt' does not exist"),
        ("external", "services.app.secrets: 'vendor' is external: map it in compose.secrets"),
    ])
    def test_refused_secrets(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str,
                             message: str) -> None:
        monkeypatch.setenv("API_TOKEN", "t")
        files = {} if missing == "file" else {"db_password.txt": "x"}
        text = refusal(tmp_path, self.COMPOSE, secrets={} if missing == "external" else {"vendor": SECRET}, **files)
        assert message in text

    def test_stack_secret_mapping_wins_over_the_file(self, tmp_path: Path) -> None:
        """A CI preview without the secret file: compose.secrets maps it to a secretValues key."""
        s = load(tmp_path, "services:\n  db: {image: 'postgres:16.4', secrets: [pw]}\nsecrets: {pw: {file: ./pw}}\n",
                 secrets={"pw": {"stackSecret": "db-password"}},
                 settings={"secretValues": {"db-password": "[secret]"}}, secure=frozenset({"secretValues"}))
        assert s.services[0].init_containers[0].secrets["COMPOSE_SECRET_0"].stack_secret == "db-password"

    def test_target_outside_run_secrets(self, tmp_path: Path) -> None:
        text = refusal(tmp_path, "services:\n  w: {image: 'x/y:1', secrets: [{source: k, target: /etc/ssl/k.pem}]}\n"
                                 "secrets: {k: {file: ./k}}\n", **{"k": "key"})
        assert "services.w.secrets: 'k': target /etc/ssl/k.pem is a file in a folder of the image" in text
