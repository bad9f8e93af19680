"""The findings of the review against AWS's documentation (issue 22), one class per finding."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from components import zones
from components.iam import UNSCOPED_ACTIONS
from components.zones import Zone, choose_zones
from settings import SettingsError
from tests.support import (
    BUCKET,
    LOG_GROUP,
    SG,
    TASK_DEF,
    Registered,
    program,
    run_main,
    simulate,
    stack_settings,
)
from tools.preview import child
from tools.preview.child import ProgramFailed

PUBLIC = {"public": "public.ecr.aws/docker/library/python:3.12-slim"}
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
REPOSITORY = "aws:ecr/repository:Repository"
EXISTING = {"vpcId": "vpc-0123456789abcdef0", "privateRouteTableIds": ["rtb-0123456789abcdef0"],
            "privateSubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]}


def svc(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": PUBLIC, **extra}


def containers(run: Registered, name: str) -> list[dict[str, Any]]:
    return json.loads(run.one(TASK_DEF, name)["inputs"]["containerDefinitions"])


class TestGeneratedNames:
    """1. Names of different kinds never collide: each kind is a suffix no workload name can have."""

    def test_workloads_named_like_other_kinds(self) -> None:
        run = program({"services": [svc("web", port=8080, loadBalancer={}), svc("web-alb", port=80),
                                    svc("service-connect", port=81)], "jobs": [svc("web-dlq", schedule="rate(1 day)")]})
        names = Counter(g["inputs"].get("name", g["name"]) for g in run.of_type(SG))  # the endpoints' group: no name
        assert {n for n, c in names.items() if c > 1} == set()
        assert {"private-fargate-dev-web.alb", "private-fargate-dev.service-connect",
                "private-fargate-dev-web-alb", "private-fargate-dev-service-connect"} <= set(names)
        queues = [q["inputs"]["name"] for q in run.of_type("aws:sqs/queue:Queue")]
        assert len(queues) == len(set(queues))

    def test_a_workload_named_exec_is_refused(self) -> None:
        with pytest.raises(ProgramFailed) as info:
            simulate(run_main, {"jobs": [svc("exec")]})
        assert str(info.value).startswith("settings: jobs[0].name: 'exec' is reserved: the cluster's ECS Exec session")
        assert [r for r in info.value.resources if r["type"] != "pulumi:pulumi:Stack"] == []

    def test_names_are_unique_across_kinds(self) -> None:
        with pytest.raises(ProgramFailed, match=r"jobs\[0\].name: 'web' is already used by services\[0\]; names are "
                                                r"unique across services, jobs"):
            simulate(run_main, {"services": [svc("web")], "jobs": [svc("web")]})


class TestExecRoot:
    """2. ECS Exec with the default read-only root: the root is writable, and the preview says why."""

    def test_root_is_writable_with_a_note(self) -> None:
        run = program({"jobs": [svc("shell", exec=True)]})
        (container,) = containers(run, "job-shell-task")
        assert container["readonlyRootFilesystem"] is False
        assert any(n.startswith("jobs[0] (shell): exec is on, so its root filesystem is writable") and
                   "ecs-exec.html" in n for n in run.notes)

    def test_without_exec_the_root_stays_read_only(self) -> None:
        run = program({"jobs": [svc("batch")]})
        assert containers(run, "job-batch-task")[0]["readonlyRootFilesystem"] is True
        assert not any("exec is on" in n for n in run.notes)


class TestFlowLogRole:
    """3. DescribeLogGroups has no resource-level permission: on "*", and listed as such."""

    def test_listed_with_the_other_unscoped_actions(self) -> None:
        assert "logs:DescribeLogGroups" in UNSCOPED_ACTIONS


class TestTeardown:
    """4. With protect off, destroy empties the bucket and the repository; with it on, never."""

    @pytest.mark.parametrize("protect", [True, False])
    def test_force_destroy_follows_protect(self, protect: bool) -> None:
        lb = {"scheme": "internal", "accessLogs": True}
        run = program({"protect": protect, "services": [svc("web", port=8080, loadBalancer=lb)]})
        buckets = run.of_type(BUCKET)
        assert len(buckets) == 2 and all(b["inputs"]["forceDestroy"] is (not protect) for b in buckets)
        assert run.one(REPOSITORY)["inputs"]["forceDelete"] is (not protect)


class TestBuckets:
    """5. The access-log bucket has no versioning resource; every bucket drops abandoned uploads."""

    def test_lifecycles(self) -> None:
        run = program({"services": [svc("web", port=8080, loadBalancer={"accessLogs": True})],
                       "outputBucket": {"noncurrentVersionExpiryDays": 60}})
        assert [v["name"] for v in run.of_type(VERSIONING)] == ["output-versioning"]
        rules = {r["name"]: {x["id"]: x for x in r["inputs"]["rules"]} for r in run.of_type(LIFECYCLE)}
        assert set(rules) == {"output-lifecycle", "access-logs-lifecycle"}
        for by_id in rules.values():
            assert by_id["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
        assert rules["output-lifecycle"]["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {
            "noncurrentDays": 60}
        assert "expire-noncurrent-versions" not in rules["access-logs-lifecycle"]
        assert rules["access-logs-lifecycle"]["expire"]["expiration"] == {"days": 30}

    def test_the_former_expiry_resource_is_updated_not_replaced(self) -> None:
        run = program({"outputBucket": {"expireAfterDays": 90}})
        lifecycle = run.one(LIFECYCLE)
        assert lifecycle["name"] == "output-lifecycle"
        assert run.options[lifecycle["urn"]]["aliases"] == ["output-expiry"]


class TestExistingVpc:
    """6. An adopted VPC: S3 open by default, endpoints it already has are used, not duplicated."""

    def test_open_s3_policy_by_default(self) -> None:
        run = program({"network": {"existing": EXISTING, "cidr": "10.20.0.0/16"}})
        s3 = [e for e in run.of_type(ENDPOINT) if e["inputs"]["serviceName"].endswith(".s3")][0]
        assert "policy" not in s3["inputs"]
        restricted = program({"network": {"existing": EXISTING, "cidr": "10.20.0.0/16",
                                          "s3EndpointPolicy": "restricted"}})
        s3 = [e for e in restricted.of_type(ENDPOINT) if e["inputs"]["serviceName"].endswith(".s3")][0]
        assert json.loads(s3["inputs"]["policy"])["Statement"][0]["Sid"] == "EcrImageLayers"

    def test_existing_endpoints_are_reused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        found = {"com.amazonaws.us-east-1.logs": {"privateDnsEnabled": False, "routeTableIds": []},
                 "com.amazonaws.us-east-1.s3": {"privateDnsEnabled": False, "routeTableIds": ["rtb-other"]}}

        def vpc_endpoint(cloud: Any, args: dict[str, Any]) -> Any:
            hit = found.get(args.get("serviceName", ""))
            if hit is None:
                return {}, [("", "no matching VPC Endpoint found")]
            return {"id": "vpce-" + args["serviceName"].rsplit(".", 1)[-1], "vpcId": args["vpcId"], **hit,
                    "serviceName": args["serviceName"], "state": "available"}

        # the preview's child loads its own copy of fakes.py (tools/preview/child.py): patch that one
        monkeypatch.setitem(child.fakes._INVOKES, "aws:ec2/getVpcEndpoint:getVpcEndpoint", vpc_endpoint)
        run = simulate(run_main, {"network": {"existing": EXISTING, "cidr": "10.20.0.0/16"}})
        created = sorted(e["inputs"]["serviceName"].rsplit(".", 1)[-1] for e in run.of_type(ENDPOINT))
        assert created == ["api", "dkr"]  # ecr.api and ecr.dkr; logs and s3 exist already
        (assoc,) = run.of_type("aws:ec2/vpcEndpointRouteTableAssociation:VpcEndpointRouteTableAssociation")
        assert assoc["inputs"] == {"vpcEndpointId": "vpce-s3", "routeTableId": "rtb-0123456789abcdef0"}
        assert run.outputs["vpcEndpoints"]["logs"] == "vpce-logs"
        (note,) = [n for n in run.notes if "endpoint for logs" in n]
        assert "private DNS is off" in note


class TestZones:
    """7. Zones by zone ID where Fargate and the endpoints run; a deployed subnet never moves."""

    @pytest.fixture
    def region(self, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
        state: dict[str, Any] = {"zones": [Zone("us-west-1a", "usw1-az1"), Zone("us-west-1b", "usw1-az2"),
                                           Zone("us-west-1c", "usw1-az3")], "offered": None}
        monkeypatch.setattr(zones, "region_zones", lambda: state["zones"])
        monkeypatch.setattr(zones, "endpoint_zone_names", lambda _: state["offered"])
        return state

    def test_fargate_zones_by_id(self, region: dict[str, Any]) -> None:
        assert [z.zone_id for z in choose_zones("us-west-1", 2, None, [])] == ["usw1-az1", "usw1-az3"]
        with pytest.raises(SettingsError, match=r"network.azCount: 3 is more than the 2 zones of us-west-1"):
            choose_zones("us-west-1", 3, None, [])

    def test_endpoint_zones(self, region: dict[str, Any]) -> None:
        region["offered"] = {"us-west-1c"}
        assert [z.name for z in choose_zones("us-west-1", 1, None, ["x"])] == ["us-west-1c"]

    def test_named_zones_are_checked(self, region: dict[str, Any]) -> None:
        assert [z.name for z in choose_zones("us-west-1", 2, ["usw1-az3", "us-west-1a"], [])] == ["us-west-1c",
                                                                                                   "us-west-1a"]
        with pytest.raises(SettingsError, match=r"availabilityZones\[0\]: 'us-west-1b': Fargate does not run in "
                                                r"usw1-az2"):
            choose_zones("us-west-1", 1, ["us-west-1b"], [])
        with pytest.raises(SettingsError, match=r"availabilityZones\[1\]: 'us-west-9z' is not an available zone"):
            choose_zones("us-west-1", 2, ["us-west-1a", "us-west-9z"], [])

    def test_subnets_never_move(self) -> None:
        run = program({"network": {"availabilityZones": ["use1-az3", "use1-az1"]}})
        private = [s for s in run.of_type("aws:ec2/subnet:Subnet") if "-private-" in s["name"]]
        assert [s["inputs"]["availabilityZone"] for s in private] == ["us-east-1c", "us-east-1a"]
        assert all(run.options[s["urn"]]["ignoreChanges"] == ["availabilityZone"] for s in private)


class TestInterfaceEndpointPolicies:
    """8. Interface endpoints serve this account's principals only, unless `endpointPolicy: open`."""

    def test_restricted_and_open(self) -> None:
        for endpoint in [e for e in shipped_dev().of_type(ENDPOINT) if e["inputs"]["vpcEndpointType"] == "Interface"]:
            (statement,) = json.loads(endpoint["inputs"]["policy"])["Statement"]
            assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}
        opened = program({"network": {"endpointPolicy": "open"}})
        assert all("policy" not in e["inputs"] for e in opened.of_type(ENDPOINT)
                   if e["inputs"]["vpcEndpointType"] == "Interface")


class TestServiceConnectSizing:
    """9. At cpu 256 the Service Connect proxy shares the task: said in the notes and the cost estimate."""

    def test_note_and_cost(self) -> None:
        from tests.support import preview

        report = preview("--stack", "dev", "--json").report
        assert any("Service Connect adds a proxy" in n for n in report["notes"])
        (item,) = [i for i in report["cost"]["items"] if i["item"].startswith("service web")]
        assert "shared with the Service Connect proxy" in item["item"]
        assert "serviceConnectProxy" in report["cost"]["assumptions"]
        assert "s3Lifecycle" in report["cost"]["assumptions"]

    def test_no_note_at_a_larger_size(self) -> None:
        assert not any("Service Connect" in n for n in program({"services": [svc("web", port=80, cpu=512)]}).notes)


class TestWaitForSteadyState:
    """11. `pulumi up` waits for a healthy deployment where stateful resources are protected (prod)."""

    @pytest.mark.parametrize("settings,expected", [({}, True), ({"protect": False}, False),
                                                   ({"protect": False, "wait": True}, True),
                                                   ({"wait": False}, False)])
    def test_default_follows_protect(self, settings: dict[str, Any], expected: bool) -> None:
        service = svc("web", port=80, **({"waitForSteadyState": settings["wait"]} if "wait" in settings else {}))
        run = program({"services": [service], **({"protect": settings["protect"]} if "protect" in settings else {})})
        assert run.one("aws:ecs/service:Service")["inputs"]["waitForSteadyState"] is expected


class TestSpotArm64:
    """12. ARM64 on FARGATE_SPOT: accepted, with a note naming both AWS sources."""

    def test_preview_note(self) -> None:
        notes = program({"jobs": [svc("arm", arch="ARM64", capacity="spot")]}).notes
        (note,) = [n for n in notes if "ARM64 on FARGATE_SPOT" in n]
        assert "API_CapacityProviderStrategyItem" in note and "fargate-capacity-providers.html" in note


def shipped_dev() -> Registered:
    return program(stack_settings("dev"))


def test_log_group_counts_unchanged() -> None:
    """The review changed no log group: they are stateful (renaming one would replace it). The job's state
    machine added its execution log group (issue 18), under a prefix no workload group has."""
    assert sorted(g["inputs"]["name"] for g in shipped_dev().of_type(LOG_GROUP)) == [
        "/aws/vendedlogs/states/private-fargate/dev/report", "/ecs/private-fargate/dev/report",
        "/ecs/private-fargate/dev/web", "/vpc/private-fargate/dev/flow-logs"]


class TestLogGroupKeyPolicy:
    """10. A key of the stack that encrypts a log group lets CloudWatch Logs use it, scoped to log groups."""

    STATEMENT = {"Sid": "CloudWatchLogs", "Effect": "Allow", "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
                 "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                 "Resource": "*", "Condition": {"ArnLike": {
                     "kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:123456789012:log-group:*"}}}
    ROOT = {"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:*", "Resource": "*"}

    def run(self, policy: Any) -> list[dict[str, Any]]:
        from tests.support import res
        from tools.preview.policies import evaluate

        key = res("aws:kms/key:Key", "logs-key", {"policy": policy})
        group = res(LOG_GROUP, "app", {"name": "/app", "retentionInDays": 30, "kmsKeyId": "<unknown>"},
                    deps={"kmsKeyId": [key["urn"]]})
        return [v for v in evaluate({"resources": [key, group]}, None) if v["policy"] == "log-group-kms-key-policy"]

    def test_missing_statement_is_mandatory(self) -> None:
        (violation,) = self.run(json.dumps({"Version": "2012-10-17", "Statement": [self.ROOT]}))
        assert violation["level"] == "mandatory" and "logs.<region>.amazonaws.com" in violation["message"]

    def test_documented_statement_passes(self) -> None:
        assert self.run(json.dumps({"Version": "2012-10-17", "Statement": [self.ROOT, self.STATEMENT]})) == []

    def test_without_the_context_condition_it_fails(self) -> None:
        loose = {k: v for k, v in self.STATEMENT.items() if k != "Condition"}
        assert len(self.run(json.dumps({"Version": "2012-10-17", "Statement": [loose]}))) == 1

    def test_unknown_policy_cannot_be_verified(self) -> None:
        (violation,) = self.run("<unknown>")
        assert violation["level"] == "advisory" and "the policy of key logs-key" in violation["message"]
        assert "log-group-kms-key-policy checks it at `pulumi up`" in violation["message"]


def test_queue_names_of_other_kinds_never_meet_a_jobs_dead_letter_queue() -> None:
    from components.naming import physical_name, scoped_queue_name

    job_dlq = physical_name("p-dev", "report", "dlq", max_len=80)
    assert scoped_queue_name("p-dev", "report", "dlq") != job_dlq
    assert scoped_queue_name("p-dev", "report-dlq", "queue") not in (job_dlq, physical_name("p-dev", "report-dlq",
                                                                                           max_len=80))
    assert len(scoped_queue_name("p-dev", "w" * 90, "queue")) <= 80


def test_a_cache_template_with_moving_tags_but_fixed_pins_passes_the_pack() -> None:
    from tests.support import res, run_policy

    template = {"prefix": "p-dev-ecr-public", "appliedFors": ["PULL_THROUGH_CACHE"], "lifecyclePolicy": "{}"}
    token = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"
    excluded = {**template, "imageTagMutability": "MUTABLE_WITH_EXCLUSION",
                "imageTagMutabilityExclusionFilters": [{"filter": "pin-*", "filterType": "WILDCARD"}]}
    assert run_policy("ecr-immutable-tags", [res(token, "cache", excluded)]) == []
    mutable = {**template, "imageTagMutability": "MUTABLE"}
    assert len(run_policy("ecr-immutable-tags", [res(token, "cache", mutable)])) == 1
    on_push = {**excluded, "appliedFors": ["CREATE_ON_PUSH"]}
    assert len(run_policy("ecr-immutable-tags", [res(token, "push", on_push)])) == 1
