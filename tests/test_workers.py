"""Queue workers: queue and DLQ, the container's QUEUE_URL, the task role, the service, scaling from zero, alarms,
endpoints, outputs and bad input. The example follows the shape of Copilot's Worker Service manifest
(a queue per worker, a DLQ after N tries, scaling on backlog per task), written in this project's settings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.naming import scoped_queue_name
from settings import Settings, SettingsError
from tests.support import (
    ALARM,
    ENDPOINT,
    QUEUE,
    QUEUE_POLICY,
    ROLE_POLICY,
    SCALING_POLICY,
    SCALING_TARGET,
    SERVICE,
    TASK_DEF,
    UNKNOWN,
    Registered,
    program,
)

ACCOUNT = "123456789012"
PREFIX = "private-fargate-dev"
QUEUE_NAME, DLQ_NAME = f"{PREFIX}-thumbs_queue", f"{PREFIX}-thumbs_dlq"
QUEUE_URL = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{QUEUE_NAME}"
WORKER = {"name": "thumbs", "image": {"build": "./app"}, "command": ["worker"], "autoscaling": {"max": 5},
          "visibilityTimeoutSeconds": 600, "maxReceiveCount": 3}
ALERTS = {"alerts": {"email": ["oncall@example.com"]}}


@pytest.fixture(scope="module")
def run() -> Registered:
    return program({"workers": [WORKER], **ALERTS})


@pytest.fixture(scope="module")
def up() -> Registered:
    return program({"workers": [WORKER]}, mode="up")


def doc(resource: dict[str, Any], key: str = "policy") -> dict[str, Any]:
    value = resource["inputs"][key]
    assert isinstance(value, str) and UNKNOWN not in value, (resource["name"], key)
    return json.loads(value)


def alarms(run: Registered) -> dict[str, dict[str, Any]]:
    return {a["name"].removeprefix("worker-thumbs-"): a["inputs"] for a in run.of_type(ALARM)
            if a["name"].startswith("worker-thumbs-")}


class TestQueues:
    def test_queue_and_dlq_encrypted_with_redrive(self, run: Registered) -> None:
        queue, dlq = run.one(QUEUE, "worker-thumbs-queue")["inputs"], run.one(QUEUE, "worker-thumbs-dlq")["inputs"]
        assert (queue["name"], dlq["name"]) == (QUEUE_NAME, DLQ_NAME)
        assert queue["sqsManagedSseEnabled"] is True and dlq["sqsManagedSseEnabled"] is True
        assert queue["visibilityTimeoutSeconds"] == 600 and dlq["messageRetentionSeconds"] == 14 * 24 * 3600
        assert json.loads(queue["redrivePolicy"]) == {
            "deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{DLQ_NAME}", "maxReceiveCount": 3}
        assert json.loads(dlq["redriveAllowPolicy"]) == {
            "redrivePermission": "byQueue", "sourceQueueArns": [f"arn:aws:sqs:us-east-1:{ACCOUNT}:{QUEUE_NAME}"]}
        assert run.one(QUEUE, "worker-thumbs-dlq")["urn"] in run.one(QUEUE, "worker-thumbs-queue")["dependencies"]

    def test_both_tls_only(self, run: Registered) -> None:
        for name, queue in (("worker-thumbs-queue", QUEUE_NAME), ("worker-thumbs-dlq", DLQ_NAME)):
            policy = run.one(QUEUE_POLICY, f"{name}-tls-only")
            (deny,) = doc(policy)["Statement"]
            assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "sqs:*"
            assert deny["Resource"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue}"
            assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            assert policy["propertyDependencies"]["queueUrl"] == [run.one(QUEUE, name)["urn"]]

    def test_names_never_meet_a_jobs_dead_letter_queue(self) -> None:
        # a job named "thumbs-queue" has the DLQ <prefix>-thumbs-queue-dlq; a worker "thumbs" <prefix>-thumbs_queue
        names = {scoped_queue_name(PREFIX, w, k) for w in ("thumbs", "thumbs-queue", "a-dlq") for k in ("queue", "dlq")}
        jobs = {f"{PREFIX}-{j}-dlq" for j in ("thumbs", "thumbs-queue", "thumbs_queue", "a")}
        assert not names & jobs and all("_" in n for n in names)


class TestTask:
    def test_container_gets_queue_url(self, run: Registered) -> None:
        (container,) = doc(run.one(TASK_DEF, "worker-thumbs-task"), "containerDefinitions")
        env = {e["name"]: e["value"] for e in container["environment"]}
        assert env["QUEUE_URL"] == QUEUE_URL and container["command"] == ["worker"]

    def test_task_role_consumes_only_its_queue_and_protects_the_clusters_tasks(self, run: Registered) -> None:
        st = {s["Sid"]: s for s in doc(run.one(ROLE_POLICY, "worker-thumbs-queue"))["Statement"]}
        assert st["ConsumeItsQueue"]["Action"] == ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage",
                                                   "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
        assert st["ConsumeItsQueue"]["Resource"] == [f"arn:aws:sqs:us-east-1:{ACCOUNT}:{QUEUE_NAME}"]
        assert st["ProtectItsTasks"]["Action"] == ["ecs:GetTaskProtection", "ecs:UpdateTaskProtection"]
        assert st["ProtectItsTasks"]["Resource"] == [f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/{PREFIX}/*"]
        role = run.one("aws:iam/role:Role", "worker-thumbs-task")
        assert run.one(ROLE_POLICY, "worker-thumbs-queue")["propertyDependencies"]["role"] == [role["urn"]]


class TestService:
    def test_private_service_at_min(self, run: Registered) -> None:
        service = run.one(SERVICE, "worker-thumbs-service")
        inputs = service["inputs"]
        assert inputs["name"] == "thumbs" and inputs["desiredCount"] == 0
        assert inputs["networkConfiguration"]["assignPublicIp"] is False
        assert inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert "loadBalancers" not in inputs and "serviceConnectConfiguration" not in inputs
        assert run.options[service["urn"]]["ignoreChanges"] == ["desiredCount"]
        assert run.one(ROLE_POLICY, "worker-thumbs-queue")["urn"] in service["dependencies"]

    def test_endpoints_sqs_and_ecs_added(self, run: Registered) -> None:
        services = {e["inputs"]["serviceName"].rsplit(".", 1)[-1] for e in run.of_type(ENDPOINT)}
        assert {"sqs", "ecs"} <= services
        assert not {"sqs", "ecs"} & {e["inputs"]["serviceName"].rsplit(".", 1)[-1]
                                     for e in program({}).of_type(ENDPOINT)}


class TestScaling:
    def test_target_between_min_and_max(self, run: Registered) -> None:
        target = run.one(SCALING_TARGET)["inputs"]
        assert (target["minCapacity"], target["maxCapacity"]) == (0, 5)
        assert target["resourceId"] == f"service/{PREFIX}/thumbs"

    def test_target_tracking_on_backlog_per_task_only_scales_out(self, run: Registered) -> None:
        policy = run.one(SCALING_POLICY, "worker-thumbs-backlog")["inputs"]
        config = policy["targetTrackingScalingPolicyConfiguration"]
        assert config["targetValue"] == 100 and config["disableScaleIn"] is True
        queries = {q["id"]: q for q in config["customizedMetricSpecification"]["metrics"]}
        assert queries["backlog"]["expression"] == "visible / IF(FILL(running, 0) >= 1, FILL(running, 0), 1)"
        assert queries["backlog"]["returnData"] is True
        visible = queries["visible"]["metricStat"]["metric"]
        assert (visible["namespace"], visible["metricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
        assert visible["dimensions"] == [{"name": "QueueName", "value": QUEUE_NAME}]
        running = queries["running"]["metricStat"]["metric"]
        assert (running["namespace"], running["metricName"]) == ("ECS/ContainerInsights", "RunningTaskCount")

    @pytest.mark.parametrize("kind,adjustment,value,minutes", [
        ("from-zero", "ExactCapacity", 1, 1), ("one-fewer", "ChangeInCapacity", -1, 5),
        ("idle", "ExactCapacity", 0, 15)])
    def test_step_policies_and_their_alarms(self, run: Registered, kind: str, adjustment: str, value: int,
                                            minutes: int) -> None:
        step = run.one(SCALING_POLICY, f"worker-thumbs-{kind}")["inputs"]["stepScalingPolicyConfiguration"]
        assert step["adjustmentType"] == adjustment
        assert step["stepAdjustments"] == [{"metricIntervalLowerBound": "0", "scalingAdjustment": value}]
        alarm = alarms(run)[kind]
        assert alarm["name"] == f"{PREFIX}-thumbs.{kind}"
        assert (alarm["evaluationPeriods"], alarm["datapointsToAlarm"], alarm["threshold"]) == (minutes, minutes, 1)
        assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        alarm_urn = run.one(ALARM, f"worker-thumbs-{kind}")
        assert run.one(SCALING_POLICY, f"worker-thumbs-{kind}")["urn"] in alarm_urn["propertyDependencies"][
            "alarmActions"]

    def test_from_zero_signal_and_idle_signal(self, run: Registered) -> None:
        a = alarms(run)
        assert a["from-zero"]["metricQueries"][-1]["expression"] == \
            "IF(FILL(visible, 0) >= 1 AND FILL(desired, 0) < 1, 1, 0)"
        assert a["idle"]["metricQueries"][-1]["expression"] == "IF(FILL(visible, 0) + FILL(inflight, 0) == 0, 1, 0)"
        idle = {q["id"]: q["metric"]["metricName"] for q in a["idle"]["metricQueries"] if "metric" in q}
        assert idle == {"visible": "ApproximateNumberOfMessagesVisible",
                        "inflight": "ApproximateNumberOfMessagesNotVisible"}
        assert a["one-fewer"]["metricQueries"][-1]["expression"] == \
            "IF(FILL(desired, 0) > 1 AND FILL(visible, 0) < 100 * (FILL(desired, 0) - 1), 1, 0)"

    def test_idle_minutes_and_no_from_zero_above_zero(self) -> None:
        worker = {**WORKER, "autoscaling": {"min": 1, "max": 3, "scaleInIdleMinutes": 30, "messagesPerTask": 10}}
        run = program({"workers": [worker]})
        assert "from-zero" not in alarms(run) and alarms(run)["idle"]["evaluationPeriods"] == 30
        step = run.one(SCALING_POLICY, "worker-thumbs-idle")["inputs"]["stepScalingPolicyConfiguration"]
        assert step["stepAdjustments"][0]["scalingAdjustment"] == 1  # back to min, not below
        assert run.one(SERVICE, "worker-thumbs-service")["inputs"]["desiredCount"] == 1


class TestAlarms:
    def test_dlq_depth_and_oldest_message_to_the_topic(self, run: Registered) -> None:
        a = alarms(run)
        topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:{PREFIX}-alerts"
        assert a["dlq-depth"]["dimensions"] == {"QueueName": DLQ_NAME} and a["dlq-depth"]["threshold"] == 0
        assert a["oldest-message"]["metricName"] == "ApproximateAgeOfOldestMessage"
        assert a["oldest-message"]["threshold"] == 1200  # twice the visibility timeout (600 s)
        assert a["dlq-depth"]["alarmActions"] == [topic] == a["oldest-message"]["okActions"]

    def test_no_actions_without_alerts(self, up: Registered) -> None:
        a = alarms(up)
        assert "alarmActions" not in a["dlq-depth"] and a["oldest-message"]["threshold"] == 1200


class TestOutputs:
    def test_worker_entry(self, up: Registered) -> None:
        entry = up.outputs["workers"]["thumbs"]
        assert (entry["queueUrl"], entry["serviceName"], entry["stateMachineArn"]) == (QUEUE_URL, "thumbs", None)
        assert entry["queueArn"] == up.one(QUEUE, "worker-thumbs-queue")["outputs"]["arn"]
        assert entry["deadLetterQueueUrl"] == f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{DLQ_NAME}"


class TestBadInput:
    @pytest.mark.parametrize("change,line", [
        ({"autoscaling": {"min": 0}}, "workers[0].autoscaling.max: required"),
        ({"autoscaling": {"min": 4, "max": 2}}, "workers[0].autoscaling.max: 2 is less than min (4)"),
        ({"autoscaling": {"max": 2, "messagesPerTask": 0}}, "workers[0].autoscaling.messagesPerTask: 0 is out of "
                                                            "range; allowed: >= 1"),
        ({"maxReceiveCount": 0}, "workers[0].maxReceiveCount: 0 is out of range; allowed: >= 1"),
        ({"environment": {"QUEUE_URL": "x"}}, "workers[0].environment.QUEUE_URL: set by private-fargate"),
        ({"name": "report"}, "workers[0].name: 'report' is already used by jobs[0]"),
    ])
    def test_one_line_naming_the_key(self, change: dict[str, Any], line: str) -> None:
        settings = {"jobs": [{"name": "report", "image": WORKER["image"]}], "workers": [{**WORKER, **change}]}
        with pytest.raises(SettingsError) as err:
            Settings.from_dict(settings)
        assert err.value.problems[0].startswith(line) and len(err.value.problems) == 1

    def test_nothing_registered(self, cli: Any, project_copy: Any) -> None:
        result = cli("--project-dir", project_copy({"workers": [{**WORKER, "autoscaling": {"min": 0}}]}),
                     "--stack", "t")
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.strip().splitlines() == ["error: settings: workers[0].autoscaling.max: required"]
