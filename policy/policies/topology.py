"""What starts ECS tasks, where they run, and which way their traffic leaves the VPC.

The resource-graph helpers the network policies share: launchers (services, task sets, Scheduler
schedules with an ECS or `aws-sdk:ecs:runTask` target, EventBridge ECS targets, EventBridge Pipes
with an ECS target, Step Functions state machines with an `ecs:runTask` state), the subnets and
security groups they give tasks, route tables and routes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pulumi_policy import ResourceValidationArgs

from ._util import UNKNOWN, as_list, ci_get, load_json, plain
from .graph import Graph, Node, depends_on
from .sfn import STATE_MACHINE, run_task_launches

SERVICE = "aws:ecs/service:Service"
TASK_SET = "aws:ecs/taskSet:TaskSet"
SCHEDULE = "aws:scheduler/schedule:Schedule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
PIPE = "aws:pipes/pipe:Pipe"
LAUNCHERS = (SERVICE, TASK_SET, SCHEDULE, EVENT_TARGET, PIPE, STATE_MACHINE)
#: Multi-language components that start tasks; under mocks they are one opaque resource.
OPAQUE_LAUNCHERS = ("awsx:ecs:FargateService", "awsx:ecs:EC2Service")
SUBNET = ("aws:ec2/subnet:Subnet", "aws:ec2/defaultSubnet:DefaultSubnet")
VPC = ("aws:ec2/vpc:Vpc", "aws:ec2/defaultVpc:DefaultVpc")
ROUTE_TABLE = ("aws:ec2/routeTable:RouteTable", "aws:ec2/defaultRouteTable:DefaultRouteTable")
ROUTE = ("aws:ec2/route:Route",)
ASSOCIATION = ("aws:ec2/routeTableAssociation:RouteTableAssociation",)
MAIN_ASSOCIATION = ("aws:ec2/mainRouteTableAssociation:MainRouteTableAssociation",)
IGW = ("aws:ec2/internetGateway:InternetGateway",)
NAT = ("aws:ec2/natGateway:NatGateway",)
TGW = ("aws:ec2transitgateway/transitGateway:TransitGateway",)
ENDPOINT = ("aws:ec2/vpcEndpoint:VpcEndpoint",)
ENDPOINT_RTB = ("aws:ec2/vpcEndpointRouteTableAssociation:VpcEndpointRouteTableAssociation",)
TASK_DEFINITION = ("aws:ecs/taskDefinition:TaskDefinition",)
SECURITY_GROUP = ("aws:ec2/securityGroup:SecurityGroup",)
LOAD_BALANCER = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
#: Scheduler's universal target for ECS RunTask, in any partition.
RUN_TASK_TARGET = re.compile(r"^arn:aws[a-z-]*:scheduler:::aws-sdk:ecs:runTask$", re.IGNORECASE)
DEFAULT_ROUTES = ("0.0.0.0/0", "::/0")


@dataclass
class Launch:
    """How a launcher starts tasks: where its ECS settings are and what they say (UNKNOWN where unknown)."""

    prop: str            # the top-level property holding the settings (its dependencies point at subnets...)
    network: Any         # the awsvpc configuration: {subnets, securityGroups, assignPublicIp}
    public_ip: Any       # True, False, None (not set) or UNKNOWN
    task_definition: Any
    td_prop: str
    exec_on: bool
    platform_version: Any
    overrides: Any       # the container overrides (a list of dicts), [] or UNKNOWN
    cluster: Any = None  # the cluster's ARN or name
    cluster_prop: str = "cluster"


def _public(value: Any) -> Any:
    """assignPublicIp as True/False/None: a bool in Pulumi's types, "ENABLED"/"DISABLED" in API JSON."""
    if value is UNKNOWN or value is None or isinstance(value, bool):
        return value
    return str(value).upper() in ("ENABLED", "TRUE")


def _container_overrides(input_json: Any, *path: str) -> Any:
    """The `containerOverrides` inside a target's input JSON (UNKNOWN when the input is)."""
    doc = load_json(input_json)
    if doc is UNKNOWN:
        return UNKNOWN
    found = ci_get(doc, *path, "containerOverrides") if isinstance(doc, dict) else None
    return [c for c in as_list(found) if isinstance(c, dict)]


def launch_of(node: Node) -> Launch:
    """The ECS part of a launcher."""
    p = node.props
    if node.type in (SERVICE, TASK_SET) or node.type in OPAQUE_LAUNCHERS:
        net = p.get("networkConfiguration")
        public = net.get("assignPublicIp") if isinstance(net, dict) else net
        if node.type in OPAQUE_LAUNCHERS and public in (None, False):
            public = p.get("assignPublicIp", public)
        return Launch("networkConfiguration", net, _public(public), p.get("taskDefinition"), "taskDefinition",
                      p.get("enableExecuteCommand") is True, p.get("platformVersion"), [], p.get("cluster"))
    if node.type == SCHEDULE:
        target = p.get("target")
        if not isinstance(target, dict):
            return Launch("target", UNKNOWN, UNKNOWN, UNKNOWN, "target", False, None, UNKNOWN)
        if target.get("ecsParameters") is None and _universal(target):
            request = load_json(target.get("input"))
            if not isinstance(request, dict):
                return Launch("target", UNKNOWN, UNKNOWN, UNKNOWN, "target", False, None, UNKNOWN)
            net = ci_get(request, "networkConfiguration", "awsvpcConfiguration")
            return Launch("target", net, _public(ci_get(net, "assignPublicIp")), ci_get(request, "taskDefinition"),
                          "target", ci_get(request, "enableExecuteCommand") is True,
                          ci_get(request, "platformVersion"), _container_overrides(request, "overrides"),
                          ci_get(request, "cluster"), "target")
        ecs = target.get("ecsParameters")
        ecs = ecs if isinstance(ecs, dict) else {}
        net = ecs.get("networkConfiguration")
        return Launch("target", net, _public(net.get("assignPublicIp") if isinstance(net, dict) else net),
                      ecs.get("taskDefinitionArn"), "target", ecs.get("enableExecuteCommand") is True,
                      ecs.get("platformVersion"), _container_overrides(target.get("input")), target.get("arn"),
                      "target")
    if node.type == EVENT_TARGET:
        ecs = p.get("ecsTarget")
        if not isinstance(ecs, dict):
            return Launch("ecsTarget", UNKNOWN, UNKNOWN, UNKNOWN, "ecsTarget", False, None, UNKNOWN)
        net = ecs.get("networkConfiguration")
        return Launch("ecsTarget", net, _public(net.get("assignPublicIp") if isinstance(net, dict) else net),
                      ecs.get("taskDefinitionArn"), "ecsTarget", ecs.get("enableExecuteCommand") is True,
                      ecs.get("platformVersion"), _container_overrides(p.get("input")), p.get("arn"), "arn")
    if node.type == STATE_MACHINE:
        return _machine_launch(p)
    params = p.get("targetParameters")
    ecs = params.get("ecsTaskParameters") if isinstance(params, dict) else params
    if not isinstance(ecs, dict):
        return Launch("targetParameters", UNKNOWN, UNKNOWN, UNKNOWN, "targetParameters", False, None, UNKNOWN)
    net = ci_get(ecs, "networkConfiguration", "awsVpcConfiguration")
    overrides = ecs.get("overrides")
    return Launch("targetParameters", net, _public(ci_get(net, "assignPublicIp")), ecs.get("taskDefinitionArn"),
                  "targetParameters", ecs.get("enableExecuteCommand") is True, ecs.get("platformVersion"),
                  UNKNOWN if overrides is UNKNOWN else
                  [c for c in as_list(ci_get(overrides, "containerOverrides")) if isinstance(c, dict)],
                  p.get("target"), "target")


def _machine_launch(props: dict[str, Any]) -> Launch:
    """A state machine's first `ecs:runTask` state (its definition depends on everything any state names);
    a public IP in any of its states counts."""
    found = run_task_launches(props.get("definition"))
    if found is UNKNOWN or not found:
        return Launch("definition", UNKNOWN, UNKNOWN, UNKNOWN, "definition", False, None, UNKNOWN)
    first = found[0]
    net = ci_get(first, "networkConfiguration", "awsvpcConfiguration")
    public = [_public(ci_get(f, "networkConfiguration", "awsvpcConfiguration", "assignPublicIp")) for f in found]
    overrides = [c for f in found for c in as_list(ci_get(f, "overrides", "containerOverrides")) if isinstance(c, dict)]
    return Launch("definition", net, True if True in public else public[0], ci_get(first, "taskDefinition"),
                  "definition", ci_get(first, "enableExecuteCommand") is True, ci_get(first, "platformVersion"),
                  overrides, ci_get(first, "cluster"), "definition")


def _runs_tasks(machine: Node) -> bool:
    """A state machine with an ecs:runTask state; while its definition is unknown, one whose definition depends
    on a task definition (the type is in the URN: a machine of Lambda functions is no launcher)."""
    found = run_task_launches(machine.props.get("definition"))
    if found is not UNKNOWN:
        return bool(found)
    return any(urn.split("::")[2].rsplit("$", 1)[-1] in TASK_DEFINITION
               for urn in machine.deps.get("definition", []) if urn.count("::") >= 3)


def _universal(target: dict[str, Any]) -> bool:
    arn = target.get("arn")
    return isinstance(arn, str) and RUN_TASK_TARGET.match(arn) is not None


def is_launcher(node: Node) -> bool:
    """True for a resource that starts ECS tasks (or, unknown at preview, may)."""
    if node.type == TASK_SET:
        return True
    if node.type == SERVICE:  # an EXTERNAL deployment controller starts tasks through task sets
        controller = node.props.get("deploymentController")
        return not (isinstance(controller, dict) and controller.get("type") == "EXTERNAL")
    if node.type == SCHEDULE:
        target = node.props.get("target")
        return target is UNKNOWN or (isinstance(target, dict) and (
            target.get("ecsParameters") is not None or _universal(target)))
    if node.type == EVENT_TARGET:
        return node.props.get("ecsTarget") is not None
    if node.type == STATE_MACHINE:
        return _runs_tasks(node)
    if node.type == PIPE:
        params = node.props.get("targetParameters")
        return isinstance(params, dict) and params.get("ecsTaskParameters") is not None
    return False


def launch_from_args(args: ResourceValidationArgs) -> Launch | None:
    """The Launch of the resource a resource policy sees, None when it starts no tasks."""
    resource_type = args.resource_type
    if resource_type not in LAUNCHERS + OPAQUE_LAUNCHERS:
        return None
    node = Node(None, resource_type, args.urn, args.name, plain(args.props))  # type: ignore[arg-type]
    return launch_of(node) if resource_type in OPAQUE_LAUNCHERS or is_launcher(node) else None


def launchers(graph: Graph) -> list[Node]:
    """Every resource of the stack that starts ECS tasks."""
    return [n for n in graph.of_type(*LAUNCHERS) if is_launcher(n)]


def task_subnets(graph: Graph, node: Node) -> tuple[list[Node], list[str]]:
    """The subnets a launcher runs tasks in: stack resources, and ids from outside the stack."""
    launch = launch_of(node)
    value = ci_get(launch.network, "subnets") if isinstance(launch.network, dict) else launch.network
    subnets, outside, _ = graph.refs(node, launch.prop, SUBNET, value=value if value is not None else [],
                                     id_prefix="subnet-")
    return subnets, outside


def task_security_groups(graph: Graph, node: Node) -> list[Node]:
    """The security groups of the stack a launcher gives its tasks."""
    launch = launch_of(node)
    value = ci_get(launch.network, "securityGroups") if isinstance(launch.network, dict) else launch.network
    return graph.refs(node, launch.prop, SECURITY_GROUP, value=value if value is not None else [])[0]


def maps_public_ips(subnet: Node) -> bool:
    """True when instances in the subnet get public IPs (a default subnet does unless told otherwise)."""
    value = subnet.props.get("mapPublicIpOnLaunch")
    return value is True or (subnet.type == "aws:ec2/defaultSubnet:DefaultSubnet" and value is not False)


def route_tables(graph: Graph, subnet: Node) -> tuple[list[Node], Node | None, str | None]:
    """The route table of a subnet: (explicit tables, the VPC when its main table applies, what is outside)."""
    tables: list[Node] = []
    for assoc in graph.of_type(*ASSOCIATION):
        if depends_on(graph, assoc, "subnetId", subnet):
            found, outside, _ = graph.refs(assoc, "routeTableId", ROUTE_TABLE, id_prefix="rtb-")
            tables += found
            if outside:
                return tables, None, f"route table {outside[0]} of subnet {subnet.name} (not in this stack)"
    if tables:
        return tables, None, None
    vpcs, outside, _ = graph.refs(subnet, "vpcId", VPC, id_prefix="vpc-")
    if not vpcs:
        return [], None, f"the main route table of {outside[0] if outside else 'the VPC'} of subnet {subnet.name}"
    vpc = vpcs[0]
    if vpc.type == "aws:ec2/defaultVpc:DefaultVpc":
        return [], None, f"the main route table of the default VPC (subnet {subnet.name}; AWS routes it to an " \
                         "internet gateway)"
    for main in graph.of_type(*MAIN_ASSOCIATION):
        if depends_on(graph, main, "vpcId", vpc):
            found, _, _ = graph.refs(main, "routeTableId", ROUTE_TABLE, id_prefix="rtb-")
            return found, None, None if found else f"the main route table of VPC {vpc.name}"
    defaults = [t for t in graph.of_type("aws:ec2/defaultRouteTable:DefaultRouteTable")
                if depends_on(graph, t, "defaultRouteTableId", vpc)]
    return defaults, vpc, None


def _route_targets(graph: Graph, table: Node | None, vpc: Node | None, key: str, types: tuple[str, ...],
                   prefix: str) -> list[str]:
    """Destinations of routes in `table` (or the VPC's implicit main table) that go to `types` via `key`."""
    hits: list[str] = []
    if table is not None:
        for route in table.props.get("routes") or []:
            if not isinstance(route, dict) or route.get(key) in (None, ""):
                continue
            target = route[key]
            if target is UNKNOWN:
                if any(graph.follow(graph.by_urn.get(u), types) for u in table.deps.get("routes", [])):
                    hits.append(_destination(route))
            elif isinstance(target, str) and (target.startswith(prefix) or
                                              graph.follow(graph.by_id.get(target), types)):
                hits.append(_destination(route))
    for route in graph.of_type(*ROUTE):
        on_table = table is not None and depends_on(graph, route, "routeTableId", table)
        main_id = vpc.props.get("mainRouteTableId") if vpc is not None else None
        on_main = vpc is not None and (vpc.urn in route.deps.get("routeTableId", []) or
                                       (isinstance(main_id, str) and route.props.get("routeTableId") == main_id))
        if not (on_table or on_main):
            continue
        found, outside, _ = graph.refs(route, key, types, id_prefix=prefix)
        if found or outside:
            hits.append(_destination(route.props))
    return hits


def _destination(route: dict[str, Any]) -> str:
    return str(route.get("cidrBlock") or route.get("destinationCidrBlock") or route.get("ipv6CidrBlock")
               or route.get("destinationIpv6CidrBlock") or route.get("destinationPrefixListId") or "?")


def internet_routes(graph: Graph, table: Node | None, vpc: Node | None) -> list[str]:
    """Destinations routed to an internet gateway (directly or through its attachment)."""
    return _route_targets(graph, table, vpc, "gatewayId", IGW, "igw-")


def ways_out(graph: Graph, table: Node | None, vpc: Node | None) -> list[str]:
    """How a route table reaches AWS's public endpoints without VPC endpoints: NAT, an internet gateway,
    or a default route to a Transit Gateway (central egress through another VPC)."""
    out = [f"{d} via NAT" for d in _route_targets(graph, table, vpc, "natGatewayId", NAT, "nat-")]
    out += [f"{d} via an internet gateway" for d in internet_routes(graph, table, vpc)]
    out += [f"{d} via a Transit Gateway" for d in _route_targets(graph, table, vpc, "transitGatewayId", TGW, "tgw-")
            if d in DEFAULT_ROUTES]
    return out
