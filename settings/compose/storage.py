"""A compose service's filesystem: volumes, bind mounts, tmpfs, secrets and configs, the Fargate way.

- A named volume becomes a stack volume (EFS, `volumes` + `mounts`), shared by every service that mounts it.
- A file or folder of the project that a service reads (a bind mount, a compose config) is baked into a
  derived image built for the stack: a generated build context under `.private-fargate/compose/<service>`
  (`FROM` the service's image, one `COPY` per file), or the service's own Dockerfile with the `COPY`s
  added when it is built from a context that holds the files. A bind mount of the build context itself
  is left out (the image was built from it).
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
import shutil
from pathlib import Path
from typing import Any

from settings.compose.context import CACHE_DIR, MapContext, Refused
from settings.compose.context import norm as _norm
from settings.compose.keys import compose_bool
from settings.compose.services import ServiceMapper
from settings.dockerignore import dockerignore_patterns, ignored

#: The image of the init container that writes secrets to files: busybox's shell, from ECR Public, which the
#: pull-through cache serves without credentials.
SECRETS_IMAGE = "public.ecr.aws/docker/library/busybox:1.36.1"
SECRETS_CONTAINER = "write-secrets"
#: Host files that only carry the host's time zone: left out with a note rather than refused.
TIME_ZONE_FILES = ("/etc/localtime", "/etc/timezone")
#: Largest project file or folder baked into an image.
BAKE_MAX_BYTES = 100 * 1024 * 1024
#: SSM SecureString values: at most 8 KB (advanced tier; 4 KB standard), and not empty.
SECRET_MAX_BYTES = 8192
_DEFAULT_UID = 1000


class StorageMapper:
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
                key, _, why = str(exc).partition(": ")
                self.m.refuse(key, why)
        self._root()
        if self.bakes and not self.m.report.refused:
            try:
                self._bake()
            except Refused as exc:
                key, _, why = str(exc).partition(": ")
                self.m.refuse(key, why)

    # -- volumes ---------------------------------------------------------------------------------------

    def _volumes(self) -> None:
        mounts = []
        for item in self.svc.get("volumes") or []:
            kind, source, target, read_only, extra = _volume(item)
            if not target or not str(target).startswith("/"):
                raise Refused(f"volumes: {item!r}: the target must be an absolute path in the container")
            if kind == "volume" and not source:
                self._anonymous(str(target))
            elif kind == "volume":
                if extra.get("subpath"):
                    raise Refused(f"volumes: {item!r}: subpath is not available with EFS volumes here; mount the "
                                  "whole volume or use a volume of its own")
                mounts.append(self._named(str(source), str(target), read_only))
            elif kind == "bind":
                self._bind(str(source), str(target), item)
            elif kind == "tmpfs":
                self.scratch.append(str(target))
            else:
                raise Refused(f"volumes: {item!r}: {kind} mounts are not available on Fargate; use a named volume")
        if mounts:
            self.entry["mounts"] = mounts
            self.m.mapped("volumes")

    def _named(self, source: str, target: str, read_only: bool) -> dict[str, Any]:
        top = self.ctx.project.volumes
        if source not in top:
            raise Refused(f"volumes: {source!r} is not declared under the top-level volumes")
        spec = top[source] or {}
        key = re.sub(r"[^A-Za-z0-9_-]+", "-", source).strip("-_")[:63] or "volume"
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

    def _bind(self, source: str, target: str, item: Any) -> None:
        if source.rstrip("/").endswith("docker.sock"):
            raise Refused(f"volumes: {source}: Fargate has no Docker Engine to share; remove the socket mount (tools "
                          "that manage containers cannot run on Fargate)")
        if source in TIME_ZONE_FILES and target in TIME_ZONE_FILES:
            self.m.note(f"volume {source} left out: the container keeps its image's time zone; set TZ in "
                        "environment to choose one")
            return
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
            return
        if not path.exists():
            self.scratch.append(target)
            self.m.note(f"volume {source} does not exist: {target} is an empty writable path, as compose creates an "
                        "empty folder")
            return
        self.bakes.append((path, target, None))
        self.m.mapped("volumes")

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
                _write(path, str(text))
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
            raise_refused = f"read_only: {read_only!r} is not a boolean"
            self.m.refuse("read_only", raise_refused.split(": ", 1)[1])
            return
        self.entry["readonlyRootFilesystem"] = flag
        if read_only is not None:
            self.m.mapped("read_only")
        paths = (["/tmp"] if flag else []) + self.scratch
        self.entry["writablePaths"] = list(dict.fromkeys(paths))

    def _bake(self) -> None:
        """Write the derived build context (or Dockerfile) and point the entry's image at it."""
        name = self.entry["name"]
        directory = self.ctx.cache_dir / name
        image = self.entry.get("image") or {}
        build = image.get("build")
        lines = []
        if build is not None:
            context = _norm(self.ctx.base_dir / build["context"])
            original = context / build.get("dockerfile", "Dockerfile")
            if not original.is_file():
                raise Refused(f"build.dockerfile: {build.get('dockerfile', 'Dockerfile')!r} not found in "
                              f"{build['context']}")
            lines = [original.read_text().rstrip("\n"), ""]
            if build.get("target"):
                lines.append(f"FROM {build['target']} AS private-fargate-files")
                build["target"] = "private-fargate-files"
            if all(s.is_relative_to(context) for s, _, _ in self.bakes):
                sources = [s.relative_to(context).as_posix() for s, _, _ in self.bakes]
            else:  # files outside the context: build from a copy of the context with the files added
                sources = self._copy_context(context, directory)
                build["context"] = self.ctx.settings_path(directory)
                build.pop("dockerfile", None)
                context = directory
        else:
            reference = str(self.svc.get("image"))
            if directory.exists():
                shutil.rmtree(directory)
            lines = [f"# Generated by private-fargate from services.{self.m.compose_name} of the compose file: "
                     "the project files it mounts, baked in.", f"FROM {reference}"]
            sources = self._copy_files(directory)
        for src, (source, target, chown) in zip(sources, self.bakes, strict=True):
            flag = f"--chown={chown} " if chown else ""
            dest = target.rstrip("/") + "/" if source.is_dir() else target
            lines.append(f'COPY {flag}["{src}{"/" if source.is_dir() else ""}", "{dest}"]')
        directory.mkdir(parents=True, exist_ok=True)
        dockerfile = directory / "Dockerfile"
        _write(dockerfile, "\n".join(lines) + "\n")
        if build is None:
            self.entry["image"] = {"build": {"context": self.ctx.settings_path(directory)}}
        elif build["context"] != self.ctx.settings_path(directory):
            build["dockerfile"] = Path(os.path.relpath(dockerfile, context)).as_posix()
        files = ", ".join(self.ctx.settings_path(s) + f" -> {t}" for s, t, _ in self.bakes)
        self.m.note(f"project files baked into a derived image ({self.ctx.settings_path(dockerfile)}): {files}; "
                    "they are copied at build, so a change needs `pulumi up`")
        if build is None and image.get("pinAtDeploy"):
            self.m.note("the derived image is built FROM the untagged/latest image as the deployer pulls it at the "
                        "first build; give a tag to choose the version")

    def _copy_files(self, directory: Path) -> list[str]:
        """Copy each baked file or folder into the derived context as files/<i>."""
        sources = []
        for i, (source, _, _) in enumerate(self.bakes):
            _check_size(source)
            copy = directory / "files" / str(i)
            copy.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, copy, symlinks=False, copy_function=_link)
            elif source in self.modes:
                shutil.copy2(source, copy)  # a copy, not a link: its mode changes
                os.chmod(copy, self.modes[source])
            else:
                _link(source, copy)
            sources.append(f"files/{i}")
        return sources

    def _copy_context(self, context: Path, directory: Path) -> list[str]:
        """The build context (without what .dockerignore leaves out) and the baked files, in `directory`."""
        if directory.exists():
            shutil.rmtree(directory)
        patterns = dockerignore_patterns(context)
        skip = {".git", Path(CACHE_DIR).parts[0]}

        def leave_out(folder: str, names: list[str]) -> set[str]:
            rel = Path(folder).relative_to(context)
            return {n for n in names if (rel == Path(".") and n in skip) or ignored((rel / n).as_posix(), patterns)}
        shutil.copytree(context, directory, symlinks=True, ignore=leave_out, copy_function=_link)
        ignore_file = directory / ".dockerignore"
        if ignore_file.is_file():
            _write(ignore_file, ignore_file.read_text() + "\n!private-fargate-files\n")
        files = self._copy_files(directory / "private-fargate-files")
        return [f"private-fargate-files/{f}" for f in files]


def _write(path: Path, text: str) -> None:
    """Write a file of a derived context; it may be a hard link to a project file, which must stay as it is."""
    if path.exists() or path.is_symlink():
        path.unlink()
    path.write_text(text)


def _link(source: str | Path, target: str | Path) -> None:
    """Hard-link a file into a derived context (a copy where links are not possible): contexts are copied on
    every run, so linking keeps that cheap."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _check_size(path: Path) -> None:
    total = path.stat().st_size if path.is_file() else sum(
        (Path(root) / f).stat().st_size for root, _, files in os.walk(path) for f in files)
    if total > BAKE_MAX_BYTES:
        raise Refused(f"volumes: {path.name} has {total // (1024 * 1024)} MiB, too much to bake into an image "
                      f"(at most {BAKE_MAX_BYTES // (1024 * 1024)}); use a named volume and copy the data in")


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
