"""SharedFileSystem: the stack's one EFS file system for its `volumes`, created only when a volume exists.

Encrypted at rest, one mount target per Availability Zone of the task subnets (EFS allows one per
AZ, so two adopted subnets in one zone share it), an access point per volume whose POSIX user
and root directory come from the volume's uid, gid and permissions, and an NFS security group
with no rule of its own: each workload that mounts adds 2049 from its group (components/workload.py).
Automatic backups are on exactly when `protect` is, and the file system is then protected and
retained. Who may mount what is the file-system policy (components/volume_access.py).

No VPC endpoint is needed to mount: NFS goes to the mount targets, the mount helper signs with
the task role's credentials from the task's credentials endpoint and calls no AWS API (the
`elasticfilesystem` endpoint serves the EFS management API only): see README, "Persistent volumes".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.naming import physical_name, scoped_group_name
from settings import Settings
from settings.volumes import VolumeSettings

NFS_PORT = 2049


@dataclass(frozen=True)
class FileSystemRefs:
    """What task definitions and security groups need from the file system (ids are outputs)."""

    file_system_id: pulumi.Input[str]
    file_system_arn: pulumi.Input[str]
    access_point_arns: Mapping[str, pulumi.Input[str]]
    access_point_ids: Mapping[str, pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    ready: Sequence[pulumi.Resource] = ()


@dataclass(frozen=True)
class MountSubnet:
    """A subnet that holds the mount target of its zone."""

    subnet_id: pulumi.Input[str]
    zone: str


def mount_subnets(subnet_ids: Sequence[pulumi.Input[str]], zones: Sequence[str]) -> list[MountSubnet]:
    """The first subnet of each zone, in order (EFS allows one mount target per AZ)."""
    chosen: dict[str, MountSubnet] = {}
    for subnet, zone in zip(subnet_ids, zones, strict=True):
        chosen.setdefault(zone, MountSubnet(subnet, zone))
    return list(chosen.values())


def adopted_subnet_zones(subnet_ids: Sequence[str]) -> list[str]:
    """The zones of an adopted VPC's subnets (an invoke; it answers at preview too)."""
    return [aws.ec2.get_subnet(id=s).availability_zone for s in subnet_ids]


@dataclass(frozen=True)
class SharedFileSystemArgs:
    """Inputs of SharedFileSystem; `from_settings` reads `volumes`, `protect` and the task subnets."""

    context: StackContext
    vpc_id: pulumi.Input[str]
    subnets: Sequence[MountSubnet]
    volumes: Mapping[str, VolumeSettings]
    protect: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, context: StackContext, vpc_id: pulumi.Input[str],
                      subnet_ids: Sequence[pulumi.Input[str]], zones: Sequence[str]) -> SharedFileSystemArgs:
        """Args from the settings; `zones` are the subnets' zones, in their order."""
        subnets = mount_subnets(subnet_ids, zones)
        if len(subnets) < len(subnet_ids):
            pulumi.log.info(f"volumes: {len(subnet_ids)} task subnets in {len(subnets)} zone(s): one EFS mount target "
                            "per zone (EFS allows one per AZ); tasks in the other subnets use their zone's")
        return cls(context=context, vpc_id=vpc_id, subnets=subnets, volumes=dict(settings.volumes),
                   protect=settings.protect, tags=settings.stack_tags)


class SharedFileSystem(pulumi.ComponentResource):
    """The stack's EFS file system, its mount targets, access points, NFS group and backup policy.

    Attributes: file_system, access_points (volume -> AccessPoint), security_group, mount_targets,
    refs (FileSystemRefs for the workloads).
    """

    def __init__(self, name: str, args: SharedFileSystemArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:volumes:SharedFileSystem", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ctx = args.context
        label = physical_name(ctx.prefix, "volumes", max_len=128)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        self.file_system = aws.efs.FileSystem(
            f"{name}-fs", creation_token=label, encrypted=True, performance_mode="generalPurpose",
            # Bursting: storage is the whole bill (elastic throughput charges per GB read and written).
            throughput_mode="bursting", tags={**args.tags, "Name": label}, opts=stateful)
        aws.efs.BackupPolicy(f"{name}-backup", file_system_id=self.file_system.id,
                             backup_policy={"status": "ENABLED" if args.protect else "DISABLED"}, opts=child)
        group_name = scoped_group_name(ctx.prefix, None, "efs")
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg", name=group_name, vpc_id=args.vpc_id,
            description=f"EFS mount targets of {ctx.prefix}: NFS from the workloads that mount only",
            tags={**args.tags, "Name": group_name}, opts=child)
        self.mount_targets = [
            aws.efs.MountTarget(f"{name}-mount-{i}", file_system_id=self.file_system.id,
                                subnet_id=subnet.subnet_id, security_groups=[self.security_group.id], opts=child)
            for i, subnet in enumerate(args.subnets)]
        self.access_points: dict[str, aws.efs.AccessPoint] = {}
        for volume, spec in sorted(args.volumes.items()):
            self.access_points[volume] = aws.efs.AccessPoint(
                f"{name}-{volume}", file_system_id=self.file_system.id,
                posix_user={"uid": spec.uid, "gid": spec.gid},
                root_directory={"path": f"/{volume}", "creation_info": {
                    "owner_uid": spec.uid, "owner_gid": spec.gid, "permissions": spec.permissions}},
                tags={**args.tags, "Name": f"{ctx.prefix}-{volume}", "volume": volume}, opts=child)
        self.refs = FileSystemRefs(
            file_system_id=self.file_system.id, file_system_arn=self.file_system.arn,
            access_point_arns={v: ap.arn for v, ap in self.access_points.items()},
            access_point_ids={v: ap.id for v, ap in self.access_points.items()},
            security_group_id=self.security_group.id, ready=tuple(self.mount_targets))
        self.register_outputs({"fileSystemId": self.file_system.id,
                               "accessPointIds": {v: ap.id for v, ap in self.access_points.items()}})
