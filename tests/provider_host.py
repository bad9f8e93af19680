"""`python -m tests.provider_host OUTPUTS.json`: Pulumi's Python dynamic provider host, in moto (tests only).

Runs `pulumi.dynamic`'s own main, the process `pulumi up` starts for a dynamic resource (its
`pulumi-resource-pulumi-python` runs `python -u -m pulumi.dynamic` in the project directory), with
moto in this process holding a cluster, the web log group and a task definition, whose ARNs it
writes to OUTPUTS.json. The task definition is not awsvpc: moto then leaves EC2 alone, which takes
seconds to start (the in-process tests check the network part of the request). A thread plays the
containers of the tasks the provider starts, in start order, from $PLAYER_SCRIPT (a JSON list of
`{"lines": [...], "exit": N or null, "reason": "..."}`), a moment after each starts. What the host
prints on stdout (its port) and stderr is what the engine reads.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import threading
import time
from typing import Any

import boto3
from moto import mock_aws
from moto.moto_api import state_manager

from tests.aws_stack import CLUSTER, stop_task, write_logs


def play(session: Any, script: list[dict[str, Any]]) -> None:
    """Play each new task's container: its log lines, then its exit (or a stop before it ran)."""
    ecs, played = session.client("ecs"), 0
    while played < len(script):
        arns = ecs.list_tasks(cluster=CLUSTER, desiredStatus="RUNNING")["taskArns"]
        fresh = [a for a in arns if a not in _done]
        if not fresh:
            time.sleep(0.02)
            continue
        time.sleep(0.1)  # after the provider's first look at the task
        arn, step = fresh[0], script[played]
        if step.get("lines"):
            write_logs(session, "/ecs/private-fargate/dev/web", f"web/web/{arn.rsplit('/', 1)[-1]}", *step["lines"])
            time.sleep(0.05)
        stop_task(session, arn, step.get("exit"), step.get("reason", "Essential container in task exited"))
        _done.add(arn)
        played += 1


_done: set[str] = set()


def main() -> None:
    with mock_aws():
        state_manager.set_transition(model_name="ecs::task", transition={"progression": "manual", "times": 10**6})
        session = boto3.Session(region_name="us-east-1")
        cluster = session.client("ecs").create_cluster(clusterName=CLUSTER)["cluster"]["clusterArn"]
        session.client("logs").create_log_group(logGroupName="/ecs/private-fargate/dev/web")
        td = session.client("ecs").register_task_definition(family=f"{CLUSTER}-web", containerDefinitions=[
            {"name": "web", "image": "app", "cpu": 256, "memory": 512, "essential": True}])
        with open(sys.argv[1], "w") as f:
            json.dump({"clusterArn": cluster, "taskDefinitionArn": td["taskDefinition"]["taskDefinitionArn"]}, f)
        script = json.loads(os.environ.get("PLAYER_SCRIPT", "[]"))
        threading.Thread(target=play, args=(session, script), daemon=True).start()
        sys.argv = [sys.argv[0]]
        runpy.run_module("pulumi.dynamic", run_name="__main__")


if __name__ == "__main__":
    main()
