"""Plausible, deterministic values for what a provider computes, by property name and type.

Used for invoke results the offline preview cannot know (a VPC found by `get_vpc`) and for the
outputs of resources in `--mode up`: ids with the right prefix, ARNs in the service's format, CIDRs,
zones, DNS names, URLs and endpoints, nested objects. Values come from a digest of what they
describe, so two runs give the same report. Loaded by file path with its sibling `sdkschema.py`;
imports nothing from this repository.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import re
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from _private_fargate_preview_sdkschema import is_output_type, is_resource, properties

#: Id prefixes of EC2-style resources, by entity (a type name, or what a `...Id` property names).
ID_PREFIXES = {
    "Vpc": "vpc", "DefaultVpc": "vpc", "Subnet": "subnet", "DefaultSubnet": "subnet", "RouteTable": "rtb",
    "DefaultRouteTable": "rtb", "InternetGateway": "igw", "NatGateway": "nat", "Eip": "eipalloc",
    "Allocation": "eipalloc", "SecurityGroup": "sg", "DefaultSecurityGroup": "sg", "VpcEndpoint": "vpce",
    "FlowLog": "fl", "SecurityGroupRule": "sgrule", "SecurityGroupIngressRule": "sgr",
    "SecurityGroupEgressRule": "sgr", "RouteTableAssociation": "rtbassoc", "NetworkAcl": "acl",
    "DefaultNetworkAcl": "acl", "VpcEndpointRouteTableAssociation": "a", "Route": "r", "NetworkInterface": "eni",
    "Instance": "i", "Ami": "ami", "Image": "ami", "KeyPair": "key", "LaunchTemplate": "lt", "PrefixList": "pl",
    "ManagedPrefixList": "pl", "DhcpOptions": "dopt", "TransitGateway": "tgw", "EgressOnlyInternetGateway": "eigw",
    "VpcPeeringConnection": "pcx", "Volume": "vol", "Snapshot": "snap", "CustomerGateway": "cgw",
    "VpnGateway": "vgw", "TransitGatewayVpcAttachment": "tgw-attach", "FileSystem": "fs", "AccessPoint": "fsap",
    "MountTarget": "fsmt", "PrivateDnsNamespace": "ns", "MainRouteTableAssociation": "rtbassoc", "Gateway": "igw",
}
#: The field of a data source's result that repeats its id, when not `<entity>Id`.
_SELF_ID = {"Ami": "imageId"}
#: Where an entity's ARN lives when it is not the module's own service.
_ENTITY_SERVICE = {
    "Role": "iam", "Policy": "iam", "User": "iam", "InstanceProfile": "iam",
    "OpenIdConnectProvider": "iam", "Key": "kms", "KmsKey": "kms", "Certificate": "acm", "Topic": "sns",
    "Queue": "sqs", "Function": "lambda", "LogGroup": "logs", "Bucket": "s3", "TargetGroup": "elasticloadbalancing",
    "LoadBalancer": "elasticloadbalancing", "Listener": "elasticloadbalancing", "Secret": "secretsmanager",
    "Parameter": "ssm", "Table": "dynamodb", "Repository": "ecr", "StateMachine": "states", "Stream": "kinesis",
}
_MODULE_SERVICE = {
    "alb": "elasticloadbalancing", "lb": "elasticloadbalancing", "elb": "elasticloadbalancing",
    "appautoscaling": "application-autoscaling", "sfn": "states", "cognito": "cognito-idp", "vpc": "ec2",
    "ebs": "ec2", "efs": "elasticfilesystem", "apigatewayv2": "apigateway", "opensearch": "es",
    "cloudwatch": "events", "scheduler": "scheduler", "index": "iam",
}
#: ARN resource parts that do not follow `<kebab-entity>/<name>`.
_ARN_RESOURCE = {
    ("iam", "Role"): "role/{n}", ("iam", "Policy"): "policy/{n}", ("iam", "User"): "user/{n}",
    ("iam", "InstanceProfile"): "instance-profile/{n}", ("logs", "LogGroup"): "log-group:{n}",
    ("sns", "Topic"): "{n}", ("sqs", "Queue"): "{n}", ("lambda", "Function"): "function:{n}",
    ("secretsmanager", "Secret"): "secret:{n}-{h6}", ("ssm", "Parameter"): "parameter/{n}",
    ("kms", "Key"): "key/{uuid}", ("acm", "Certificate"): "certificate/{uuid}", ("dynamodb", "Table"): "table/{n}",
    ("elasticloadbalancing", "LoadBalancer"): "loadbalancer/app/{n}/{h16}",
    ("elasticloadbalancing", "TargetGroup"): "targetgroup/{n}/{h16}",
    ("elasticloadbalancing", "Listener"): "listener/app/{n}/{h16}/{h16b}",
    ("states", "StateMachine"): "stateMachine:{n}",
    ("rds", "Instance"): "db:{n}", ("rds", "Cluster"): "cluster:{n}", ("redshift", "Cluster"): "cluster:{n}",
    ("ecs", "TaskDefinition"): "task-definition/{n}:1", ("events", "Rule"): "rule/{n}",
    ("cloudwatch", "MetricAlarm"): "alarm:{n}", ("apigateway", "RestApi"): "/restapis/{id}",
    ("apigateway", "Api"): "/apis/{id}", ("route53", "Zone"): "hostedzone/{id}",
    ("servicediscovery", "HttpNamespace"): "namespace/ns-{h16}",
    ("servicediscovery", "PrivateDnsNamespace"): "namespace/ns-{h16}",
    ("servicediscovery", "Service"): "service/srv-{h16}",
    ("ecs", "Service"): "service/{n}", ("ecs", "Cluster"): "cluster/{n}", ("eks", "Cluster"): "cluster/{n}",
}
#: Modules whose resources have EC2-style ids (`vpc-0a1b...`).
EC2_MODULES = ("ec2", "vpc", "ebs", "efs", "ec2transitgateway")
_GLOBAL = {"iam", "s3", "route53", "cloudfront", "waf"}
_NO_ACCOUNT = {"s3", "route53", "apigateway"}
DOCUMENT = '{"Version":"2012-10-17","Statement":[]}'
_PEM = "-----BEGIN CERTIFICATE-----\nT0ZGTElORS1QUkVWSUVX\n-----END CERTIFICATE-----\n"
_WHEN = "2024-01-01T00:00:00Z"


def words(name: str) -> list[str]:
    """`mainRouteTableId` -> [main, Route, Table, Id] (camelCase split)."""
    return re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", name)


def entity_of(name: str, suffixes: tuple[str, ...]) -> str:
    """The entity a property names (`executionRoleArn` -> `ExecutionRole`), without one of its suffixes."""
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return name[:1].upper() + name[1:]


def known_entity(entity: str, table: Mapping[str, Any]) -> str | None:
    """The longest trailing run of words of `entity` that `table` knows (`MainRouteTable` -> `RouteTable`)."""
    parts = [w[:1].upper() + w[1:] for w in words(entity)]
    for i in range(len(parts)):
        candidate = "".join(parts[i:])
        if candidate in table:
            return candidate
    return None


def kebab(entity: str) -> str:
    return "-".join(w.lower() for w in words(entity)) or "resource"


class Maker:
    """Plausible values for one resource or one invoke: `seed` makes them stable, `physical` names it."""

    def __init__(self, cloud: Any, seed: str, module: str, entity: str, physical: str, rid: str,
                 counts: Mapping[str, int] | None = None):
        self.cloud = cloud
        self.counts = counts or {}  # items in a made-up list, by property name ("": any other)
        self.seed = seed
        self.module = module
        self.entity = entity
        self.physical = physical
        self.rid = rid

    def count(self, name: str) -> int:
        return self.counts.get(name, self.counts.get("", 2))

    def digest(self, path: str) -> str:
        return hashlib.sha1(f"{self.seed}/{path}".encode()).hexdigest()

    def service(self, entity: str, own: bool = False) -> str:
        """The ARN service of an entity: this resource's module for its own ARN, else what the entity names."""
        if not own:
            if known_entity(entity, ID_PREFIXES):
                return "ec2"
            known = known_entity(entity, _ENTITY_SERVICE)
            if known:
                return _ENTITY_SERVICE[known]
        return _MODULE_SERVICE.get(self.module, self.module)

    def arn(self, entity: str, name: str, rid: str, path: str, own: bool = False) -> str:
        """An ARN in the format of the entity's service (`own`: the resource's or data source's own ARN)."""
        c, d = self.cloud, self.digest(path)
        service = self.service(entity, own)
        known = known_entity(entity, ID_PREFIXES) or known_entity(entity, _ENTITY_SERVICE) or entity
        pattern = _ARN_RESOURCE.get((service, entity)) or _ARN_RESOURCE.get((service, known))
        if pattern is None:
            prefix = ID_PREFIXES.get(known)
            pattern = f"{kebab(known)}/" + ("{id}" if prefix else "{n}")
        uuid = f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"
        resource = pattern.format(n=name, id=rid, h6=d[:6], h16=d[:16], h16b=d[16:32], uuid=uuid)
        region = "" if service in _GLOBAL else c.region
        account = "" if service in _NO_ACCOUNT else c.account
        return f"arn:{c.partition}:{service}:{region}:{account}:{resource}"

    def an_id(self, entity: str, path: str) -> str:
        """An id of an entity: `<prefix>-<17 hex>` for EC2-style ones, a stable name otherwise."""
        d = self.digest(path)
        known = known_entity(entity, ID_PREFIXES)
        if known:
            return f"{ID_PREFIXES[known]}-{d[:17]}"
        if entity.endswith(("HostedZone", "Zone")):
            return "Z" + base64.b32encode(bytes.fromhex(d[:20])).decode()[:13]
        if entity.endswith(("Key", "KmsKey")):
            return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"
        if entity in ("Owner", "Account", "Registry"):
            return self.cloud.account
        return f"{kebab(entity)}-{d[:8]}"

    def value(self, name: str, hint: Any, path: str, computed: bool = True) -> Any:
        """A value for property `name` of type `hint`; lists of objects get one element when computed."""
        origin = typing.get_origin(hint)
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return next(iter(hint)).value
        if hint is bool:
            return False
        if hint is int:
            return 443 if name.lower().endswith("port") else 1
        if hint is float:
            return 0.0
        if hint is str or hint is Any:
            return self.text(name, path)
        if is_resource(hint):
            return None
        if is_output_type(hint):
            return self.object(hint, {}, path, computed=True)
        if origin in (list, Sequence, typing.Sequence) or origin is getattr(typing, "List", None):
            (item,) = typing.get_args(hint) or (Any,)
            return self.items(name, item, path, computed)
        if origin in (dict, Mapping, typing.Mapping):
            return self.mapping(name, path) if computed else {}
        return None

    def mapping(self, name: str, path: str) -> dict[str, str]:
        """A computed map: the keys the service is known to return, else none."""
        d, c = self.digest(path), self.cloud
        if (self.module, name) == ("appsync", "uris"):
            host = f"{d[:26]}.appsync-api.{c.region}.{c.dns_suffix}"
            return {"GRAPHQL": f"https://{host}/graphql",
                    "REALTIME": f"wss://{host.replace('appsync-api', 'appsync-realtime-api')}/graphql"}
        return {}

    def items(self, name: str, item: Any, path: str, computed: bool) -> list[Any]:
        if is_output_type(item):
            return [self.object(item, {}, f"{path}[{i}]", computed=True)
                    for i in range(self.counts.get(name, 1))] if computed else []
        if item is not str or not computed:
            return []
        singular = re.sub(r"(Ids|Arns|Names|Blocks|Zones|Ips|Addresses|s)$", lambda m: {
            "Ids": "Id", "Arns": "Arn", "Names": "Name", "Blocks": "Block", "Zones": "Zone", "Ips": "Ip",
            "Addresses": "Address", "s": ""}[m.group(1)], name)
        if "zone" in name.lower() and not name.endswith("Ids"):
            return self.cloud.zone_names()
        if name == "ids":
            singular = "id"
        if singular == name:
            return []
        return [self.text(singular, f"{path}[{i}]", entity=self.entity.rstrip("s") if name == "ids" else None)
                for i in range(self.count(name))]

    def object(self, cls: type, given: Mapping[str, Any], path: str, computed: bool) -> dict[str, Any]:
        """Every required property of a generated class, from `given` where it has it."""
        out: dict[str, Any] = {}
        for prop in properties(cls):
            if prop.name in given and given[prop.name] is not None:
                out[prop.name] = given[prop.name]
            elif not prop.optional or computed:
                value = self.value(prop.name, prop.hint, f"{path}.{prop.name}", computed)
                if value is not None:
                    out[prop.name] = value
        return out

    def text(self, name: str, path: str, entity: str | None = None) -> str:
        """A string by what its name says it is."""
        c, d, low = self.cloud, self.digest(path), name.lower()
        region, dns = c.region, c.dns_suffix
        if name == "id":
            return self.an_id(entity, path) if entity else self.rid
        if name == "arn":
            return self.arn(self.entity, self.physical, self.rid, path, own=True)
        if name == "uniqueId":
            return "AROA" + d[:17].upper()
        if name.endswith("Arn") and name not in ("executionArn", "invokeArn", "qualifiedArn"):
            ent = entity_of(name, ("Arn",))
            return self.arn(ent, f"{self.physical}-{kebab(ent)}", self.an_id(ent, path), path)
        if name in ("region", "awsRegion") or name.endswith("Region"):
            return region
        if "ipv6" in low:
            return ""  # no IPv6 unless the program asks for it (then it gives the value itself)
        if name == "securityGroupRuleId":
            return f"sgr-{d[:17]}"
        if name == "partition":
            return c.partition
        if name in ("accountId", "ownerId", "registryId", "ownerAccountId"):
            return c.account
        if name == "availabilityZone":
            return c.zone_names()[int(d[:4], 16) % len(c.zone_names())]
        if name == "availabilityZoneId":
            return f"{c.zone_prefix()}-az{int(d[:4], 16) % len(c.zone_names()) + 1}"
        if name == _SELF_ID.get(self.entity, self.entity[:1].lower() + self.entity[1:] + "Id") and self.rid:
            return self.rid
        if name.endswith("Id") or name.endswith("Ids"):
            return self.an_id(entity or entity_of(name, ("Id",)), path)
        if "cidr" in low:
            return f"10.{int(d[:2], 16)}.{int(d[2:4], 16)}.0/24" if "Subnet" in self.entity else \
                f"10.{int(d[:2], 16)}.0.0/16"
        if low.endswith("ip") or low.endswith("ipaddress") or low == "address" and self.module == "ec2":
            return f"203.0.113.{int(d[:2], 16) % 254 + 1}" if "public" in low else \
                f"10.0.{int(d[:2], 16)}.{int(d[2:4], 16) % 254 + 1}"
        return self.service_text(name, low, d, region, dns)

    def service_text(self, name: str, low: str, d: str, region: str, dns: str) -> str:
        c, n = self.cloud, self.physical
        if name == "executionArn":
            return f"arn:{c.partition}:execute-api:{region}:{c.account}:{self.rid}"
        if name == "invokeArn":
            function = f"arn:{c.partition}:lambda:{region}:{c.account}:function:{n}"
            return f"arn:{c.partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{function}/invocations"
        if name == "qualifiedArn":
            return f"arn:{c.partition}:lambda:{region}:{c.account}:function:{n}:1"
        if name == "authorizationToken":
            return base64.b64encode(b"AWS:offline-preview-password").decode()
        if name == "userName":
            return "AWS"
        if name == "password" or "secret" in low:
            return "offline-preview-password"
        if low.endswith("uri") and self.module == "ecr":
            return f"{c.account}.dkr.ecr.{region}.{dns}/{n}@sha256:{d}{d[:24]}"
        if low.endswith("url") and self.module == "ecr":
            return f"{c.account}.dkr.ecr.{region}.{dns}/{n}"
        if name == "proxyEndpoint":
            return f"https://{c.account}.dkr.ecr.{region}.{dns}"
        if name == "data" or "certificateauthority" in low or low.endswith("pem"):
            return base64.b64encode(_PEM.encode()).decode()
        if name == "issuer":
            return f"https://oidc.eks.{region}.{dns}/id/{d[:32].upper()}"
        if low in ("json", "policy", "document") or low.endswith("policy") or low.endswith("json"):
            return DOCUMENT
        if "dnsname" in low or low == "hostname" or low == "address":
            return f"{n}-{int(d[:8], 16)}.{region}.{self.service(self.entity)}.{dns}"
        if low.endswith("domainname") or low == "domain":
            return f"d{d[:13]}.cloudfront.net" if self.module == "cloudfront" else f"{n}.{region}.{dns}"
        if low.endswith(("url", "uri")) or low == "endpoint" or low.endswith("endpoint"):
            if self.module == "eks":
                return f"https://{d[:32].upper()}.gr7.{region}.eks.{dns}"
            if self.module in ("apigateway", "apigatewayv2"):
                return f"https://{self.rid}.execute-api.{region}.{dns}/"
            if self.module == "lambda":
                return f"https://{d[:32]}.lambda-url.{region}.on.aws/"
            return f"https://{n}.{self.service(self.entity)}.{region}.{dns}"
        if name in ("name", "title") or name.endswith("Name"):
            return n if name == "name" else f"{n}-{kebab(entity_of(name, ('Name',)))}"
        if low in ("state", "status"):
            return "available"
        if low.endswith(("date", "time", "timestamp")) or low.endswith("at"):
            return _WHEN
        if low.endswith("version"):
            return "1"
        if low.endswith(("hash", "etag", "digest", "checksum", "fingerprint")):
            return d
        return f"{n}-{kebab(name)}"
