"""EFS policies: file systems are encrypted at rest, and every task mounts EFS with encryption in transit.

A task definition's EFS volume without `transitEncryption: ENABLED` sends file data in clear NFS
between the task and the mount target; ECS leaves it off unless asked (DISABLED is the API's
default: API_EFSVolumeConfiguration). A file system without `encrypted` stores it unencrypted,
and encryption at rest can only be chosen when the file system is created.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ._util import plain
from .framework import hint_args

FILE_SYSTEM = "aws:efs/fileSystem:FileSystem"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"


def _encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != FILE_SYSTEM:
        return
    if args.props.get("encrypted") is not True:
        report_violation(f"{args.name} is not encrypted at rest, and EFS can only encrypt a file system when it is "
                         "created: set encrypted: true (with kmsKeyId for a key of yours) and recreate it"
                         f"{hint_args(args, 'volumes')}.")


def _transit(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != TASK_DEFINITION:
        return
    # Through the SDK's proxy: an unknown list becomes its "can't run policy during preview" advisory; ids
    # inside it (file system, access point) are unknown at a first preview and not read.
    volumes: Any = plain(args.props.get("volumes"))
    for volume in volumes or []:
        config = volume.get("efsVolumeConfiguration") if isinstance(volume, dict) else None
        if isinstance(config, dict) and config.get("transitEncryption") != "ENABLED":
            report_violation(f"{args.name}: EFS volume {volume.get('name')!r} is mounted without encryption in "
                             "transit, so file data crosses the network as plain NFS: set efsVolumeConfiguration."
                             f"transitEncryption: ENABLED{hint_args(args)}.")


efs_encrypted = ResourceValidationPolicy(
    name="efs-encrypted", description="EFS file systems are encrypted at rest.",
    enforcement_level=EnforcementLevel.MANDATORY, validate=_encrypted)

efs_transit_encryption = ResourceValidationPolicy(
    name="efs-transit-encryption", description="Task definitions mount EFS volumes with encryption in transit.",
    enforcement_level=EnforcementLevel.MANDATORY, validate=_transit)

POLICIES = [efs_encrypted, efs_transit_encryption]
