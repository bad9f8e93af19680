"""Network policies: tasks stay private, private tasks have their endpoints, VPCs log and close their defaults."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs

from ._util import UNKNOWN, containers, strings_in
from .framework import Findings, hint, hint_args, resource_policy, stack_policy, unknown_at_preview
from .graph import Graph, Node, depends_on
from .topology import (
    ENDPOINT,
    ENDPOINT_RTB,
    TASK_DEFINITION,
    VPC,
    internet_routes,
    launch_from_args,
    launch_of,
    launchers,
    maps_public_ips,
    route_tables,
    task_subnets,
    ways_out,
)

#: Interface endpoints every private task needs (ECR API, ECR images, CloudWatch Logs). Kept equal to
#: components.network.BASE_INTERFACE_ENDPOINTS by a test: the pack cannot import the program.
BASE_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs")
FLOW_LOG = ("aws:ec2/flowLog:FlowLog",)
DEFAULT_SG = ("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",)


def _no_public_ip(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    launch = launch_from_args(args)
    if launch is None:
        return
    public = launch.public_ip
    if public is UNKNOWN:
        raise unknown_at_preview("ecs-service-no-public-ip", [f"whether {args.name} gives tasks a public IP"])
    if public is True:
        report_violation(f"{args.name} starts ECS tasks with a public IP (assignPublicIp); tasks stay in private "
                         f"subnets without public IPs: set assignPublicIp to false (DISABLED){hint_args(args)}.")


ecs_service_no_public_ip = resource_policy(
    "ecs-service-no-public-ip",
    "ECS services, task sets, Scheduler schedules (ECS and aws-sdk:ecs:runTask targets), EventBridge ECS targets, "
    "Pipes, state machines (ecs:runTask states) and awsx services never give tasks a public IP.",
    EnforcementLevel.MANDATORY, _no_public_ip)


def _tasks_in_private_subnets(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    for node in launchers(graph):
        subnets, outside = task_subnets(graph, node)
        found.outside += [f"subnet {s} of {node.name} (not in this stack)" for s in outside]
        if not subnets and not outside:
            found.outside.append(f"the subnets of {node.name} (none found in this stack)")
        for subnet in subnets:
            if maps_public_ips(subnet):
                found.violation(f"{node.name} runs tasks in subnet {subnet.name}, which maps public IPs on launch; "
                                f"use private subnets (mapPublicIpOnLaunch: false){hint(node)}.", node.urn)
            tables, vpc, why = route_tables(graph, subnet)
            if why:
                found.outside.append(why)
                continue
            for table in tables or [None]:
                for dest in internet_routes(graph, table, vpc):
                    where = table.name if table else "the VPC's main route table"
                    found.violation(f"{node.name} runs tasks in subnet {subnet.name}, whose route table ({where}) "
                                    f"routes {dest} to an internet gateway: that is a public subnet. Run tasks in "
                                    f"private subnets{hint(node)}.", node.urn)


ecs_tasks_in_private_subnets = stack_policy(
    "ecs-tasks-in-private-subnets",
    "Subnets of services and schedules map no public IPs and have no route to an internet gateway.",
    EnforcementLevel.MANDATORY, _tasks_in_private_subnets)


def task_definitions_of(graph: Graph, node: Node, found: Findings) -> list[Node]:
    """The task definitions of the stack a launcher runs; a definition from elsewhere is noted as outside."""
    launch = launch_of(node)
    value = launch.task_definition if launch.td_prop != launch.prop else launch.task_definition or []
    tds, _, _ = graph.refs(node, launch.td_prop, TASK_DEFINITION, value=value)
    if not tds:
        named = [s for s in strings_in(launch.task_definition) if ":task-definition/" in s or "/" not in s]
        if named:
            found.outside.append(f"the containers of task definition {named[0]} of {node.name} (not in this stack)")
        elif launch.task_definition is UNKNOWN:
            found.outside.append(f"the task definition of {node.name} (not in this stack)")
    return tds


def launched_containers(graph: Graph, node: Node, found: Findings) -> list[tuple[Node, dict[str, Any]]]:
    """(task definition, container) of every container a launcher starts; unknown containers are noted."""
    out = []
    for td in task_definitions_of(graph, node, found):
        defined = containers(td.props)
        if defined is UNKNOWN:
            found.unknown.append(f"the containers of {td.name}")
            continue
        out += [(td, c) for c in defined]
    return out


def _needed_endpoints(graph: Graph, node: Node, found: Findings) -> set[str]:
    """Interface endpoints a launcher's tasks need, from its task definitions and exec setting."""
    needed = set(BASE_ENDPOINTS) | ({"ssmmessages"} if launch_of(node).exec_on else set())
    for _, container in launched_containers(graph, node, found):
        for secret in container.get("secrets") or []:
            source = str(secret.get("valueFrom", ""))
            needed.add("secretsmanager" if ":secretsmanager:" in source else "ssm")
        if (container.get("repositoryCredentials") or {}).get("credentialsParameter"):
            needed.add("secretsmanager")
    return needed


def _endpoints_for_private_tasks(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    for node in launchers(graph):
        subnets, outside = task_subnets(graph, node)
        found.outside += [f"subnet {s} of {node.name} (not in this stack)" for s in outside]
        tables: list[tuple[Node | None, Node | None]] = []
        vpcs: dict[str, Node] = {}
        for subnet in subnets:
            in_stack, vpc, why = route_tables(graph, subnet)
            if why:
                found.outside.append(why)
                continue
            vpc_nodes, vpc_outside, _ = graph.refs(subnet, "vpcId", VPC, id_prefix="vpc-")
            found.outside += [f"the endpoints of VPC {v} (not in this stack)" for v in vpc_outside]
            for t in in_stack or [None]:
                # A table with a way out needs no endpoints; one without does, whatever its neighbours have.
                if not ways_out(graph, t, vpc):
                    tables.append((t, vpc))
                    vpcs.update({v.urn: v for v in vpc_nodes})
        if not tables:
            continue
        needed = _needed_endpoints(graph, node, found)
        for vpc in vpcs.values():
            endpoints = [e for e in graph.of_type(*ENDPOINT) if depends_on(graph, e, "vpcId", vpc)]
            missing = sorted(s for s in needed if not _has_interface(endpoints, s))
            if missing:
                found.violation(f"{node.name} runs tasks with no route out of VPC {vpc.name} (no NAT, internet or "
                                "Transit Gateway default route), which lacks interface endpoint(s) "
                                f"{', '.join(missing)} with private DNS: tasks fail to pull images, ship logs or read "
                                f"secrets. Add them{hint(node, 'network.extraEndpoints')}.",
                                node.urn)
            s3 = [e for e in endpoints
                  if _service(e) == "s3" and e.props.get("vpcEndpointType", "Gateway") == "Gateway"]
            uncovered = [t.name if t else "the main route table" for t, _ in tables
                         if not any(_gateway_on(graph, e, t, vpc) for e in s3)]
            if uncovered:
                found.violation(f"{node.name} runs tasks with no route out of VPC {vpc.name}, but no S3 gateway "
                                f"endpoint is on route table(s) {', '.join(sorted(set(uncovered)))}: ECR image "
                                "layers are in S3, so pulls fail (CannotPullContainerError).", node.urn)


def _service(endpoint: Node) -> str:
    name = endpoint.props.get("serviceName")
    return name.split(".", 3)[3] if isinstance(name, str) and name.count(".") >= 3 else ""


def _has_interface(endpoints: list[Node], short: str) -> bool:
    return any(_service(e) == short and e.props.get("vpcEndpointType", "Gateway") == "Interface"
               and e.props.get("privateDnsEnabled") is True for e in endpoints)


def _gateway_on(graph: Graph, endpoint: Node, table: Node | None, vpc: Node | None) -> bool:
    if table is None:
        main_id = vpc.props.get("mainRouteTableId") if vpc else None
        return (vpc is not None and vpc.urn in endpoint.deps.get("routeTableIds", [])) or \
            (isinstance(main_id, str) and main_id in strings_in(endpoint.props.get("routeTableIds")))
    if depends_on(graph, endpoint, "routeTableIds", table):
        return True
    return any(depends_on(graph, a, "vpcEndpointId", endpoint) and depends_on(graph, a, "routeTableId", table)
               for a in graph.of_type(*ENDPOINT_RTB))


vpc_endpoints_for_private_tasks = stack_policy(
    "vpc-endpoints-for-private-tasks",
    "A VPC whose private tasks have no way out has the ECR, logs, S3 (and secrets, exec) endpoints.",
    EnforcementLevel.MANDATORY, _endpoints_for_private_tasks)


def _flow_logs(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    for vpc in graph.of_type(*VPC):
        if not any(depends_on(graph, f, "vpcId", vpc) for f in graph.of_type(*FLOW_LOG)):
            found.violation(f"VPC {vpc.name} has no flow log: rejected and accepted traffic leaves no trace. Add an "
                            "aws.ec2.FlowLog for it.", vpc.urn)


vpc_flow_logs = stack_policy("vpc-flow-logs", "Every VPC of the stack has a flow log.", EnforcementLevel.ADVISORY,
                             _flow_logs)


def _default_sg_closed(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    for vpc in graph.of_type(*VPC):
        managed = [g for g in graph.of_type(*DEFAULT_SG) if depends_on(graph, g, "vpcId", vpc)]
        if not managed:
            found.violation(f"the default security group of VPC {vpc.name} is not managed, so it keeps AWS's "
                            "allow-within-group rules; manage it with aws.ec2.DefaultSecurityGroup and no rules.",
                            vpc.urn)
        for group in managed:
            if group.props.get("ingress") or group.props.get("egress"):
                found.violation(f"{group.name}: the default security group has rules; remove them so anything "
                                "that falls back to it is isolated.", group.urn)


default_security_group_closed = stack_policy(
    "default-security-group-closed", "Each VPC's default security group is managed with no rules.",
    EnforcementLevel.ADVISORY, _default_sg_closed)

POLICIES = [ecs_service_no_public_ip, ecs_tasks_in_private_subnets, vpc_endpoints_for_private_tasks, vpc_flow_logs,
            default_security_group_closed]
