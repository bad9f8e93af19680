"""The controls the pack gained from issue 20, each with a compliant and a violating resource, and the rules
under them (secret names, broad actions, setting hints), run through the SDK's analyzer like the CLI would."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policy.policies.documents import broad_action, narrowed
from policy.policies.ecs import secret_name
from policy.policies.framework import setting_hint
from tests.support import UNKNOWN, container, res, run_policy, task_def

run = run_policy
LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
DENY_HTTP = {"Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": "*",
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.mark.parametrize("policy,good,bad", [
    ("sns-encrypted", res("aws:sns/topic:Topic", "t", {"kmsMasterKeyId": "alias/aws/sns"}),
     res("aws:sns/topic:Topic", "t", {})),
    ("sns-encrypted", res("aws:sns/topic:Topic", "t", {"kmsMasterKeyId": UNKNOWN}),  # a key's ARN, known at up
     res("aws:sns/topic:Topic", "t", {"kmsMasterKeyId": ""})),
    ("kms-key-rotation", res("aws:kms/key:Key", "k", {"enableKeyRotation": True}), res("aws:kms/key:Key", "k", {})),
    ("kms-key-rotation", res("aws:kms/key:Key", "k", {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"}),
     res("aws:kms/key:Key", "k", {"enableKeyRotation": False, "customerMasterKeySpec": "SYMMETRIC_DEFAULT"})),
    ("resource-policy-not-public",
     res("aws:sqs/queuePolicy:QueuePolicy", "q", {"policy": doc({
         "Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*",
         "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:t"}}})}),
     res("aws:sqs/queuePolicy:QueuePolicy", "q", {"policy": doc({
         "Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:SourceAccount": "123456789012"}}})})),
    ("resource-policy-not-public",
     res("aws:kms/key:Key", "k", {"policy": doc({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"},
                                                 "Action": "kms:*", "Resource": "*"})}),
     res("aws:kms/key:Key", "k", {"policy": doc({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"},
                                                 "Action": "kms:Decrypt", "Resource": "*"})})),
    ("alb-public-smuggling-protection", res(LB, "lb", {"dropInvalidHeaderFields": True}),
     res(LB, "lb", {"dropInvalidHeaderFields": True, "desyncMitigationMode": "monitor"})),
    ("alb-public-smuggling-protection", res(LB, "lb", {"internal": True}), res(LB, "lb", {})),
    ("alb-desync-mitigation", res(LB, "lb", {"internal": True, "desyncMitigationMode": "strictest"}),
     res(LB, "lb", {"internal": True, "desyncMitigationMode": "monitor"})),
    ("alb-tls-policy", res(LISTENER, "l", {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"}),
     res(LISTENER, "l", {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-1-2021-06"})),
    ("alb-tls-policy", res(LISTENER, "l", {"protocol": "TLS", "sslPolicy": "ELBSecurityPolicy-FS-1-2-Res-2020-10"}),
     res(LISTENER, "l", {"protocol": "HTTPS"})),
    ("alb-deletion-protection", res(LB, "lb", {"enableDeletionProtection": True}), res(LB, "lb", {})),
    ("s3-acls-disabled", res("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "o", {
        "bucket": "b", "rule": {"objectOwnership": "BucketOwnerEnforced"}}),
     res("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "o", {
         "bucket": "b", "rule": {"objectOwnership": "ObjectWriter"}})),
    ("s3-acls-disabled", res("aws:s3/bucketAclV2:BucketAclV2", "a", {"bucket": "b", "acl": "private"}),
     res("aws:s3/bucketAclV2:BucketAclV2", "a", {"bucket": "b", "acl": "log-delivery-write"})),
    ("s3-block-public-access", res("aws:s3/bucket:Bucket", "b", {"acl": "private"}),
     res("aws:s3/bucket:Bucket", "b", {"grants": [{"type": "Group", "permissions": ["READ"],
                                                   "uri": "http://acs.amazonaws.com/groups/global/AllUsers"}]})),
    ("log-group-retention-minimum", res("aws:cloudwatch/logGroup:LogGroup", "g", {"retentionInDays": 400}),
     res("aws:cloudwatch/logGroup:LogGroup", "g", {"retentionInDays": 90})),
    ("iam-pass-role-scoped", res("aws:iam/policy:Policy", "p", {"policy": doc({
        "Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/app-task"})}),
     res("aws:iam/policy:Policy", "p", {"policy": doc({
         "Effect": "Allow", "Action": ["ecs:RunTask", "iam:PassRole"], "Resource": "arn:aws:iam::*:role/*"})})),
    ("iam-pass-role-scoped", res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", {
        "policyArn": "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"}),
     res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", {
         "policyArn": "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceEventsRole"})),
])
def test_compliant_and_violating(policy: str, good: dict[str, Any], bad: dict[str, Any]) -> None:
    assert run(policy, [good]) == []
    (violation,) = run(policy, [bad])
    assert violation["policy"] == policy and violation["urn"] == bad["urn"] and bad["name"] in violation["message"]


def topic_stack(policy: Any) -> list[dict[str, Any]]:
    topic = res("aws:sns/topic:Topic", "t", {"kmsMasterKeyId": "alias/aws/sns"})
    return [topic, res("aws:sns/topicPolicy:TopicPolicy", "tp", {"arn": UNKNOWN, "policy": policy},
                       deps={"arn": [topic["urn"]]})]


def test_sns_tls_only() -> None:
    assert run("sns-tls-only", topic_stack(doc(DENY_HTTP))) == []
    (violation,) = run("sns-tls-only", topic_stack(doc({**DENY_HTTP, "Action": "sns:Subscribe"})))
    assert violation["level"] == "mandatory" and "accepts publishers without TLS" in violation["message"]
    (unknown,) = run("sns-tls-only", topic_stack(UNKNOWN))
    assert unknown["level"] == "advisory" and unknown["message"].endswith("sns-tls-only checks it at `pulumi up`")


def listener_stack(internal: bool, action: dict[str, Any]) -> list[dict[str, Any]]:
    lb = res(LB, "lb", {"internal": internal})
    return [lb, res(LISTENER, "http", {"protocol": "HTTP", "loadBalancerArn": UNKNOWN, "defaultActions": [action]},
                    deps={"loadBalancerArn": [lb["urn"]]})]


@pytest.mark.parametrize("internal,policy", [(False, "alb-https-only"), (True, "alb-internal-https")])
def test_plain_http_by_scheme(internal: bool, policy: str) -> None:
    forward, redirect = {"type": "forward"}, {"type": "redirect", "redirect": {"protocol": "HTTPS"}}
    assert run(policy, listener_stack(internal, redirect)) == []
    assert [v["policy"] for v in run(policy, listener_stack(internal, forward))] == [policy]
    other = "alb-internal-https" if policy == "alb-https-only" else "alb-https-only"
    assert run(other, listener_stack(internal, forward)) == []


def test_buckets_abort_uploads_and_log_access() -> None:
    bucket = res("aws:s3/bucket:Bucket", "b", {"bucket": "data"})
    logs = res("aws:s3/bucket:Bucket", "logs", {"bucket": "data-logs"})
    lifecycle = res("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "lc", {
        "bucket": UNKNOWN, "rules": [{"id": "x", "status": "Enabled", "abortIncompleteMultipartUpload": {
            "daysAfterInitiation": 7}}]}, deps={"bucket": [bucket["urn"]]})
    logging = res("aws:s3/bucketLoggingV2:BucketLoggingV2", "log", {"bucket": "data", "targetBucket": "data-logs"})
    assert [v["urn"] for v in run("s3-abort-incomplete-uploads", [bucket, lifecycle, logs])] == [logs["urn"]]
    assert run("s3-access-logging", [bucket, logs, logging]) == []  # the log bucket itself is exempt
    assert [v["urn"] for v in run("s3-access-logging", [bucket, logs])] == [bucket["urn"], logs["urn"]]


def exec_stack(configuration: dict[str, Any] | None, driver: str = "awslogs") -> list[dict[str, Any]]:
    cluster = res("aws:ecs/cluster:Cluster", "c", {"configuration": configuration} if configuration else {})
    td = task_def("td", container(logConfiguration={"logDriver": driver, "options": {"awslogs-group": "/ecs/app"}}))
    service = res("aws:ecs/service:Service", "svc", {"enableExecuteCommand": True, "cluster": UNKNOWN,
                                                     "taskDefinition": UNKNOWN},
                  deps={"cluster": [cluster["urn"]], "taskDefinition": [td["urn"]]})
    return [cluster, td, service]


def test_exec_logging() -> None:
    override = {"executeCommandConfiguration": {"logging": "OVERRIDE", "logConfiguration": {
        "cloudWatchLogGroupName": "/ecs/exec"}}}
    assert run("ecs-exec-logging", exec_stack(override)) == []
    assert run("ecs-exec-logging", exec_stack(None)) == []  # DEFAULT: the container's awslogs
    for broken in (exec_stack({"executeCommandConfiguration": {"logging": "NONE"}}),
                   exec_stack({"executeCommandConfiguration": {"logging": "OVERRIDE"}}),
                   exec_stack(None, driver="splunk")):
        (violation,) = run("ecs-exec-logging", broken)
        assert violation["level"] == "advisory" and violation["urn"].endswith("::svc")


def test_task_egress_and_descriptions() -> None:
    group = res("aws:ec2/securityGroup:SecurityGroup", "tasks", {"description": "tasks", "egress": [
        {"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]})
    service = res("aws:ecs/service:Service", "svc", {"networkConfiguration": {"securityGroups": [UNKNOWN]}},
                  deps={"networkConfiguration": [group["urn"]]})
    (egress,) = run("ecs-task-egress-restricted", [group, service])
    assert "send anything anywhere" in egress["message"]
    assert run("ecs-task-egress-restricted", [group]) == []  # not a task group
    described = res("aws:ec2/securityGroup:SecurityGroup", "g", {"description": "db", "ingress": [
        {"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "securityGroups": ["sg-1"], "description": "app"}]})
    assert run("security-group-descriptions", [described]) == []
    messages = [v["message"] for v in run("security-group-descriptions", [group, res(
        "aws:ec2/securityGroup:SecurityGroup", "default", {"description": "Managed by Pulumi"})])]
    assert len(messages) == 2 and any("inline egress rule of tasks" in m for m in messages)


def test_firelens_config_file_cannot_be_verified() -> None:
    router = container(name="router", firelensConfiguration={"type": "fluentbit", "options": {
        "config-file-type": "s3", "config-file-value": "arn:aws:s3:::conf/extra.conf"}})
    app = container(logConfiguration={"logDriver": "awsfirelens"})
    stack = [res("aws:cloudwatch/logGroup:LogGroup", "g", {"name": "/ecs/app"}), task_def("td", router, app)]
    assert run("ecs-log-group-managed", stack) == []
    (note,) = run("cannot-verify", stack)
    assert note["message"].startswith("ecs-log-group-managed cannot verify where td: container 'app' logs")
    lonely = task_def("td", app)
    assert "has no log router" in run("ecs-log-group-managed", [lonely])[0]["message"]


def test_managed_policy_newer_than_the_snapshot() -> None:
    attach = res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", {
        "policyArn": "arn:aws:iam::aws:policy/AmazonBrandNewPolicy"})
    assert run("iam-no-wildcard-actions", [attach]) == []
    (note,) = run("cannot-verify", [attach])
    assert note["message"].startswith("iam-no-wildcard-actions, iam-pass-role-scoped cannot verify the AWS managed "
                                      "policy AmazonBrandNewPolicy attached by a (newer than the pack's snapshot")


@pytest.mark.parametrize("name,secret", [
    ("MYSQL_PWD", True), ("DB_PASS", True), ("SMTP_PASSWD", True), ("API_KEY", True), ("PRIVATE_KEY", True),
    ("AWS_SECRET_ACCESS_KEY", True), ("AWS_ACCESS_KEY_ID", True), ("SECRET_KEY_BASE", True), ("GITHUB_TOKEN", True),
    ("DBPASSWORD", True), ("TOKEN_TTL_SECONDS", False), ("PASSWORD_MIN_LENGTH", False),
    ("OAUTH_TOKEN_ENDPOINT", False), ("DB_SECRET_ARN", False), ("PWD", False), ("OLDPWD", False),
    ("PASS_THROUGH", False), ("CACHE_KEY", False), ("KMS_KEY", False), ("MAX_TOKENS", False), ("LOG_LEVEL", False),
])
def test_secret_names(name: str, secret: bool) -> None:
    assert secret_name(name) is secret


@pytest.mark.parametrize("action,broad", [
    ("*", True), ("s3:*", True), ("*Role*", True), ("iam:Pass*", True), ("s3:Put*", True), ("kms:Decrypt*", True),
    ("s3:Get*", False), ("ec2:Describe*", False), ("ecr:BatchGet*", False), ("logs:PutLogEvents", False),
])
def test_broad_actions(action: str, broad: bool) -> None:
    assert broad_action(action) is broad


def test_narrowing_conditions() -> None:
    assert narrowed({"StringEquals": {"aws:SourceAccount": "123456789012"}})
    assert narrowed({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-1/r-1/*"}})
    assert not narrowed({"StringLike": {"aws:SourceArn": "*"}})
    assert not narrowed({"StringNotEquals": {"aws:SourceAccount": "123456789012"}})
    assert not narrowed({"Bool": {"aws:SecureTransport": "true"}})


@pytest.mark.parametrize("urn,parent,hint", [
    ("urn:pulumi:dev::private-fargate::private-fargate:service:FargateService$aws:ecs/service:Service::service-web-svc",
     "urn:pulumi:dev::private-fargate::private-fargate:service:FargateService::service-web",
     " (private-fargate setting: the services entry `web`)"),
    ("urn:pulumi:dev::private-fargate::private-fargate:loadbalancer:ServiceLoadBalancer$aws:lb/listener:Listener::x",
     "urn:pulumi:dev::private-fargate::private-fargate:loadbalancer:ServiceLoadBalancer::service-api-v2-lb",
     " (private-fargate setting: the services entry `api-v2`)"),
    ("urn:pulumi:dev::p::private-fargate:network:PrivateNetwork$aws:ec2/subnet:Subnet::network-private-0",
     None, " (private-fargate setting: network)"),
    ("urn:pulumi:dev::other::aws:ec2/securityGroup:SecurityGroup::service-web-sg", None, ""),
    ("urn:pulumi:dev::other::my:app:Service$aws:ec2/securityGroup:SecurityGroup::network-sg",
     "urn:pulumi:dev::other::my:app:Service::network", ""),
])
def test_setting_hints_only_on_this_projects_resources(urn: str, parent: str | None, hint: str) -> None:
    assert setting_hint(urn, parent) == hint


@pytest.mark.parametrize("policy,sidecar", [
    ("ecs-container-logging", container(name="proxy", logConfiguration=None)),
    ("ecs-no-privileged", container(name="proxy", privileged=True)),
    ("ecs-no-secrets-in-environment", container(name="proxy", environment=[{"name": "API_KEY", "value": "x"}])),
    ("ecs-readonly-root-filesystem", container(name="proxy", readonlyRootFilesystem=False)),
    ("ecs-non-root-user", container(name="proxy", user="0")),
    ("images-from-private-ecr", container(name="proxy", image="envoyproxy/envoy:v1.31")),
])
def test_every_container_of_a_task_is_checked(policy: str, sidecar: dict[str, Any]) -> None:
    init = container(name="migrate", essential=False)
    td = task_def("td", container(dependsOn=[{"containerName": "migrate", "condition": "SUCCESS"}]), init, sidecar)
    (violation,) = run(policy, [td])
    assert "container 'proxy'" in violation["message"]


def _overrides(env: list[dict[str, str]]) -> str:
    return json.dumps({"containerOverrides": [{"name": "app", "environment": env}]})


@pytest.mark.parametrize("token,props", [
    ("aws:scheduler/schedule:Schedule", lambda env: {"target": {
        "arn": "arn:aws:ecs:us-east-1:123456789012:cluster/c", "input": _overrides(env),
        "ecsParameters": {"taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/td:1"}}}),
    ("aws:scheduler/schedule:Schedule", lambda env: {"target": {
        "arn": "arn:aws:scheduler:::aws-sdk:ecs:runTask",
        "input": json.dumps({"cluster": "c", "overrides": json.loads(_overrides(env))})}}),
    ("aws:pipes/pipe:Pipe", lambda env: {"target": "arn:aws:ecs:us-east-1:123456789012:cluster/c", "targetParameters": {
        "ecsTaskParameters": {"taskDefinitionArn": "td", "overrides": json.loads(_overrides(env))}}}),
])
def test_container_overrides_are_checked(token: str, props: Any) -> None:
    good = res(token, "x", props([{"name": "REPORT_DAY", "value": "monday"}]))
    bad = res(token, "x", props([{"name": "DB_PASS", "value": "hunter2"}]))
    assert run("ecs-no-secrets-in-environment", [good]) == []
    (violation,) = run("ecs-no-secrets-in-environment", [bad])
    assert "the override of container 'app' puts DB_PASS" in violation["message"]
