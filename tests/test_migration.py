"""`beforeDeploy`: the step's place in the graph (mocks), its settings, its diff and how it is pickled.

Its run, against moto and through Pulumi's own dynamic provider host, is in tests/test_migration_run.py.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from components.migration import TRIGGER, MigrationProvider
from tests.support import SERVICE, TASK_DEF, program, run_main, shipped, simulate
from tools.preview.child import ProgramFailed

MIGRATION = "pulumi-python:dynamic/migration:Migration"
PUBLIC = {"public": "public.ecr.aws/docker/library/python:3.12-slim"}


# -- the graph under mocks ------------------------------------------------------------------------------------------

def one(resources: list[dict[str, Any]], token: str, name: str) -> dict[str, Any]:
    (found,) = [r for r in resources if r["type"] == token and r["name"] == name]
    return found


class TestOrdering:
    """Task definition -> migration -> service, and what the task needs exists before it runs."""

    def test_dev_web_runs_its_own_new_task_definition_with_migrate(self) -> None:
        stack = shipped("dev")
        td = one(stack.resources, TASK_DEF, "service-web-task")
        step = one(stack.resources, MIGRATION, "service-web-migration")
        service = one(stack.resources, SERVICE, "service-web-service")
        assert step["propertyDependencies"][TRIGGER] == [td["urn"]]
        assert step["propertyDependencies"]["taskDefinition"] == [td["urn"]]
        assert step["urn"] in service["dependencies"]
        assert step["parent"] == service["parent"]
        inputs = step["inputs"]
        # Known at a first preview: everything but the ids AWS assigns.
        assert inputs["command"] == ["migrate"] and inputs["containerName"] == "web"
        assert inputs["cluster"] == "arn:aws:ecs:us-east-1:123456789012:cluster/private-fargate-dev"
        assert (inputs["logGroup"], inputs["logStreamPrefix"]) == ("/ecs/private-fargate/dev/web", "web")
        assert (inputs["capacityProvider"], inputs["assignPublicIp"], inputs["timeoutMinutes"]) == (
            "FARGATE", "DISABLED", 15)

    def test_what_the_task_needs_exists_before_it_runs(self) -> None:
        """Endpoints, egress rules and the output bucket are named in advance: only depends_on orders them."""
        stack = shipped("dev")
        step = one(stack.resources, MIGRATION, "service-web-migration")
        needed = [r["urn"] for r in stack.resources
                  if r["type"] in ("aws:ec2/vpcEndpoint:VpcEndpoint", "aws:s3/bucketPolicy:BucketPolicy")
                  or r["name"].startswith("service-web-egress-")]
        assert len(needed) == 7 and set(needed) <= set(step["dependencies"])

    def test_a_job_runs_with_its_own_task_definition_and_group(self) -> None:
        stack = program({"jobs": [{"name": "migrate", "image": PUBLIC, "command": ["manage", "migrate"]}],
                         "services": [{"name": "api", "image": PUBLIC, "port": 8080,
                                       "beforeDeploy": {"job": "migrate", "timeoutMinutes": 30}}]})
        step = one(stack.resources, MIGRATION, "service-api-migration")
        job_td = one(stack.resources, TASK_DEF, "job-migrate-task")
        job_sg = one(stack.resources, "aws:ec2/securityGroup:SecurityGroup", "job-migrate-sg")
        assert step["propertyDependencies"]["taskDefinition"] == [job_td["urn"]]
        assert step["propertyDependencies"][TRIGGER] == [one(stack.resources, TASK_DEF, "service-api-task")["urn"]]
        clients = one(stack.resources, "aws:ec2/securityGroup:SecurityGroup", "service-connect-clients")
        # the job's own group and the clients group, so the run reaches `api` by its DNS name
        assert sorted(step["propertyDependencies"]["securityGroups"]) == sorted([job_sg["urn"], clients["urn"]])
        assert "command" not in step["inputs"] and step["inputs"]["timeoutMinutes"] == 30
        assert (step["inputs"]["containerName"], step["inputs"]["logGroup"]) == (
            "migrate", "/ecs/private-fargate/dev/migrate")
        job_egress = [r["urn"] for r in stack.resources if r["name"].startswith("job-migrate-egress-")]
        assert job_egress and set(job_egress) <= set(step["dependencies"])
        assert step["urn"] in one(stack.resources, SERVICE, "service-api-service")["dependencies"]

    def test_a_worker_takes_no_message_with_new_code_before_its_step(self) -> None:
        """A worker is a service too: a migration its new code needs runs before its service moves."""
        stack = program({"jobs": [{"name": "migrate", "image": PUBLIC, "command": ["manage", "migrate"]}],
                         "workers": [{"name": "thumbs", "image": PUBLIC, "autoscaling": {"max": 2},
                                      "beforeDeploy": {"job": "migrate"}}]})
        step = one(stack.resources, MIGRATION, "worker-thumbs-migration")
        assert step["propertyDependencies"][TRIGGER] == [one(stack.resources, TASK_DEF, "worker-thumbs-task")["urn"]]
        job_td = one(stack.resources, TASK_DEF, "job-migrate-task")
        assert step["propertyDependencies"]["taskDefinition"] == [job_td["urn"]]
        assert step["inputs"]["service"] == "thumbs"
        assert step["urn"] in one(stack.resources, SERVICE, "worker-thumbs-service")["dependencies"]

    def test_no_step_without_before_deploy(self) -> None:
        assert [r for r in shipped("prod").resources if r["type"] == MIGRATION] == []

    def test_the_offline_preview_shows_the_step_without_violations(self, cli: Callable[..., Any]) -> None:
        result = cli("--stack", "dev", "--json")
        assert result.returncode == 0 and result.report["violations"] == []
        (step,) = [r for r in result.report["resources"] if r["type"] == MIGRATION]
        assert step["inputs"][TRIGGER] == "<unknown>" and step["inputs"]["__provider"] == "[secret]"


# -- settings -------------------------------------------------------------------------------------------------------

BAD = [
    ({"beforeDeploy": {"job": "migrate"}}, "services[0].beforeDeploy.job: 'migrate' is not a job of this stack"),
    ({"beforeDeploy": {"job": "report", "command": ["migrate"]}},
     "services[0].beforeDeploy: {\"job\": \"report\", \"command\": [\"migrate\"]} is not valid; give exactly one"),
    ({"beforeDeploy": {"command": ["migrate"], "timeoutMinutes": 0}},
     "services[0].beforeDeploy.timeoutMinutes: 0 is out of range; allowed: >= 1"),
    ({"beforeDeploy": {"command": ["migrate"], "timeoutMinutes": 600}},
     "services[0].beforeDeploy.timeoutMinutes: 600 is out of range; allowed: <= 120"),
    ({"beforeDeploy": {"command": []}}, "services[0].beforeDeploy.command: [] has the wrong length"),
]


@pytest.mark.parametrize("extra,message", BAD, ids=["unknown job", "job and command", "timeout 0", "timeout 600",
                                                     "empty command"])
def test_bad_before_deploy_is_one_line_and_registers_nothing(extra: dict[str, Any], message: str) -> None:
    data = {"services": [{"name": "web", "image": PUBLIC, **extra}], "jobs": [{"name": "report", "image": PUBLIC}]}
    with pytest.raises(ProgramFailed) as info:
        simulate(run_main, data)
    assert str(info.value).startswith(f"settings: {message}") and "\n" not in str(info.value)
    assert [r["type"] for r in info.value.resources if r["type"] != "pulumi:pulumi:Stack"] == []


def test_a_worker_naming_an_unknown_job_is_one_line() -> None:
    data = {"workers": [{"name": "thumbs", "image": PUBLIC, "autoscaling": {"max": 2},
                         "beforeDeploy": {"job": "migrate"}}]}
    with pytest.raises(ProgramFailed) as info:
        simulate(run_main, data)
    assert str(info.value) == ("settings: workers[0].beforeDeploy.job: 'migrate' is not a job of this stack; "
                               "jobs: none (add it under jobs)")


class TestDiff:
    """Runs only when the service's task definition changes."""

    def test_only_a_new_revision_is_a_change(self) -> None:
        p = MigrationProvider()
        old = {TRIGGER: "arn:aws:ecs:us-east-1:1:task-definition/web:7", "__provider": "a", "taskArn": "x",
               "command": ["migrate"], "subnets": ["subnet-1"]}
        same = {**old, "__provider": "b", "command": ["migrate", "--fake"], "subnets": ["subnet-2"]}
        assert p.diff("web", old, same).changes is False
        assert p.diff("web", old, {**old, TRIGGER: "arn:aws:ecs:us-east-1:1:task-definition/web:8"}).changes is True
        from pulumi.runtime import rpc

        assert p.diff("web", old, {**old, TRIGGER: rpc.UNKNOWN}).changes is True  # a preview of a new revision
        assert p.diff("web", old, same).replaces == []

    def test_the_provider_is_pickled_by_reference(self) -> None:
        import dill
        from pulumi.dynamic.dynamic import serialize_provider

        data = base64.b64decode(serialize_provider(MigrationProvider()))
        assert b"components.migration" in data and b"MigrationProvider" in data
        assert len(data) < 1000  # the class is named, not copied (with its module's globals)
        assert type(dill.loads(data)) is MigrationProvider
