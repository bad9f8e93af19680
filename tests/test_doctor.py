"""tools.doctor against a stack deployed in moto: every check passing, then each failing for its own reason.

moto has no IAM policy simulator and no pull-through cache rules: botocore's Stubber answers those
calls (and so checks the doctor asks about the right role, action and resource).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from tests.aws_stack import ACCOUNT, CLUSTER, IMAGE, REGION, REPO, TAG, Stack, allowed, stop_task, write_logs
from tools.doctor.__main__ import main
from tools.doctor.checks import policy_allows


def doctor(stack: Stack, *argv: str, decisions: tuple[str, ...] = (), sleep: Any = None
           ) -> tuple[int, list[str]]:
    """Run the doctor; `decisions` answer its SimulatePrincipalPolicy calls, in order."""
    lines: list[str] = []
    iam = stack.session.client("iam")
    with Stubber(iam) as stub:
        for decision in decisions:
            stub.add_response("simulate_principal_policy", allowed(decision))
        kwargs: dict[str, Any] = {"sleep": sleep} if sleep else {}
        code = main([*argv, "--outputs", str(stack.file)], session=stack.session, out=lines.append, **kwargs)
        stub.assert_no_pending_responses()
    return code, lines


def failures(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines if line.strip().startswith("FAIL")]


class TestStaticChecks:
    def test_everything_in_place(self, deployed: Stack) -> None:
        code, lines = doctor(deployed, decisions=("allowed",))  # web's secret
        assert code == 0 and failures(lines) == [] and lines[-1] == "0 failed, 0 warnings, 15 ok"
        web = lines[lines.index("service web") + 1:lines.index("job report")]
        assert [line.split(":")[0].strip() for line in web] == [
            "ok    endpoint ecr.api", "ok    endpoint ecr.dkr", "ok    endpoint logs",
            "ok    endpoint secretsmanager", "ok    endpoint ssmmessages", "ok    endpoint s3 (gateway)",
            "ok    image of web", "ok    secret db-password-" + deployed.secret_arn.rsplit("-", 1)[-1],
            "ok    log group"]

    def test_endpoints_in_one_az_warn_but_pass(self, aws: Any, tmp_path: Any) -> None:
        from tests.aws_stack import deploy

        stack = deploy(aws, endpoint_azs=1)
        stack.file, stack.session = tmp_path / "o.json", aws
        stack.write()
        code, lines = doctor(stack, "report")
        warned = [line for line in lines if line.startswith("  warn")]
        assert code == 0 and len(warned) == 3 and "tasks in us-east-1b cross AZs" in warned[0]

    def test_deleted_endpoint(self, deployed: Stack) -> None:
        endpoint = deployed.endpoints["ecr.dkr"]
        deployed.session.client("ec2").delete_vpc_endpoints(VpcEndpointIds=[endpoint])
        code, lines = doctor(deployed, "report")
        assert code == 1
        assert failures(lines) == [f"FAIL  endpoint ecr.dkr: {endpoint} is deleted -> run `pulumi up`: the stack "
                                   "creates it (`pulumi refresh` first if Pulumi still thinks it exists)"]

    def test_private_dns_off(self, deployed: Stack) -> None:
        ec2 = deployed.session.client("ec2")
        ec2.delete_vpc_endpoints(VpcEndpointIds=[deployed.endpoints["logs"]])
        group = deployed.outputs["endpointSecurityGroupId"]
        new = ec2.create_vpc_endpoint(VpcId=deployed.outputs["vpcId"], ServiceName=f"com.amazonaws.{REGION}.logs",
                                      VpcEndpointType="Interface", SubnetIds=deployed.subnets,
                                      SecurityGroupIds=[group], PrivateDnsEnabled=False)["VpcEndpoint"]
        code, lines = doctor(deployed, "report")
        (line,) = failures(lines)
        assert code == 1 and line.startswith(f"FAIL  endpoint logs: {new['VpcEndpointId']} has private DNS off")
        assert f"--vpc-endpoint-id {new['VpcEndpointId']} --private-dns-enabled" in line

    def test_missing_s3_route(self, deployed: Stack) -> None:
        table, subnet = deployed.route_tables[1], deployed.subnets[1]
        deployed.session.client("ec2").modify_vpc_endpoint(VpcEndpointId=deployed.endpoints["s3"],
                                                           RemoveRouteTableIds=[table])
        code, lines = doctor(deployed, "report")
        (line,) = failures(lines)
        assert code == 1 and f"is not on {table}, the route table of the task subnet {subnet}" in line
        assert line.endswith(f"-> associate {deployed.endpoints['s3']} with {table} (`pulumi up` restores it)")

    def test_s3_policy_without_the_layer_bucket(self, deployed: Stack) -> None:
        policy = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*",
                                 "Resource": "arn:aws:s3:::my-bucket/*"}]}
        deployed.session.client("ec2").modify_vpc_endpoint(VpcEndpointId=deployed.endpoints["s3"],
                                                           PolicyDocument=json.dumps(policy))
        code, lines = doctor(deployed, "report")
        (line,) = failures(lines)
        assert code == 1
        assert "does not allow s3:GetObject on arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*" in line

    def test_endpoint_group_closed_to_the_tasks(self, deployed: Stack) -> None:
        deployed.session.client("ec2").revoke_security_group_ingress(
            GroupId=deployed.outputs["endpointSecurityGroupId"], IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
        code, lines = doctor(deployed, "report")
        assert code == 1 and len(failures(lines)) == 3  # ecr.api, ecr.dkr, logs
        assert "admit 443 neither from the tasks' group" in failures(lines)[0]

    def test_secret_in_another_region(self, aws: Any, tmp_path: Any) -> None:
        from tests.aws_stack import deploy

        stack = deploy(aws, secret_region="eu-west-1")
        stack.file, stack.session = tmp_path / "o.json", aws
        stack.write()
        code, lines = doctor(stack, "web", decisions=())
        (line,) = failures(lines)
        assert code == 1 and f"{stack.secret_arn} is in eu-west-1, the stack in us-east-1" in line
        assert "replicate the secret to us-east-1" in line

    def test_secret_the_role_may_not_read(self, deployed: Stack) -> None:
        code, lines = doctor(deployed, "web", decisions=("implicitDeny",))
        (line,) = failures(lines)
        assert code == 1 and "may not secretsmanager:GetSecretValue on it" in line

    def test_simulator_asked_about_the_execution_role_and_the_secret(self, deployed: Stack) -> None:
        iam = deployed.session.client("iam")
        with Stubber(iam) as stub:
            stub.add_response("simulate_principal_policy", allowed(), {
                "PolicySourceArn": deployed.execution_roles["web"], "ActionNames": ["secretsmanager:GetSecretValue"],
                "ResourceArns": [deployed.secret_arn]})
            assert main(["web", "--outputs", str(deployed.file)], session=deployed.session, out=lambda _: None) == 0

    def test_missing_image(self, deployed: Stack) -> None:
        deployed.session.client("ecr").batch_delete_image(repositoryName=REPO, imageIds=[{"imageTag": TAG}])
        code, lines = doctor(deployed, "report")
        (line,) = failures(lines)
        assert code == 1 and f"FAIL  image of report: {IMAGE} is not in ECR (ImageNotFoundException)" in line

    def test_image_of_a_cache_not_pulled_yet_warns(self, deployed: Stack) -> None:
        uri = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/private-fargate-dev-ecr-public/docker/library/nginx:1.27"
        ecs = deployed.session.client("ecs")
        td = ecs.register_task_definition(
            family=f"{CLUSTER}-report", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256",
            memory="512", containerDefinitions=[{"name": "report", "image": uri, "cpu": 256, "memory": 512}])
        deployed.outputs["jobs"]["report"]["taskDefinitionArn"] = td["taskDefinition"]["taskDefinitionArn"]
        deployed.write()
        with Stubber(deployed.session.client("ecr")) as stub:
            stub.add_client_error("describe_images", "RepositoryNotFoundException")
            stub.add_response("describe_pull_through_cache_rules", {"pullThroughCacheRules": [
                {"ecrRepositoryPrefix": "private-fargate-dev-ecr-public", "upstreamRegistryUrl": "public.ecr.aws"}]})
            code, lines = doctor(deployed, "report", decisions=())
        line = next(line for line in lines if "image of report" in line)
        assert code == 0 and line.startswith("  warn  image of report: private-fargate-dev-ecr-public/docker/library/"
                                             "nginx is not cached yet")

    def test_missing_log_group(self, deployed: Stack) -> None:
        deployed.session.client("logs").delete_log_group(logGroupName="/ecs/private-fargate/dev/report")
        code, lines = doctor(deployed, "report")
        assert code == 1
        assert failures(lines)[0].startswith("FAIL  log group: /ecs/private-fargate/dev/report is missing")

    def test_nat_route_turns_a_missing_endpoint_into_a_warning(self, deployed: Stack) -> None:
        ec2 = deployed.session.client("ec2")
        ec2.delete_vpc_endpoints(VpcEndpointIds=[deployed.endpoints["logs"]])
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=deployed.outputs["vpcId"])
        ec2.create_route(RouteTableId=deployed.route_tables[0], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        code, lines = doctor(deployed, "report")
        assert code == 0 and any(line.startswith("  warn  endpoint logs:") for line in lines)


class TestArguments:
    def test_unknown_workload_lists_the_known(self, deployed: Stack, capsys: pytest.CaptureFixture[str]) -> None:
        code = main(["nope", "--outputs", str(deployed.file)], session=deployed.session, out=lambda _: None)
        assert code == 2
        assert capsys.readouterr().err == "error: no job or service named 'nope'; known: web (service), report (job)\n"

    def test_region_without_the_stack(self, deployed: Stack, capsys: pytest.CaptureFixture[str]) -> None:
        code = main(["--outputs", str(deployed.file), "--region", "eu-west-1"], session=deployed.session,
                    out=lambda _: None)
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1
        assert err.startswith(f"error: the cluster {CLUSTER} is not in eu-west-1")

    def test_expired_credentials(self, deployed: Stack, capsys: pytest.CaptureFixture[str]) -> None:
        with Stubber(deployed.session.client("ecs")) as stub:
            stub.add_client_error("describe_clusters", "ExpiredTokenException", "The security token included in "
                                                                                "the request is expired")
            code = main(["--outputs", str(deployed.file)], session=deployed.session, out=lambda _: None)
        assert code == 2 and capsys.readouterr().err == (
            "error: the AWS credentials have expired (ExpiredTokenException): refresh them (`aws sso login`, a new "
            "session) and run again\n")


def test_policy_reading() -> None:
    resource = "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/sha256/x"
    assert policy_allows(None, "s3:GetObject", resource) is True  # no policy: AWS's default allows all
    allow = {"Effect": "Allow", "Principal": "*", "Action": "s3:Get*", "Resource": "arn:aws:s3:::prod-*/*"}
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::prod-us-east-1-*"}
    assert policy_allows(json.dumps({"Statement": [allow]}), "s3:GetObject", resource) is True
    assert policy_allows(json.dumps({"Statement": [allow, deny]}), "s3:GetObject", resource) is False
    conditional = {**allow, "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}
    assert policy_allows(json.dumps({"Statement": conditional}), "s3:GetObject", resource) is None


# -- the probe ------------------------------------------------------------------------------------------------


class Probe:
    """Plays the probe task from the doctor's sleep seam: writes its PROBE lines, then stops it."""

    def __init__(self, stack: Stack, hops: list[dict[str, Any]], exit_code: int | None = 0, reason: str = "",
                 interrupt: bool = False):
        self.stack, self.hops, self.exit_code, self.reason, self.interrupt = stack, hops, exit_code, reason, interrupt
        self.task_arn = ""
        self.ticks = 0

    def sleep(self, _: float) -> None:
        self.ticks += 1
        assert self.ticks < 20, "the doctor kept waiting"
        if self.interrupt:
            raise KeyboardInterrupt
        ecs = self.stack.session.client("ecs")
        (self.task_arn,) = ecs.list_tasks(cluster=CLUSTER, startedBy="tools.doctor")["taskArns"]
        if self.ticks == 1 and self.exit_code is not None:
            write_logs(self.stack.session, "/ecs/private-fargate/dev/web",
                       f"doctor/probe/{self.task_arn.rsplit('/', 1)[-1]}",
                       *[f"PROBE {json.dumps(h)}" for h in self.hops])
        if self.ticks == 2:
            stop_task(self.stack.session, self.task_arn, self.exit_code, self.reason or "Essential container exited")


HOPS = [{"hop": "dns", "target": "ecr.dkr", "ok": True, "detail": "x -> 10.0.0.7"},
        {"hop": "layer", "target": "prod-us-east-1-starport-layer-bucket.s3.amazonaws.com", "ok": True,
         "detail": "HTTP 206"},
        {"hop": "done", "target": "", "ok": True, "detail": "0 failed"}]


@pytest.fixture
def recorded(deployed: Stack) -> Iterator[list[dict[str, Any]]]:
    """The RegisterTaskDefinition and RunTask requests the doctor makes."""
    calls: list[dict[str, Any]] = []
    events = deployed.session.client("ecs").meta.events
    for op in ("RegisterTaskDefinition", "RunTask"):
        events.register(f"provide-client-params.ecs.{op}", lambda params, **_: calls.append(dict(params)),
                        unique_id=f"record-{op}")
    yield calls
    for op in ("RegisterTaskDefinition", "RunTask"):
        events.unregister(f"provide-client-params.ecs.{op}", unique_id=f"record-{op}")


class TestProbe:
    @pytest.fixture(autouse=True)
    def container_memory_for_moto(self, deployed: Stack) -> Iterator[None]:
        """moto's RunTask adds up container-level memory, which Fargate does not need: add it after recording."""
        def add(params: dict[str, Any], **_: Any) -> None:
            for container in params.get("containerDefinitions", []):
                container.setdefault("memory", 512)

        events = deployed.session.client("ecs").meta.events
        events.register("before-parameter-build.ecs.RegisterTaskDefinition", add, unique_id="moto-memory")
        yield
        events.unregister("before-parameter-build.ecs.RegisterTaskDefinition", unique_id="moto-memory")

    def test_probe_runs_in_the_workloads_network_and_roles(self, deployed: Stack,
                                                           recorded: list[dict[str, Any]]) -> None:
        player = Probe(deployed, HOPS)
        code, lines = doctor(deployed, "web", "--probe", decisions=("allowed", "allowed"), sleep=player.sleep)
        assert code == 0
        register, run = recorded
        web = deployed.outputs["services"]["web"]
        assert register["family"] == f"{CLUSTER}-doctor"
        assert register["executionRoleArn"] == register["taskRoleArn"] == deployed.execution_roles["web"]
        (container,) = register["containerDefinitions"]
        assert container["image"] == IMAGE and container["command"] == ["probe"]
        spec = json.loads(container["environment"][0]["value"])
        assert sorted(spec["endpoints"]) == ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssmmessages"]
        assert spec["endpoints"]["ecr.dkr"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
        assert spec["secrets"] == [deployed.secret_arn] and spec["image"] == IMAGE
        assert container["logConfiguration"]["options"]["awslogs-stream-prefix"] == "doctor"
        assert run["networkConfiguration"]["awsvpcConfiguration"] == {
            "subnets": web["subnetIds"], "securityGroups": [web["securityGroupId"]], "assignPublicIp": "DISABLED"}
        assert [line for line in lines if "probe" in line and line.startswith("  ok")] == [
            "  ok    probe dns ecr.dkr: x -> 10.0.0.7",
            "  ok    probe layer prod-us-east-1-starport-layer-bucket.s3.amazonaws.com: HTTP 206",
            "  ok    probe logs: the probe's lines arrived through the logs endpoint"]
        revision = run["taskDefinition"]
        described = deployed.session.client("ecs").describe_task_definition(taskDefinition=revision)
        assert described["taskDefinition"]["status"] == "INACTIVE"  # deregistered afterwards

    def test_a_failed_hop_says_what_to_change(self, deployed: Stack) -> None:
        hops = [{"hop": "dns", "target": "ecr.api", "ok": False,
                 "detail": "api.ecr.us-east-1.amazonaws.com resolves to 52.46.1.1, outside the VPC's 10.0.0.0/16"},
                {"hop": "done", "target": "", "ok": False, "detail": "1 failed"}]
        code, lines = doctor(deployed, "web", "--probe", decisions=("allowed", "allowed"),
                             sleep=Probe(deployed, hops, exit_code=1).sleep)
        (line,) = failures(lines)
        assert code == 1 and line.startswith("FAIL  probe dns ecr.api: api.ecr.us-east-1.amazonaws.com resolves to")
        assert line.endswith("-> turn on private DNS for the ecr.api endpoint (and DNS support and DNS hostnames on "
                             "the VPC); `pulumi up` restores the stack's endpoints")

    def test_a_probe_that_never_ran(self, deployed: Stack) -> None:
        reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s): i/o timeout"
        code, lines = doctor(deployed, "web", "--probe", decisions=("allowed", "allowed"),
                             sleep=Probe(deployed, [], exit_code=None, reason=reason).sleep)
        (line,) = failures(lines)
        assert code == 1 and line.startswith(f"FAIL  probe start: the probe task never ran: {reason}")
        assert "-> the task could not pull its image: check the ecr.api, ecr.dkr and S3 gateway endpoints" in line

    def test_ctrl_c_stops_the_probe_and_deregisters(self, deployed: Stack, recorded: list[dict[str, Any]],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
        player = Probe(deployed, HOPS, interrupt=True)
        code, _ = doctor(deployed, "web", "--probe", decisions=("allowed", "allowed"), sleep=player.sleep)
        assert code == 130 and capsys.readouterr().err == "interrupted\n"
        ecs = deployed.session.client("ecs")
        (task,) = ecs.describe_tasks(cluster=CLUSTER, tasks=ecs.list_tasks(
            cluster=CLUSTER, startedBy="tools.doctor", desiredStatus="STOPPED")["taskArns"])["tasks"]
        assert task["lastStatus"] == "STOPPED"
        revision = recorded[1]["taskDefinition"]
        assert ecs.describe_task_definition(taskDefinition=revision)["taskDefinition"]["status"] == "INACTIVE"

    def test_no_probe_image(self, deployed: Stack) -> None:
        deployed.write(probeImage=None)
        code, lines = doctor(deployed, "report", "--probe", decisions=())
        assert code == 0 and any(line.startswith("  warn  probe: the stack has no probe image") for line in lines)
