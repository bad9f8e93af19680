"""private-fargate: validated settings -> components -> the stack outputs contract (DESIGN.md)."""

import pulumi

from components.context import StackContext
from components.naming import output_bucket_name
from components.network import PrivateNetwork, PrivateNetworkArgs
from components.registry import ContainerRepository, ContainerRepositoryArgs, ImageResolver
from components.settings import Settings

settings = Settings.load()
context = StackContext.discover(settings)
stack_buckets = (
    (output_bucket_name(context.project, context.stack, context.account, context.region),)
    if settings.output_bucket.enabled else ()
)
images = ImageResolver(settings, context)  # every image setting checked before any resource exists

network = PrivateNetwork("network", PrivateNetworkArgs.from_settings(settings, context, stack_buckets))
registry = ContainerRepository("registry", ContainerRepositoryArgs.from_settings(settings, context, images))

pulumi.export("outputsVersion", 1)
pulumi.export("region", context.region)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("vpcCidr", network.vpc_cidr)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("privateRouteTableIds", network.private_route_table_ids)
pulumi.export("endpointSecurityGroupId", network.endpoint_security_group_id)
pulumi.export("vpcEndpoints", network.endpoint_ids)
pulumi.export("repositoryName", settings.repository_name)
pulumi.export("repositoryUrl", images.repository_url)
