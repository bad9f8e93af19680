"""Every container of a task, its volumes and the image and secret grants they need, as plain data.

The main container (the workload entry) comes first, then the sidecars, then the init containers.
Init containers are not essential, run one after another in their order, and the others wait for
their success (`dependsOn` SUCCESS);
the main container waits for each sidecar (HEALTHY when it has a health check, else START), and
every container logs with awslogs to the workload's group under its own stream prefix. Field names
are the ECS API's; everything is a string built from names, so a first preview knows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from components.iam import statement
from components.platform import WorkloadArgs
from components.registry import PULL_ACTIONS, ResolvedImage
from settings.containers import ContainerSettings, PortSettings, StackSecretRef, port_names
from settings.volumes import EFS_VOLUME_PREFIX, volume_name


def parameter_name(project: str, stack: str, key: str) -> str:
    """The SSM parameter that holds a value of `secretValues`: `/<project>/<stack>/<key>`."""
    return f"/{project}/{stack}/{key}"


def secret_arn(args: WorkloadArgs, source: str | StackSecretRef) -> str:
    """The ARN ECS reads a secret from: as given, or the stack's parameter (built from its name)."""
    if isinstance(source, str):
        return source
    ctx = args.context
    return ctx.arn("ssm", "parameter" + parameter_name(ctx.project, ctx.stack, source.stack_secret))


def task_secret_arns(args: WorkloadArgs) -> list[str]:
    """Every secret any container of the task reads."""
    return [secret_arn(args, s) for _, c in args.workload.containers for s in c.secrets.values()]


def efs_volume(volume: str) -> str:
    """The task volume of a stack volume (a writable path never gets this name: settings/volumes.py)."""
    return f"{EFS_VOLUME_PREFIX}{volume}"


def _ports(container: ContainerSettings, ports: Sequence[PortSettings], primary: str | None) -> list[dict[str, Any]]:
    # No appProtocol: Service Connect then proxies plain TCP, which works for HTTP and for
    # databases and caches alike ("http" would break Redis or Postgres).
    return [{"name": name, "containerPort": p.port, "protocol": p.protocol}
            for name, p in zip(port_names(container.name, list(ports), primary), ports, strict=True)]


def _definition(args: WorkloadArgs, container: ContainerSettings, image: ResolvedImage,
                pulled: Mapping[str, str]) -> dict[str, Any]:
    w = args.workload
    environment = dict(container.environment)
    if args.platform.output_bucket:
        environment["OUTPUT_BUCKET"] = args.platform.output_bucket
    mounts = [{"sourceVolume": volume_name(p), "containerPath": p, "readOnly": False} for p in container.writable_paths]
    mounts += [{"sourceVolume": efs_volume(m.volume), "containerPath": m.path, "readOnly": m.read_only}
               for m in container.mounts]
    out: dict[str, Any] = {
        "name": container.name,
        "image": pulled.get(container.name, image.uri),
        "essential": True,
        # AWS: the ECS Exec agent needs a writable root filesystem; a read-only one "isn't supported".
        "readonlyRootFilesystem": container.readonly_root_filesystem and not w.exec,
        "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        "secrets": [{"name": k, "valueFrom": secret_arn(args, v)} for k, v in sorted(container.secrets.items())],
        "mountPoints": mounts,
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": args.log_group_name,
            "awslogs-region": args.context.region,
            "awslogs-stream-prefix": container.name,
            # Blocking: a missing logs endpoint stops the task visibly instead of dropping its logs.
            "mode": "blocking",
        }},
    }
    if container.entrypoint:
        out["entryPoint"] = list(container.entrypoint)
    if container.command:
        out["command"] = list(container.command)
    if container.user or image.user:
        out["user"] = container.user or image.user
    if w.exec or container.init_process_enabled:
        out["linuxParameters"] = {"initProcessEnabled": True}
    if container.working_directory:
        out["workingDirectory"] = container.working_directory
    if container.stop_timeout is not None:
        out["stopTimeout"] = container.stop_timeout
    if container.ulimits is not None:
        limit = container.ulimits.nofile
        out["ulimits"] = [{"name": "nofile", "softLimit": limit.soft, "hardLimit": limit.hard}]
    if container.health_check:
        hc = container.health_check
        out["healthCheck"] = {"command": list(hc.command), "interval": hc.interval, "timeout": hc.timeout,
                              "retries": hc.retries, "startPeriod": hc.start_period}
    return out


def container_definitions(args: WorkloadArgs, pulled: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The task's containers: main, sidecars, init containers, with their start order.

    `pulled`: container name -> the image it pulls, where that is known only at deploy (an image pinned at
    deploy: `<repository>@<digest>`); the others pull their resolved URI.
    """
    pulled = pulled or {}
    w = args.workload
    main = _definition(args, w, args.image, pulled)
    if w.port_specs:
        main["portMappings"] = _ports(w, w.port_specs, w.name)
    inits = [{"containerName": c.name, "condition": "SUCCESS"} for c in w.init_containers]
    out = [main]
    for sidecar in w.sidecars:
        d = _definition(args, sidecar, args.container_image(sidecar.name), pulled)
        d["essential"] = sidecar.essential
        if sidecar.ports:
            d["portMappings"] = _ports(sidecar, sidecar.ports, None)
        out.append(_reserve(d, sidecar))
    waits = [*inits, *({"containerName": s.name, "condition": "HEALTHY" if s.health_check else "START"}
                       for s in w.sidecars)]
    if waits:
        main["dependsOn"] = waits
    for d in out[1:]:
        if inits:
            d["dependsOn"] = list(inits)
    for i, init in enumerate(w.init_containers):
        d = _definition(args, init, args.container_image(init.name), pulled)
        d["essential"] = False  # it exits; an essential container that exits stops the task
        if i:  # in order, as listed: one that writes files another reads runs first
            d["dependsOn"] = inits[:i]
        out.append(_reserve(d, init))
    return out


def _reserve(definition: dict[str, Any], container: Any) -> dict[str, Any]:
    if container.cpu is not None:
        definition["cpu"] = container.cpu
    if container.memory is not None:
        definition["memoryReservation"] = container.memory
    return definition


def task_volumes(args: WorkloadArgs) -> list[dict[str, Any]]:
    """Scratch volumes (one per writable path, shared by the containers that name it) and the EFS volumes.

    Every EFS mount goes through the volume's access point with TLS and the task role (IAM
    authorization); the root directory is the access point's own, so it is left out.
    """
    names = list(dict.fromkeys(volume_name(p) for _, c in args.workload.containers for p in c.writable_paths))
    out: list[dict[str, Any]] = [{"name": n} for n in names]
    efs = args.platform.file_system
    for volume in mounted_volumes(args):
        assert efs is not None, "a mount without the stack's file system"
        out.append({"name": efs_volume(volume), "efs_volume_configuration": {
            "file_system_id": efs.file_system_id, "transit_encryption": "ENABLED",
            "authorization_config": {"access_point_id": efs.access_point_ids[volume], "iam": "ENABLED"}}})
    return out


def mounted_volumes(args: WorkloadArgs) -> list[str]:
    """The stack volumes any container of the task mounts, in order."""
    return list(dict.fromkeys(m.volume for _, c in args.workload.containers for m in c.mounts))


def writes_volume(args: WorkloadArgs, volume: str) -> bool:
    """True when a container of the task mounts `volume` writable."""
    return any(m.volume == volume and not m.read_only for _, c in args.workload.containers for m in c.mounts)


def image_statements(images: Iterable[ResolvedImage]) -> list[dict[str, Any]]:
    """ECR login and one pull statement per set of actions, naming exactly the repositories of the task's images."""
    groups: dict[tuple[str, ...], set[str]] = {}
    for image in images:
        groups.setdefault(tuple(sorted(image.actions)), set()).update(image.repository_arns)
    out = [statement(["ecr:GetAuthorizationToken"], "*", sid="EcrLogin")]
    for actions, repositories in sorted(groups.items(), key=lambda g: (len(g[0]), g[0])):
        cached = set(actions) != set(PULL_ACTIONS)
        sid = "PullThroughCache" if cached and len(groups) > 1 else "PullImage"
        out.append(statement(actions, sorted(repositories), sid=sid))
    return out


def decrypt_statement(args: WorkloadArgs, arns: Sequence[str]) -> dict[str, Any] | None:
    """`kms:Decrypt` on the workload's `kmsKeyArns`, only through the services its secrets come from."""
    keys = args.workload.kms_key_arns
    if not keys or not arns:
        return None
    ctx = args.context
    services = sorted({f"{'secretsmanager' if ':secretsmanager:' in a else 'ssm'}.{ctx.region}.{ctx.dns_suffix}"
                       for a in arns})
    return statement(["kms:Decrypt"], list(keys), sid="DecryptSecrets",
                     condition={"StringEquals": {"kms:ViaService": services}})
