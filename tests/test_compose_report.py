"""`python -m tools.compose_report`: per file imported, refused (every reason) or nothing to run; the totals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import compose_report


def project(root: Path, name: str, compose: str, file: str = "compose.yaml") -> Path:
    folder = root / name
    folder.mkdir()
    (folder / file).write_text(compose)
    return folder / file


def test_imported_refused_and_empty_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Three shapes: a two-service app, Traefik with the Docker socket, Bitwarden's dev file (all in profiles)."""
    project(tmp_path, "app", "services:\n  web: {image: 'ghcr.io/example/web:1.0', ports: ['8080']}\n"
                             "  db: {image: 'postgres:16.4', volumes: ['db:/var/lib/postgresql/data']}\n"
                             "volumes: {db: {}}\n")
    project(tmp_path, "proxy", "services:\n  proxy: {image: 'traefik:v3.1', network_mode: host,\n"
                               "    volumes: ['/var/run/docker.sock:/var/run/docker.sock']}\n", "docker-compose.yml")
    project(tmp_path, "dev", "services:\n  mssql: {image: 'mcr.microsoft.com/mssql/server:2022-latest', "
                             "profiles: [mssql]}\n")
    assert compose_report.main([str(tmp_path), "--credentials", "dockerhub,ghcr", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {Path(r["file"]).parent.name: r for r in out["files"]}
    assert rows["app"]["imported"] and (rows["app"]["services"], rows["app"]["containers"]) == (2, 2)
    assert not rows["proxy"]["imported"] and [line.split(":")[0] for line in rows["proxy"]["refused"]] == [
        "services.proxy.network_mode", "services.proxy.volumes"]
    assert rows["dev"].get("empty") and not rows["dev"]["imported"]
    assert (out["totals"]["imported"], out["totals"]["refused"], out["totals"]["empty"]) == (1, 1, 1)
    assert out["totals"]["refusalsByKey"] == {"network_mode": 1, "volumes": 1}


def test_text_report_and_profiles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project(tmp_path, "dev", "services:\n  cache: {image: 'redis:7.4', profiles: [cache]}\n")
    compose_report.main([str(path)])
    assert "empty     " in capsys.readouterr().out
    compose_report.main([str(path), "--profiles", "cache", "--credentials", "dockerhub"])
    text = capsys.readouterr().out
    assert "imported  " in text and "1 of 1 files imported (1 services" in text
