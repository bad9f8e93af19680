"""Alerts: event patterns and their exit-code logic, messages, alarms, the topic and its policy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from settings import Settings, SettingsError
from tests.support import ALARM, ROOT, RULE, SUBSCRIPTION, TARGET, TOPIC, Registered, run_main, simulate, stack_settings

ACCOUNT = "123456789012"
CLUSTER = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/private-fargate-dev"
EMAILS = ["oncall@example.com", "team@example.com"]


def with_alerts(alerts: dict[str, Any], stack: str = "dev") -> dict[str, Any]:
    settings = stack_settings(stack)
    settings["services"][0]["autoscaling"] = {"min": 2, "max": 4}
    settings["services"][0]["desiredCount"] = 2
    return {**settings, "alerts": alerts}


@pytest.fixture(scope="module")
def run() -> Registered:
    return simulate(run_main, with_alerts({"email": EMAILS}), mode="up")


def pattern(run: Registered, name: str) -> dict[str, Any]:
    return json.loads(run.one(RULE, name)["inputs"]["eventPattern"])


def matches(pat: Any, event: Any) -> bool:
    """A small EventBridge matcher for the pattern features these rules use."""
    if isinstance(pat, dict):
        for key, sub in pat.items():
            if key == "$or":
                if not any(matches(alt, event) for alt in sub):
                    return False
            elif isinstance(sub, dict):
                value = event.get(key) if isinstance(event, dict) else None
                items = value if isinstance(value, list) else [value]
                if value is None or not any(matches(sub, item) for item in items):
                    return False
            else:
                value = event.get(key) if isinstance(event, dict) else None
                values = value if isinstance(value, list) else [value]
                if value is None or not any(_matches_one(sub, v) for v in values):
                    return False
        return True
    return False


def _matches_one(options: list[Any], value: Any) -> bool:
    for option in options:
        if isinstance(option, dict):
            if "prefix" in option and isinstance(value, str) and value.startswith(option["prefix"]):
                return True
            if "anything-but" in option and value != option["anything-but"]:
                return True
        elif option == value:
            return True
    return False


def task_event(exit_code: int | None, stop_code: str, family: str = "private-fargate-dev-report",
               cluster: str = CLUSTER) -> dict[str, Any]:
    container = {"name": "report", **({"exitCode": exit_code} if exit_code is not None else {})}
    # `group` as RunTask sets it by default (family:<family>): ecs_task_events.html's example event
    return {"source": "aws.ecs", "detail-type": "ECS Task State Change", "detail": {
        "clusterArn": cluster, "lastStatus": "STOPPED", "stopCode": stop_code, "containers": [container],
        "group": f"family:{family}",
        "taskDefinitionArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{family}:7",
        "taskArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/private-fargate-dev/abc"}}


class TestJobFailures:
    @pytest.mark.parametrize("exit_code,stop_code,alerted", [
        (0, "EssentialContainerExited", False),
        (1, "EssentialContainerExited", True),
        (137, "EssentialContainerExited", True),
        (None, "TaskFailedToStart", True),
        (0, "SpotInterruption", True),
        (0, "UserInitiated", True),
    ])
    def test_exit_code_logic(self, run: Registered, exit_code: int | None, stop_code: str, alerted: bool) -> None:
        assert matches(pattern(run, "alerts-job-report"), task_event(exit_code, stop_code)) is alerted

    def test_only_this_cluster_and_job(self, run: Registered) -> None:
        pat = pattern(run, "alerts-job-report")
        assert pat["source"] == ["aws.ecs"] and pat["detail-type"] == ["ECS Task State Change"]
        assert pat["detail"]["clusterArn"] == [CLUSTER] and pat["detail"]["lastStatus"] == ["STOPPED"]
        assert not matches(pat, task_event(1, "EssentialContainerExited", family="private-fargate-dev-web"))
        assert not matches(pat, task_event(1, "EssentialContainerExited", cluster=CLUSTER + "-other"))
        assert not matches(pat, task_event(1, "EssentialContainerExited", family="private-fargate-dev-reporter"))

    def test_readable_message_with_log_link(self, run: Registered) -> None:
        target = run.one(TARGET, "alerts-job-report")["inputs"]
        transformer = target["inputTransformer"]
        assert transformer["inputPaths"]["exitCode"] == "$.detail.containers[0].exitCode"
        assert transformer["inputPaths"]["reason"] == "$.detail.stoppedReason"
        message = json.loads(transformer["inputTemplate"])
        assert message.startswith("Job report of private-fargate-dev failed at <time>: exit code <exitCode>")
        assert "logsV2:log-groups/log-group/$252Fecs$252Fprivate-fargate$252Fdev$252Freport" in message
        assert "logStreamNameFilter$3Dreport$252Freport$252F" in message
        assert target["arn"] == run.one(TOPIC)["outputs"]["arn"]


class TestDeployments:
    def test_failed_deployments_of_the_stacks_services(self, run: Registered) -> None:
        pat = pattern(run, "alerts-deployments")
        assert pat["detail-type"] == ["ECS Deployment State Change"]
        assert pat["resources"] == [f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/private-fargate-dev/web"]
        event = {"source": "aws.ecs", "detail-type": "ECS Deployment State Change", "resources": pat["resources"],
                 "detail": {"eventName": "SERVICE_DEPLOYMENT_FAILED", "reason": "circuit breaker: rolling back"}}
        assert matches(pat, event)
        assert not matches(pat, {**event, "detail": {"eventName": "SERVICE_DEPLOYMENT_COMPLETED"}})
        message = json.loads(run.one(TARGET, "alerts-deployments")["inputs"]["inputTransformer"]["inputTemplate"])
        assert "was rolled back: <reason>" in message


class TestAlarms:
    def test_dead_letter_queue_depth(self, run: Registered) -> None:
        alarm = run.one(ALARM, "alerts-dlq-report")["inputs"]
        queue = run.one("aws:sqs/queue:Queue")["inputs"]["name"]
        assert (alarm["namespace"], alarm["metricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
        assert alarm["dimensions"] == {"QueueName": queue}
        assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanThreshold", 0)
        assert alarm["alarmActions"] == [run.one(TOPIC)["outputs"]["arn"]]

    def test_running_tasks_below_minimum(self, run: Registered) -> None:
        alarm = run.one(ALARM, "alerts-tasks-web")["inputs"]
        assert (alarm["namespace"], alarm["metricName"]) == ("ECS/ContainerInsights", "RunningTaskCount")
        assert alarm["dimensions"] == {"ClusterName": "private-fargate-dev", "ServiceName": "web"}
        assert (alarm["comparisonOperator"], alarm["threshold"]) == ("LessThanThreshold", 2)
        assert alarm["treatMissingData"] == "breaching" and alarm["name"].startswith("private-fargate-dev-")


class TestTopic:
    def test_encrypted_topic_and_emails(self, run: Registered) -> None:
        topic = run.one(TOPIC)["inputs"]
        assert topic["kmsMasterKeyId"] == run.one("aws:kms/key:Key")["outputs"]["arn"]
        assert sorted(s["inputs"]["endpoint"] for s in run.of_type(SUBSCRIPTION)) == sorted(EMAILS)
        assert all(s["inputs"]["protocol"] == "email" for s in run.of_type(SUBSCRIPTION))
        key = json.loads(run.one("aws:kms/key:Key")["inputs"]["policy"])
        publishers = next(s for s in key["Statement"] if s["Sid"] == "PublishersEncrypt")
        assert publishers["Principal"]["Service"] == ["events.amazonaws.com", "cloudwatch.amazonaws.com"]

    def test_only_this_stacks_rules_and_alarms_publish(self, run: Registered) -> None:
        policy = json.loads(run.one("aws:sns/topicPolicy:TopicPolicy")["inputs"]["policy"])
        publish = [s for s in policy["Statement"] if s["Effect"] == "Allow" and "sns:Publish" in (
            s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
        assert {s["Principal"]["Service"] for s in publish} == {"events.amazonaws.com", "cloudwatch.amazonaws.com"}
        (tls,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
        assert (tls["Principal"], tls["Action"], tls["Condition"]) == (
            "*", "sns:Publish", {"Bool": {"aws:SecureTransport": "false"}})
        for statement in publish:
            assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
            assert statement["Condition"]["ArnLike"]["aws:SourceArn"] in (
                f"arn:aws:events:us-east-1:{ACCOUNT}:rule/private-fargate-dev-*",
                f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:private-fargate-dev-*")
        rule_names = {r["inputs"]["name"] for r in run.of_type(RULE)}
        alarm_names = {a["inputs"]["name"] for a in run.of_type(ALARM)}
        assert all(n.startswith("private-fargate-dev-") for n in rule_names | alarm_names)

    def test_given_topic_is_used(self) -> None:
        arn = f"arn:aws:sns:us-east-1:{ACCOUNT}:ops"
        run = simulate(run_main, with_alerts({"snsTopicArn": arn}))
        assert run.of_type(TOPIC) == [] and run.of_type("aws:kms/key:Key") == []
        assert {t["inputs"]["arn"] for t in run.of_type(TARGET)} == {arn}

    def test_no_alerting_without_the_setting(self) -> None:
        run = simulate(run_main, stack_settings("dev"))
        for token in (RULE, TARGET, ALARM, TOPIC, SUBSCRIPTION, "aws:kms/key:Key"):
            assert run.of_type(token) == [], token

    @pytest.mark.parametrize("alerts,message", [
        ({}, "alerts: {} is not valid; give email addresses, snsTopicArn or both"),
        ({"email": ["not-an-email"]}, "alerts.email[0]: 'not-an-email' is not valid; expected an email address"),
        ({"snsTopicArn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:ops"}, "alerts.snsTopicArn: the topic is not in us-east-1"),
    ])
    def test_settings_errors(self, alerts: dict[str, Any], message: str) -> None:
        with pytest.raises(SettingsError) as info:
            Settings.from_dict({"alerts": alerts})
        assert str(info.value).startswith(f"settings: {message}")

    def test_no_new_violations_and_cost(self, cli: Any, tmp_path: Any, project_copy: Any) -> None:
        directory = project_copy({k: v for k, v in with_alerts({"email": EMAILS}).items()})
        (directory / "policy").mkdir()
        # The dev stack's exceptions, nothing more: the alerts themselves add no violation.
        (directory / "policy" / "config.t.json").write_text((ROOT / "policy" / "config.dev.json").read_text())
        result = cli("--project-dir", directory, "--stack", "t", "--json")
        assert result.returncode == 0, result.stderr
        assert result.report["violations"] == []
        items = {i["item"] for i in result.report["cost"]["items"]}
        assert "CloudWatch alarms (2, 2 alarm metrics)" in items and "KMS keys (1)" in items
        assert any(i.startswith("SNS alerts (2 email") for i in items)
