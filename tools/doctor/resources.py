"""The doctor's checks of a workload's own resources: its images, its secrets, its log group.

A task stops at start when one is missing (CannotPullContainerError, ResourceInitializationError);
these say which one and what to change, from describe calls (and IAM's policy simulator).
"""

from __future__ import annotations

from collections.abc import Iterator

from tools.aws import Workload, one_line
from tools.doctor.checks import ECR_HOST, Deployed, Finding, fail, ok, secret_arns, split_image, warn


def check_images(d: Deployed, w: Workload) -> Iterator[Finding]:
    """Every image the task definition names exists in this account's ECR."""
    from botocore.exceptions import ClientError

    td = d.task_definition(w.entry["taskDefinitionArn"])
    for container in td.get("containerDefinitions", []):
        uri = container.get("image", "")
        check = f"image of {container.get('name')}"
        registry, repo, image_id = split_image(uri)
        if ECR_HOST not in registry or f".{d.region}." not in registry:
            yield fail(check, f"{uri} is not in this region's ECR: a task without an internet route cannot pull it",
                       "use a build, a `uri` in this account's ECR or a `public` image (pull-through cache)")
            continue
        try:
            found = d.ecr.describe_images(registryId=registry.split(".")[0], repositoryName=repo,
                                          imageIds=[image_id])["imageDetails"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "RepositoryNotFoundException" and _cached(d, repo):
                yield warn(check, f"{repo} is not cached yet: ECR creates it at the first pull through the cache rule",
                           "AWS documents that a first pull-through-cache pull over VPC endpoints needs a NAT "
                           f"route: pull it once from outside (`docker pull {uri}`) before the task runs")
            elif code in ("RepositoryNotFoundException", "ImageNotFoundException"):
                yield fail(check, f"{uri} is not in ECR ({code}): the task would stop with CannotPullContainerError",
                           "run `pulumi up` (it builds and pushes `build` images), or push that tag")
            else:
                yield fail(check, f"{uri}: {code or one_line(exc)}", "check ECR access (ecr:DescribeImages)")
            continue
        pushed = found[0].get("imagePushedAt") if found else None
        yield ok(check, f"{uri} is in ECR" + (f" (pushed {pushed:%Y-%m-%d %H:%M})" if pushed else ""))


def _cached(d: Deployed, repo: str) -> bool:
    """Whether a repository name falls under one of the registry's pull-through cache rules."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        rules = d.ecr.describe_pull_through_cache_rules().get("pullThroughCacheRules", [])
    except (ClientError, BotoCoreError):
        return False
    return any(repo.startswith(r.get("ecrRepositoryPrefix", "\0") + "/") for r in rules)


def check_secrets(d: Deployed, w: Workload) -> Iterator[Finding]:
    """Every secret exists in the stack's region, and the execution role may read it."""
    from botocore.exceptions import ClientError

    td = d.task_definition(w.entry["taskDefinitionArn"])
    role = td.get("executionRoleArn", "")
    for arn in secret_arns(td):
        parts = arn.split(":")
        check = f"secret {parts[6] if len(parts) > 6 else arn}"
        region = parts[3] if len(parts) > 3 else ""
        if region != d.region:
            yield fail(check, f"{arn} is in {region or 'no region'}, the stack in {d.region}: a task fetches it "
                              f"through {region}'s endpoint, which its VPC cannot reach (Secrets Manager and SSM "
                              "have no cross-Region PrivateLink)",
                       f"replicate the secret to {d.region} (Secrets Manager replication, or a copy of the "
                       "parameter) and name that ARN in the settings")
            continue
        manager = ":secretsmanager:" in arn
        base = ":".join(parts[:7]) if manager else arn
        try:
            if manager:
                d.session.client("secretsmanager", region_name=d.region).describe_secret(SecretId=base)
            else:
                name = arn.split(":parameter", 1)[-1]
                found = d.session.client("ssm", region_name=d.region).describe_parameters(
                    ParameterFilters=[{"Key": "Name", "Values": [name]}]).get("Parameters", [])
                if not found:
                    raise ClientError({"Error": {"Code": "ParameterNotFound", "Message": name}}, "DescribeParameters")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("ResourceNotFoundException", "ParameterNotFound"):
                yield fail(check, f"{arn} does not exist", "create it, or fix the ARN in the settings")
            else:
                yield warn(check, f"{arn}: cannot check it ({code})")
            continue
        action = "secretsmanager:GetSecretValue" if manager else "ssm:GetParameters"
        allowed = d.allowed(role, action, base) if role else False
        if allowed is False:
            yield fail(check, f"the execution role {role.rsplit('/', 1)[-1] or '(none)'} may not {action} on it",
                       "name the secret in the workload's `secrets` (the stack grants exactly those), or grant it; "
                       "a customer KMS key also needs kms:Decrypt")
        elif allowed is None:
            yield warn(check, f"{arn} exists; whether the execution role may read it is unknown "
                              "(iam:SimulatePrincipalPolicy was refused)")
        else:
            yield ok(check, f"exists in {d.region}; the execution role may {action}")


def check_log_group(d: Deployed, w: Workload) -> Iterator[Finding]:
    """The workload's log group exists (blocking awslogs stops a task whose group is missing)."""
    name = w.entry["logGroupName"]
    groups = d.logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
    if any(g.get("logGroupName") == name for g in groups):
        yield ok("log group", f"{name} exists")
    else:
        yield fail("log group", f"{name} is missing: tasks stop at start (ResourceInitializationError: failed to "
                                "validate logger args)", "run `pulumi up`: the stack creates it")

