"""How a queue worker scales, as plain data: the CloudWatch metric queries of its policies and alarms.

Target tracking alone cannot start a worker that runs no task: it multiplies the current count,
which is 0 (Application Auto Scaling: target tracking scales capacity in proportion to the metric).
So the worker has four rules (components/worker.py registers them):
- **from zero**: a step policy sets 1 task when a message is visible and the service wants none
  (Container Insights' DesiredTaskCount below 1, missing data as 0);
- **above one**: target tracking on the backlog per task, visible messages ÷ max(running tasks, 1),
  with metric math in a customized metric specification
  (autoscaling/application/userguide/application-auto-scaling-target-tracking-metric-math.html);
  it only adds tasks, so a burst never loses a task in the middle of a message;
- **one fewer**: a step policy removes one task when the visible backlog fits the other tasks at
  the target, for five minutes;
- **idle**: a step policy returns to `min` after visible and in-flight messages have been 0 for
  `scaleInIdleMinutes`.
A task that holds a message is protected from scale-in (the sample app's worker mode), so a rule
that lowers the count never stops it in the middle of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PERIOD = 60  # SQS and Container Insights publish one-minute datapoints
LOW_BACKLOG_MINUTES = 5


@dataclass(frozen=True)
class WorkerMetrics:
    """The metric dimensions of one worker: its queue and its ECS service."""

    queue_name: str
    cluster_name: str
    service_name: str
    messages_per_task: int

    def _sqs(self, metric: str, stat: str) -> dict[str, Any]:
        return {"metric_name": metric, "namespace": "AWS/SQS", "stat": stat,
                "dimensions": {"QueueName": self.queue_name}}

    def _ecs(self, metric: str) -> dict[str, Any]:
        return {"metric_name": metric, "namespace": "ECS/ContainerInsights", "stat": "Average",
                "dimensions": {"ClusterName": self.cluster_name, "ServiceName": self.service_name}}

    def backlog_per_task(self) -> list[dict[str, Any]]:
        """Target tracking's customized metric: visible ÷ max(running, 1), in the provider's `metrics` shape."""
        def stat(query_id: str, spec: dict[str, Any]) -> dict[str, Any]:
            return {"id": query_id, "return_data": False, "metric_stat": {
                "stat": spec["stat"], "metric": {"metric_name": spec["metric_name"], "namespace": spec["namespace"],
                                                 "dimensions": [{"name": k, "value": v}
                                                                for k, v in spec["dimensions"].items()]}}}
        return [stat("visible", self._sqs("ApproximateNumberOfMessagesVisible", "Average")),
                stat("running", self._ecs("RunningTaskCount")),
                {"id": "backlog", "expression": "visible / IF(FILL(running, 0) >= 1, FILL(running, 0), 1)",
                 "label": "visible messages per running task", "return_data": True}]

    def _alarm_queries(self, expression: str, label: str, **metrics: dict[str, Any]) -> list[dict[str, Any]]:
        """An alarm's metric queries: each named metric, and the expression the alarm watches."""
        queries = [{"id": query_id, "return_data": False, "metric": {
            "metric_name": spec["metric_name"], "namespace": spec["namespace"], "period": PERIOD,
            "stat": spec["stat"], "dimensions": spec["dimensions"]}} for query_id, spec in metrics.items()]
        return [*queries, {"id": "signal", "expression": expression, "label": label, "return_data": True}]

    def from_zero(self) -> list[dict[str, Any]]:
        """1 while a message is visible and the service wants no task, else 0."""
        return self._alarm_queries(
            "IF(FILL(visible, 0) >= 1 AND FILL(desired, 0) < 1, 1, 0)", "messages waiting for a worker at zero",
            visible=self._sqs("ApproximateNumberOfMessagesVisible", "Maximum"),
            desired=self._ecs("DesiredTaskCount"))

    def one_fewer(self) -> list[dict[str, Any]]:
        """1 while more than one task is wanted and one fewer would still hold the backlog at the target."""
        return self._alarm_queries(
            f"IF(FILL(desired, 0) > 1 AND FILL(visible, 0) < {self.messages_per_task} * (FILL(desired, 0) - 1), "
            "1, 0)", "backlog fits one task fewer",
            visible=self._sqs("ApproximateNumberOfMessagesVisible", "Maximum"),
            desired=self._ecs("DesiredTaskCount"))

    def idle(self) -> list[dict[str, Any]]:
        """1 while no message is visible and none is in flight (missing data, as from a queue SQS stopped
        reporting on, counts as none)."""
        return self._alarm_queries(
            "IF(FILL(visible, 0) + FILL(inflight, 0) == 0, 1, 0)", "no message visible or in flight",
            visible=self._sqs("ApproximateNumberOfMessagesVisible", "Maximum"),
            inflight=self._sqs("ApproximateNumberOfMessagesNotVisible", "Maximum"))
