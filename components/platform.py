"""What every workload of a stack shares (WorkloadPlatform), and one workload's arguments (WorkloadArgs).

The platform is built once in `__main__.py` from the network, cluster, bucket, registry and the
service-wide parts (Service Connect, the access-log bucket); a workload's args are that platform,
its validated settings entry and its resolved image. Names and ARNs derived from them live here,
as plain strings, so task definitions and IAM documents are known at a first preview.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.context import StackContext
from components.naming import physical_name
from components.resolver import ResolvedImage, container_label
from components.volumes import FileSystemRefs
from settings import WorkloadSettings


@dataclass(frozen=True)
class WorkloadPlatform:
    """The parts of the stack every job and service uses.

    subnet_ids: the private subnets tasks run in; s3_prefix_list_id: the S3 gateway endpoint's prefix
    list (egress for image layers). output_bucket: bucket name or None when disabled. exec_log_group:
    the cluster's ECS Exec log group. internet_egress: `network.egress: nat`, which adds 443 to anywhere.
    cluster / image_resources (build tag or image step key -> the build or step) / access_logs: resources to
    exist first; image_digests (step key -> digest found at deploy) for images pinned at deploy.
    task_prerequisites: what a task run during `pulumi up` (`beforeDeploy`) needs complete before it starts
    (the network with its endpoints, the output bucket, stack secrets, EFS): names are known in advance, so nothing
    else orders it.
    namespace_arn, mesh_security_group_id, public_subnet_ids, access_log_bucket: what services use
    (Service Connect, the mesh group, an internet-facing ALB's subnets, ALB access logs).
    images: every resolved image by resolver label (sidecars and init containers included).
    file_system: the stack's EFS file system, access points and NFS group (None without volumes).
    clients_security_group_id: the group jobs, workers and one-off tasks join to reach the services' ports.
    stack_secrets: the SSM parameters of `secretValues`, to exist before a task reads them.
    dns_namespace / registry_arns: the private DNS namespace and each service's Cloud Map service.
    alerts_topic_arn: the alerts topic (known at preview) when `alerts` is set: job state machines and
    worker alarms publish to it.
    """

    context: StackContext
    cluster_name: str
    cluster_arn: str
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    subnet_ids: Sequence[pulumi.Input[str]]
    s3_prefix_list_id: pulumi.Input[str] | None = None
    output_bucket: str | None = None
    exec_log_group: str | None = None
    internet_egress: bool = False
    log_retention_days: int = 30
    log_kms_key_arn: str | None = None
    protect: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)
    cluster: pulumi.Resource | None = None
    image_resources: Mapping[str, pulumi.Resource] = field(default_factory=dict)
    image_digests: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    namespace_arn: pulumi.Input[str] | None = None
    mesh_security_group_id: pulumi.Input[str] | None = None
    public_subnet_ids: Sequence[pulumi.Input[str]] = ()
    access_logs: pulumi.Resource | None = None
    access_log_bucket: str | None = None
    access_log_prefix: str = "alb"
    images: Mapping[str, ResolvedImage] = field(default_factory=dict)
    file_system: FileSystemRefs | None = None
    clients_security_group_id: pulumi.Input[str] | None = None
    stack_secrets: pulumi.Resource | None = None
    dns_namespace: str | None = None
    registry_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    alerts_topic_arn: str | None = None
    task_prerequisites: Sequence[pulumi.Resource] = ()


@dataclass(frozen=True)
class WorkloadArgs:
    """One job or service: the shared platform, its `services[]`/`jobs[]` entry and its resolved image.

    before_deploy_job: the FargateJob its `beforeDeploy.job` names (None otherwise): the migration step runs
    that job's `outputs` entry once the whole job exists.
    """

    platform: WorkloadPlatform
    workload: WorkloadSettings
    image: ResolvedImage
    before_deploy_job: Any = None

    @property
    def context(self) -> StackContext:
        """The stack's account, region and partition."""
        return self.platform.context

    @property
    def tags(self) -> Mapping[str, str]:
        """The stack's tags."""
        return self.platform.tags

    @property
    def name(self) -> str:
        """The workload's name (also its container's name)."""
        return self.workload.name

    @property
    def family(self) -> str:
        """Task definition family: `<project>-<stack>-<name>`."""
        return physical_name(self.context.prefix, self.name, max_len=255)

    @property
    def log_group_name(self) -> str:
        """`/ecs/<project>/<stack>/<name>`."""
        return f"/ecs/{self.context.project}/{self.context.stack}/{self.name}"

    @property
    def execution_role_name(self) -> str:
        """Role ECS uses to start the task (pull, logs, secrets)."""
        return physical_name(self.context.prefix, self.name, "execution", max_len=64)

    @property
    def task_role_name(self) -> str:
        """Role the container's code runs as."""
        return physical_name(self.context.prefix, self.name, "task", max_len=64)

    def role_arn(self, role_name: str) -> str:
        """A role ARN from its name, known at preview."""
        return self.context.arn("iam", f"role/{role_name}", regional=False)

    def container_image(self, container: str) -> ResolvedImage:
        """The image of one of the task's containers (the main one is the workload's name)."""
        if container == self.name:
            return self.image
        return self.platform.images[container_label(self.name, container)]

    @property
    def task_images(self) -> list[ResolvedImage]:
        """The images of every container of the task."""
        return [self.container_image(c.name) for _, c in self.workload.containers]

    @property
    def security_group_ids(self) -> list[pulumi.Input[str]]:
        """Besides its own group, the clients group (when the stack has services to reach)."""
        return [g for g in [self.platform.clients_security_group_id] if g is not None]

    @property
    def image_resources(self) -> list[pulumi.Resource]:
        """The builds or deploy-time steps the task definition waits for (`uri` images have none)."""
        keys = dict.fromkeys(i.resource_key for i in self.task_images if i.resource_key)
        return [self.platform.image_resources[k] for k in keys if k in self.platform.image_resources]

    def image_uri_of(self, image: ResolvedImage) -> pulumi.Input[str]:
        """What a container pulls: a plain string, or `<repository>@<digest>` once a pinned image's step ran."""
        key = image.resource_key
        if not image.pinned or key is None:
            return image.uri
        return pulumi.Output.from_input(self.platform.image_digests[key]).apply(lambda d: f"{image.uri}@{d}")

    @property
    def image_uri(self) -> pulumi.Input[str]:
        """What the main container pulls."""
        return self.image_uri_of(self.image)
