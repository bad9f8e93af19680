"""Credentials in a compose service's plain environment become secrets the stack owns.

Real compose files set `POSTGRES_PASSWORD: example` or `DATABASE_URL: postgres://user:pw@db/app` in
`environment`. A task definition with that in plain environment shows it to anyone who can describe
the task, and the policy pack's mandatory `ecs-no-secrets-in-environment` refuses it. So each such
variable is stored as an SSM SecureString parameter the stack owns (like `secretValues`, its value a
Pulumi secret) and reaches the container as the same variable through ECS `secrets`: the app sees no
difference. An empty value stays (SSM stores no empty value), with a note.
"""

from __future__ import annotations

import re
from typing import Any

from settings.compose.context import Report

#: A name that holds a credential: one of these words, as a whole word of the name (DB_PASSWORD, SECRET_KEY_BASE).
_WORDS = re.compile(r"(?:^|_)(?:PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|CREDENTIALS?|(?:API|PRIVATE|SECRET|ACCESS|AUTH"
                    r"|ENCRYPTION|SIGNING|MASTER|LICENSE|HMAC|SESSION|SSH)_?KEY|CLIENT_?SECRET)(?:_|$)|.+_(?:PASS|PWD)$",
                    re.I)
#: Names that hold credentials though a word of theirs says otherwise (AWS Config's ecs-no-environment-secrets).
_EXPLICIT = frozenset({"AWS_ACCESS_KEY_ID", "ECS_ENGINE_AUTH_DATA"})
#: A last word that says the variable describes a credential rather than holds it (DB_PASSWORD_FILE, TOKEN_TTL).
_DESCRIBES = re.compile(r"_(?:FILE|PATH|DIR|URL|URI|HOST|PORT|NAME|ID|ARN|TTL|LENGTH|MIN|MAX|SECONDS|TIMEOUT|ENABLED"
                        r"|TYPE|HEADER|EXPIRY|ENDPOINT|ALGORITHM|MODE|LEVEL|LIFETIME|DURATION)$", re.I)
#: A value that carries a credential: a URL with a password, an AWS key id, a private key, a GitHub or Slack token.
#: Names and values the pack's ecs-no-secrets-in-environment refuses are all caught here (tests/test_compose.py
#: checks it), so an import never fails the pack on a credential it could have moved.
_VALUE = re.compile(r"://[^/\s:@]+:[^/\s@]+@|A[KS]IA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY"
                    r"|gh[pousr]_[A-Za-z0-9]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}")


def credential(name: str, value: str) -> bool:
    """True when a plain variable holds a credential, by its name or its value."""
    if value.startswith(("arn:", "/", "./")):
        return False  # it points at a secret instead of holding it
    return (name.upper() in _EXPLICIT or bool(_VALUE.search(value))
            or (bool(_WORDS.search(name)) and not _DESCRIBES.search(name)))


def move_credentials(entries: list[dict[str, Any]], reports: dict[str, Report], origins: dict[str, str],
                     secret_values: dict[str, str]) -> None:
    """Move each credential of every container's environment into `secrets`, stored as a stack-owned value."""
    for entry in entries:
        report = reports[origins[entry["name"]]]
        for container in [entry, *(entry.get("initContainers") or [])]:
            env: dict[str, str] = container.get("environment") or {}
            secrets = container.setdefault("secrets", {})
            for name in [n for n, v in env.items() if credential(n, str(v))]:
                value = str(env[name])
                if not value:
                    # A template's blank (Nextcloud's db.env, Docker Mailserver's mailserver.env): images read an
                    # empty value as unset (`${VAR:-...}`, `[ -n "$VAR" ]`), and the pack refuses the name itself.
                    del env[name]
                    report.note(f"environment.{name} left out: it is empty and names a credential (an empty value "
                                "reads as unset, and the pack's ecs-no-secrets-in-environment refuses the name in "
                                "plain environment); give it a value in the compose files or .env and it becomes a "
                                "stack-owned secret")
                    continue
                key = re.sub(r"[^A-Za-z0-9_-]+", "-", f"compose-{container['name']}-{name}")[:63].rstrip("-_")
                secret_values[key] = value
                secrets[name] = {"stackSecret": key}
                del env[name]
                report.note(f"environment.{name} looks like a credential: it is stored as a stack-owned SSM "
                            f"SecureString ({key}) and reaches the container as the same variable, not in plain "
                            "environment (the policy pack's ecs-no-secrets-in-environment)")
            if not secrets:
                container.pop("secrets")
