"""Log policies: container logs (awslogs and FireLens) and ECS Exec sessions go to log groups the stack
manages, and those groups expire and are kept long enough."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs

from ._util import UNKNOWN, ci_get, config, containers, is_true
from .framework import Findings, hint, hint_args, resource_policy, stack_policy
from .graph import Graph, Node
from .network import launched_containers
from .sfn import STATE_MACHINE, log_destination_group
from .topology import launch_of, launchers

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
CLUSTER = ("aws:ecs/cluster:Cluster",)
#: Fluent Bit outputs that write to CloudWatch Logs (the Go and the C plugin).
CLOUDWATCH_OUTPUTS = ("cloudwatch", "cloudwatch_logs")


def _awslogs(td: Node, container: dict[str, Any], options: dict[str, Any], names: set[Any], found: Findings) -> None:
    label = f"{td.name}: container {container.get('name')!r}"
    if is_true(options.get("awslogs-create-group")):
        found.violation(f"{label} lets ECS create its log group (awslogs-create-group), which then never expires; "
                        f"create the LogGroup in the stack with a retention{hint(td)}.", td.urn)
    elif options.get("awslogs-group") not in names:
        found.violation(f"{label} logs to {options.get('awslogs-group')!r}, which is not a LogGroup of this stack: "
                        f"its retention and encryption are unmanaged. Declare the log group here{hint(td)}.", td.urn)


def _firelens(td: Node, container: dict[str, Any], options: dict[str, Any], routers: list[dict[str, Any]],
              names: set[Any], found: Findings) -> None:
    label = f"{td.name}: container {container.get('name')!r}"
    if not routers:
        found.violation(f"{label} logs through FireLens, but the task has no log router (a container with "
                        f"firelensConfiguration): its output is lost{hint(td)}.", td.urn)
        return
    output = str(ci_get(options, "Name") or "").lower()
    if not output:
        found.outside.append(f"where {label} logs (its FireLens router reads a config file of its own)")
        return
    if output not in CLOUDWATCH_OUTPUTS:
        return  # Firehose, Kinesis, S3, a vendor: no log group to manage here
    group = ci_get(options, "log_group_name")
    if str(ci_get(options, "auto_create_group") or "").lower() in ("true", "on", "yes"):
        found.violation(f"{label} lets its FireLens router create log groups (auto_create_group), which then never "
                        f"expire; create the LogGroup in the stack with a retention{hint(td)}.", td.urn)
    elif group is None:
        found.outside.append(f"the log group {label} writes to through FireLens (a template, not a name)")
    elif group not in names:
        found.violation(f"{label} sends logs through FireLens to {group!r}, which is not a LogGroup of this stack: "
                        f"its retention and encryption are unmanaged. Declare the log group here{hint(td)}.", td.urn)


def _log_group_managed(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    names = {g.props.get("name") for g in graph.of_type(LOG_GROUP)}
    for td in graph.of_type(TASK_DEFINITION):
        defined = containers(td.props)
        if defined is UNKNOWN:
            continue  # ecs-container-logging reports the unknown containers
        routers = [c for c in defined if c.get("firelensConfiguration")]
        for container in defined:
            log = container.get("logConfiguration") or {}
            options = log.get("options") or {}
            if log.get("logDriver") == "awslogs":
                _awslogs(td, container, options, names, found)
            elif log.get("logDriver") == "awsfirelens":
                _firelens(td, container, options, routers, names, found)
    for machine in graph.of_type(STATE_MACHINE):
        group = log_destination_group(machine.props)
        if group is not None and group not in names:
            found.violation(f"{machine.name} logs its executions to {group!r}, which is not a LogGroup of this stack: "
                            f"its retention is unmanaged. Declare the log group here{hint(machine)}.", machine.urn)


ecs_log_group_managed = stack_policy(
    "ecs-log-group-managed",
    "Containers log (awslogs, or FireLens to CloudWatch) to LogGroups of the stack, never to groups they create; "
    "state machines log their executions to LogGroups of the stack.",
    EnforcementLevel.MANDATORY, _log_group_managed)


def _retention(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LOG_GROUP:
        return
    limits = config(args, {"minDays": 1, "maxDays": 3653})
    days = args.props.get("retentionInDays")
    if not days:
        report_violation(f"{args.name} has no retention: its logs are kept (and billed) forever. Set "
                         f"retentionInDays{hint_args(args)}.")
    elif not limits["minDays"] <= days <= limits["maxDays"]:
        report_violation(f"{args.name} keeps logs {days:g} days; allowed: {limits['minDays']:g} to "
                         f"{limits['maxDays']:g} days{hint_args(args)}.")


log_group_retention = resource_policy(
    "log-group-retention", "Log groups have a retention within minDays..maxDays.", EnforcementLevel.MANDATORY,
    _retention,
    {"minDays": {"type": "integer", "default": 1, "description": "Shortest allowed retention."},
     "maxDays": {"type": "integer", "default": 3653, "description": "Longest allowed retention."}})


def _retention_minimum(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LOG_GROUP:
        return
    minimum = config(args, {"minDays": 365})["minDays"]
    days = args.props.get("retentionInDays")
    if days and days < minimum:
        report_violation(f"{args.name} keeps logs {days:g} days, less than this stack's minimum of {minimum:g}: "
                         f"investigations need the history. Raise retentionInDays{hint_args(args)}.")


log_group_retention_minimum = resource_policy(
    "log-group-retention-minimum", "Log groups keep logs at least minDays (per stack; CloudWatch.16 asks a year).",
    EnforcementLevel.ADVISORY, _retention_minimum,
    {"minDays": {"type": "integer", "default": 365, "description": "Shortest retention this stack accepts."}})


def _kms(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == LOG_GROUP and not args.props.get("kmsKeyId"):
        report_violation(f"{args.name} is encrypted with CloudWatch's own key; set kmsKeyId to control who can "
                         f"read the logs{hint_args(args, 'logs.kmsKeyArn')}.")


log_group_kms = resource_policy(
    "log-group-kms", "Log groups are encrypted with a customer-managed KMS key.", EnforcementLevel.ADVISORY, _kms)


def _exec_logging(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    for node in launchers(graph):
        launch = launch_of(node)
        if not launch.exec_on:
            continue
        clusters, outside, _ = graph.refs(node, launch.cluster_prop, CLUSTER, value=launch.cluster or [])
        if not clusters:
            found.outside.append(f"the ECS Exec logging of the cluster of {node.name}"
                                 f"{f' ({outside[0]})' if outside else ''} (not in this stack)")
        for cluster in clusters:
            exec_config = ci_get(cluster.props.get("configuration"), "executeCommandConfiguration") or {}
            logging = exec_config.get("logging") or "DEFAULT"
            destination = exec_config.get("logConfiguration") or {}
            if logging == "NONE":
                found.violation(f"{node.name} allows ECS Exec, but cluster {cluster.name} logs no session "
                                "(logging NONE): commands run in production leave no trace. Log them to a "
                                f"CloudWatch log group or S3 (executeCommandConfiguration){hint(cluster)}.", node.urn)
            elif logging == "OVERRIDE" and not (destination.get("cloudWatchLogGroupName")
                                                 or destination.get("s3BucketName")):
                found.violation(f"{node.name} allows ECS Exec, but cluster {cluster.name} overrides session logging "
                                f"with no destination: name a log group or a bucket{hint(cluster)}.", node.urn)
            elif logging == "DEFAULT":
                _default_exec_logging(graph, node, found)


def _default_exec_logging(graph: Graph, node: Node, found: Findings) -> None:
    """DEFAULT exec logging writes where each container's awslogs driver writes; other drivers log nothing."""
    for td, container in launched_containers(graph, node, found):
        driver = (container.get("logConfiguration") or {}).get("logDriver")
        if driver != "awslogs":
            found.violation(f"{node.name} allows ECS Exec with the cluster's DEFAULT session logging, which uses "
                            f"each container's awslogs driver; container {container.get('name')!r} of {td.name} "
                            f"logs with {driver or 'nothing'}, so its sessions are not logged{hint(node)}.", node.urn)


ecs_exec_logging = stack_policy(
    "ecs-exec-logging", "Where ECS Exec is on, the cluster logs every session (CloudWatch Logs or S3).",
    EnforcementLevel.ADVISORY, _exec_logging)

POLICIES = [ecs_log_group_managed, log_group_retention, log_group_retention_minimum, log_group_kms, ecs_exec_logging]
