"""Names every task resolves, the clients group, secrets the stack owns, and the full-stack example end to end."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import (
    ENDPOINT,
    INGRESS,
    ROLE_POLICY,
    SERVICE,
    SG,
    STATE_MACHINE,
    TASK_DEF,
    UNKNOWN,
    Registered,
    preview,
    program,
    shipped,
    task_definition_problems,
)

ACCOUNT = "123456789012"
NAMESPACE = "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace"
REGISTRY = "aws:servicediscovery/service:Service"
PARAMETER = "aws:ssm/parameter:Parameter"
PUBLIC = {"public": "public.ecr.aws/docker/library/python:3.12-slim"}
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:api-AbCdEf"


def job_network(run: Registered) -> dict[str, Any]:
    """The awsvpc configuration the job's state machine starts its tasks with (components/state_machine.py)."""
    doc = json.loads(run.one(STATE_MACHINE)["inputs"]["definition"])
    params = doc["States"]["Run"]["Branches"][0]["States"]["RunTask"]["Parameters"]
    return params["NetworkConfiguration"]["AwsvpcConfiguration"]


@pytest.fixture(scope="module")
def dev_up() -> Registered:
    return shipped("dev", mode="up")


@pytest.fixture(scope="module")
def fullstack() -> Registered:
    return shipped("fullstack", mode="up")


class TestNames:
    def test_private_namespace_of_the_vpc_with_a_registry_per_service(self, dev_up: Registered) -> None:
        ns = dev_up.one(NAMESPACE)["inputs"]
        assert ns["name"] == "dev.private-fargate.internal" and ns["vpc"] == dev_up.outputs["vpcId"]
        registry = dev_up.one(REGISTRY)
        assert registry["inputs"]["name"] == "web"
        assert registry["inputs"]["dnsConfig"]["dnsRecords"] == [{"type": "A", "ttl": 10}]
        assert registry["inputs"]["dnsConfig"]["routingPolicy"] == "MULTIVALUE"
        service = dev_up.one(SERVICE)["inputs"]
        assert service["serviceRegistries"] == {"registryArn": registry["outputs"]["arn"]}  # A records: no port
        assert service["serviceConnectConfiguration"]["enabled"] is True  # beside Service Connect, not instead

    def test_outputs(self, dev_up: Registered) -> None:
        out = dev_up.outputs
        assert out["dnsNamespace"] == "dev.private-fargate.internal"
        assert out["services"]["web"]["dnsName"] == "web.dev.private-fargate.internal"
        assert out["jobs"]["report"]["dnsName"] is None
        clients = dev_up.one(SG, "service-connect-clients")["id"]
        assert out["clientsSecurityGroupId"] == clients
        assert out["jobs"]["report"]["securityGroupIds"] == [out["jobs"]["report"]["securityGroupId"], clients]
        assert out["services"]["web"]["securityGroupIds"] == [out["services"]["web"]["securityGroupId"], clients]

    def test_scheduled_jobs_join_the_clients_group(self, dev_up: Registered) -> None:
        assert job_network(dev_up)["SecurityGroups"] == dev_up.outputs["jobs"]["report"]["securityGroupIds"]
        assert dev_up.outputs["clientsSecurityGroupId"] in dev_up.outputs["jobs"]["report"]["securityGroupIds"]

    def test_without_a_service_port_nothing_to_resolve(self) -> None:
        run = program({"services": [{"name": "worker", "image": PUBLIC}], "jobs": [{"name": "j", "image": PUBLIC}]})
        assert run.of_type(NAMESPACE) == [] and run.of_type(REGISTRY) == []
        assert run.outputs["dnsNamespace"] is None and run.outputs["services"]["worker"]["dnsName"] is None
        jobs_only = program({"jobs": [{"name": "j", "image": PUBLIC}]})
        assert jobs_only.outputs["clientsSecurityGroupId"] is None
        assert jobs_only.outputs["jobs"]["j"]["securityGroupIds"] == [jobs_only.outputs["jobs"]["j"]["securityGroupId"]]


class TestStackSecrets:
    SETTINGS: dict[str, Any] = {
        "secretValues": {"db-password": "[secret]"},
        "jobs": [{"name": "j", "image": PUBLIC, "kmsKeyArns": [KEY],
                  "secrets": {"PGPASSWORD": {"stackSecret": "db-password"}, "API": SECRET}}]}

    @pytest.fixture
    def run(self) -> Registered:
        return program(self.SETTINGS, secret_keys=["private-fargate:secretValues"])  # shared: support.program

    def test_a_secure_string_parameter_named_for_the_stack(self, run: Registered) -> None:
        param = run.one(PARAMETER)["inputs"]
        assert (param["name"], param["type"]) == ("/private-fargate/dev/db-password", "SecureString")
        assert param["value"] == "[secret]"

    def test_read_by_its_arn_known_at_preview(self, run: Registered) -> None:
        arn = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/private-fargate/dev/db-password"
        (container,) = json.loads(run.one(TASK_DEF)["inputs"]["containerDefinitions"])
        assert {"name": "PGPASSWORD", "valueFrom": arn} in container["secrets"]
        st = {s["Sid"]: s for s in json.loads(run.one(ROLE_POLICY, "job-j-execution")["inputs"]["policy"])["Statement"]}
        assert st["ReadParameters"]["Resource"] == [arn]
        assert st["DecryptSecrets"] == {
            "Sid": "DecryptSecrets", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [KEY],
            "Condition": {"StringEquals": {"kms:ViaService": ["secretsmanager.us-east-1.amazonaws.com",
                                                             "ssm.us-east-1.amazonaws.com"]}}}
        assert run.one(PARAMETER)["urn"] in run.one(TASK_DEF)["dependencies"]  # it exists before a task reads it
        assert {e["inputs"]["serviceName"].rsplit(".", 1)[-1] for e in run.of_type(ENDPOINT)} >= {
            "ssm", "secretsmanager"}

    def test_the_value_never_reaches_the_report(self, project_copy: Any) -> None:
        directory = project_copy({"secretValues": {"db-password": {"secure": "v1:abc:def"}}})
        result = preview("--project-dir", directory, "--stack", "t", "--json")
        assert result.returncode == 0, result.stderr
        assert "v1:abc:def" not in result.stdout
        (param,) = [r for r in result.report["resources"] if r["type"] == PARAMETER]
        assert param["inputs"]["value"] == "[secret]"


class TestFullStack:
    """The example stack: web + init + sidecar, a database on a volume with a stack secret, a job by DNS name, a
    worker from zero."""

    def test_task_definitions_valid_for_the_ecs_api(self, fullstack: Registered) -> None:
        tds = fullstack.of_type(TASK_DEF)
        assert {t["name"] for t in tds} == {"service-db-task", "service-web-task", "job-db-maintenance-task",
                                            "worker-thumbs-task"}
        for td in tds:
            assert task_definition_problems(td) == "", td["name"]

    def test_the_job_reaches_the_database_by_name(self, fullstack: Registered) -> None:
        out = fullstack.outputs
        (job,) = json.loads(fullstack.one(TASK_DEF, "job-db-maintenance-task")["inputs"]["containerDefinitions"])
        env = {e["name"]: e["value"] for e in job["environment"]}
        assert env["PGHOST"] == out["services"]["db"]["dnsName"] == "db.fullstack.private-fargate.internal"
        clients = fullstack.one(SG, "service-connect-clients")["urn"]
        db_group = fullstack.one(SG, "service-db-sg")["urn"]
        assert any(r["propertyDependencies"]["securityGroupId"] == [db_group]
                   and r["propertyDependencies"]["referencedSecurityGroupId"] == [clients]
                   and r["inputs"]["fromPort"] == 5432 for r in fullstack.of_type(INGRESS))
        assert out["clientsSecurityGroupId"] in job_network(fullstack)["SecurityGroups"]

    def test_the_worker_starts_from_zero_and_reaches_the_services(self, fullstack: Registered) -> None:
        out = fullstack.outputs["workers"]["thumbs"]
        service = fullstack.one(SERVICE, "worker-thumbs-service")["inputs"]
        assert service["desiredCount"] == 0
        assert service["networkConfiguration"]["securityGroups"] == out["securityGroupIds"] == [
            out["securityGroupId"], fullstack.outputs["clientsSecurityGroupId"]]
        (container,) = json.loads(fullstack.one(TASK_DEF, "worker-thumbs-task")["inputs"]["containerDefinitions"])
        env = {e["name"]: e["value"] for e in container["environment"]}
        assert container["command"] == ["worker"] and env["QUEUE_URL"] == out["queueUrl"]

    def test_only_the_database_has_a_writable_root(self, fullstack: Registered) -> None:
        for td in fullstack.of_type(TASK_DEF):
            for c in json.loads(td["inputs"]["containerDefinitions"]):
                assert c["readonlyRootFilesystem"] is (c["name"] != "db"), c["name"]
                assert c.get("user", "").split(":")[0] not in ("", "0", "root"), c["name"]

    def test_documents_known_at_a_first_preview(self) -> None:
        """Everything a policy reads is known; the EFS file-system policy names access points that do not exist
        yet (components/volume_access.py), so it alone is unknown."""
        result = preview("--stack", "fullstack", "--json")
        assert result.returncode == 0, result.stderr
        assert result.report["violations"] == []
        unknown = [(r["name"], k) for r in result.report["resources"]
                   for k in ("containerDefinitions", "policy", "assumeRolePolicy")
                   if k in r["inputs"] and UNKNOWN in str(r["inputs"][k])]
        assert unknown == [("volume-access-policy", "policy")]
