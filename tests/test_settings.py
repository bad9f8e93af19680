"""Stack settings: defaults, the full documented shape, and one clear line for every rule a user can break."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from settings import FARGATE_MEMORY, RETENTION_DAYS, Settings, SettingsError
from tests.support import ROOT, preview, preview_cli, run_main, simulate
from tools.preview.child import ProgramFailed

PUBLIC = {"public": "public.ecr.aws/docker/library/python:3.12-slim"}
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-password-AbCdEf"
PARAM = "arn:aws:ssm:us-east-1:123456789012:parameter/app/token"


def svc(**extra: Any) -> dict[str, Any]:
    return {"name": "web", "image": PUBLIC, **extra}


def job(**extra: Any) -> dict[str, Any]:
    return {"name": "nightly", "image": PUBLIC, **extra}


def load(data: dict[str, Any], **kwargs: Any) -> Settings:
    return Settings.from_dict(data, base_dir=ROOT, **kwargs)


# (settings, the key path the message must start with, a fragment saying what is allowed or why)
INVALID: list[tuple[dict[str, Any], str, str]] = [
    ({"network": {"cidr": "10.0.0.0/8"}}, "network.cidr", "/16 to /24"),
    ({"network": {"cidr": "10.0.0.0/25"}}, "network.cidr", "/16 to /24"),
    ({"network": {"cidr": "10.0.0.300/16"}}, "network.cidr", "IPv4 CIDR"),
    ({"network": {"cidr": "10.0.1.0/16"}}, "network.cidr", "host bits"),
    ({"network": {"azCount": 0}}, "network.azCount", ">= 1"),
    ({"network": {"azCount": 7}}, "network.azCount", "<= 6"),
    ({"network": {"azCount": "two"}}, "network.azCount", "integer"),
    ({"network": {"azCount": 2, "endpointAzCount": 3}}, "network.endpointAzCount", "1..2"),
    ({"network": {"extraEndpoints": ["ssm", "s3-outposts"]}}, "network.extraEndpoints[1]", "secretsmanager"),
    ({"network": {"extraEndpoints": ["ssm", "ssm"]}}, "network.extraEndpoints", "listed twice"),
    ({"network": {"egress": "natgw"}}, "network.egress", "none, nat"),
    ({"network": {"s3EndpointPolicy": "closed"}}, "network.s3EndpointPolicy", "restricted"),
    ({"network": {"flowLogRetentionDays": 10}}, "network.flowLogRetentionDays", "14"),
    ({"network": {"cidrBlock": "10.0.0.0/16"}}, "network.cidrBlock", "unknown key"),
    ({"network": {"az_count": 2}}, "network.az_count", "did you mean 'azCount'"),
    ({"netwrok": {}}, "netwrok", "did you mean 'network'"),
    ({"network": {"existing": {"vpcId": "vpc-0123456789abcdef0", "privateSubnetIds": ["subnet-01234567"],
                               "privateRouteTableIds": ["rtb-01234567"]}}}, "network.cidr", "existing VPC's CIDR"),
    ({"network": {"existing": {"vpcId": "vpc-1", "privateSubnetIds": ["subnet-01234567"],
                               "privateRouteTableIds": ["rtb-01234567"]}, "cidr": "10.1.0.0/16"}},
     "network.existing.vpcId", "a VPC id"),
    ({"logs": {"retentionDays": 0}}, "logs.retentionDays", "3653"),
    ({"logs": {"retentionDays": 31}}, "logs.retentionDays", "CloudWatch allows only"),
    ({"logs": {"kmsKeyArn": "alias/mine"}}, "logs.kmsKeyArn", "KMS key"),
    ({"repository": {"name": "My_Repo"}}, "repository.name", "ECR repository name"),
    ({"repository": {"keepImages": 0}}, "repository.keepImages", ">= 1"),
    ({"repository": {"dockerHubCredentialArn": SECRET}}, "repository.dockerHubCredentialArn",
     "ecr-pullthroughcache/"),
    ({"protect": "maybe"}, "protect", "boolean"),
    ({"tags": {"project": "x"}}, "tags.project", "always set"),
    ({"tags": {"aws:owner": "x"}}, "tags.aws:owner", "reserved"),
    ({"outputBucket": {"expireAfterDays": 0}}, "outputBucket.expireAfterDays", ">= 1"),
    ({"cost": {"imageStorageGb": -1}}, "cost.imageStorageGb", ">= 0"),
    ({"services": [svc(cpu=256, memory=3000)]}, "services[0].memory",
     "3000 is not valid with cpu 256; allowed: 512, 1024, 2048"),
    ({"services": [svc(cpu=4096, memory=4096)]}, "services[0].memory", "8192..30720 in steps of 1024"),
    ({"services": [svc(cpu=8192, memory=17408)]}, "services[0].memory", "16384..61440 in steps of 4096"),
    ({"services": [svc(cpu=300)]}, "services[0].cpu", "256, 512, 1024"),
    ({"services": [svc(name="Web")]}, "services[0].name", "lowercase"),
    ({"services": [svc(), job(name="web")]}, "services[1].name", "unique"),
    ({"services": [svc()], "jobs": [job(name="web")]}, "jobs[0].name", "already used by services[0]"),
    ({"services": [svc(port=0)]}, "services[0].port", ">= 1"),
    ({"services": [svc(port=65536)]}, "services[0].port", "<= 65535"),
    ({"services": [svc(image={})]}, "services[0].image", "exactly one of build, uri, public"),
    ({"services": [svc(image={"build": "./app", "public": PUBLIC["public"]})]}, "services[0].image",
     "got build, public"),
    ({"services": [svc(image={"build": "./no-such-dir"})]}, "services[0].image.build.context", "not a directory"),
    ({"services": [svc(image={"uri": "docker.io/library/nginx:1.27"})]}, "services[0].image.uri",
     "no internet route"),
    ({"services": [svc(image={"uri": ECR + ":latest"})]}, "services[0].image.uri", "latest"),
    ({"services": [svc(image={"uri": ECR})]}, "services[0].image.uri", "tag or a digest"),
    ({"services": [svc(image={"uri": ECR.replace("us-east-1", "eu-west-1") + ":1.0"})]},
     "services[0].image.uri", "stack is in us-east-1"),
    ({"services": [svc(image={"public": "docker.io/library/nginx:1.27"})]}, "services[0].image.public",
     "dockerHubCredentialArn"),
    ({"services": [svc(image={"public": "public.ecr.aws/nginx/nginx:latest"})]}, "services[0].image.public",
     "latest"),
    ({"services": [svc(secrets={"DB_PASSWORD": "arn:aws:s3:::bucket/key"})]}, "services[0].secrets.DB_PASSWORD",
     "Secrets Manager"),
    ({"services": [svc(environment={"OUTPUT_BUCKET": "x"})]}, "services[0].environment.OUTPUT_BUCKET",
     "set by private-fargate"),
    ({"services": [svc(environment={"TOKEN": "a"}, secrets={"TOKEN": PARAM})]}, "services[0].secrets.TOKEN",
     "either plain or secret"),
    ({"services": [svc(environment={"1BAD": "x"})]}, "services[0].environment.1BAD", "environment variable name"),
    ({"services": [svc(healthCheck={"command": ["curl", "-f", "x"]})]}, "services[0].healthCheck.command",
     "CMD or CMD-SHELL"),
    ({"services": [svc(healthCheck={"command": ["CMD", "true"], "interval": 1})]},
     "services[0].healthCheck.interval", ">= 5"),
    ({"services": [svc(egressTo=[{"port": 5432}])]}, "services[0].egressTo[0]", "securityGroupId and cidr"),
    ({"services": [svc(egressTo=[{"securityGroupId": "sg-1", "port": 5432}])]},
     "services[0].egressTo[0].securityGroupId", "security group id"),
    ({"services": [svc(capacity="cheap")]}, "services[0].capacity", "on-demand, spot"),
    ({"services": [svc(capacityMix={"base": 1})]}, "services[0].capacityMix", "only used with capacity: mixed"),
    ({"services": [svc(capacity="mixed", capacityMix={"onDemandWeight": 0, "spotWeight": 0})]},
     "services[0].capacityMix", "above 0"),
    ({"services": [svc(arch="arm64")]}, "services[0].arch", "X86_64, ARM64"),
    ({"services": [svc(loadBalancer={})]}, "services[0].loadBalancer", "needs port"),
    ({"services": [svc(port=8080, loadBalancer={"scheme": "internet-facing"})]},
     "services[0].loadBalancer.certificateArn", "required with scheme internet-facing"),
    ({"network": {"azCount": 1}, "services": [svc(port=8080, loadBalancer={})]}, "services[0].loadBalancer",
     "2 AZs"),
    ({"services": [svc(port=8080, loadBalancer={"healthCheckPath": "health"})]},
     "services[0].loadBalancer.healthCheckPath", "starting with '/'"),
    ({"services": [svc(autoscaling={"min": 3, "max": 2})]}, "services[0].autoscaling.max", "less than min"),
    ({"services": [svc(desiredCount=6, autoscaling={"min": 1, "max": 4})]}, "services[0].desiredCount",
     "outside autoscaling"),
    ({"services": [svc(autoscaling={"cpuTarget": None})]}, "services[0].autoscaling", "cpuTarget, memoryTarget"),
    ({"services": [svc(schedule="rate(1 hour)")]}, "services[0].schedule", "unknown key"),
    ({"jobs": [job(port=8080)]}, "jobs[0].port", "unknown key"),
    ({"jobs": [job(schedule="cron(0 3 * * *)")]}, "jobs[0].schedule", "6 fields"),
    ({"jobs": [job(schedule="cron(0 3 * * * *)")]}, "jobs[0].schedule", "'?' in exactly one"),
    ({"jobs": [job(schedule="cron(0 24 * * ? *)")]}, "jobs[0].schedule", "hours field"),
    ({"jobs": [job(schedule="rate(0 minutes)")]}, "jobs[0].schedule", "n >= 1"),
    ({"jobs": [job(schedule="rate(2 hour)")]}, "jobs[0].schedule", "rate(2 hours)"),
    ({"jobs": [job(schedule="rate(1 week)")]}, "jobs[0].schedule", "minute(s), hour(s), day(s)"),
    ({"jobs": [job(schedule="at(2026-02-30T03:00:00)")]}, "jobs[0].schedule", "yyyy-mm-ddThh:mm:ss"),
    ({"jobs": [job(schedule="daily")]}, "jobs[0].schedule", "cron("),
    ({"jobs": [job(timezone="Europe/Pariss")]}, "jobs[0].timezone", "IANA"),
    ({"jobs": [job(retries=200)]}, "jobs[0].retries", "<= 185"),
    ({"jobs": "nightly"}, "jobs", "list"),
    ({"network": {"azCount": True}}, "network.azCount", "integer"),
    ({"logs": {"retentionDays": "30"}}, "logs.retentionDays", "integer"),
    ({"services": [svc(port=True)]}, "services[0].port", "integer"),
    ({"protect": "false"}, "protect", "boolean"),
    ({"cost": {"imageStorageGb": float("inf")}}, "cost.imageStorageGb", "finite"),
    ({"network": {"cidr": "127.0.0.0/16"}}, "network.cidr", "does not allow this range"),
    ({"network": {"cidr": "0.0.0.0/16"}}, "network.cidr", "does not allow this range"),
    ({"network": {"cidr": "224.0.0.0/16"}}, "network.cidr", "does not allow this range"),
    ({"logs": {"kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:alias/logs"}}, "logs.kmsKeyArn",
     "does not take aliases"),
    ({"tags": {"Name": "x"}}, "tags.Name", "always set"),
    ({"tags": {f"k{i}": "v" for i in range(48)}}, "tags", "AWS allows 50"),
    ({"tags": {"a\nb": "v"}}, "tags.'a\\nb'", "letters, digits"),
    ({"jobs": [job(secrets={"DB": SECRET.replace("us-east-1", "eu-west-1")})]}, "jobs[0].secrets.DB",
     "stack is in aws/us-east-1"),
    ({"jobs": [job(secrets={"DB": SECRET.replace("arn:aws:", "arn:aws-cn:")})]}, "jobs[0].secrets.DB",
     "the secret is in aws-cn/us-east-1"),
    ({"jobs": [job(timezone="Factory")]}, "jobs[0].timezone", "IANA"),
    ({"jobs": [job(timezone="posix/Europe/Paris")]}, "jobs[0].timezone", "IANA"),
    ({"jobs": [job(schedule=" rate(5 minutes)")]}, "jobs[0].schedule", "remove the spaces"),
    ({"jobs": [job(schedule="cron(5/ * * * ? *)")]}, "jobs[0].schedule", "minutes field"),
    ({"jobs": [job(schedule="cron(0/0 * * * ? *)")]}, "jobs[0].schedule", "minutes field"),
    ({"jobs": [job(schedule="cron(1-5-7 * * * ? *)")]}, "jobs[0].schedule", "minutes field"),
    ({"jobs": [job(schedule="cron(0 0 * * ? 2030-2020)")]}, "jobs[0].schedule", "year field"),
    ({"jobs": [job(schedule="cron(0 3 ? * LW *)")]}, "jobs[0].schedule", "day-of-week field"),
    ({"jobs": [job(schedule="cron(0 3 ? * MONL *)")]}, "jobs[0].schedule", "day-of-week field"),
    ({"jobs": [job(schedule="cron(0 3 ? * 6#6 *)")]}, "jobs[0].schedule", "1 to 5"),
    ({"jobs": [job(schedule="at(2026-1-1T1:2:3)")]}, "jobs[0].schedule", "yyyy-mm-ddThh:mm:ss"),
]


def _id(case: tuple[dict[str, Any], str, str]) -> str:
    return case[1]


class TestInvalidSettings:
    """Each broken rule is one line naming the key path, the value and what is allowed."""

    @pytest.mark.parametrize("data,path,fragment", INVALID, ids=[_id(c) for c in INVALID])
    def test_rejected_with_key_path(self, data: dict[str, Any], path: str, fragment: str) -> None:
        with pytest.raises(SettingsError) as info:
            load(data)
        first = info.value.problems[0]
        assert first.startswith(path + ":"), first
        assert fragment in first
        assert "\n" not in str(info.value)

    def test_invalid_value_is_quoted_in_message(self) -> None:
        with pytest.raises(SettingsError) as info:
            load({"network": {"egress": "natgw"}})
        assert "'natgw'" in str(info.value)

    def test_several_problems_are_all_named_on_one_line(self) -> None:
        with pytest.raises(SettingsError) as info:
            load({"network": {"azCount": 9, "egress": "natgw"}, "logs": {"retentionDays": 2}})
        message = str(info.value)
        assert len(info.value.problems) == 3
        for key in ("network.azCount", "network.egress", "logs.retentionDays"):
            assert key in message
        assert "\n" not in message

    def test_missing_region_is_a_settings_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("AWS_REGION", raising=False)
        monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)

        def build() -> None:
            Settings.load()

        with pytest.raises(ProgramFailed, match="aws:region: not set"):
            child_simulate_without_region(build)

    @pytest.mark.parametrize("data,path,fragment", INVALID[::3], ids=[_id(c) for c in INVALID[::3]])
    def test_program_registers_nothing(self, data: dict[str, Any], path: str, fragment: str) -> None:
        with pytest.raises(ProgramFailed) as info:
            simulate(run_main, data)
        assert str(info.value).startswith("settings: " + path)
        assert [r["type"] for r in info.value.resources if r["type"] != "pulumi:pulumi:Stack"] == []


def child_simulate_without_region(build: Any) -> None:
    from tools.preview import child

    child.simulate(build, project="private-fargate", stack="dev", config={}, secret_keys=[], region="us-east-1")


# Pulumi hands top-level scalar settings to a program as text, so `protect: "false"` in a stack
# file reads as false there: that case is only an error for settings built in Python.
CLI_INVALID = [c for c in INVALID if c[0] != {"protect": "false"}]


class TestCliRejectsSettings:
    """`tools.preview` turns every settings error into exit 2 and one line on stderr."""

    @pytest.mark.parametrize("data,path,fragment", CLI_INVALID, ids=[_id(c) for c in CLI_INVALID])
    def test_exit_2_one_line(self, data: dict[str, Any], path: str, fragment: str, project_copy: Any) -> None:
        directory = project_copy(data)
        result = preview("--project-dir", directory, "--stack", "t", "--json")
        assert result.returncode == 2
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"error: settings: {path}:")
        assert fragment in lines[0]
        assert "Traceback" not in result.stderr

    def test_a_real_process_says_the_same(self, project_copy: Any) -> None:
        directory = project_copy({"services": [svc(memory=3000)]})
        fast = preview("--project-dir", directory, "--stack", "t", "--json")
        real = preview_cli("--project-dir", directory, "--stack", "t", "--json")
        assert (real.returncode, real.stdout, real.stderr) == (fast.returncode, fast.stdout, fast.stderr) != (0, "", "")


class TestValidSettings:
    """Defaults and accepted forms."""

    def test_defaults(self) -> None:
        s = load({}, project="private-fargate", stack="prod", region="eu-west-1")
        assert (s.network.cidr, s.network.az_count, s.network.endpoint_subnet_count) == ("10.0.0.0/16", 2, 2)
        assert s.network.egress == "none" and s.network.s3_policy == "restricted"
        assert s.network.endpoint_policy == "restricted" and s.output_bucket.noncurrent_version_expiry_days == 30
        assert s.logs.retention_days == 30 and s.protect is True
        assert s.repository_name == "private-fargate-prod"
        assert (s.repository.keep_images, s.repository.untagged_expiry_days) == (20, 7)
        assert s.output_bucket.enabled and s.output_bucket.versioning
        assert s.stack_tags == {"project": "private-fargate", "stack": "prod"}
        assert s.region == "eu-west-1"

    def test_documented_service_entry_with_every_key(self, tmp_path: Path) -> None:
        (tmp_path / "app").mkdir()
        (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
        entry = {
            "name": "web", "image": {"build": "./app"}, "cpu": 256, "memory": 512, "arch": "X86_64",
            "desiredCount": 1, "port": 8080, "command": ["python", "-m", "app", "serve"],
            "environment": {"LOG_LEVEL": "info"}, "secrets": {"DB_PASSWORD": SECRET},
            "healthCheck": {"command": ["CMD-SHELL", "curl -f localhost:8080/health"], "interval": 30,
                            "timeout": 5, "retries": 3, "startPeriod": 10},
            "writablePaths": ["/tmp"], "readonlyRootFilesystem": True,
            "egressTo": [{"securityGroupId": "sg-0123456789abcdef0", "port": 5432},
                         {"cidr": "10.20.0.0/16", "port": 443}],
            "capacity": "mixed", "capacityMix": {"base": 1, "onDemandWeight": 1, "spotWeight": 3}, "exec": False,
            "loadBalancer": {"scheme": "internal", "healthCheckPath": "/health", "certificateArn": None,
                             "accessLogs": False},
            "autoscaling": {"min": 1, "max": 4, "cpuTarget": 60, "memoryTarget": None, "scaleInCooldown": 300,
                            "scaleOutCooldown": 60},
            "waitForSteadyState": False,
        }
        s = Settings.from_dict({"services": [entry]}, base_dir=tmp_path)
        assert s.services[0].mix.spot_weight == 3
        assert s.services[0].egress_to[1].cidr == "10.20.0.0/16"

    @pytest.mark.parametrize("expression", [
        "cron(0 3 * * ? *)", "cron(0/15 8-17 ? * MON-FRI *)", "cron(*/5 * * * ? *)", "cron(0 3 L * ? *)",
        "cron(0 3 LW * ? *)", "cron(0 3 15W * ? *)", "cron(0 3 ? * 6#3 *)", "cron(0 3 ? * 6L *)",
        "cron(0 9 ? JAN-MAR MON,WED *)", "cron(0 0 1 1 ? 2027-2030)", "rate(1 minute)", "rate(15 minutes)",
        "rate(1 day)", "at(2026-12-01T03:00:00)"])
    def test_scheduler_expressions_accepted(self, expression: str) -> None:
        assert load({"jobs": [job(schedule=expression)]}).jobs[0].schedule == expression

    def test_offline_secret_placeholder_passes_format_checks(self) -> None:
        s = load({"jobs": [job(secrets={"DB": "[secret]"})],
                  "repository": {"dockerHubCredentialArn": "[secret]"}})
        assert s.jobs[0].secrets == {"DB": "[secret]"}

    def test_offline_secret_in_typed_setting_explains_itself(self) -> None:
        with pytest.raises(SettingsError, match=r"protect: '\[secret\]' is not valid.*secure: value"):
            load({"protect": "[secret]"})

    def test_job_keys(self) -> None:
        s = load({"jobs": [job(schedule="cron(0 3 ? * MON-FRI *)", timezone="Europe/Paris", retries=0,
                               expectedMinutes=5, capacity="spot", arch="ARM64")]})
        j = s.jobs[0]
        assert (j.schedule, j.timezone, j.retries, j.expected_minutes) == (
            "cron(0 3 ? * MON-FRI *)", "Europe/Paris", 0, 5)

    @pytest.mark.parametrize("cpu", sorted(FARGATE_MEMORY))
    def test_memory_defaults_to_smallest_valid_size(self, cpu: int) -> None:
        s = load({"services": [svc(cpu=cpu)]})
        assert s.services[0].memory_mib == FARGATE_MEMORY[cpu][0]

    @pytest.mark.parametrize("cpu,memory", [(256, 2048), (512, 4096), (1024, 8192), (2048, 16384),
                                            (4096, 30720), (8192, 61440), (16384, 122880), (16384, 32768)])
    def test_largest_and_smallest_fargate_sizes(self, cpu: int, memory: int) -> None:
        assert load({"services": [svc(cpu=cpu, memory=memory)]}).services[0].memory_mib == memory

    def test_fargate_table_matches_aws(self) -> None:
        assert len(FARGATE_MEMORY[4096]) == 23 and FARGATE_MEMORY[8192][1] - FARGATE_MEMORY[8192][0] == 4096
        assert FARGATE_MEMORY[16384][-1] == 120 * 1024 and 3653 in RETENTION_DAYS and 0 not in RETENTION_DAYS

    def test_environment_scalars_become_strings(self) -> None:
        s = load({"jobs": [job(environment={"WORKERS": 4, "DEBUG": True, "RATIO": 0.5})]})
        assert s.jobs[0].environment == {"WORKERS": "4", "DEBUG": "true", "RATIO": "0.5"}

    def test_build_forms(self, tmp_path: Path) -> None:
        (tmp_path / "ctx").mkdir()
        (tmp_path / "ctx" / "Dockerfile").write_text("FROM scratch\n")
        (tmp_path / "ctx" / "job.Dockerfile").write_text("FROM scratch\n")
        short = Settings.from_dict({"jobs": [job(image={"build": "ctx"})]}, base_dir=tmp_path)
        long = Settings.from_dict({"jobs": [job(image={"build": {"context": "ctx", "dockerfile": "job.Dockerfile"}})]},
                                  base_dir=tmp_path)
        assert short.jobs[0].image.source == "build"
        assert (short.jobs[0].image.build.context, short.jobs[0].image.build.dockerfile) == ("ctx", "Dockerfile")
        assert long.jobs[0].image.build.dockerfile == "job.Dockerfile"
        with pytest.raises(SettingsError, match=r"jobs\[0\]\.image\.build\.dockerfile: 'other' not found"):
            Settings.from_dict({"jobs": [job(image={"build": {"context": "ctx", "dockerfile": "other"}})]},
                               base_dir=tmp_path)

    def test_existing_network(self) -> None:
        s = load({"network": {"cidr": "10.1.0.0/16", "existing": {
            "vpcId": "vpc-0123456789abcdef0", "privateSubnetIds": ["subnet-01234567", "subnet-89abcdef"],
            "privateRouteTableIds": ["rtb-01234567"]}}})
        assert s.network.subnet_count == 2 and s.network.endpoint_subnet_count == 2

    def test_docker_hub_with_credentials(self) -> None:
        arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/docker-AbCdEf"
        s = load({"repository": {"dockerHubCredentialArn": arn},
                  "jobs": [job(image={"public": "docker.io/library/busybox:1.36"})]})
        assert s.jobs[0].image.public == "docker.io/library/busybox:1.36"

    def test_private_uri_with_digest(self) -> None:
        uri = ECR + "@sha256:" + "a" * 64
        assert load({"jobs": [job(image={"uri": uri})]}).jobs[0].image.uri == uri

    def test_settings_are_immutable(self) -> None:
        s = load({})
        with pytest.raises(ValueError):
            s.network.az_count = 3  # type: ignore[misc]
