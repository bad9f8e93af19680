"""The topology of a stack, built from a preview report's resources (their types, inputs and references).

Not from the settings: any program's report gives a diagram, this repository's in full, another's with
what its resources say (a VPC from a data source is "not in this stack", an awsx component one opaque
box). What is drawn: each VPC with its subnets by zone (private, public), NAT and internet gateways
and the routes to them, the interface endpoints (the AWS service each serves, the zones of their
ENIs), gateway endpoints and the buckets they reach, load balancers and their listeners, the ECS
cluster with its services (ports, tasks, capacity, Service Connect names, DNS names), workers (the
queue each consumes), jobs (schedule, through a state machine or not), EFS file systems and who
mounts them, the buckets tasks read or write (from their task roles' policies).
"""

from __future__ import annotations

import json
from typing import Any

from tools.preview.diff import resource_key
from tools.preview.graph import Index, Node, Topology, as_list, known, node_id, policy_statements, slug, tag_name
from tools.preview.multilang import CREATES

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
ROUTE = "aws:ec2/route:Route"
IGW = "aws:ec2/internetGateway:InternetGateway"
NAT = "aws:ec2/natGateway:NatGateway"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
CLUSTER = "aws:ecs/cluster:Cluster"
SERVICE = "aws:ecs/service:Service"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
LBS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
TARGET_GROUPS = ("aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup")
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
QUEUE = "aws:sqs/queue:Queue"
VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
FILE_SYSTEM = "aws:efs/fileSystem:FileSystem"
MOUNT_TARGET = "aws:efs/mountTarget:MountTarget"
ROLE = "aws:iam/role:Role"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_RULES = ("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
                  "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                  "aws:ec2/securityGroupRule:SecurityGroupRule")
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
REGISTRY = "aws:servicediscovery/service:Service"
DNS_NAMESPACES = ("aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace",
                  "aws:servicediscovery/publicDnsNamespace:PublicDnsNamespace")
HTTP_NAMESPACE = "aws:servicediscovery/httpNamespace:HttpNamespace"
SCALING_TARGET = "aws:appautoscaling/target:Target"

#: What each interface endpoint serves a private task (README, "The network"; AWS's ECR endpoint page:
#: https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html).
SERVES = {"ecr.api": "ECR API: image manifests, registry login", "ecr.dkr": "ECR registry: image pulls",
          "logs": "CloudWatch Logs: the awslogs driver", "ssm": "SSM Parameter Store: secrets",
          "secretsmanager": "Secrets Manager: secrets", "ssmmessages": "ECS Exec sessions",
          "ec2messages": "Systems Manager agent", "kms": "KMS", "sts": "STS", "ecs": "ECS API",
          "ecs-agent": "ECS agent", "ecs-telemetry": "ECS telemetry", "sqs": "SQS: queues", "sns": "SNS",
          "monitoring": "CloudWatch metrics", "xray": "X-Ray", "elasticfilesystem": "EFS API",
          "states": "Step Functions", "s3": "S3: image layers, the stack's buckets", "dynamodb": "DynamoDB"}
_REMOTE_PACKAGES = ("awsx", "eks", "aws-apigateway", "synced-folder")


def build(report: dict[str, Any]) -> Topology:
    """The topology of one report."""
    from tools.preview import other_nodes, workload_nodes  # they build on this module's Builder

    ix, topo = Index(report), Topology()
    builder = Builder(ix, topo)
    builder.network()
    builder.buckets()
    builder.file_systems()
    builder.clusters()
    for service in ix.of(SERVICE):
        workload_nodes.service(builder, service)
    workload_nodes.jobs(builder)
    other_nodes.add(builder)
    builder.opaque()
    return topo


def short_service(service_name: Any) -> str:
    """`com.amazonaws.us-east-1.ecr.api` -> `ecr.api`."""
    text = str(service_name) if known(service_name) else "?"
    return text.split(".", 3)[-1] if text.startswith("com.amazonaws.") else text


def containers(task: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The container definitions of a task definition ([] when unknown or secret)."""
    raw = (task or {}).get("inputs", {}).get("containerDefinitions")
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    return [c for c in parsed if isinstance(c, dict)] if isinstance(parsed, list) else []


class Builder:
    """The builder: the index, the topology and what one step leaves for the next."""

    def __init__(self, ix: Index, topo: Topology) -> None:
        self.ix, self.topo = ix, topo
        self.vpc_groups: dict[str, str] = {}  # vpc urn -> group id
        self.subnet_zone: dict[str, str] = {}  # subnet urn -> zone
        self.subnet_group: dict[str, str] = {}  # subnet urn -> its VPC's group
        self.bucket_nodes: dict[str, str] = {}  # bucket name -> node id
        self.cluster_groups: dict[str, tuple[str, str, str]] = {}  # cluster name -> (urn, group id, label)
        self.gateway: tuple[str, set[str] | None] | None = None  # the S3 gateway's node, the buckets it reaches

    # --- helpers used by the steps (and tools/preview/jobs.py) ---

    def node(self, kind: str, resource: dict[str, Any], lines: list[str], group: str | None,
             *related: dict[str, Any] | None) -> str:
        """Add the node of a resource; `related` resources change its mark too."""
        keys = (resource_key(resource["urn"]), *(resource_key(r["urn"]) for r in related if r))
        return self.topo.add(Node(node_id(kind, resource), kind, lines, group, keys)).id

    def outside(self) -> str:
        """The box for what runs in a network the stack does not hold."""
        return self.topo.group("outside", "network not in this stack (from data sources or other stacks)",
                               kind="vpc")

    def vpc_of(self, resources: list[dict[str, Any]], given: Any = None) -> str:
        """The VPC group of the first of these subnets the stack holds; else, unless `given` (the property's own
        value) names subnets the stack does not hold, the only VPC; else `outside`."""
        for subnet in resources:
            if subnet["urn"] in self.subnet_group:
                return self.subnet_group[subnet["urn"]]
        elsewhere = any(known(v) for v in as_list(given))
        return next(iter(self.vpc_groups.values())) if len(self.vpc_groups) == 1 and not elsewhere else self.outside()

    def zones(self, subnets: list[dict[str, Any]]) -> list[str]:
        """The zones of these subnets, in order, once each."""
        return list(dict.fromkeys(self.subnet_zone[s["urn"]] for s in subnets if s["urn"] in self.subnet_zone))

    def task_role_statements(self, task: dict[str, Any] | None) -> list[dict[str, Any]]:
        """Allow statements of the inline policies of a task definition's task role."""
        if task is None:
            return []
        roles = self.ix.refs(task, "taskRoleArn", ROLE)
        arn = task["inputs"].get("taskRoleArn")
        if not roles and isinstance(arn, str) and known(arn):
            roles = [r for r in self.ix.of(ROLE) if r["inputs"].get("name") == arn.rsplit("/", 1)[-1]]
        out = []
        for role in roles:
            for policy in self.ix.of(ROLE_POLICY):
                if role in self.ix.refs(policy, "role", ROLE) or policy["inputs"].get("role") == role[
                        "inputs"].get("name"):
                    out += [s for s in policy_statements(policy["inputs"].get("policy")) if s.get("Effect") == "Allow"]
        return out

    def security(self, resource: dict[str, Any], prop: str) -> list[dict[str, Any]]:
        """The security groups a property refers to, and their rules: a change to them changes the workload."""
        groups = self.ix.refs(resource, prop, SECURITY_GROUP)
        rules = [r for r in self.ix.of(*SECURITY_RULES)
                 if any(g in self.ix.refs(r, "securityGroupId", SECURITY_GROUP) for g in groups)]
        return groups + rules

    def uses_buckets(self, src: str, task: dict[str, Any] | None) -> None:
        """Edges from a workload to the buckets its task role reads or writes."""
        access: dict[str, set[str]] = {}
        for statement in self.task_role_statements(task):
            actions = [str(a) for a in as_list(statement.get("Action"))]
            for arn in as_list(statement.get("Resource")):
                name = str(arn).removeprefix("arn:aws:s3:::").split("/", 1)[0]
                if str(arn).startswith("arn:aws:s3:::") and name in self.bucket_nodes:
                    for action in actions:
                        verb = action.split(":", 1)[-1]
                        access.setdefault(name, set()).add(
                            "writes" if verb.startswith(("Put", "Delete", "Abort")) or verb == "*" else "reads")
        for name, verbs in sorted(access.items()):
            self.topo.edge(src, self.bucket_nodes[name], ", ".join(sorted(verbs)))

    def cluster_group(self, ref: Any, parent: str, found: list[dict[str, Any]] | None = None) -> str:
        """The group of the cluster a service or job refers to (`found`) or names (ARN or name); the only one;
        else a stand-in. A cluster's box goes in the network of the first workload placed in it."""
        name = str(ref).rsplit("/", 1)[-1] if known(ref) else ""
        by_urn = {urn: entry for urn, *entry in self.cluster_groups.values()}
        entry = by_urn.get(found[0]["urn"]) if found else None
        if entry is None and name in self.cluster_groups:
            entry = self.cluster_groups[name][1:]
        if entry is None and len(self.cluster_groups) == 1:
            entry = next(iter(self.cluster_groups.values()))[1:]
        if entry is None:
            return self.topo.group(f"{parent}_tasks", "ECS tasks (cluster not in this stack)", parent, "cluster")
        return self.topo.group(entry[0], entry[1], parent, "cluster")

    # --- the steps ---

    def network(self) -> None:
        topo, ix = self.topo, self.ix
        for vpc in ix.of(VPC):
            cidr = vpc["inputs"].get("cidrBlock")
            self.vpc_groups[vpc["urn"]] = topo.group(node_id("vpc", vpc), f"VPC {tag_name(vpc)}"
                                                     + (f" {cidr}" if known(cidr) else ""), kind="vpc")
        tables = self._route_tables()
        igws = {igw["urn"]: self.node("igw", igw, ["internet gateway"], self._vpc_group(igw), *ix.children(
            igw, ROUTE)) for igw in ix.of(IGW)}
        for subnet in ix.of(SUBNET):
            self._subnet(subnet, tables.get(subnet["urn"]), igws)
        for nat in ix.of(NAT):
            subnets = ix.refs(nat, "subnetId", SUBNET)
            group = self.zone_group(subnets[0]) if subnets else self.vpc_of([])
            public = nat["inputs"].get("connectivityType", "public") != "private"
            nid = self.node("nat", nat, ["NAT gateway", "public IPv4" if public else "private"], group)
            for igw in igws.values():
                topo.edge(nid, igw, "out")
        for subnet in ix.of(SUBNET):
            self._subnet_routes(subnet, tables.get(subnet["urn"]), igws)
        if igws:
            internet = topo.add(Node("internet", "internet", ["internet"])).id
            for igw in igws.values():
                topo.edge(igw, internet)
        for endpoint in ix.of(ENDPOINT):
            self._endpoint(endpoint)

    def _vpc_group(self, resource: dict[str, Any]) -> str:
        vpcs = self.ix.refs(resource, "vpcId", VPC)
        if vpcs:
            return self.vpc_groups[vpcs[0]["urn"]]
        return self.vpc_of([])

    def _route_tables(self) -> dict[str, dict[str, Any]]:
        """Subnet URN -> its route table (explicit associations)."""
        out = {}
        for assoc in self.ix.of(ASSOCIATION):
            tables = self.ix.refs(assoc, "routeTableId", ROUTE_TABLE)
            for subnet in self.ix.refs(assoc, "subnetId", SUBNET):
                if tables:
                    out[subnet["urn"]] = tables[0]
        return out

    def _routes(self, table: dict[str, Any] | None, prop: str, token: str) -> list[dict[str, Any]]:
        """Targets of type `token` that a route table's routes (separate or inline) send 0.0.0.0/0 to."""
        if table is None:
            return []
        found = self.ix.refs(table, "routes", token)
        for route in self.ix.of(ROUTE):
            if table in self.ix.refs(route, "routeTableId", ROUTE_TABLE):
                found += self.ix.refs(route, prop, token)
        return found

    def zone_group(self, subnet: dict[str, Any]) -> str:
        vpc_group = self.subnet_group.get(subnet["urn"]) or self.vpc_of([])
        zone = self.subnet_zone.get(subnet["urn"], "zone not known offline")
        return self.topo.group(f"{vpc_group}_{slug(zone)}", zone, vpc_group, "zone")

    def _subnet(self, subnet: dict[str, Any], table: dict[str, Any] | None, igws: dict[str, str]) -> None:
        inputs = subnet["inputs"]
        zone = next((z for z in (inputs.get("availabilityZone"), inputs.get("availabilityZoneId")) if known(z)),
                    "zone not known offline")
        self.subnet_zone[subnet["urn"]] = str(zone)
        self.subnet_group[subnet["urn"]] = self._vpc_group(subnet)
        public = inputs.get("mapPublicIpOnLaunch") is True or bool(self._routes(table, "gatewayId", IGW))
        cidr = inputs.get("cidrBlock")
        lines = ["public subnet" if public else "private subnet"] + ([str(cidr)] if known(cidr) else [])
        self.node("subnet", subnet, lines, self.zone_group(subnet), table)

    def _subnet_routes(self, subnet: dict[str, Any], table: dict[str, Any] | None, igws: dict[str, str]) -> None:
        sid = node_id("subnet", subnet)
        for nat in self._routes(table, "natGatewayId", NAT):
            self.topo.edge(sid, node_id("nat", nat), "0.0.0.0/0")
        for igw in self._routes(table, "gatewayId", IGW):
            self.topo.edge(sid, igws[igw["urn"]], "0.0.0.0/0")

    def _endpoint(self, endpoint: dict[str, Any]) -> None:
        inputs = endpoint["inputs"]
        short = short_service(inputs.get("serviceName"))
        kind = inputs.get("vpcEndpointType") or "Gateway"  # AWS's default
        vpc_group = self._vpc_group(endpoint)
        if kind == "Interface":
            subnets = self.ix.refs(endpoint, "subnetIds", SUBNET)
            zones = self.zones(subnets)
            where = f"ENIs in {', '.join(zones)}" if zones else f"ENIs in {len(as_list(inputs.get('subnetIds')))} " \
                                                                 "subnet(s)"
            group = self.topo.group(f"{vpc_group}_endpoints", "interface endpoints (private DNS)", vpc_group,
                                    "endpoints")
            self.node("endpoint", endpoint, [short, SERVES.get(short, "AWS service"), where], group)
            return
        tables = len(as_list(inputs.get("routeTableIds")))
        nid = self.node("gateway", endpoint, [f"{short} gateway endpoint", f"on {tables} route table(s)"], vpc_group)
        if short == "s3":
            self._gateway_buckets(nid, inputs.get("policy"))

    def _gateway_buckets(self, nid: str, policy: Any) -> None:
        names = None
        if known(policy):
            names = {str(a).removeprefix("arn:aws:s3:::").split("/", 1)[0]
                     for s in policy_statements(policy) for a in as_list(s.get("Resource"))}
            names = None if "*" in names else names
        self.gateway = (nid, names)

    def buckets(self) -> None:
        for bucket in self.ix.of(*BUCKETS):
            name = bucket["inputs"].get("bucket")
            name = str(name) if known(name) else bucket["name"]
            versioned = any(bucket in self.ix.refs(v, "bucket", *BUCKETS) and (
                v["inputs"].get("versioningConfiguration") or {}).get("status") == "Enabled"
                for v in self.ix.of(*VERSIONING))
            lines = ["bucket", name] + (["versioned"] if versioned else [])
            self.bucket_nodes[name] = self.node("bucket", bucket, lines, None)
        if self.gateway:
            nid, names = self.gateway
            for name, bid in self.bucket_nodes.items():
                if names is None or name in names:
                    self.topo.edge(nid, bid, "reaches")

    def file_systems(self) -> None:
        for fs in self.ix.of(FILE_SYSTEM):
            targets = [t for t in self.ix.of(MOUNT_TARGET) if fs in self.ix.refs(t, "fileSystemId", FILE_SYSTEM)]
            subnets = [s for t in targets for s in self.ix.refs(t, "subnetId", SUBNET)]
            zones = self.zones(subnets)
            lines = ["EFS file system", tag_name(fs)] + ([f"mount targets in {', '.join(zones)}"] if zones else [])
            self.node("efs", fs, lines, self.vpc_of(subnets) if subnets or targets else None, *targets)

    def clusters(self) -> None:
        for cluster in self.ix.of(CLUSTER):
            name = cluster["inputs"].get("name")
            name = str(name) if known(name) else cluster["name"]
            label = f"ECS cluster {name}"
            spaces = self.ix.refs(cluster, "serviceConnectDefaults", HTTP_NAMESPACE)
            if spaces and known(spaces[0]["inputs"].get("name")):
                label += f" · Service Connect namespace {spaces[0]['inputs']['name']}"
            self.cluster_groups[name] = (cluster["urn"], node_id("cluster", cluster), label)

    def opaque(self) -> None:
        for r in self.ix.resources:
            if r.get("custom") or CREATES.get(r["type"]) == ():
                continue
            if r["type"] in CREATES or r["type"].split(":", 1)[0] in _REMOTE_PACKAGES:
                self.node("opaque", r, [r["type"], r["name"], "multi-language component: not known offline"], None)


def task_of(ctx: Builder, resource: dict[str, Any], prop: str) -> dict[str, Any] | None:
    """The task definition a resource's property refers to."""
    tasks = ctx.ix.refs(resource, prop, TASK)
    return tasks[0] if tasks else None


def subnets_of(ctx: Builder, resource: dict[str, Any], prop: str) -> list[dict[str, Any]]:
    """The subnets a resource's property refers to."""
    return ctx.ix.refs(resource, prop, SUBNET)


def efs_mounts(ctx: Builder, src: str, task: dict[str, Any] | None) -> None:
    """Edges from a workload to the EFS file systems its task mounts, with the container path."""
    if task is None:
        return
    paths: dict[str, list[str]] = {}
    for c in containers(task):
        for m in c.get("mountPoints") or []:
            paths.setdefault(str(m.get("sourceVolume")), []).append(str(m.get("containerPath")))
    systems = ctx.ix.refs(task, "volumes", FILE_SYSTEM)
    for volume in as_list(task["inputs"].get("volumes")):
        config = volume.get("efsVolumeConfiguration") if isinstance(volume, dict) else None
        if not isinstance(config, dict):
            continue
        # by the file system's id when the report knows it; the only one the task refers to otherwise
        match = [fs for fs in systems if fs.get("id") == config.get("fileSystemId")] or (
            systems if len(systems) == 1 else [])
        for fs in match:
            where = ", ".join(paths.get(str(volume.get("name")), []))
            ctx.topo.edge(src, node_id("efs", fs), f"mounts {where}".strip())
