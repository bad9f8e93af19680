"""Settings of one queue worker: a `workers[]` entry, a service that drains an SQS queue the stack creates.

A worker takes every key a workload takes (settings/workloads.py) plus its queue's redrive and
visibility, and its scaling on the queue's backlog, which starts from zero tasks.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from settings.base import Model
from settings.deploy import BeforeDeploySettings
from settings.errors import SettingError
from settings.workloads import WorkloadSettings

#: Set by the stack to the worker's queue URL; a worker's `environment` cannot set it.
QUEUE_URL = "QUEUE_URL"


class WorkerScaling(Model):
    """`autoscaling` of a worker: 0 -> 1 on the first message, backlog per task above that, 0 when idle."""

    min: int = Field(0, ge=0, le=1000, description="fewest tasks; 0 lets an idle worker cost nothing")
    max: int = Field(ge=1, le=1000, description="most tasks (required: it bounds what a flood of messages costs)")
    messages_per_task: int = Field(100, ge=1, le=100_000, description=(
        "visible messages per running task to track; more adds tasks"))
    scale_in_idle_minutes: int = Field(15, ge=1, le=1440, description=(
        "minutes with no visible and no in-flight message before the worker goes to `min`"))

    @model_validator(mode="after")
    def _bounds(self) -> WorkerScaling:
        if self.max < self.min:
            raise SettingError("max", f"{self.max} is less than min ({self.min})")
        return self


class WorkerSettings(WorkloadSettings):
    """One `workers[]` entry: a service that receives messages from its own queue."""

    autoscaling: WorkerScaling = Field(description="scaling on the queue's backlog")
    max_receive_count: int = Field(5, ge=1, le=1000, description=(
        "receives of one message before it moves to the dead-letter queue"))
    visibility_timeout_seconds: int = Field(300, ge=0, le=43200, description=(
        "how long a received message stays hidden from other tasks; longer than one message takes"))
    before_deploy: BeforeDeploySettings | None = Field(None, description=(
        "a task run during `pulumi up` before the worker moves to a new task definition (a migration the new "
        "code needs before it takes messages): exactly one of `job` and `command`"))

    @field_validator("environment")
    @classmethod
    def _queue_url_reserved(cls, value: dict[str, str]) -> dict[str, str]:
        if QUEUE_URL in value:
            raise SettingError(QUEUE_URL, "set by private-fargate to the worker's queue URL; remove it")
        return value
