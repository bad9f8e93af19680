"""Persistent volumes on EFS: created only with a volume, encrypted, reached through access points with TLS and
the task role, one mount target per zone, NFS only from the workloads that mount, priced.

The database entry follows the official postgres image's documented use (PGDATA below the mount
point, the image's postgres uid/gid 999).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.volume_access import VolumeGrant, file_system_policy
from tests.support import (
    EGRESS,
    INGRESS,
    SG,
    TASK_DEF,
    Registered,
    program,
    run_main,
    shipped,
    simulate,
    task_definition_problems,
)
from tools import cost
from tools.preview import child

ACCOUNT = "123456789012"
PG = {"public": "public.ecr.aws/docker/library/postgres:16.4"}
FS = "aws:efs/fileSystem:FileSystem"
AP = "aws:efs/accessPoint:AccessPoint"
MT = "aws:efs/mountTarget:MountTarget"
FS_POLICY = "aws:efs/fileSystemPolicy:FileSystemPolicy"
BACKUP = "aws:efs/backupPolicy:BackupPolicy"
SETTINGS: dict[str, Any] = {
    "protect": False,
    "volumes": {"pgdata": {"uid": 999, "gid": 999, "permissions": "0700"}, "shared": {"uid": 1000, "gid": 1000}},
    "services": [{"name": "db", "image": PG, "ports": [5432], "user": "999:999", "ephemeralStorageGiB": 30,
                  "mounts": [{"volume": "pgdata", "path": "/var/lib/postgresql/data"}]}],
    "jobs": [{"name": "backup", "image": PG, "mounts": [{"volume": "pgdata", "path": "/pg", "readOnly": True},
                                                        {"volume": "shared", "path": "/out"}]},
             {"name": "other", "image": PG}],
}
ROLE = f"arn:aws:iam::{ACCOUNT}:role/private-fargate-dev"


@pytest.fixture(scope="module")
def up() -> Registered:
    return program(SETTINGS, mode="up")


def td(run: Registered, name: str) -> dict[str, Any]:
    return run.one(TASK_DEF, name)["inputs"]


class TestOnlyWithAVolume:
    def test_shipped_dev_and_prod_have_no_file_system(self) -> None:
        for stack in ("dev", "prod"):
            assert [r for r in shipped(stack).resources if r["type"].startswith("aws:efs/")] == []

    def test_one_encrypted_file_system_for_all_volumes(self, up: Registered) -> None:
        fs = up.one(FS)
        assert fs["inputs"]["encrypted"] is True and fs["inputs"]["throughputMode"] == "bursting"
        assert fs["inputs"]["creationToken"] == "private-fargate-dev-volumes"
        assert sorted(a["name"] for a in up.of_type(AP)) == ["volumes-pgdata", "volumes-shared"]


class TestAccessPoints:
    def test_posix_user_and_root_directory_from_the_volume(self, up: Registered) -> None:
        ap = up.one(AP, "volumes-pgdata")["inputs"]
        assert ap["posixUser"] == {"uid": 999, "gid": 999}
        assert ap["rootDirectory"] == {"path": "/pgdata", "creationInfo": {
            "ownerUid": 999, "ownerGid": 999, "permissions": "0700"}}
        assert up.one(AP, "volumes-shared")["inputs"]["rootDirectory"]["creationInfo"]["permissions"] == "0755"

    def test_every_mount_through_its_access_point_with_tls_and_the_task_role(self, up: Registered) -> None:
        volumes = {v["name"]: v for v in td(up, "job-backup-task")["volumes"]}
        ap_ids = {a["name"]: a["id"] for a in up.of_type(AP)}
        for name, ap in (("efs-pgdata", "volumes-pgdata"), ("efs-shared", "volumes-shared")):
            config = volumes[name]["efsVolumeConfiguration"]
            assert config == {"fileSystemId": up.one(FS)["id"], "transitEncryption": "ENABLED",
                              "authorizationConfig": {"accessPointId": ap_ids[ap], "iam": "ENABLED"}}
        (container,) = json.loads(td(up, "job-backup-task")["containerDefinitions"])
        assert [m for m in container["mountPoints"] if m["sourceVolume"].startswith("efs-")] == [
            {"sourceVolume": "efs-pgdata", "containerPath": "/pg", "readOnly": True},
            {"sourceVolume": "efs-shared", "containerPath": "/out", "readOnly": False}]

    def test_a_workload_without_mounts_gets_no_efs_volume(self, up: Registered) -> None:
        assert [v["name"] for v in td(up, "job-other-task")["volumes"]] == ["tmp"]

    def test_valid_for_the_ecs_api_with_more_ephemeral_storage(self, up: Registered) -> None:
        assert td(up, "service-db-task")["ephemeralStorage"] == {"sizeInGib": 30}
        assert "ephemeralStorage" not in td(up, "job-other-task")
        for task in up.of_type(TASK_DEF):
            assert task_definition_problems(task) == "", task["name"]


class TestGrants:
    def test_file_system_policy_names_exactly_the_mounting_roles(self, up: Registered) -> None:
        doc = json.loads(up.one(FS_POLICY)["inputs"]["policy"])
        fs_arn = up.one(FS)["outputs"]["arn"]
        aps = {a["name"]: a["outputs"]["arn"] for a in up.of_type(AP)}
        st = {s["Sid"]: s for s in doc["Statement"]}
        assert st["WritePgdata"]["Principal"] == {"AWS": [f"{ROLE}-db-task"]}
        assert st["WritePgdata"]["Action"] == ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
        assert st["ReadPgdata"]["Principal"] == {"AWS": [f"{ROLE}-backup-task"]}
        assert st["ReadPgdata"]["Action"] == ["elasticfilesystem:ClientMount"]
        assert st["WriteShared"]["Principal"] == {"AWS": [f"{ROLE}-backup-task"]}
        for sid, ap in (("WritePgdata", "volumes-pgdata"), ("ReadPgdata", "volumes-pgdata"),
                        ("WriteShared", "volumes-shared")):
            assert st[sid]["Resource"] == fs_arn
            assert st[sid]["Condition"] == {"StringEquals": {"elasticfilesystem:AccessPointArn": aps[ap]}}
        assert st["DenyWithoutTls"]["Effect"] == "Deny"
        assert st["DenyWithoutTls"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert st["OnlyThroughTheStackAccessPoints"]["Condition"] == {
            "StringNotEquals": {"elasticfilesystem:AccessPointArn": sorted(aps.values())}}
        assert set(st) == {"WritePgdata", "ReadPgdata", "WriteShared", "DenyWithoutTls",
                           "OnlyThroughTheStackAccessPoints"}

    def test_policy_waits_for_the_roles_it_names(self, up: Registered) -> None:
        roles = {r["urn"] for r in up.resources if r["name"] in ("service-db-task", "job-backup-task")
                 and r["type"] == "aws:iam/role:Role"}
        other = {r["urn"] for r in up.resources if r["name"] == "job-other-task" and r["type"] == "aws:iam/role:Role"}
        deps = set(up.one(FS_POLICY)["dependencies"])
        assert roles <= deps and not other & deps

    def test_task_roles_get_no_efs_grant_of_their_own(self, up: Registered) -> None:
        policies = [r["inputs"]["policy"] for r in up.resources if r["type"] == "aws:iam/rolePolicy:RolePolicy"]
        assert not any("elasticfilesystem" in p for p in policies)

    def test_pure_policy_merges_roles_per_volume_and_access(self) -> None:
        doc = json.loads(file_system_policy("fs", {"a": "ap-a"}, [
            VolumeGrant("r1", "a", True), VolumeGrant("r2", "a", True), VolumeGrant("r3", "a", False)]))
        allow = [s for s in doc["Statement"] if s["Effect"] == "Allow"]
        assert [(s["Sid"], s["Principal"]["AWS"]) for s in allow] == [("WriteA", ["r1", "r2"]), ("ReadA", ["r3"])]


class TestNetwork:
    def test_nfs_only_from_the_workloads_that_mount(self, up: Registered) -> None:
        groups = {g["name"]: g for g in up.of_type(SG)}
        efs = groups["volumes-sg"]
        assert efs["inputs"].get("ingress") in (None, []) and efs["inputs"].get("egress") in (None, [])
        sources = {r["propertyDependencies"]["referencedSecurityGroupId"][0] for r in up.of_type(INGRESS)
                   if r["propertyDependencies"]["securityGroupId"] == [efs["urn"]]}
        assert sources == {groups["service-db-sg"]["urn"], groups["job-backup-sg"]["urn"]}
        assert {r["inputs"]["fromPort"] for r in up.of_type(INGRESS)
                if r["propertyDependencies"]["securityGroupId"] == [efs["urn"]]} == {2049}
        nfs_out = {r["propertyDependencies"]["securityGroupId"][0] for r in up.of_type(EGRESS)
                   if r["inputs"]["fromPort"] == 2049}
        assert nfs_out == sources

    def test_one_mount_target_per_zone_of_the_task_subnets(self, up: Registered) -> None:
        targets = up.of_type(MT)
        assert len(targets) == 2
        assert {t["inputs"]["subnetId"] for t in targets} == set(up.outputs["privateSubnetIds"])

    def test_adopted_subnets_sharing_a_zone_share_a_mount_target(self, monkeypatch: pytest.MonkeyPatch) -> None:
        zones = {"subnet-0aaaaaaaaaaaaaaa1": "us-east-1a", "subnet-0aaaaaaaaaaaaaaa2": "us-east-1a",
                 "subnet-0aaaaaaaaaaaaaaa3": "us-east-1b"}
        monkeypatch.setitem(child.fakes._INVOKES, "aws:ec2/getSubnet:getSubnet",
                            lambda cloud, args: {"id": args["id"], "availabilityZone": zones[args["id"]]})
        settings = {**SETTINGS, "network": {"cidr": "10.20.0.0/16", "existing": {
            "vpcId": "vpc-0123456789abcdef0", "privateSubnetIds": list(zones),
            "privateRouteTableIds": ["rtb-0123456789abcdef0"]}}}
        run = simulate(run_main, settings)
        assert sorted(t["inputs"]["subnetId"] for t in run.of_type(MT)) == [
            "subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa3"]
        assert any("3 task subnets in 2 zone(s)" in n for n in run.notes)

    def test_task_definitions_wait_for_the_mount_targets(self, up: Registered) -> None:
        targets = {t["urn"] for t in up.of_type(MT)}
        assert targets <= set(up.one(TASK_DEF, "service-db-task")["dependencies"])
        assert not targets & set(up.one(TASK_DEF, "job-other-task")["dependencies"])

    def test_no_endpoint_for_efs(self, up: Registered) -> None:
        assert "elasticfilesystem" not in up.outputs["vpcEndpoints"]


class TestProtect:
    def test_backups_and_retention_follow_protect(self) -> None:
        dev = program(SETTINGS)
        assert dev.one(BACKUP)["inputs"]["backupPolicy"] == {"status": "DISABLED"}
        assert not dev.one(FS)["protect"]
        prod = program({**SETTINGS, "protect": True})
        assert prod.one(BACKUP)["inputs"]["backupPolicy"] == {"status": "ENABLED"}
        assert prod.one(FS)["protect"] and prod.one(FS)["retainOnDelete"]


class TestCost:
    def report(self, run: Registered, region: str = "us-east-1") -> dict[str, Any]:
        return {"resources": run.resources, "project": "private-fargate", "stack": "dev", "region": region}

    def test_storage_priced_and_backups_with_protect(self) -> None:
        assume = {"efsStorageGb": 20}
        items = {i["item"]: i for i in cost.estimate(self.report(program(SETTINGS)), "us-east-1", assume)["items"]}
        assert items["EFS storage (20 GB assumed, cost.efsStorageGb)"]["monthly"] == round(20 * 0.30, 2)
        assert not [i for i in items if i.startswith("EFS backups")]
        protected = cost.estimate(self.report(program({**SETTINGS, "protect": True})), "us-east-1", assume)["items"]
        assert [i["monthly"] for i in protected if i["item"].startswith("EFS backups")] == [round(20 * 0.05, 2)]

    def test_a_region_without_an_efs_price_says_so(self) -> None:
        out = cost.estimate(self.report(program(SETTINGS)), "eu-west-1", {})
        assert [u for u in out["assumptions"]["unpriced"] if u.startswith("EFS storage of volumes-fs")]
        assert not [i for i in out["items"] if i["item"].startswith("EFS")]

    def test_nat_comparison_carries_the_storage_on_both_sides(self) -> None:
        out = cost.estimate(self.report(program(SETTINGS)), "us-east-1", {"efsStorageGb": 100}, compare="nat")
        comparison = out["comparison"]
        assert comparison["restMonthly"] >= 30.0  # 100 GB of EFS at $0.30
        assert comparison["endpointsTotal"] == pytest.approx(out["monthly"], abs=0.02)
        assert comparison["natTotal"] == round(comparison["natMonthly"] + comparison["restMonthly"], 2)
        assert comparison["endpointsTotal"] == round(comparison["endpointsMonthly"] + comparison["restMonthly"], 2)
