"""What AWS would answer, offline: invoke results and the outputs a provider computes.

Loaded by the preview's child process by file path (after its siblings `sdkschema.py` and
`plausible.py`), so it imports nothing from this repository (a previewed project may have packages
named like ours). Invokes whose answer follows from the stack (zones, region, account, partition,
prefix lists, IAM policy documents) are answered exactly; any other invoke gets a result shaped like
its SDK `Get...Result` type with made-up values (`fake_invoke`), which the caller reports as a note.
In `up` mode `computed_outputs` gives every output the provider computes, from the SDK's schema,
deterministically per resource type and name.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from _private_fargate_preview_fakes_db import MODULE_EXTRAS
from _private_fargate_preview_plausible import EC2_MODULES, ID_PREFIXES, Maker, entity_of
from _private_fargate_preview_sdkschema import input_names, invoke_result_class, properties, resource_class

DEFAULT_ACCOUNT = "123456789012"


#: Zone letters of some regions as AWS has them (ap-northeast-1 has no "b"); others get a, b, c.
_ZONE_LETTERS = {"us-east-1": "abcdef", "us-east-2": "abc", "us-west-1": "ac", "us-west-2": "abcd",
                 "eu-west-1": "abc", "eu-central-1": "abc", "ap-northeast-1": "acd", "us-gov-west-1": "abc"}
_COMPASS = {"northeast": "ne", "southeast": "se", "northwest": "nw", "southwest": "sw"}
#: Zone IDs where they are not az1, az2, ... in letter order (they differ per account; these are plausible).
_ZONE_IDS = {"us-west-1": ["usw1-az1", "usw1-az3"], "ap-northeast-1": ["apne1-az4", "apne1-az1", "apne1-az2"]}


class UnansweredInvoke(Exception):
    """A data source the offline preview does not know; the program cannot run offline."""


def partition_of(region: str) -> tuple[str, str]:
    """The partition and DNS suffix of a region."""
    if region.startswith("us-gov-"):
        return "aws-us-gov", "amazonaws.com"
    if region.startswith("cn-"):
        return "aws-cn", "amazonaws.com.cn"
    if region.startswith("us-iso-"):
        return "aws-iso", "c2s.ic.gov"
    if region.startswith("us-isob-"):
        return "aws-iso-b", "sc2s.sgov.gov"
    return "aws", "amazonaws.com"


class Cloud:
    """The pretend account: region, partition and account id the fakes answer with."""

    def __init__(self, region: str, account: str = DEFAULT_ACCOUNT):
        self.region = region
        self.account = account
        self.partition, self.dns_suffix = partition_of(region)

    def zone_names(self) -> list[str]:
        """The region's availability zones, as AWS names them."""
        return [f"{self.region}{c}" for c in _ZONE_LETTERS.get(self.region, "abc")]

    def zone_prefix(self) -> str:
        """AWS's zone-ID prefix: us-east-1 -> use1, ap-northeast-1 -> apne1, us-gov-west-1 -> usgw1."""
        first, *words, number = self.region.split("-")
        return first + "".join(_COMPASS.get(w, w[0]) for w in words) + number

    # -- invokes -----------------------------------------------------------------------------
    def invoke(self, token: str, args: dict[str, Any]) -> Any:
        """The exact result of a data source whose answer follows from the stack (a result, or a result and
        the provider's failures), or UnansweredInvoke."""
        handler = _INVOKES.get(token)
        if handler is None:
            raise UnansweredInvoke(f"the offline preview cannot answer the invoke {token}")
        return handler(self, args)

    def fake_invoke(self, token: str, args: dict[str, Any], given: dict[str, Any] | None = None) -> dict[str, Any]:
        """A result shaped like the invoke's SDK result type: `given` values (an --invokes answer), the
        call's own arguments where the result echoes them, made-up values for the rest."""
        cls = invoke_result_class(token)
        if cls is None:
            raise UnansweredInvoke(f"the offline preview cannot answer the invoke {token} (no result type for it "
                                   "in the installed SDKs)")
        seed = f"{token}::{json.dumps(args, sort_keys=True, default=str)}"
        function = token.rsplit(":", 1)[-1]
        entity = entity_of(function[3:] if function.startswith("get") else function, ("Ids",))
        module = token.split(":")[1].split("/")[0]
        name = args.get("name") if isinstance(args.get("name"), str) else None
        maker = Maker(self, seed, module, entity, name or f"{entity.lower()}-{_digest(seed)[:7]}", "")
        maker.rid = _plural_id(self, entity, args) or args.get("id") or maker.an_id(entity, "id")
        echo = {p.name: _coerced(args[p.name], p.hint) for p in properties(cls) if p.name in args}
        return maker.object(cls, {**echo, **(given or {})}, token, computed=True)

    def _azs(self, args: dict[str, Any]) -> dict[str, Any]:
        names = self.zone_names()
        ids = _ZONE_IDS.get(self.region) or [f"{self.zone_prefix()}-az{i + 1}" for i in range(len(names))]
        return {"names": names, "zoneIds": ids,
                "id": self.region, "groupNames": [self.region] * len(names),
                "state": args.get("state", "available")}

    def _region(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"name": self.region, "region": self.region, "id": self.region,
                "description": self.region, "endpoint": f"ec2.{self.region}.{self.dns_suffix}"}

    def _caller(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"accountId": self.account, "id": self.account, "userId": "AIDAOFFLINEPREVIEW",
                "arn": f"arn:{self.partition}:iam::{self.account}:user/offline-preview"}

    def _partition(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"partition": self.partition, "id": self.partition, "dnsSuffix": self.dns_suffix,
                "reverseDnsPrefix": ".".join(reversed(self.dns_suffix.split(".")))}

    def _endpoint_service(self, args: dict[str, Any]) -> dict[str, Any]:
        """Every AWS endpoint service is offered in every zone of the region, offline."""
        name = args.get("serviceName") or f"com.amazonaws.{self.region}.{args.get('service', '')}"
        return {"serviceName": name, "serviceType": args.get("serviceType", "Interface"), "owner": "amazon",
                "availabilityZones": self._azs({})["names"], "acceptanceRequired": False,
                "privateDnsName": name.split(".", 3)[-1] + f".{self.region}.{self.dns_suffix}",
                "id": name, "serviceId": "vpce-svc-" + hashlib.sha1(name.encode()).hexdigest()[:17],
                "baseEndpointDnsNames": [], "managesVpcEndpoints": False, "vpcEndpointPolicySupported": True,
                "supportedIpAddressTypes": ["ipv4"], "tags": {}}

    def _vpc_endpoint(self, args: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """An adopted VPC has no endpoints offline (AWS's own answer when there is none)."""
        return {}, [("", "no matching VPC Endpoint found")]

    def _subnet(self, args: dict[str, Any]) -> dict[str, Any]:
        """An adopted subnet: its zone follows from its id (two ids may share a zone, as in AWS)."""
        sid = str(args.get("id") or "subnet-0")
        letters = _ZONE_LETTERS.get(self.region, "abc")
        zone = f"{self.region}{letters[int(hashlib.sha1(sid.encode()).hexdigest(), 16) % len(letters)]}"
        return {"id": sid, "availabilityZone": zone, "availabilityZoneId": zone, "vpcId": args.get("vpcId", ""),
                "cidrBlock": "10.0.0.0/24", "mapPublicIpOnLaunch": False, "state": "available", "tags": {},
                "arn": f"arn:{self.partition}:ec2:{self.region}:{self.account}:subnet/{sid}"}

    def _elb_account(self, args: dict[str, Any]) -> dict[str, Any]:
        digest = hashlib.sha1(f"elb/{args.get('region') or self.region}".encode()).hexdigest()
        account = str(int(digest[:10], 16))[:12].rjust(12, "0")
        return {"id": account, "arn": f"arn:{self.partition}:iam::{account}:root",
                "region": args.get("region") or self.region}

    def _prefix_list(self, args: dict[str, Any]) -> dict[str, Any]:
        name = args.get("name") or f"com.amazonaws.{self.region}.s3"
        digest = hashlib.sha1(f"{self.region}/{name}".encode()).hexdigest()[:8]
        return {"id": f"pl-{digest}", "name": name, "cidrBlocks": [], "entries": [],
                "addressFamily": "IPv4", "maxEntries": 0, "ownerId": "AWS", "version": 0,
                "arn": f"arn:{self.partition}:ec2:{self.region}:aws:prefix-list/pl-{digest}", "tags": {}}

    def _policy_document(self, args: dict[str, Any]) -> dict[str, Any]:
        document = policy_document(args)
        text = json.dumps(document, indent=2)
        return {**args, "json": text, "minifiedJson": json.dumps(document, separators=(",", ":")),
                "id": str(int(hashlib.sha1(text.encode()).hexdigest()[:8], 16))}

    # -- resources ---------------------------------------------------------------------------
    def computed_outputs(self, typ: str, name: str, inputs: dict[str, Any], custom: bool = True) -> tuple[str, dict]:
        """An id and the provider-computed outputs of a resource after `pulumi up`, stable per type and name.

        Every output the SDK's schema says the provider always sets (and the resource's inputs do not
        give) gets a plausible value; a multi-language component (`custom` false) gets all its outputs.
        """
        digest = hashlib.sha1(f"{typ}::{name}".encode()).hexdigest()
        module = typ.split(":")[1].split("/")[0] if typ.count(":") >= 2 else "unknown"
        rtype = typ.rsplit(":", 1)[-1]
        prefix = ID_PREFIXES.get(rtype) if module in EC2_MODULES else None
        physical = inputs.get("name") or inputs.get("bucket") or f"{name}-{digest[:7]}"
        rid = f"{prefix}-{digest[:17]}" if prefix else str(physical)
        if (module, rtype) in _GENERATED_IDS:
            rid = _base36(int(digest[:16], 16))[:10]
        counts = list_counts(typ, inputs, custom)
        maker = Maker(self, f"{typ}::{name}", module, rtype, str(physical), rid, counts=counts)
        out: dict[str, Any] = {}
        cls = resource_class(typ)
        if cls is not None:
            inputs_of = input_names(cls) if custom else frozenset()
            for prop in properties(cls):
                if prop.name in inputs or prop.name in ("id", "urn") or prop.name in inputs_of:
                    continue
                if custom and prop.optional:
                    continue
                value = maker.value(prop.name, prop.hint, prop.name, computed=True)
                if value is not None:
                    out[prop.name] = value
        if not custom:
            return "", out
        out["id"] = rid
        if cls is None or any(p.name == "arn" for p in properties(cls)):
            out["arn"] = self._arn(module, rtype, str(physical), rid, maker)
        if cls is None or any(p.name == "tagsAll" for p in properties(cls)):
            out["tagsAll"] = inputs.get("tags", {})
        extra = MODULE_EXTRAS.get((module, rtype)) or _EXTRAS.get(rtype)
        if extra:
            out.update(extra(self, inputs, rid, str(physical), digest))
        if "name" in inputs or prefix is None:
            out.setdefault("name", physical)
        return rid, out

    def _arn(self, module: str, rtype: str, physical: str, rid: str, maker: Maker) -> str:
        p, r, a = self.partition, self.region, self.account
        special = {
            "LogGroup": f"arn:{p}:logs:{r}:{a}:log-group:{physical}",
            "Role": f"arn:{p}:iam::{a}:role/{physical}",
            "Policy": f"arn:{p}:iam::{a}:policy/{physical}",
            "Bucket": f"arn:{p}:s3:::{physical}",
            "BucketV2": f"arn:{p}:s3:::{physical}",
            "Queue": f"arn:{p}:sqs:{r}:{a}:{physical}",
            "Topic": f"arn:{p}:sns:{r}:{a}:{physical}",
            "Cluster": f"arn:{p}:ecs:{r}:{a}:cluster/{physical}",
            "Repository": f"arn:{p}:ecr:{r}:{a}:repository/{physical}",
            "Schedule": f"arn:{p}:scheduler:{r}:{a}:schedule/default/{physical}",
            "FileSystem": f"arn:{p}:elasticfilesystem:{r}:{a}:file-system/{rid}",
            "AccessPoint": f"arn:{p}:elasticfilesystem:{r}:{a}:access-point/{rid}",
            "Parameter": f"arn:{p}:ssm:{r}:{a}:parameter/{physical.lstrip('/')}",
            "StateMachine": f"arn:{p}:states:{r}:{a}:stateMachine:{physical}",
            "MetricAlarm": f"arn:{p}:cloudwatch:{r}:{a}:alarm:{physical}",
        }
        if rtype in special and (rtype != "Cluster" or module == "ecs"):
            return special[rtype]
        return maker.arn(rtype, physical, rid, "arn", own=True)


def list_counts(typ: str, inputs: dict[str, Any], custom: bool) -> dict[str, int]:
    """How many items made-up lists get (`""`: the default): two for a resource's, one per zone a component
    spreads over (awsx: 3 zones by default); for `awsx:ec2:Vpc`, the layout its subnet specs give (awsx
    awsx/ec2/vpc.ts: Private and Public specs by default, one subnet per spec and zone, a NAT gateway per
    zone unless `natGateways.strategy` says Single or None)."""
    if custom:
        return {"": 2}
    zones = inputs.get("availabilityZoneNames")
    given = inputs.get("numberOfAvailabilityZones")
    azs = len(zones) if isinstance(zones, list) and zones else int(given) if isinstance(given, (int, float)) else 3
    if typ != "awsx:ec2:Vpc":
        return {"": azs}
    specs = [s for s in inputs.get("subnetSpecs") or [{"type": "Private"}, {"type": "Public"}] if isinstance(s, dict)]
    per = {kind: azs * sum(1 for s in specs if str(s.get("type", "")).lower() == kind)
           for kind in ("private", "public", "isolated")}
    strategy = str((inputs.get("natGateways") or {}).get("strategy") or "OnePerAz").lower()
    nats = 0 if strategy == "none" else 1 if strategy == "single" else azs
    subnets = azs * len(specs)
    counts = {"": azs, "subnets": subnets, "routeTables": subnets, "routeTableAssociations": subnets,
              "natGateways": nats, "eips": nats, "subnetLayout": len(specs),
              "routes": per["public"] + (per["private"] if nats else 0),
              "vpcEndpoints": len(inputs.get("vpcEndpointSpecs") or [])}
    for kind, n in per.items():
        counts.update({f"{kind}SubnetIds": n, f"{kind}Subnets": n})
    return counts


def _coerced(value: Any, hint: Any) -> Any:
    """An argument as the provider returns it in the result: of the result's type (`most_recent="true"` -> True)."""
    if isinstance(value, str):
        if hint is bool and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if hint in (int, float):
            try:
                return hint(value)
            except ValueError:
                return value
    if hint is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


#: Resources whose id AWS generates as 10 lowercase letters and digits (`a1b2c3d4e5`), not their name.
_GENERATED_IDS = {("apigateway", "RestApi"), ("apigatewayv2", "Api"), ("apigateway", "Deployment"),
                  ("apigatewayv2", "Deployment"), ("appsync", "GraphQLApi")}


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out.rjust(10, "0")


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _plural_id(cloud: Cloud, entity: str, args: dict[str, Any]) -> str | None:
    """Data sources that list things (`get_subnets`) have the region as their id, as the provider does."""
    return cloud.region if entity.endswith("s") and "id" not in args else None


def policy_document(args: dict[str, Any]) -> dict[str, Any]:
    """The document `aws.iam.get_policy_document` renders from its arguments (an exact answer, not a guess):
    source documents' statements first, then these, then override documents replacing statements by Sid."""
    statements: list[dict[str, Any]] = []
    for source in args.get("sourcePolicyDocuments") or []:
        statements += _statements_of(source)
    for given in args.get("statements") or []:
        statements.append(_statement(given))
    for override in args.get("overridePolicyDocuments") or []:
        for st in _statements_of(override):
            same = [i for i, s in enumerate(statements) if st.get("Sid") and s.get("Sid") == st.get("Sid")]
            if same:
                statements[same[0]] = st
            else:
                statements.append(st)
    document: dict[str, Any] = {"Version": args.get("version") or "2012-10-17"}
    if args.get("policyId"):
        document["Id"] = args["policyId"]
    document["Statement"] = statements
    return document


def _statements_of(text: Any) -> list[dict[str, Any]]:
    try:
        found = json.loads(text).get("Statement", []) if isinstance(text, str) else []
    except (ValueError, AttributeError):
        return []
    return [found] if isinstance(found, dict) else [s for s in found if isinstance(s, dict)]


def _one_or_list(values: list[Any]) -> Any:
    values = sorted(set(values), key=str)
    return values[0] if len(values) == 1 else values


def _statement(given: dict[str, Any]) -> dict[str, Any]:
    st: dict[str, Any] = {}
    if given.get("sid"):
        st["Sid"] = given["sid"]
    st["Effect"] = given.get("effect") or "Allow"
    for key, wire in (("actions", "Action"), ("notActions", "NotAction"), ("resources", "Resource"),
                      ("notResources", "NotResource")):
        if given.get(key):
            st[wire] = _one_or_list(given[key])
    for key, wire in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
        if given.get(key):
            principals: dict[str, list[str]] = {}
            for p in given[key]:
                principals.setdefault(p.get("type", "AWS"), []).extend(p.get("identifiers") or [])
            st[wire] = "*" if set(principals) == {"*"} else {k: _one_or_list(v) for k, v in principals.items()}
    if given.get("conditions"):
        condition: dict[str, dict[str, Any]] = {}
        for c in given["conditions"]:
            condition.setdefault(c["test"], {})[c["variable"]] = _one_or_list(c.get("values") or [])
        st["Condition"] = condition
    return st


def _vpc(cloud: Cloud, inputs: dict, rid: str, physical: str, digest: str) -> dict:
    return {"mainRouteTableId": f"rtb-{digest[1:18]}", "defaultSecurityGroupId": f"sg-{digest[2:19]}",
            "defaultNetworkAclId": f"acl-{digest[3:20]}", "defaultRouteTableId": f"rtb-{digest[1:18]}",
            "ownerId": cloud.account}


def _vpc_endpoint(cloud: Cloud, inputs: dict, rid: str, physical: str, digest: str) -> dict:
    service = str(inputs.get("serviceName", ""))
    if inputs.get("vpcEndpointType") == "Gateway":
        return {"prefixListId": f"pl-{hashlib.sha1(service.encode()).hexdigest()[:8]}", "networkInterfaceIds": [],
                "dnsEntries": [], "state": "available"}
    short = service.split(f"{cloud.region}.", 1)[-1]
    return {"networkInterfaceIds": [f"eni-{digest[i:i + 17]}" for i, _ in enumerate(inputs.get("subnetIds", []))],
            "dnsEntries": [{"dnsName": f"{rid}.{short}.{cloud.region}.vpce.{cloud.dns_suffix}",
                            "hostedZoneId": "Z7HUB22UULQXV"}], "state": "available"}


def _repository(cloud: Cloud, inputs: dict, rid: str, physical: str, digest: str) -> dict:
    return {"registryId": cloud.account,
            "repositoryUrl": f"{cloud.account}.dkr.ecr.{cloud.region}.{cloud.dns_suffix}/{physical}"}


def _bucket(cloud: Cloud, inputs: dict, rid: str, physical: str, digest: str) -> dict:
    return {"bucket": physical, "bucketDomainName": f"{physical}.s3.{cloud.dns_suffix}",
            "bucketRegionalDomainName": f"{physical}.s3.{cloud.region}.{cloud.dns_suffix}", "region": cloud.region}


def _load_balancer(cloud: Cloud, inputs: dict, rid: str, physical: str, digest: str) -> dict:
    scheme = "internal-" if inputs.get("internal") else ""
    kind = {"network": "net", "gateway": "gwy"}.get(str(inputs.get("loadBalancerType")), "app")
    suffix = f"{kind}/{physical}/{digest[:16]}"
    return {"dnsName": f"{scheme}{physical}-{int(digest[:8], 16)}.{cloud.region}.elb.{cloud.dns_suffix}",
            "zoneId": "Z35SXDOTRQ7X7K", "arnSuffix": suffix,
            "arn": f"arn:{cloud.partition}:elasticloadbalancing:{cloud.region}:{cloud.account}:loadbalancer/{suffix}"}


def _target_group(cloud: Cloud, inputs: dict, rid: str, physical: str, digest: str) -> dict:
    return {"arnSuffix": f"targetgroup/{physical}/{digest[:16]}"}


def _task_definition(cloud: Cloud, inputs: dict, rid: str, physical: str, digest: str) -> dict:
    family = inputs.get("family", physical)
    arn = f"arn:{cloud.partition}:ecs:{cloud.region}:{cloud.account}:task-definition/{family}:1"
    return {"arn": arn, "revision": 1, "arnWithoutRevision": arn.rsplit(":", 1)[0]}


def _queue(cloud: Cloud, inputs: dict, rid: str, physical: str, digest: str) -> dict:
    url = f"https://sqs.{cloud.region}.{cloud.dns_suffix}/{cloud.account}/{physical}"
    return {"id": url, "url": url}


def _service(cloud: Cloud, inputs: dict, rid: str, physical: str, digest: str) -> dict:
    if "namespaceId" in inputs:  # a Cloud Map service (servicediscovery:Service), not an ECS one
        sid = f"srv-{digest[:16]}"
        arn = f"arn:{cloud.partition}:servicediscovery:{cloud.region}:{cloud.account}:service/{sid}"
        return {"id": sid, "arn": arn}
    cluster = str(inputs.get("cluster", "cluster")).rsplit("/", 1)[-1]
    return {"id": f"arn:{cloud.partition}:ecs:{cloud.region}:{cloud.account}:service/{cluster}/{physical}"}


def _image_step(cloud: Cloud, inputs: dict, rid: str, physical: str, digest: str) -> dict:
    # What a warm or mirror step reports after `pulumi up`: the digest it found (the reference's own if pinned).
    reference = str(inputs.get("reference")).encode()
    found = inputs.get("referenceDigest") or "sha256:" + hashlib.sha256(reference).hexdigest()
    return {"id": f"{inputs.get('repository')}@{found}", "digest": found, "pinned": [found]}


_EXTRAS = {
    "Vpc": _vpc, "VpcEndpoint": _vpc_endpoint, "Repository": _repository, "Bucket": _bucket,
    "BucketV2": _bucket, "LoadBalancer": _load_balancer, "TaskDefinition": _task_definition,
    "Queue": _queue, "Service": _service, "CacheWarm": _image_step, "ImageMirror": _image_step,
    "TargetGroup": _target_group,
}
_INVOKES = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": Cloud._azs,
    "aws:index/getRegion:getRegion": Cloud._region,
    "aws:index/getCallerIdentity:getCallerIdentity": Cloud._caller,
    "aws:index/getPartition:getPartition": Cloud._partition,
    "aws:ec2/getPrefixList:getPrefixList": Cloud._prefix_list,
    "aws:elb/getServiceAccount:getServiceAccount": Cloud._elb_account,
    "aws:ec2/getManagedPrefixList:getManagedPrefixList": Cloud._prefix_list,
    "aws:iam/getPolicyDocument:getPolicyDocument": Cloud._policy_document,
    "aws:ec2/getVpcEndpointService:getVpcEndpointService": Cloud._endpoint_service,
    "aws:ec2/getVpcEndpoint:getVpcEndpoint": Cloud._vpc_endpoint,
    "aws:ec2/getSubnet:getSubnet": Cloud._subnet,
}
