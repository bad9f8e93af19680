"""The monthly cost of what a preview report registers, itemised, in the stack's region.

EFS storage (`cost.efsStorageGb`) and the private DNS namespace's hosted zone are priced too.
Prices come from tools/data/prices.json (one entry per region, with the date they were taken and
their source); a region without prices is said to be unpriced rather than guessed. Usage that
resources cannot tell (GB through endpoints, logs, image storage) comes from the `cost` settings.
Jobs run through Step Functions: each run's state transitions are counted from the state
machine's definition. Workers are priced from assumptions (messages a month, task seconds per
message): busy task time and SQS requests. Free tiers (Step Functions' 4,000 transitions, SQS's
million requests) are not deducted. What is not included: data transfer between AZs and to the
internet, S3 requests and storage, Secrets Manager secrets and KMS requests, Container Insights
metrics, Scheduler invocations beyond the free tier, Cloud Map instance registrations, and LCUs
above the one-LCU minimum per load balancer. Every AWS resource the estimate
neither prices nor knows to be free of charge is named in `unpriced` (with why), as is every
multi-language component, whose resources are not known offline: nothing is silently counted as $0.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.context import StackContext
from components.naming import physical_name
from components.state_machine import example_definition, transitions_per_run
from settings.schedules import parse_schedule, runs_per_month
from tools.preview.multilang import CREATES

PRICES = json.loads((Path(__file__).resolve().parent / "data" / "prices.json").read_text())
UNKNOWN = "<unknown>"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
#: SQS requests per message a worker handles (send, receive, delete), and the empty receives of a running
#: task that long-polls 20 s at a time (the sample app's worker mode) per task-hour.
SQS_REQUESTS_PER_MESSAGE = 3
SQS_POLLS_PER_TASK_HOUR = 180


def known_regions() -> list[str]:
    """Regions the price file covers."""
    return sorted(PRICES["regions"])


@dataclass
class Item:
    """One line of the estimate."""

    item: str
    quantity: float
    unit: str
    unit_price: float

    def as_dict(self) -> dict[str, Any]:
        """The `cost.items[]` entry."""
        return {"item": self.item, "quantity": round(self.quantity, 4), "unit": self.unit,
                "unitPrice": self.unit_price, "monthly": round(self.quantity * self.unit_price, 2)}


def _of_type(report: dict[str, Any], token: str) -> list[dict[str, Any]]:
    return [r for r in report["resources"] if r["type"] == token]


def _task_definition(report: dict[str, Any], resource: dict[str, Any], prop: str) -> dict[str, Any] | None:
    urns = set(resource["propertyDependencies"].get(prop, []))
    arn = resource["inputs"].get(prop) if prop == "taskDefinition" else None
    for td in _of_type(report, "aws:ecs/taskDefinition:TaskDefinition"):
        if td["urn"] in urns or (arn and arn != UNKNOWN and td["outputs"].get("arn") == arn):
            return td
    return None


def on_demand_share(strategy: list[dict[str, Any]], tasks: float) -> float:
    """The fraction of `tasks` that run on FARGATE (the rest on FARGATE_SPOT), as ECS places them."""
    if not strategy:
        return 1.0
    tasks = max(tasks, 0.0)
    counts: Counter[str] = Counter()
    placed = 0.0
    for s in strategy:
        take = min(float(s.get("base") or 0), tasks - placed)
        counts[s["capacityProvider"]] += take
        placed += take
    weights = sum(float(s.get("weight") or 0) for s in strategy)
    for s in strategy:
        if weights:
            counts[s["capacityProvider"]] += (tasks - placed) * float(s.get("weight") or 0) / weights
    total = sum(counts.values())
    return counts["FARGATE"] / total if total else 1.0


def task_hour_price(prices: dict[str, Any], td: dict[str, Any], on_demand: float) -> tuple[float, str]:
    """Price of one task-hour of a task definition, blended over on-demand and spot; and a size label."""
    inputs = td["inputs"]
    arch = (inputs.get("runtimePlatform") or {}).get("cpuArchitecture", "X86_64")
    rate = prices["fargate"][arch if arch in prices["fargate"] else "X86_64"]
    vcpu, gb = int(inputs.get("cpu", 256)) / 1024, int(inputs.get("memory", 512)) / 1024
    full = vcpu * rate["vcpuHour"] + gb * rate["gbHour"]
    spot = full * (1 - prices["fargate"]["spotDiscount"])
    mix = "on-demand" if on_demand >= 1 else "spot" if on_demand <= 0 else f"{on_demand:.0%} on-demand"
    return full * on_demand + spot * (1 - on_demand), f"{vcpu:g} vCPU / {gb:g} GB {arch}, {mix}"


def _network_items(report: dict[str, Any], prices: dict[str, Any], hours: float, data_gb: float) -> list[Item]:
    items = []
    interface = [e for e in _of_type(report, "aws:ec2/vpcEndpoint:VpcEndpoint")
                 if e["inputs"].get("vpcEndpointType", "Gateway") == "Interface"]  # AWS's default is Gateway
    for endpoint in interface:
        azs = max(len(endpoint["inputs"].get("subnetIds") or []), 1)
        short = str(endpoint["inputs"].get("serviceName", "")).split(".", 3)[-1]
        items.append(Item(f"interface endpoint {short} ({azs} AZ)", azs * hours, "AZ-hour",
                          prices["interfaceEndpoint"]["azHour"]))
    if interface and data_gb:
        items.append(Item("data through interface endpoints", data_gb, "GB", prices["interfaceEndpoint"]["perGb"]))
    nats = _of_type(report, "aws:ec2/natGateway:NatGateway")
    if nats:
        items.append(Item(f"NAT gateway ({len(nats)})", len(nats) * hours, "hour", prices["natGateway"]["hour"]))
        if not interface and data_gb:
            items.append(Item("data through NAT gateways", data_gb, "GB", prices["natGateway"]["perGb"]))
    public_ips = len(_of_type(report, "aws:ec2/eip:Eip"))
    for lb in _load_balancers(report):
        kind = lb["inputs"].get("loadBalancerType") or "application"
        if kind not in _LB_PRICES:
            continue
        if lb["inputs"].get("internal") is not True:
            public_ips += len(lb["inputs"].get("subnets") or lb["inputs"].get("subnetMappings") or [])
        label, key, unit = _LB_PRICES[kind]
        name = lb["inputs"].get("name", lb["name"])
        items.append(Item(f"{label} {name}", hours, "hour", prices[key]["hour"]))
        items.append(Item(f"{label} {name} (1 {unit} minimum)", hours, f"{unit}-hour",
                          prices[key][f"{unit.lower()}Hour"]))
    if public_ips:
        items.append(Item(f"public IPv4 addresses ({public_ips})", public_ips * hours, "hour",
                          prices["publicIpv4"]["hour"]))
    return items


_LB_TYPES = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
#: loadBalancerType -> (label, price key, capacity unit); gateway load balancers are not priced.
_LB_PRICES = {"application": ("load balancer", "alb", "LCU"), "network": ("network load balancer", "nlb", "NLCU")}


def _load_balancers(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in report["resources"] if r["type"] in _LB_TYPES]


def _compute_items(report: dict[str, Any], prices: dict[str, Any], hours: float,
                   expected_minutes: dict[str, JobAssumption], workers: set[str] = frozenset()) -> list[Item]:
    items = []
    for svc in _of_type(report, "aws:ecs/service:Service"):
        td = _task_definition(report, svc, "taskDefinition")
        if td is None or svc["inputs"].get("name") in workers:
            continue
        tasks = float(svc["inputs"].get("desiredCount", 1))
        strategy = svc["inputs"].get("capacityProviderStrategies") or []
        price, label = task_hour_price(prices, td, on_demand_share(strategy, tasks))
        if uses_service_connect(svc) and str(td["inputs"].get("cpu")) == "256":
            label += f", shared with the Service Connect proxy ({SERVICE_CONNECT_PROXY})"
        items.append(Item(f"service {svc['inputs'].get('name', svc['name'])}: {tasks:g} x {label}, all month",
                          tasks * hours, "task-hour", round(price, 6)))
    for schedule in _of_type(report, "aws:scheduler/schedule:Schedule"):
        items += _job_items(report, prices, hours, schedule, expected_minutes)
    return items


def _deps(report: dict[str, Any], resource: dict[str, Any], prop: str, token: str) -> list[dict[str, Any]]:
    urns = set(resource["propertyDependencies"].get(prop, []))
    return [r for r in _of_type(report, token) if r["urn"] in urns]


def _run_task_strategy(definition: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The capacity strategy of a definition's first ecs:runTask state, in the ECS API's camelCase."""
    for state in _all_states(definition):
        if ":states:::ecs:runTask" in str(state.get("Resource", "")):
            given = (state.get("Parameters") or {}).get("CapacityProviderStrategy") or []
            return [{"capacityProvider": s.get("CapacityProvider"), "weight": s.get("Weight", 0),
                     "base": s.get("Base", 0)} for s in given]
    return None


def _all_states(definition: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for state in (definition.get("States") or {}).values():
        out.append(state)
        for branch in state.get("Branches") or []:
            out += _all_states(branch)
    return out


def _job_items(report: dict[str, Any], prices: dict[str, Any], hours: float, schedule: dict[str, Any],
               jobs: dict[str, JobAssumption]) -> list[Item]:
    """A schedule's runs: Fargate time, and the state transitions when it starts a state machine."""
    expression = schedule["inputs"].get("scheduleExpression")
    if not isinstance(expression, str):
        return []
    runs = runs_per_month(parse_schedule(expression), hours)
    machines = _deps(report, schedule, "target", STATE_MACHINE)
    definition: dict[str, Any] | None = None
    if machines:
        td = _task_definition(report, machines[0], "definition")
        raw = machines[0]["inputs"].get("definition")
        definition = json.loads(raw) if isinstance(raw, str) and raw != UNKNOWN else None
    else:
        td = _task_definition(report, schedule, "target")
    if td is None:
        return []
    job = jobs.get(td["inputs"].get("family", ""), JobAssumption())
    strategy = ((_run_task_strategy(definition) if definition else None) or job.strategy if machines else
                ((schedule["inputs"].get("target") or {}).get("ecsParameters") or {}).get("capacityProviderStrategies"))
    price, label = task_hour_price(prices, td, on_demand_share(strategy or [], 1))
    family = td["inputs"].get("family")
    items = [Item(f"job {family}: {runs:.4g} runs x {job.minutes:g} min, {label}", runs * max(job.minutes, 1) / 60,
                  "task-hour", round(price, 6))]
    if machines:
        # A first preview does not know the definition (it names subnet ids): the same shape with placeholders.
        per_run = transitions_per_run(definition or example_definition(StackContext("p", "s", "us-east-1", "0")))
        items.append(Item(f"job {family}: state transitions ({per_run} a successful run)", runs * per_run / 1000,
                          "1000 transitions", prices["stepFunctions"]["perThousandTransitions"]))
    return items


def _worker_items(report: dict[str, Any], prices: dict[str, Any], hours: float, workers: set[str],
                  assumptions: dict[str, Any]) -> list[Item]:
    """Each worker: its tasks (at least `min` all month, else the assumed busy time) and its SQS requests."""
    items = []
    messages = float(assumptions.get("workerMessagesPerMonth", 100_000))
    busy = messages * float(assumptions.get("workerSecondsPerMessage", 1)) / 3600
    for svc in _of_type(report, "aws:ecs/service:Service"):
        name = svc["inputs"].get("name")
        td = _task_definition(report, svc, "taskDefinition")
        if name not in workers or td is None:
            continue
        floor = float(svc["inputs"].get("desiredCount", 0)) * hours
        task_hours = max(floor, busy)
        strategy = svc["inputs"].get("capacityProviderStrategies") or []
        price, label = task_hour_price(prices, td, on_demand_share(strategy, 1))
        seconds = float(assumptions.get("workerSecondsPerMessage", 1))
        items.append(Item(f"worker {name}: {messages:g} messages x {seconds:g} s, {label}", task_hours, "task-hour",
                          round(price, 6)))
        requests = messages * SQS_REQUESTS_PER_MESSAGE + task_hours * SQS_POLLS_PER_TASK_HOUR
        items.append(Item(f"worker {name}: SQS requests", requests / 1e6, "million requests",
                          prices["sqs"]["perMillionRequests"]))
    return items
    return items


#: AWS's sizing advice for the proxy Service Connect adds to each task (service-connect-concepts-deploy.html).
SERVICE_CONNECT_PROXY = "AWS recommends 256 more CPU units and 64 MiB for it"
#: What keeps S3 storage from growing unseen (components/storage.py), said with the estimate that leaves S3 out.
S3_LIFECYCLE = ("S3 storage is not priced; every stack bucket deletes abandoned multipart uploads after 7 days and "
                "a versioned one old versions after outputBucket.noncurrentVersionExpiryDays (30)")


def uses_service_connect(service: dict[str, Any]) -> bool:
    """True when an ECS service joins Service Connect (a proxy runs in each of its tasks)."""
    config = service["inputs"].get("serviceConnectConfiguration")
    return isinstance(config, dict) and config.get("enabled") is True


def _usage_items(report: dict[str, Any], prices: dict[str, Any], assumptions: dict[str, Any]) -> list[Item]:
    items = []
    keys = len(_of_type(report, "aws:kms/key:Key"))
    if keys:
        items.append(Item(f"KMS keys ({keys})", keys, "key-month", prices["kms"]["keyMonth"]))
    if _of_type(report, "aws:cloudwatch/logGroup:LogGroup"):
        items.append(Item("log ingestion", float(assumptions.get("logIngestGbPerMonth", 1)), "GB",
                          prices["logs"]["ingestPerGb"]))
    if _of_type(report, "aws:ecr/repository:Repository"):
        items.append(Item("ECR image storage", float(assumptions.get("imageStorageGb", 1)), "GB-month",
                          prices["ecr"]["storagePerGbMonth"]))
    items += _image_step_items(report, prices, float(assumptions.get("upstreamImageGb", 0.5)))
    alarms = _of_type(report, "aws:cloudwatch/metricAlarm:MetricAlarm")
    if alarms:
        # Billed per alarm metric ("Per Alarm Metric Month" on the bill): a metric-math alarm per metric it reads.
        metrics = sum(max(1, len([q for q in a["inputs"].get("metricQueries") or [] if "metric" in q]))
                      for a in alarms)
        items.append(Item(f"CloudWatch alarms ({len(alarms)}, {metrics} alarm metrics)", metrics, "alarm-metric-month",
                          prices["cloudwatch"]["alarmMonth"]))
    emails = len([s for s in _of_type(report, "aws:sns/topicSubscription:TopicSubscription")
                  if s["inputs"].get("protocol") == "email"])
    if _of_type(report, "aws:sns/topic:Topic") or emails:
        # SNS: the first million publishes and 1,000 emails a month are free; alerts stay far below.
        items.append(Item(f"SNS alerts ({emails} email subscription(s), within the free tier)", 1, "topic-month",
                          0.0))
    return items


#: The deploy-time image steps (components/image_steps.py) and what each stores in ECR.
IMAGE_STEPS = {"pulumi-python:dynamic/images:CacheWarm": "cached", "pulumi-python:dynamic/images:ImageMirror":
               "mirrored"}


def _image_step_items(report: dict[str, Any], prices: dict[str, Any], gb_per_image: float) -> list[Item]:
    """ECR storage of the images warmed into the cache or copied at deploy. Pushing into ECR and the cache's
    fetch from upstream are free (data into AWS); pulls in the region cost only the endpoint data."""
    items = []
    for token, what in IMAGE_STEPS.items():
        steps = _of_type(report, token)
        if steps:
            items.append(Item(f"ECR storage: {len(steps)} image(s) {what} at deploy", len(steps) * gb_per_image,
                              "GB-month", prices["ecr"]["storagePerGbMonth"]))
    return items


def _storage_items(report: dict[str, Any], prices: dict[str, Any], assumptions: dict[str, Any],
                   unpriced: list[str]) -> list[Item]:
    """EFS storage (and its backups) for `volumes`, and the hosted zone behind the private DNS namespace."""
    items = []
    gb = float(assumptions.get("efsStorageGb", 1))
    for fs in _of_type(report, "aws:efs/fileSystem:FileSystem"):
        efs = prices.get("efs")
        if efs is None:
            unpriced.append(f"EFS storage of {fs['name']} (no EFS price for this region in tools/data/prices.json)")
            continue
        items.append(Item(f"EFS storage ({gb:g} GB assumed, cost.efsStorageGb)", gb, "GB-month",
                          efs["standardGbMonth"]))
        backups = [b for b in _of_type(report, "aws:efs/backupPolicy:BackupPolicy")
                   if (b["inputs"].get("backupPolicy") or {}).get("status") == "ENABLED"]
        if backups:
            items.append(Item("EFS backups (AWS Backup warm storage, the same GB)", gb, "GB-month",
                              efs["backupWarmGbMonth"]))
    zones = len(_of_type(report, "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace"))
    if zones:
        items.append(Item(f"private DNS namespace ({zones} Route 53 hosted zone)", zones, "zone-month",
                          prices["route53"]["hostedZoneMonth"]))
    return items



@dataclass(frozen=True)
class JobAssumption:
    """What the stack's settings say of a job that its resources cannot: run length and, when a first preview
    does not know the state machine's definition yet, its capacity."""

    minutes: float = 10.0
    strategy: tuple[dict[str, Any], ...] = ()


_CAPACITY = {"spot": ({"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0},),
             "on-demand": ({"capacityProvider": "FARGATE", "weight": 1, "base": 0},)}


def expected_job_minutes(report: dict[str, Any], config: dict[str, str]) -> dict[str, JobAssumption]:
    """Task definition family -> the job's `expectedMinutes` and capacity, from the stack's settings."""
    out = {}
    for j in _setting_list(config, "jobs"):
        mix = j.get("capacityMix") or {}
        strategy = _CAPACITY.get(j.get("capacity", "on-demand")) or (
            {"capacityProvider": "FARGATE", "weight": mix.get("onDemandWeight", 1), "base": mix.get("base", 1)},
            {"capacityProvider": "FARGATE_SPOT", "weight": mix.get("spotWeight", 3), "base": 0})
        out[physical_name(report["project"], report["stack"], j["name"], max_len=255)] = JobAssumption(
            float(j.get("expectedMinutes", 10)), tuple(strategy))
    return out


def _setting_list(config: dict[str, str], key: str) -> list[dict[str, Any]]:
    try:
        items = json.loads(config.get(f"private-fargate:{key}", "[]"))
    except ValueError:
        return []
    return [i for i in items if isinstance(i, dict) and "name" in i] if isinstance(items, list) else []


#: Items whose cost the choice between endpoints and NAT gateways changes.
_EGRESS_ITEMS = ("interface endpoint ", "data through interface endpoints", "NAT gateway (", "data through NAT")


def nat_comparison(report: dict[str, Any], prices: dict[str, Any], hours: float, data_gb: float,
                   items: list[Item]) -> dict[str, Any]:
    """The same workload with a NAT gateway per AZ instead of interface endpoints, and the break-even volume.

    The totals add what both cost alike (tasks, load balancers, EFS, logs...) to each way out.
    """
    rest = sum(i.quantity * i.unit_price for i in items if not i.item.startswith(_EGRESS_ITEMS))
    zones = {s["inputs"].get("availabilityZone") for s in _of_type(report, "aws:ec2/subnet:Subnet")
             if s["inputs"].get("mapPublicIpOnLaunch") is not True and "-public-" not in s["name"]}
    endpoint_items = [i for i in items if i.item.startswith("interface endpoint ")]
    azs = len(zones - {None}) or max([int(i.quantity / hours) for i in endpoint_items] or [1])
    endpoints_fixed = sum(i.quantity * i.unit_price for i in endpoint_items)
    nat_fixed = azs * hours * (prices["natGateway"]["hour"] + prices["publicIpv4"]["hour"])
    per_gb_nat, per_gb_endpoint = prices["natGateway"]["perGb"], prices["interfaceEndpoint"]["perGb"]
    endpoints = endpoints_fixed + data_gb * per_gb_endpoint
    nat = nat_fixed + data_gb * per_gb_nat
    break_even = max((endpoints_fixed - nat_fixed) / (per_gb_nat - per_gb_endpoint), 0.0)
    return {"natGateways": azs, "dataGbPerMonth": data_gb, "endpointsMonthly": round(endpoints, 2),
            "natMonthly": round(nat, 2), "restMonthly": round(rest, 2), "endpointsTotal": round(endpoints + rest, 2),
            "natTotal": round(nat + rest, 2), "breakEvenGbPerMonth": round(break_even, 1),
            "cheaper": "endpoints" if endpoints <= nat else "nat",
            "note": (f"endpoints cost more below {break_even:.0f} GB a month and less above it"
                     if break_even else "endpoints cost less at any volume")}


def estimate(report: dict[str, Any], region: str | None, assumptions: dict[str, Any],
             config: dict[str, str] | None = None, compare: str | None = None,
             opaque: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The `cost` object of the preview JSON (`opaque`: the multi-language components the run registered)."""
    out: dict[str, Any] = {"region": region, "currency": PRICES["currency"], "monthly": 0.0, "items": [],
                           "assumptions": dict(assumptions)}
    prices = PRICES["regions"].get(region or "")
    if prices is None:
        out["unavailable"] = (f"no prices for region {region}; priced regions: {', '.join(known_regions())} "
                              "(add one to tools/data/prices.json)")
        return out
    hours = float(PRICES["hoursPerMonth"])
    data_gb = float(assumptions.get("endpointDataGbPerMonth", 10))
    efs_unpriced: list[str] = []
    workers = {w["name"] for w in _setting_list(config or {}, "workers")}
    items = [*_network_items(report, prices, hours, data_gb),
             *_compute_items(report, prices, hours, expected_job_minutes(report, config or {}), workers),
             *_worker_items(report, prices, hours, workers, assumptions),
             *_usage_items(report, prices, assumptions), *_storage_items(report, prices, assumptions, efs_unpriced)]
    out["items"] = [i.as_dict() for i in items]
    out["unpriced"] = unpriced(report, opaque)
    out["monthly"] = round(sum(i["monthly"] for i in out["items"]), 2)
    out["assumptions"].update({"hoursPerMonth": hours, "pricesTaken": PRICES["taken"],
                               "pricesSource": PRICES["source"]})
    if any(uses_service_connect(s) for s in _of_type(report, "aws:ecs/service:Service")):
        out["assumptions"]["serviceConnectProxy"] = (f"each task of a Service Connect service runs a proxy; "
                                                    f"{SERVICE_CONNECT_PROXY} within the task's size")
    if _of_type(report, "aws:s3/bucket:Bucket") + _of_type(report, "aws:s3/bucketV2:BucketV2"):
        out["assumptions"]["s3Lifecycle"] = S3_LIFECYCLE
    if efs_unpriced:
        out["assumptions"]["unpriced"] = efs_unpriced
    if compare == "nat":
        out["comparison"] = nat_comparison(report, prices, hours, data_gb, items)
    return out


#: Resource types with no charge of their own (or whose charge the items above already count).
_FREE_PREFIXES = ("aws:iam/", "aws:appautoscaling/", "aws:servicediscovery/httpNamespace:", "aws:ecr/",
                  "aws:ecs/", "aws:lb/", "aws:alb/", "aws:vpc/securityGroup", "aws:scheduler/", "aws:s3/bucket",
                  "aws:cloudwatch/event", "aws:cloudwatch/log", "aws:sns/topicSubscription:", "aws:sns/topicPolicy:",
                  "aws:kms/alias:", "aws:acm/", "aws:ssm/parameter:", "aws:lambda/permission:",
                  "aws:efs/mountTarget:", "aws:efs/accessPoint:", "aws:efs/fileSystemPolicy:")
_FREE_EC2 = {"vpc", "subnet", "routeTable", "route", "routeTableAssociation", "mainRouteTableAssociation",
             "internetGateway", "egressOnlyInternetGateway", "securityGroup", "securityGroupRule",
             "defaultSecurityGroup", "defaultVpc", "defaultSubnet", "defaultRouteTable", "defaultNetworkAcl",
             "networkAcl", "networkAclRule", "networkAclAssociation", "vpcEndpointRouteTableAssociation",
             "vpcEndpointSubnetAssociation", "vpcDhcpOptions", "vpcDhcpOptionsAssociation", "flowLog", "keyPair",
             "launchTemplate", "placementGroup", "eip", "natGateway", "vpcEndpoint", "proxyProtocolPolicy"}
#: Charged by what they hold or serve (requests, storage, data), which a plan cannot tell.
_USAGE = {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:s3/bucketObject:BucketObject",
          "aws:s3/bucketObjectv2:BucketObjectv2", "aws:sqs/queue:Queue", "aws:lambda/function:Function",
          "aws:dynamodb/table:Table", "aws:apigateway/restApi:RestApi", "aws:apigatewayv2/api:Api",
          "aws:cloudfront/distribution:Distribution",
          "aws:cloudwatch/eventBus:EventBus", "aws:kinesis/stream:Stream", "aws:appsync/graphQLApi:GraphQLApi",
          # Cloud Map charges per registered instance and per discovery call: tasks come and go
          "aws:servicediscovery/service:Service"}
_PRICED = {"aws:ec2/vpcEndpoint:VpcEndpoint", "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip",
           "aws:ecs/service:Service", "aws:scheduler/schedule:Schedule", "aws:kms/key:Key",
           "aws:cloudwatch/logGroup:LogGroup", "aws:ecr/repository:Repository",
           "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:sns/topic:Topic", "aws:efs/fileSystem:FileSystem",
           "aws:efs/backupPolicy:BackupPolicy", "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace",
           "aws:sfn/stateMachine:StateMachine"}


def _why_unpriced(resource: dict[str, Any]) -> str | None:
    token = resource["type"]
    if token in _LB_TYPES:
        kind = resource["inputs"].get("loadBalancerType") or "application"
        return None if kind in _LB_PRICES else f"no price for {kind} load balancers in tools/data/prices.json"
    if token in _USAGE:
        return "usage-based (requests, storage or data): not estimated"
    if token in _PRICED or token.startswith(_FREE_PREFIXES):
        return None
    if token.startswith("aws:ec2/") and token.split("/")[1].split(":")[0] in _FREE_EC2:
        return None
    if not token.startswith("aws:"):
        return None
    return "no price in tools/data/prices.json"


def unpriced(report: dict[str, Any], opaque: list[dict[str, str]] | None = None) -> list[dict[str, str]]:
    """AWS resources the estimate does not price (and does not know to be free), and multi-language components
    that create some (`opaque`: their `{urn, type}`, from the preview)."""
    components = {o["urn"] for o in opaque or [] if CREATES.get(o["type"]) != ()}
    out = []
    for r in report["resources"]:
        if r.get("custom"):
            why = _why_unpriced(r)
        elif r["urn"] in components:
            why = "multi-language component: what it creates is not known offline"
        else:
            why = None
        if why:
            out.append({"type": r["type"], "name": r["name"], "reason": why})
    return sorted(out, key=lambda u: (u["type"], u["name"]))


def unpriced_note(entries: list[dict[str, str]]) -> str:
    """One note line: what the total leaves out, by type."""
    counts = Counter((e["type"], e["reason"]) for e in entries)
    parts = [f"{n} {token} ({reason})" for (token, reason), n in sorted(counts.items())]
    return "cost: not in the total: " + "; ".join(parts)
