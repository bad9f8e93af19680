"""Services: private tasks, safe deployments, capacity, Service Connect, load balancers, autoscaling."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import (
    BUCKET,
    EGRESS,
    HTTP_NAMESPACE,
    INGRESS,
    LB,
    LISTENER,
    SCALING_POLICY,
    SCALING_TARGET,
    SERVICE,
    SG,
    SUBNET,
    TASK_DEF,
    TG,
    UNKNOWN,
    Registered,
    run_main,
    simulate,
    stack_settings,
)
from tools.preview.child import ProgramFailed

ACCOUNT = "123456789012"
CERT = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
PUBLIC = {"public": "public.ecr.aws/nginx/nginx:1.27"}


def svc(name: str = "web", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": PUBLIC, "port": 8080, **extra}


def private_subnets(run: Registered) -> list[dict[str, Any]]:
    return [s for s in run.of_type(SUBNET) if "-private-" in s["name"]]


def public_subnets(run: Registered) -> list[dict[str, Any]]:
    return [s for s in run.of_type(SUBNET) if "-public-" in s["name"]]


def ingress_sources(run: Registered, group: dict[str, Any]) -> set[tuple[str, int]]:
    """(source security group URN or CIDR, port) of every ingress rule on `group`."""
    out = set()
    for rule in run.of_type(INGRESS):
        if rule["propertyDependencies"]["securityGroupId"] != [group["urn"]]:
            continue
        refs = rule["propertyDependencies"].get("referencedSecurityGroupId")
        out.add((refs[0] if refs else rule["inputs"]["cidrIpv4"], rule["inputs"]["fromPort"]))
    return out


@pytest.fixture(scope="module")
def public_lb() -> Registered:
    lb = {"scheme": "internet-facing", "certificateArn": CERT, "accessLogs": True}
    return simulate(run_main, {"services": [svc(loadBalancer=lb, desiredCount=2,
                                                autoscaling={"min": 2, "max": 6, "memoryTarget": 70})]},
                    mode="up")


class TestEcsService:
    def test_private_no_public_ip(self, public_lb: Registered) -> None:
        net = public_lb.one(SERVICE)["inputs"]["networkConfiguration"]
        assert net["assignPublicIp"] is False
        assert sorted(net["subnets"]) == sorted(s["id"] for s in private_subnets(public_lb))
        assert not set(net["subnets"]) & {s["id"] for s in public_subnets(public_lb)}
        assert net["securityGroups"] == [public_lb.one(SG, "service-web-sg")["id"],
                                         public_lb.one(SG, "service-connect-sg")["id"]]

    def test_safe_deployments(self, public_lb: Registered) -> None:
        service = public_lb.one(SERVICE)["inputs"]
        assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert (service["deploymentMinimumHealthyPercent"], service["deploymentMaximumPercent"]) == (100, 200)
        assert service["platformVersion"] == "LATEST" and service["name"] == "web"
        assert service["propagateTags"] == "SERVICE" and service["enableEcsManagedTags"] is True
        # protect is on (the default): `pulumi up` waits for the new tasks and fails when they roll back
        assert service["waitForSteadyState"] is True and service["enableExecuteCommand"] is False
        assert service["taskDefinition"] == public_lb.one(TASK_DEF)["outputs"]["arn"]
        assert service["cluster"] == f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/private-fargate-dev"

    @pytest.mark.parametrize("capacity,mix,expected", [
        ("on-demand", None, [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]),
        ("spot", None, [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]),
        ("mixed", None, [{"capacityProvider": "FARGATE", "weight": 1, "base": 1},
                         {"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0}]),
        ("mixed", {"base": 2, "onDemandWeight": 0, "spotWeight": 1},
         [{"capacityProvider": "FARGATE", "weight": 0, "base": 2},
          {"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]),
    ])
    def test_capacity_strategies(self, capacity: str, mix: dict | None, expected: list, run_program: Any) -> None:
        entry = svc(capacity=capacity, **({"capacityMix": mix} if mix else {}))
        run = run_program({"services": [entry]})
        assert run.one(SERVICE)["inputs"]["capacityProviderStrategies"] == expected
        assert run.outputs["services"]["web"]["capacityProviderStrategy"] == expected
        assert "launchType" not in run.one(SERVICE)["inputs"]

    def test_exec_and_steady_state(self, run_program: Any) -> None:
        run = run_program({"services": [svc(exec=True, waitForSteadyState=True)]})
        service = run.one(SERVICE)["inputs"]
        assert service["enableExecuteCommand"] is True and service["waitForSteadyState"] is True
        assert any(e["inputs"]["serviceName"].endswith(".ssmmessages")
                   for e in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint"))

    def test_ordered_after_the_cluster_and_log_bucket(self, public_lb: Registered) -> None:
        service = public_lb.one(SERVICE)
        # depends_on a component means on its children: capacity providers, the log bucket's policy.
        capacity = public_lb.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
        assert capacity["urn"] in service["dependencies"]
        assert public_lb.one("aws:s3/bucketPolicy:BucketPolicy", "access-logs-policy")["urn"] in public_lb.one(LB)[
            "dependencies"]

    def test_replacing_inputs_are_in_the_names(self, run_program: Any) -> None:
        a = run_program({"services": [svc(loadBalancer={})]})
        b = run_program({"services": [svc(port=9090, loadBalancer={})]})
        assert a.one(TG)["inputs"]["name"] != b.one(TG)["inputs"]["name"]
        lb = {"scheme": "internet-facing", "certificateArn": CERT}
        c = run_program({"services": [svc(loadBalancer=lb)]})
        assert a.one(LB)["inputs"]["name"] != c.one(LB)["inputs"]["name"]

    def test_desired_count_ignored_only_with_autoscaling(self, public_lb: Registered, run_program: Any) -> None:
        assert public_lb.options[public_lb.one(SERVICE)["urn"]]["ignoreChanges"] == ["desiredCount"]
        plain = run_program({"services": [svc(desiredCount=3)]})
        assert plain.options[plain.one(SERVICE)["urn"]]["ignoreChanges"] == []
        assert plain.one(SERVICE)["inputs"]["desiredCount"] == 3


@pytest.fixture(scope="module")
def trio() -> Registered:
    """Two services with ports and one without."""
    return simulate(run_main, {"services": [svc("api", port=9000), svc("web"), {"name": "worker", "image": PUBLIC}]})


class TestServiceConnect:
    def test_namespace_for_the_stack(self, trio: Registered) -> None:
        namespace = trio.one(HTTP_NAMESPACE)
        assert namespace["inputs"]["name"] == "private-fargate-dev"
        cluster = trio.one("aws:ecs/cluster:Cluster")
        assert cluster["propertyDependencies"]["serviceConnectDefaults"] == [namespace["urn"]]

    def test_services_reachable_by_name(self, trio: Registered) -> None:
        services = {s["inputs"]["name"]: s for s in trio.of_type(SERVICE)}
        api = services["api"]["inputs"]["serviceConnectConfiguration"]
        assert api["enabled"] is True
        assert api["services"] == [{"portName": "api", "discoveryName": "api",
                                    "clientAlias": [{"port": 9000, "dnsName": "api"}]}]
        assert api["logConfiguration"]["options"]["awslogs-group"] == "/ecs/private-fargate/dev/api"
        worker = services["worker"]["inputs"]["serviceConnectConfiguration"]
        assert worker["enabled"] is True and "services" not in worker
        port_mappings = json.loads(trio.one(TASK_DEF, "service-api-task")["inputs"]["containerDefinitions"])[0]
        assert port_mappings["portMappings"] == [{"name": "api", "containerPort": 9000, "protocol": "tcp"}]

    def test_groups_admit_exactly_the_peers(self, trio: Registered) -> None:
        groups = {g["name"]: g for g in trio.of_type(SG)}
        mesh, clients = groups["service-connect-sg"], groups["service-connect-clients"]
        api, web, worker = groups["service-api-sg"], groups["service-web-sg"], groups["service-worker-sg"]
        assert ingress_sources(trio, api) == {(mesh["urn"], 9000), (clients["urn"], 9000)}
        assert ingress_sources(trio, web) == {(mesh["urn"], 8080), (clients["urn"], 8080)}
        assert ingress_sources(trio, worker) == set() and ingress_sources(trio, mesh) == set()
        assert ingress_sources(trio, clients) == set()
        mesh_egress = {(r["propertyDependencies"]["referencedSecurityGroupId"][0], r["inputs"]["fromPort"])
                       for r in trio.of_type(EGRESS) if r["propertyDependencies"]["securityGroupId"] == [mesh["urn"]]}
        assert mesh_egress == {(mesh["urn"], 9000), (mesh["urn"], 8080)}
        clients_egress = {(r["propertyDependencies"]["referencedSecurityGroupId"][0], r["inputs"]["fromPort"])
                          for r in trio.of_type(EGRESS)
                          if r["propertyDependencies"]["securityGroupId"] == [clients["urn"]]}
        assert clients_egress == mesh_egress
        for service in trio.of_type(SERVICE):
            assert mesh["urn"] in service["propertyDependencies"]["networkConfiguration"]

    def test_peer_rules_grow_linearly(self) -> None:
        def rules(n: int) -> int:
            run = simulate(run_main, {"services": [svc(f"s{i}", port=8000 + i) for i in range(n)]})
            return len(run.of_type(INGRESS)) + len(run.of_type(EGRESS))

        assert rules(8) - rules(4) == 2 * (rules(4) - rules(2))

    def test_jobs_are_not_in_the_mesh(self, run_program: Any) -> None:
        run = run_program({"services": [svc()], "jobs": [{"name": "j", "image": PUBLIC}]})
        assert ingress_sources(run, run.one(SG, "job-j-sg")) == set()
        assert run.one(SG, "service-connect-sg")["urn"] not in {
            u for r in run.of_type(EGRESS) if r["name"].startswith("job-j-") for u in r["dependencies"]}


class TestLoadBalancer:
    def test_internet_facing_alb_in_public_subnets_tasks_private(self, public_lb: Registered) -> None:
        lb = public_lb.one(LB)["inputs"]
        assert lb["internal"] is False and lb["loadBalancerType"] == "application"
        assert sorted(lb["subnets"]) == sorted(s["id"] for s in public_subnets(public_lb))
        assert len(public_subnets(public_lb)) == 2
        assert lb["dropInvalidHeaderFields"] is True and lb["enableDeletionProtection"] is True
        assert len(lb["name"]) <= 32

    def test_https_listener_and_redirect(self, public_lb: Registered) -> None:
        listeners = {l_["inputs"]["port"]: l_["inputs"] for l_ in public_lb.of_type(LISTENER)}
        https, http = listeners[443], listeners[80]
        assert https["protocol"] == "HTTPS" and https["certificateArn"] == CERT
        assert https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
        assert https["defaultActions"] == [{"type": "forward", "targetGroupArn": public_lb.one(TG)["outputs"]["arn"]}]
        assert http["defaultActions"] == [{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443",
                                                                            "statusCode": "HTTP_301"}}]
        assert public_lb.outputs["services"]["web"]["url"].startswith("https://")

    def test_target_group(self, public_lb: Registered) -> None:
        tg = public_lb.one(TG)["inputs"]
        assert (tg["targetType"], tg["protocol"], tg["port"]) == ("ip", "HTTP", 8080)
        assert tg["deregistrationDelay"] <= 30
        assert tg["healthCheck"]["path"] == "/health" and tg["healthCheck"]["matcher"] == "200-399"
        assert len(tg["name"]) <= 32
        service = public_lb.one(SERVICE)["inputs"]
        assert service["loadBalancers"] == [{"targetGroupArn": public_lb.one(TG)["outputs"]["arn"],
                                             "containerName": "web", "containerPort": 8080}]
        assert service["healthCheckGracePeriodSeconds"] >= 60

    def test_service_group_admits_only_the_alb_and_peers(self, public_lb: Registered) -> None:
        alb_sg, task_sg = public_lb.one(SG, "service-web-lb-sg"), public_lb.one(SG, "service-web-sg")
        mesh, clients = public_lb.one(SG, "service-connect-sg"), public_lb.one(SG, "service-connect-clients")
        assert ingress_sources(public_lb, task_sg) == {(alb_sg["urn"], 8080), (mesh["urn"], 8080),
                                                       (clients["urn"], 8080)}
        assert ingress_sources(public_lb, alb_sg) == {("0.0.0.0/0", 443), ("0.0.0.0/0", 80)}

    def test_access_logs_to_a_stack_bucket(self, public_lb: Registered) -> None:
        buckets = {b["inputs"]["bucket"] for b in public_lb.of_type(BUCKET)}
        log_bucket = f"private-fargate-dev-alb-logs-{ACCOUNT}-us-east-1"
        assert log_bucket in buckets
        assert public_lb.one(LB)["inputs"]["accessLogs"] == {"bucket": log_bucket, "prefix": "alb", "enabled": True}
        policy = json.loads(public_lb.one("aws:s3/bucketPolicy:BucketPolicy", "access-logs-policy")["inputs"]["policy"])
        allow, deny = policy["Statement"]
        assert allow["Action"] == "s3:PutObject"
        assert allow["Resource"] == f"arn:aws:s3:::{log_bucket}/alb/AWSLogs/{ACCOUNT}/*"
        assert allow["Principal"]["AWS"].startswith("arn:aws:iam::") and deny["Effect"] == "Deny"

    def test_new_region_log_delivery_uses_the_service_principal(self) -> None:
        lb = {"scheme": "internal", "accessLogs": True}
        run = simulate(run_main, {"services": [svc(loadBalancer=lb)]}, region="ca-west-1")
        policy = json.loads(run.one("aws:s3/bucketPolicy:BucketPolicy", "access-logs-policy")["inputs"]["policy"])
        assert policy["Statement"][0]["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}

    def test_internal_alb_in_private_subnets_http(self, run_program: Any) -> None:
        run = run_program({"protect": False, "services": [svc(loadBalancer={"healthCheckPath": "/ready"})]},
                          mode="up")
        lb = run.one(LB)["inputs"]
        assert lb["internal"] is True and lb["enableDeletionProtection"] is False and "accessLogs" not in lb
        assert sorted(lb["subnets"]) == sorted(s["id"] for s in private_subnets(run))
        assert public_subnets(run) == [] and run.of_type("aws:ec2/internetGateway:InternetGateway") == []
        (listener,) = run.of_type(LISTENER)
        assert listener["inputs"]["port"] == 80 and listener["inputs"]["protocol"] == "HTTP"
        assert ingress_sources(run, run.one(SG, "service-web-lb-sg")) == {("10.0.0.0/16", 80)}
        assert run.one(TG)["inputs"]["healthCheck"]["path"] == "/ready"
        assert run.outputs["services"]["web"]["url"].startswith("http://internal-")

    def test_url_unknown_at_preview_and_null_without_lb(self, run_program: Any) -> None:
        run = run_program({"services": [svc(loadBalancer={}), svc("api", port=9000)]})
        assert run.outputs["services"]["web"]["url"] == UNKNOWN
        assert run.outputs["services"]["api"]["url"] is None

    @pytest.mark.parametrize("settings,message", [
        ({"services": [svc(loadBalancer={"scheme": "internet-facing"})]},
         "services[0].loadBalancer.certificateArn: required with scheme internet-facing"),
        ({"network": {"azCount": 1}, "services": [svc(loadBalancer={})]},
         "services[0].loadBalancer: an ALB needs subnets in 2 AZs"),
    ])
    def test_settings_errors(self, settings: dict[str, Any], message: str) -> None:
        with pytest.raises(ProgramFailed, match=message.replace("[", r"\[").replace("]", r"\]")) as info:
            simulate(run_main, settings)
        assert [r for r in info.value.resources if r["type"] != "pulumi:pulumi:Stack"] == []


class TestAutoscaling:
    def test_target_and_policies(self, public_lb: Registered) -> None:
        target = public_lb.one(SCALING_TARGET)
        assert target["inputs"]["resourceId"] == "service/private-fargate-dev/web"
        assert target["inputs"]["scalableDimension"] == "ecs:service:DesiredCount"
        assert (target["inputs"]["minCapacity"], target["inputs"]["maxCapacity"]) == (2, 6)
        assert public_lb.one(SERVICE)["urn"] in target["dependencies"]
        policies = {p["inputs"]["targetTrackingScalingPolicyConfiguration"]["predefinedMetricSpecification"][
            "predefinedMetricType"]: p["inputs"] for p in public_lb.of_type(SCALING_POLICY)}
        assert set(policies) == {"ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization"}
        cpu = policies["ECSServiceAverageCPUUtilization"]
        assert cpu["policyType"] == "TargetTrackingScaling" and cpu["resourceId"] == "service/private-fargate-dev/web"
        config = cpu["targetTrackingScalingPolicyConfiguration"]
        assert (config["targetValue"], config["scaleInCooldown"], config["scaleOutCooldown"]) == (60, 300, 60)
        assert policies["ECSServiceAverageMemoryUtilization"]["targetTrackingScalingPolicyConfiguration"][
            "targetValue"] == 70

    def test_memory_only(self, run_program: Any) -> None:
        run = run_program({"services": [svc(autoscaling={"cpuTarget": None, "memoryTarget": 50})]})
        assert len(run.of_type(SCALING_POLICY)) == 1

    def test_no_autoscaling_by_default(self, run_program: Any) -> None:
        assert run_program({"services": [svc()]}).of_type(SCALING_TARGET) == []


class TestDevService:
    def test_dev_ships_an_internal_web_service(self) -> None:
        run = simulate(run_main, stack_settings("dev"))
        service = run.one(SERVICE)["inputs"]
        assert service["name"] == "web" and "loadBalancers" not in service
        assert service["serviceConnectConfiguration"]["services"][0]["clientAlias"] == [
            {"port": 8080, "dnsName": "web"}]
        (container,) = json.loads(run.one(TASK_DEF, "service-web-task")["inputs"]["containerDefinitions"])
        assert container["command"] == ["serve"] and container["healthCheck"]["command"][:3] == [
            "CMD", "python", "-m"]
        assert run.outputs["services"]["web"]["serviceName"] == "web"
        assert run.outputs["services"]["web"]["url"] is None
