"""Log policies: container logs go to log groups the stack manages, and those groups expire."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from ._util import UNKNOWN, Graph, config, container_definitions, setting_hint

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"


def _log_group_managed(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    graph = Graph(args.resources)
    names = {g.props.get("name") for g in graph.of_type(LOG_GROUP)}
    for td in graph.of_type(TASK_DEFINITION):
        if td.props.get("containerDefinitions") is UNKNOWN:
            continue  # ecs-container-logging reports the unknown containers
        for container in container_definitions(td.resource.props):
            log = container.get("logConfiguration") or {}
            if log.get("logDriver") != "awslogs":
                continue
            options = log.get("options") or {}
            group = options.get("awslogs-group")
            if str(options.get("awslogs-create-group", "")).lower() == "true":
                report_violation(f"{td.name}: container {container.get('name')!r} lets ECS create its log group "
                                 "(awslogs-create-group), which then never expires; create the LogGroup in the stack "
                                 f"with a retention{setting_hint(td.name)}.", td.urn)
            elif group not in names:
                report_violation(f"{td.name}: container {container.get('name')!r} logs to {group!r}, which is not a "
                                 "LogGroup of this stack: its retention and encryption are unmanaged. Declare the "
                                 f"log group here{setting_hint(td.name)}.", td.urn)
    for machine in graph.of_type(STATE_MACHINE):  # execution logs: arn:...:log-group:<name>:*
        destination = (machine.props.get("loggingConfiguration") or {}).get("logDestination")
        group = destination.split(":log-group:", 1)[-1].removesuffix(":*") if isinstance(destination, str) else None
        if group is not None and group not in names:
            report_violation(f"{machine.name} logs its executions to {group!r}, which is not a LogGroup of this stack: "
                             f"its retention is unmanaged. Declare the log group here{setting_hint(machine.name)}.",
                             machine.urn)


ecs_log_group_managed = StackValidationPolicy(
    name="ecs-log-group-managed",
    description="Every awslogs-group and state machine log destination names a LogGroup of the stack; "
                "awslogs-create-group is not used.",
    enforcement_level=EnforcementLevel.MANDATORY, validate=_log_group_managed)


def _retention(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LOG_GROUP:
        return
    limits = config(args, {"minDays": 1, "maxDays": 3653})
    days = args.props.get("retentionInDays")
    if not days:
        report_violation(f"{args.name} has no retention: its logs are kept (and billed) forever. Set "
                         f"retentionInDays{setting_hint(args.name)}.")
    elif not limits["minDays"] <= days <= limits["maxDays"]:
        report_violation(f"{args.name} keeps logs {days:g} days; allowed: {limits['minDays']:g} to "
                         f"{limits['maxDays']:g} days{setting_hint(args.name)}.")


log_group_retention = ResourceValidationPolicy(
    name="log-group-retention", description="Log groups have a retention within minDays..maxDays.",
    enforcement_level=EnforcementLevel.MANDATORY, validate=_retention,
    config_schema=PolicyConfigSchema(properties={
        "minDays": {"type": "integer", "default": 1, "description": "Shortest allowed retention."},
        "maxDays": {"type": "integer", "default": 3653, "description": "Longest allowed retention."}}))


def _kms(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == LOG_GROUP and not args.props.get("kmsKeyId"):
        report_violation(f"{args.name} is encrypted with CloudWatch's own key; set kmsKeyId to control who can "
                         f"read the logs (private-fargate: logs.kmsKeyArn).")


log_group_kms = ResourceValidationPolicy(
    name="log-group-kms", description="Log groups are encrypted with a customer-managed KMS key.",
    enforcement_level=EnforcementLevel.ADVISORY, validate=_kms)

POLICIES = [ecs_log_group_managed, log_group_retention, log_group_kms]
