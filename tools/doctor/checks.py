"""The doctor's network checks, and what all its checks share (Finding, Deployed: describe calls made once).

What a private task needs from the network, compared with what is deployed. Each check yields
Findings (ok / warn / FAIL, what was seen, what to change). The AWS facts they rely on, with their
sources, are in the README's troubleshooting section: interface endpoints for ecr.api, ecr.dkr and
logs with private DNS, secretsmanager/ssm for secrets, ssmmessages for ECS Exec, an S3 gateway
endpoint on the tasks' route tables whose policy admits ECR's layer bucket, endpoint security
groups admitting 443 from the tasks.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from tools.aws import Workload

#: Endpoint states that will not carry traffic (AWS also shows deleted endpoints for a while).
_GONE = ("deleted", "deleting", "rejected", "failed", "expired")
ECR_HOST = ".dkr.ecr."


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report."""

    status: str  # ok | warn | fail
    check: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        """`ok    check: detail` (and ` -> fix`)."""
        label = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}[self.status]
        return f"  {label}  {self.check}: {self.detail}" + (f" -> {self.fix}" if self.fix else "")


def ok(check: str, detail: str) -> Finding:
    return Finding("ok", check, detail)


def warn(check: str, detail: str, fix: str = "") -> Finding:
    return Finding("warn", check, detail, fix)


def fail(check: str, detail: str, fix: str) -> Finding:
    return Finding("fail", check, detail, fix)


def secret_arns(task_definition: dict[str, Any]) -> list[str]:
    """The secret ARNs every container of a task definition reads, in order, once each."""
    arns = [s["valueFrom"] for c in task_definition.get("containerDefinitions", []) for s in c.get("secrets") or []]
    return list(dict.fromkeys(arns))


def needed_endpoints(workload: Workload, task_definition: dict[str, Any]) -> list[str]:
    """Interface endpoints this workload's tasks need: pull, logs, the secrets' services, exec."""
    needed = ["ecr.api", "ecr.dkr", "logs"]
    for arn in secret_arns(task_definition):
        needed.append("secretsmanager" if ":secretsmanager:" in arn else "ssm")
    if workload.get("exec", False):
        needed.append("ssmmessages")
    return list(dict.fromkeys(needed))


def split_image(uri: str) -> tuple[str, str, dict[str, str]]:
    """`registry/repo:tag` or `registry/repo@sha256:...` as (registry, repository, ECR imageId); no tag is latest."""
    registry, _, path = uri.partition("/")
    if "@" in path:
        repo, digest = path.split("@", 1)
        return registry, repo, {"imageDigest": digest}
    repo, _, tag = path.partition(":")
    return registry, repo, {"imageTag": tag or "latest"}


def layer_bucket(region: str) -> str:
    """The S3 bucket ECR serves image layers from in a region."""
    return f"prod-{region}-starport-layer-bucket"


class Deployed:
    """What the stack's network looks like now: every describe call once, shared by all workloads."""

    def __init__(self, session: Any, outputs: dict[str, Any], region: str):
        self.outputs = outputs
        self.region = region
        self.partition = outputs["clusterArn"].split(":")[1]
        self.ec2 = session.client("ec2", region_name=region)
        self.ecs = session.client("ecs", region_name=region)
        self.ecr = session.client("ecr", region_name=region)
        self.iam = session.client("iam", region_name=region)
        self.logs = session.client("logs", region_name=region)
        self.session = session
        self._task_definitions: dict[str, dict[str, Any]] = {}

    def service_name(self, short: str) -> str:
        return f"com.amazonaws.{self.region}.{short}"

    @cached_property
    def endpoints(self) -> list[dict[str, Any]]:
        pages = self.ec2.get_paginator("describe_vpc_endpoints").paginate(
            Filters=[{"Name": "vpc-id", "Values": [self.outputs["vpcId"]]}])
        return [e for page in pages for e in page.get("VpcEndpoints", [])]

    def endpoint(self, short: str, kind: str) -> dict[str, Any] | None:
        """The endpoint for a service in the VPC: a live one first (the outputs' id before others), else a gone one."""
        found = [e for e in self.endpoints if e.get("ServiceName") == self.service_name(short)
                 and e.get("VpcEndpointType", "").lower() == kind]
        wanted = (self.outputs.get("vpcEndpoints") or {}).get(short)
        found.sort(key=lambda e: (e.get("State", "").lower() in _GONE, e.get("VpcEndpointId") != wanted))
        return found[0] if found else None

    @cached_property
    def subnets(self) -> dict[str, dict[str, Any]]:
        found = self.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [self.outputs["vpcId"]]}])["Subnets"]
        return {s["SubnetId"]: s for s in found}

    @cached_property
    def route_tables(self) -> list[dict[str, Any]]:
        return self.ec2.describe_route_tables(
            Filters=[{"Name": "vpc-id", "Values": [self.outputs["vpcId"]]}])["RouteTables"]

    def route_table_of(self, subnet_id: str) -> dict[str, Any] | None:
        """The subnet's explicitly associated route table, else the VPC's main one."""
        main = None
        for table in self.route_tables:
            for assoc in table.get("Associations", []):
                if assoc.get("SubnetId") == subnet_id:
                    return table
                if assoc.get("Main"):
                    main = table
        return main

    def groups(self, ids: list[str]) -> list[dict[str, Any]]:
        ids = [i for i in ids if i]
        return self.ec2.describe_security_groups(GroupIds=ids)["SecurityGroups"] if ids else []

    @cached_property
    def s3_prefix_list(self) -> str | None:
        lists = self.ec2.describe_prefix_lists(
            Filters=[{"Name": "prefix-list-name", "Values": [self.service_name("s3")]}]).get("PrefixLists", [])
        return lists[0]["PrefixListId"] if lists else None

    def task_definition(self, arn: str) -> dict[str, Any]:
        if arn not in self._task_definitions:
            self._task_definitions[arn] = self.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        return self._task_definitions[arn]

    def allowed(self, role_arn: str, action: str, resource: str) -> bool | None:
        """Whether IAM's policy simulator allows the role an action on a resource; None when it cannot tell."""
        from botocore.exceptions import ClientError

        try:
            results = self.iam.simulate_principal_policy(PolicySourceArn=role_arn, ActionNames=[action],
                                                         ResourceArns=[resource])["EvaluationResults"]
        except ClientError:
            return None
        return bool(results) and all(r.get("EvalDecision") == "allowed" for r in results)


def _admits(rules: list[dict[str, Any]], port: int, group_ids: set[str], cidrs: list[str],
            prefix_list: str | None = None) -> bool:
    """Whether permissions (IpPermissions or IpPermissionsEgress) open tcp `port` to any of these peers."""
    nets = [ipaddress.ip_network(c) for c in cidrs if c]
    for rule in rules:
        proto = rule.get("IpProtocol")
        if proto not in ("-1", "tcp", "6"):
            continue
        if proto != "-1" and not (rule.get("FromPort", 0) <= port <= rule.get("ToPort", 65535)):
            continue
        if any(p.get("GroupId") in group_ids for p in rule.get("UserIdGroupPairs", [])):
            return True
        if prefix_list and any(p.get("PrefixListId") == prefix_list for p in rule.get("PrefixListIds", [])):
            return True
        for r in rule.get("IpRanges", []):
            block = ipaddress.ip_network(r["CidrIp"])
            same = [n for n in nets if n.version == block.version]
            if same and all(n.subnet_of(block) for n in same):  # type: ignore[arg-type]
                return True
    return False


def check_network(d: Deployed, w: Workload) -> Iterator[Finding]:
    """Each interface endpoint the workload needs, then the S3 gateway."""
    td = d.task_definition(w.entry["taskDefinitionArn"])
    task_subnets = [d.subnets[s] for s in w.get("subnetIds", []) if s in d.subnets]
    task_group = w.entry["securityGroupId"]
    (group,) = d.groups([task_group]) or [{}]
    internet = any(_default_route(d.route_table_of(s["SubnetId"])) for s in task_subnets)
    for short in needed_endpoints(w, td):
        yield from _interface(d, short, task_subnets, group, internet)
    yield from _gateway(d, task_subnets, group, internet)


def _default_route(table: dict[str, Any] | None) -> bool:
    return any(r.get("DestinationCidrBlock") == "0.0.0.0/0" and (r.get("NatGatewayId") or
               str(r.get("GatewayId", "")).startswith("igw-")) for r in (table or {}).get("Routes", []))


def _interface(d: Deployed, short: str, task_subnets: list[dict[str, Any]], group: dict[str, Any],
               internet: bool) -> Iterator[Finding]:
    check = f"endpoint {short}"
    endpoint = d.endpoint(short, "interface")
    state = (endpoint or {}).get("State", "").lower()
    if endpoint is None or state in _GONE:
        what = f"{endpoint['VpcEndpointId']} is {state}" if endpoint else \
            f"none for {d.service_name(short)} in {d.outputs['vpcId']}"
        if internet:
            yield warn(check, what + "; the task subnets route to the internet, so calls go that way")
        else:
            yield fail(check, what, "run `pulumi up`: the stack creates it (`pulumi refresh` first if Pulumi "
                                    "still thinks it exists)")
        return
    eid = endpoint["VpcEndpointId"]
    if state != "available":
        yield warn(check, f"{eid} is {state}, not available yet", "wait a few minutes and run again")
        return
    if not endpoint.get("PrivateDnsEnabled"):
        yield fail(check, f"{eid} has private DNS off: tasks resolve the public name and have no route there",
                   f"turn it on (`aws ec2 modify-vpc-endpoint --vpc-endpoint-id {eid} --private-dns-enabled`, "
                   "or `pulumi up`); the VPC needs DNS support and DNS hostnames on")
        return
    ep_subnets = [d.subnets[s] for s in endpoint.get("SubnetIds", []) if s in d.subnets]
    groups = d.groups([g["GroupId"] for g in endpoint.get("Groups", [])])
    ingress = [r for g in groups for r in g.get("IpPermissions", [])]
    if not _admits(ingress, 443, {group.get("GroupId", "")}, [s["CidrBlock"] for s in task_subnets]):
        names = ", ".join(g["GroupId"] for g in groups) or "no group"
        yield fail(check, f"{eid}'s security groups ({names}) admit 443 neither from the tasks' group "
                          f"{group.get('GroupId')} nor from their subnets",
                   "add an ingress rule for tcp 443 from the VPC CIDR or the tasks' group (`pulumi up` restores "
                   "the stack's rule)")
        return
    if not _admits(group.get("IpPermissionsEgress", []), 443, {g["GroupId"] for g in groups},
                   [s["CidrBlock"] for s in ep_subnets]):
        yield fail(check, f"the tasks' group {group.get('GroupId')} has no egress on 443 to {eid}",
                   "add an egress rule for tcp 443 to the VPC CIDR (`pulumi up` restores the stack's rule)")
        return
    zones = sorted({s["AvailabilityZone"] for s in ep_subnets})
    missing = sorted({s["AvailabilityZone"] for s in task_subnets} - set(zones))
    detail = f"{eid} available, private DNS on, admits 443 from the tasks, in {', '.join(zones) or 'no subnet'}"
    if missing:
        yield warn(check, f"{detail} only: tasks in {', '.join(missing)} cross AZs",
                   "fine for dev; in production set network.endpointAzCount to azCount (an AZ outage cuts them off)")
    else:
        yield ok(check, detail)


def _gateway(d: Deployed, task_subnets: list[dict[str, Any]], group: dict[str, Any],
             internet: bool) -> Iterator[Finding]:
    check = "endpoint s3 (gateway)"
    endpoint = d.endpoint("s3", "gateway")
    state = (endpoint or {}).get("State", "").lower()
    if endpoint is None or state in _GONE:
        what = f"{endpoint['VpcEndpointId']} is {state}" if endpoint else f"none in {d.outputs['vpcId']}"
        if internet:
            yield warn(check, what + "; image layers download through the internet route instead")
        else:
            yield fail(check, what + ": image layers cannot download (CannotPullContainerError)",
                       "run `pulumi up`: the stack creates it")
        return
    eid = endpoint["VpcEndpointId"]
    for subnet in task_subnets:
        table = d.route_table_of(subnet["SubnetId"])
        table_id = (table or {}).get("RouteTableId", "none")
        if table_id not in endpoint.get("RouteTableIds", []):
            yield fail(check, f"{eid} is not on {table_id}, the route table of the task subnet {subnet['SubnetId']}: "
                              "image layers cannot download (CannotPullContainerError)",
                       f"associate {eid} with {table_id} (`pulumi up` restores it)")
            return
    bucket = layer_bucket(d.region)
    resource = f"arn:{d.partition}:s3:::{bucket}/layer"
    verdict = policy_allows(endpoint.get("PolicyDocument"), "s3:GetObject", resource)
    if verdict is False:
        yield fail(check, f"{eid}'s policy does not allow s3:GetObject on arn:{d.partition}:s3:::{bucket}/*, "
                          "where ECR keeps image layers",
                   "allow it (network.s3EndpointPolicy: restricted includes it; `pulumi up` restores the policy)")
        return
    if not _admits(group.get("IpPermissionsEgress", []), 443, set(), ["0.0.0.0/0"], d.s3_prefix_list):
        yield fail(check, f"the tasks' group {group.get('GroupId')} has no egress on 443 to the S3 prefix list "
                          f"{d.s3_prefix_list}", "add that egress rule (`pulumi up` restores the stack's rule)")
        return
    note = "" if verdict else " (its policy has conditions: not verified)"
    yield ok(check, f"{eid} on every task route table, policy admits {bucket}{note}")


def policy_allows(document: str | None, action: str, resource: str) -> bool | None:
    """Whether an endpoint policy allows anyone an action on a resource: True, False, or None (conditions)."""
    if not document:
        return True  # no policy: AWS's default endpoint policy allows everything
    try:
        statements = json.loads(document).get("Statement", [])
    except ValueError:
        return None
    statements = statements if isinstance(statements, list) else [statements]

    def matches(stmt: dict[str, Any]) -> bool:
        actions = stmt.get("Action", [])
        resources = stmt.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        return any(fnmatch.fnmatch(action.lower(), a.lower()) for a in actions) and \
            any(fnmatch.fnmatch(resource, r) for r in resources)

    if any(s.get("Effect") == "Deny" and matches(s) for s in statements):
        return False
    allows = [s for s in statements if s.get("Effect") == "Allow" and matches(s)]
    if not allows:
        return False
    return True if any(not s.get("Condition") for s in allows) else None
