"""Secret values kept out of what the preview prints, even where a policy quotes what it read.

The report prints a secret input or output as `[secret]`; the policies read the real value (as
CrossGuard's do), and a policy's message may quote it. Every string a resource holds as a secret is
collected from the policies' view before that view is dropped, and replaced in the violations'
messages and the notes. Strings shorter than four characters are left alone: replacing every `80` or
`true` would garble messages and hide nothing.
"""

from __future__ import annotations

import json
from typing import Any

from tools.preview.wire import _SECRET, _SIG, SECRET_TEXT

MIN_LENGTH = 4


def _strings(value: Any, inside: bool, out: set[str]) -> None:
    if isinstance(value, dict):
        secret = value.get(_SIG) == _SECRET
        for key, item in value.items():
            if key != _SIG:
                _strings(item, inside or secret, out)
    elif isinstance(value, list):
        for item in value:
            _strings(item, inside, out)
    elif inside and isinstance(value, str) and len(value) >= MIN_LENGTH:
        out.add(value)
        # A secret that is JSON (a container definition built from a secret image or password) holds the
        # values a policy quotes one by one: those are secret too. More `[secret]` is the safe reading.
        if value[:1] in "[{":
            try:
                parsed = json.loads(value)
            except ValueError:
                return
            _strings(parsed, True, out)


def secret_values(resources: list[dict[str, Any]]) -> set[str]:
    """Every string held as a secret in the resources' policy view (`_policy`)."""
    found: set[str] = set()
    for resource in resources:
        view = resource.get("_policy") or {}
        _strings(view.get("inputs"), False, found)
        _strings(view.get("outputs"), False, found)
    return found


def scrub(report: dict[str, Any], secrets: set[str]) -> None:
    """Replace the secrets in the violations' messages and in the notes by `[secret]` (longest first)."""
    if not secrets:
        return
    ordered = sorted(secrets, key=len, reverse=True)

    def clean(text: str) -> str:
        for secret in ordered:
            text = text.replace(secret, SECRET_TEXT)
        return text

    for violation in report.get("violations", []):
        violation["message"] = clean(violation.get("message", ""))
    report["notes"] = [clean(n) for n in report.get("notes", [])]
