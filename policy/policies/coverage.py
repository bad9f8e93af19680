"""`cannot-verify`: what the pack cannot see, said as an advisory instead of a silent pass.

A policy neither passes nor fails what the stack does not hold: a subnet, route table, VPC, cluster
or task definition from another stack; an AWS managed policy newer than the pack's snapshot; the
children of an awsx ECS component, which under the offline preview's mocks is one opaque resource
(a real `pulumi preview` registers its children, and the policies check them there). Each such
thing is reported here once, naming the policies that rely on it. Being a policy of its own, it
reads the same in a preview and in an update, and can be disabled or made mandatory in policy
config like any other.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel

from .framework import STACK_CHECKS, Findings, stack_policy
from .graph import Graph
from .iam import ATTACHMENTS, attached_arns
from .managed import grant, managed_name, taken

NAME = "cannot-verify"
#: awsx ECS components: what they create, and the policies that would check it.
OPAQUE = {
    "awsx:ecs:FargateService": ("service, task definition, log group and security group",
                                "ecs-tasks-in-private-subnets, vpc-endpoints-for-private-tasks, ecs-container-logging, "
                                "ecs-no-secrets-in-environment, ecs-no-privileged, ecs-log-group-managed"),
    "awsx:ecs:EC2Service": ("service, task definition and log group",
                            "ecs-tasks-in-private-subnets, ecs-container-logging, ecs-no-secrets-in-environment, "
                            "ecs-no-privileged, ecs-log-group-managed"),
    "awsx:ecs:FargateTaskDefinition": ("task definition, roles and log group",
                                       "ecs-container-logging, ecs-no-secrets-in-environment, ecs-no-privileged, "
                                       "ecs-log-group-managed, iam-no-wildcard-actions"),
    "awsx:ecs:EC2TaskDefinition": ("task definition, roles and log group",
                                   "ecs-container-logging, ecs-no-secrets-in-environment, ecs-no-privileged, "
                                   "ecs-log-group-managed, iam-no-wildcard-actions"),
}


def _cannot_verify(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    relying: dict[str, list[str]] = {}
    for name, (check, defaults) in STACK_CHECKS.items():
        if name == NAME:
            continue
        seen = Findings()
        check(graph, defaults, seen)
        for what in seen.outside:
            relying.setdefault(what, [])
            if name not in relying[what]:
                relying[what].append(name)
    for node in graph.nodes:
        if node.type in ATTACHMENTS:
            for arn in attached_arns(node.type, node.props):
                policy = managed_name(arn)
                if policy and grant(policy) is None:
                    relying.setdefault(f"the AWS managed policy {policy} attached by {node.name} (newer than the "
                                       f"pack's snapshot of {taken()}; refresh it: python -m tools.managed_policies)",
                                       ["iam-no-wildcard-actions", "iam-pass-role-scoped"])
    for what, policies in sorted(relying.items()):
        found.violation(f"{', '.join(policies)} cannot verify {what}: neither a pass nor a failure.")
    for node in graph.nodes:
        if node.type in OPAQUE and not graph.children(node):
            created, policies = OPAQUE[node.type]
            found.violation(f"{node.type} {node.name} is one opaque resource here (a multi-language component under "
                            f"mocks): the {created} it creates are not visible, so {policies} cannot verify them. A "
                            f"real `pulumi preview` registers them and checks them.", node.urn)


cannot_verify = stack_policy(
    NAME, "What the pack cannot see (outside the stack, newer than its snapshot, inside opaque components) is "
    "reported, never passed silently.", EnforcementLevel.ADVISORY, _cannot_verify)

POLICIES = [cannot_verify]
