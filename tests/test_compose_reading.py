"""Reading compose files as `docker compose` does: YAML 1.2 scalars, interpolation, `.env`, layered files,
profiles, extends, include. Every compose file here is written for the test in the shape of the public project
named; none is copied."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from settings.compose import ComposeError
from settings.compose.project import load_project
from settings.compose.variables import Interpolator, parse_dotenv
from settings.compose.yamlio import read_yaml


def write(directory: Path, name: str, text: str) -> None:
    (directory / name).parent.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(textwrap.dedent(text))


class TestYaml:
    def test_compose_scalars_not_yaml_11(self) -> None:
        """Gitea's documented SSH port `- 2222:22` and a `LOG: off` setting, as compose (go-yaml v3) reads them."""
        doc = read_yaml("ports: [22:22, 2222:22]\nenvironment: {LOG: off, ON: yes, D: 2024-01-01, M: 0440, N: ~}\n")
        assert doc["ports"] == ["22:22", "2222:22"]  # YAML 1.1 reads 1342 and 133342
        assert doc["environment"] == {"LOG": "off", "ON": "yes", "D": "2024-01-01", "M": 0o440, "N": None}

    def test_anchors_merge_keys_and_extension_fields(self, tmp_path: Path) -> None:
        """Sentry self-hosted's shape: an `x-` block of defaults merged into every service with `<<: *anchor`."""
        write(tmp_path, "docker-compose.yml", """
            x-restart-policy: &restart_policy
              restart: unless-stopped
            x-sentry-defaults: &sentry_defaults
              <<: *restart_policy
              image: getsentry/sentry:24.1.0
              environment: {SENTRY_CONF: /etc/sentry}
            services:
              web:
                <<: *sentry_defaults
                command: run web
              cron:
                <<: *sentry_defaults
                command: run cron
                x-note: ignored
        """)
        project = load_project(tmp_path, ["docker-compose.yml"], [], {})
        assert project.services["web"]["restart"] == "unless-stopped"
        assert project.services["cron"]["image"] == "getsentry/sentry:24.1.0"
        assert project.services["cron"]["command"] == "run cron"


class TestInterpolation:
    ENV = {"SET": "value", "EMPTY": "", "FALLBACK": "fallback"}

    @pytest.mark.parametrize("text,expected", [
        ("${SET}", "value"), ("$SET", "value"), ("x-${SET}-$SET.y", "x-value-value.y"),
        ("${UNSET:-default}", "default"), ("${EMPTY:-default}", "default"), ("${EMPTY-default}", ""),
        ("${UNSET-default}", "default"), ("${SET:+alt}", "alt"), ("${EMPTY:+alt}", ""), ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""), ("${UNSET:-${FALLBACK}}", "fallback"), ("${UNSET:-${ALSO:-deep}}", "deep"),
        ("${SET:?must}", "value"), ("$$SET", "$SET"), ("costs $$5", "costs $5"), ("a $ b", "a $ b"),
        ("${UNSET}", ""), ("${UNSET:-a:b}", "a:b"),
    ])
    def test_every_form(self, text: str, expected: str) -> None:
        assert Interpolator(self.ENV.get).text(text, "services.web.environment.X") == expected

    @pytest.mark.parametrize("text,message", [
        ("${UNSET:?the password is required}", "UNSET is missing a value: the password is required"),
        ("${EMPTY:?}", "EMPTY is missing a value: is empty"), ("${UNSET?}", "UNSET is missing a value: is not set"),
        ("${SET/a/b}", "operator compose does not have"), ("${SET", "without a closing"),
    ])
    def test_errors_name_where(self, text: str, message: str) -> None:
        with pytest.raises(ComposeError, match="services.web.environment.X") as info:
            Interpolator(self.ENV.get).text(text, "services.web.environment.X")
        assert message in str(info.value)

    def test_unset_is_empty_and_noted(self, tmp_path: Path) -> None:
        """Immich's shape: `${UPLOAD_LOCATION}` from a .env the user has not filled in yet."""
        write(tmp_path, "docker-compose.yml", "services:\n  server:\n    image: x/y:1\n"
                                              "    environment: {LOC: '${UPLOAD_LOCATION}'}\n")
        project = load_project(tmp_path, ["docker-compose.yml"], [], {})
        assert project.services["server"]["environment"] == {"LOC": ""}
        assert any("variable UPLOAD_LOCATION is not set" in n and "services.server.environment.LOC" in n
                   for n in project.notes)


class TestDotenv:
    def test_compose_quoting_rules(self) -> None:
        """The forms authentik's and Supabase's .env files use: export, comments, quotes, references."""
        text = textwrap.dedent("""
            # comment
            export PG_USER=authentik
            PG_DB = "${PG_USER}_db"
            LITERAL='${PG_USER} stays'
            MULTI="line one
            line two"
            ESCAPED="tab\\there"
            INLINE=value # comment
            HASH=pass#word
            FROM_OUTSIDE
        """)
        values = parse_dotenv(text, {"FROM_OUTSIDE": "o", "PG_USER": "process"}.get)
        assert values["PG_USER"] == "authentik"
        assert values["PG_DB"] == "process_db"  # the process environment wins over the file
        assert values["LITERAL"] == "${PG_USER} stays"
        assert values["MULTI"] == "line one\nline two"
        assert values["ESCAPED"] == "tab\there"
        assert values["INLINE"] == "value" and values["HASH"] == "pass#word"
        assert values["FROM_OUTSIDE"] == "o"

    def test_dotenv_feeds_interpolation_and_process_wins(self, tmp_path: Path) -> None:
        write(tmp_path, ".env", "TAG=16\nNAME=db-${TAG}\n")
        write(tmp_path, "compose.yaml", "services:\n  db:\n    image: postgres:${TAG}\n    hostname: ${NAME}\n")
        project = load_project(tmp_path, ["compose.yaml"], [], {"TAG": "17"})
        assert project.services["db"]["image"] == "postgres:17" and project.services["db"]["hostname"] == "db-17"


class TestLayering:
    def test_files_merge_like_docker_compose_f(self, tmp_path: Path) -> None:
        """Immich's shape: a base file and a production override (`docker compose -f a.yml -f b.yml`)."""
        write(tmp_path, "docker-compose.yml", """
            services:
              server:
                image: ghcr.io/immich-app/immich-server:v1.120.0
                command: ["start.sh", "immich"]
                environment: [A=1, B=2]
                ports: ["2283:2283"]
                volumes: ["upload:/data", "./cfg:/cfg"]
                healthcheck: {test: ["CMD", "check"], interval: 30s}
                labels: {x: y}
              ml:
                image: ghcr.io/immich-app/immich-machine-learning:v1.120.0
            volumes: {upload: {}}
        """)
        write(tmp_path, "docker-compose.prod.yml", """
            services:
              server:
                command: ["start.sh", "prod"]
                environment: {B: "3", C: "4"}
                ports: ["2283:2283", "9090:9090"]
                volumes: ["upload2:/data"]
                healthcheck: {test: ["CMD", "other"]}
                labels: !reset {}
              ml:
                environment: !override {ONLY: "1"}
        """)
        project = load_project(tmp_path, ["docker-compose.yml", "docker-compose.prod.yml"], [], {})
        server = project.services["server"]
        assert server["command"] == ["start.sh", "prod"]
        assert server["environment"] == {"A": "1", "B": "3", "C": "4"}
        assert server["ports"] == ["2283:2283", "9090:9090"]
        assert server["volumes"] == ["upload2:/data", "./cfg:/cfg"]
        assert server["healthcheck"] == {"test": ["CMD", "other"], "interval": "30s"}
        assert "labels" not in server
        assert project.services["ml"]["environment"] == {"ONLY": "1"}

    def test_profiles(self, tmp_path: Path) -> None:
        """Sentry self-hosted's shape: optional services behind `profiles: [feature-complete]`."""
        write(tmp_path, "compose.yaml", """
            services:
              web: {image: getsentry/sentry:24.1.0}
              profiling: {image: getsentry/vroom:24.1.0, profiles: [feature-complete]}
        """)
        assert list(load_project(tmp_path, ["compose.yaml"], [], {}).services) == ["web"]
        both = load_project(tmp_path, ["compose.yaml"], ["feature-complete"], {})
        assert list(both.services) == ["web", "profiling"]
        assert list(load_project(tmp_path, ["compose.yaml"], ["*"], {}).services) == ["web", "profiling"]

    def test_dependency_on_a_disabled_profile(self, tmp_path: Path) -> None:
        write(tmp_path, "compose.yaml", """
            services:
              web: {image: x/web:1, depends_on: [cache]}
              cache: {image: x/cache:1, profiles: [extras]}
        """)
        with pytest.raises(ComposeError, match="services.web.depends_on: 'cache' is only in the profiles extras"):
            load_project(tmp_path, ["compose.yaml"], [], {})

    def test_extends_same_file_and_another(self, tmp_path: Path) -> None:
        """Immich's shape: `extends: {file: hwaccel.transcoding.yml, service: cpu}` from a folder of its own."""
        write(tmp_path, "hw/hwaccel.yml", """
            services:
              cpu:
                environment: {ACCEL: cpu}
                env_file: [accel.env]
                build: ./accel
        """)
        write(tmp_path, "compose.yaml", """
            services:
              base: {image: x/base:1, environment: {A: "1"}}
              server:
                extends: {file: hw/hwaccel.yml, service: cpu}
                environment: {B: "2"}
              worker:
                extends: base
                command: work
        """)
        project = load_project(tmp_path, ["compose.yaml"], [], {})
        server = project.services["server"]
        assert server["environment"] == {"ACCEL": "cpu", "B": "2"}
        assert server["env_file"] == ["hw/accel.env"] and server["build"] == "hw/accel"  # rebased to the project
        assert project.services["worker"] == {"image": "x/base:1", "environment": {"A": "1"}, "command": "work"}

    def test_include(self, tmp_path: Path) -> None:
        """The shape of a project that includes a shared infrastructure file (compose `include`)."""
        write(tmp_path, "infra/db.yaml", "services:\n  db: {image: postgres:16.4}\n")
        write(tmp_path, "compose.yaml", "include: [infra/db.yaml]\nservices:\n  web: {image: x/web:1}\n")
        assert sorted(load_project(tmp_path, ["compose.yaml"], [], {}).services) == ["db", "web"]

    @pytest.mark.parametrize("text,message", [
        ("services: {}\n", "has no services"),
        ("services:\n  a: {image: x:1}\nbogus: 1\n", "bogus: not a top-level key"),
        ("services:\n  a: [unclosed\n", "is not valid YAML"),
        ("services:\n  a: {extends: nope}\n", "no service 'nope' to extend"),
    ])
    def test_bad_files_are_one_line(self, tmp_path: Path, text: str, message: str) -> None:
        write(tmp_path, "compose.yaml", text)
        with pytest.raises(ComposeError) as info:
            load_project(tmp_path, ["compose.yaml"], [], {})
        assert message in str(info.value) and "\n" not in str(info.value)
