"""Post the offline preview's documents on a pull request: one comment per stack, updated on every push.

    python -m tools.pr_comment post --repo OWNER/NAME --pr N DIR    # GITHUB_TOKEN in the environment
    python -m tools.pr_comment summary DIR                          # append to $GITHUB_STEP_SUMMARY

DIR holds one `<stack>.md` per stack (`python -m tools.preview --format markdown`). Each comment starts
with a hidden marker, `<!-- private-fargate:preview stack=<stack> -->`; `post` lists the pull request's
comments, finds the one with the stack's marker written by the token's own bot account, and edits it,
or creates it when there is none; duplicates of it (two runs racing) are deleted. So a pull request has
one comment per stack whatever the number of pushes. Only the standard library: the posting job of
the workflow checks out no program and installs nothing.

GitHub's REST API for issue comments (a pull request's conversation is its issue's):
https://docs.github.com/en/rest/issues/comments (a body holds at most 65,536 characters; GitHub's
own answer when it is longer is "Body is too long (maximum is 65536 characters)").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = "<!-- private-fargate:preview stack={stack} -->"
MARKER_RE = re.compile(r"<!-- private-fargate:preview stack=([A-Za-z0-9_.-]+) -->")
#: A comment's limit is 65,536 characters; what passes it is cut (details first), with a pointer to the summary.
MAX_BODY = 65_000
BOT = "github-actions[bot]"
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class CommentError(Exception):
    """The comment could not be posted; the message is the one line to print."""


def marker(stack: str) -> str:
    """The hidden first line of a stack's comment."""
    if not STACK_NAME.match(stack):
        raise CommentError(f"stack name {stack!r}: only letters, digits, '_', '.' and '-' are allowed")
    return MARKER.format(stack=stack)


def fit(body: str, limit: int = MAX_BODY, where: str = "the job summary of this run") -> str:
    """The body cut to `limit` characters: whole `<details>` blocks dropped from the end first, then lines."""
    note = f"\n\n_Cut to fit a comment: the whole document is in {where}._\n"
    if len(body) <= limit:
        return body
    blocks = list(re.finditer(r"<details>.*?</details>\n?", body, flags=re.S))
    while blocks and len(body) + len(note) > limit:
        block = blocks.pop()
        body = body[:block.start()] + body[block.end():]
    if len(body) + len(note) > limit:
        body = body[:limit - len(note)].rsplit("\n", 1)[0]
        if body.count("```") % 2:  # do not leave a code block open
            body += "\n```"
    return body.rstrip("\n") + note


def documents(directory: Path) -> dict[str, str]:
    """Stack -> document, from DIR/<stack>.md, sorted by stack."""
    found = {p.stem: p.read_text() for p in sorted(Path(directory).glob("*.md"))}
    if not found:
        raise CommentError(f"{directory}: no <stack>.md document")
    for stack in found:
        marker(stack)
    return found


@dataclass
class GitHub:
    """The few REST calls the comment needs."""

    api: str
    repo: str
    token: str

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One request; the parsed JSON answer (None when empty)."""
        request = urllib.request.Request(
            f"{self.api.rstrip('/')}{path}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json",
                     "User-Agent": "private-fargate-pr-comment"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            try:
                detail = json.loads(detail).get("message", detail)
            except ValueError:
                pass
            raise CommentError(f"{method} {path}: HTTP {exc.code} {detail}".strip()) from None
        except urllib.error.URLError as exc:
            raise CommentError(f"{method} {path}: {exc.reason}") from None
        return json.loads(raw) if raw else None

    def comments(self, pr: int) -> list[dict[str, Any]]:
        """Every comment of the pull request's conversation, oldest first (all pages)."""
        out, page = [], 1
        while True:
            batch = self.call("GET", f"/repos/{self.repo}/issues/{pr}/comments?per_page=100&page={page}")
            out += batch
            if len(batch) < 100:
                return out
            page += 1


def ours(comments: list[dict[str, Any]], stack: str, author: str = BOT) -> list[dict[str, Any]]:
    """The comments of a stack's document: its marker on the first line, written by `author`."""
    head = marker(stack)
    return [c for c in comments if (c.get("user") or {}).get("login") == author
            and (c.get("body") or "").split("\n", 1)[0].strip() == head]


def post(github: GitHub, pr: int, docs: dict[str, str], author: str = BOT,
         where: str = "the job summary of this run") -> list[str]:
    """Create or update one comment per stack; what was done, one line each."""
    existing = github.comments(pr)
    done = []
    for stack, doc in docs.items():
        body = f"{marker(stack)}\n{fit(doc, MAX_BODY - len(marker(stack)) - 1, where)}"
        mine = ours(existing, stack, author)
        if not mine:
            created = github.call("POST", f"/repos/{github.repo}/issues/{pr}/comments", {"body": body})
            done.append(f"{stack}: created comment {created.get('id')}")
            continue
        first, *extra = mine
        if first.get("body") != body:
            github.call("PATCH", f"/repos/{github.repo}/issues/comments/{first['id']}", {"body": body})
            done.append(f"{stack}: updated comment {first['id']}")
        else:
            done.append(f"{stack}: comment {first['id']} already up to date")
        for duplicate in extra:
            github.call("DELETE", f"/repos/{github.repo}/issues/comments/{duplicate['id']}")
            done.append(f"{stack}: deleted duplicate comment {duplicate['id']}")
    return done


def summary(docs: dict[str, str], target: Path) -> None:
    """Append the documents to the job summary file."""
    with target.open("a") as out:
        for doc in docs.values():
            out.write(doc.rstrip("\n") + "\n\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point; 0 done, 1 not (one line on stderr says why)."""
    p = argparse.ArgumentParser(prog="python -m tools.pr_comment", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    posting = sub.add_parser("post", help="create or update one comment per stack on the pull request")
    posting.add_argument("--repo", required=True, help="OWNER/NAME")
    posting.add_argument("--pr", type=int, required=True, help="pull request number")
    posting.add_argument("--author", default=BOT, help=f"login whose comments are ours [{BOT}]")
    posting.add_argument("directory", type=Path)
    summing = sub.add_parser("summary", help="append the documents to $GITHUB_STEP_SUMMARY")
    summing.add_argument("directory", type=Path)
    args = p.parse_args(argv)
    try:
        docs = documents(args.directory)
        if args.command == "summary":
            target = os.environ.get("GITHUB_STEP_SUMMARY")
            if not target:
                raise CommentError("GITHUB_STEP_SUMMARY is not set (it is, in a GitHub Actions step)")
            summary(docs, Path(target))
            return 0
        token = os.environ.get("GITHUB_TOKEN")
        if not token:
            raise CommentError("GITHUB_TOKEN is not set: give the step `env: GITHUB_TOKEN: ${{ github.token }}`")
        api = os.environ.get("GITHUB_API_URL", "https://api.github.com")
        run = os.environ.get("GITHUB_RUN_ID")
        where = (f"the job summary of run {os.environ.get('GITHUB_SERVER_URL', 'https://github.com')}/"
                 f"{args.repo}/actions/runs/{run}") if run else "the job summary of this run"
        for line in post(GitHub(api, args.repo, token), args.pr, docs, args.author, where):
            print(line)
    except CommentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
