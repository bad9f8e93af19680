"""The holes issue 20 and 25 found in how tasks are started and where they run, one program per hole.

Each program follows the shape of a public example (named in its first comment) on top of a compliant
private stack (tests/support.PRIVATE_BASE); `broken` makes the mistake. Both variants run through
`python -m tools.preview --project-dir` (in this process) in both modes: the broken one is caught by
the hole's policy (as an advisory naming the policy and `pulumi up` where the value is unknown at
preview), the fixed one has no mandatory violation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import PRIVATE_BASE, preview_program

TASK_SET = '''
# Shape: the Pulumi Registry's aws.ecs.TaskSet example (a service with an EXTERNAL deployment controller).
service = aws.ecs.Service("app", cluster=cluster.arn, desired_count=1, deployment_controller={"type": "EXTERNAL"},
                          deployment_circuit_breaker={"enable": True, "rollback": True})
aws.ecs.TaskSet("blue", service=service.id, cluster=cluster.id, task_definition=definition.arn,
                launch_type="FARGATE", platform_version="LATEST",
                network_configuration={"subnets": [subnet.id], "security_groups": [tasks_sg.id],
                                       "assign_public_ip": bool(v.get("broken"))})
'''

PIPE = '''
# Shape: the Pulumi Registry's aws.pipes.Pipe example (an SQS source), with an ECS task target.
queue = aws.sqs.Queue("jobs", sqs_managed_sse_enabled=True)
aws.sqs.QueuePolicy("jobs", queue_url=queue.id, policy=queue.arn.apply(lambda arn: doc(
    {"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": arn,
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}})))
pipe_role = aws.iam.Role("pipe", assume_role_policy=trust("pipes.amazonaws.com"))
aws.pipes.Pipe("jobs", role_arn=pipe_role.arn, source=queue.arn, target=cluster.arn,
               target_parameters={"ecs_task_parameters": {
                   "task_definition_arn": definition.arn, "launch_type": "FARGATE",
                   "network_configuration": {"aws_vpc_configuration": {
                       "subnets": [subnet.id], "security_groups": [tasks_sg.id],
                       "assign_public_ip": "ENABLED" if v.get("broken") else "DISABLED"}}}})
'''

UNIVERSAL_TARGET = '''
# Shape: EventBridge Scheduler's universal target for ECS RunTask (AWS Scheduler User Guide, "Using universal
# targets"), the Input being the RunTask request; its subnet ids make it unknown at preview.
scheduler_role = aws.iam.Role("scheduler", assume_role_policy=trust("scheduler.amazonaws.com"))
aws.scheduler.Schedule("nightly", schedule_expression="cron(0 3 * * ? *)", flexible_time_window={"mode": "OFF"},
    target={"arn": "arn:aws:scheduler:::aws-sdk:ecs:runTask", "role_arn": scheduler_role.arn,
            "input": pulumi.Output.json_dumps({
                "Cluster": cluster.arn, "TaskDefinition": definition.arn, "LaunchType": "FARGATE",
                "NetworkConfiguration": {"AwsvpcConfiguration": {
                    "Subnets": [subnet.id], "SecurityGroups": [tasks_sg.id],
                    "AssignPublicIp": "ENABLED" if v.get("broken") else "DISABLED"}}})})
'''

AWSX_SERVICE = '''
# Shape: pulumi/templates container-aws-python (awsx.ecs.FargateService with assign_public_ip=True).
import pulumi_awsx as awsx
awsx.ecs.FargateService("service", cluster=cluster.arn, assign_public_ip=bool(v.get("broken")),
    network_configuration={"subnets": [subnet.id], "security_groups": [tasks_sg.id]},
    task_definition_args={"container": {"name": "app", "image": APP["image"], "cpu": 256, "memory": 512,
                                        "essential": True}})
'''

SERVICE = '''
aws.ecs.Service("app", cluster=cluster.arn, task_definition=definition.arn, desired_count=1, launch_type="FARGATE",
    deployment_circuit_breaker={"enable": True, "rollback": True},
    network_configuration={"subnets": [subnet.id], "security_groups": [tasks_sg.id]})
'''

IGW_ATTACHMENT = '''
# Shape: the Pulumi Registry's aws.ec2.InternetGatewayAttachment example, then a route through the attachment's
# output: the route reaches the gateway through two references.
igw = aws.ec2.InternetGateway("igw")
attachment = aws.ec2.InternetGatewayAttachment("igw", vpc_id=vpc.id, internet_gateway_id=igw.id)
if v.get("broken"):
    aws.ec2.Route("internet", route_table_id=table.id, destination_cidr_block="0.0.0.0/0",
                  gateway_id=attachment.internet_gateway_id)
''' + SERVICE

TRANSIT_GATEWAY = '''
# Shape: pulumi/examples aws-py-hub-and-spoke-network (spokes reach the internet through a Transit Gateway and
# an egress VPC): this spoke has no VPC endpoints; only a default route to the TGW is a way out.
tgw = aws.ec2transitgateway.TransitGateway("hub", description="hub", default_route_table_association="disable")
aws.ec2transitgateway.VpcAttachment("spoke", transit_gateway_id=tgw.id, vpc_id=vpc.id, subnet_ids=[subnet.id])
aws.ec2.Route("egress", route_table_id=table.id, transit_gateway_id=tgw.id,
              destination_cidr_block="10.0.0.0/8" if v.get("broken") else "0.0.0.0/0")
''' + SERVICE

FIRELENS = '''
# Shape: aws-samples/amazon-ecs-firelens-examples "send-to-CloudWatch-Logs" (a Fluent Bit log router and an app
# container logging through awsfirelens with the cloudwatch_logs output).
router = {"name": "log_router", "image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/aws-for-fluent-bit:stable",
          "essential": True, "readonlyRootFilesystem": True, "user": "1000",
          "firelensConfiguration": {"type": "fluentbit"}, "logConfiguration": APP["logConfiguration"]}
options = {"Name": "cloudwatch_logs", "region": "us-east-1", "log_stream_prefix": "app-"}
options.update({"log_group_name": "/ecs/firelens", "auto_create_group": "true"} if v.get("broken") else
               {"log_group_name": "/ecs/app"})
task_definition("firelens", router, {**APP, "logConfiguration": {"logDriver": "awsfirelens", "options": options}})
'''

SECRET_NAMES = '''
# Shape: the environment of docker-library's mysql image and of twelve-factor apps (MYSQL_PWD, DB_PASS,
# SMTP_PASSWD, API_KEY, PRIVATE_KEY), next to settings that only describe secrets.
settings = [{"name": "TOKEN_TTL_SECONDS", "value": "3600"}, {"name": "PASSWORD_MIN_LENGTH", "value": "12"},
            {"name": "OAUTH_TOKEN_ENDPOINT", "value": "https://id.example.com/oauth2/token"},
            {"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db"}]
secrets = [{"name": n, "valueFrom": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{n.lower()}"}
           for n in ("MYSQL_PWD", "DB_PASS", "SMTP_PASSWD", "API_KEY", "PRIVATE_KEY")]
if v.get("broken"):
    plain = [{"name": s["name"], "value": "hunter2"} for s in secrets]
    task_definition("worker", {**APP, "name": "worker", "environment": settings + plain})
else:
    task_definition("worker", {**APP, "name": "worker", "environment": settings, "secrets": secrets})
'''

OVERRIDES = '''
# Shape: the Pulumi Registry's aws.cloudwatch.EventTarget example "ECS Run Task with Role and Task Override
# Usage" (containerOverrides in the target's input), with a Fargate network configuration.
events_role = aws.iam.Role("events", assume_role_policy=trust("events.amazonaws.com"))
rule = aws.cloudwatch.EventRule("nightly", schedule_expression="cron(0 3 * * ? *)")
env = [{"name": "API_KEY", "value": "sk-live-123"}] if v.get("broken") else [{"name": "LOG_LEVEL", "value": "debug"}]
aws.cloudwatch.EventTarget("nightly", rule=rule.name, arn=cluster.arn, role_arn=events_role.arn,
    ecs_target={"task_count": 1, "task_definition_arn": definition.arn, "launch_type": "FARGATE",
                "network_configuration": {"subnets": [subnet.id], "security_groups": [tasks_sg.id]}},
    input=json.dumps({"containerOverrides": [{"name": "app", "command": ["report"], "environment": env}]}))
'''

SHARED_GROUP = '''
# Shape: pulumi/examples aws-py-fargate (one security group, port 80 open to the world, on both the
# internet-facing load balancer and the service's tasks), with the tasks made private.
igw = aws.ec2.InternetGateway("igw", vpc_id=vpc.id)
public = [aws.ec2.Subnet(f"public-{i}", vpc_id=vpc.id, cidr_block=f"10.0.{100 + i}.0/24",
                         availability_zone=f"us-east-1{'ab'[i]}") for i in range(2)]
public_table = aws.ec2.RouteTable("public", vpc_id=vpc.id, routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}])
for i, s in enumerate(public):
    aws.ec2.RouteTableAssociation(f"public-{i}", subnet_id=s.id, route_table_id=public_table.id)
web = aws.ec2.SecurityGroup("web-secgrp", vpc_id=vpc.id, description="Enable HTTP access",
    ingress=[{"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_blocks": ["0.0.0.0/0"],
              "description": "HTTP from the internet"}])
aws.lb.LoadBalancer("app-lb", security_groups=[web.id], subnets=[s.id for s in public],
                    drop_invalid_header_fields=True)
groups = [web.id, tasks_sg.id]
if not v.get("broken"):
    groups[0] = aws.ec2.SecurityGroup("app", vpc_id=vpc.id, description="tasks: HTTP from the load balancer",
        ingress=[{"protocol": "tcp", "from_port": 80, "to_port": 80, "security_groups": [web.id],
                  "description": "from the load balancer"}]).id
aws.ecs.Service("app-svc", cluster=cluster.arn, task_definition=definition.arn, desired_count=1,
    launch_type="FARGATE", deployment_circuit_breaker={"enable": True, "rollback": True},
    network_configuration={"subnets": [subnet.id], "security_groups": groups})
'''


@dataclass(frozen=True)
class Hole:
    """A hole: its program, the policy that must catch it, and how (per mode) the broken variant is reported."""

    id: str
    program: str
    policy: str
    at_preview: str = "mandatory"   # "advisory" when the broken value is unknown at preview
    variant: tuple[tuple[str, bool], ...] = ()


HOLES = [
    Hole("task-set-public-ip", TASK_SET, "ecs-service-no-public-ip"),
    Hole("pipe-public-ip", PIPE, "ecs-service-no-public-ip"),
    Hole("scheduler-run-task-public-ip", UNIVERSAL_TARGET, "ecs-service-no-public-ip", at_preview="advisory"),
    Hole("awsx-fargate-service-public-ip", AWSX_SERVICE, "ecs-service-no-public-ip"),
    Hole("route-through-igw-attachment", IGW_ATTACHMENT, "ecs-tasks-in-private-subnets"),
    Hole("transit-gateway-egress", TRANSIT_GATEWAY, "vpc-endpoints-for-private-tasks",
         variant=(("no_endpoints", True),)),
    Hole("firelens-log-group", FIRELENS, "ecs-log-group-managed"),
    Hole("secret-names", SECRET_NAMES, "ecs-no-secrets-in-environment"),
    Hole("container-overrides-env", OVERRIDES, "ecs-no-secrets-in-environment"),
    Hole("group-shared-by-public-alb-and-tasks", SHARED_GROUP, "security-group-no-public-ingress"),
]


def run(tmp_path: Path, hole: Hole, broken: bool, mode: str) -> tuple[int, list[dict[str, str]]]:
    directory = tmp_path / ("broken" if broken else "fixed")
    directory.mkdir()
    result = preview_program(directory, PRIVATE_BASE + hole.program, {"broken": broken, **dict(hole.variant)}, mode)
    assert result.stdout, result.stderr
    return result.returncode, result.report["violations"]


@pytest.mark.parametrize("mode", ["preview", "up"])
@pytest.mark.parametrize("hole", HOLES, ids=lambda h: h.id)
def test_broken_is_caught_and_fixed_passes(tmp_path: Path, hole: Hole, mode: str) -> None:
    level = hole.at_preview if mode == "preview" else "mandatory"
    code, violations = run(tmp_path, hole, True, mode)
    caught = [v for v in violations if v["policy"] == hole.policy]
    assert caught and {v["level"] for v in caught} == {level}, violations
    assert code == (1 if level == "mandatory" else 0)
    if level == "advisory":
        assert all(v["message"].endswith(f"{hole.policy} checks it at `pulumi up`") for v in caught)
    code, violations = run(tmp_path, hole, False, mode)
    assert code == 0 and not [v for v in violations if v["level"] == "mandatory"], violations
    if mode == "up":
        assert not [v for v in violations if v["policy"] == hole.policy], violations


BY_ID = {h.id: h for h in HOLES}


def test_secret_names_are_all_named(tmp_path: Path) -> None:
    _, violations = run(tmp_path, BY_ID["secret-names"], True, "preview")
    (message,) = [v["message"] for v in violations if v["policy"] == "ecs-no-secrets-in-environment"]
    assert "MYSQL_PWD, DB_PASS, SMTP_PASSWD, API_KEY, PRIVATE_KEY in its plain environment" in message
    assert "TOKEN_TTL_SECONDS" not in message and "PASSWORD_MIN_LENGTH" not in message


def test_awsx_service_is_named_as_opaque_in_both_variants(tmp_path: Path) -> None:
    for broken in (True, False):
        _, violations = run(tmp_path, BY_ID["awsx-fargate-service-public-ip"], broken, "up")
        (opaque,) = [v for v in violations if v["policy"] == "cannot-verify"]
        assert opaque["level"] == "advisory" and "awsx:ecs:FargateService service is one opaque resource" in \
            opaque["message"] and "ecs-tasks-in-private-subnets" in opaque["message"]


OUTSIDE = '''
# Shape: a service in subnets another stack owns (pulumi/examples aws-py-stackreference: ids read from
# elsewhere), here given as config.
aws.ecs.Service("app", cluster=cluster.arn, task_definition=definition.arn, desired_count=1, launch_type="FARGATE",
    deployment_circuit_breaker={"enable": True, "rollback": True},
    network_configuration={"subnets": ["subnet-0123456789abcdef0"], "security_groups": [tasks_sg.id]})
'''


@pytest.mark.parametrize("mode", ["preview", "up"])
def test_outside_the_stack_reads_right_in_both_modes(tmp_path: Path, mode: str) -> None:
    result = preview_program(tmp_path, PRIVATE_BASE + OUTSIDE, {}, mode)
    assert result.returncode == 0, result.stderr
    (note,) = [v for v in result.report["violations"] if v["policy"] == "cannot-verify"]
    assert note["level"] == "advisory" and note["message"] == (
        "ecs-tasks-in-private-subnets, vpc-endpoints-for-private-tasks cannot verify subnet subnet-0123456789abcdef0 "
        "of app (not in this stack): neither a pass nor a failure.")
    assert not [v for v in result.report["violations"] if "during preview" in v["message"]]
