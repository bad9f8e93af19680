"""The settings layer: what `private-fargate:*` in Pulumi.<stack>.yaml may say, validated once, before any resource.

Creates no resources. `settings.model.Settings` is the root; the stack-level objects are in
settings/stack.py, a workload's in settings/workloads.py, the shared building blocks in
settings/base.py and settings/patterns.py, one-line error messages in settings/errors.py, config
reading in settings/source.py, docker-compose mapping in settings/compose*.py and Scheduler
expressions in settings/schedules.py. Components import the names below from here.
"""

from settings.base import EXTRA_ENDPOINTS, FARGATE_MEMORY, RETENTION_DAYS, partition_of
from settings.errors import OFFLINE_SECRET, SettingError, SettingsError
from settings.images import BuildSettings, ImageSettings
from settings.model import NAMESPACE, Settings
from settings.source import read_namespace
from settings.stack import (
    AlertsSettings,
    ComposeSettings,
    CostSettings,
    ExistingNetwork,
    LogsSettings,
    NetworkSettings,
    OutputBucketSettings,
    RepositorySettings,
)
from settings.workers import WorkerScaling, WorkerSettings
from settings.workloads import (
    AutoscalingSettings,
    CapacityMix,
    EgressRule,
    HealthCheckSettings,
    JobSettings,
    LoadBalancerSettings,
    RollbackSettings,
    ServiceSettings,
    WorkloadSettings,
)

__all__ = [
    "EXTRA_ENDPOINTS", "FARGATE_MEMORY", "NAMESPACE", "OFFLINE_SECRET", "RETENTION_DAYS", "AlertsSettings",
    "AutoscalingSettings", "BuildSettings", "CapacityMix", "ComposeSettings", "CostSettings", "EgressRule",
    "ExistingNetwork", "HealthCheckSettings", "ImageSettings", "JobSettings", "LoadBalancerSettings",
    "LogsSettings", "NetworkSettings", "OutputBucketSettings", "RepositorySettings", "RollbackSettings",
    "ServiceSettings", "SettingError", "Settings", "SettingsError", "WorkerScaling", "WorkerSettings",
    "WorkloadSettings", "partition_of", "read_namespace",
]
