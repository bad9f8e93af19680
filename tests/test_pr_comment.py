"""tools.pr_comment against a fake GitHub REST API on loopback: one comment per stack, whatever the pushes.

The fake keeps comments like GitHub's issue-comment endpoints do (list with per_page/page, create,
edit, delete; https://docs.github.com/en/rest/issues/comments), checks the bearer token and answers
403 to a wrong one. The workflow's jobs are checked too: who can write, and on whose code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from tests.support import ROOT
from tools import pr_comment
from tools.pr_comment import BOT, MAX_BODY, GitHub, fit, marker, ours, post

TOKEN = "test-token"
REPO = "acme/private-fargate"


class FakeGitHub:
    """Comments of one repository's issues, and a log of the calls."""

    def __init__(self) -> None:
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.calls: list[tuple[str, str]] = []
        self.next_id = 1000

    def add(self, pr: int, body: str, login: str = BOT) -> dict[str, Any]:
        self.next_id += 1
        comment = {"id": self.next_id, "body": body, "user": {"login": login}}
        self.comments.setdefault(pr, []).append(comment)
        return comment

    def find(self, comment_id: int) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
        for items in self.comments.values():
            for c in items:
                if c["id"] == comment_id:
                    return items, c
        return None


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any = None) -> None:
            raw = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _route(self, method: str) -> None:
            url = urlparse(self.path)
            fake.calls.append((method, url.path))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._answer(403, {"message": "Resource not accessible by integration"})
            length = int(self.headers.get("Content-Length") or 0)
            data = json.loads(self.rfile.read(length)) if length else {}
            parts = url.path.strip("/").split("/")  # repos/o/r/issues/N/comments | repos/o/r/issues/comments/ID
            if parts[4] == "comments":
                found = fake.find(int(parts[5]))
                if found is None:
                    return self._answer(404, {"message": "Not Found"})
                items, comment = found
                if method == "PATCH":
                    comment["body"] = data["body"]
                    return self._answer(200, comment)
                items.remove(comment)
                return self._answer(204)
            pr = int(parts[4])
            if method == "POST":
                if len(data["body"]) > 65536:
                    return self._answer(422, {"message": "Body is too long (maximum is 65536 characters)"})
                return self._answer(201, fake.add(pr, data["body"]))
            query = parse_qs(url.query)
            size, page = int(query["per_page"][0]), int(query["page"][0])
            return self._answer(200, fake.comments.get(pr, [])[(page - 1) * size:page * size])

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PATCH(self) -> None:
            self._route("PATCH")

        def do_DELETE(self) -> None:
            self._route("DELETE")

    return Handler


@pytest.fixture
def api() -> Iterator[tuple[FakeGitHub, str]]:
    fake = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


DOCS = {"dev": "### Offline preview of `dev`\n\nfirst\n", "prod": "### Offline preview of `prod`\n\nfirst\n"}


def test_one_comment_per_stack_created_then_updated_never_duplicated(api: tuple[FakeGitHub, str]) -> None:
    fake, url = api
    github = GitHub(url, REPO, TOKEN)
    fake.add(7, "a reviewer's comment", login="alice")
    first = post(github, 7, DOCS)
    assert [line.split(" comment")[0] for line in first] == ["dev: created", "prod: created"]
    ids = {stack: ours(fake.comments[7], stack)[0]["id"] for stack in DOCS}
    before = len(fake.calls)
    again = post(github, 7, DOCS)  # the same push again: nothing written
    assert all("already up to date" in line for line in again)
    assert [c[0] for c in fake.calls[before:]] == ["GET"]
    pushed = post(github, 7, {**DOCS, "dev": DOCS["dev"].replace("first", "second")})
    assert pushed[0] == f"dev: updated comment {ids['dev']}" and "already up to date" in pushed[1]
    assert len(fake.comments[7]) == 3  # alice's and one per stack
    (dev,) = ours(fake.comments[7], "dev")
    assert dev["id"] == ids["dev"] and dev["body"].startswith(marker("dev") + "\n") and "second" in dev["body"]


def test_the_marker_of_someone_else_is_not_ours_and_duplicates_are_removed(api: tuple[FakeGitHub, str]) -> None:
    fake, url = api
    quoted = fake.add(3, f"{marker('dev')}\nquoted by a person", login="alice")
    older = fake.add(3, f"{marker('dev')}\nold")
    racing = fake.add(3, f"{marker('dev')}\nfrom a run that raced")
    lines = post(GitHub(url, REPO, TOKEN), 3, {"dev": DOCS["dev"]})
    assert lines == [f"dev: updated comment {older['id']}", f"dev: deleted duplicate comment {racing['id']}"]
    assert [c["id"] for c in fake.comments[3]] == [quoted["id"], older["id"]]
    assert quoted["body"].endswith("quoted by a person")


def test_finds_its_comment_past_the_first_page(api: tuple[FakeGitHub, str]) -> None:
    fake, url = api
    for i in range(230):
        fake.add(9, f"chatter {i}", login="bob")
    mine = fake.add(9, f"{marker('prod')}\nold")
    assert post(GitHub(url, REPO, TOKEN), 9, {"prod": DOCS["prod"]}) == [f"prod: updated comment {mine['id']}"]
    assert [c for c in fake.calls if c[0] == "GET"] == [("GET", "/repos/acme/private-fargate/issues/9/comments")] * 3


def test_a_refusal_is_one_line_and_exit_1(api: tuple[FakeGitHub, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _, url = api
    (tmp_path / "dev.md").write_text(DOCS["dev"])
    monkeypatch.setenv("GITHUB_API_URL", url)
    monkeypatch.setenv("GITHUB_TOKEN", "a-read-only-token")
    assert pr_comment.main(["post", "--repo", REPO, "--pr", "5", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HTTP 403 Resource not accessible by integration" in err
    monkeypatch.delenv("GITHUB_TOKEN")
    assert pr_comment.main(["post", "--repo", REPO, "--pr", "5", str(tmp_path)]) == 1
    assert "GITHUB_TOKEN is not set" in capsys.readouterr().err


def test_cli_posts_every_document_of_the_directory(api: tuple[FakeGitHub, str], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    fake, url = api
    for stack, doc in DOCS.items():
        (tmp_path / f"{stack}.md").write_text(doc)
    monkeypatch.setenv("GITHUB_API_URL", url)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    for _ in range(2):
        assert pr_comment.main(["post", "--repo", REPO, "--pr", "11", str(tmp_path)]) == 0
    assert sorted(c["body"].split("\n", 1)[0] for c in fake.comments[11]) == [marker("dev"), marker("prod")]


def test_a_long_document_is_cut_to_fit_details_first(api: tuple[FakeGitHub, str]) -> None:
    fake, url = api
    details = "<details><summary>Notes</summary>\n\n" + "- a note\n" * 9000 + "\n</details>\n"
    doc = "### Offline preview of `dev`\n\n```mermaid\nflowchart LR\n  a --> b\n```\n\n" + details
    assert len(doc) > MAX_BODY
    cut = fit(doc, where="the job summary")
    assert len(cut) <= MAX_BODY and "<details>" not in cut and "```mermaid" in cut and "job summary" in cut
    huge = "```mermaid\n" + "  a --> b\n" * 20000 + "```\n"
    cut = fit(huge)
    assert len(cut) <= MAX_BODY and cut.count("```") % 2 == 0  # no code block left open
    post(GitHub(url, REPO, TOKEN), 1, {"dev": doc})  # the fake refuses bodies over 65,536 characters, as GitHub does
    assert len(fake.comments[1]) == 1


def test_summary_appends_every_document_and_refuses_odd_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for stack, doc in DOCS.items():
        (docs / f"{stack}.md").write_text(doc)
    target = tmp_path / "summary.md"
    target.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    assert pr_comment.main(["summary", str(docs)]) == 0
    text = target.read_text()
    assert text.startswith("earlier step\n") and text.index("`dev`") < text.index("`prod`")
    (docs / "a b.md").write_text("x")
    assert pr_comment.main(["summary", str(docs)]) == 1
    assert "stack name 'a b'" in capsys.readouterr().err


def test_the_workflow_never_gives_a_writing_token_to_pull_request_code() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/pull-request.yml").read_text())
    assert "pull_request_target" not in workflow[True]  # PyYAML reads the key `on` as True
    jobs = workflow["jobs"]
    document, comment = jobs["document"], jobs["comment"]
    assert document["permissions"] == {"contents": "read"}
    runs = "\n".join(s.get("run", "") for s in document["steps"])
    assert "--format markdown" in runs and "--baseline" in runs and "--project-dir .base" in runs
    assert "pr_comment summary" in runs
    assert [s["with"]["ref"] for s in document["steps"] if "ref" in s.get("with", {})] == [
        "${{ github.event.pull_request.base.sha }}"]
    # the job that can write: only same-repository pull requests, no program, no dependency installed
    assert comment["permissions"] == {"contents": "read", "pull-requests": "write"} and comment["needs"] == "document"
    assert "head.repo.full_name == github.repository" in comment["if"]
    uses = [s.get("uses", "").split("@")[0] for s in comment["steps"]]
    assert uses == ["actions/checkout", "actions/download-artifact", ""]
    assert comment["steps"][0]["with"]["sparse-checkout"] == "tools/pr_comment.py"
    run = comment["steps"][-1]["run"]
    assert run.startswith("python3 tools/pr_comment.py post") and "${{" not in run


@pytest.mark.skipif(shutil.which("bash") is None, reason="runs the workflow's shell step, which needs bash")
@pytest.mark.parametrize("base_exit,kept", [(0, True), (1, True), (2, False)])
def test_a_base_with_mandatory_violations_is_still_the_baseline(tmp_path: Path, base_exit: int, kept: bool) -> None:
    """The workflow's loop, run by bash with a stand-in `python3` that records its calls: a base preview that
    exits 1 (mandatory violations, a report all the same) stays the baseline; exit 2 (no report) does not."""
    workflow = yaml.safe_load((ROOT / ".github/workflows/pull-request.yml").read_text())
    (step,) = [s for s in workflow["jobs"]["document"]["steps"] if "--baseline" in s.get("run", "")]
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n")
    (tmp_path / ".base").mkdir()
    (tmp_path / ".base" / "Pulumi.dev.yaml").write_text("config: {}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"
    fake.write_text(f"""#!/bin/sh
echo "$@" >> {tmp_path}/calls
case "$*" in *"--project-dir .base"*) echo '{{}}'; exit {base_exit};; esac
exit 0
""")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, check=True)
    head = [c for c in (tmp_path / "calls").read_text().splitlines() if "--format markdown" in c]
    assert len(head) == 1 and ("--baseline pr-preview/dev.base.json" in head[0]) is kept
