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
    """The `private-fargate:*` settings of a shipped stack file, without the prefix."""
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in doc.items() if k.startswith(NAMESPACE + ":")}


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
    return program(stack_settings(stack), mode=mode, stack=stack)


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


@functools.lru_cache(maxsize=4)
def cached_clients(region: str) -> CachedClients:
    """One CachedClients per region and test process."""
    return CachedClients(region)

