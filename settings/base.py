"""Building blocks of the settings model: the base model, AWS's value sets and the shared checks.

Nothing here reads config; the patterns are in settings/patterns.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from settings.errors import OFFLINE_SECRET, SettingError
from settings.patterns import KMS_KEY_ARN

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


def check_key_arns(value: list[str]) -> list[str]:
    """KMS key ARNs that an IAM statement can name as its resource (an alias ARN matches no key there)."""
    for i, arn in enumerate(value):
        if arn != OFFLINE_SECRET and (not KMS_KEY_ARN.match(arn) or ":alias/" in arn):
            raise SettingError((i,), f"{arn!r} is not valid; expected a KMS key ARN "
                                  "(arn:aws:kms:<region>:<account>:key/<id>): IAM grants on a key name its key ARN")
    return value


def shown(text: str) -> dict[str, str]:
    """`json_schema_extra` for a default the README shows as text (it is computed, or absence means something)."""
    return {"shownDefault": text}

