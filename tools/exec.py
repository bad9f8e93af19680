"""`python -m tools.exec WORKLOAD [--task ID] [--container NAME] [-- COMMAND...]`: a shell in a running task.

Checks ECS Exec's prerequisites first, each missing one as one line saying what to change: exec on
for the workload (`exec: true`, the `exec` output), a running task started with exec enabled whose
ExecuteCommandAgent is RUNNING, the ssmmessages endpoint (available, private DNS on), the AWS CLI
and the Session Manager plugin on PATH. Then runs `aws ecs execute-command --interactive` and
exits with its status. Exit 1 when a prerequisite is missing, 2 for bad arguments or an AWS error.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from tools.aws import EXIT_FAILED, Stack, ToolError, Workload, add_source_args, run_with_stack, task_id

PLUGIN_URL = "https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html"


def pick_task(ecs: Any, cluster: str, w: Workload, wanted: str | None) -> dict[str, Any]:
    """The task to enter: `--task` (id or its start), else the newest running task of the workload."""
    family = w.family
    arns = ecs.list_tasks(cluster=cluster, family=family, desiredStatus="RUNNING").get("taskArns", [])
    if wanted:
        arns = [a for a in arns if task_id(a).startswith(wanted)]
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[:100]).get("tasks", []) if arns else []
    tasks = [t for t in tasks if t.get("lastStatus") == "RUNNING"]
    if not tasks:
        which = f"task {wanted} of {w.name}" if wanted else f"task of {w.name}"
        raise ToolError(f"no running {which}: start one (`python -m tools.run_task {w.name}` for a job, or check "
                        f"`python -m tools.status {w.name}`)", EXIT_FAILED)
    return max(tasks, key=lambda t: t.get("startedAt") or t.get("createdAt") or 0)


def problems(session: Any, outputs: dict[str, Any], region: str | None, w: Workload, task: dict[str, Any],
             container: str, which: Callable[[str], str | None] = shutil.which) -> list[str]:
    """Every missing prerequisite, one line each with what to change (empty: ready)."""
    found = []
    if not w.get("exec", False):
        found.append(f"exec is off for {w.name}: set `exec: true` on it in Pulumi.<stack>.yaml and run `pulumi up` "
                     "(new tasks then start with the agent)")
    if not task.get("enableExecuteCommand"):
        found.append(f"task {task_id(task['taskArn'])} was started without exec: "
                     + ("`aws ecs update-service --force-new-deployment` starts tasks with it" if w.kind == "service"
                        else "start a new one"))
    names = [c.get("name") for c in task.get("containers", [])]
    match = next((c for c in task.get("containers", []) if c.get("name") == container), None)
    if match is None:
        found.append(f"task {task_id(task['taskArn'])} has no container {container!r}; it has {', '.join(names)}")
    elif task.get("enableExecuteCommand"):
        agent = next((a for a in match.get("managedAgents", []) if a.get("name") == "ExecuteCommandAgent"), None)
        status = (agent or {}).get("lastStatus", "absent")
        if status != "RUNNING":
            why = f" ({agent['reason']})" if agent and agent.get("reason") else ""
            found.append(f"the ExecuteCommandAgent of {container} is {status}{why}: it needs the ssmmessages "
                         "endpoint and the task role's ssmmessages:* channel actions; a task that started without "
                         "them never gets it: start a new task")
    endpoint_id = (outputs.get("vpcEndpoints") or {}).get("ssmmessages")
    if not endpoint_id:
        found.append("the stack has no ssmmessages endpoint: `exec: true` on a workload adds it at `pulumi up`")
    else:
        endpoints = describe_endpoint(session.client("ec2", region_name=region), endpoint_id)
        state = endpoints[0].get("State", "").lower() if endpoints else "missing"
        if state != "available":
            found.append(f"the ssmmessages endpoint {endpoint_id} is {state}: run `pulumi up` to restore it")
        elif not endpoints[0].get("PrivateDnsEnabled"):
            found.append(f"the ssmmessages endpoint {endpoint_id} has private DNS off: turn it on (`pulumi up`)")
    if which("aws") is None:
        found.append("the AWS CLI is not on PATH: install it (https://docs.aws.amazon.com/cli/latest/userguide/"
                     "getting-started-install.html)")
    if which("session-manager-plugin") is None:
        found.append(f"the Session Manager plugin is not on PATH: install it ({PLUGIN_URL})")
    return found


def describe_endpoint(ec2: Any, endpoint_id: str) -> list[dict[str, Any]]:
    """The endpoint as EC2 describes it ([] once it is gone for good)."""
    from botocore.exceptions import ClientError

    try:
        return ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id]).get("VpcEndpoints", [])
    except ClientError as exc:
        if "NotFound" in exc.response.get("Error", {}).get("Code", ""):
            return []
        raise


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, command = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(prog="python -m tools.exec", description=__doc__.splitlines()[0],
                                epilog="Everything after `--` is the command [/bin/sh].")
    p.add_argument("workload", help="a service (or a job with a running task)")
    add_source_args(p)
    p.add_argument("--task", help="the task id (or its start) [the newest running task]")
    p.add_argument("--container", help="the container [the workload's own]")
    args = p.parse_args(argv)
    args.command = command or ["/bin/sh"]
    return args


def main(argv: list[str] | None = None, session: Any = None, out: Callable[[str], None] = print,
         which: Callable[[str], str | None] = shutil.which,
         run: Callable[[list[str]], int] = lambda cmd: subprocess.call(cmd)) -> int:
    """Entry point; returns the exit status (the session's, once it ran)."""
    args = parse_args(argv)

    def body(stack: Stack) -> int:
        (w,) = stack.chosen(args.workload)
        cluster, region = stack.outputs["clusterArn"], stack.region
        task = pick_task(stack.client("ecs"), cluster, w, args.task)
        container = args.container or w.entry["containerName"]
        missing = problems(stack.session, stack.outputs, region, w, task, container, which)
        if missing:
            for line in missing:
                out(f"exec: {line}")
            return EXIT_FAILED
        cmd = [str(which("aws")), "ecs", "execute-command", "--cluster", cluster, "--task", task["taskArn"],
               "--container", container, "--interactive", "--command", shlex.join(args.command)]
        if region:
            cmd += ["--region", region]
        out(f"exec: {w.name} task {task_id(task['taskArn'])} container {container}: {shlex.join(args.command)}")
        return run(cmd)

    return run_with_stack(args, session, body)


if __name__ == "__main__":
    sys.exit(main())
