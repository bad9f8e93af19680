"""ServiceMesh: the one security group through which services reach each other by Service Connect name.

Every service's tasks join it. Each service with a port admits that port from the group, and the
group may send to itself on exactly those ports: any service reaches any other's port, jobs
(which are not in the group) reach none, and the rules grow with the number of services, not
with its square.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.naming import scoped_group_name


@dataclass(frozen=True)
class ServiceMeshArgs:
    """Inputs: the VPC, the service ports (name -> port) and the tags."""

    context: StackContext
    vpc_id: pulumi.Input[str]
    ports: Mapping[str, int] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


class ServiceMesh(pulumi.ComponentResource):
    """The Service Connect security group. Attribute: security_group_id."""

    def __init__(self, name: str, args: ServiceMeshArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:mesh:ServiceMesh", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        label = scoped_group_name(args.context.prefix, None, "service-connect")
        group = aws.ec2.SecurityGroup(f"{name}-sg", name=label, vpc_id=args.vpc_id,
                                      description=f"Service Connect between the services of {args.context.prefix}",
                                      tags={**args.tags, "Name": label}, opts=child)
        for port in sorted(set(args.ports.values())):
            services = ", ".join(sorted(n for n, p in args.ports.items() if p == port))
            aws.vpc.SecurityGroupEgressRule(f"{name}-to-{port}", security_group_id=group.id, ip_protocol="tcp",
                                            from_port=port, to_port=port, referenced_security_group_id=group.id,
                                            description=f"Service Connect to {services}", opts=child)
        self.security_group_id = group.id
        self.register_outputs({"securityGroupId": group.id})
