"""ServiceLoadBalancer: an Application Load Balancer in front of one service.

Internal by default, in the private subnets, reachable from inside the VPC only. An
internet-facing one goes in the public subnets and serves HTTPS only (HTTP redirects), with a
current TLS policy; either way it drops invalid header fields, is deletion-protected with
`protect`, may log to the stack's access-log bucket, and is the only thing allowed to reach the
service's tasks on their port.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.naming import physical_name, scoped_group_name
from settings import LoadBalancerSettings

#: TLS 1.3 and 1.2 only, forward secrecy: AWS's recommended policy for new listeners.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
#: Seconds a draining target keeps its connections; AWS's 300 makes every deployment wait 5 minutes.
DEREGISTRATION_DELAY = 30


@dataclass(frozen=True)
class ServiceLoadBalancerArgs:
    """Inputs: the service's name, port and `loadBalancer` settings, where to put the ALB, protection.

    after: resources the ALB waits for (the access-log bucket, whose policy ELB checks on creation).
    """

    context: StackContext
    service_name: str
    port: int
    settings: LoadBalancerSettings
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    subnet_ids: Sequence[pulumi.Input[str]]
    service_security_group_id: pulumi.Input[str]
    access_log_bucket: str | None = None
    access_log_prefix: str = "alb"
    after: Sequence[pulumi.Resource] = ()
    protect: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def internet_facing(self) -> bool:
        """True for a public load balancer."""
        return self.settings.scheme == "internet-facing"

    @property
    def https(self) -> bool:
        """True when the listener serves TLS (a certificate is given)."""
        return self.settings.certificate_arn is not None


class ServiceLoadBalancer(pulumi.ComponentResource):
    """ALB, its security group, an ip target group and the listeners of one service.

    Attributes: load_balancer, target_group, security_group, url (Output: https:// or http://).
    """

    def __init__(self, name: str, args: ServiceLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:loadbalancer:ServiceLoadBalancer", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self.security_group = self._create_security_group()
        self.load_balancer = self._create_load_balancer()
        self.target_group = self._create_target_group()
        self._create_listeners()
        scheme = "https" if args.https else "http"
        self.url = self.load_balancer.dns_name.apply(lambda dns: f"{scheme}://{dns}")
        self.register_outputs({"url": self.url})

    def _tags(self, label: str) -> dict[str, str]:
        return {**self._args.tags, "workload": self._args.service_name, "Name": label}

    def _create_security_group(self) -> aws.ec2.SecurityGroup:
        args = self._args
        label = scoped_group_name(args.context.prefix, args.service_name, "alb")
        group = aws.ec2.SecurityGroup(f"{self._name}-sg", name=label, vpc_id=args.vpc_id,
                                      description=f"ALB of {args.service_name}", tags=self._tags(label),
                                      opts=self._child)
        ports = [443, 80] if args.https else [80]
        sources = ["0.0.0.0/0"] if args.internet_facing else [args.vpc_cidr]
        for port in ports:
            for i, cidr in enumerate(sources):
                aws.vpc.SecurityGroupIngressRule(
                    f"{self._name}-in-{port}-{i}", security_group_id=group.id, ip_protocol="tcp", from_port=port,
                    to_port=port, cidr_ipv4=cidr,
                    description="redirect to HTTPS" if args.https and port == 80 else "listener", opts=self._child)
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-out-targets", security_group_id=group.id, ip_protocol="tcp", from_port=args.port,
            to_port=args.port, referenced_security_group_id=args.service_security_group_id,
            description="to the service's tasks", opts=self._child)
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-targets-from-alb", security_group_id=args.service_security_group_id, ip_protocol="tcp",
            from_port=args.port, to_port=args.port, referenced_security_group_id=group.id,
            description="from the service's load balancer", opts=self._child)
        return group

    def _create_load_balancer(self) -> aws.lb.LoadBalancer:
        args = self._args
        # The scheme forces a replacement: it is in the name, so the new ALB never collides with the old.
        scheme = "int" if not args.internet_facing else "pub"
        lb_name = physical_name(args.context.prefix, args.service_name, scheme, max_len=32)
        access_logs = None
        if args.settings.access_logs and args.access_log_bucket:
            access_logs = {"bucket": args.access_log_bucket, "prefix": args.access_log_prefix, "enabled": True}
        return aws.lb.LoadBalancer(
            f"{self._name}-alb", name=lb_name, load_balancer_type="application", internal=not args.internet_facing,
            subnets=list(args.subnet_ids), security_groups=[self.security_group.id],
            drop_invalid_header_fields=True, enable_deletion_protection=args.protect, access_logs=access_logs,
            tags=self._tags(lb_name), opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)))

    def _create_target_group(self) -> aws.lb.TargetGroup:
        args = self._args
        # Port and protocol force a replacement: the port is in the name (create-before-delete needs two names).
        tg_name = physical_name(args.context.prefix, args.service_name, str(args.port), max_len=32)
        return aws.lb.TargetGroup(
            f"{self._name}-tg", name=tg_name, port=args.port, protocol="HTTP", target_type="ip",
            vpc_id=args.vpc_id, deregistration_delay=DEREGISTRATION_DELAY,
            health_check={"enabled": True, "path": args.settings.health_check_path, "protocol": "HTTP",
                          "matcher": "200-399", "interval": 15, "timeout": 5, "healthy_threshold": 2,
                          "unhealthy_threshold": 3},
            tags=self._tags(tg_name), opts=self._child)

    def _create_listeners(self) -> None:
        args = self._args
        forward = [{"type": "forward", "target_group_arn": self.target_group.arn}]
        if args.https:
            aws.lb.Listener(f"{self._name}-https", load_balancer_arn=self.load_balancer.arn, port=443,
                            protocol="HTTPS", ssl_policy=TLS_POLICY, certificate_arn=args.settings.certificate_arn,
                            default_actions=forward, opts=self._child)
            aws.lb.Listener(f"{self._name}-http", load_balancer_arn=self.load_balancer.arn, port=80, protocol="HTTP",
                            default_actions=[{"type": "redirect", "redirect": {
                                "protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}],
                            opts=self._child)
        else:
            aws.lb.Listener(f"{self._name}-http", load_balancer_arn=self.load_balancer.arn, port=80, protocol="HTTP",
                            default_actions=forward, opts=self._child)
