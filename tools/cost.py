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

from collections import Counter
from typing import Any

from tools.cost_runs import JobAssumption, expected_job_minutes, job_items, setting_list, worker_items
from tools.preview.multilang import CREATES
from tools.pricing import PRICES, Item, known_regions, of_type, on_demand_share, task_definition, task_hour_price

__all__ = ["PRICES", "estimate", "known_regions", "on_demand_share", "unpriced", "unpriced_note"]


def _network_items(report: dict[str, Any], prices: dict[str, Any], hours: float, data_gb: float) -> list[Item]:
    items = []
    interface = [e for e in of_type(report, "aws:ec2/vpcEndpoint:VpcEndpoint")
                 if e["inputs"].get("vpcEndpointType", "Gateway") == "Interface"]  # AWS's default is Gateway
    for endpoint in interface:
        azs = max(len(endpoint["inputs"].get("subnetIds") or []), 1)
        short = str(endpoint["inputs"].get("serviceName", "")).split(".", 3)[-1]
        items.append(Item(f"interface endpoint {short} ({azs} AZ)", azs * hours, "AZ-hour",
                          prices["interfaceEndpoint"]["azHour"]))
    if interface and data_gb:
        items.append(Item("data through interface endpoints", data_gb, "GB", prices["interfaceEndpoint"]["perGb"]))
    nats = of_type(report, "aws:ec2/natGateway:NatGateway")
    if nats:
        items.append(Item(f"NAT gateway ({len(nats)})", len(nats) * hours, "hour", prices["natGateway"]["hour"]))
        if not interface and data_gb:
            items.append(Item("data through NAT gateways", data_gb, "GB", prices["natGateway"]["perGb"]))
    public_ips = len(of_type(report, "aws:ec2/eip:Eip"))
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
    for svc in of_type(report, "aws:ecs/service:Service"):
        td = task_definition(report, svc, "taskDefinition")
        if td is None or svc["inputs"].get("name") in workers:
            continue
        tasks = float(svc["inputs"].get("desiredCount", 1))
        strategy = svc["inputs"].get("capacityProviderStrategies") or []
        price, label = task_hour_price(prices, td, on_demand_share(strategy, tasks))
        if uses_service_connect(svc) and str(td["inputs"].get("cpu")) == "256":
            label += f", shared with the Service Connect proxy ({SERVICE_CONNECT_PROXY})"
        items.append(Item(f"service {svc['inputs'].get('name', svc['name'])}: {tasks:g} x {label}, all month",
                          tasks * hours, "task-hour", round(price, 6)))
    for schedule in of_type(report, "aws:scheduler/schedule:Schedule"):
        items += job_items(report, prices, hours, schedule, expected_minutes)
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
    keys = len(of_type(report, "aws:kms/key:Key"))
    if keys:
        items.append(Item(f"KMS keys ({keys})", keys, "key-month", prices["kms"]["keyMonth"]))
    if of_type(report, "aws:cloudwatch/logGroup:LogGroup"):
        items.append(Item("log ingestion", float(assumptions.get("logIngestGbPerMonth", 1)), "GB",
                          prices["logs"]["ingestPerGb"]))
    if of_type(report, "aws:ecr/repository:Repository"):
        items.append(Item("ECR image storage", float(assumptions.get("imageStorageGb", 1)), "GB-month",
                          prices["ecr"]["storagePerGbMonth"]))
    items += _image_step_items(report, prices, float(assumptions.get("upstreamImageGb", 0.5)))
    alarms = of_type(report, "aws:cloudwatch/metricAlarm:MetricAlarm")
    if alarms:
        # Billed per alarm metric ("Per Alarm Metric Month" on the bill): a metric-math alarm per metric it reads.
        metrics = sum(max(1, len([q for q in a["inputs"].get("metricQueries") or [] if "metric" in q]))
                      for a in alarms)
        items.append(Item(f"CloudWatch alarms ({len(alarms)}, {metrics} alarm metrics)", metrics, "alarm-metric-month",
                          prices["cloudwatch"]["alarmMonth"]))
    emails = len([s for s in of_type(report, "aws:sns/topicSubscription:TopicSubscription")
                  if s["inputs"].get("protocol") == "email"])
    if of_type(report, "aws:sns/topic:Topic") or emails:
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
        steps = of_type(report, token)
        if steps:
            items.append(Item(f"ECR storage: {len(steps)} image(s) {what} at deploy", len(steps) * gb_per_image,
                              "GB-month", prices["ecr"]["storagePerGbMonth"]))
    return items


def _storage_items(report: dict[str, Any], prices: dict[str, Any], assumptions: dict[str, Any],
                   unpriced: list[str]) -> list[Item]:
    """EFS storage (and its backups) for `volumes`, and the hosted zone behind the private DNS namespace."""
    items = []
    gb = float(assumptions.get("efsStorageGb", 1))
    for fs in of_type(report, "aws:efs/fileSystem:FileSystem"):
        efs = prices.get("efs")
        if efs is None:
            unpriced.append(f"EFS storage of {fs['name']} (no EFS price for this region in tools/data/prices.json)")
            continue
        items.append(Item(f"EFS storage ({gb:g} GB assumed, cost.efsStorageGb)", gb, "GB-month",
                          efs["standardGbMonth"]))
        backups = [b for b in of_type(report, "aws:efs/backupPolicy:BackupPolicy")
                   if (b["inputs"].get("backupPolicy") or {}).get("status") == "ENABLED"]
        if backups:
            items.append(Item("EFS backups (AWS Backup warm storage, the same GB)", gb, "GB-month",
                              efs["backupWarmGbMonth"]))
    zones = len(of_type(report, "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace"))
    if zones:
        items.append(Item(f"private DNS namespace ({zones} Route 53 hosted zone)", zones, "zone-month",
                          prices["route53"]["hostedZoneMonth"]))
    return items


#: Items whose cost the choice between endpoints and NAT gateways changes.
_EGRESS_ITEMS = ("interface endpoint ", "data through interface endpoints", "NAT gateway (", "data through NAT")


def nat_comparison(report: dict[str, Any], prices: dict[str, Any], hours: float, data_gb: float,
                   items: list[Item]) -> dict[str, Any]:
    """The same workload with a NAT gateway per AZ instead of interface endpoints, and the break-even volume.

    The totals add what both cost alike (tasks, load balancers, EFS, logs...) to each way out.
    """
    rest = sum(i.quantity * i.unit_price for i in items if not i.item.startswith(_EGRESS_ITEMS))
    zones = {s["inputs"].get("availabilityZone") for s in of_type(report, "aws:ec2/subnet:Subnet")
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
    workers = {w["name"] for w in setting_list(config or {}, "workers")}
    items = [*_network_items(report, prices, hours, data_gb),
             *_compute_items(report, prices, hours, expected_job_minutes(report, config or {}), workers),
             *worker_items(report, prices, hours, workers, assumptions),
             *_usage_items(report, prices, assumptions), *_storage_items(report, prices, assumptions, efs_unpriced)]
    out["items"] = [i.as_dict() for i in items]
    out["unpriced"] = unpriced(report, opaque, workers)
    out["monthly"] = round(sum(i["monthly"] for i in out["items"]), 2)
    out["assumptions"].update({"hoursPerMonth": hours, "pricesTaken": PRICES["taken"],
                               "pricesSource": PRICES["source"]})
    if any(uses_service_connect(s) for s in of_type(report, "aws:ecs/service:Service")):
        out["assumptions"]["serviceConnectProxy"] = (f"each task of a Service Connect service runs a proxy; "
                                                    f"{SERVICE_CONNECT_PROXY} within the task's size")
    if of_type(report, "aws:s3/bucket:Bucket") + of_type(report, "aws:s3/bucketV2:BucketV2"):
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
                  "aws:efs/mountTarget:", "aws:efs/accessPoint:", "aws:efs/fileSystemPolicy:",
                  "aws:sqs/queuePolicy:")
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


def unpriced(report: dict[str, Any], opaque: list[dict[str, str]] | None = None,
             workers: frozenset[str] | set[str] = frozenset()) -> list[dict[str, str]]:
    """AWS resources the estimate does not price (and does not know to be free), and multi-language components
    that create some (`opaque`: their `{urn, type}`, from the preview). A worker's queue is priced with the worker."""
    components = {o["urn"] for o in opaque or [] if CREATES.get(o["type"]) != ()}
    worker_queues = {f"worker-{w}-queue" for w in workers}
    out = []
    for r in report["resources"]:
        if r["type"] == "aws:sqs/queue:Queue" and r["name"] in worker_queues:
            continue
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
