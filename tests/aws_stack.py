"""A deployed private-fargate stack in moto, and its outputs: what the day-2 tools' tests run against.

`deploy(session)` creates, through the AWS API (moto), what `pulumi up` of a small stack leaves
behind: a VPC with DNS on, two private subnets with their own route tables, the endpoint security
group (443 from the VPC), the interface endpoints (ecr.api, ecr.dkr, logs, secretsmanager,
ssmmessages) with private DNS, the S3 gateway endpoint with the restricted policy, the cluster,
the repository with the image, a secret, the roles, log groups, a `web` service (exec on, one
secret) and a `report` job; and returns the stack outputs in the shape `__main__.py` exports.
Each test changes one thing (deletes an endpoint, turns private DNS off, ...) to see its check fail.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"
CLUSTER = "private-fargate-dev"
REPO = "private-fargate-dev"
TAG = "0123456789abcdef"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPO}:{TAG}"
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"digest": "sha256:" + "c" * 64, "size": 1, "mediaType": "x"},
                       "layers": [{"digest": "sha256:" + "a" * 64, "size": 10, "mediaType": "y"}]})
INTERFACES = ("ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssmmessages")


@dataclass
class Stack:
    """What `deploy` made: the outputs and the ids a test needs to break one thing."""

    outputs: dict[str, Any]
    endpoints: dict[str, str] = field(default_factory=dict)
    route_tables: list[str] = field(default_factory=list)
    subnets: list[str] = field(default_factory=list)
    secret_arn: str = ""
    execution_roles: dict[str, str] = field(default_factory=dict)
    file: Path = Path()
    session: Any = None

    def write(self, **changes: Any) -> Path:
        """Write the outputs (with top-level changes) to the outputs file again; its path."""
        self.file.write_text(json.dumps({**self.outputs, **changes}))
        return self.file


def trust() -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                                "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]})


def deploy(session: Any, endpoint_azs: int = 2, secret_region: str = REGION) -> Stack:
    """Create the stack in moto (the session's clients) and return it."""
    ec2, ecs, logs = session.client("ec2"), session.client("ecs"), session.client("logs")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    stack = Stack(outputs={})
    for i, zone in enumerate(("us-east-1a", "us-east-1b")):
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{16 * i}.0/20",
                                   AvailabilityZone=zone)["Subnet"]["SubnetId"]
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
        stack.subnets.append(subnet)
        stack.route_tables.append(table)
    endpoint_group = ec2.create_security_group(GroupName="endpoints", Description="endpoints",
                                               VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=endpoint_group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
    for short in INTERFACES:
        stack.endpoints[short] = ec2.create_vpc_endpoint(
            VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.{short}", VpcEndpointType="Interface",
            SubnetIds=stack.subnets[:endpoint_azs], SecurityGroupIds=[endpoint_group],
            PrivateDnsEnabled=True)["VpcEndpoint"]["VpcEndpointId"]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "EcrImageLayers", "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"],
         "Resource": [f"arn:aws:s3:::prod-{REGION}-starport-layer-bucket/*"]}]}
    stack.endpoints["s3"] = ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3", VpcEndpointType="Gateway",
        RouteTableIds=stack.route_tables, PolicyDocument=json.dumps(policy))["VpcEndpoint"]["VpcEndpointId"]
    prefix_list = ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [
        f"com.amazonaws.{REGION}.s3"]}])["PrefixLists"][0]["PrefixListId"]
    cluster = ecs.create_cluster(clusterName=CLUSTER, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    cluster_arn = cluster["cluster"]["clusterArn"]
    session.client("ecr").create_repository(repositoryName=REPO)
    session.client("ecr").put_image(repositoryName=REPO, imageManifest=MANIFEST, imageTag=TAG)
    secrets = session.client("secretsmanager", region_name=secret_region)
    stack.secret_arn = secrets.create_secret(Name="db-password", SecretString="s3cret")["ARN"]
    iam = session.client("iam")
    entries = {}
    for name, kind in (("web", "service"), ("report", "job")):
        group = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        ec2.revoke_security_group_egress(GroupId=group, IpPermissions=[
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]},
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [{"PrefixListId": prefix_list}]}])
        roles = {}
        for role in ("execution", "task"):
            roles[role] = iam.create_role(RoleName=f"{CLUSTER}-{name}-{role}",
                                          AssumeRolePolicyDocument=trust())["Role"]["Arn"]
        stack.execution_roles[name] = roles["execution"]
        group_name = f"/ecs/private-fargate/dev/{name}"
        logs.create_log_group(logGroupName=group_name)
        container: dict[str, Any] = {
            "name": name, "image": IMAGE, "essential": True, "cpu": 256, "memory": 512,
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": group_name, "awslogs-region": REGION, "awslogs-stream-prefix": name}}}
        if name == "web":
            container["secrets"] = [{"name": "DB_PASSWORD", "valueFrom": stack.secret_arn}]
        td = ecs.register_task_definition(
            family=f"{CLUSTER}-{name}", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256",
            memory="512", executionRoleArn=roles["execution"], taskRoleArn=roles["task"],
            containerDefinitions=[container])["taskDefinition"]["taskDefinitionArn"]
        entries[name] = {
            "taskDefinitionArn": td, "containerName": name, "securityGroupId": group, "logGroupName": group_name,
            "logStreamPrefix": name, "subnetIds": stack.subnets,
            "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}],
            "scheduleArn": None, "serviceName": name if kind == "service" else None, "url": None,
            "exec": name == "web"}
    ecs.create_service(cluster=CLUSTER, serviceName="web", taskDefinition=entries["web"]["taskDefinitionArn"],
                       desiredCount=1, enableExecuteCommand=True, networkConfiguration={"awsvpcConfiguration": {
                           "subnets": stack.subnets, "securityGroups": [entries["web"]["securityGroupId"]],
                           "assignPublicIp": "DISABLED"}})
    stack.outputs = {
        "outputsVersion": 1, "region": REGION, "vpcId": vpc, "vpcCidr": "10.0.0.0/16",
        "privateSubnetIds": stack.subnets, "publicSubnetIds": [], "privateRouteTableIds": stack.route_tables,
        "endpointSecurityGroupId": endpoint_group, "vpcEndpoints": dict(stack.endpoints),
        "repositoryName": REPO, "repositoryUrl": IMAGE.rsplit(":", 1)[0], "clusterName": CLUSTER,
        "clusterArn": cluster_arn, "outputBucketName": None,
        "jobs": {"report": entries["report"]}, "services": {"web": entries["web"]},
        "probeImage": {"uri": IMAGE, "cpuArchitecture": "X86_64"},
    }
    return stack


def allowed(decision: str = "allowed") -> dict[str, Any]:
    """A SimulatePrincipalPolicy answer (moto has none: tests give it with botocore's Stubber)."""
    return {"EvaluationResults": [{"EvalActionName": "iam:Simulated", "EvalDecision": decision}], "IsTruncated": False}


def backend_task(task_arn: str) -> Any:
    """moto's own record of a task, to set what the API cannot (exit codes, managed agents)."""
    from moto.ecs.models import ecs_backends

    tasks = ecs_backends[ACCOUNT][REGION].tasks[CLUSTER]
    return tasks[next(k for k in tasks if k.endswith(task_arn.rsplit("/", 1)[-1]))]


def write_logs(session: Any, group: str, stream: str, *lines: str, at: int | None = None) -> None:
    """Put log events (at `at` ms, one ms apart; now by default) on a stream, creating it if needed."""
    import time

    logs = session.client("logs")
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    base = int(time.time() * 1000) if at is None else at
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": base + i, "message": m} for i, m in enumerate(lines)])


def stop_task(session: Any, task_arn: str, exit_code: int | None, reason: str = "Essential container in task exited"
              ) -> None:
    """Stop a task as ECS would after its container exited (or never started: exit_code None)."""
    for container in backend_task(task_arn).containers:
        container.exitCode = exit_code
    session.client("ecs").stop_task(cluster=CLUSTER, task=task_arn, reason=reason)


#: moto's backends `deploy` writes to (ECS and the others look EC2 up at call time, not by reference).
_BACKENDS = ("ec2", "ecs", "ecr", "iam", "logs", "secretsmanager")


def moto_state() -> dict[tuple[str, str, str], Any]:
    """A deep copy of moto's state for the backends `deploy` uses (one copy, so shared objects stay shared)."""
    from moto.backends import get_backend

    state = {}
    for service in _BACKENDS:
        for account, regions in get_backend(service).items():  # type: ignore[call-overload]
            for region, backend in regions.items():
                state[(service, account, region)] = backend
    return _copy(state)


def restore_moto_state(state: dict[tuple[str, str, str], Any]) -> None:
    """Put a copy of a `moto_state()` back in place of moto's fresh backends."""
    from moto.backends import get_backend

    for (service, account, region), backend in _copy(state).items():
        get_backend(service)[account][region] = backend  # type: ignore[call-overload]


def _copy(state: dict[tuple[str, str, str], Any]) -> dict[tuple[str, str, str], Any]:
    """A deep copy in which each backend's locks (ECR keeps one) are new locks: a lock cannot be copied."""
    import threading

    lock_types = (type(threading.Lock()), type(threading.RLock()))
    memo: dict[int, Any] = {}
    for backend in state.values():
        for value in vars(backend).values():
            if isinstance(value, lock_types):
                memo[id(value)] = threading.RLock()
    return copy.deepcopy(state, memo)
