"""What AWS would answer, offline: invoke results and the outputs a provider computes.

Loaded by the preview's child process by file path, so it imports nothing from this repository
(a previewed project may have packages named like ours). In `preview` mode the engine knows only
inputs; in `up` mode `computed_outputs` adds ids, ARNs and the like, deterministically from the URN.
"""

from __future__ import annotations

import hashlib
from typing import Any

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

    # -- invokes -----------------------------------------------------------------------------
    def invoke(self, token: str, args: dict[str, Any]) -> Any:
        """The result of a data source call, or UnansweredInvoke naming its token."""
        handler = _INVOKES.get(token)
        if handler is None:
            raise UnansweredInvoke(f"the offline preview cannot answer the invoke {token}")
        return handler(self, args)

    def _azs(self, args: dict[str, Any]) -> dict[str, Any]:
        letters = _ZONE_LETTERS.get(self.region, "abc")
        names = [f"{self.region}{c}" for c in letters]
        # AWS's zone-ID prefix: us-east-1 -> use1, ap-northeast-1 -> apne1, us-gov-west-1 -> usgw1.
        first, *words, number = self.region.split("-")
        short = first + "".join(_COMPASS.get(w, w[0]) for w in words) + number
        ids = _ZONE_IDS.get(self.region) or [f"{short}-az{i + 1}" for i in range(len(names))]
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

    # -- resources ---------------------------------------------------------------------------
    def computed_outputs(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict]:
        """An id and the provider-computed outputs of a resource after `pulumi up`, stable per type and name."""
        digest = hashlib.sha1(f"{typ}::{name}".encode()).hexdigest()
        module = typ.split(":")[1].split("/")[0] if typ.count(":") >= 2 else "unknown"
        rtype = typ.rsplit(":", 1)[-1]
        prefix = _ID_PREFIXES.get(rtype)
        physical = inputs.get("name") or inputs.get("bucket") or f"{name}-{digest[:7]}"
        rid = f"{prefix}-{digest[:17]}" if prefix else str(physical)
        arn = self._arn(module, rtype, str(physical), rid)
        out: dict[str, Any] = {"id": rid, "arn": arn, "tagsAll": inputs.get("tags", {})}
        extra = _EXTRAS.get(rtype)
        if extra:
            out.update(extra(self, inputs, rid, str(physical), digest))
        if "name" in inputs or prefix is None:
            out.setdefault("name", physical)
        return rid, out

    def _arn(self, module: str, rtype: str, physical: str, rid: str) -> str:
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
        if rtype in special:
            return special[rtype]
        service = {"cloudwatch": "events", "alb": "elasticloadbalancing", "lb": "elasticloadbalancing",
                   "appautoscaling": "application-autoscaling", "servicediscovery": "servicediscovery"}
        return f"arn:{p}:{service.get(module, module)}:{r}:{a}:{rtype.lower()}/{rid}"


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
    return {"dnsName": f"{scheme}{physical}-{int(digest[:8], 16)}.{cloud.region}.elb.{cloud.dns_suffix}",
            "zoneId": "Z35SXDOTRQ7X7K", "arnSuffix": f"app/{physical}/{digest[:16]}"}


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


_ID_PREFIXES = {
    "Vpc": "vpc", "Subnet": "subnet", "RouteTable": "rtb", "InternetGateway": "igw", "NatGateway": "nat",
    "Eip": "eipalloc", "SecurityGroup": "sg", "VpcEndpoint": "vpce", "FlowLog": "fl",
    "SecurityGroupRule": "sgrule", "SecurityGroupIngressRule": "sgr", "SecurityGroupEgressRule": "sgr",
    "RouteTableAssociation": "rtbassoc", "DefaultSecurityGroup": "sg", "NetworkAcl": "acl",
    "VpcEndpointRouteTableAssociation": "a", "Route": "r", "FileSystem": "fs", "AccessPoint": "fsap",
    "MountTarget": "fsmt", "PrivateDnsNamespace": "ns",
}
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
    "aws:ec2/getVpcEndpointService:getVpcEndpointService": Cloud._endpoint_service,
    "aws:ec2/getVpcEndpoint:getVpcEndpoint": Cloud._vpc_endpoint,
    "aws:ec2/getSubnet:getSubnet": Cloud._subnet,
}
