"""VolumeAccess: the file-system policy of the stack's EFS file system, which says who may mount what.

Granted here, on the file system, and not in the task roles: the file system's and access points'
ARNs are unknown until they exist, while the task roles' ARNs are known from their names, so the
principals of every grant stay checkable at a first preview. EFS honours only four condition keys
for NFS clients (aws:SecureTransport, aws:SourceIp, elasticfilesystem:AccessPointArn,
elasticfilesystem:AccessedViaMountTarget; "Using IAM to control access to file systems"), so a tag
condition would not scope anything: each grant names its task roles and its access point
(https://docs.aws.amazon.com/efs/latest/ug/access-points-iam-policy.html). Created after the
workloads, because a resource policy may only name roles that exist; until it exists the default
policy lets the mounting workloads (the only ones the NFS group admits) in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.containers import mounted_volumes, writes_volume
from components.platform import WorkloadArgs
from components.volumes import FileSystemRefs

MOUNT = "elasticfilesystem:ClientMount"
WRITE = "elasticfilesystem:ClientWrite"
ROOT = "elasticfilesystem:ClientRootAccess"


@dataclass(frozen=True)
class VolumeGrant:
    """One task role's access to one volume."""

    role_arn: str
    volume: str
    write: bool


def file_system_policy(file_system_arn: str, access_point_arns: Mapping[str, str],
                       grants: Sequence[VolumeGrant]) -> str:
    """Mount (and write, for writable mounts) for exactly these roles through their volume's access point;
    nothing without TLS; nothing but through the stack's access points."""
    statements: list[dict[str, Any]] = []
    for volume in sorted({g.volume for g in grants}):
        for write in (True, False):
            roles = sorted({g.role_arn for g in grants if g.volume == volume and g.write is write})
            if roles:
                statements.append({
                    "Sid": f"{'Write' if write else 'Read'}{_sid(volume)}", "Effect": "Allow",
                    "Principal": {"AWS": roles}, "Action": [MOUNT, WRITE] if write else [MOUNT],
                    "Resource": file_system_arn,
                    "Condition": {"StringEquals": {"elasticfilesystem:AccessPointArn": access_point_arns[volume]}}})
    statements.append({
        "Sid": "OnlyThroughTheStackAccessPoints", "Effect": "Deny", "Principal": {"AWS": "*"},
        "Action": [MOUNT, WRITE, ROOT], "Resource": file_system_arn,
        "Condition": {"StringNotEquals": {"elasticfilesystem:AccessPointArn": sorted(access_point_arns.values())}}})
    statements.append({
        "Sid": "DenyWithoutTls", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "*",
        "Resource": file_system_arn, "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def volume_grants(workloads: Iterable[WorkloadArgs]) -> list[VolumeGrant]:
    """Each mounting workload's task role, per volume it mounts, writable if any of its containers writes it."""
    return [VolumeGrant(a.role_arn(a.task_role_name), volume, writes_volume(a, volume))
            for a in workloads for volume in mounted_volumes(a)]


def _sid(volume: str) -> str:
    return "".join(part.capitalize() for part in volume.replace("_", "-").split("-"))


@dataclass(frozen=True)
class VolumeAccessArgs:
    """The file system, the grants, and the roles they name (created first)."""

    file_system: FileSystemRefs
    grants: Sequence[VolumeGrant]
    roles: Sequence[pulumi.Resource] = ()


class VolumeAccess(pulumi.ComponentResource):
    """The file-system policy. Attribute: policy."""

    def __init__(self, name: str, args: VolumeAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:volume_access:VolumeAccess", name, None, opts)
        efs = args.file_system
        volumes = sorted(efs.access_point_arns)
        document = pulumi.Output.all(efs.file_system_arn, *(efs.access_point_arns[v] for v in volumes)).apply(
            lambda values: file_system_policy(values[0], dict(zip(volumes, values[1:], strict=True)), args.grants))
        self.policy = aws.efs.FileSystemPolicy(
            f"{name}-policy", file_system_id=efs.file_system_id, policy=document,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.roles)))
        self.register_outputs({"policy": document})
