"""PrivateNetwork: private subnets with no route out, the endpoints private tasks need, public parts on demand."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from components.context import StackContext
from components.network import PrivateNetwork, PrivateNetworkArgs, subnet_cidrs
from tests.support import (
    ASSOC,
    DEFAULT_SG,
    EIP,
    ENDPOINT,
    FLOW_LOG,
    IGW,
    LOG_GROUP,
    NAT,
    ROLE_POLICY,
    ROUTE,
    RTB,
    SG,
    SUBNET,
    UNKNOWN,
    VPC,
    Registered,
    run_main,
    simulate,
    stack_settings,
)
from tools.preview.child import ProgramFailed

PUBLIC_IMAGE = {"public": "public.ecr.aws/docker/library/python:3.12-slim"}
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
EXISTING = {"vpcId": "vpc-0123456789abcdef0", "privateSubnetIds": ["subnet-0a000001", "subnet-0b000002"],
            "privateRouteTableIds": ["rtb-0a000001", "rtb-0b000002"]}


def private_subnets(run: Registered) -> list[dict[str, Any]]:
    return sorted((s for s in run.of_type(SUBNET) if "-private-" in s["name"]), key=lambda s: s["name"])


def public_subnets(run: Registered) -> list[dict[str, Any]]:
    return sorted((s for s in run.of_type(SUBNET) if "-public-" in s["name"]), key=lambda s: s["name"])


def private_tables(run: Registered) -> list[dict[str, Any]]:
    return sorted((t for t in run.of_type(RTB) if "-private-" in t["name"]), key=lambda t: t["name"])


def endpoint(run: Registered, short: str) -> dict[str, Any]:
    found = [e for e in run.of_type(ENDPOINT) if e["inputs"]["serviceName"].endswith(f".{short}")]
    assert len(found) == 1, f"endpoint {short}: {[e['inputs']['serviceName'] for e in run.of_type(ENDPOINT)]}"
    return found[0]


def routes_of(run: Registered, table: dict[str, Any]) -> list[dict[str, Any]]:
    """Routes that target `table`, matched by id when known and by property dependency otherwise."""
    out = []
    for route in run.of_type(ROUTE):
        deps = route["propertyDependencies"].get("routeTableId", [])
        if table["urn"] in deps or (table["id"] != UNKNOWN and route["inputs"]["routeTableId"] == table["id"]):
            out.append(route)
    return out


def known_ids(run: Registered) -> bool:
    """True after `up`; in preview every id is unknown (asserted, so a mode mix-up fails)."""
    ids = {r["id"] == UNKNOWN for r in run.custom()}
    assert len(ids) == 1, "some ids known, some unknown"
    return not ids.pop()


def service(**extra: Any) -> dict[str, Any]:
    return {"name": "web", "image": PUBLIC_IMAGE, "port": 8080, **extra}


@pytest.fixture(scope="module", params=["preview", "up"])
def dev_run(request: pytest.FixtureRequest) -> Registered:
    """The shipped dev stack, in both modes."""
    return simulate(run_main, stack_settings("dev"), mode=request.param)


@pytest.fixture(scope="module")
def existing_run() -> Registered:
    return simulate(run_main, {"network": {"cidr": "10.20.0.0/16", "existing": EXISTING}}, mode="up")


class TestDevStack:
    """The dev stack as shipped: private subnets, no route out, endpoints, flow logs."""

    @pytest.fixture
    def run(self, dev_run: Registered) -> Registered:
        return dev_run

    def test_one_vpc_with_dns(self, run: Registered) -> None:
        vpc = run.one(VPC)
        assert vpc["inputs"]["cidrBlock"] == "10.0.0.0/16"
        assert vpc["inputs"]["enableDnsSupport"] is True and vpc["inputs"]["enableDnsHostnames"] is True

    def test_private_subnets_do_not_map_public_ips(self, run: Registered) -> None:
        subnets = private_subnets(run)
        assert len(subnets) == 2 == len(run.of_type(SUBNET))
        assert [s["inputs"]["availabilityZone"] for s in subnets] == ["us-east-1a", "us-east-1b"]
        assert all(s["inputs"]["mapPublicIpOnLaunch"] is False for s in subnets)

    def test_each_private_subnet_has_its_own_table_without_routes(self, run: Registered) -> None:
        tables = private_tables(run)
        assert len(tables) == 2 and len(run.of_type(ASSOC)) == 2
        pairs = {(a["propertyDependencies"]["subnetId"][0], a["propertyDependencies"]["routeTableId"][0])
                 for a in run.of_type(ASSOC)}
        assert pairs == {(s["urn"], t["urn"]) for s, t in zip(private_subnets(run), tables, strict=True)}
        assert all("routes" not in t["inputs"] for t in tables)
        assert run.of_type(ROUTE) == [] and run.of_type(IGW) == [] and run.of_type(NAT) == []

    def test_s3_gateway_on_every_private_table_with_restricted_policy(self, run: Registered) -> None:
        s3 = endpoint(run, "s3")
        assert s3["inputs"]["vpcEndpointType"] == "Gateway"
        assert sorted(s3["propertyDependencies"]["routeTableIds"]) == sorted(t["urn"] for t in private_tables(run))
        if known_ids(run):
            assert s3["inputs"]["routeTableIds"] == [t["id"] for t in private_tables(run)]
        policy = json.loads(s3["inputs"]["policy"])
        resources = [r for st in policy["Statement"] for r in st["Resource"]]
        assert "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*" in resources
        assert "arn:aws:s3:::private-fargate-dev-output-123456789012-us-east-1" in resources
        assert all(st["Effect"] == "Allow" and "s3:*" not in st["Action"] for st in policy["Statement"])
        assert all(r.startswith(("arn:aws:s3:::prod-us-east-1-starport", "arn:aws:s3:::private-fargate-dev-"))
                   for r in resources)

    def test_interface_endpoints_in_endpoint_az_count_subnets(self, run: Registered) -> None:
        first_subnet = private_subnets(run)[0]
        group = run.one(SG, "network-endpoints")
        for short in ("ecr.api", "ecr.dkr", "logs"):
            ep = endpoint(run, short)
            assert ep["inputs"]["serviceName"] == f"com.amazonaws.us-east-1.{short}"
            assert ep["inputs"]["vpcEndpointType"] == "Interface"
            assert ep["inputs"]["privateDnsEnabled"] is True
            assert ep["propertyDependencies"]["subnetIds"] == [first_subnet["urn"]]
            assert ep["propertyDependencies"]["securityGroupIds"] == [group["urn"]]
            if known_ids(run):
                assert ep["inputs"]["subnetIds"] == [first_subnet["id"]]
        assert len(run.of_type(ENDPOINT)) == 4

    def test_endpoint_group_admits_only_443_from_the_vpc(self, run: Registered) -> None:
        group = run.one(SG, "network-endpoints")
        assert group["inputs"]["ingress"] == [{"protocol": "tcp", "fromPort": 443, "toPort": 443,
                                               "cidrBlocks": ["10.0.0.0/16"], "description": "HTTPS from the VPC"}]
        assert group["inputs"]["egress"] == []

    def test_default_security_group_has_no_rules(self, run: Registered) -> None:
        default = run.one(DEFAULT_SG)
        assert default["inputs"].get("ingress", []) == [] and default["inputs"].get("egress", []) == []
        assert default["propertyDependencies"]["vpcId"] == [run.one(VPC)["urn"]]

    def test_flow_log_to_a_log_group_with_retention(self, run: Registered) -> None:
        flow, group = run.one(FLOW_LOG), run.one(LOG_GROUP, "network-flow-logs")
        assert flow["inputs"]["trafficType"] == "ALL"
        assert flow["inputs"]["logDestinationType"] == "cloud-watch-logs"
        assert flow["propertyDependencies"]["logDestination"] == [group["urn"]]
        assert group["inputs"]["name"] == "/vpc/private-fargate/dev/flow-logs"
        assert group["inputs"]["retentionInDays"] == 30
        assert (group["protect"], group["retainOnDelete"]) == (False, False)  # the dev stack sets protect: false

    def test_flow_log_role_writes_only_its_group(self, run: Registered) -> None:
        doc = json.loads(run.one(ROLE_POLICY, "network-flow-logs")["inputs"]["policy"])
        deliver, find = doc["Statement"]
        assert all("*" not in a for st in doc["Statement"] for a in st["Action"])
        arn = "arn:aws:logs:us-east-1:123456789012:log-group:/vpc/private-fargate/dev/flow-logs"
        assert deliver["Action"] == ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
        assert deliver["Resource"] == [arn, arn + ":*"]
        assert find["Action"] == ["logs:DescribeLogGroups"]
        assert find["Resource"] == ["*"]  # DescribeLogGroups has no resource-level permission (iam.UNSCOPED_ACTIONS)
        trust = json.loads(run.one("aws:iam/role:Role", "network-flow-logs")["inputs"]["assumeRolePolicy"])
        trust = trust["Statement"][0]
        assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"},
                                      "ArnLike": {"aws:SourceArn": "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/*"}}

    def test_outputs(self, run: Registered) -> None:
        out = run.outputs
        assert out["vpcCidr"] == "10.0.0.0/16" and out["region"] == "us-east-1" and out["publicSubnetIds"] == []
        assert set(out["vpcEndpoints"]) == {"ecr.api", "ecr.dkr", "logs", "s3"}
        assert len(out["privateSubnetIds"]) == 2 and len(out["privateRouteTableIds"]) == 2
        assert (out["vpcId"] != UNKNOWN) == known_ids(run)
        if known_ids(run):
            assert out["vpcId"] == run.one(VPC)["id"]
            assert out["privateSubnetIds"] == [s["id"] for s in private_subnets(run)]
            assert out["vpcEndpoints"]["s3"] == endpoint(run, "s3")["id"]


class TestPublicParts:
    """Public subnets, IGW and NAT appear only when asked for, and never touch the private side."""

    def test_egress_nat(self, run_program: Any) -> None:
        run = run_program({"network": {"egress": "nat"}}, mode="up")
        assert len(run.of_type(IGW)) == 1 and len(run.of_type(NAT)) == 1 and len(run.of_type(EIP)) == 1
        assert len(public_subnets(run)) == 1
        nat, igw = run.one(NAT), run.one(IGW)
        assert nat["inputs"]["subnetId"] == public_subnets(run)[0]["id"]
        for table in private_tables(run):
            (route,) = routes_of(run, table)
            assert route["inputs"]["destinationCidrBlock"] == "0.0.0.0/0"
            assert route["inputs"]["natGatewayId"] == nat["id"]
            assert "gatewayId" not in route["inputs"]
        public_table = run.one(RTB, "network-public")
        (internet,) = routes_of(run, public_table)
        assert internet["inputs"]["gatewayId"] == igw["id"]
        assert run.one(EIP)["inputs"]["domain"] == "vpc"

    def test_internet_facing_load_balancer(self, run_program: Any) -> None:
        lb = {"scheme": "internet-facing", "certificateArn": CERT}
        run = run_program({"services": [service(loadBalancer=lb)]}, mode="up")
        assert len(public_subnets(run)) == 2 and len(run.of_type(IGW)) == 1
        assert run.of_type(NAT) == [] and run.of_type(EIP) == []
        assert all(s["inputs"]["mapPublicIpOnLaunch"] is False for s in public_subnets(run))
        for table in private_tables(run):
            assert routes_of(run, table) == []
        assert sorted(run.outputs["publicSubnetIds"]) == sorted(s["id"] for s in public_subnets(run))

    def test_internal_load_balancer_adds_nothing_public(self, run_program: Any) -> None:
        run = run_program({"services": [service(loadBalancer={})]})
        assert public_subnets(run) == [] and run.of_type(IGW) == []

    def test_public_subnets_do_not_move_private_ones(self, run_program: Any) -> None:
        plain = run_program({"network": {"azCount": 3}})
        lb = {"scheme": "internet-facing", "certificateArn": CERT}
        both = run_program({"network": {"azCount": 3, "egress": "nat"}, "services": [service(loadBalancer=lb)]})
        cidrs = [s["inputs"]["cidrBlock"] for s in private_subnets(plain)]
        assert cidrs == [s["inputs"]["cidrBlock"] for s in private_subnets(both)]
        assert cidrs == ["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"]
        assert [s["inputs"]["cidrBlock"] for s in public_subnets(both)] == [
            "10.0.128.0/20", "10.0.144.0/20", "10.0.160.0/20"]
        assert len(run_program({"network": {"azCount": 3, "egress": "nat"}}).of_type(NAT)) == 1

    @pytest.mark.parametrize("cidr", ["10.0.0.0/16", "172.16.0.0/20", "192.168.10.0/24"])
    def test_carving_uses_sixteen_disjoint_blocks(self, cidr: str) -> None:
        private, public = subnet_cidrs(cidr)
        nets = [ipaddress.ip_network(c) for c in private + public]
        assert len(nets) == 16 and all(n.subnet_of(ipaddress.ip_network(cidr)) for n in nets)
        assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
        assert nets[0].network_address == ipaddress.ip_network(cidr).network_address


class TestEndpoints:
    """Which endpoints exist: the base set, extras from settings, and what workloads imply."""

    def test_extra_endpoints(self, run_program: Any) -> None:
        run = run_program({"network": {"extraEndpoints": ["secretsmanager", "ssmmessages"]}})
        names = sorted(e["inputs"]["serviceName"].rsplit(".", 1)[-1] if "ecr" not in e["inputs"]["serviceName"]
                       else e["inputs"]["serviceName"].split("us-east-1.")[1] for e in run.of_type(ENDPOINT))
        assert names == ["ecr.api", "ecr.dkr", "logs", "s3", "secretsmanager", "ssmmessages"]
        assert endpoint(run, "secretsmanager")["inputs"]["privateDnsEnabled"] is True

    def test_unknown_extra_endpoint_is_a_settings_error(self) -> None:
        with pytest.raises(ProgramFailed, match=r"network\.extraEndpoints\[0\]: 'ec2' is not allowed"):
            simulate(run_main, {"network": {"extraEndpoints": ["ec2"]}})

    def test_dynamodb_is_a_gateway_on_private_tables(self, run_program: Any) -> None:
        run = run_program({"network": {"extraEndpoints": ["dynamodb"]}})
        ddb = endpoint(run, "dynamodb")
        assert ddb["inputs"]["vpcEndpointType"] == "Gateway" and "policy" not in ddb["inputs"]
        assert sorted(ddb["propertyDependencies"]["routeTableIds"]) == sorted(t["urn"] for t in private_tables(run))

    def test_endpoints_implied_by_workloads(self, run_program: Any) -> None:
        jobs = [{"name": "a", "image": PUBLIC_IMAGE,
                 "secrets": {"DB": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"}},
                {"name": "b", "image": PUBLIC_IMAGE, "exec": True,
                 "secrets": {"TOKEN": "arn:aws:ssm:us-east-1:123456789012:parameter/app/token"}}]
        run = run_program({"jobs": jobs})
        for short in ("secretsmanager", "ssm", "ssmmessages"):
            assert endpoint(run, short)["inputs"]["vpcEndpointType"] == "Interface"

    def test_endpoints_in_every_az_by_default(self, run_program: Any) -> None:
        run = run_program({"network": {"azCount": 3}})
        subnets = [s["urn"] for s in private_subnets(run)]
        assert sorted(endpoint(run, "logs")["propertyDependencies"]["subnetIds"]) == subnets

    def test_open_s3_policy(self, run_program: Any) -> None:
        assert "policy" not in endpoint(run_program({"network": {"s3EndpointPolicy": "open"}}), "s3")["inputs"]

    def test_restricted_policy_without_output_bucket(self, run_program: Any) -> None:
        policy = json.loads(endpoint(run_program({"outputBucket": {"enabled": False}}), "s3")["inputs"]["policy"])
        assert [s["Sid"] for s in policy["Statement"]] == ["EcrImageLayers"]


class TestExistingVpc:
    """`network.existing`: endpoints and their security group only, in the given VPC."""

    @pytest.fixture
    def run(self, existing_run: Registered) -> Registered:
        return existing_run

    def test_creates_no_vpc_subnet_route_or_flow_log(self, run: Registered) -> None:
        for token in (VPC, SUBNET, RTB, ASSOC, ROUTE, IGW, NAT, DEFAULT_SG, FLOW_LOG):
            assert run.of_type(token) == [], token

    def test_endpoints_in_the_given_vpc(self, run: Registered) -> None:
        for short in ("ecr.api", "ecr.dkr", "logs"):
            ep = endpoint(run, short)
            assert ep["inputs"]["vpcId"] == EXISTING["vpcId"]
            assert ep["inputs"]["subnetIds"] == EXISTING["privateSubnetIds"]
        s3 = endpoint(run, "s3")
        assert s3["inputs"]["routeTableIds"] == EXISTING["privateRouteTableIds"]
        assert run.one(SG, "network-endpoints")["inputs"]["ingress"][0]["cidrBlocks"] == ["10.20.0.0/16"]

    def test_outputs_are_the_given_ids(self, run: Registered) -> None:
        assert run.outputs["vpcId"] == EXISTING["vpcId"]
        assert run.outputs["privateSubnetIds"] == EXISTING["privateSubnetIds"]
        assert run.outputs["privateRouteTableIds"] == EXISTING["privateRouteTableIds"]


class TestRegionsAndPartitions:
    """Endpoint service names follow the stack's region; only aws and aws-us-gov are supported."""

    @pytest.mark.parametrize("region,zones", [("eu-central-1", "ab"), ("ap-northeast-1", "ac"),
                                              ("us-gov-west-1", "ab")])
    def test_service_names_and_zones_for_region(self, region: str, zones: str) -> None:
        run = simulate(run_main, {}, region=region)
        names = sorted(e["inputs"]["serviceName"] for e in run.of_type(ENDPOINT))
        assert names == sorted(f"com.amazonaws.{region}.{s}" for s in ("ecr.api", "ecr.dkr", "logs", "s3"))
        assert [s["inputs"]["availabilityZone"] for s in private_subnets(run)] == [region + z for z in zones]

    def test_gov_cloud_arns_use_its_partition(self) -> None:
        run = simulate(run_main, {}, region="us-gov-west-1")
        policy = json.loads(endpoint(run, "s3")["inputs"]["policy"])
        assert policy["Statement"][0]["Resource"] == [
            "arn:aws-us-gov:s3:::prod-us-gov-west-1-starport-layer-bucket/*"]
        role_policy = json.loads(run.one(ROLE_POLICY, "network-flow-logs")["inputs"]["policy"])
        assert role_policy["Statement"][0]["Resource"][0].startswith("arn:aws-us-gov:logs:us-gov-west-1:")

    def test_component_with_explicit_context(self, run_component: Any) -> None:
        ctx = StackContext("p", "s", "us-gov-east-1", "111122223333", "aws-us-gov")
        args = PrivateNetworkArgs(context=ctx, availability_zones=("us-gov-east-1a",), endpoint_az_count=1)
        run = run_component(lambda: PrivateNetwork("net", args), region="us-gov-east-1")
        assert endpoint(run, "ecr.dkr")["inputs"]["serviceName"] == "com.amazonaws.us-gov-east-1.ecr.dkr"
        assert run.one("private-fargate:network:PrivateNetwork")["name"] == "net"
        assert all(r["parent"] == run.one("private-fargate:network:PrivateNetwork")["urn"] for r in run.custom())

    @pytest.mark.parametrize("region,partition", [("cn-north-1", "aws-cn"), ("us-iso-east-1", "aws-iso")])
    def test_other_partitions_rejected_before_any_resource(self, region: str, partition: str) -> None:
        with pytest.raises(ProgramFailed) as info:
            simulate(run_main, {}, region=region)
        assert str(info.value) == (f"settings: aws:region: {region} is in partition {partition}; private-fargate "
                                   "supports aws, aws-us-gov (endpoint service names differ)")
        assert [r for r in info.value.resources if r["type"] != "pulumi:pulumi:Stack"] == []

    def test_more_azs_than_the_region_has(self) -> None:
        with pytest.raises(ProgramFailed) as info:
            simulate(run_main, {"network": {"azCount": 3}}, region="us-west-1")
        assert str(info.value) == (
            "settings: network.azCount: 3 is more than the 2 zones of us-west-1 where Fargate and the stack's "
            "endpoints run (us-west-1a (usw1-az1), us-west-1c (usw1-az3)); allowed: 1..2")
        assert [r for r in info.value.resources if r["type"] != "pulumi:pulumi:Stack"] == []
        assert len(private_subnets(simulate(run_main, {"network": {"azCount": 6}}))) == 6


class TestProtect:
    """The flow log group is stateful: protected and retained unless the stack says otherwise."""

    def test_protected_by_default(self, run_program: Any) -> None:
        group = run_program({}).one(LOG_GROUP, "network-flow-logs")
        assert (group["protect"], group["retainOnDelete"]) == (True, True)
        network = run_program({}).one("private-fargate:network:PrivateNetwork")
        assert network["protect"] is False
