"""`tools.doctor --probe`: run the probe task in a workload's subnets, security group and roles.

The doctor registers its own task definition revision (family `<project>-<stack>-doctor`): the
stack's probe image (the sample app, `python -m app probe`; the `probeImage` output), the
workload's execution role as execution *and* task role (so the probe's calls carry exactly the
permissions ECS uses when it starts the workload: ECR, its log group, its secrets), logging to the
workload's log group under the stream prefix `doctor`. It runs that revision once with
`tools.run_task.Runner` and deregisters it afterwards, whatever happened. The probe prints one
`PROBE {json}` line per hop; each becomes a Finding with what to change.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from tools.aws import Workload, one_line
from tools.doctor.checks import Deployed, Finding, fail, needed_endpoints, ok, secret_arns, split_image, warn
from tools.run_task import EXIT_NOT_RUN, EXIT_TIMEOUT, Request, Runner

PREFIX = "PROBE "  # the probe's line marker (app/app/probe.py)
STREAM_PREFIX = "doctor"
CONTAINER = "probe"

#: What to change when a hop fails, by hop (the probe names the endpoint or resource as the target).
FIXES = {
    "dns": "turn on private DNS for the {target} endpoint (and DNS support and DNS hostnames on the VPC); "
           "`pulumi up` restores the stack's endpoints",
    "tls": "the {target} endpoint's security group must admit 443 from the tasks, and their group must allow "
           "egress 443 to it; a network ACL must not block it",
    "ecr-auth": "the execution role needs ecr:GetAuthorizationToken (the stack grants it), and the ecr.api endpoint "
                "must answer",
    "image": "the execution role must be allowed to pull {target} (ecr:BatchGetImage, ecr:GetDownloadUrlForLayer), "
             "and the image must exist",
    "layer": "the S3 gateway endpoint must be on the task subnets' route tables, its policy must allow "
             "s3:GetObject on the ECR layer bucket, and the tasks' group must allow egress 443 to the S3 prefix list",
    "secret": "the execution role needs read access (secretsmanager:GetSecretValue or ssm:GetParameters, and "
              "kms:Decrypt for a customer key), the secret must exist, and its endpoint must answer",
}


def family(outputs: dict[str, Any]) -> str:
    """`<project>-<stack>-doctor`: the cluster is named `<project>-<stack>`."""
    return f"{outputs['clusterName']}-doctor"


def host(short: str, region: str, account: str) -> str:
    """The name tasks resolve for a service: ecr.dkr is the registry's own name."""
    if short == "ecr.api":
        return f"api.ecr.{region}.amazonaws.com"
    if short == "ecr.dkr":
        return f"{account}.dkr.ecr.{region}.amazonaws.com"
    return f"{short}.{region}.amazonaws.com"


def spec(d: Deployed, w: Workload) -> dict[str, Any]:
    """What the probe checks for this workload: endpoint names, its image, its secrets."""
    td = d.task_definition(w.entry["taskDefinitionArn"])
    account = d.outputs["clusterArn"].split(":")[4]
    containers = td.get("containerDefinitions", [])
    main = next((c for c in containers if c.get("name") == w.entry["containerName"]), containers[0] if containers
                else {})
    return {"region": d.region, "vpcCidr": d.outputs["vpcCidr"],
            "endpoints": {s: host(s, d.region, account) for s in needed_endpoints(w, td)},
            "gateways": {"s3": f"s3.{d.region}.amazonaws.com"},
            "image": main.get("image", ""), "secrets": secret_arns(td)}


def task_definition(d: Deployed, w: Workload, probe_image: dict[str, str]) -> dict[str, Any]:
    """The RegisterTaskDefinition call of the probe's revision."""
    role = d.task_definition(w.entry["taskDefinitionArn"]).get("executionRoleArn", "")
    return {
        "family": family(d.outputs), "executionRoleArn": role, "taskRoleArn": role,
        "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
        "runtimePlatform": {"cpuArchitecture": probe_image.get("cpuArchitecture", "X86_64"),
                            "operatingSystemFamily": "LINUX"},
        "containerDefinitions": [{
            "name": CONTAINER, "image": probe_image["uri"], "essential": True, "command": ["probe"],
            "readonlyRootFilesystem": True,
            "environment": [{"name": "PROBE_SPEC", "value": json.dumps(spec(d, w), sort_keys=True)}],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": w.entry["logGroupName"], "awslogs-region": d.region,
                "awslogs-stream-prefix": STREAM_PREFIX}},
        }],
        "tags": [{"key": "purpose", "value": "tools.doctor probe"}, {"key": "workload", "value": w.name}],
    }


def preconditions(d: Deployed, w: Workload) -> Finding | None:
    """Why the probe cannot run for this workload (one warn line), or None."""
    image = d.outputs.get("probeImage")
    if not image:
        return warn("probe", "the stack has no probe image (it builds no image, so `pulumi up` runs no Docker)",
                    "the static checks above stand; add a workload built from ./app to get the probe")
    names = [n for key in ("jobs", "services") for n in (d.outputs.get(key) or {})]
    if "doctor" in names:
        return warn("probe", f"a workload is named `doctor`, so its family is {family(d.outputs)}, the probe's own",
                    "rename that workload to run the probe")
    role = d.task_definition(w.entry["taskDefinitionArn"]).get("executionRoleArn", "")
    registry, repo, _ = split_image(image["uri"])
    repo_arn = f"arn:{d.partition}:ecr:{d.region}:{registry.split('.')[0]}:repository/{repo}"
    if role and d.allowed(role, "ecr:BatchGetImage", repo_arn) is False:
        return warn("probe", f"the execution role of {w.name} may not pull from {repo}, where the probe image is "
                             "(its image comes from elsewhere)", "probe another workload of the same subnets")
    return None


def run(d: Deployed, w: Workload, timeout: float, sleep: Callable[[float], None] = time.sleep,
        progress: Callable[[str], None] = print) -> Iterator[Finding]:
    """Register the probe's revision, run it, turn its lines into Findings, deregister it."""
    blocked = preconditions(d, w)
    if blocked is not None:
        yield blocked
        return
    probe_image = d.outputs["probeImage"]
    arn = d.ecs.register_task_definition(**task_definition(d, w, probe_image))["taskDefinition"]["taskDefinitionArn"]
    lines: list[str] = []

    def out(line: str) -> None:
        if line.startswith("... "):
            progress(f"  ...   probe {line[4:]}")
        else:
            lines.append(line)

    try:
        request = Request(f"probe of {w.name}", "probe", {"logGroupName": w.entry["logGroupName"],
                                                          "logStreamPrefix": STREAM_PREFIX,
                                                          "containerName": CONTAINER},
                          d.outputs["clusterArn"], d.region, {
                              "cluster": d.outputs["clusterArn"], "taskDefinition": arn, "count": 1,
                              "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}],
                              "platformVersion": "LATEST", "startedBy": "tools.doctor",
                              "networkConfiguration": {"awsvpcConfiguration": {
                                  "subnets": list(w.entry["subnetIds"]),
                                  "securityGroups": [w.entry["securityGroupId"]], "assignPublicIp": "DISABLED"}}})
        runner = Runner(d.session, request, out=out, sleep=sleep)
        runner.start()
        progress(f"  ...   probe task {runner.task_arn} (revision {arn.rsplit('/', 1)[-1]})")
        try:
            code = runner.wait(timeout)
        except KeyboardInterrupt:
            runner.stop("tools.doctor interrupted")
            raise
    finally:
        d.ecs.deregister_task_definition(taskDefinition=arn)
    yield from findings(lines, code, timeout)


def findings(lines: list[str], code: int, timeout: float) -> Iterator[Finding]:
    """The probe's hops as Findings, or why it never reported."""
    hops = []
    for line in lines:
        if line.startswith(PREFIX):
            try:
                hops.append(json.loads(line[len(PREFIX):]))
            except ValueError:
                continue
    if code == EXIT_NOT_RUN:
        reason = next((line.split(": ", 1)[1] for line in lines if line.startswith("the task did not run")), "")
        hint = next((line.split(": ", 1)[1] for line in lines if line.startswith("diagnosis")), "")
        yield fail("probe start", f"the probe task never ran: {one_line(reason) or 'no reason given'}",
                   hint or "see the stop reason; the static checks above say which part is missing")
        return
    if code == EXIT_TIMEOUT:
        yield fail("probe", f"no result within {timeout:.0f} s (the task keeps running)",
                   "run again with a larger --probe-timeout; check the task in the console")
        return
    for hop in hops:
        if hop.get("hop") == "done":
            continue
        check = f"probe {hop.get('hop')} {hop.get('target')}".strip()
        if hop.get("ok"):
            yield ok(check, str(hop.get("detail", "")))
        else:
            yield fail(check, str(hop.get("detail", "")), FIXES.get(str(hop.get("hop")), "").format(**hop))
    if hops:
        yield ok("probe logs", "the probe's lines arrived through the logs endpoint")
    if not any(h.get("hop") == "done" for h in hops):
        tail = next((line for line in reversed(lines) if not line.startswith(PREFIX)), "no output")
        yield fail("probe", f"the probe exited {code} without finishing: {one_line(tail)}",
                   "see the probe's log stream (prefix doctor/) in the workload's log group")
