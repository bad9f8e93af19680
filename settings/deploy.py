"""`beforeDeploy`: a task that gates a service's deployment (a schema migration), and its cross-checks.

The step itself is built in components/migration.py; here only what the setting may say. A bad value
stops the program before any resource is registered, like every other setting.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import Field, model_validator

from settings.base import Model
from settings.errors import SettingError
from settings.patterns import WORKLOAD_NAME

#: The longest wait `beforeDeploy.timeoutMinutes` allows: a migration that needs more belongs in a job run by hand.
MAX_TIMEOUT_MINUTES = 120


class BeforeDeploySettings(Model):
    """`beforeDeploy`: run a task in the private subnets during `pulumi up`, after the service's new task definition
    is registered and before the service moves to it; exit 0 lets the deployment go on."""

    job: str | None = Field(None, pattern=WORKLOAD_NAME, description=(
        "a `jobs[]` entry of this stack, run with its own task definition, security group and log group"))
    command: list[str] | None = Field(None, min_length=1, description=(
        "or: the service's own new task definition with this command (the arguments to the image's ENTRYPOINT; "
        "for the sample app `[migrate]`)"))
    timeout_minutes: int = Field(15, ge=1, le=MAX_TIMEOUT_MINUTES, description=(
        "the task is stopped and the update fails when it has not exited by then"))

    @model_validator(mode="after")
    def _exactly_one(self) -> BeforeDeploySettings:
        given = [k for k in ("job", "command") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of job and command (got {' and '.join(given) or 'neither'})")
        return self


def check_before_deploy(kinds: Iterable[tuple[str, Sequence[object]]], job_names: Sequence[str]) -> None:
    """Every `beforeDeploy.job` names a job of the stack (checked across the workload kinds that take it)."""
    for kind, items in kinds:
        for i, workload in enumerate(items):
            setting = getattr(workload, "before_deploy", None)
            if setting is None or setting.job is None or setting.job in job_names:
                continue
            known = ", ".join(job_names) or "none (add it under jobs)"
            raise SettingError((kind, i, "beforeDeploy", "job"),
                               f"{setting.job!r} is not a job of this stack; jobs: {known}")
