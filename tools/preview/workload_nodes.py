"""The workloads of the topology: services, workers (services that consume a queue), load balancers, jobs.

A worker is told from a service by its task role: an Allow of `sqs:ReceiveMessage` on a queue of the
stack. A job is what starts a task definition on a schedule: an EventBridge Scheduler schedule (to ECS
directly, or to a Step Functions state machine that runs the task), an EventBridge rule with an ECS
target; a state machine with no schedule, or a task definition nothing runs, is a task run on demand.
"""

from __future__ import annotations

from typing import Any

from tools.preview.graph import as_list, known, tag_name
from tools.preview.topology import (
    CLUSTER,
    LBS,
    LISTENERS,
    QUEUE,
    SCALING_TARGET,
    TARGET_GROUPS,
    TASK,
    Builder,
    containers,
    efs_mounts,
    subnets_of,
    task_of,
)

SCHEDULE = "aws:scheduler/schedule:Schedule"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
REGISTRY = "aws:servicediscovery/service:Service"
DNS_NAMESPACES = ("aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace",
                  "aws:servicediscovery/publicDnsNamespace:PublicDnsNamespace")


def capacity(strategies: Any) -> str:
    """`spot`, `on-demand` or `on-demand and spot`, from a capacity provider strategy."""
    providers = {s.get("capacityProvider") for s in as_list(strategies) if isinstance(s, dict)}
    if not providers:
        return ""
    if providers == {"FARGATE_SPOT"}:
        return "spot"
    if providers == {"FARGATE"}:
        return "on-demand"
    return "on-demand and spot" if providers == {"FARGATE", "FARGATE_SPOT"} else ", ".join(sorted(map(str, providers)))


def _name(resource: dict[str, Any]) -> str:
    name = resource["inputs"].get("name")
    return str(name) if known(name) else resource["name"]


def consumed_queues(b: Builder, task: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The stack's queues a task role may receive from."""
    queues = {_name(q): q for q in b.ix.of(QUEUE)}
    found = []
    for statement in b.task_role_statements(task):
        actions = {str(a) for a in as_list(statement.get("Action"))}
        if actions & {"sqs:ReceiveMessage", "sqs:*", "*"}:
            for arn in as_list(statement.get("Resource")):
                queue = queues.get(str(arn).rsplit(":", 1)[-1])
                if queue is not None and queue not in found:
                    found.append(queue)
    return found


def service(b: Builder, svc: dict[str, Any]) -> None:
    """The node of an ECS service (or worker), and its load balancers, queues, buckets and file systems."""
    inputs = svc["inputs"]
    task = task_of(b, svc, "taskDefinition")
    subnets = subnets_of(b, svc, "networkConfiguration")
    queues = consumed_queues(b, task)
    kind = "worker" if queues else "service"
    lines = [f"{kind} {_name(svc)}"]
    count = inputs.get("desiredCount")
    tasks = [f"{count} task{'' if count == 1 else 's'}" if isinstance(count, int) else "",
             capacity(inputs.get("capacityProviderStrategies"))]
    lines.append(", ".join(t for t in tasks if t) or "tasks")
    ports = [str(p.get("containerPort")) for c in containers(task) for p in c.get("portMappings") or []
             if isinstance(p, dict) and p.get("containerPort")]
    if ports:
        lines.append("port " + ", ".join(dict.fromkeys(ports)))
    connect = inputs.get("serviceConnectConfiguration") or {}
    if isinstance(connect, dict) and connect.get("enabled") is True:
        aliases = [f"{a.get('dnsName')}:{a.get('port')}" for s in as_list(connect.get("services"))
                   for a in as_list((s or {}).get("clientAlias")) if isinstance(a, dict)]
        lines.append("Service Connect " + (", ".join(aliases) if aliases else "client"))
    registries = b.ix.refs(svc, "serviceRegistries", REGISTRY)
    for registry in registries:
        spaces = b.ix.refs(registry, "dnsConfig", *DNS_NAMESPACES) or b.ix.refs(registry, "namespaceId",
                                                                                   *DNS_NAMESPACES)
        if spaces and known(spaces[0]["inputs"].get("name")):
            lines.append(f"DNS {_name(registry)}.{spaces[0]['inputs']['name']}")
    scaling = _scaling(b, svc)
    if scaling:
        lines.append(scaling)
    network = inputs.get("networkConfiguration") or {}
    if isinstance(network, dict) and network.get("assignPublicIp") is True:
        lines.append("public IP")
    given = (inputs.get("networkConfiguration") or {}).get("subnets") if isinstance(
        inputs.get("networkConfiguration"), dict) else None
    group = b.cluster_group(inputs.get("cluster"), b.vpc_of(subnets, given), b.ix.refs(svc, "cluster", CLUSTER))
    nid = b.node(kind, svc, lines, group, task, *registries, *b.security(svc, "networkConfiguration"))
    for queue in queues:
        b.topo.edge(_queue(b, queue), nid, "messages")
    _load_balancers(b, svc, nid)
    b.uses_buckets(nid, task)
    efs_mounts(b, nid, task)


def _scaling(b: Builder, svc: dict[str, Any]) -> str:
    name = _name(svc)
    for target in b.ix.of(SCALING_TARGET):
        resource_id = str(target["inputs"].get("resourceId", ""))
        if svc in b.ix.refs(target, "resourceId", svc["type"]) or (
                resource_id.startswith("service/") and resource_id.rsplit("/", 1)[-1] == name):
            low, high = target["inputs"].get("minCapacity"), target["inputs"].get("maxCapacity")
            return f"scales {low} to {high} tasks"
    return ""


def _queue(b: Builder, queue: dict[str, Any]) -> str:
    lines = ["queue", _name(queue)]
    dead = []
    for other in b.ix.of(QUEUE):
        if other is not queue and _name(other) in str(queue["inputs"].get("redrivePolicy", "")):
            lines.append(f"dead letters to {_name(other)}")
            dead.append(other)
    return b.node("queue", queue, lines, None, *dead)


def _load_balancers(b: Builder, svc: dict[str, Any], nid: str) -> None:
    ports = {str(m.get("targetGroupArn")): m.get("containerPort") for m in as_list(svc["inputs"].get("loadBalancers"))
             if isinstance(m, dict)}
    for group in b.ix.refs(svc, "loadBalancers", *TARGET_GROUPS):
        container_port = group["inputs"].get("port") or next(iter(ports.values()), "")
        for listener in b.ix.of(*LISTENERS):
            if group not in b.ix.refs(listener, "defaultActions", *TARGET_GROUPS):
                continue
            for lb in b.ix.refs(listener, "loadBalancerArn", *LBS):
                lid = _load_balancer(b, lb, group)
                protocol, port = listener["inputs"].get("protocol"), listener["inputs"].get("port", "")
                front = f"{protocol}:{port}" if known(protocol) else f"port {port}"
                b.topo.edge(lid, nid, f"{front} to {container_port}")


def _load_balancer(b: Builder, lb: dict[str, Any], group: dict[str, Any]) -> str:
    inputs = lb["inputs"]
    kind = inputs.get("loadBalancerType") or "application"
    scheme = "internal" if inputs.get("internal") is True else "internet-facing"
    lines = [f"{kind} load balancer", tag_name(lb), scheme]
    subnets = b.ix.refs(lb, "subnets", *(["aws:ec2/subnet:Subnet"]))
    lid = b.node("lb", lb, lines, b.vpc_of(subnets), group, *b.ix.children(lb, *LISTENERS))
    logs = inputs.get("accessLogs") or {}
    if isinstance(logs, dict) and logs.get("enabled") and known(logs.get("bucket")):
        target = b.bucket_nodes.get(str(logs["bucket"]))
        if target:
            b.topo.edge(lid, target, "access logs")
    return lid


def jobs(b: Builder) -> None:
    """Scheduled jobs, state machines run on demand, and task definitions nothing runs."""
    used = {task_of(b, s, "taskDefinition")["urn"] for s in b.ix.of("aws:ecs/service:Service")
            if task_of(b, s, "taskDefinition")}
    started: set[str] = set()
    for schedule in b.ix.of(SCHEDULE):
        target = schedule["inputs"].get("target") or {}
        machines = b.ix.refs(schedule, "target", STATE_MACHINE)
        task = task_of(b, schedule, "target") or (task_of(b, machines[0], "definition") if machines else None)
        ecs = target.get("ecsParameters") if isinstance(target, dict) else None
        expression = schedule["inputs"].get("scheduleExpression")
        zone = schedule["inputs"].get("scheduleExpressionTimezone")
        lines = [f"job {_workload(task) or _name(schedule)}",
                 f"{expression}" + (f" {zone}" if known(zone) else "") if known(expression) else "schedule"]
        if machines:
            lines.append(f"through state machine {_name(machines[0])}")
            started.add(machines[0]["urn"])
        strategy = capacity((ecs or {}).get("capacityProviderStrategies")) if isinstance(ecs, dict) else ""
        if strategy:
            lines.append(strategy)
        _job(b, schedule, task, lines, (ecs or {}).get("taskDefinitionArn") and target.get("arn"),
             *machines, *b.ix.refs(schedule, "target", QUEUE))
        if task is not None:
            used.add(task["urn"])
    for target in b.ix.of(EVENT_TARGET):
        task = task_of(b, target, "ecsTarget")
        if task is None:
            continue
        rules = b.ix.refs(target, "rule", EVENT_RULE)
        rule = rules[0] if rules else target
        expression = rule["inputs"].get("scheduleExpression")
        lines = [f"job {_workload(task) or _name(rule)}", str(expression) if known(expression) else "on events"]
        _job(b, target, task, lines, target["inputs"].get("arn"), *rules)
        used.add(task["urn"])
    for machine in b.ix.of(STATE_MACHINE):
        task = task_of(b, machine, "definition")
        if machine["urn"] not in started and task is not None:
            _job(b, machine, task, [f"job {_workload(task) or _name(machine)}", "on demand, through a state machine"],
                 None)
            used.add(task["urn"])
    for task in b.ix.of(TASK):
        if task["urn"] not in used:
            family = task["inputs"].get("family")
            _job(b, task, task, [f"task {family if known(family) else task['name']}", "run on demand"], None)


def _workload(task: dict[str, Any] | None) -> str:
    tags = (task or {}).get("inputs", {}).get("tags")
    value = tags.get("workload") if isinstance(tags, dict) else None
    return str(value) if known(value) else ""


def _job(b: Builder, resource: dict[str, Any], task: dict[str, Any] | None, lines: list[str], cluster: Any,
         *related: dict[str, Any]) -> None:
    props = ("target", "definition", "ecsTarget")  # where a schedule, a state machine, a rule's target say it
    starters = [resource, *(r for r in related if r["type"] == STATE_MACHINE)]  # a machine runs the task
    subnets = [s for x in starters for p in props for s in subnets_of(b, x, p)]
    clusters = [c for x in starters for p in props for c in b.ix.refs(x, p, CLUSTER)]
    group = b.cluster_group(cluster, b.vpc_of(subnets), clusters)
    firewall = [r for x in starters for p in props for r in b.security(x, p)]
    nid = b.node("job", resource, lines, group, *(r for r in (task, *related, *firewall) if r is not resource))
    b.uses_buckets(nid, task)
    efs_mounts(b, nid, task)

