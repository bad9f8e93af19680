"""Where settings come from: every `private-fargate:*` key of the stack's Pulumi config, parsed.

pulumi.Config can only fetch keys it is asked for; listing them all is what lets a mistyped
top-level key be reported instead of silently ignored.
"""

from __future__ import annotations

import json
from typing import Any


def read_namespace(namespace: str) -> tuple[dict[str, Any], frozenset[str]]:
    """Every `<namespace>:<key>` config value, structured values parsed, and which keys are secret.

    pulumi.Config can only fetch keys it is asked for; listing them all is what lets a mistyped
    top-level key be reported instead of silently ignored.
    """
    from pulumi.runtime import config as runtime_config

    raw: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    data: dict[str, Any] = {}
    secret: set[str] = set()
    prefix = namespace + ":"
    for full_key in sorted(raw):
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix):]
        value = runtime_config.get_config(full_key)
        if runtime_config.is_config_secret(full_key):
            secret.add(key)
        data[key] = _parse_config_value(value)
    return data, frozenset(secret)


def _parse_config_value(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
