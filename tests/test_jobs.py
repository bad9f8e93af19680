"""The private batch path: cluster, output bucket, workload parts (task definition, roles, group) and jobs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.iam import UNSCOPED_ACTIONS
from tests.support import (
    BUCKET,
    CAPACITY,
    CLUSTER,
    EGRESS,
    INGRESS,
    LOG_GROUP,
    QUEUE,
    QUEUE_POLICY,
    ROLE,
    ROLE_POLICY,
    SCHEDULE,
    SG,
    STATE_MACHINE,
    TASK_DEF,
    UNKNOWN,
    Registered,
    preview,
    run_main,
    simulate,
    stack_settings,
    task_definition_problems,
)

ACCOUNT = "123456789012"
BUCKET_NAME = f"private-fargate-dev-output-{ACCOUNT}-us-east-1"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db-AbCdEf:password::"
PARTIAL_SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:api/token"
PARAM = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/flag"
PUBLIC = {"public": "public.ecr.aws/docker/library/python:3.12-slim"}

RICH_JOB = {
    "name": "etl", "image": {"build": "./app"}, "command": ["job"], "cpu": 512, "memory": 2048, "arch": "ARM64",
    "environment": {"LOG_LEVEL": "debug"}, "secrets": {"DB_PASSWORD": SECRET, "API_TOKEN": PARTIAL_SECRET,
                                                        "FLAG": PARAM},
    "healthCheck": {"command": ["CMD", "python", "-m", "app", "health"], "startPeriod": 10},
    "writablePaths": ["/tmp", "/srv/cache"], "egressTo": [{"securityGroupId": "sg-0123456789abcdef0", "port": 5432},
                                                        {"cidr": "10.20.0.0/16", "port": 443}],
    "exec": True, "schedule": "rate(15 minutes)", "timezone": "UTC", "retries": 1, "capacity": "mixed",
    "capacityMix": {"base": 0, "onDemandWeight": 1, "spotWeight": 2},
}


def doc(resource: dict[str, Any], key: str = "policy") -> dict[str, Any]:
    value = resource["inputs"][key]
    assert isinstance(value, str) and value != UNKNOWN, f"{resource['name']}.{key} is not a known string"
    return json.loads(value)


def containers(task_def: dict[str, Any]) -> list[dict[str, Any]]:
    return doc(task_def, "containerDefinitions")  # type: ignore[return-value]


def statements(run: Registered, name: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in doc(run.one(ROLE_POLICY, name))["Statement"]}


@pytest.fixture(scope="module")
def dev() -> Registered:
    return simulate(run_main, stack_settings("dev"))


@pytest.fixture(scope="module")
def rich() -> Registered:
    return simulate(run_main, {"jobs": [RICH_JOB]})


@pytest.fixture(scope="module")
def rich_up() -> Registered:
    return simulate(run_main, {"jobs": [RICH_JOB]}, mode="up")


class TestCluster:
    def test_capacity_providers_and_insights(self, dev: Registered) -> None:
        cluster = dev.one(CLUSTER)["inputs"]
        assert cluster["name"] == "private-fargate-dev"
        assert cluster["settings"] == [{"name": "containerInsights", "value": "enabled"}]
        capacity = dev.one(CAPACITY)
        assert capacity["inputs"]["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
        assert capacity["inputs"]["defaultCapacityProviderStrategies"] == [
            {"capacityProvider": "FARGATE", "weight": 1, "base": 0}]
        assert capacity["propertyDependencies"]["clusterName"] == [dev.one(CLUSTER)["urn"]]

    def test_no_exec_logging_without_exec(self, dev: Registered) -> None:
        assert "configuration" not in dev.one(CLUSTER)["inputs"]
        assert [g["inputs"]["name"] for g in dev.of_type(LOG_GROUP) if g["inputs"]["name"].endswith("/exec")] == []

    def test_exec_sessions_logged_to_managed_group(self, rich: Registered) -> None:
        group = rich.one(LOG_GROUP, "cluster-exec-logs")
        assert group["inputs"]["name"] == "/ecs/private-fargate/dev/exec"
        assert group["inputs"]["retentionInDays"] == 30 and (group["protect"], group["retainOnDelete"]) == (True, True)
        config = rich.one(CLUSTER)["inputs"]["configuration"]["executeCommandConfiguration"]
        assert config["logging"] == "OVERRIDE"
        assert config["logConfiguration"]["cloudWatchLogGroupName"] == "/ecs/private-fargate/dev/exec"


class TestOutputBucket:
    def test_bucket_controls(self, dev: Registered) -> None:
        bucket = dev.one(BUCKET)
        # dev has protect: false, so destroy empties it (forceDestroy exactly when protect is off)
        assert bucket["inputs"]["bucket"] == BUCKET_NAME and bucket["inputs"]["forceDestroy"] is True
        block = dev.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")["inputs"]
        assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                              "restrictPublicBuckets"))
        owner = dev.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls")["inputs"]
        assert owner["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
        sse = dev.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
        assert sse["inputs"]["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
        versioning = dev.one("aws:s3/bucketVersioning:BucketVersioning")["inputs"]
        assert versioning["versioningConfiguration"] == {"status": "Enabled"}
        rules = dev.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")["inputs"]["rules"]
        assert [(r["id"], r.get("abortIncompleteMultipartUpload"), r.get("noncurrentVersionExpiration"))
                for r in rules] == [("abort-incomplete-uploads", {"daysAfterInitiation": 7}, None),
                                    ("expire-noncurrent-versions", None, {"noncurrentDays": 30})]
        for token in ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws:s3/bucketPolicy:BucketPolicy"):
            assert dev.one(token)["propertyDependencies"]["bucket"] == [bucket["urn"]]

    def test_tls_only_policy(self, dev: Registered) -> None:
        policy = dev.one("aws:s3/bucketPolicy:BucketPolicy")
        (deny,) = doc(policy)["Statement"]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny["Resource"] == [f"arn:aws:s3:::{BUCKET_NAME}", f"arn:aws:s3:::{BUCKET_NAME}/*"]
        assert dev.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")["urn"] in policy["dependencies"]

    @pytest.mark.parametrize("protect", [True, False])
    def test_protect_follows_setting(self, run_program: Any, protect: bool) -> None:
        bucket = run_program({"protect": protect}).one(BUCKET)
        assert (bucket["protect"], bucket["retainOnDelete"]) == (protect, protect)

    def test_expiry_and_suspended_versioning(self, run_program: Any) -> None:
        run = run_program({"outputBucket": {"expireAfterDays": 90, "versioning": False}})
        lifecycle = run.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        abort, rule = lifecycle["inputs"]["rules"]  # no noncurrent-version rule without versioning
        assert abort["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
        assert rule["expiration"] == {"days": 90} and "noncurrentVersionExpiration" not in rule
        assert rule["status"] == "Enabled"
        assert run.one(BUCKET)["inputs"]["forceDestroy"] is False and run.one(BUCKET)["protect"] is True
        assert run.one("aws:s3/bucketVersioning:BucketVersioning")["inputs"]["versioningConfiguration"] == {
            "status": "Suspended"}

    def test_disabled(self, run_program: Any) -> None:
        run = run_program({"outputBucket": {"enabled": False}, "jobs": [{"name": "j", "image": PUBLIC}]})
        assert run.of_type(BUCKET) == [] and run.outputs["outputBucketName"] is None
        env = containers(run.one(TASK_DEF))[0]["environment"]
        assert "OUTPUT_BUCKET" not in {e["name"] for e in env}
        assert run.of_type(ROLE_POLICY) and not [p for p in run.of_type(ROLE_POLICY) if p["name"] == "job-j-task"]

    def test_name_has_account_and_region(self) -> None:
        run = simulate(run_main, {}, region="eu-west-1")
        assert run.one(BUCKET)["inputs"]["bucket"] == f"private-fargate-dev-output-{ACCOUNT}-eu-west-1"


class TestTaskDefinition:
    def test_fargate_awsvpc_size_platform(self, rich: Registered) -> None:
        td = rich.one(TASK_DEF)["inputs"]
        assert td["requiresCompatibilities"] == ["FARGATE"] and td["networkMode"] == "awsvpc"
        assert (td["cpu"], td["memory"]) == ("512", "2048")
        assert td["runtimePlatform"] == {"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"}
        assert td["family"] == "private-fargate-dev-etl"

    def test_one_container_logging_to_its_group(self, dev: Registered) -> None:
        (container,) = containers(dev.one(TASK_DEF, "job-report-task"))
        options = container["logConfiguration"]["options"]
        assert container["logConfiguration"]["logDriver"] == "awslogs"
        assert options["awslogs-group"] in {g["inputs"]["name"] for g in dev.of_type(LOG_GROUP)}
        assert options == {"awslogs-group": "/ecs/private-fargate/dev/report", "awslogs-region": "us-east-1",
                           "awslogs-stream-prefix": "report", "mode": "blocking"}
        assert "awslogs-create-group" not in options
        group = dev.one(LOG_GROUP, "job-report-logs")
        assert group["inputs"]["retentionInDays"] == 14
        assert (group["protect"], group["retainOnDelete"]) == (False, False)

    def test_log_group_kms_and_protect(self, run_program: Any) -> None:
        key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        group = run_program({"logs": {"kmsKeyArn": key, "retentionDays": 365},
                             "jobs": [{"name": "j", "image": PUBLIC}]}).one(LOG_GROUP, "job-j-logs")
        assert group["inputs"]["kmsKeyId"] == key and group["inputs"]["retentionInDays"] == 365
        assert (group["protect"], group["retainOnDelete"]) == (True, True)

    def test_readonly_root_and_writable_volumes(self, rich: Registered) -> None:
        td = rich.one(TASK_DEF)
        (container,) = containers(td)
        # exec is on: AWS documents a read-only root as unsupported with ECS Exec, so the root is writable
        assert container["readonlyRootFilesystem"] is False
        paths = [m["containerPath"] for m in container["mountPoints"]]
        assert paths == ["/tmp", "/srv/cache"]
        assert {v["name"] for v in td["inputs"]["volumes"]} == {m["sourceVolume"] for m in container["mountPoints"]}
        assert all("host" not in v and "efsVolumeConfiguration" not in v for v in td["inputs"]["volumes"])
        assert container["linuxParameters"] == {"initProcessEnabled": True}

    def test_no_exec_no_agent_paths(self, dev: Registered) -> None:
        (container,) = containers(dev.one(TASK_DEF, "job-report-task"))
        assert [m["containerPath"] for m in container["mountPoints"]] == ["/tmp"]
        assert "linuxParameters" not in container

    def test_user_from_the_dockerfile_only(self, dev: Registered, run_program: Any) -> None:
        assert containers(dev.one(TASK_DEF, "job-report-task"))[0]["user"] == "10001:10001"
        public = run_program({"jobs": [{"name": "j", "image": PUBLIC}]})
        assert "user" not in containers(public.one(TASK_DEF))[0]

    def test_secrets_never_in_environment(self, rich: Registered) -> None:
        (container,) = containers(rich.one(TASK_DEF))
        assert container["secrets"] == [{"name": "API_TOKEN", "valueFrom": PARTIAL_SECRET},
                                        {"name": "DB_PASSWORD", "valueFrom": SECRET},
                                        {"name": "FLAG", "valueFrom": PARAM}]
        env = {e["name"]: e["value"] for e in container["environment"]}
        assert env == {"LOG_LEVEL": "debug", "OUTPUT_BUCKET": BUCKET_NAME}
        assert not {s["name"] for s in container["secrets"]} & set(env)

    def test_health_check_and_command(self, rich: Registered) -> None:
        (container,) = containers(rich.one(TASK_DEF))
        assert container["healthCheck"] == {"command": ["CMD", "python", "-m", "app", "health"], "interval": 30,
                                            "timeout": 5, "retries": 3, "startPeriod": 10}
        assert container["command"] == ["job"] and container["essential"] is True

    def test_registered_after_its_log_group_and_permissions(self, dev: Registered) -> None:
        td = dev.one(TASK_DEF, "job-report-task")
        for token, name in ((LOG_GROUP, "job-report-logs"), (ROLE_POLICY, "job-report-execution"),
                            (ROLE_POLICY, "job-report-task")):
            assert dev.one(token, name)["urn"] in td["dependencies"], name

    def test_image_pushed_before_task_definition(self, dev: Registered) -> None:
        td, image = dev.one(TASK_DEF, "job-report-task"), dev.one("awsx:ecr:Image")
        assert image["urn"] in td["dependencies"]
        uri = containers(td)[0]["image"]
        assert uri == f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/private-fargate-dev:{image['inputs']['imageTag']}"

    @pytest.mark.parametrize("settings", [stack_settings("dev"), {"jobs": [RICH_JOB]},
                                          {"jobs": [{"name": "p", "image": PUBLIC, "capacity": "spot"}]}],
                             ids=["dev", "rich", "public"])
    def test_valid_for_the_ecs_api(self, settings: dict[str, Any]) -> None:
        run = simulate(run_main, settings, mode="up")
        for td in run.of_type(TASK_DEF):
            assert task_definition_problems(td) == ""


class TestRoles:
    def test_execution_role_pulls_logs_and_reads_only_its_secrets(self, rich: Registered) -> None:
        st = statements(rich, "job-etl-execution")
        assert st["EcrLogin"]["Action"] == ["ecr:GetAuthorizationToken"] and st["EcrLogin"]["Resource"] == ["*"]
        assert st["PullImage"]["Resource"] == [f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/private-fargate-dev"]
        group = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/ecs/private-fargate/dev/etl"
        assert st["WriteOwnLogs"]["Resource"] == [f"{group}:log-stream:*"]
        assert st["ReadSecrets"]["Action"] == ["secretsmanager:GetSecretValue"]
        assert st["ReadSecrets"]["Resource"] == [PARTIAL_SECRET, PARTIAL_SECRET + "-??????",
                                                 f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db-AbCdEf"]
        assert st["ReadParameters"] == {"Sid": "ReadParameters", "Effect": "Allow", "Action": ["ssm:GetParameters"],
                                        "Resource": [PARAM]}

    def test_public_image_grants_the_cache(self, run_program: Any) -> None:
        st = statements(run_program({"jobs": [{"name": "j", "image": PUBLIC}]}), "job-j-execution")
        assert "ecr:BatchImportUpstreamImage" in st["PullImage"]["Action"]
        assert st["PullImage"]["Resource"] == [
            f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/private-fargate-dev-ecr-public/docker/library/python"]

    def test_task_role_writes_only_the_output_bucket(self, dev: Registered) -> None:
        st = statements(dev, "job-report-task")
        assert list(st) == ["WriteResults"]
        assert st["WriteResults"]["Action"] == ["s3:AbortMultipartUpload", "s3:PutObject"]
        assert st["WriteResults"]["Resource"] == [f"arn:aws:s3:::{BUCKET_NAME}/*"]

    def test_exec_adds_channels_and_session_logs(self, rich: Registered) -> None:
        st = statements(rich, "job-etl-task")
        assert st["ExecChannels"]["Resource"] == ["*"]
        assert set(st["ExecChannels"]["Action"]) == {a for a in UNSCOPED_ACTIONS if a.startswith("ssmmessages:")}
        exec_group = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/ecs/private-fargate/dev/exec"
        assert st["ExecSessionLogs"]["Resource"] == [exec_group, f"{exec_group}:log-stream:*"]

    def test_execution_and_task_roles_differ_and_trust_ecs_tasks(self, dev: Registered) -> None:
        td = dev.one(TASK_DEF, "job-report-task")
        execution, task = dev.one(ROLE, "job-report-execution"), dev.one(ROLE, "job-report-task")
        assert td["inputs"]["executionRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{execution['inputs']['name']}"
        assert td["inputs"]["taskRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{task['inputs']['name']}"
        assert td["inputs"]["executionRoleArn"] != td["inputs"]["taskRoleArn"]
        assert {execution["urn"], task["urn"]} <= set(td["dependencies"])
        for name in ("job-report-execution", "job-report-task"):
            trust = doc(dev.one(ROLE, name), "assumeRolePolicy")["Statement"][0]
            assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
            assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}

    @pytest.mark.parametrize("fixture", ["dev", "rich"])
    def test_every_policy_is_least_privilege(self, fixture: str, request: pytest.FixtureRequest) -> None:
        run: Registered = request.getfixturevalue(fixture)
        user_given = {SECRET.rsplit(":", 3)[0], PARTIAL_SECRET, PARTIAL_SECRET + "-??????", PARAM}
        # DescribeLogGroups (flow logs, exec session logs) can only be scoped to a region's log groups.
        describe_groups = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:*"
        # runTask.sync's managed rule, which Step Functions creates in the account (ecs-iam.html)
        ecs_events_rule = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/StepFunctionsGetEventsForECSTaskRule"
        for policy in run.of_type(ROLE_POLICY):
            for st in doc(policy)["Statement"]:
                assert st["Effect"] == "Allow"
                for action in st["Action"]:
                    assert "*" not in action, (policy["name"], action)
                for resource in st["Resource"]:
                    if resource == "*":
                        assert set(st["Action"]) <= set(UNSCOPED_ACTIONS), (policy["name"], st)
                    elif resource == describe_groups:
                        assert st["Action"] == ["logs:DescribeLogGroups"]
                    elif resource == ecs_events_rule:
                        assert st["Action"] == ["events:DescribeRule", "events:PutRule", "events:PutTargets"]
                    else:
                        own = ("private-fargate-dev" in resource or "/private-fargate/dev/" in resource
                               or resource in user_given or resource == "arn:aws:ecs:us-east-1:123456789012:*")
                        assert own, (policy["name"], resource)


class TestSecurityGroup:
    def egress(self, run: Registered, prefix: str) -> dict[str, dict[str, Any]]:
        return {r["name"].removeprefix(prefix): r for r in run.of_type(EGRESS) if r["name"].startswith(prefix)}

    def test_no_ingress_and_https_to_endpoints_and_s3(self, dev: Registered) -> None:
        group = dev.one(SG, "job-report-sg")
        assert "ingress" not in group["inputs"] and "egress" not in group["inputs"]
        assert [r for r in dev.of_type(INGRESS) if group["urn"] in r["propertyDependencies"]["securityGroupId"]] == []
        rules = self.egress(dev, "job-report-egress-")
        assert set(rules) == {"endpoints", "s3"}
        endpoints = rules["endpoints"]["inputs"]
        assert {k: endpoints[k] for k in ("cidrIpv4", "fromPort", "toPort", "ipProtocol")} == {
            "cidrIpv4": "10.0.0.0/16", "fromPort": 443, "toPort": 443, "ipProtocol": "tcp"}
        s3 = dev.one("aws:ec2/vpcEndpoint:VpcEndpoint", "network-s3")
        assert rules["s3"]["propertyDependencies"]["prefixListId"] == [s3["urn"]]
        for rule in rules.values():
            assert rule["propertyDependencies"]["securityGroupId"] == [group["urn"]]

    def test_egress_to_rules(self, rich_up: Registered) -> None:
        rules = self.egress(rich_up, "job-etl-egress-")
        assert rules["extra-0"]["inputs"]["referencedSecurityGroupId"] == "sg-0123456789abcdef0"
        assert rules["extra-0"]["inputs"]["fromPort"] == 5432 == rules["extra-0"]["inputs"]["toPort"]
        assert rules["extra-1"]["inputs"]["cidrIpv4"] == "10.20.0.0/16"
        assert rules["s3"]["inputs"]["prefixListId"].startswith("pl-")

    def test_nat_egress_adds_https_anywhere(self, run_program: Any) -> None:
        run = run_program({"network": {"egress": "nat"}, "jobs": [{"name": "j", "image": PUBLIC}]})
        assert self.egress(run, "job-j-egress-")["internet"]["inputs"]["cidrIpv4"] == "0.0.0.0/0"


class TestSchedule:
    def test_dev_schedule_starts_the_state_machine(self, dev: Registered) -> None:
        schedule = dev.one(SCHEDULE)
        inputs = schedule["inputs"]
        assert inputs["scheduleExpression"] == "cron(0 3 * * ? *)"
        assert inputs["scheduleExpressionTimezone"] == "Europe/Paris"
        assert inputs["flexibleTimeWindow"] == {"mode": "OFF"} and inputs["state"] == "ENABLED"
        target = inputs["target"]
        assert target["retryPolicy"] == {"maximumRetryAttempts": 2, "maximumEventAgeInSeconds": 3600}
        assert "ecsParameters" not in target and target["input"] == "{}"
        assert schedule["propertyDependencies"]["target"] and dev.one(STATE_MACHINE)["urn"] in \
            schedule["propertyDependencies"]["target"]

    def test_targets_the_machine_arn(self, rich_up: Registered) -> None:
        target = rich_up.one(SCHEDULE)["inputs"]["target"]
        assert target["arn"] == rich_up.one(STATE_MACHINE)["outputs"]["arn"] == \
            f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:private-fargate-dev-etl"
        assert target["retryPolicy"]["maximumRetryAttempts"] == 1

    def test_dead_letter_queue(self, rich_up: Registered) -> None:
        queue = rich_up.one(QUEUE)
        assert queue["inputs"]["name"] == "private-fargate-dev-etl-dlq"
        assert queue["inputs"]["sqsManagedSseEnabled"] is True
        assert queue["inputs"]["messageRetentionSeconds"] == 14 * 24 * 3600
        assert rich_up.one(SCHEDULE)["inputs"]["target"]["deadLetterConfig"] == {"arn": queue["outputs"]["arn"]}
        (deny,) = doc(rich_up.one(QUEUE_POLICY))["Statement"]
        assert deny == {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "sqs:*",
                        "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:private-fargate-dev-etl-dlq",
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}

    def test_scheduler_role_starts_only_its_machine(self, rich_up: Registered) -> None:
        st = statements(rich_up, "job-etl-scheduler")
        assert set(st) == {"StartTheJob", "DeadLetters"}
        assert st["StartTheJob"]["Action"] == ["states:StartExecution"]
        assert st["StartTheJob"]["Resource"] == [rich_up.one(STATE_MACHINE)["outputs"]["arn"]]
        assert st["DeadLetters"]["Resource"] == [rich_up.one(QUEUE)["outputs"]["arn"]]
        trust = doc(rich_up.one(ROLE, "job-etl-scheduler"), "assumeRolePolicy")["Statement"][0]
        assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}

    def test_starts_after_its_role_may(self, dev: Registered) -> None:
        assert dev.one(ROLE_POLICY, "job-report-scheduler")["urn"] in dev.one(SCHEDULE)["dependencies"]

    def test_on_demand_job_has_no_schedule_but_a_machine(self, run_program: Any) -> None:
        run = run_program({"jobs": [{"name": "adhoc", "image": PUBLIC}]})
        assert run.of_type(SCHEDULE) == [] and run.of_type(QUEUE) == []
        assert run.outputs["jobs"]["adhoc"]["scheduleArn"] is None
        assert run.one(STATE_MACHINE)["inputs"]["name"] == "private-fargate-dev-adhoc"


class TestOutputs:
    def test_jobs_output_shape(self, rich_up: Registered) -> None:
        out = rich_up.outputs
        etl = out["jobs"]["etl"]
        assert set(etl) == {"taskDefinitionArn", "containerName", "securityGroupId", "logGroupName",
                            "logStreamPrefix", "subnetIds", "capacityProviderStrategy", "scheduleArn",
                            "serviceName", "url", "stateMachineArn", "exec", "securityGroupIds", "dnsName"}
        assert etl["stateMachineArn"] == rich_up.one(STATE_MACHINE)["outputs"]["arn"]
        # etl sets exec
        assert (etl["serviceName"], etl["url"], etl["exec"], etl["dnsName"]) == (None, None, True, None)
        assert etl["securityGroupIds"] == [etl["securityGroupId"]]  # no services: no clients group to join
        assert etl["taskDefinitionArn"] == rich_up.one(TASK_DEF)["outputs"]["arn"]
        assert (etl["containerName"], etl["logStreamPrefix"]) == ("etl", "etl")
        assert etl["logGroupName"] == "/ecs/private-fargate/dev/etl"
        assert etl["securityGroupId"] == rich_up.one(SG, "job-etl-sg")["id"]
        assert etl["subnetIds"] == out["privateSubnetIds"]
        assert etl["scheduleArn"] == rich_up.one(SCHEDULE)["outputs"]["arn"]
        assert out["clusterName"] == "private-fargate-dev"
        assert out["clusterArn"] == f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/private-fargate-dev"
        assert out["outputBucketName"] == BUCKET_NAME


class TestPreviewKnown:
    """A first preview already knows every container definition and policy document (policies can check them)."""

    def test_dev_stack_documents_known(self) -> None:
        result = preview("--stack", "dev", "--mode", "preview", "--json")
        assert result.returncode == 0, result.stderr
        documents = {"containerDefinitions", "policy", "assumeRolePolicy"}
        seen = 0
        for res in result.report["resources"]:
            for key in documents & set(res["inputs"]):
                value = res["inputs"][key]
                assert isinstance(value, str) and UNKNOWN not in value, (res["name"], key)
                json.loads(value)
                seen += 1
        task_defs = [r for r in result.report["resources"] if r["type"] == TASK_DEF]
        assert len(task_defs) == 2 and seen >= 12

    def test_rich_job_documents_known(self, rich: Registered) -> None:
        for res in rich.resources:
            for key in ("containerDefinitions", "policy", "assumeRolePolicy"):
                if key in res["inputs"]:
                    assert UNKNOWN not in res["inputs"][key], (res["name"], key)
