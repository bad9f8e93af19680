"""A whole compose app through the offline preview: the task definitions ECS would register and the policy pack.

The app follows the shape of Plausible Community Edition's and Immich's compose files (written for this test,
not copied): a database with a file secret read through `*_FILE` and a named volume, a cache that declares no
port, a one-shot migration the web service waits for, a web service built from a Dockerfile stage with a config
file mounted, a proxy with its configuration mounted from the project, and a nightly job. One preview (mode up,
so digests and ids are filled in) is shared by the tests of this module.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import IMAGE, ROOT, TASK_DEF, preview, task_definition_problems

HUB = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/hub-AbCdEf"
GHCR = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/ghcr-AbCdEf"
COMPOSE = """
    x-defaults: &defaults
      restart: unless-stopped
      logging: {driver: json-file, options: {max-size: 10m}}
    services:
      db:
        <<: *defaults
        image: postgres:16.4-alpine
        user: "70:70"
        environment:
          POSTGRES_USER: plausible
          POSTGRES_PASSWORD_FILE: /run/secrets/db_password
        secrets: [db_password]
        volumes: ["db-data:/var/lib/postgresql/data"]
        healthcheck: {test: ["CMD-SHELL", "pg_isready -U plausible"], interval: 2s, retries: 30}
        shm_size: 256mb
      cache:
        <<: *defaults
        image: docker.io/valkey/valkey:8.0.1
        container_name: plausible_cache
        volumes: ["./cache-data:/data"]
      migrate:
        build: {context: ./app, args: {APP_MODE: migrate}}
        command: ["job"]
        environment: {DATABASE_URL: "postgres://plausible:${DB_PASSWORD}@db:5432/plausible"}
        depends_on: {db: {condition: service_healthy}}
      web:
        <<: *defaults
        build: {context: ./app}
        command: ["serve"]
        init: true
        stop_grace_period: 3m
        ulimits: {nofile: {soft: 65535, hard: 65535}}
        ports: ["8080:8080", "8125:8125/udp"]
        environment:
          CACHE_HOST: plausible_cache
          TZ: UTC
        volumes: ["./config/app.ini:/srv/config/app.ini:ro", "/etc/localtime:/etc/localtime:ro"]
        secrets: [db_password]
        deploy: {replicas: 2, resources: {limits: {cpus: "0.5", memory: 1G}}}
        depends_on:
          db: {condition: service_healthy}
          migrate: {condition: service_completed_successfully}
      proxy:
        <<: *defaults
        image: ghcr.io/example-org/nginx-unprivileged:1.27
        ports: ["80:8443"]
        expose: ["9113"]
        volumes: ["./proxy/default.conf:/etc/nginx/conf.d/default.conf:ro"]
        tmpfs: [/var/cache/nginx]
        read_only: true
        security_opt: [no-new-privileges:true]
      report:
        build: {context: ./app, target: build}
        command: ["job"]
        environment: {PGHOST: db}
        secrets: [db_password]
    secrets:
      db_password: {file: ./secrets/db_password.txt}
    volumes:
      db-data: {}
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("compose-app")
    for name in ("Pulumi.yaml", "__main__.py"):
        (directory / name).write_text((ROOT / name).read_text())
    for linked in ("components", "settings", "app"):
        (directory / linked).symlink_to(ROOT / linked)
    files = {"docker-compose.yml": COMPOSE, ".env": "DB_PASSWORD=hunter2\n", "config/app.ini": "[app]\n",
             "proxy/default.conf": "server { listen 8443; }\n", "secrets/db_password.txt": "hunter2"}
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(textwrap.dedent(text))
    config = {"aws:region": "us-east-1", "private-fargate:protect": False,
              "private-fargate:compose": {"file": "docker-compose.yml", "jobs": ["report"]},
              "private-fargate:repository": {"upstreamCredentials": {"dockerhub": HUB, "ghcr": GHCR}},
              "private-fargate:volumes": {"db-data": {"uid": 70, "gid": 70}}}
    (directory / "Pulumi.t.yaml").write_text(yaml.safe_dump({"config": config}))
    # Cached repositories follow upstream tags (README, "Images"): the pack accepts that when told so.
    (directory / "policy").mkdir()
    (directory / "policy" / "config.t.json").write_text(json.dumps({
        "ecr-immutable-tags": {"allowMutablePullThroughCache": True}}))
    result = preview("--project-dir", directory, "--stack", "t", "--mode", "up", "--json")
    assert result.returncode == 0, result.stderr
    return {**result.report, "directory": directory}


def containers(report: dict[str, Any], family: str) -> dict[str, dict[str, Any]]:
    td = next(r for r in report["resources"] if r["type"] == TASK_DEF and r["name"] == family)
    return {c["name"]: c for c in json.loads(td["inputs"]["containerDefinitions"])}


def test_no_mandatory_violation(report: dict[str, Any]) -> None:
    assert [v for v in report["violations"] if v["level"] == "mandatory"] == []


def test_every_task_definition_is_valid_for_ecs(report: dict[str, Any]) -> None:
    tds = [r for r in report["resources"] if r["type"] == TASK_DEF]
    assert sorted(t["name"] for t in tds) == ["job-report-task", "service-cache-task", "service-db-task",
                                              "service-proxy-task", "service-web-task"]
    for td in tds:
        assert task_definition_problems(td) == "", td["name"]


def test_secrets_reach_run_secrets(report: dict[str, Any]) -> None:
    db = containers(report, "service-db-task")
    writer, main = db["write-secrets"], db["db"]
    assert writer["essential"] is False and writer["user"] == "0"
    assert writer["secrets"][0]["valueFrom"].endswith(":parameter/private-fargate/t/compose-db_password")
    assert main["dependsOn"] == [{"containerName": "write-secrets", "condition": "SUCCESS"}]
    shared = {m["sourceVolume"] for m in writer["mountPoints"]} & {m["sourceVolume"] for m in main["mountPoints"]}
    assert shared and all(m["containerPath"] == "/run/secrets" for m in writer["mountPoints"])
    assert {"name": "POSTGRES_PASSWORD_FILE", "value": "/run/secrets/db_password"} in main["environment"]
    params = [r for r in report["resources"] if r["type"] == "aws:ssm/parameter:Parameter"]
    stored = {r["inputs"]["name"]: r["inputs"]["value"] for r in params}
    assert stored["/private-fargate/t/compose-db_password"] == "[secret]"
    assert all(v == "[secret]" for v in stored.values())
    assert "hunter2" not in json.dumps(report["resources"])


def test_init_containers_in_order(report: dict[str, Any]) -> None:
    web = containers(report, "service-web-task")
    assert list(web) == ["web", "write-secrets", "migrate"]
    assert web["migrate"]["dependsOn"] == [{"containerName": "write-secrets", "condition": "SUCCESS"}]
    assert web["web"]["dependsOn"] == [{"containerName": "write-secrets", "condition": "SUCCESS"},
                                       {"containerName": "migrate", "condition": "SUCCESS"}]
    assert [s["name"] for s in web["migrate"]["secrets"]] == ["DATABASE_URL"]  # a credential: not plain


def test_container_settings_from_compose(report: dict[str, Any]) -> None:
    web = containers(report, "service-web-task")["web"]
    assert web["stopTimeout"] == 120 and web["linuxParameters"] == {"initProcessEnabled": True}
    assert web["ulimits"] == [{"name": "nofile", "softLimit": 65535, "hardLimit": 65535}]
    assert web["readonlyRootFilesystem"] is False
    assert [(p["containerPort"], p["protocol"]) for p in web["portMappings"]] == [(8080, "tcp"), (8125, "udp")]
    assert {"name": "CACHE_HOST", "value": "cache"} in web["environment"]
    cache = containers(report, "service-cache-task")["cache"]
    assert [p["containerPort"] for p in cache["portMappings"]] == [6379]
    job = containers(report, "job-report-task")["report"]
    assert {"name": "PGHOST", "value": "db.t.private-fargate.internal"} in job["environment"]
    # read_only with a tmpfs (Paperless-ngx's shape), expose beside ports, a data folder compose would create
    proxy = containers(report, "service-proxy-task")["proxy"]
    assert proxy["readonlyRootFilesystem"] is True
    assert ("var-cache-nginx", "/var/cache/nginx") in [(m["sourceVolume"], m["containerPath"])
                                                       for m in proxy["mountPoints"]]
    assert [p["containerPort"] for p in proxy["portMappings"]] == [8443, 9113]
    assert [(m["sourceVolume"], m["containerPath"]) for m in cache["mountPoints"]] == [("efs-cache-data", "/data")]
    builds = [r["inputs"] for r in report["resources"] if r["type"] == IMAGE]
    assert {"context": "app", "target": "build"} in [{k: b.get(k) for k in ("context", "target")} for b in builds]


def test_project_files_are_built_into_images(report: dict[str, Any]) -> None:
    directory: Path = report["directory"]
    builds = {r["inputs"]["context"]: r["inputs"] for r in report["resources"] if r["type"] == IMAGE}
    proxy = builds[".private-fargate/compose/proxy"]
    assert proxy["dockerfile"] == ".private-fargate/compose/proxy/Dockerfile"
    text = (directory / ".private-fargate/compose/proxy/Dockerfile").read_text()
    assert "FROM ghcr.io/example-org/nginx-unprivileged:1.27" in text
    assert (directory / ".private-fargate/compose/proxy/files/0").read_text() == "server { listen 8443; }\n"
    web = builds[".private-fargate/compose/web"]
    assert 'COPY ["private-fargate-files/files/0", "/srv/config/app.ini"]' in \
        (directory / ".private-fargate/compose/web/Dockerfile").read_text()
    assert web["dockerfile"] == ".private-fargate/compose/web/Dockerfile"
    # ./app is built twice (with the migration's args, and as the doctor's probe): keyed by context, one is lost
    migrate = next(r["inputs"] for r in report["resources"] if r["type"] == IMAGE and r["inputs"].get("args"))
    assert migrate["args"] == {"APP_MODE": "migrate"} and migrate["context"] == "app"


def test_report_per_compose_service(report: dict[str, Any]) -> None:
    notes = report["notes"]
    for line in ("compose: services.db: service db (mapped:", "compose: services.migrate: init container migrate "
                 "of web", "compose: services.report: job report", "compose: services.cache: port 6379 assumed",
                 "compose: services.db: shm_size left out"):
        assert any(n.startswith(line) for n in notes), line


def test_preview_shows_each_compose_service(report: dict[str, Any]) -> None:
    """`python -m tools.preview --stack S`: a section per compose service (and `compose` in --json)."""
    import io

    from tools.preview.render import render

    by_name = {c["service"]: c for c in report["compose"]}
    assert by_name["migrate"]["becomes"].startswith("init container migrate of web")
    assert any(n.startswith("shm_size left out") for n in by_name["db"]["notes"])
    out = io.StringIO()
    render({k: v for k, v in report.items() if k != "directory"}, out)
    text = out.getvalue()
    section = text[text.index("Compose services"):]
    assert "    services.web: service web (mapped: build, command, environment, ports" in section
    assert "        - stop_grace_period 3m became stopTimeout 120" in section
