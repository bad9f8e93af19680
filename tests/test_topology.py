"""The topology of the diagram: its nodes and edges for dev, prod and fullstack (every feature), a NAT
gateway, changes marked against a baseline, another program's report, and the committed SVG pictures.

Expected nodes come from the stacks' settings and the reports' resources, not from the diagram code.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT, preview, stack_settings
from tests.test_pr_document import nat_project, nat_report  # noqa: F401 (module fixtures shared)
from tools.preview import topology
from tools.preview.diagram import dot, dot_digest, mermaid
from tools.preview.diff import resource_diff
from tools.preview.graph import Node, Topology, merge
from tools.preview.markdown import render_markdown
from tools.preview.output import diagram_title


def report(stack: str) -> dict[str, Any]:
    return preview("--stack", stack, "--json").report


def titled(topo: Topology, kind: str) -> dict[str, Node]:
    return {n.lines[0]: n for n in topo.nodes.values() if n.kind == kind}


def edges(topo: Topology) -> set[tuple[str, str, str]]:
    """(source title, target title, label) of every edge."""
    return {(topo.nodes[e.src].lines[0], topo.nodes[e.dst].lines[0], e.label) for e in topo.edges}


def of_type(rep: dict[str, Any], token: str) -> list[dict[str, Any]]:
    return [r for r in rep["resources"] if r["type"] == token]


def ancestors(topo: Topology, node: Node) -> list[str]:
    out, group = [], node.group
    while group is not None:
        out.append(topo.groups[group].kind)
        group = topo.groups[group].parent
    return out


@pytest.mark.parametrize("stack", ["dev", "prod", "fullstack"])
def test_network_nodes_follow_the_resources(stack: str) -> None:
    rep = report(stack)
    topo = topology.build(rep)
    subnets = [n for n in topo.nodes.values() if n.kind == "subnet"]
    resources = of_type(rep, "aws:ec2/subnet:Subnet")
    assert sorted(n.lines[1] for n in subnets) == sorted(r["inputs"]["cidrBlock"] for r in resources)
    assert all(n.lines[0] == "private subnet" for n in subnets)  # no route out: no public subnet
    zones = {topo.groups[n.group].label for n in subnets}
    assert zones == {r["inputs"]["availabilityZone"] for r in resources}
    vpc = of_type(rep, "aws:ec2/vpc:Vpc")[0]["inputs"]
    assert any(g.kind == "vpc" and g.label.endswith(vpc["cidrBlock"]) for g in topo.groups.values())
    interface = [r for r in of_type(rep, "aws:ec2/vpcEndpoint:VpcEndpoint")
                 if r["inputs"]["vpcEndpointType"] == "Interface"]
    endpoints = titled(topo, "endpoint")
    assert set(endpoints) == {r["inputs"]["serviceName"].split(".", 3)[-1] for r in interface}
    count = stack_settings(stack)["network"].get("endpointAzCount") or stack_settings(stack)["network"]["azCount"]
    assert all(len(n.lines[2].removeprefix("ENIs in ").split(", ")) == count for n in endpoints.values())
    assert endpoints["ecr.dkr"].lines[1] == "ECR registry: image pulls"
    (gateway,) = titled(topo, "gateway").values()
    assert gateway.lines == ["s3 gateway endpoint", f"on {len(resources)} route table(s)"]
    buckets = {r["inputs"]["bucket"] for r in of_type(rep, "aws:s3/bucket:Bucket")}
    (s3,) = [r for r in of_type(rep, "aws:ec2/vpcEndpoint:VpcEndpoint") if r["inputs"]["serviceName"].endswith(".s3")]
    policy = json.loads(s3["inputs"]["policy"])
    reached = {b for b in buckets if b in json.dumps(policy)}
    assert {(s, d) for s, d, label in edges(topo) if label == "reaches"} == {("s3 gateway endpoint", "bucket")} \
        and sum(1 for e in topo.edges if e.label == "reaches") == len(reached) >= 1
    assert not titled(topo, "nat") and not titled(topo, "igw") and "internet" not in topo.nodes


@pytest.mark.parametrize("stack", ["dev", "prod", "fullstack"])
def test_workload_nodes_follow_the_settings(stack: str) -> None:
    settings, rep = stack_settings(stack), report(stack)
    topo = topology.build(rep)
    services = titled(topo, "service")
    assert set(services) == {f"service {s['name']}" for s in settings["services"]}
    for s in settings["services"]:
        node = services[f"service {s['name']}"]
        assert ancestors(topo, node) == ["cluster", "vpc"]
        ports = s.get("ports") or [s["port"]]
        sidecar_ports = [p for c in s.get("sidecars", []) for p in c.get("ports", [])]
        assert f"port {', '.join(map(str, [*ports, *sidecar_ports]))}" in node.lines
        assert f"DNS {s['name']}.{stack}.private-fargate.internal" in node.lines
        aliases = [f"{s['name']}:{p}" for p in [*ports, *sidecar_ports]]
        assert f"Service Connect {', '.join(aliases)}" in node.lines
        tasks = s.get("desiredCount", 1)
        assert node.lines[1].startswith(f"{tasks} task{'' if tasks == 1 else 's'}, ")
        assert (f"service {s['name']}", "bucket", "writes") in edges(topo)
    jobs = titled(topo, "job")
    assert set(jobs) == {f"job {j['name']}" for j in settings["jobs"]}
    machines = {r["inputs"]["name"] for r in of_type(rep, "aws:sfn/stateMachine:StateMachine")}
    for j in settings["jobs"]:
        node = jobs[f"job {j['name']}"]
        assert node.lines[1] == f"{j['schedule']} {j['timezone']}" and ancestors(topo, node) == ["cluster", "vpc"]
        assert node.lines[2] in {f"through state machine {m}" for m in machines}  # Scheduler starts the machine
    workers = titled(topo, "worker")
    assert set(workers) == {f"worker {w['name']}" for w in settings.get("workers", [])}
    queues = {r["inputs"]["name"]: r for r in of_type(rep, "aws:sqs/queue:Queue")}
    for w in settings.get("workers", []):
        node = workers[f"worker {w['name']}"]
        (queue,) = [q for q, r in queues.items() if r["inputs"].get("redrivePolicy") and w["name"] in q]
        feeding = [e for e in topo.edges if e.dst == node.id and e.label == "messages"]
        assert [topo.nodes[e.src].lines[1] for e in feeding] == [queue]
        assert topo.nodes[feeding[0].src].lines[2].startswith("dead letters to ")
        scaling = w["autoscaling"]
        assert f"scales {scaling['min']} to {scaling['max']} tasks" in node.lines


def test_prod_load_balancer_scaling_and_access_logs() -> None:
    rep, settings = report("prod"), stack_settings("prod")["services"][0]
    topo = topology.build(rep)
    (lb,) = titled(topo, "lb").values()
    listener = of_type(rep, "aws:lb/listener:Listener")[0]["inputs"]
    name = of_type(rep, "aws:lb/loadBalancer:LoadBalancer")[0]["inputs"]["name"]
    assert lb.lines == ["application load balancer", name, settings["loadBalancer"]["scheme"]]
    found = edges(topo)
    assert ("application load balancer", "service web", f"{listener['protocol']}:{listener['port']} to "
            f"{settings['port']}") in found
    assert ("application load balancer", "bucket", "access logs") in found
    scaling = settings["autoscaling"]
    assert f"scales {scaling['min']} to {scaling['max']} tasks" in titled(topo, "service")["service web"].lines


def test_fullstack_volumes_and_secret_endpoint() -> None:
    settings = stack_settings("fullstack")
    topo = topology.build(report("fullstack"))
    (efs,) = titled(topo, "efs").values()
    assert efs.lines[2] == "mount targets in us-east-1a, us-east-1b"
    db = next(s for s in settings["services"] if s.get("mounts"))
    assert (f"service {db['name']}", "EFS file system", f"mounts {db['mounts'][0]['path']}") in edges(topo)
    assert titled(topo, "endpoint")["ssm"].lines[1] == "SSM Parameter Store: secrets"  # the stack-owned secret


def test_nat_gateway_and_routes(nat_report: dict[str, Any]) -> None:  # noqa: F811
    topo = topology.build(nat_report)
    (nat,) = titled(topo, "nat").values()
    public = [n for n in topo.nodes.values() if n.lines[0] == "public subnet"]
    assert len(public) == 1 and public[0].group == nat.group  # the NAT gateway lives in the public subnet's zone
    found = edges(topo)
    assert ("NAT gateway", "internet gateway", "out") in found and ("internet gateway", "internet", "") in found
    assert ("public subnet", "internet gateway", "0.0.0.0/0") in found
    private = [e for e in topo.edges if topo.nodes[e.src].lines[0] == "private subnet"]
    assert len(private) == len([n for n in topo.nodes.values() if n.lines[0] == "private subnet"]) == 2
    assert all(topo.nodes[e.dst].kind == "nat" and e.label == "0.0.0.0/0" for e in private)


def test_changes_are_marked_both_ways(nat_report: dict[str, Any]) -> None:  # noqa: F811
    dev = report("dev")
    ahead = merge(topology.build(nat_report), topology.build(dev), resource_diff(nat_report, dev).status())
    status = {n.lines[0]: n.status for n in ahead.nodes.values()}
    assert status["NAT gateway"] == status["internet gateway"] == status["public subnet"] == "added"
    assert status["service web"] == status["job report"] == "changed"  # their security groups now reach out
    assert status["ecr.api"] == status["private subnet"] == ""
    assert {e.status for e in ahead.edges if e.label == "0.0.0.0/0"} == {"added"}
    back = merge(topology.build(dev), topology.build(nat_report), resource_diff(dev, nat_report).status())
    removed = {n.lines[0] for n in back.nodes.values() if n.status == "removed"}
    assert removed == {"NAT gateway", "internet gateway", "public subnet", "internet"}
    assert {e.status for e in back.edges if e.label in ("0.0.0.0/0", "out")} == {"removed"}
    text = mermaid(back)
    assert "-.->" in text and "(removed) NAT gateway" in text and "class " in text


TINY = """
import json
import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

vpc = aws.ec2.get_vpc(default=True)
subnets = aws.ec2.get_subnets(filters=[{"name": "vpc-id", "values": [vpc.id]}])
cluster = aws.ecs.Cluster("cluster")
task = aws.ecs.TaskDefinition("app", family="app", cpu="256", memory="512", network_mode="awsvpc",
                              requires_compatibilities=["FARGATE"],
                              container_definitions=json.dumps([{"name": "app", "image": "nginx",
                                                                 "portMappings": [{"containerPort": 80}]}]))
aws.ecs.Service("app", cluster=cluster.arn, task_definition=task.arn, desired_count=2, launch_type="FARGATE",
                network_configuration={"subnets": subnets.ids, "assign_public_ip": True})
awsx.ecs.FargateService("web", cluster=cluster.arn, task_definition_args={"container": {"name": "web",
                        "image": "nginx", "essential": True}})
own = aws.ec2.Vpc("own", cidr_block="10.1.0.0/16")
subnet = aws.ec2.Subnet("own-a", vpc_id=own.id, cidr_block="10.1.0.0/24", availability_zone="us-west-2a")
aws.ec2.Instance("bastion", ami="ami-0abcdef1234567890", instance_type="t3.micro", subnet_id=subnet.id,
                 associate_public_ip_address=True)
group = aws.rds.SubnetGroup("db", subnet_ids=[subnet.id])
aws.rds.Instance("db", engine="postgres", instance_class="db.t3.micro", allocated_storage=20,
                 db_subnet_group_name=group.name, username="app", password=pulumi.Output.secret("hunter2-rds"),
                 skip_final_snapshot=True)
aws.lambda_.Function("fn", runtime="python3.12", handler="x.handler", role="arn:aws:iam::123456789012:role/r",
                     code=pulumi.AssetArchive({"x.py": pulumi.StringAsset("def handler(e, c): pass")}))
"""


@pytest.fixture(scope="module")
def other_program(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A program in the shape of pulumi/examples aws-py-fargate: the default VPC, a service, an awsx service."""
    directory = tmp_path_factory.mktemp("other")
    (directory / "Pulumi.yaml").write_text("name: other\nruntime:\n  name: python\n")
    (directory / "__main__.py").write_text(textwrap.dedent(TINY))
    (directory / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-west-2\n")
    result = preview("--project-dir", directory, "--stack", "dev", "--json")
    assert result.returncode == 1, result.stderr  # the pack's mandatory policies: a public IP, no log group...
    return result.report


def test_another_program_degrades_sensibly(other_program: dict[str, Any]) -> None:
    topo = topology.build(other_program)
    (app,) = titled(topo, "service").values()
    assert app.lines == ["service app", "2 tasks", "port 80", "public IP"]
    assert ancestors(topo, app) == ["cluster", "vpc"] and topo.groups[app.group].parent == "outside"
    assert topo.groups["outside"].label.startswith("network not in this stack")
    (opaque,) = titled(topo, "opaque").values()
    assert opaque.lines[1:] == ["web", "multi-language component: not known offline"]
    (instance,) = titled(topo, "instance").values()
    assert instance.lines == ["EC2 instance", "bastion", "t3.micro", "public IP"]
    assert topo.groups[instance.group].label == "us-west-2a" and ancestors(topo, instance) == ["zone", "vpc"]
    (database,) = titled(topo, "database").values()
    assert database.lines[2] == "postgres" and topo.groups[database.group].label.startswith("VPC own 10.1.0.0/16")
    (function,) = titled(topo, "function").values()
    assert function.lines == ["Lambda function", "fn", "python3.12"] and function.group is None
    assert "hunter2" not in render_markdown(other_program)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_committed_pictures_are_current(stack: str) -> None:
    """docs/topology-<stack>.svg carries the SHA-256 of the DOT it was drawn from; the DOT is compared, not the
    drawing, so the test does not depend on the Graphviz version. Regenerate: README, "Pull-request comment"."""
    rep = report(stack)
    source = dot(topology.build(rep), diagram_title(rep)).source
    picture = (ROOT / "docs" / f"topology-{stack}.svg").read_text()
    assert f"<!-- dot-source-sha256: {dot_digest(source)} -->" in picture, (
        f"docs/topology-{stack}.svg is stale: python3 dev.py preview --stack {stack} --format svg "
        f"--output docs/topology-{stack}.svg")
    # the drawing itself holds every node of the topology (Graphviz titles each with its id)
    titles = set(re.findall(r"<title>([^<]*)</title>", picture))
    assert {node.id for node in topology.build(rep).nodes.values()} <= titles


def test_svg_needs_dot_and_says_so_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` there
    result = preview("--stack", "dev", "--format", "svg", "--output", tmp_path / "t.svg")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "`dot` is not on PATH" in result.stderr and "apt-get install graphviz" in result.stderr


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)")
def test_svg_is_drawn(tmp_path: Path) -> None:
    out = tmp_path / "dev.svg"
    assert preview("--stack", "dev", "--format", "svg", "--output", out).returncode == 0
    text = out.read_text()
    assert "<svg" in text and "dot-source-sha256" in text and "service web" in text and "ecr.dkr" in text
