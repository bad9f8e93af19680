"""FargateService: a long-running workload, private by default and safe to deploy.

Tasks run in the private subnets without public IPs. Deployments start new tasks before
stopping old ones and roll back on their own when the new ones fail (circuit breaker). Services
with a port reach each other by name through ECS Service Connect (`<name>:<port>`): every
service joins the stack's mesh group, and a service's port admits that group and, with
`loadBalancer`, the service's ALB.
Autoscaling tracks CPU, memory and/or requests per task; `pulumi up` then leaves the running count alone.
ECS deployment alarms (`rollbackOn`, plus a 5xx-rate alarm with a load balancer) roll back a
deployment whose new tasks start but fail requests
(AmazonECS/latest/developerguide/deployment-alarm-failure.html).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.loadbalancer import ServiceLoadBalancer, ServiceLoadBalancerArgs
from components.mesh import rule_suffix
from components.migration import before_deploy
from components.naming import scoped_alarm_name
from components.platform import WorkloadArgs
from components.workload import WorkloadParts, create_workload, ecs_service_args, scaling_target
from settings import AutoscalingSettings, ServiceSettings
from settings.patterns import ALARM_ARN

#: The default deployment alarm: more than this % of requests answered 5xx by the targets ...
ERROR_RATE_PERCENT = 5
#: ... in 2 of 3 minutes, counting minutes with at least this many requests only.
MIN_REQUESTS = 10


def autoscaling_policies(scaling: AutoscalingSettings) -> list[tuple[str, str, float]]:
    """(suffix, predefined metric, target) for each target the settings ask for."""
    out = []
    if scaling.cpu_target is not None:
        out.append(("cpu", "ECSServiceAverageCPUUtilization", scaling.cpu_target))
    if scaling.memory_target is not None:
        out.append(("memory", "ECSServiceAverageMemoryUtilization", scaling.memory_target))
    if scaling.requests_per_target is not None:
        out.append(("requests", "ALBRequestCountPerTarget", scaling.requests_per_target))
    return out


def deployment_alarm_names(svc: ServiceSettings, default_alarm: str | None) -> list[str]:
    """The names ECS watches during a deployment: `rollbackOn.alarms` (ARNs as names) and the default alarm."""
    alarms = svc.rollback_on.alarms if svc.rollback_on else []
    given = [m.group(2) if (m := ALARM_ARN.match(a)) else a for a in alarms]
    return list(dict.fromkeys([*([default_alarm] if default_alarm else []), *given]))


def error_rate_queries(load_balancer: pulumi.Input[str], target_group: pulumi.Input[str]) -> list[dict[str, Any]]:
    """% of the load balancer's requests answered 5xx, by the targets or by the load balancer itself (502/503/504
    when tasks crash, reset or are missing), for minutes with MIN_REQUESTS or more. Each service has its own
    load balancer, so its requests are the service's. HTTPCode_ELB_5XX_Count has no TargetGroup dimension
    (load-balancer-cloudwatch-metrics.html)."""
    target = {"LoadBalancer": load_balancer, "TargetGroup": target_group}
    balancer = {"LoadBalancer": load_balancer}

    def metric(query_id: str, name: str, dims: dict[str, Any]) -> dict[str, Any]:
        return {"id": query_id, "return_data": False, "metric": {
            "metric_name": name, "namespace": "AWS/ApplicationELB", "period": 60, "stat": "Sum", "dimensions": dims}}

    return [metric("errors", "HTTPCode_Target_5XX_Count", target), metric("elb", "HTTPCode_ELB_5XX_Count", balancer),
            metric("requests", "RequestCount", balancer),
            {"id": "rate",
             "expression": f"IF(FILL(requests, 0) >= {MIN_REQUESTS}, "
                           "100 * (FILL(errors, 0) + FILL(elb, 0)) / requests, 0)",
             "label": "5xx responses (targets and load balancer), % of requests", "return_data": True}]


class FargateService(pulumi.ComponentResource):
    """One service: workload parts, ECS service, optional ALB and autoscaling.

    Attributes: parts, migration (the `beforeDeploy` step, or None), service, load_balancer (or None),
    outputs (the `services` stack output entry).
    """

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:service:FargateService", name, None, opts)
        if not isinstance(args.workload, ServiceSettings):
            raise TypeError("FargateService needs a services[] entry")
        self._name = name
        self._args = args
        self._settings: ServiceSettings = args.workload
        self._platform = args.platform
        self.parts: WorkloadParts = create_workload(self, name, args)
        # beforeDeploy: a task run between the new task definition and the service's move to it (the service
        # depends on it, so a failed run leaves the service on its current task definition).
        self.migration = before_deploy(self, name, args, self.parts)
        self.load_balancer: ServiceLoadBalancer | None = None
        if self._settings.load_balancer is not None and self._settings.primary_port is not None:
            self.load_balancer = self._create_load_balancer()
        self._admit_mesh()
        self.deployment_alarm = self._create_error_rate_alarm() if self.load_balancer is not None else None
        self.service = self._create_service()
        if self._settings.autoscaling is not None:
            self._create_autoscaling(self._settings.autoscaling)
        self.outputs: dict[str, Any] = {**self.parts.outputs(args), "serviceName": args.name,
                                        "url": self.load_balancer.url if self.load_balancer else None,
                                        "dnsName": (f"{args.name}.{self._platform.dns_namespace}"
                                                    if args.name in self._platform.registry_arns else None)}
        self.register_outputs(self.outputs)

    @property
    def security_group_id(self) -> pulumi.Output[str]:
        """The tasks' security group (for Service Connect peer rules)."""
        return self.parts.security_group.id


    def _create_load_balancer(self) -> ServiceLoadBalancer:
        args, svc, lb = self._args, self._settings, self._settings.load_balancer
        assert lb is not None and svc.primary_port is not None
        subnets = self._platform.public_subnet_ids if lb.scheme == "internet-facing" else self._platform.subnet_ids
        return ServiceLoadBalancer(f"{self._name}-lb", ServiceLoadBalancerArgs(
            context=args.context, service_name=args.name, port=svc.primary_port, settings=lb,
            vpc_id=self._platform.vpc_id, vpc_cidr=self._platform.vpc_cidr, subnet_ids=list(subnets),
            service_security_group_id=self.parts.security_group.id,
            access_log_bucket=self._platform.access_log_bucket, access_log_prefix=self._platform.access_log_prefix,
            after=[r for r in [self._platform.access_logs] if r], protect=self._platform.protect, tags=args.tags),
            opts=pulumi.ResourceOptions(parent=self))

    def _admit_mesh(self) -> None:
        """Every port of the service, open to the stack's services (mesh) and to its clients group only."""
        svc, child = self._settings, pulumi.ResourceOptions(parent=self)
        sources = [("mesh", self._platform.mesh_security_group_id, "Service Connect from the stack's services"),
                   ("clients", self._platform.clients_security_group_id, "by DNS name from jobs and one-off tasks")]
        for _, spec in svc.service_ports:
            suffix = rule_suffix(spec.port, spec.protocol)
            for label, group, who in sources:
                if group is None:
                    continue
                # The primary port's mesh rule keeps the name it had when a service had one port.
                primary = label == "mesh" and spec.protocol == "tcp" and spec.port == svc.primary_port
                aws.vpc.SecurityGroupIngressRule(
                    f"{self._name}-from-{label}" + ("" if primary else f"-{suffix}"),
                    security_group_id=self.parts.security_group.id, ip_protocol=spec.protocol, from_port=spec.port,
                    to_port=spec.port, referenced_security_group_id=group, description=who,
                    opts=child)

    def _create_error_rate_alarm(self) -> aws.cloudwatch.MetricAlarm:
        """The default deployment alarm: the targets answer more than ERROR_RATE_PERCENT % 5xx."""
        args, lb = self._args, self.load_balancer
        assert lb is not None
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-5xx", name=scoped_alarm_name(args.context.prefix, args.name, "5xx"),
            alarm_description=f"service {args.name}: over {ERROR_RATE_PERCENT}% of requests answered 5xx (deployments "
                              "roll back on it)",
            metric_queries=error_rate_queries(lb.load_balancer.arn_suffix, lb.target_group.arn_suffix),
            evaluation_periods=3, datapoints_to_alarm=2, threshold=ERROR_RATE_PERCENT,
            comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching",
            tags={**args.tags, "workload": args.name}, opts=pulumi.ResourceOptions(parent=self))

    def _service_connect(self) -> dict[str, Any] | None:
        namespace = self._platform.namespace_arn
        if namespace is None:
            return None
        svc, args = self._settings, self._args
        config: dict[str, Any] = {
            "enabled": True, "namespace": namespace,
            # The Service Connect proxy logs next to the app, in the workload's own group.
            "log_configuration": {"log_driver": "awslogs", "options": {
                "awslogs-group": args.log_group_name, "awslogs-region": args.context.region,
                "awslogs-stream-prefix": f"{args.name}-service-connect"}},
        }
        tcp = [(name, spec.port) for name, spec in svc.service_ports if spec.protocol == "tcp"]
        if tcp:
            # One Service Connect service per TCP port, all under the service's name (`web:8080`, `web:8443`);
            # discovery names are unique in the namespace ('_' is in no workload name).
            config["services"] = [{"port_name": name, "discovery_name": svc.name if i == 0 else f"{svc.name}_{port}",
                                   "client_alias": [{"port": port, "dns_name": svc.name}]}
                                  for i, (name, port) in enumerate(tcp)]
        return config

    def _registry(self) -> dict[str, Any] | None:
        """The service's A records in the stack's private DNS namespace (awsvpc: no port needed)."""
        arn = self._platform.registry_arns.get(self._args.name)
        return {"registry_arn": arn} if arn is not None else None

    def _create_service(self) -> aws.ecs.Service:
        args, svc = self._args, self._settings
        load_balancers, grace = None, None
        if self.load_balancer is not None:
            load_balancers = [{"target_group_arn": self.load_balancer.target_group.arn, "container_name": args.name,
                               "container_port": svc.primary_port}]
            start = svc.health_check.start_period if svc.health_check else 0
            grace = max(60, start + 30)
        # With autoscaling the running count belongs to the scaler: `pulumi up` must not reset it.
        ignore = ["desiredCount"] if svc.autoscaling is not None else None
        # The cluster (with its capacity providers) exists first and goes last on destroy.
        depends = [r for r in (self.load_balancer, self._platform.cluster, self.deployment_alarm, self.migration)
                   if r is not None]
        default = scoped_alarm_name(args.context.prefix, args.name, "5xx") if self.deployment_alarm else None
        alarms = deployment_alarm_names(svc, default)
        groups = [self.parts.security_group.id]
        if self._platform.mesh_security_group_id is not None:
            groups.append(self._platform.mesh_security_group_id)
        return aws.ecs.Service(
            f"{self._name}-service", **ecs_service_args(args, self.parts, groups), desired_count=svc.desired_count,
            alarms={"alarm_names": alarms, "enable": True, "rollback": True} if alarms else None,
            wait_for_steady_state=svc.wait_for_steady_state if svc.wait_for_steady_state is not None
            else self._platform.protect, load_balancers=load_balancers,
            health_check_grace_period_seconds=grace, service_connect_configuration=self._service_connect(),
            service_registries=self._registry(),
            tags={**args.tags, "workload": args.name, "Name": args.name},
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=ignore, depends_on=depends))

    def _create_autoscaling(self, scaling: AutoscalingSettings) -> None:
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        target = scaling_target(self, self._name, args, scaling.min, scaling.max, self.service)
        for suffix, metric, value in autoscaling_policies(scaling):
            spec: dict[str, Any] = {"predefined_metric_type": metric}
            if metric == "ALBRequestCountPerTarget" and self.load_balancer is not None:
                # app/<lb-name>/<lb-id>/targetgroup/<tg-name>/<tg-id> (API_PredefinedMetricSpecification.html)
                spec["resource_label"] = pulumi.Output.concat(self.load_balancer.load_balancer.arn_suffix, "/",
                                                              self.load_balancer.target_group.arn_suffix)
            aws.appautoscaling.Policy(
                f"{self._name}-scale-{suffix}", name=f"{args.family}-{suffix}", policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace, scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration={
                    "target_value": value, "predefined_metric_specification": spec,
                    "scale_in_cooldown": scaling.scale_in_cooldown, "scale_out_cooldown": scaling.scale_out_cooldown},
                opts=child)
