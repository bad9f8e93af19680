"""The settings of real applications: every listed mistake is one line naming its key path, nothing registered."""

from __future__ import annotations

from typing import Any

import pytest

from settings import Settings, SettingsError
from settings.stack import default_dns_namespace
from tests.support import ROOT, preview, run_main, simulate
from tools.preview.child import ProgramFailed

PUBLIC = {"public": "public.ecr.aws/docker/library/postgres:16.4"}
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
OTHER_REGION_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VOLUMES = {"pgdata": {"uid": 999, "gid": 999}}


def svc(**extra: Any) -> dict[str, Any]:
    return {"name": "db", "image": PUBLIC, **extra}


def side(**extra: Any) -> dict[str, Any]:
    return {"name": "proxy", "image": PUBLIC, **extra}


def load(data: dict[str, Any], **kwargs: Any) -> Settings:
    return Settings.from_dict(data, base_dir=ROOT, **kwargs)


# (settings, the key path the message must start with, a fragment saying what is allowed or why)
INVALID: list[tuple[dict[str, Any], str, str]] = [
    # an unknown volume in mounts
    ({"volumes": VOLUMES, "services": [svc(mounts=[{"volume": "pgdta", "path": "/data"}])]},
     "services[0].mounts[0].volume", "not a key of volumes; volumes: pgdata"),
    ({"volumes": VOLUMES, "jobs": [svc(sidecars=[side(mounts=[{"volume": "x", "path": "/x"}])])]},
     "jobs[0].sidecars[0].mounts[0].volume", "not a key of volumes"),
    # a mount path used twice
    ({"volumes": VOLUMES, "services": [svc(mounts=[{"volume": "pgdata", "path": "/data"},
                                                   {"volume": "pgdata", "path": "/data"}])]},
     "services[0].mounts[1].path", "used twice"),
    ({"volumes": VOLUMES, "services": [svc(writablePaths=["/data"], mounts=[{"volume": "pgdata", "path": "/data"}])]},
     "services[0].mounts[0].path", "also in writablePaths"),
    # reservations that exceed the task size
    ({"services": [svc(cpu=256, sidecars=[side(cpu=200)], initContainers=[{"name": "i", "image": PUBLIC,
                                                                            "cpu": 100}])]},
     "services[0].cpu", "256 is less than the cpu units the sidecars and init containers reserve (proxy 200 + i 100"),
    ({"services": [svc(memory=512, sidecars=[side(memory=600)])]}, "services[0].memory", "less than the MiB"),
    # a duplicate container or port name
    ({"services": [svc(sidecars=[side(name="db")])]}, "services[0].sidecars[0].name",
     "already the name of the main container"),
    ({"services": [svc(sidecars=[side(), side()])]}, "services[0].sidecars[1].name", "sidecars[0]"),
    ({"services": [svc(port=5432, sidecars=[side(ports=[{"port": 9000, "name": "db"}])])]},
     "services[0].sidecars[0].ports[0].name", "port name 'db' is also used by port"),
    ({"services": [svc(ports=[5432, 5432])]}, "services[0].ports[1]", "tcp port 5432 is also used by ports[0]"),
    ({"services": [svc(ports=[5432], sidecars=[side(ports=[5432])])]}, "services[0].sidecars[0].ports[0]",
     "share one network interface"),
    # ports and port together
    ({"services": [svc(port=5432, ports=[5432])]}, "services[0].ports", "exactly one of port and ports"),
    # an init container with a port
    ({"jobs": [svc(initContainers=[{"name": "i", "image": PUBLIC, "ports": [80]}])]},
     "jobs[0].initContainers[0].ports", "serves no port"),
    ({"jobs": [svc(initContainers=[{"name": "i", "image": PUBLIC, "essential": True}])]},
     "jobs[0].initContainers[0].essential", "never essential"),
    # ephemeral storage out of range
    ({"services": [svc(ephemeralStorageGiB=20)]}, "services[0].ephemeralStorageGiB", ">= 21"),
    ({"jobs": [svc(ephemeralStorageGiB=201)]}, "jobs[0].ephemeralStorageGiB", "<= 200"),
    # the rest of the new keys
    ({"services": [svc(ports=[{"port": 53, "protocol": "sctp"}])]}, "services[0].ports[0].protocol", "tcp, udp"),
    ({"services": [svc(ports=[{"port": 53, "protocol": "udp"}], loadBalancer={})]}, "services[0].loadBalancer",
     "a TCP entry in ports"),
    ({"services": [svc(secrets={"PW": {"stackSecret": "nope"}})], "secretValues": {"pw": "[secret]"}},
     "services[0].secrets.PW.stackSecret", "not a key of secretValues; keys: pw"),
    ({"secretValues": {"pw": "hunter2"}}, "secretValues", "plain text in the stack file"),
    ({"secretValues": {"pw": "[secret]", "other": "hunter2"}}, "secretValues.other", "is a plain value"),
    ({"secretValues": {"bad/key": "[secret]"}}, "secretValues.bad/key", "not a valid key"),
    ({"volumes": {"pgdata": {"uid": 0, "gid": 0}}}, "volumes.pgdata.uid", ">= 1"),
    ({"volumes": {"pgdata": {"uid": 1, "gid": 1, "permissions": "999"}}}, "volumes.pgdata.permissions",
     "does not match"),
    ({"network": {"dnsNamespace": "Not A Name"}}, "network.dnsNamespace", "DNS name"),
    ({"services": [svc(kmsKeyArns=["arn:aws:kms:us-east-1:123456789012:alias/mine"])]},
     "services[0].kmsKeyArns[0]", "KMS key ARN"),
    ({"services": [svc(kmsKeyArns=[OTHER_REGION_KEY])]}, "services[0].kmsKeyArns[0]", "the key is in aws/eu-west-1"),
    ({"services": [svc(sidecars=[side(secrets={"X": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x"})])]},
     "services[0].sidecars[0].secrets.X", "the secret is in aws/eu-west-1"),
    ({"services": [svc(sidecars=[side(image={"public": "docker.io/library/nginx:1.27"})])]},
     "services[0].sidecars[0].image.public", "dockerHubCredentialArn"),
    ({"services": [svc(sidecars=[side(environment={"OUTPUT_BUCKET": "x"})])]},
     "services[0].sidecars[0].environment.OUTPUT_BUCKET", "set by private-fargate"),
    ({"services": [svc(writablePaths=["/a/b", "/a-b"])]}, "services[0].writablePaths", "same task volume name"),
    ({"services": [svc(writablePaths=["/efs-pgdata"])]}, "services[0].writablePaths", "stack volume"),
]


def _id(case: tuple[dict[str, Any], str, str]) -> str:
    return case[1]


@pytest.mark.parametrize("data,path,fragment", INVALID, ids=[_id(c) for c in INVALID])
def test_rejected_with_key_path(data: dict[str, Any], path: str, fragment: str) -> None:
    # Pulumi marks secretValues secret when any value in it was given as secure: (here: the placeholder).
    secret = frozenset({"secretValues"}) if "[secret]" in data.get("secretValues", {}).values() else frozenset()
    with pytest.raises(SettingsError) as info:
        load(data, secret_keys=secret)
    first = info.value.problems[0]
    assert first.startswith(path + ":"), first
    assert fragment in first, first
    assert "\n" not in str(info.value) and "hunter2" not in str(info.value)


@pytest.mark.parametrize("data,path,fragment", INVALID[::4], ids=[_id(c) for c in INVALID[::4]])
def test_program_registers_nothing(data: dict[str, Any], path: str, fragment: str) -> None:
    secret = ["private-fargate:secretValues"] if "[secret]" in data.get("secretValues", {}).values() else []
    with pytest.raises(ProgramFailed) as info:
        simulate(run_main, data, secret_keys=secret)
    assert str(info.value).startswith("settings: " + path)
    assert [r["type"] for r in info.value.resources if r["type"] != "pulumi:pulumi:Stack"] == []


def test_cli_says_it_in_one_line(project_copy: Any) -> None:
    directory = project_copy({"services": [svc(port=5432, ports=[5432])]})
    result = preview("--project-dir", directory, "--stack", "t", "--json")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: settings: services[0].ports: give exactly one of port and ports (ports takes every port, the first "
        "TCP one is the primary)"]


def test_a_secret_value_never_shows_in_a_message() -> None:
    with pytest.raises(SettingsError) as info:
        load({"secretValues": {"pw": 12345678}}, secret_keys=frozenset({"secretValues"}))
    assert "12345678" not in str(info.value) and str(info.value).startswith("settings: secretValues.pw:")


class TestAccepted:
    def test_a_volume_nobody_mounts_is_a_note(self) -> None:
        s = load({"volumes": VOLUMES})
        assert s.notes == ("volumes.pgdata: no container mounts it; its access point is created and stays empty",)

    def test_ports_forms_and_the_primary(self) -> None:
        s = load({"services": [svc(ports=[{"port": 53, "protocol": "udp"}, 5432, {"port": 9187, "name": "metrics"}])]})
        db = s.services[0]
        assert db.primary_port == 5432 and db.container_ports == [5432, 9187]
        assert [(n, p.port, p.protocol) for n, p in db.service_ports] == [
            ("db-53-udp", 53, "udp"), ("db", 5432, "tcp"), ("metrics", 9187, "tcp")]

    def test_a_sidecar_port_brings_the_service_connect_sizing_note(self) -> None:
        s = load({"services": [svc(sidecars=[side(ports=[8443])])]})
        assert [n for n in s.notes if n.startswith("services[0] (db): Service Connect adds a proxy")]

    def test_stack_secret_refs_and_offline_values(self) -> None:
        s = load({"secretValues": {"db-password": "[secret]"},
                  "jobs": [svc(secrets={"PGPASSWORD": {"stackSecret": "db-password"}, "OTHER": SECRET})]},
                 secret_keys=frozenset({"secretValues"}))
        job = s.jobs[0]
        assert job.stack_secret_keys == ["db-password"] and job.secret_arns == [SECRET]

    def test_kms_keys_of_the_region(self) -> None:
        assert load({"jobs": [svc(kmsKeyArns=[KEY])]}).jobs[0].kms_key_arns == [KEY]

    @pytest.mark.parametrize("project,stack,expected", [
        ("private-fargate", "dev", "dev.private-fargate.internal"),
        ("Shop_API.v2", "Prod_EU", "prod-eu.shop-api-v2.internal"),
        ("p", "x" * 70, f"{'x' * 63}.p.internal"),
    ])
    def test_dns_namespace_default_is_a_valid_name(self, project: str, stack: str, expected: str) -> None:
        assert default_dns_namespace(project, stack) == expected
        assert load({}, project=project, stack=stack).dns_namespace == expected

    def test_dns_namespace_set(self) -> None:
        assert load({"network": {"dnsNamespace": "shop.internal"}}).dns_namespace == "shop.internal"
