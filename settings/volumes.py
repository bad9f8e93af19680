"""What the stack keeps for its workloads: persistent `volumes` (EFS) and `secretValues` (SSM SecureString).

Also the rules that tie them to the workloads: a mount names a volume of the stack, a
`{stackSecret: KEY}` names a key of `secretValues`, every value of `secretValues` is a `secure:`
config value, and a volume nobody mounts is worth a note. `check_references` runs once the whole
settings object is valid (settings/model.py).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from settings.base import Model
from settings.errors import OFFLINE_SECRET, SettingError
from settings.patterns import STACK_KEY

_STACK_KEY = re.compile(STACK_KEY)
#: A writable path's task volume name is its path with other characters as '-' (components/builders.py);
#: a stack volume's task volume is `efs-<key>`.
EFS_VOLUME_PREFIX = "efs-"


class VolumeSettings(Model):
    """One entry of `volumes`: an EFS access point whose root directory belongs to uid:gid with these permissions."""

    uid: int = Field(ge=1, le=4294967295, description=(
        "POSIX user every file operation through the volume runs as (the container's `user`); not 0: root "
        "needs `elasticfilesystem:ClientRootAccess`, which no task gets"))
    gid: int = Field(ge=1, le=4294967295, description="POSIX group of those operations")
    permissions: str = Field("0755", pattern=r"^0?[0-7]{3}$", description=(
        "octal mode of the volume's root directory, created on first use"))


def volume_name(path: str) -> str:
    """The task volume name of a writable path (letters, digits, '-' and '_')."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", path.strip("/")) or "root"


def secret_value_shape(value: Any) -> Any:
    """`secretValues` before validation: keys SSM can name, string values. No message ever shows a value."""
    if not isinstance(value, dict):
        raise SettingError((), "expected a mapping of key -> secure: value")
    for key, item in value.items():
        if not _STACK_KEY.match(str(key)):
            raise SettingError(str(key), "is not a valid key; expected letters, digits, '_' and '-', up to 63 "
                                         "characters, starting with a letter or digit (it names an SSM parameter)")
        if not isinstance(item, str) or not item:
            raise SettingError(str(key), "must be a secure: config value; the value is not shown")
    return value


def check_secret_values(values: dict[str, str], secret: bool) -> None:
    """Every value of `secretValues` was given as `secure:`.

    Pulumi marks the whole `secretValues` key secret when any value inside it is secure, and hands the
    program decrypted values, so a run can prove only that one was. The offline preview (every pull
    request) hands the placeholder for each secure value instead, so there a plain value shows.
    """
    how = "set each with `pulumi config set --secret --path 'private-fargate:secretValues.<key>' <value>`"
    if values and not secret:
        raise SettingError("secretValues", f"its values are plain text in the stack file; {how} (the values are "
                                           "not shown)")
    if OFFLINE_SECRET in values.values():
        for key, item in values.items():
            if item != OFFLINE_SECRET:
                raise SettingError(("secretValues", key), f"is a plain value in the stack file; {how}")


def check_references(settings: Any) -> list[str]:
    """Mounts name volumes, stack secrets name keys of secretValues; notes for volumes nobody mounts."""
    mounted: set[str] = set()
    for kind, items in settings.kinds():
        for i, workload in enumerate(items):
            for path, container in workload.containers:
                where = (kind, i, *path)
                for j, mount in enumerate(container.mounts):
                    if mount.volume not in settings.volumes:
                        raise SettingError((*where, "mounts", j, "volume"),
                                           f"{mount.volume!r} is not a key of volumes; volumes: "
                                           f"{', '.join(sorted(settings.volumes)) or 'none'}")
                    mounted.add(mount.volume)
                for name, source in container.secrets.items():
                    key = getattr(source, "stack_secret", None)
                    if key is not None and key not in settings.stack_secret_values:
                        raise SettingError((*where, "secrets", name, "stackSecret"),
                                           f"{key!r} is not a key of secretValues; keys: "
                                           f"{', '.join(sorted(settings.stack_secret_values)) or 'none'}")
                for path_text in container.writable_paths:
                    if volume_name(path_text).startswith(EFS_VOLUME_PREFIX):
                        raise SettingError((*where, "writablePaths"),
                                           f"{path_text!r} would be named like a stack volume's task volume "
                                           f"({EFS_VOLUME_PREFIX}...); choose another path")
            _check_shared_paths(kind, i, workload)
    return [f"volumes.{name}: no container mounts it; its access point is created and stays empty"
            for name in sorted(set(settings.volumes) - mounted)]


def _check_shared_paths(kind: str, index: int, workload: Any) -> None:
    """Writable paths become task volumes by name: two different paths must not get one name."""
    names: dict[str, str] = {}
    for path, container in workload.containers:
        for p in container.writable_paths:
            other = names.setdefault(volume_name(p), p)
            if other != p:
                raise SettingError((kind, index, *path, "writablePaths"),
                                   f"{p!r} and {other!r} get the same task volume name {volume_name(p)!r}; "
                                   "rename one of them")
