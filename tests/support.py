"""What the tests share: constants, running the program or a component under mocks, running the preview CLI.

One way to run the program: `simulate` (tools/preview/child.simulate, what the preview's child runs),
with a fresh event loop, root stack and config each time. `program(settings)` is the same run, done
once per settings per test process and shared (a deep copy each call), since many tests read the
same stacks. The preview CLI runs either in this process (`preview`: the whole `tools.preview` main,
its stdout, stderr and exit status, without starting interpreters) or as a real process
(`preview_cli`: for what only a process shows, such as isolation and where prints go).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import os
import runpy
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tools.preview import child

ROOT = Path(__file__).resolve().parent.parent
UNKNOWN = child.UNKNOWN_TEXT
NAMESPACE = "private-fargate"

# Type tokens the tests look resources up by.
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ASSOC = "aws:ec2/routeTableAssociation:RouteTableAssociation"
BUCKET = "aws:s3/bucket:Bucket"
CACHE_RULE = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
CAPACITY = "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders"
CLUSTER = "aws:ecs/cluster:Cluster"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
EIP = "aws:ec2/eip:Eip"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
IGW = "aws:ec2/internetGateway:InternetGateway"
IMAGE = "awsx:ecr:Image"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LB = "aws:lb/loadBalancer:LoadBalancer"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
LISTENER = "aws:lb/listener:Listener"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
HTTP_NAMESPACE = "aws:servicediscovery/httpNamespace:HttpNamespace"
NAT = "aws:ec2/natGateway:NatGateway"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
REPO = "aws:ecr/repository:Repository"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROUTE = "aws:ec2/route:Route"
RTB = "aws:ec2/routeTable:RouteTable"
RULE = "aws:cloudwatch/eventRule:EventRule"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"
SCALING_TARGET = "aws:appautoscaling/target:Target"
SCHEDULE = "aws:scheduler/schedule:Schedule"
SERVICE = "aws:ecs/service:Service"
SG = "aws:ec2/securityGroup:SecurityGroup"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
SUBNET = "aws:ec2/subnet:Subnet"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
TASK_DEF = "aws:ecs/taskDefinition:TaskDefinition"
TEMPLATE = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"
TG = "aws:lb/targetGroup:TargetGroup"
TOPIC = "aws:sns/topic:Topic"
VPC = "aws:ec2/vpc:Vpc"


@dataclass
class Registered:
    """What a mocked run registered, with lookups that fail loudly when a resource is missing."""

    resources: list[dict[str, Any]]
    outputs: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)  # by URN: ignoreChanges, ...
    opaque: list[dict[str, str]] = field(default_factory=list)  # multi-language components: {urn, type}
    faked: list[dict[str, Any]] = field(default_factory=list)  # invokes answered with made-up values
    reads: list[dict[str, Any]] = field(default_factory=list)  # resources read by id (`Resource.get`)

    def of_type(self, token: str) -> list[dict[str, Any]]:
        """Resources of one type token, e.g. `aws:ec2/subnet:Subnet`."""
        return [r for r in self.resources if r["type"] == token]

    def one(self, token: str, name: str | None = None) -> dict[str, Any]:
        """The single resource of a type (and name, if given)."""
        found = [r for r in self.of_type(token) if name is None or r["name"] == name]
        assert len(found) == 1, f"expected one {token} {name or ''}, found {[r['name'] for r in found]}"
        return found[0]

    def custom(self) -> list[dict[str, Any]]:
        """Cloud resources only (no components, no stack)."""
        return [r for r in self.resources if r["custom"]]


def config_map(settings: dict[str, Any], region: str = "us-east-1") -> dict[str, str]:
    """Settings (the namespace's keys) as the CLI hands them to a program: JSON strings."""
    out = {"aws:region": region}
    for key, value in settings.items():
        out[f"{NAMESPACE}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return out


def stack_settings(stack: str) -> dict[str, Any]:
    """The `private-fargate:*` settings of a shipped stack file, without the prefix; `secure:` values are the
    offline preview's placeholder, as the CLI hands them to the program (see `stack_secret_keys`)."""
    from tools.preview.projectconfig import _strip_secure

    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: _strip_secure(v)[0] for k, v in doc.items() if k.startswith(NAMESPACE + ":")}


def stack_secret_keys(stack: str) -> list[str]:
    """The config keys of a shipped stack file that hold a `secure:` value."""
    from tools.preview.projectconfig import _strip_secure

    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return sorted(k for k, v in doc.items() if _strip_secure(v)[1])


def simulate(build: Callable[[], Any], settings: dict[str, Any] | None = None, *, mode: str = "preview",
             stack: str = "dev", region: str = "us-east-1", secret_keys: Iterable[str] = ()) -> Registered:
    """Run `build` under mocks with the given settings and return what it registered."""
    result = child.simulate(build, project=NAMESPACE, stack=stack, config=config_map(settings or {}, region),
                            secret_keys=list(secret_keys), region=region, mode=mode, project_dir=ROOT)
    return Registered(**result)


def run_main() -> None:
    """Execute this repository's Pulumi program (`__main__.py`)."""
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


def program(settings: dict[str, Any] | None = None, *, mode: str = "preview", stack: str = "dev",
            region: str = "us-east-1", secret_keys: Iterable[str] = ()) -> Registered:
    """The whole program under mocks with these settings: run once per test process, a private copy each call."""
    key = json.dumps([settings or {}, mode, stack, region, sorted(secret_keys)], sort_keys=True)
    return copy.deepcopy(_program(key))


@functools.lru_cache(maxsize=64)
def _program(key: str) -> Registered:
    settings, mode, stack, region, secret_keys = json.loads(key)
    return simulate(run_main, settings, mode=mode, stack=stack, region=region, secret_keys=secret_keys)


def shipped(stack: str, mode: str = "preview") -> Registered:
    """A shipped stack (Pulumi.<stack>.yaml) under mocks, shared like `program`."""
    return program(stack_settings(stack), mode=mode, stack=stack, secret_keys=stack_secret_keys(stack))


@dataclass
class CliResult:
    """Exit status and output of one `python -m tools.preview` run."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, Any]:
        """stdout parsed as the `--json` document."""
        return json.loads(self.stdout)


def preview_cli(*args: str | Path, cwd: Path = ROOT) -> CliResult:
    """Run the preview CLI in a new process, exactly as a user would (runs on the shipped stacks are shared)."""
    argv = tuple(map(str, args))
    if "--project-dir" not in argv and Path(cwd).resolve() == ROOT:
        return copy.deepcopy(_shipped_process(argv))
    return _process(argv, Path(cwd))


@functools.lru_cache(maxsize=8)
def _shipped_process(argv: tuple[str, ...]) -> CliResult:
    return _process(argv, ROOT)


def _process(argv: tuple[str, ...], cwd: Path) -> CliResult:
    proc = subprocess.run([sys.executable, "-m", "tools.preview", *argv], cwd=cwd, capture_output=True, text=True,
                          check=False, timeout=120)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def preview(*args: str | Path, cwd: Path = ROOT) -> CliResult:
    """The preview CLI's main in this process (the program too): its exit status, stdout and stderr.

    The same code as `preview_cli` but for the process boundary, in a fraction of the time. Runs on
    this repository's shipped stacks are shared within a test process (the files do not change).
    """
    argv = tuple(map(str, args))
    if "--project-dir" not in argv and Path(cwd).resolve() == ROOT:
        return copy.deepcopy(_shipped_cli(argv))
    return _preview(argv, Path(cwd))


@functools.lru_cache(maxsize=32)
def _shipped_cli(argv: tuple[str, ...]) -> CliResult:
    return _preview(argv, ROOT)


def _preview(argv: tuple[str, ...], cwd: Path) -> CliResult:
    from tools.preview.__main__ import main

    out, err, before = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv), in_process=True)
    finally:
        os.chdir(before)
    return CliResult(code, out.getvalue(), err.getvalue())


class CachedClients:
    """A boto3 session whose clients are made once per test process (botocore builds each client class anew,
    about a tenth of a second for EC2): moto's mock, started per test, serves clients made before it."""

    def __init__(self, region: str):
        import boto3

        self.region_name = region
        self._session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                      region_name=region)
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region_name: str | None = None, **kwargs: Any) -> Any:
        """The client for a service and region (other keyword arguments make a new one)."""
        if kwargs:
            return self._session.client(service, region_name=region_name or self.region_name, **kwargs)
        key = (service, region_name or self.region_name)
        if key not in self._clients:
            self._clients[key] = self._session.client(service, region_name=key[1])
        return self._clients[key]


def task_definition_problems(td: dict[str, Any]) -> str:
    """What botocore's ECS model says is wrong with a registered task definition as RegisterTaskDefinition input
    ('' when nothing is). Takes a resource of a run or of a preview report (inputs in Pulumi's names)."""
    from botocore.validate import ParamValidator

    i = td["inputs"]
    params = {k: i[k] for k in ("family", "cpu", "memory", "networkMode", "requiresCompatibilities", "volumes",
                                "runtimePlatform", "executionRoleArn", "taskRoleArn") if k in i}
    params["containerDefinitions"] = json.loads(i["containerDefinitions"])
    if "ephemeralStorage" in i:  # Pulumi's sizeInGib is the API's sizeInGiB
        params["ephemeralStorage"] = {"sizeInGiB": i["ephemeralStorage"]["sizeInGib"]}
    if i.get("tags"):
        params["tags"] = [{"key": k, "value": v} for k, v in i["tags"].items()]
    report = ParamValidator().validate(params, _register_task_definition_shape())
    return report.generate_report() if report.has_errors() else ""


@functools.cache
def _register_task_definition_shape() -> Any:
    from botocore.session import get_session

    return get_session().get_service_model("ecs").operation_model("RegisterTaskDefinition").input_shape


@functools.lru_cache(maxsize=4)
def cached_clients(region: str) -> CachedClients:
    """One CachedClients per region and test process."""
    return CachedClients(region)



# --- policies on hand-made resources (the preview report's shape, evaluated by the SDK's analyzer) ----------

ACCOUNT = "123456789012"
IMAGE_URI = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/app:1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/exec"
TASK_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/task"


def urn(token: str, name: str, parent: str | None = None) -> str:
    """A resource URN of stack t, project p (with the parent's type in its qualified type)."""
    qualified = f"{parent}${token}" if parent else token
    return f"urn:pulumi:t::p::{qualified}::{name}"


def res(token: str, name: str, inputs: dict[str, Any] | None = None, outputs: dict[str, Any] | None = None,
        deps: dict[str, list[str]] | None = None, rid: str = UNKNOWN, parent: str | None = None) -> dict[str, Any]:
    """A resource as the preview JSON has it (outputs default to the inputs, as in a first preview);
    `parent` is the parent's URN."""
    inputs = inputs or {}
    parent_type = parent.split("::")[2].rsplit("$", 1)[-1] if parent else None
    return {"urn": urn(token, name, parent_type), "type": token, "name": name, "parent": parent, "custom": True,
            "inputs": inputs, "id": rid, "outputs": dict(outputs if outputs is not None else inputs),
            "propertyDependencies": deps or {}, "dependencies": sorted({u for v in (deps or {}).values() for u in v}),
            "protect": False, "retainOnDelete": False}


def run_policy(policy: str, resources: list[dict[str, Any]], config: dict[str, Any] | None = None,
               also: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Violations of one policy (and `also` others) on these resources, as `pulumi preview` reports them."""
    from policy.policies import POLICIES
    from tools.preview.policies import evaluate

    wanted = {policy, *also}
    return evaluate({"resources": resources}, config, [p for p in POLICIES if p.name in wanted])


def container(**extra: Any) -> dict[str, Any]:
    """A compliant container definition, changed by `extra`."""
    base = {"name": "app", "image": IMAGE_URI, "essential": True, "readonlyRootFilesystem": True, "user": "1000",
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/app",
                                                                     "awslogs-region": "us-east-1",
                                                                     "awslogs-stream-prefix": "app"}}}
    return {**base, **extra}


def task_def(name: str = "td", *containers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A task definition resource holding these containers (default: one compliant container)."""
    return res("aws:ecs/taskDefinition:TaskDefinition", name, {
        "family": name, "containerDefinitions": json.dumps(list(containers) or [container()]),
        "executionRoleArn": ROLE_ARN, "taskRoleArn": TASK_ROLE_ARN, **extra})


def preview_program(directory: Path, source: str, variant: dict[str, Any], mode: str = "preview",
                    policy_config: dict[str, Any] | None = None) -> CliResult:
    """`python -m tools.preview` (in this process) on a one-file program; `variant` is its config object."""
    (directory / "Pulumi.yaml").write_text("name: program\nruntime: python\n")
    (directory / "__main__.py").write_text(source)
    (directory / "Pulumi.t.yaml").write_text(json.dumps({"config": {"aws:region": "us-east-1",
                                                                    "program:variant": variant}}))
    if policy_config is not None:
        (directory / "policy").mkdir(exist_ok=True)
        (directory / "policy" / "config.t.json").write_text(json.dumps(policy_config))
    return preview("--project-dir", directory, "--stack", "t", "--mode", mode, "--json")


#: The start of every bad-program test: imports, the variant `v`, ACCOUNT, doc(statements), trust(service).
PROGRAM_HEAD = '''
import json
import pulumi
import pulumi_aws as aws

v = pulumi.Config().get_object("variant") or {}
ACCOUNT = "123456789012"

def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})

def trust(service):
    return doc({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})
'''

#: The start of a bad-program test about tasks: a compliant private network (no route out, the endpoints private tasks
#: need), a log group, execution and task roles, a task definition and a cluster, in the shape of
#: pulumi/examples aws-py-fargate made private. Names for what follows: v (the variant), vpc, subnet,
#: table, tasks_sg, execution, task, definition, cluster, trust(service), doc(statements).
PRIVATE_BASE = PROGRAM_HEAD + '''
vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", enable_dns_support=True, enable_dns_hostnames=True)
subnet = aws.ec2.Subnet("private", vpc_id=vpc.id, cidr_block="10.0.1.0/24", map_public_ip_on_launch=False)
table = aws.ec2.RouteTable("private", vpc_id=vpc.id)
aws.ec2.RouteTableAssociation("private", subnet_id=subnet.id, route_table_id=table.id)
tasks_sg = aws.ec2.SecurityGroup("tasks", vpc_id=vpc.id, description="tasks: HTTPS to the VPC endpoints",
    egress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["10.0.0.0/16"],
             "description": "VPC endpoints"}])
endpoint_sg = aws.ec2.SecurityGroup("endpoints", vpc_id=vpc.id, description="endpoints: HTTPS from the VPC",
    ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["10.0.0.0/16"],
              "description": "from the VPC"}])
if not v.get("no_endpoints"):
    for short in ["ecr.api", "ecr.dkr", "logs"]:
        aws.ec2.VpcEndpoint(short.replace(".", "-"), vpc_id=vpc.id, service_name=f"com.amazonaws.us-east-1.{short}",
                            vpc_endpoint_type="Interface", private_dns_enabled=True, subnet_ids=[subnet.id],
                            security_group_ids=[endpoint_sg.id])
    aws.ec2.VpcEndpoint("s3", vpc_id=vpc.id, service_name="com.amazonaws.us-east-1.s3", vpc_endpoint_type="Gateway",
                        route_table_ids=[table.id])
aws.cloudwatch.LogGroup("app", name="/ecs/app", retention_in_days=30)
execution = aws.iam.Role("execution", assume_role_policy=trust("ecs-tasks.amazonaws.com"))
aws.iam.RolePolicyAttachment("execution", role=execution.name,
    policy_arn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
task = aws.iam.Role("task", assume_role_policy=trust("ecs-tasks.amazonaws.com"))
APP = {"name": "app", "image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/app:1", "essential": True,
       "readonlyRootFilesystem": True, "user": "1000",
       "logConfiguration": {"logDriver": "awslogs", "options": {
           "awslogs-group": "/ecs/app", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "app"}}}

def task_definition(name, *containers):
    return aws.ecs.TaskDefinition(name, family=name, cpu="256", memory="512", network_mode="awsvpc",
                                  requires_compatibilities=["FARGATE"], execution_role_arn=execution.arn,
                                  task_role_arn=task.arn, container_definitions=json.dumps(list(containers)))

definition = task_definition("app", APP)
cluster = aws.ecs.Cluster("cluster", settings=[{"name": "containerInsights", "value": "enabled"}])
'''
