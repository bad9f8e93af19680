"""What happens to each key of a compose service: mapped, noted (left out, and why) or refused (and what to do).

The rule (issue 16): map everything Fargate can run, note what is dropped, refuse only what Fargate
cannot do. Where a reason depends on AWS, it is the ECS API reference's own statement (ContainerDefinition,
LinuxParameters: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html).
"""

from __future__ import annotations

#: Keys the mapper turns into settings (services.py, storage.py, the depends_on pass in __init__.py).
MAPPED = {
    "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "expose", "healthcheck",
    "deploy", "secrets", "configs", "read_only", "user", "platform", "depends_on", "volumes", "tmpfs",
    "working_dir", "init", "stop_grace_period", "ulimits", "cpus", "cpu_count", "mem_limit", "mem_reservation",
    "scale", "cap_add", "cap_drop", "network_mode", "security_opt", "privileged", "profiles", "extends",
    "container_name", "networks", "links", "restart", "ipc", "pid",
}

#: Keys with no Fargate meaning: left out, with why.
NOTED = {
    "labels": "labels are not passed on (use the settings' tags for AWS tags)",
    "annotations": "annotations are not passed on",
    "logging": "logs go to CloudWatch Logs (awslogs) in the workload's log group",
    "hostname": "awsvpc tasks cannot set a hostname (ECS API: hostname is not supported with awsvpc)",
    "domainname": "awsvpc tasks cannot set a domain name",
    "stop_signal": "ECS stops a container with the image's STOPSIGNAL (SIGTERM by default); it cannot be set here",
    "tty": "no terminal is attached on Fargate",
    "stdin_open": "no standard input is attached on Fargate",
    "pull_policy": "images are fetched at deploy (build, cache warm or copy), then pulled from ECR",
    "shm_size": "Fargate has no /dev/shm size setting (ECS API: sharedMemorySize is not supported on Fargate); "
                "the container gets Fargate's default",
    "pids_limit": "Fargate sets its own process limit",
    "mem_swappiness": "Fargate tasks have no swap", "memswap_limit": "Fargate tasks have no swap",
    "oom_kill_disable": "Fargate decides what happens when the task runs out of memory",
    "oom_score_adj": "Fargate decides what happens when the task runs out of memory",
    "cpu_shares": "the task's size sets its CPU", "cpu_quota": "the task's size sets its CPU",
    "cpu_period": "the task's size sets its CPU", "cpu_rt_runtime": "the task's size sets its CPU",
    "cpu_rt_period": "the task's size sets its CPU", "cpuset": "Fargate chooses the CPUs",
    "cpu_percent": "the task's size sets its CPU",
    "blkio_config": "Fargate sets its own I/O limits", "storage_opt": "task storage is ephemeralStorageGiB",
    "dns": "tasks use the VPC's resolver, which answers the stack's names", "dns_search": "tasks use the VPC's "
    "resolver (an awsvpc task cannot set search domains)", "dns_opt": "tasks use the VPC's resolver",
    "extra_hosts": "awsvpc tasks take no extra /etc/hosts entries (ECS API: extraHosts is not supported with "
                   "awsvpc); reach other services by their names",
    "external_links": "services reach each other by their service names (Service Connect)",
    "mac_address": "Fargate assigns the network interface", "cgroup_parent": "Fargate has no host cgroups",
    "cgroup": "Fargate has no host cgroups", "isolation": "Linux containers on Fargate have one isolation",
    "group_add": "a container's supplementary groups cannot be set in ECS; `user: uid:gid` sets the group",
    "develop": "compose watch is for local development", "attach": "logs go to CloudWatch Logs",
    "label_file": "labels are not passed on",
}

#: Keys Fargate cannot honour when set: why, and what to do instead.
REFUSED = {
    "devices": "Fargate gives containers no host devices (ECS API: devices is not supported on Fargate); remove "
               "them",
    "device_cgroup_rules": "Fargate gives containers no host devices; remove them",
    "userns_mode": "Fargate has no user-namespace setting; remove it",
    "sysctls": "private-fargate does not pass kernel parameters (Fargate takes only namespaced ones, as "
               "systemControls, applied to every container of the task); remove them or set them in the image",
    "runtime": "Fargate runs containers with its own runtime (runc); remove it",
    "credential_spec": "gMSA credential specs are for Windows containers; remove it",
    "gpus": "Fargate has no GPUs; run this service on ECS with EC2 GPU instances",
    "volumes_from": "tasks share no volumes with other tasks; mount the same named volume in both services "
                    "instead (it becomes an EFS volume)",
    "uts": "Fargate has no host UTS namespace; remove it",
    "use_api_socket": "Fargate has no Docker Engine API to share; remove it",
    "provider": "provider services are run by a compose plugin, not as containers; deploy it another way",
    "models": "AI models are served by Docker Model Runner, not as containers; deploy the model another way",
    "post_start": "ECS has no container lifecycle hooks; run the step in the entrypoint",
    "pre_stop": "ECS has no container lifecycle hooks; handle SIGTERM in the app",
}

#: Linux capabilities Fargate lets a task add (LinuxParameters, KernelCapabilities: "add ... SYS_PTRACE" on Fargate).
FARGATE_CAPABILITIES = {"SYS_PTRACE"}

#: `build` keys: mapped to image.build, noted (left out) or refused.
BUILD_MAPPED = {"context", "dockerfile", "dockerfile_inline", "target", "args", "platforms"}
BUILD_NOTED = {
    "cache_from": "build caches are not used (the build runs on the deployer with its own cache)",
    "cache_to": "build caches are not written", "labels": "image labels are not added", "tags": "the stack tags "
    "images by the hash of their content", "pull": "the deployer's Docker decides", "no_cache": "the deployer's "
    "Docker decides", "network": "the build uses the deployer's network", "shm_size": "the build's own setting",
    "extra_hosts": "the build uses the deployer's DNS", "isolation": "Linux builds", "ulimits": "the build's own "
    "setting", "privileged": "builds are not privileged", "entitlements": "builds get no extra entitlements",
    "provenance": "attestations are not added", "sbom": "attestations are not added", "no_cache_filter": "the "
    "deployer's Docker decides",
}
BUILD_REFUSED = {
    "secrets": "build secrets cannot be passed through awsx.ecr.Image; pass them another way or build the image "
               "yourself and use its ECR uri",
    "ssh": "SSH forwarding into the build is not available through awsx.ecr.Image; build the image yourself and use "
           "its ECR uri",
    "additional_contexts": "named build contexts are not available through awsx.ecr.Image; build the image "
                           "yourself and use its ECR uri",
}

#: Strings compose reads as booleans (compose-go's boolean transform: y/yes/true/on and n/no/false/off,
#: plus Go's ParseBool spellings).
TRUE_WORDS = {"y", "yes", "true", "on", "1", "t"}
FALSE_WORDS = {"n", "no", "false", "off", "0", "f"}


def compose_bool(value: object) -> bool | None:
    """A compose boolean (`true`, `"false"`, `"yes"`, 1) as compose reads it; None when it is none of those."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    return None
