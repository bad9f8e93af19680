"""The stack outputs contract: what other projects read through `StackReference`, named once.

`__main__.py` exports through `export_outputs`, which refuses a set of keys that differs from
`STACK_OUTPUTS`; the README's outputs tables are generated from these lists (`python3 dev.py docs`).
Keys are only ever added: a rename or removal is a new `outputsVersion`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

OUTPUTS_VERSION = 1


@dataclass(frozen=True)
class OutputSpec:
    """One output: its key, its type as a consumer sees it, and what it is for."""

    name: str
    type: str
    description: str


STACK_OUTPUTS = (
    OutputSpec("outputsVersion", "int", f"{OUTPUTS_VERSION}; bumped on any breaking change of this table"),
    OutputSpec("region", "string", "AWS region of the stack"),
    OutputSpec("vpcId", "string", "the VPC"),
    OutputSpec("vpcCidr", "string", "its CIDR"),
    OutputSpec("privateSubnetIds", "string[]", "private subnets (tasks)"),
    OutputSpec("publicSubnetIds", "string[]", "public subnets ([] unless an internet-facing ALB or NAT needs them)"),
    OutputSpec("privateRouteTableIds", "string[]", "route tables of the private subnets"),
    OutputSpec("endpointSecurityGroupId", "string", "the interface endpoints' group (admits 443 from the VPC)"),
    OutputSpec("vpcEndpoints", "map string -> string", "short service name (`ecr.api`, `s3`, ...) -> endpoint id"),
    OutputSpec("repositoryName", "string", "the stack's ECR repository"),
    OutputSpec("repositoryUrl", "string", "its URL (`<registry>/<name>`)"),
    OutputSpec("clusterName", "string", "the ECS cluster"),
    OutputSpec("clusterArn", "string", "its ARN"),
    OutputSpec("outputBucketName", "string or null", "the results bucket (null when disabled)"),
    OutputSpec("jobs", "map name -> workload", "the jobs, in the workload shape below"),
    OutputSpec("services", "map name -> workload", "the services, in the same shape"),
    OutputSpec("workers", "map name -> worker", "the queue workers: the workload shape plus the worker keys below"),
    OutputSpec("probeImage", "{uri, cpuArchitecture} or null",
               "the image `tools.doctor --probe` runs (the sample app); null when the stack builds no image"),
    OutputSpec("dnsNamespace", "string or null", "the private DNS namespace services register in "
                                                 "(`<name>.<namespace>`); null without a service port"),
    OutputSpec("clientsSecurityGroupId", "string or null",
               "the group that reaches the services' ports by DNS name (jobs, workers, one-off tasks, your own "
               "tasks); null without services"),
)

#: One entry of `jobs`, `services` or `workers`: the same keys for all, null where a key does not apply.
WORKLOAD_OUTPUTS = (
    OutputSpec("taskDefinitionArn", "string", "the task definition (its current revision)"),
    OutputSpec("containerName", "string", "the main container (for overrides)"),
    OutputSpec("securityGroupId", "string", "the tasks' security group"),
    OutputSpec("logGroupName", "string", "the workload's log group"),
    OutputSpec("logStreamPrefix", "string", "streams are `<prefix>/<container>/<task id>`"),
    OutputSpec("subnetIds", "string[]", "the subnets its tasks run in"),
    OutputSpec("capacityProviderStrategy", "[{capacityProvider: string, weight: int, base: int}]",
               "its capacity, as RunTask takes it"),
    OutputSpec("scheduleArn", "string or null", "jobs with a schedule; else null"),
    OutputSpec("serviceName", "string or null", "services; null for jobs"),
    OutputSpec("url", "string or null", "services with a load balancer (`https://` with a certificate, else "
                                        "`http://`); else null"),
    OutputSpec("stateMachineArn", "string or null", "jobs: the state machine every run goes through (schedules "
                                                    "start it; `tools.run_task --via-schedule` too); else null"),
    OutputSpec("exec", "bool", "the workload's `exec` setting (`tools.exec` checks it)"),
    OutputSpec("securityGroupIds", "string[]", "the groups a one-off task of it joins: its own and the clients "
                                               "group (when the stack has services)"),
    OutputSpec("dnsName", "string or null", "services with a port: `<name>.<namespace>`, which every task of the "
                                            "VPC resolves, for every port; else null"),
)

#: What a worker adds to the workload shape (its serviceName is set, like a service's).
WORKER_OUTPUTS = (
    OutputSpec("queueUrl", "string", "the queue to send the worker's messages to (its tasks read `QUEUE_URL`)"),
    OutputSpec("queueArn", "string", "that queue's ARN (for producers' IAM policies)"),
    OutputSpec("deadLetterQueueUrl", "string", "where messages go after `maxReceiveCount` failed receives"),
)


def export_outputs(values: Mapping[str, Any]) -> None:
    """Export the stack outputs, exactly the contract's keys in its order."""
    names = [o.name for o in STACK_OUTPUTS]
    if set(values) != set(names):
        extra, missing = sorted(set(values) - set(names)), sorted(set(names) - set(values))
        raise ValueError(f"stack outputs differ from the contract: extra {extra}, missing {missing}")
    for name in names:
        pulumi.export(name, values[name])
