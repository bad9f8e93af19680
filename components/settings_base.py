"""Building blocks of the settings model: the base model, AWS's value sets, patterns and checks.

Split from settings.py so that each settings module stays readable; nothing here reads config.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from components.settings_errors import OFFLINE_SECRET, PATTERN_HELP

#: CloudWatch Logs accepts only these retention periods (days); 0 ("never expire") is not allowed here.
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                  2557, 2922, 3288, 3653)


def _mib_range(low_gib: int, high_gib: int, step_gib: int) -> tuple[int, ...]:
    return tuple(range(low_gib * 1024, high_gib * 1024 + 1, step_gib * 1024))


#: Valid Fargate task sizes: cpu units -> allowed memory (MiB).
FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: _mib_range(1, 4, 1),
    1024: _mib_range(2, 8, 1),
    2048: _mib_range(4, 16, 1),
    4096: _mib_range(8, 30, 1),
    8192: _mib_range(16, 60, 4),
    16384: _mib_range(32, 120, 8),
}

#: Interface endpoints a user may add (dynamodb is a gateway endpoint, like s3).
EXTRA_ENDPOINTS = ("ssm", "ssmmessages", "ec2messages", "secretsmanager", "kms", "sts", "ecs",
                   "ecs-agent", "ecs-telemetry", "sqs", "sns", "monitoring", "xray",
                   "elasticfilesystem", "dynamodb")

ECR_REPO_NAME = r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"
ARN_HEAD = r"arn:aws(?:-cn|-us-gov|-iso|-iso-b)?"
KMS_KEY_ARN = re.compile(ARN_HEAD + r":kms:[a-z0-9-]+:\d{12}:(?:key|alias)/[A-Za-z0-9/_-]+$")
SECRET_ARN = re.compile(ARN_HEAD + r":secretsmanager:([a-z0-9-]+):\d{12}:secret:([A-Za-z0-9/_+=.@-]+)"
                         r"(?::[^:]*:[^:]*:[^:]*)?$")
SSM_ARN = re.compile(ARN_HEAD + r":ssm:([a-z0-9-]+):\d{12}:parameter/[A-Za-z0-9/_.-]+$")
ACM_ARN = re.compile(ARN_HEAD + r":acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")
PRIVATE_ECR_URI = re.compile(
    r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(" + ECR_REPO_NAME + r")"
    r"(?::([\w][\w.-]{0,127})|@(sha256:[0-9a-f]{64}))?$")
PUBLIC_IMAGE = re.compile(
    r"^(public\.ecr\.aws|docker\.io)/(" + ECR_REPO_NAME + r")(?::([\w][\w.-]{0,127})|@(sha256:[0-9a-f]{64}))?$")
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
WORKLOAD_NAME = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"
SG_ID = r"^sg-[0-9a-f]{8,17}$"
VPC_ID = r"^vpc-[0-9a-f]{8,17}$"
SUBNET_ID = r"^subnet-[0-9a-f]{8,17}$"
RTB_ID = r"^rtb-[0-9a-f]{8,17}$"
URL_PATH = r"^/\S*$"
ABS_PATH = r"^/[^\s:]*$"
TAG_KEY = r"^[\w .:/=+@-]+$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
SNS_TOPIC_ARN = r"^arn:aws(?:-cn|-us-gov)?:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$"
PATTERN_HELP.update({
    "^" + ECR_REPO_NAME + "$": "an ECR repository name: lowercase letters, digits, '.', '_', '-', '/' "
                                "(2 to 256 characters)",
    ENV_NAME: "an environment variable name: letters, digits and '_', not starting with a digit",
    WORKLOAD_NAME: "lowercase letters, digits and '-', 1 to 40 characters, starting and ending with a "
                    "letter or digit",
    SG_ID: "a security group id (sg-0123456789abcdef0)",
    VPC_ID: "a VPC id (vpc-0123456789abcdef0)",
    SUBNET_ID: "a subnet id (subnet-0123456789abcdef0)",
    RTB_ID: "a route table id (rtb-0123456789abcdef0)",
    URL_PATH: "a URL path starting with '/'",
    ABS_PATH: "an absolute path such as /tmp",
    TAG_KEY: "letters, digits, spaces and _ . : / = + - @",
    EMAIL: "an email address",
    SNS_TOPIC_ARN: "an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)",
})


def partition_of(region: str) -> str:
    """The AWS partition of a region."""
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    if region.startswith("us-iso-"):
        return "aws-iso"
    return "aws"


def scalar_to_str(value: Any) -> Any:
    """YAML turns `LOG_LEVEL: 1` or `DEBUG: true` into numbers and booleans; containers see strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


EnvValue = Annotated[str, BeforeValidator(scalar_to_str)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Model(BaseModel):
    """Settings objects: camelCase keys only, unknown keys rejected, immutable once loaded."""

    # strict: YAML already gives numbers and booleans their types, so `true` for a number or "2" for
    # a count is a mistake to report, not to coerce.
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, strict=True,
                              allow_inf_nan=False, validate_by_alias=True, validate_by_name=False)


def check_unique(value: list[str]) -> list[str]:
    """A list whose entries must not repeat."""
    dupes = sorted({v for v in value if value.count(v) > 1})
    if dupes:
        raise ValueError(f"listed twice: {', '.join(dupes)}")
    return value


def check_retention(value: int) -> int:
    if value not in RETENTION_DAYS:
        raise ValueError(f"CloudWatch allows only {', '.join(map(str, RETENTION_DAYS))}")
    return value


def check_kms(value: str | None) -> str | None:
    if value is not None and value != OFFLINE_SECRET and not KMS_KEY_ARN.match(value):
        raise ValueError("expected a KMS key or alias ARN (arn:aws:kms:<region>:<account>:key/<id>)")
    return value


def check_kms_key(value: str | None) -> str | None:
    """CloudWatch Logs takes a key ARN only, not an alias."""
    if value is not None and value != OFFLINE_SECRET and (not KMS_KEY_ARN.match(value) or ":alias/" in value):
        raise ValueError("expected a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); CloudWatch Logs "
                         "does not take aliases")
    return value




