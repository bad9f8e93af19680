"""Services: ECS deployment alarms (rollbackOn, the default 5xx-rate alarm with a load balancer) and autoscaling on
requests per target."""

from __future__ import annotations

from typing import Any

import pytest

from settings import Settings, SettingsError
from tests.support import ALARM, LB, SCALING_POLICY, SERVICE, TG, Registered, program, run_main, simulate
from tools.preview.child import ProgramFailed

ACCOUNT = "123456789012"
PUBLIC = {"public": "public.ecr.aws/nginx/nginx:1.27"}
OTHER = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:checkout-latency"
WEB = {"name": "web", "image": PUBLIC, "port": 8080, "loadBalancer": {}, "desiredCount": 2,
       "autoscaling": {"min": 2, "max": 6, "cpuTarget": None, "requestsPerTarget": 500},
       "rollbackOn": {"alarms": ["private-fargate-dev-web-latency", OTHER]}}


@pytest.fixture(scope="module")
def up() -> Registered:
    return program({"services": [WEB]}, mode="up")


class TestDeploymentAlarms:
    def test_service_rolls_back_on_its_5xx_alarm_and_the_given_ones(self, up: Registered) -> None:
        service = up.one(SERVICE)
        assert service["inputs"]["alarms"] == {
            "alarmNames": ["private-fargate-dev-web.5xx", "private-fargate-dev-web-latency", "checkout-latency"],
            "enable": True, "rollback": True}
        assert service["inputs"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert up.one(ALARM, "service-web-5xx")["urn"] in service["dependencies"]

    def test_5xx_rate_of_the_targets_and_the_load_balancer(self, up: Registered) -> None:
        """Tasks that crash or reset show as the load balancer's own 502/503/504, not as target 5xx."""
        alarm = up.one(ALARM, "service-web-5xx")["inputs"]
        assert alarm["name"] == "private-fargate-dev-web.5xx"
        queries = {q["id"]: q for q in alarm["metricQueries"]}
        assert queries["rate"]["expression"] == (
            "IF(FILL(requests, 0) >= 10, 100 * (FILL(errors, 0) + FILL(elb, 0)) / requests, 0)")
        errors, elb = queries["errors"]["metric"], queries["elb"]["metric"]
        assert (errors["namespace"], errors["metricName"], errors["stat"]) == (
            "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum")
        balancer = {"LoadBalancer": up.one(LB)["outputs"]["arnSuffix"]}
        assert errors["dimensions"] == {**balancer, "TargetGroup": up.one(TG)["outputs"]["arnSuffix"]}
        assert (elb["metricName"], elb["dimensions"]) == ("HTTPCode_ELB_5XX_Count", balancer)
        assert (queries["requests"]["metric"]["metricName"], queries["requests"]["metric"]["dimensions"]) == (
            "RequestCount", balancer)
        assert (alarm["threshold"], alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (5, 3, 2)

    def test_no_load_balancer_no_default_alarm(self, run_program: Any) -> None:
        run = run_program({"services": [{"name": "api", "image": PUBLIC, "port": 9000}]})
        assert run.of_type(ALARM) == [] and "alarms" not in run.one(SERVICE)["inputs"]
        given = run_program({"services": [{"name": "api", "image": PUBLIC, "rollbackOn": {"alarms": [OTHER]}}]})
        assert given.one(SERVICE)["inputs"]["alarms"]["alarmNames"] == ["checkout-latency"]

    @pytest.mark.parametrize("alarm,line", [
        ("web-latency", "services[0].rollbackOn.alarms[0]: 'web-latency' is not an alarm of this stack"),
        (f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:x", "services[0].rollbackOn.alarms[0]: the alarm is in "
                                                             "eu-west-1 but the stack is in us-east-1"),
        (f"arn:aws:sns:us-east-1:{ACCOUNT}:x", "services[0].rollbackOn.alarms[0]: 'arn:aws:sns:us-east-1:"),
    ])
    def test_bad_alarm_one_line(self, alarm: str, line: str) -> None:
        with pytest.raises(SettingsError) as err:
            Settings.from_dict({"services": [{**WEB, "rollbackOn": {"alarms": [alarm]}}]})
        assert len(err.value.problems) == 1 and err.value.problems[0].startswith(line)

    def test_an_alarm_of_another_account_is_refused_before_any_resource(self) -> None:
        """ECS reads deployment alarms by name in the service's account: another account's ARN would watch a
        namesake here, so it is one line, and nothing is registered."""
        other = "arn:aws:cloudwatch:us-east-1:999999999999:alarm:payments-5xx"
        with pytest.raises(ProgramFailed) as info:
            simulate(run_main, {"services": [{**WEB, "rollbackOn": {"alarms": [other]}}]})
        assert str(info.value) == ("settings: services[0].rollbackOn.alarms[0]: the alarm is in account "
                                   "999999999999, the stack deploys to 123456789012; ECS watches deployment alarms "
                                   "by name in the service's own account: give an alarm of this account")
        assert [r["type"] for r in info.value.resources if r["type"] != "pulumi:pulumi:Stack"] == []


class TestRequestsPerTarget:
    def test_alb_request_count_per_target_with_its_resource_label(self, up: Registered) -> None:
        policy = up.one(SCALING_POLICY, "service-web-scale-requests")["inputs"]
        config = policy["targetTrackingScalingPolicyConfiguration"]
        assert config["targetValue"] == 500
        spec = config["predefinedMetricSpecification"]
        assert spec["predefinedMetricType"] == "ALBRequestCountPerTarget"
        assert spec["resourceLabel"] == f"{up.one(LB)['outputs']['arnSuffix']}/{up.one(TG)['outputs']['arnSuffix']}"
        assert spec["resourceLabel"].startswith("app/") and "/targetgroup/" in spec["resourceLabel"]
        assert not [p for p in up.of_type(SCALING_POLICY) if p["name"] == "service-web-scale-cpu"]

    def test_needs_a_load_balancer(self) -> None:
        with pytest.raises(SettingsError) as err:
            Settings.from_dict({"services": [{"name": "w", "image": PUBLIC, "autoscaling": {"requestsPerTarget": 9}}]})
        assert err.value.problems == ["services[0].autoscaling.requestsPerTarget: needs loadBalancer: the request "
                                      "count per target is the load balancer's metric"]
