"""PrivateNetwork: a VPC whose private subnets reach ECR, CloudWatch Logs and S3 through endpoints, not NAT.

Fargate tasks with no internet route die with CannotPullContainerError (or silently lose logs)
unless the VPC has interface endpoints for ecr.api, ecr.dkr and logs and an S3 gateway endpoint
for image layers. This component makes that topology the default: private subnets with no route
out, the endpoints they need, a restricted S3 endpoint policy, a closed default security group
and flow logs. Public subnets, an internet gateway and a NAT gateway appear only when a setting
asks for them (an internet-facing load balancer, `egress: nat`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.endpoints import BASE_INTERFACE_ENDPOINTS, GATEWAY_ENDPOINTS, EndpointPlan, create_endpoints
from components.iam import assume_role_policy, document, statement
from components.naming import physical_name
from components.zones import choose_zones
from settings import ExistingNetwork, Settings


@dataclass(frozen=True)
class PrivateNetworkArgs:
    """Inputs of PrivateNetwork; `from_settings` builds them from the `network` settings.

    availability_zones: the zones of the private subnets (one subnet each), in order.
    endpoints: short service names of the endpoints (interface ones plus s3/dynamodb gateways).
    endpoint_az_count: how many private subnets hold interface endpoint ENIs (the first ones).
    public_subnet_count: 0; 1 for a NAT gateway alone; one per AZ for an internet-facing ALB.
    stack_buckets: names of this stack's buckets, reachable through the restricted S3 endpoint.
    """

    context: StackContext
    availability_zones: tuple[str, ...] = ()
    cidr: str = "10.0.0.0/16"
    endpoints: tuple[str, ...] = (*BASE_INTERFACE_ENDPOINTS, "s3")
    endpoint_az_count: int | None = None
    egress: str = "none"
    public_subnet_count: int = 0
    s3_endpoint_policy: str = "restricted"
    endpoint_policy: str = "restricted"
    stack_buckets: tuple[str, ...] = ()
    flow_log_retention_days: int = 30
    log_kms_key_arn: str | None = None
    existing: ExistingNetwork | None = None
    protect: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, context: StackContext,
                      stack_buckets: tuple[str, ...] = ()) -> PrivateNetworkArgs:
        """Args for the stack: endpoints implied by the workloads, zones from the region (an invoke)."""
        net = settings.network
        internet_facing = any(s.load_balancer and s.load_balancer.scheme == "internet-facing"
                              for s in settings.services)
        public = net.az_count if internet_facing else (1 if net.egress == "nat" else 0)
        endpoints = required_endpoints(settings)
        zones: tuple[str, ...] = ()
        if net.existing is None:
            chosen = choose_zones(context.region, net.az_count, net.availability_zones,
                                  [context.service_name(e) for e in endpoints if e not in GATEWAY_ENDPOINTS])
            pulumi.log.info("network: private subnets in " + ", ".join(f"{z.name} ({z.zone_id})" for z in chosen))
            zones = tuple(z.name for z in chosen)
        return cls(context=context, availability_zones=zones, cidr=net.cidr,
                   endpoints=endpoints, endpoint_az_count=net.endpoint_subnet_count,
                   egress=net.egress, public_subnet_count=public, s3_endpoint_policy=net.s3_policy,
                   endpoint_policy=net.endpoint_policy,
                   stack_buckets=stack_buckets, flow_log_retention_days=net.flow_log_retention_days,
                   log_kms_key_arn=settings.logs.kms_key_arn, existing=net.existing,
                   protect=settings.protect, tags=settings.stack_tags)


def required_endpoints(settings: Settings) -> tuple[str, ...]:
    """Endpoints the stack needs: the base three, S3, what settings add and what workloads imply.

    Secrets read from Secrets Manager or SSM (by any container of a task) need those endpoints; ECS Exec
    needs ssmmessages. EFS volumes need none: mounts go to the mount targets (components/volumes.py). A
    worker reads its queue through sqs, and its tasks' scale-in protection goes through the ECS agent to
    the ECS API, for which AWS advises the ecs endpoint when the agent times out
    (AmazonECS/latest/developerguide/task-scale-in-protection-endpoint.html, "Error").
    Adding them here means a task never fails at start for an endpoint nobody remembered.
    """
    wanted: list[str] = [*BASE_INTERFACE_ENDPOINTS, "s3", *settings.network.extra_endpoints]
    for workload in settings.workloads:
        for _, container in workload.containers:  # a stack secret ({stackSecret: KEY}) is an SSM parameter
            for source in container.secrets.values():
                wanted.append("secretsmanager" if ":secretsmanager:" in str(source) else "ssm")
        if workload.exec:
            wanted.append("ssmmessages")
    if settings.workers:
        wanted += ["sqs", "ecs"]
    return tuple(dict.fromkeys(wanted))


def subnet_cidrs(cidr: str) -> tuple[list[str], list[str]]:
    """Private and public subnet CIDRs: 16 equal blocks; private i = block i, public i = block 8+i.

    Public subnets take the upper half, so adding them never moves a private subnet.
    """
    net = ipaddress.IPv4Network(cidr)
    blocks = [str(b) for b in net.subnets(prefixlen_diff=4)]
    return blocks[:8], blocks[8:]


class PrivateNetwork(pulumi.ComponentResource):
    """A VPC for private Fargate tasks: no internet route, the endpoints they need, flow logs.

    Attributes for other components: vpc_id, vpc_cidr, private_subnet_ids, public_subnet_ids,
    private_route_table_ids, endpoint_security_group_id, endpoint_ids (short name -> id),
    s3_prefix_list_id.
    """

    vpc_id: pulumi.Output[str]
    vpc_cidr: str
    private_subnet_ids: list[pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]
    endpoint_security_group_id: pulumi.Output[str]
    endpoint_ids: dict[str, pulumi.Output[str]]
    s3_prefix_list_id: pulumi.Output[str]

    def __init__(self, name: str, args: PrivateNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:network:PrivateNetwork", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        # A subnet is created in its zone and stays there: a later change of the zone choice (new
        # eligibility data, a changed setting) must never replace a subnet that tasks run in.
        self._in_its_zone = pulumi.ResourceOptions(parent=self, ignore_changes=["availabilityZone"])
        self.vpc_cidr = args.cidr
        self.public_subnet_ids = []
        if args.existing is not None:
            self.vpc_id = pulumi.Output.from_input(args.existing.vpc_id)
            self.private_subnet_ids = [pulumi.Output.from_input(s) for s in args.existing.private_subnet_ids]
            self.private_route_table_ids = [pulumi.Output.from_input(r) for r in args.existing.private_route_table_ids]
        else:
            self._create_vpc()
            self._create_private_subnets()
            self._create_public_subnets()
            self._create_flow_logs()
        self._create_endpoint_security_group()
        self._create_endpoints()
        self.register_outputs({
            "vpcId": self.vpc_id, "vpcCidr": self.vpc_cidr, "privateSubnetIds": self.private_subnet_ids,
            "publicSubnetIds": self.public_subnet_ids, "privateRouteTableIds": self.private_route_table_ids,
            "endpointSecurityGroupId": self.endpoint_security_group_id, "vpcEndpoints": self.endpoint_ids,
        })

    def _tags(self, name: str) -> dict[str, str]:
        return {**self._args.tags, "Name": name}

    def _create_vpc(self) -> None:
        prefix = self._args.context.prefix
        self.vpc = aws.ec2.Vpc(f"{self._name}-vpc", cidr_block=self._args.cidr, enable_dns_support=True,
                               enable_dns_hostnames=True, tags=self._tags(prefix), opts=self._child)
        self.vpc_id = self.vpc.id
        # The default group is what a resource gets when nobody chose one: managing it with no rules
        # means such a resource can neither be reached nor reach anything.
        aws.ec2.DefaultSecurityGroup(f"{self._name}-default-sg", vpc_id=self.vpc.id, ingress=[], egress=[],
                                     tags=self._tags(f"{prefix}-default-closed"), opts=self._child)

    def _create_private_subnets(self) -> None:
        private_cidrs, _ = subnet_cidrs(self._args.cidr)
        self.private_subnet_ids, self.private_route_table_ids = [], []
        for i, zone in enumerate(self._args.availability_zones):
            label = f"{self._args.context.prefix}-private-{zone}"
            subnet = aws.ec2.Subnet(f"{self._name}-private-{i}", vpc_id=self.vpc.id, cidr_block=private_cidrs[i],
                                    availability_zone=zone, map_public_ip_on_launch=False,
                                    tags=self._tags(label), opts=self._in_its_zone)
            table = aws.ec2.RouteTable(f"{self._name}-private-{i}", vpc_id=self.vpc.id, tags=self._tags(label),
                                       opts=self._child)
            aws.ec2.RouteTableAssociation(f"{self._name}-private-{i}", subnet_id=subnet.id, route_table_id=table.id,
                                          opts=self._child)
            self.private_subnet_ids.append(subnet.id)
            self.private_route_table_ids.append(table.id)

    def _create_public_subnets(self) -> None:
        count = self._args.public_subnet_count
        if count == 0:
            return
        _, public_cidrs = subnet_cidrs(self._args.cidr)
        prefix = self._args.context.prefix
        igw = aws.ec2.InternetGateway(f"{self._name}-igw", vpc_id=self.vpc.id, tags=self._tags(prefix),
                                      opts=self._child)
        table = aws.ec2.RouteTable(f"{self._name}-public", vpc_id=self.vpc.id,
                                   tags=self._tags(f"{prefix}-public"), opts=self._child)
        aws.ec2.Route(f"{self._name}-public-internet", route_table_id=table.id, destination_cidr_block="0.0.0.0/0",
                      gateway_id=igw.id, opts=self._child)
        subnets = []
        for i, zone in enumerate(self._args.availability_zones[:count]):
            # Only load balancers and the NAT gateway live here; nothing gets a public IP by default.
            subnet = aws.ec2.Subnet(f"{self._name}-public-{i}", vpc_id=self.vpc.id, cidr_block=public_cidrs[i],
                                    availability_zone=zone, map_public_ip_on_launch=False,
                                    tags=self._tags(f"{prefix}-public-{zone}"), opts=self._in_its_zone)
            aws.ec2.RouteTableAssociation(f"{self._name}-public-{i}", subnet_id=subnet.id, route_table_id=table.id,
                                          opts=self._child)
            subnets.append(subnet)
        self.public_subnet_ids = [s.id for s in subnets]
        if self._args.egress == "nat":
            self._create_nat(subnets[0])

    def _create_nat(self, subnet: aws.ec2.Subnet) -> None:
        prefix = self._args.context.prefix
        eip = aws.ec2.Eip(f"{self._name}-nat", domain="vpc", tags=self._tags(f"{prefix}-nat"), opts=self._child)
        nat = aws.ec2.NatGateway(f"{self._name}-nat", allocation_id=eip.allocation_id, subnet_id=subnet.id,
                                 tags=self._tags(f"{prefix}-nat"), opts=self._child)
        for i, table_id in enumerate(self.private_route_table_ids):
            aws.ec2.Route(f"{self._name}-private-{i}-nat", route_table_id=table_id,
                          destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id, opts=self._child)

    def _create_flow_logs(self) -> None:
        ctx, args = self._args.context, self._args
        group_name = f"/vpc/{ctx.project}/{ctx.stack}/flow-logs"
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        group = aws.cloudwatch.LogGroup(f"{self._name}-flow-logs", name=group_name,
                                        retention_in_days=args.flow_log_retention_days, kms_key_id=args.log_kms_key_arn,
                                        tags=self._tags(group_name), opts=stateful)
        group_arn = ctx.log_group_arn(group_name)
        role = aws.iam.Role(f"{self._name}-flow-logs", name=physical_name(ctx.prefix, "vpc-flow-logs", max_len=64),
                            assume_role_policy=assume_role_policy(
                                "vpc-flow-logs.amazonaws.com", ctx.account,
                                source_arn=ctx.arn("ec2", "vpc-flow-log/*")),
                            tags=self._tags(f"{ctx.prefix}-vpc-flow-logs"), opts=self._child)
        # What AWS documents for flow log delivery (flow-logs-iam-role.html); DescribeLogGroups has no
        # resource-level permission, so it is on "*" (components/iam.py, UNSCOPED_ACTIONS).
        aws.iam.RolePolicy(f"{self._name}-flow-logs", role=role.id, policy=document([
            statement(["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                      [group_arn, f"{group_arn}:*"], sid="DeliverToItsGroup"),
            statement(["logs:DescribeLogGroups"], "*", sid="FindItsGroup"),
        ]), opts=self._child)
        aws.ec2.FlowLog(f"{self._name}-flow-log", vpc_id=self.vpc.id, traffic_type="ALL",
                        log_destination_type="cloud-watch-logs", log_destination=group.arn,
                        iam_role_arn=role.arn, tags=self._tags(f"{ctx.prefix}-flow-log"), opts=self._child)

    def _create_endpoint_security_group(self) -> None:
        prefix = self._args.context.prefix
        group = aws.ec2.SecurityGroup(
            f"{self._name}-endpoints", vpc_id=self.vpc_id,
            description="VPC interface endpoints: HTTPS from inside the VPC only",
            ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": [self._args.cidr],
                      "description": "HTTPS from the VPC"}],
            egress=[], tags=self._tags(f"{prefix}-endpoints"), opts=self._child)
        self.endpoint_security_group_id = group.id

    def _create_endpoints(self) -> None:
        args = self._args
        count = args.endpoint_az_count or len(self.private_subnet_ids)
        self.endpoint_ids, prefix_list = create_endpoints(self, EndpointPlan(
            context=args.context, name=self._name, vpc_id=self.vpc_id, endpoints=args.endpoints,
            subnet_ids=self.private_subnet_ids[:count], route_table_ids=self.private_route_table_ids,
            security_group_id=self.endpoint_security_group_id, endpoint_policy=args.endpoint_policy,
            s3_policy=args.s3_endpoint_policy, stack_buckets=args.stack_buckets,
            adopted_vpc_id=args.existing.vpc_id if args.existing else None, tags=dict(args.tags)))
        if prefix_list is not None:
            self.s3_prefix_list_id = prefix_list
