"""ServiceDiscovery: the stack's private DNS namespace, where each service registers `<name>.<namespace>`.

Service Connect's names (`db:5432`) exist only inside the tasks of ECS services: it writes them into
each task's own proxy. Jobs, workers and one-off tasks need DNS instead, so every service also
registers A records (awsvpc tasks: one per task IP, no port needed) in a Cloud Map private DNS
namespace bound to the VPC; `<name>.<namespace>` then resolves from any task in the VPC, for every
port of the service. An ECS service takes one service registry beside its Service Connect
configuration: the API allows one registry per service (API_CreateService, `serviceRegistries`),
and AWS's own Copilot deploys services with both (README, "Names every task resolves").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.context import StackContext

#: Seconds a resolver may cache an answer: tasks come and go with deployments and scaling.
RECORD_TTL = 10


@dataclass(frozen=True)
class ServiceDiscoveryArgs:
    """The namespace's name, the VPC it serves and the services that register in it."""

    context: StackContext
    namespace: str
    vpc_id: pulumi.Input[str]
    services: Sequence[str]
    protect: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)


class ServiceDiscovery(pulumi.ComponentResource):
    """The private DNS namespace and one Cloud Map service per ECS service.

    Attributes: namespace, registry_arns (service name -> Cloud Map service ARN), dns_names (service -> name).
    """

    def __init__(self, name: str, args: ServiceDiscoveryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:discovery:ServiceDiscovery", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.namespace = aws.servicediscovery.PrivateDnsNamespace(
            f"{name}-namespace", name=args.namespace, vpc=args.vpc_id,
            description=f"DNS names of the services of {args.context.prefix}",
            tags={**args.tags, "Name": args.namespace}, opts=child)
        self.registry_arns: dict[str, pulumi.Output[str]] = {}
        self.dns_names = {s: f"{s}.{args.namespace}" for s in args.services}
        for service in args.services:
            registry = aws.servicediscovery.Service(
                f"{name}-{service}", name=service, namespace_id=self.namespace.id,
                description=f"{service} of {args.context.prefix}",
                dns_config={"namespace_id": self.namespace.id, "routing_policy": "MULTIVALUE",
                            "dns_records": [{"type": "A", "ttl": RECORD_TTL}]},
                # ECS reports its tasks' health to Cloud Map (no Route 53 health check on private IPs).
                health_check_custom_config={"failure_threshold": 1},
                # Without protect, destroy deregisters what ECS left behind instead of failing.
                force_destroy=not args.protect, tags={**args.tags, "Name": f"{service}.{args.namespace}"}, opts=child)
            self.registry_arns[service] = registry.arn
        self.register_outputs({"namespace": args.namespace, "dnsNames": self.dns_names})
