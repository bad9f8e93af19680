"""private-fargate: validated settings -> components -> the stack outputs contract (README, "Stack outputs")."""

import pulumi

from components.access_logs import AccessLogBucket, AccessLogBucketArgs
from components.alerts import Alerts, AlertsArgs, JobSignal, ServiceSignal, alerts_topic_arn
from components.cluster import FargateCluster, FargateClusterArgs
from components.containers import mounted_volumes
from components.context import StackContext
from components.contract import OUTPUTS_VERSION, export_outputs
from components.discovery import ServiceDiscovery, ServiceDiscoveryArgs
from components.job import FargateJob
from components.mesh import ServiceMesh, ServiceMeshArgs
from components.network import PrivateNetwork, PrivateNetworkArgs
from components.platform import WorkloadArgs, WorkloadPlatform
from components.registry import ContainerRepository, ContainerRepositoryArgs, ImageResolver
from components.secrets import StackSecrets, StackSecretsArgs
from components.service import FargateService
from components.storage import OutputBucket, OutputBucketArgs
from components.volume_access import VolumeAccess, VolumeAccessArgs, volume_grants
from components.volumes import SharedFileSystem, SharedFileSystemArgs, adopted_subnet_zones
from components.worker import FargateWorker
from settings import Settings

settings = Settings.load()
for note in settings.notes:
    pulumi.log.info(note)
context = StackContext.discover(settings)
settings.check_account(context.account)
images = ImageResolver(settings, context)  # every image setting checked before any resource exists
bucket_args = OutputBucketArgs.from_settings(settings, context) if settings.output_bucket.enabled else None
cluster_args = FargateClusterArgs.from_settings(settings, context)

network_args = PrivateNetworkArgs.from_settings(
    settings, context, stack_buckets=(bucket_args.bucket_name,) if bucket_args else ())
network = PrivateNetwork("network", network_args)
registry = ContainerRepository("registry", ContainerRepositoryArgs.from_settings(settings, context, images))
bucket = OutputBucket("output", bucket_args) if bucket_args else None
cluster = FargateCluster("cluster", cluster_args)
access_logs = (AccessLogBucket("access-logs", AccessLogBucketArgs(
    context, retention_days=settings.logs.retention_days, protect=settings.protect, tags=settings.stack_tags))
    if any(s.load_balancer and s.load_balancer.access_logs for s in settings.services) else None)
mesh = (ServiceMesh("service-connect", ServiceMeshArgs(
    context, network.vpc_id, {s.name: [(p.port, p.protocol) for _, p in s.service_ports] for s in settings.services},
    settings.stack_tags)) if settings.services else None)
named = [s.name for s in settings.services if s.service_ports]
discovery = (ServiceDiscovery("discovery", ServiceDiscoveryArgs(
    context, settings.dns_namespace, network.vpc_id, named, settings.protect, settings.stack_tags)) if named else None)
secrets = (StackSecrets("secrets", StackSecretsArgs(context, settings.stack_secret_values, settings.stack_tags))
           if settings.stack_secret_values else None)
file_system = (SharedFileSystem("volumes", SharedFileSystemArgs.from_settings(
    settings, context, network.vpc_id, network.private_subnet_ids,
    network_args.availability_zones or adopted_subnet_zones(network_args.existing.private_subnet_ids)))
    if settings.volumes else None)

platform = WorkloadPlatform(
    context=context, cluster_name=cluster.name, cluster_arn=cluster.arn, vpc_id=network.vpc_id,
    vpc_cidr=network.vpc_cidr, subnet_ids=network.private_subnet_ids, s3_prefix_list_id=network.s3_prefix_list_id,
    output_bucket=bucket.name if bucket else None,
    exec_log_group=cluster_args.exec_log_group_name if cluster_args.exec_logging else None,
    internet_egress=settings.network.egress == "nat", log_retention_days=settings.logs.retention_days,
    log_kms_key_arn=settings.logs.kms_key_arn, protect=settings.protect, tags=settings.stack_tags,
    cluster=cluster, image_resources=registry.image_resources, image_digests=registry.digests,
    namespace_arn=cluster.namespace_arn,
    mesh_security_group_id=mesh.security_group_id if mesh else None, public_subnet_ids=network.public_subnet_ids,
    access_logs=access_logs, access_log_bucket=access_logs.name if access_logs else None,
    images=images.images, file_system=file_system.refs if file_system else None,
    clients_security_group_id=mesh.clients_group_id if mesh else None, stack_secrets=secrets,
    dns_namespace=settings.dns_namespace if discovery else None,
    registry_arns=discovery.registry_arns if discovery else {},
    alerts_topic_arn=alerts_topic_arn(context, settings.alerts),
    # a task run during `up` (beforeDeploy) may read the stack's secrets or mount its volumes
    task_prerequisites=[r for r in (network, bucket, secrets, file_system) if r is not None])

workload_args = {job.name: WorkloadArgs(platform, job, images.images[job.name]) for job in settings.jobs}
jobs = {job.name: FargateJob(f"job-{job.name}", workload_args[job.name]) for job in settings.jobs}
# services and workers may name a job as their beforeDeploy step: the jobs exist first
workload_args |= {w.name: WorkloadArgs(
    platform, w, images.images[w.name],
    before_deploy_job=jobs[w.before_deploy.job] if w.before_deploy and w.before_deploy.job else None)
    for w in [*settings.services, *settings.workers]}
services = {svc.name: FargateService(f"service-{svc.name}", workload_args[svc.name]) for svc in settings.services}
workers = {w.name: FargateWorker(f"worker-{w.name}", workload_args[w.name]) for w in settings.workers}
if file_system:
    mounting = [name for name, a in workload_args.items() if mounted_volumes(a)]
    VolumeAccess("volume-access", VolumeAccessArgs(
        file_system.refs, volume_grants(workload_args.values()),
        roles=[{**jobs, **services, **workers}[name].parts.task_role for name in mounting]))
if settings.alerts:
    Alerts("alerts", AlertsArgs(
        context, cluster.name, emails=settings.alerts.email, topic_arn=settings.alerts.sns_topic_arn,
        jobs=[JobSignal(name, job.family, job.log_group_name, name, job.dead_letter_queue, job.runner.arn,
                        job.runner.role_name) for name, job in jobs.items()],
        services=[ServiceSignal(s.name, s.autoscaling.min if s.autoscaling else s.desired_count)
                  for s in settings.services],
        tags=settings.stack_tags, after=[job.runner.role for job in jobs.values()]))

export_outputs({
    "outputsVersion": OUTPUTS_VERSION, "region": context.region, "vpcId": network.vpc_id, "vpcCidr": network.vpc_cidr,
    "privateSubnetIds": network.private_subnet_ids, "publicSubnetIds": network.public_subnet_ids,
    "privateRouteTableIds": network.private_route_table_ids,
    "endpointSecurityGroupId": network.endpoint_security_group_id, "vpcEndpoints": network.endpoint_ids,
    "repositoryName": settings.repository_name, "repositoryUrl": images.repository_url,
    "clusterName": cluster.name, "clusterArn": cluster.arn, "outputBucketName": bucket.name if bucket else None,
    "jobs": {name: job.outputs for name, job in jobs.items()},
    "services": {name: service.outputs for name, service in services.items()},
    "workers": {name: worker.outputs for name, worker in workers.items()},
    "probeImage": images.probe_output,
    "dnsNamespace": settings.dns_namespace if discovery else None,
    "clientsSecurityGroupId": mesh.clients_group_id if mesh else None,
})
