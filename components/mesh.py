"""ServiceMesh: the security groups through which tasks reach the services' ports.

Every service's tasks join the mesh group, and each service admits its ports from it: services
reach each other by Service Connect name (`<name>:<port>`) or by DNS name. Jobs, workers and
one-off tasks (`tools.run_task`) join the clients group, which may send to the mesh group on the
same ports and which every service admits too: they reach the services by DNS name
(`<name>.<namespace>`). The rules grow with the number of distinct ports, not with the square of
the number of services.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.naming import scoped_group_name

#: (port, protocol): what a service listens on.
PortKey = tuple[int, str]


def rule_suffix(port: int, protocol: str) -> str:
    """The resource-name suffix of a rule for a port: `8080`, `53-udp` (TCP ports keep the bare number)."""
    return str(port) if protocol == "tcp" else f"{port}-{protocol}"


@dataclass(frozen=True)
class ServiceMeshArgs:
    """Inputs: the VPC, the services' ports (name -> [(port, protocol)]) and the tags."""

    context: StackContext
    vpc_id: pulumi.Input[str]
    ports: Mapping[str, Sequence[PortKey]] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


class ServiceMesh(pulumi.ComponentResource):
    """The Service Connect (mesh) group and the clients group. Attributes: security_group_id, clients_group_id."""

    def __init__(self, name: str, args: ServiceMeshArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:mesh:ServiceMesh", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        label = scoped_group_name(args.context.prefix, None, "service-connect")
        group = aws.ec2.SecurityGroup(f"{name}-sg", name=label, vpc_id=args.vpc_id,
                                      description=f"Service Connect between the services of {args.context.prefix}",
                                      tags={**args.tags, "Name": label}, opts=child)
        clients_label = scoped_group_name(args.context.prefix, None, "clients")
        clients = aws.ec2.SecurityGroup(f"{name}-clients", name=clients_label, vpc_id=args.vpc_id,
                                        description=f"Jobs and one-off tasks that reach the services of "
                                                    f"{args.context.prefix} by DNS name",
                                        tags={**args.tags, "Name": clients_label}, opts=child)
        keys = sorted({k for ports in args.ports.values() for k in ports})
        for port, protocol in keys:
            services = ", ".join(sorted(n for n, ports in args.ports.items() if (port, protocol) in ports))
            suffix = rule_suffix(port, protocol)
            aws.vpc.SecurityGroupEgressRule(f"{name}-to-{suffix}", security_group_id=group.id, ip_protocol=protocol,
                                            from_port=port, to_port=port, referenced_security_group_id=group.id,
                                            description=f"Service Connect to {services}", opts=child)
            aws.vpc.SecurityGroupEgressRule(f"{name}-clients-to-{suffix}", security_group_id=clients.id,
                                            ip_protocol=protocol, from_port=port, to_port=port,
                                            referenced_security_group_id=group.id,
                                            description=f"by DNS name to {services}", opts=child)
        self.security_group_id = group.id
        self.clients_group_id = clients.id
        self.register_outputs({"securityGroupId": group.id, "clientsSecurityGroupId": clients.id})
