"""The rules of the `private-fargate-guard` policy pack, importable without starting a server.

Importable as `policy.policies` (from the repository root: tests, tools.preview) and as `policies`
(from inside policy/, as the Pulumi CLI runs the pack). `POLICIES` is what the pack is built from.
"""

from . import alb, ecr, ecs, iam, kms_logs, logs, network, s3, sfn, sqs, tags

PACK_NAME = "private-fargate-guard"

POLICIES = [*network.POLICIES, *ecs.POLICIES, *logs.POLICIES, *kms_logs.POLICIES,
            *ecr.POLICIES, *s3.POLICIES, *iam.POLICIES,
            *alb.POLICIES, *tags.POLICIES, *sqs.POLICIES, *sfn.POLICIES]

__all__ = ["PACK_NAME", "POLICIES"]
