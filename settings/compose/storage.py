"""A compose service's filesystem: volumes, bind mounts, tmpfs, secrets and configs, the Fargate way.

- A named volume becomes a stack volume (EFS, `volumes` + `mounts`), shared by every service that mounts it;
  so does a project folder that does not exist yet (compose would create it on the host and keep it).
- A file or folder of the project that a service reads (a bind mount, a compose config) is baked into a
  derived image built for the stack: a generated build context under `.private-fargate/compose/<service>`
  (`FROM` the service's image, one `COPY` per file), or the service's own Dockerfile with the `COPY`s
  added when it is built from a context that holds the files. A bind mount of the build context itself
  is left out (the image was built from it). The derived image is written by settings/compose/bake.py.
- A host path outside the project, and the Docker socket, are refused: Fargate has no host.
- `tmpfs` and anonymous volumes become writable paths (ephemeral task storage: Fargate has no tmpfs,
  ECS API LinuxParameters.tmpfs is not supported on Fargate).
- Secrets reach `/run/secrets/<name>` as compose puts them: Fargate injects secrets only as environment
  variables, so an init container (`write-secrets`) writes each one, read from the stack's SSM parameter
  or the given ARN, into a task volume that the service mounts at /run/secrets; `*_FILE` variables work.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from settings.compose.bake import DerivedImage, write_file
from settings.compose.context import MapContext, Refused
from settings.compose.context import norm as _norm
from settings.compose.keys import compose_bool
from settings.compose.services import ServiceMapper

#: The image of the init container that writes secrets to files: busybox's shell, from ECR Public, which the
#: pull-through cache serves without credentials.
SECRETS_IMAGE = "public.ecr.aws/docker/library/busybox:1.36.1"
SECRETS_CONTAINER = "write-secrets"
#: Host files that only carry the host's time zone: left out with a note rather than refused.
TIME_ZONE_FILES = ("/etc/localtime", "/etc/timezone")
#: SSM SecureString values: at most 8 KB (advanced tier; 4 KB standard), and not empty.
SECRET_MAX_BYTES = 8192
_DEFAULT_UID = 1000


class StorageMapper(DerivedImage):
    """Adds `mounts`, `writablePaths`, `readonlyRootFilesystem`, secrets and baked files to a mapped entry."""

    def __init__(self, mapper: ServiceMapper):
        self.m = mapper
        self.ctx: MapContext = mapper.ctx
        self.entry = mapper.entry
        self.svc = mapper.svc
        self.bakes: list[tuple[Path, str, str | None]] = []  # (source, target in the image, chown)
        self.scratch: list[str] = []
        self.secret_files: list[dict[str, Any]] = []
        self.modes: dict[Path, int] = {}  # a config's file mode, applied to its copy

    def run(self) -> None:
        """Every step; refusals are collected on the mapper's report."""
        for step in (self._volumes, self._tmpfs, self._configs, self._secrets):
            try:
                step()
            except Refused as exc:
                self.m.refuse(exc.key, exc.why)
        self._root()
        if self.bakes and not self.m.report.refused:
            try:
                self._bake()
            except Refused as exc:
                self.m.refuse(exc.key, exc.why)

    # -- volumes ---------------------------------------------------------------------------------------

    def _volumes(self) -> None:
        mounts = []
        for item in self.svc.get("volumes") or []:
            try:  # every volume that cannot be mapped is its own refusal, not only the first
                mount = self._volume_mount(item)
            except Refused as exc:
                self.m.refuse(exc.key, exc.why)
                continue
            if mount is not None:
                mounts.append(mount)
        if mounts:
            self.entry["mounts"] = mounts
            self.m.mapped("volumes")

    def _volume_mount(self, item: Any) -> dict[str, Any] | None:
        """One `volumes` entry: an EFS mount, or None (baked, scratch or left out)."""
        kind, source, target, read_only, extra = _volume(item)
        if not target or not str(target).startswith("/"):
            raise Refused(f"volumes: {item!r}: the target must be an absolute path in the container")
        if kind == "volume" and not source:
            self._anonymous(str(target))
            return None
        if kind == "volume":
            if extra.get("subpath"):
                raise Refused(f"volumes: {item!r}: subpath is not available with EFS volumes here; mount the "
                              "whole volume or use a volume of its own")
            return self._named(str(source), str(target), read_only)
        if kind == "bind":
            return self._bind(str(source), str(target), read_only)
        if kind == "tmpfs":
            self.scratch.append(str(target))
            return None
        raise Refused(f"volumes: {item!r}: {kind} mounts are not available on Fargate; use a named volume")

    def _named(self, source: str, target: str, read_only: bool) -> dict[str, Any]:
        top = self.ctx.project.volumes
        if source not in top:
            raise Refused(f"volumes: {source!r} is not declared under the top-level volumes")
        return self._efs(source, _volume_key(source), target, read_only, top[source] or {})

    def _efs(self, source: str, key: str, target: str, read_only: bool, spec: dict[str, Any]) -> dict[str, Any]:
        """The mount of the stack's EFS volume `key` (created on first use, owned by the service's numeric user)."""
        user = str(self.entry.get("user") or "")
        uid, _, gid = user.partition(":")
        numeric = uid.isdigit() and int(uid) > 0 and (not gid or gid.isdigit() and int(gid) > 0)
        if key in self.ctx.explicit_volumes:
            if key not in self.ctx.volume_users:
                self.ctx.volume_users[key] = self.m.compose_name
                self.m.note(f"volume {source} is the EFS volume {key!r}, with the uid and gid of volumes.{key} in the "
                            "settings")
        elif key not in self.ctx.volumes:
            owner = (int(uid), int(gid or uid)) if numeric else (_DEFAULT_UID, _DEFAULT_UID)
            self.ctx.volumes[key] = {"uid": owner[0], "gid": owner[1]}
            self.ctx.volume_users[key] = self.m.compose_name
            how = (f"as the service's user {user}" if numeric else
                   f"as uid:gid {_DEFAULT_UID}:{_DEFAULT_UID}, which every file operation on it uses (EFS access "
                   f"point); if the app checks who owns its files (postgres does), set volumes.{key} in the "
                   "settings to the uid and gid it runs as")
            self.m.note(f"volume {source} is the EFS volume {key!r}, created {how}")
            if spec.get("external") or spec.get("driver") or spec.get("driver_opts"):
                self.m.note(f"volume {source}: external/driver/driver_opts left out: it is a new EFS volume and "
                            "starts empty; copy existing data into it")
        elif numeric and self.ctx.volumes[key]["uid"] != int(uid):
            self.m.note(f"volume {source} is also mounted by {self.ctx.volume_users[key]}: every file operation "
                        f"on it runs as uid {self.ctx.volumes[key]['uid']}, not {uid}")
        return {"volume": key, "path": target, "readOnly": read_only}

    def _anonymous(self, target: str) -> None:
        if compose_bool(self.svc.get("read_only")) is True:
            self.scratch.append(target)
            self.m.note(f"anonymous volume {target} is ephemeral task storage (it does not outlive the task)")
        else:
            self.m.note(f"anonymous volume {target} left out: the root filesystem is writable, so {target} keeps the "
                        "image's files and stays writable")

    def _bind(self, source: str, target: str, read_only: bool) -> dict[str, Any] | None:
        if source.rstrip("/").endswith("docker.sock"):
            raise Refused(f"volumes: {source}: Fargate has no Docker Engine to share; remove the socket mount (tools "
                          "that manage containers cannot run on Fargate)")
        if source in TIME_ZONE_FILES and target in TIME_ZONE_FILES:
            self.m.note(f"volume {source} left out: the container keeps its image's time zone; set TZ in "
                        "environment to choose one")
            return None
        path = Path(os.path.expanduser(source)) if source.startswith("~") else self.ctx.project.directory / source
        path = _norm(path)
        project = _norm(self.ctx.base_dir)  # the Pulumi project: what a build can copy from
        if source.startswith("~") or not path.is_relative_to(project):
            raise Refused(f"volumes: {source}: a host path outside the project, which a Fargate task cannot see; put "
                          "the files in the project (they are then baked into the image) or use a named volume")
        context = self._build_context()
        if context is not None and (path == context or context.is_relative_to(path)):
            self.m.note(f"volume {source}:{target} left out: it mounts the build context over the image, which "
                        "was built from it")
            return None
        if not path.exists():
            # compose creates the folder on the host and keeps it (a database's data, uploads): here that is
            # an EFS volume, so the data outlives the task and every service mounting the folder shares it
            key = _volume_key(str(path.relative_to(project)))
            self.m.note(f"volume {source} does not exist yet: compose would create it on the host and keep it, so it "
                        f"becomes the EFS volume {key!r}, kept across tasks and shared by every service that mounts "
                        f"{source}")
            return self._efs(source, key, target, read_only, {})
        self.bakes.append((path, target, None))
        self.m.mapped("volumes")
        return None

    def _build_context(self) -> Path | None:
        build = self.entry.get("image", {}).get("build")
        return _norm(self.ctx.base_dir / build["context"]) if build else None

    def _tmpfs(self) -> None:
        tmpfs = self.svc.get("tmpfs") or []
        for item in [tmpfs] if isinstance(tmpfs, str) else tmpfs:
            self.scratch.append(str(item).split(":")[0])
        if tmpfs:
            self.m.mapped("tmpfs")
            self.m.note("tmpfs became ephemeral task storage (writablePaths): Fargate has no tmpfs mounts (ECS API "
                        "LinuxParameters.tmpfs)")

    # -- configs and secrets ---------------------------------------------------------------------------

    def _configs(self) -> None:
        for item in self.svc.get("configs") or []:
            source, target, uid, gid, mode = _reference(item, "/")
            spec = self.ctx.project.configs.get(source)
            if spec is None:
                raise Refused(f"configs: {source!r} is not declared under the top-level configs")
            if spec.get("file"):
                path = _norm(self.ctx.project.directory / str(spec["file"]))
                if not path.is_file():
                    raise Refused(f"configs: {source!r}: the file {spec['file']!r} does not exist")
            elif spec.get("content") is not None or spec.get("environment"):
                text = spec.get("content")
                if text is None:
                    text = self.ctx.project.environment.get(str(spec["environment"]))
                    if text is None:
                        raise Refused(f"configs: {source!r}: the variable {spec['environment']} is not set")
                path = self.ctx.cache_dir / "configs" / re.sub(r"[^A-Za-z0-9_.-]", "-", source)
                path.parent.mkdir(parents=True, exist_ok=True)
                write_file(path, str(text))
            else:
                raise Refused(f"configs: {source!r} is external; configs are baked into the image from the project: "
                              "give it a file or content")
            if mode is not None:
                self.modes[path] = mode
            chown = f"{uid or 0}:{gid or 0}" if uid or gid else None
            self.bakes.append((path, target, chown))
            self.m.mapped("configs")

    def _secrets(self) -> None:
        for item in self.svc.get("secrets") or []:
            source, target, uid, gid, mode = _reference(item, "/run/secrets/")
            if os.path.dirname(target) != "/run/secrets" and not target.startswith("/run/secrets/"):
                raise Refused(f"secrets: {source!r}: target {target} is a file in a folder of the image, and Fargate "
                              "mounts only whole folders; use a target under /run/secrets")
            self.secret_files.append({"source": self._secret_source(source), "target": target, "uid": uid,
                                      "gid": gid, "mode": 0o444 if mode is None else mode, "name": source})
            self.scratch.append(os.path.dirname(target))
            self.m.mapped("secrets")

    def _secret_source(self, name: str) -> Any:
        given = self.ctx.secret_refs.get(name)
        if given is not None:
            return given
        spec = self.ctx.project.secrets.get(name)
        if spec is None:
            raise Refused(f"secrets: {name!r} is not declared under the top-level secrets")
        key = "compose-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name)[:54]
        if spec.get("file"):
            path = self.ctx.project.directory / str(spec["file"])
            try:
                value = path.read_bytes().decode()
            except OSError:
                raise Refused(f"secrets: {name!r}: the file {spec['file']!r} does not exist; create it, or map "
                              f"{name} in compose.secrets to an ARN or {{stackSecret: KEY}}") from None
            except UnicodeDecodeError:
                raise Refused(f"secrets: {name!r}: the file {spec['file']!r} is not UTF-8 text, which an SSM "
                              "parameter cannot hold; map it in compose.secrets to a Secrets Manager secret") from None
        elif spec.get("environment"):
            value = self.ctx.project.environment.get(str(spec["environment"]))
            if value is None:
                raise Refused(f"secrets: {name!r}: the variable {spec['environment']} is not set; set it, or map "
                              f"{name} in compose.secrets")
        else:
            raise Refused(f"secrets: {name!r} is external: map it in compose.secrets to the ARN of a Secrets Manager "
                          "secret or SSM parameter, or to {stackSecret: KEY}")
        size = len(value.encode())
        if not 0 < size <= SECRET_MAX_BYTES:
            raise Refused(f"secrets: {name!r} has {size} bytes; an SSM parameter holds 1 to {SECRET_MAX_BYTES}; map "
                          "it in compose.secrets to a Secrets Manager secret")
        self.ctx.secret_values[key] = value
        return {"stackSecret": key}

    # -- root filesystem, scratch space and the derived image ---------------------------------------------

    def _root(self) -> None:
        read_only = self.svc.get("read_only")
        flag = compose_bool(read_only) if read_only is not None else False
        if flag is None:
            self.m.refuse("read_only", f"{read_only!r} is not a boolean")
            return
        self.entry["readonlyRootFilesystem"] = flag
        if read_only is not None:
            self.m.mapped("read_only")
        paths = (["/tmp"] if flag else []) + self.scratch
        self.entry["writablePaths"] = list(dict.fromkeys(paths))


def _volume(item: Any) -> tuple[str, str | None, str | None, bool, dict[str, Any]]:
    """(type, source, target, read_only, volume options) of a short or long volume entry."""
    if isinstance(item, dict):
        kind = str(item.get("type") or "volume")
        read_only = compose_bool(item.get("read_only")) is True
        return kind, item.get("source"), item.get("target"), read_only, dict(item.get("volume") or {})
    parts = str(item).split(":")
    if len(parts) == 1:
        return "volume", None, parts[0], False, {}
    source, target = parts[0], parts[1]
    options = parts[2].split(",") if len(parts) > 2 else []
    kind = "bind" if source.startswith((".", "/", "~")) else "volume"
    return kind, source, target, "ro" in options, {}


def _reference(item: Any, prefix: str) -> tuple[str, str, int | None, int | None, int | None]:
    """(source, absolute target, uid, gid, mode) of a service's secrets/configs entry."""
    if isinstance(item, str):
        return item, prefix.rstrip("/") + "/" + item if prefix != "/" else "/" + item, None, None, None
    source = str(item.get("source"))
    target = str(item.get("target") or source)
    if not target.startswith("/"):
        target = prefix.rstrip("/") + "/" + target
    mode = item.get("mode")
    if isinstance(mode, str):
        mode = int(mode, 8)
    uid, gid = item.get("uid"), item.get("gid")
    return source, target, int(uid) if uid not in (None, "") else None, int(gid) if gid not in (None, "") else None, \
        mode


def writer_container(files: list[dict[str, Any]]) -> dict[str, Any]:
    """The init container that writes a task's secrets to their files, from variables ECS fills from the secrets."""
    script, secrets = ["set -e", "umask 077"], {}
    for i, f in enumerate(files):
        var = f"COMPOSE_SECRET_{i}"
        secrets[var] = f["source"]
        target = f["target"].replace("'", "'\\''")
        script.append(f"printf '%s' \"${var}\" > '{target}'")
        if f["uid"] is not None or f["gid"] is not None:
            script.append(f"chown {f['uid'] or 0}:{f['gid'] or 0} '{target}'")
        script.append(f"chmod {format(f['mode'], 'o')} '{target}'")
    dirs = list(dict.fromkeys(os.path.dirname(f["target"]) for f in files))
    return {"name": SECRETS_CONTAINER, "image": {"public": SECRETS_IMAGE}, "command": ["sh", "-c", "; ".join(script)],
            "user": "0", "secrets": secrets, "writablePaths": dirs, "memory": 16}


def _volume_key(name: str) -> str:
    """An EFS volume's settings key from a compose volume name or a project folder (`./public/system`)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")[:63] or "volume"
