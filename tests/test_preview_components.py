"""Real program shapes that used to stop the offline preview: provider-computed outputs in `up` mode,
multi-language components, resources passed into components.

Each program is written here in the shape of a public example (nothing copied): pulumi/examples
`aws-py-apigateway-lambda-serverless` (a Lambda permission on `execution_arn + "/*/*"`), `aws-py-eks`
(a kubeconfig from the cluster's endpoint and certificate authority), pulumi/templates
`container-aws-python` (awsx ApplicationLoadBalancer, Repository and FargateService, the URL from
`lb.load_balancer.dns_name`), `aws-py-hub-and-spoke-network` (components given VPC and transit
gateway resources).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support import preview
from tests.test_preview import res, write_project

COMPUTED_OUTPUTS_SHAPE = """
import json
import pulumi
import pulumi_aws as aws

trust = lambda service: json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})
role = aws.iam.Role("fn", assume_role_policy=trust("lambda.amazonaws.com"))
fn = aws.lambda_.Function("fn", role=role.arn, runtime="python3.12", handler="main.handler",
                          code=pulumi.AssetArchive({"main.py": pulumi.StringAsset("def handler(e, c): return {}")}))
api = aws.apigateway.RestApi("api")
aws.lambda_.Permission("invoke", action="lambda:InvokeFunction", function=fn.name,
                       principal="apigateway.amazonaws.com", source_arn=api.execution_arn.apply(lambda a: a + "/*/*"))

cluster_role = aws.iam.Role("eks", assume_role_policy=trust("eks.amazonaws.com"))
cluster = aws.eks.Cluster("eks", role_arn=cluster_role.arn, vpc_config={"subnet_ids": ["subnet-0a", "subnet-0b"]})
kubeconfig = pulumi.Output.all(cluster.endpoint, cluster.certificate_authority.data, cluster.name).apply(
    lambda a: json.dumps({"clusters": [{"cluster": {"server": a[0], "certificate-authority-data": a[1]},
                                        "name": a[2]}]}))
pulumi.export("sourceArn", pulumi.Output.concat(api.execution_arn, "/*/*"))
pulumi.export("invokeArn", fn.invoke_arn)
pulumi.export("kubeconfig", kubeconfig)
pulumi.export("issuer", cluster.identities[0].oidcs[0].issuer)
"""

AWSX_SHAPE = """
import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

lb = awsx.lb.ApplicationLoadBalancer("lb")
cluster = aws.ecs.Cluster("cluster")
repo = awsx.ecr.Repository("repo", force_delete=True)
container = {"name": "app", "image": "nginx:1.27", "cpu": 256, "memory": 512, "essential": True,
             "port_mappings": [{"container_port": 80, "target_group": lb.default_target_group}]}
service = awsx.ecs.FargateService("service", cluster=cluster.arn, assign_public_ip=True,
                                  task_definition_args={"container": container})
pulumi.export("url", pulumi.Output.concat("http://", lb.load_balancer.dns_name))
pulumi.export("repositoryUrl", repo.url)
"""

COMPONENT_INPUTS_SHAPE = """
import pulumi
import pulumi_aws as aws


class Spoke(pulumi.ComponentResource):
    def __init__(self, name, vpc, gateway, opts=None):
        super().__init__("acme:network:Spoke", name, {"vpc": vpc, "gateway": gateway}, opts)
        subnet = aws.ec2.Subnet(f"{name}-subnet", vpc_id=vpc.id, cidr_block=f"10.0.{len(name)}.0/24",
                                opts=pulumi.ResourceOptions(parent=self))
        aws.ec2transitgateway.VpcAttachment(f"{name}-attachment", transit_gateway_id=gateway.id, vpc_id=vpc.id,
                                            subnet_ids=[subnet.id], opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"vpc": vpc, "subnet": subnet})


gateway = aws.ec2transitgateway.TransitGateway("tgw")
vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
spokes = [Spoke(name, vpc, gateway) for name in ("a", "bb", "ccc")]
pulumi.export("spokes", [s.urn for s in spokes])
"""


def run(tmp_path: Path, main: str, mode: str) -> dict[str, Any]:
    directory = write_project(tmp_path / "p", main, {"aws:region": "us-east-1"})
    result = preview("--project-dir", directory, "--stack", "t", "--json", "--mode", mode)
    assert result.returncode in (0, 1), result.stderr
    return result.report


class TestComputedOutputs:
    """`up` fills in what the provider computes, from the SDK's schema; before, these were None and crashed."""

    def test_up_mode_values_have_aws_formats(self, tmp_path: Path) -> None:
        out = run(tmp_path, COMPUTED_OUTPUTS_SHAPE, "up")["outputs"]
        assert re.fullmatch(r"arn:aws:execute-api:us-east-1:123456789012:\w+/\*/\*", out["sourceArn"])
        assert re.fullmatch(r"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                            r"arn:aws:lambda:us-east-1:123456789012:function:[\w-]+/invocations", out["invokeArn"])
        server = json.loads(out["kubeconfig"])["clusters"][0]["cluster"]
        assert re.fullmatch(r"https://[0-9A-F]{32}\.gr7\.us-east-1\.eks\.amazonaws\.com", server["server"])
        assert base64.b64decode(server["certificate-authority-data"]).startswith(b"-----BEGIN CERTIFICATE-----")
        assert out["issuer"].startswith("https://oidc.eks.us-east-1.amazonaws.com/id/")

    def test_databases_get_the_address_and_port_rds_gives(self, tmp_path: Path) -> None:
        """pulumi/examples aws-py-wordpress-fargate-rds's shape: a MySQL instance (no port given) whose
        `address` and `port` go into a container's environment, and a PostgreSQL Aurora cluster."""
        main = """
import pulumi
import pulumi_aws as aws

db = aws.rds.Instance("db", engine="mysql", instance_class="db.t3.micro", allocated_storage=20,
                      username="admin", password="example-only", skip_final_snapshot=True)
aurora = aws.rds.Cluster("aurora", engine="aurora-postgresql", master_username="app",
                         master_password="example-only", skip_final_snapshot=True)
pulumi.export("db", pulumi.Output.all(db.address, db.port, db.endpoint))
pulumi.export("aurora", pulumi.Output.all(aurora.endpoint, aurora.port))
"""
        out = run(tmp_path, main, "up")["outputs"]
        address, port, endpoint = out["db"]
        assert re.fullmatch(r"db-[0-9a-f]{7}\.c[0-9a-f]{12}\.us-east-1\.rds\.amazonaws\.com", address)
        assert port == 3306 and endpoint == f"{address}:3306"
        host, aurora_port = out["aurora"]
        assert host.endswith(".us-east-1.rds.amazonaws.com") and ":" not in host and aurora_port == 5432

    def test_preview_mode_leaves_them_unknown(self, tmp_path: Path) -> None:
        report = run(tmp_path, COMPUTED_OUTPUTS_SHAPE, "preview")
        assert report["outputs"]["sourceArn"] == "<unknown>"
        assert res(report, "aws:eks/cluster:Cluster")["outputs"]["certificateAuthority"] == "<unknown>"

    def test_up_mode_is_deterministic(self, tmp_path: Path) -> None:
        first = run(tmp_path / "1", COMPUTED_OUTPUTS_SHAPE, "up")
        second = run(tmp_path / "2", COMPUTED_OUTPUTS_SHAPE, "up")
        assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


@pytest.mark.parametrize("mode", ["preview", "up"])
class TestMultiLanguageComponents:
    """awsx components are opaque offline: each says which policies cannot see inside it; the program runs."""

    def test_advisory_per_component(self, tmp_path: Path, mode: str) -> None:
        report = run(tmp_path, AWSX_SHAPE, mode)
        opaque = {v["urn"].rsplit("::", 1)[-1]: v for v in report["violations"] if v["policy"] == "opaque-component"}
        assert set(opaque) == {"lb", "repo"} and all(v["level"] == "advisory" for v in opaque.values())
        blind = opaque["lb"]["message"]
        assert "awsx:lb:ApplicationLoadBalancer 'lb' is a multi-language component" in blind
        for policy in ("security-group-no-public-ingress", "alb-https-only", "required-tags"):
            assert policy in blind
        assert "ecs-container-logging" not in blind and "s3-" not in blind
        assert "ecr-image-scanning" in opaque["repo"]["message"] and "alb-" not in opaque["repo"]["message"]
        # The pack itself reads the awsx service's inputs and says what it cannot see inside: no second advisory.
        (inside,) = [v for v in report["violations"] if v["policy"] == "cannot-verify" and v["urn"]]
        assert inside["urn"].endswith("::service") and "awsx:ecs:FargateService service is one opaque" in \
            inside["message"]
        (public_ip,) = [v for v in report["violations"] if v["policy"] == "ecs-service-no-public-ip"]
        assert public_ip["level"] == "mandatory"
        unpriced = {u["name"]: u["reason"] for u in report["cost"]["unpriced"]}
        assert set(unpriced) >= {"lb", "service"} and "multi-language component" in unpriced["service"]
        assert any(n.startswith("cost: not in the total:") and "awsx:ecs:FargateService" in n
                   for n in report["notes"])

    def test_outputs(self, tmp_path: Path, mode: str) -> None:
        out = run(tmp_path, AWSX_SHAPE, mode)["outputs"]
        if mode == "preview":
            assert out["url"] == "<unknown>"
        else:
            assert re.fullmatch(r"http://lb-[0-9a-f]{7}-\d+\.us-east-1\.elb\.amazonaws\.com", out["url"])
            assert re.fullmatch(r"123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com/[\w-]+", out["repositoryUrl"])


@pytest.mark.parametrize("mode", ["preview", "up"])
def test_resources_passed_into_components(tmp_path: Path, mode: str) -> None:
    """Before: "Task ... got Future ... attached to a different loop" (pulumi/pulumi#6561)."""
    report = run(tmp_path, COMPONENT_INPUTS_SHAPE, mode)
    spokes = [r for r in report["resources"] if r["type"] == "acme:network:Spoke"]
    vpc = res(report, "aws:ec2/vpc:Vpc")
    assert [s["inputs"]["vpc"] for s in spokes] == [vpc["urn"]] * 3
    attachments = [r for r in report["resources"] if r["type"].endswith("VpcAttachment")]
    assert len(attachments) == 3 and all(a["parent"] in {s["urn"] for s in spokes} for a in attachments)
    assert report["violations"] == [v for v in report["violations"] if v["level"] == "advisory"]


def test_every_policy_of_the_pack_says_what_it_examines() -> None:
    """The opaque-component advisory names policies by what they examine: each policy needs its subjects."""
    from policy.policies import POLICIES
    from tools.preview.multilang import PACK_CANNOT_VERIFY, SUBJECTS

    names = {p.name for p in POLICIES} - {PACK_CANNOT_VERIFY}
    assert set(SUBJECTS) == names, f"tools/preview/multilang.py SUBJECTS: add {sorted(names - set(SUBJECTS))}, " \
                                   f"drop {sorted(set(SUBJECTS) - names)}"
