"""private-fargate: validated settings -> components -> the stack outputs contract (README, "Stack outputs")."""

import pulumi

from components.access_logs import AccessLogBucket, AccessLogBucketArgs
from components.alerts import Alerts, AlertsArgs, JobSignal, ServiceSignal, alerts_topic_arn
from components.cluster import FargateCluster, FargateClusterArgs
from components.context import StackContext
from components.contract import OUTPUTS_VERSION, export_outputs
from components.job import FargateJob
from components.mesh import ServiceMesh, ServiceMeshArgs
from components.network import PrivateNetwork, PrivateNetworkArgs
from components.platform import WorkloadArgs, WorkloadPlatform
from components.registry import ContainerRepository, ContainerRepositoryArgs, ImageResolver
from components.service import FargateService
from components.storage import OutputBucket, OutputBucketArgs
from components.worker import FargateWorker
from settings import Settings

settings = Settings.load()
for note in settings.notes:
    pulumi.log.info(note)
context = StackContext.discover(settings)
images = ImageResolver(settings, context)  # every image setting checked before any resource exists
bucket_args = OutputBucketArgs.from_settings(settings, context) if settings.output_bucket.enabled else None
cluster_args = FargateClusterArgs.from_settings(settings, context)

network = PrivateNetwork("network", PrivateNetworkArgs.from_settings(
    settings, context, stack_buckets=(bucket_args.bucket_name,) if bucket_args else ()))
registry = ContainerRepository("registry", ContainerRepositoryArgs.from_settings(settings, context, images))
bucket = OutputBucket("output", bucket_args) if bucket_args else None
cluster = FargateCluster("cluster", cluster_args)
access_logs = (AccessLogBucket("access-logs", AccessLogBucketArgs(
    context, retention_days=settings.logs.retention_days, protect=settings.protect, tags=settings.stack_tags))
    if any(s.load_balancer and s.load_balancer.access_logs for s in settings.services) else None)
mesh = (ServiceMesh("service-connect", ServiceMeshArgs(
    context, network.vpc_id, {s.name: s.port for s in settings.services if s.port}, settings.stack_tags))
    if settings.services else None)

platform = WorkloadPlatform(
    context=context, cluster_name=cluster.name, cluster_arn=cluster.arn, vpc_id=network.vpc_id,
    vpc_cidr=network.vpc_cidr, subnet_ids=network.private_subnet_ids, s3_prefix_list_id=network.s3_prefix_list_id,
    output_bucket=bucket.name if bucket else None,
    exec_log_group=cluster_args.exec_log_group_name if cluster_args.exec_logging else None,
    internet_egress=settings.network.egress == "nat", log_retention_days=settings.logs.retention_days,
    log_kms_key_arn=settings.logs.kms_key_arn, protect=settings.protect, tags=settings.stack_tags,
    cluster=cluster, image_resources=registry.images, namespace_arn=cluster.namespace_arn,
    mesh_security_group_id=mesh.security_group_id if mesh else None, public_subnet_ids=network.public_subnet_ids,
    access_logs=access_logs, access_log_bucket=access_logs.name if access_logs else None,
    alerts_topic_arn=alerts_topic_arn(context, settings.alerts))

jobs = {job.name: FargateJob(f"job-{job.name}", WorkloadArgs(platform, job, images.images[job.name]))
        for job in settings.jobs}
services = {svc.name: FargateService(f"service-{svc.name}", WorkloadArgs(platform, svc, images.images[svc.name]))
            for svc in settings.services}
workers = {w.name: FargateWorker(f"worker-{w.name}", WorkloadArgs(platform, w, images.images[w.name]))
           for w in settings.workers}
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
})
