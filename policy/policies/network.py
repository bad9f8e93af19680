"""Network policies: tasks stay private, private tasks have their endpoints, nothing is open to the world."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from ._util import (
    UNKNOWN,
    Graph,
    Node,
    cannot_verify,
    config,
    container_definitions,
    depends_on,
    plain,
    setting_hint,
    strings_in,
)
from .sfn import STATE_MACHINE, network_of, run_task_launches

SERVICE = ("aws:ecs/service:Service",)
SCHEDULE = ("aws:scheduler/schedule:Schedule",)
EVENT_TARGET = ("aws:cloudwatch/eventTarget:EventTarget",)
SUBNET = ("aws:ec2/subnet:Subnet", "aws:ec2/defaultSubnet:DefaultSubnet")
VPC = ("aws:ec2/vpc:Vpc", "aws:ec2/defaultVpc:DefaultVpc")
ROUTE_TABLE = ("aws:ec2/routeTable:RouteTable", "aws:ec2/defaultRouteTable:DefaultRouteTable")
ROUTE = ("aws:ec2/route:Route",)
ASSOCIATION = ("aws:ec2/routeTableAssociation:RouteTableAssociation",)
MAIN_ASSOCIATION = ("aws:ec2/mainRouteTableAssociation:MainRouteTableAssociation",)
IGW = ("aws:ec2/internetGateway:InternetGateway",)
NAT = ("aws:ec2/natGateway:NatGateway",)
ENDPOINT = ("aws:ec2/vpcEndpoint:VpcEndpoint",)
ENDPOINT_RTB = ("aws:ec2/vpcEndpointRouteTableAssociation:VpcEndpointRouteTableAssociation",)
TASK_DEFINITION = ("aws:ecs/taskDefinition:TaskDefinition",)
SECURITY_GROUP = ("aws:ec2/securityGroup:SecurityGroup",)
SG_RULE = ("aws:ec2/securityGroupRule:SecurityGroupRule",)
SG_INGRESS = ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",)
LOAD_BALANCER = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
FLOW_LOG = ("aws:ec2/flowLog:FlowLog",)
DEFAULT_SG = ("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",)
ANYWHERE = ("0.0.0.0/0", "::/0", "0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1")


# --- what runs tasks, and where ---------------------------------------------------------------

@dataclass
class Launch:
    """How a launcher starts tasks: the property holding its ECS settings and what is in them."""

    prop: str
    network: Any
    task_definition_prop: str
    task_definition: Any
    exec_on: bool


def launch_of(node: Node) -> Launch:
    """The ECS part of a service, Scheduler schedule, EventBridge target or state machine (UNKNOWN where unknown)."""
    if node.type in STATE_MACHINE:  # its first ecs:runTask state (the definition depends on all it names)
        found = run_task_launches(node.props.get("definition"))
        if found is UNKNOWN or not found:
            return Launch("definition", UNKNOWN, "definition", UNKNOWN, False)
        return Launch("definition", network_of(found[0]), "definition", found[0].get("TaskDefinition"),
                      found[0].get("EnableExecuteCommand") is True)
    if node.type in SERVICE:
        return Launch("networkConfiguration", node.props.get("networkConfiguration"), "taskDefinition",
                      node.props.get("taskDefinition"), node.props.get("enableExecuteCommand") is True)
    prop = "target" if node.type in SCHEDULE else "ecsTarget"
    ecs = node.props.get(prop)
    if node.type in SCHEDULE and isinstance(ecs, dict):
        ecs = ecs.get("ecsParameters")
    if not isinstance(ecs, dict):
        return Launch(prop, UNKNOWN, prop, UNKNOWN, False)
    return Launch(prop, ecs.get("networkConfiguration"), prop, ecs.get("taskDefinitionArn"),
                  ecs.get("enableExecuteCommand") is True)


def launchers(graph: Graph) -> list[Node]:
    """Services, Scheduler schedules and EventBridge targets that start ECS tasks."""
    out = list(graph.of_type(*SERVICE))
    for node in graph.of_type(*SCHEDULE):
        target = node.props.get("target")
        if target is UNKNOWN or (isinstance(target, dict) and target.get("ecsParameters") is not None):
            out.append(node)
    out += [n for n in graph.of_type(*EVENT_TARGET) if n.props.get("ecsTarget") is not None]
    out += [n for n in graph.of_type(*STATE_MACHINE) if _runs_tasks(graph, n)]
    return out


def _runs_tasks(graph: Graph, machine: Node) -> bool:
    """A state machine with an ecs:runTask state; while its definition is unknown, one whose definition
    depends on a task definition (a machine of Lambda functions is no launcher)."""
    found = run_task_launches(machine.props.get("definition"))
    if found is not UNKNOWN:
        return bool(found)
    return any(graph.by_urn.get(u) is not None and graph.by_urn[u].type in TASK_DEFINITION
               for u in machine.deps.get("definition", []))


def task_subnets(graph: Graph, node: Node) -> tuple[list[Node], list[str]]:
    """The subnets a launcher runs tasks in: stack resources, and ids from outside the stack."""
    launch = launch_of(node)
    value = launch.network.get("subnets") if isinstance(launch.network, dict) else launch.network
    subnets, outside, _ = graph.refs(node, launch.prop, SUBNET, value=value, id_prefix="subnet-")
    return subnets, outside


def maps_public_ips(subnet: Node) -> bool:
    """True when instances in the subnet get public IPs (a default subnet does unless told otherwise)."""
    value = subnet.props.get("mapPublicIpOnLaunch")
    return value is True or (subnet.type == "aws:ec2/defaultSubnet:DefaultSubnet" and value is not False)


def route_tables(graph: Graph, subnet: Node) -> tuple[list[Node], Node | None, str | None]:
    """The route table of a subnet: (explicit tables, the VPC when its main table applies, why unverifiable)."""
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
            if not isinstance(route, dict) or key not in route:
                continue
            target = route[key]
            if target is UNKNOWN:
                if any(graph.by_urn.get(u) and graph.by_urn[u].type in types for u in table.deps.get("routes", [])):
                    hits.append(_destination(route))
            elif isinstance(target, str) and (target.startswith(prefix) or
                                              (target in graph.by_id and graph.by_id[target].type in types)):
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
    """Destinations routed to an internet gateway."""
    return _route_targets(graph, table, vpc, "gatewayId", IGW, "igw-")


def nat_routes(graph: Graph, table: Node | None, vpc: Node | None) -> list[str]:
    """Destinations routed to a NAT gateway."""
    return _route_targets(graph, table, vpc, "natGatewayId", NAT, "nat-")


# --- resource policies ------------------------------------------------------------------------

def _no_public_ip(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    props = args.props
    if args.resource_type in SERVICE:
        net = props.get("networkConfiguration") or {}
    elif args.resource_type in SCHEDULE:
        net = ((props.get("target") or {}).get("ecsParameters") or {}).get("networkConfiguration") or {}
    elif args.resource_type in EVENT_TARGET:
        net = (props.get("ecsTarget") or {}).get("networkConfiguration") or {}
    elif args.resource_type in STATE_MACHINE:
        found = run_task_launches(plain(props).get("definition"))  # unknown at a first preview: judged once known
        net = {"assignPublicIp": any(network_of(f)["assignPublicIp"] for f in found)} if found is not UNKNOWN else {}
    else:
        return
    if net.get("assignPublicIp") is True:
        report_violation(f"{args.name} starts ECS tasks with a public IP (assignPublicIp: true); tasks stay in "
                         f"private subnets without public IPs: set assignPublicIp to false{setting_hint(args.name)}.")


ecs_service_no_public_ip = ResourceValidationPolicy(
    name="ecs-service-no-public-ip",
    description="ECS services, Scheduler schedules, EventBridge ECS targets and state machines never give tasks a "
                "public IP.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_no_public_ip,
)


# --- stack policies ---------------------------------------------------------------------------

def _tasks_in_private_subnets(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    graph = Graph(args.resources)
    unverifiable: list[str] = []
    for node in launchers(graph):
        subnets, outside = task_subnets(graph, node)
        unverifiable += [f"subnet {s} of {node.name} (not in this stack)" for s in outside]
        if not subnets and not outside:
            unverifiable.append(f"the subnets of {node.name} (none found)")
        for subnet in subnets:
            if maps_public_ips(subnet):
                report_violation(f"{node.name} runs tasks in subnet {subnet.name}, which maps public IPs on launch; "
                                 f"use private subnets (mapPublicIpOnLaunch: false){setting_hint(node.name)}.",
                                 node.urn)
            tables, vpc, why = route_tables(graph, subnet)
            if why:
                unverifiable.append(why)
                continue
            for table in tables or [None]:
                for dest in internet_routes(graph, table, vpc):
                    where = table.name if table else "the VPC's main route table"
                    report_violation(f"{node.name} runs tasks in subnet {subnet.name}, whose route table ({where}) "
                                     f"routes {dest} to an internet gateway: that is a public subnet. Run tasks in "
                                     f"private subnets{setting_hint(node.name)}.", node.urn)
    if unverifiable:
        raise cannot_verify(unverifiable)


ecs_tasks_in_private_subnets = StackValidationPolicy(
    name="ecs-tasks-in-private-subnets",
    description="Subnets of services and schedules map no public IPs and have no route to an internet gateway.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_tasks_in_private_subnets,
)

BASE_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs")


def _needed_endpoints(graph: Graph, node: Node) -> tuple[set[str], str | None]:
    """Interface endpoints a launcher's tasks need, from its task definition and exec setting."""
    launch = launch_of(node)
    needed = set(BASE_ENDPOINTS) | ({"ssmmessages"} if launch.exec_on else set())
    tds, _, _ = graph.refs(node, launch.task_definition_prop, TASK_DEFINITION, value=launch.task_definition)
    for td in tds:
        if td.props.get("containerDefinitions") is UNKNOWN:
            return needed, f"the containers of {td.name} (unknown at preview)"
        for container in container_definitions(td.resource.props):
            for secret in container.get("secrets") or []:
                source = str(secret.get("valueFrom", ""))
                needed.add("secretsmanager" if ":secretsmanager:" in source else "ssm")
    return needed, None


def _endpoints_for_private_tasks(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    graph = Graph(args.resources)
    unverifiable: list[str] = []
    for node in launchers(graph):
        subnets, outside = task_subnets(graph, node)
        if outside:
            unverifiable += [f"endpoints for subnet {s} of {node.name} (not in this stack)" for s in outside]
        tables: list[tuple[Node | None, Node | None]] = []
        vpcs: dict[str, Node] = {}
        for subnet in subnets:
            found, vpc, why = route_tables(graph, subnet)
            if why:
                unverifiable.append(why)
                continue
            vpc_nodes, vpc_outside, _ = graph.refs(subnet, "vpcId", VPC, id_prefix="vpc-")
            unverifiable += [f"the endpoints of VPC {v} (not in this stack)" for v in vpc_outside]
            for t in found or [None]:
                # A table with a route out needs no endpoints; one without does, whatever its neighbours have.
                if not (nat_routes(graph, t, vpc) or internet_routes(graph, t, vpc)):
                    tables.append((t, vpc))
                    vpcs.update({v.urn: v for v in vpc_nodes})
        if not tables:
            continue
        needed, why = _needed_endpoints(graph, node)
        if why:
            unverifiable.append(why)
        for vpc in vpcs.values():
            endpoints = [e for e in graph.of_type(*ENDPOINT) if depends_on(graph, e, "vpcId", vpc)]
            missing = sorted(s for s in needed if not _has_interface(endpoints, s))
            if missing:
                report_violation(f"{node.name} runs tasks with no route out of VPC {vpc.name}, which lacks interface "
                                 f"endpoint(s) {', '.join(missing)} with private DNS: tasks fail to pull images, ship "
                                 f"logs or read secrets. Add them (private-fargate: network.extraEndpoints; the base "
                                 f"ones are always created).", node.urn)
            s3 = [e for e in endpoints
                  if _service(e) == "s3" and e.props.get("vpcEndpointType", "Gateway") == "Gateway"]
            uncovered = [t.name if t else "the main route table" for t, _ in tables
                         if not any(_gateway_on(graph, e, t, vpc) for e in s3)]
            if uncovered:
                report_violation(f"{node.name} runs tasks with no route out of VPC {vpc.name}, but no S3 gateway "
                                 f"endpoint is on route table(s) {', '.join(sorted(set(uncovered)))}: ECR image "
                                 "layers are in S3, so pulls fail (CannotPullContainerError).", node.urn)
    if unverifiable:
        raise cannot_verify(unverifiable)


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


vpc_endpoints_for_private_tasks = StackValidationPolicy(
    name="vpc-endpoints-for-private-tasks",
    description="A VPC whose private tasks have no NAT route has the ECR, logs, S3 (and secrets, exec) endpoints.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_endpoints_for_private_tasks,
)


def _ingress_rules(graph: Graph) -> list[tuple[Node, list[Node], str, int, int]]:
    """(rule or group node, its groups in the stack, cidr, from port, to port) of every world-open ingress."""
    out = []
    for group in graph.of_type(*SECURITY_GROUP):
        for rule in group.props.get("ingress") or []:
            if isinstance(rule, dict):
                for cidr in [*(rule.get("cidrBlocks") or []), *(rule.get("ipv6CidrBlocks") or [])]:
                    if cidr in ANYWHERE:
                        out.append((group, [group], cidr, _port(rule, "fromPort"), _port(rule, "toPort")))
    for rule in graph.of_type(*SG_RULE):
        if rule.props.get("type") != "ingress":
            continue
        groups = graph.refs(rule, "securityGroupId", SECURITY_GROUP)[0]
        for cidr in [*(rule.props.get("cidrBlocks") or []), *(rule.props.get("ipv6CidrBlocks") or [])]:
            if cidr in ANYWHERE:
                out.append((rule, groups, cidr, _port(rule.props, "fromPort"), _port(rule.props, "toPort")))
    for rule in graph.of_type(*SG_INGRESS):
        groups = graph.refs(rule, "securityGroupId", SECURITY_GROUP)[0]
        for cidr in (rule.props.get("cidrIpv4"), rule.props.get("cidrIpv6")):
            if cidr in ANYWHERE:
                everything = str(rule.props.get("ipProtocol")) == "-1"
                low = 0 if everything else _port(rule.props, "fromPort")
                high = 65535 if everything else _port(rule.props, "toPort")
                out.append((rule, groups, cidr, low, high))
    return out


def _port(props: dict[str, Any], key: str) -> int:
    if str(props.get("protocol", props.get("ipProtocol"))) in ("-1", "all"):
        return 0 if key == "fromPort" else 65535  # every protocol means every port, whatever from/to say
    value = props.get(key)
    return int(value) if isinstance(value, (int, float)) else -1


def _no_public_ingress(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    graph = Graph(args.resources)
    allowed = set(config(args, {"allowedPorts": [443, 80]})["allowedPorts"])
    public_lbs = [lb for lb in graph.of_type(*LOAD_BALANCER) if lb.props.get("internal") is not True]
    for node, groups, cidr, low, high in _ingress_rules(graph):
        on_public_lb = bool(groups) and all(any(depends_on(graph, lb, "securityGroups", g) for lb in public_lbs)
                                            for g in groups)
        if on_public_lb and low == high and low in allowed:
            continue
        ports = f"port {low}" if low == high else "all ports" if (low, high) in ((0, 65535), (-1, -1)) else \
            f"ports {low}-{high}"
        why = "only on allowedPorts of groups attached to internet-facing load balancers" if on_public_lb else \
            "it is not attached to an internet-facing load balancer"
        report_violation(f"{node.name} opens {ports} to {cidr}; {why}. Admit a security group or a private CIDR "
                         f"instead{setting_hint(node.name)}.", node.urn)


security_group_no_public_ingress = StackValidationPolicy(
    name="security-group-no-public-ingress",
    description="No 0.0.0.0/0 or ::/0 ingress, except allowedPorts on groups of internet-facing load balancers.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_no_public_ingress,
    config_schema=PolicyConfigSchema(properties={"allowedPorts": {
        "type": "array", "items": {"type": "integer"}, "default": [443, 80],
        "description": "Ports that may be open to the world on internet-facing load balancers."}}),
)


def _flow_logs(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    graph = Graph(args.resources)
    for vpc in graph.of_type(*VPC):
        if not any(depends_on(graph, f, "vpcId", vpc) for f in graph.of_type(*FLOW_LOG)):
            report_violation(f"VPC {vpc.name} has no flow log: rejected and accepted traffic leaves no trace. Add an "
                             "aws.ec2.FlowLog for it.", vpc.urn)


vpc_flow_logs = StackValidationPolicy(
    name="vpc-flow-logs",
    description="Every VPC of the stack has a flow log.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=_flow_logs,
)


def _default_sg_closed(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    graph = Graph(args.resources)
    for vpc in graph.of_type(*VPC):
        managed = [g for g in graph.of_type(*DEFAULT_SG) if depends_on(graph, g, "vpcId", vpc)]
        if not managed:
            report_violation(f"the default security group of VPC {vpc.name} is not managed, so it keeps AWS's "
                             "allow-within-group rules; manage it with aws.ec2.DefaultSecurityGroup and no rules.",
                             vpc.urn)
        for group in managed:
            if group.props.get("ingress") or group.props.get("egress"):
                report_violation(f"{group.name}: the default security group has rules; remove them so anything "
                                 "that falls back to it is isolated.", group.urn)


default_security_group_closed = StackValidationPolicy(
    name="default-security-group-closed",
    description="Each VPC's default security group is managed with no rules.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=_default_sg_closed,
)

POLICIES = [ecs_service_no_public_ip, ecs_tasks_in_private_subnets, vpc_endpoints_for_private_tasks,
            security_group_no_public_ingress, vpc_flow_logs, default_security_group_closed]
