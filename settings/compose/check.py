"""Validate each settings entry a compose service became, so a problem names the compose service, not `services[3]`."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from settings.compose import ComposeResult
from settings.errors import SettingsError, problems_from
from settings.images import CREDENTIAL_KEYS
from settings.workloads import JobSettings, ServiceSettings


def check_generated(result: ComposeResult, services: list[Any], jobs: list[Any], context: dict[str, Any],
                    shown: str) -> None:
    """SettingsError (one line per problem, each naming `services.<compose name>`) when an entry a compose service
    became (merged with the settings entry of the same name) is not valid."""
    origins = result.origins
    problems: list[str] = []
    for model, entries in ((ServiceSettings, services), (JobSettings, jobs)):
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("name") not in origins:
                continue
            try:
                model.model_validate(entry, context=context)
            except ValidationError as exc:
                problems += [f"compose: {shown}: services.{origins[entry['name']]}: its settings are not valid: "
                             f"{line}" for line in problems_from(exc, model)]
    if problems:
        raise SettingsError(problems)


def credential_keys(repository: Any) -> frozenset[str]:
    """Keys of `repository.upstreamCredentials` given (and `dockerHubCredentialArn`), before validation."""
    if not isinstance(repository, dict):
        return frozenset()
    given = {k for k in (repository.get("upstreamCredentials") or {}) if k in CREDENTIAL_KEYS}
    if repository.get("dockerHubCredentialArn"):
        given.add("dockerhub")
    return frozenset(given)
