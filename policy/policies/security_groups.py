"""Security group policies: nothing open to the world but internet-facing load balancers, task egress
limited, every group and rule described."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pulumi_policy import EnforcementLevel

from .framework import Findings, hint, stack_policy
from .graph import Graph, Node
from .topology import LOAD_BALANCER, SECURITY_GROUP, launchers, task_security_groups

SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
#: Resources that refer to a group without putting anything in it.
NOT_MEMBERS = (SG_RULE, SG_INGRESS, SG_EGRESS, DEFAULT_SG, *SECURITY_GROUP)
ANYWHERE = ("0.0.0.0/0", "::/0", "0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1")
#: What the provider writes when a group is given no description.
DEFAULT_DESCRIPTION = "Managed by Pulumi"


@dataclass
class Rule:
    """One ingress or egress rule, wherever it is written."""

    node: Node              # the group (inline rule) or the rule resource
    groups: list[Node]      # the groups of the stack it belongs to
    direction: str          # "ingress" or "egress"
    cidrs: list[str]
    low: int
    high: int
    description: Any
    inline: bool


def _ports(props: dict[str, Any]) -> tuple[int, int]:
    if str(props.get("protocol", props.get("ipProtocol"))) in ("-1", "all"):
        return 0, 65535  # every protocol means every port, whatever from/to say
    low, high = props.get("fromPort"), props.get("toPort")
    return (int(low) if isinstance(low, (int, float)) else -1, int(high) if isinstance(high, (int, float)) else -1)


def rules(graph: Graph) -> Iterator[Rule]:
    """Every security group rule of the stack: inline, `SecurityGroupRule`, `vpc.SecurityGroup*Rule`."""
    for group in graph.of_type(*SECURITY_GROUP):
        for direction in ("ingress", "egress"):
            for rule in group.props.get(direction) or []:
                if isinstance(rule, dict):
                    yield Rule(group, [group], direction, [*(rule.get("cidrBlocks") or []),
                                                           *(rule.get("ipv6CidrBlocks") or [])],
                               *_ports(rule), rule.get("description"), True)
    for rule in graph.of_type(SG_RULE):
        groups = graph.refs(rule, "securityGroupId", SECURITY_GROUP)[0]
        yield Rule(rule, groups, str(rule.props.get("type")), [*(rule.props.get("cidrBlocks") or []),
                                                               *(rule.props.get("ipv6CidrBlocks") or [])],
                   *_ports(rule.props), rule.props.get("description"), False)
    for token, direction in ((SG_INGRESS, "ingress"), (SG_EGRESS, "egress")):
        for rule in graph.of_type(token):
            groups = graph.refs(rule, "securityGroupId", SECURITY_GROUP)[0]
            cidrs = [c for c in (rule.props.get("cidrIpv4"), rule.props.get("cidrIpv6")) if isinstance(c, str)]
            yield Rule(rule, groups, direction, cidrs, *_ports(rule.props), rule.props.get("description"), False)


def _port_text(low: int, high: int) -> str:
    if (low, high) in ((0, 65535), (-1, -1)):
        return "all ports"
    return f"port {low}" if low == high else f"ports {low}-{high}"


def _members(graph: Graph, group: Node) -> list[Node]:
    """What the group is attached to: load balancers, tasks, endpoints, instances..."""
    return [n for n in graph.referrers(group) if n.type not in NOT_MEMBERS]


def _public_lb(node: Node) -> bool:
    return node.type in LOAD_BALANCER and node.props.get("internal") is not True


def _no_public_ingress(graph: Graph, cfg: dict[str, Any], found: Findings) -> None:
    allowed = set(cfg["allowedPorts"])
    for rule in rules(graph):
        if rule.direction != "ingress":
            continue
        for cidr in rule.cidrs:
            if cidr not in ANYWHERE:
                continue
            members = [m for g in rule.groups for m in _members(graph, g)]
            others = sorted({m.name for m in members if not _public_lb(m)})
            on_public_lb = bool(members) and not others
            if on_public_lb and rule.low == rule.high and rule.low in allowed:
                continue
            if on_public_lb:
                why = "only allowedPorts may be open on groups of internet-facing load balancers"
            elif any(_public_lb(m) for m in members):
                why = (f"its group is shared by an internet-facing load balancer and {', '.join(others)}, which the "
                       "world then reaches too; give the load balancer a group of its own")
            else:
                why = "it is not on a group attached only to internet-facing load balancers"
            found.violation(f"{rule.node.name} opens {_port_text(rule.low, rule.high)} to {cidr}; {why}. Admit a "
                            f"security group or a private CIDR instead{hint(rule.node)}.", rule.node.urn)


security_group_no_public_ingress = stack_policy(
    "security-group-no-public-ingress",
    "No 0.0.0.0/0 or ::/0 ingress, except allowedPorts on groups attached only to internet-facing load balancers.",
    EnforcementLevel.MANDATORY, _no_public_ingress,
    {"allowedPorts": {"type": "array", "items": {"type": "integer"}, "default": [443, 80],
                      "description": "Ports that may be open to the world on internet-facing load balancers."}})


def _task_egress(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    task_groups = {g.urn: g for node in launchers(graph) for g in task_security_groups(graph, node)}
    for rule in rules(graph):
        if rule.direction != "egress" or not any(g.urn in task_groups for g in rule.groups):
            continue
        if (rule.low, rule.high) in ((0, 65535), (-1, -1)) and any(c in ANYWHERE for c in rule.cidrs):
            groups = ", ".join(sorted(g.name for g in rule.groups))
            found.violation(f"{rule.node.name} lets the tasks of {groups} send anything anywhere (all ports to "
                            f"{next(c for c in rule.cidrs if c in ANYWHERE)}); allow the ports and destinations "
                            f"they use (VPC endpoints on 443, the S3 prefix list, the database){hint(rule.node)}.",
                            rule.node.urn)


ecs_task_egress_restricted = stack_policy(
    "ecs-task-egress-restricted", "Security groups of ECS tasks do not allow all traffic to 0.0.0.0/0 or ::/0.",
    EnforcementLevel.ADVISORY, _task_egress)


def _descriptions(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    for group in graph.of_type(*SECURITY_GROUP):
        if group.props.get("description") in (None, "", DEFAULT_DESCRIPTION):
            found.violation(f"security group {group.name} has no description (the provider writes "
                            f"{DEFAULT_DESCRIPTION!r}): say what it admits and why{hint(group)}.", group.urn)
    for rule in rules(graph):
        if not rule.description:
            where = f"an inline {rule.direction} rule of {rule.node.name}" if rule.inline else rule.node.name
            found.violation(f"{where} ({_port_text(rule.low, rule.high)}) has no description: say what it "
                            f"admits and why{hint(rule.node)}.", rule.node.urn)


security_group_descriptions = stack_policy(
    "security-group-descriptions", "Security groups and their rules have descriptions.",
    EnforcementLevel.ADVISORY, _descriptions)

POLICIES = [security_group_no_public_ingress, ecs_task_egress_restricted, security_group_descriptions]
