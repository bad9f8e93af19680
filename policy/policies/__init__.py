"""The rules of the `private-fargate-guard` policy pack, importable without starting a server.

Importable as `policy.policies` (from the repository root: tests, tools.preview) and as `policies`
(from inside policy/, as the Pulumi CLI runs the pack). `POLICIES` is what the pack is built from;
`cannot-verify` comes last, after every stack check it reruns has registered.
"""

from . import (
    alb,
    coverage,
    ecr,
    ecs,
    efs,
    iam,
    kms_logs,
    logs,
    network,
    resources,
    s3,
    s3_hygiene,
    security_groups,
    sfn,
    sqs,
    tags,
)

PACK_NAME = "private-fargate-guard"

POLICIES = [*network.POLICIES, *security_groups.POLICIES, *ecs.POLICIES, *logs.POLICIES, *kms_logs.POLICIES,
            *ecr.POLICIES, *s3.POLICIES, *s3_hygiene.POLICIES, *iam.POLICIES, *resources.POLICIES,
            *alb.POLICIES, *tags.POLICIES, *efs.POLICIES, *sqs.POLICIES, *sfn.POLICIES, *coverage.POLICIES]

__all__ = ["PACK_NAME", "POLICIES"]
