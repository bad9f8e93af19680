"""Worker mode: receive one message at a time from $QUEUE_URL, work on it under scale-in protection, delete it.

While a message is in hand the task asks the ECS agent to protect it from scale-in
(`PUT $ECS_AGENT_URI/task-protection/v1/state`, AmazonECS/latest/developerguide/task-scale-in-protection-endpoint.html),
so scaling the worker in, or a deployment, never stops it in the middle of a message; it drops the
protection when the message is done. A message whose work fails is left on the queue: it becomes
visible again after the queue's visibility timeout, and after `maxReceiveCount` receives SQS moves
it to the dead-letter queue. SIGTERM (ECS stopping the task) ends the loop after the current message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import signal
import threading
import urllib.request
from typing import Any

log = logging.getLogger("app.worker")
#: SQS's longest wait: an idle task makes three empty receives a minute instead of many.
WAIT_SECONDS = 20


def protect(agent_uri: str | None, enabled: bool, minutes: int = 60, timeout: float = 5.0) -> bool:
    """Set or drop this task's scale-in protection through the ECS agent; False when it could not."""
    if not agent_uri:
        return False  # not on ECS (a laptop, a test): nothing to protect
    body: dict[str, Any] = {"ProtectionEnabled": enabled}
    if enabled:
        body["ExpiresInMinutes"] = max(1, min(minutes, 2880))  # the agent accepts 1..2880
    request = urllib.request.Request(f"{agent_uri}/task-protection/v1/state", data=json.dumps(body).encode(),
                                     method="PUT", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            answer = json.loads(resp.read() or b"{}")
    except (OSError, ValueError) as exc:
        log.warning("task protection %s failed: %s", "on" if enabled else "off", exc)
        return False
    if "protection" not in answer:  # {"failure": ...} or {"error": ...}: IAM, network or a standalone task
        log.warning("task protection %s refused: %s", "on" if enabled else "off", answer)
        return False
    return True


def handle(body: str, bucket: str | None, s3: Any = None) -> dict[str, Any]:
    """The sample work: a digest of the message, written to the output bucket when there is one."""
    if body.strip() == "fail":
        raise ValueError("the message asked to fail")  # lets a test (or you) see a message reach the DLQ
    result = {"sha256": hashlib.sha256(body.encode()).hexdigest(), "length": len(body)}
    if bucket and s3 is not None:
        s3.put_object(Bucket=bucket, Key=f"messages/{result['sha256']}.json", Body=json.dumps(result).encode(),
                      ContentType="application/json")
    return result


def protection_minutes(sqs: Any, queue_url: str) -> int:
    """Protect for as long as a received message stays hidden (the queue's visibility timeout), rounded up."""
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    return max(1, math.ceil(int(attrs.get("VisibilityTimeout", 30)) / 60))


def run_worker(queue_url: str, sqs: Any = None, s3: Any = None, agent_uri: str | None = None,
               bucket: str | None = None, stop: threading.Event | None = None, max_polls: int | None = None,
               wait_seconds: int = WAIT_SECONDS) -> int:
    """Drain the queue until `stop` is set (or after `max_polls` receives); the number of messages done."""
    if sqs is None or (bucket and s3 is None):
        import boto3

        sqs = sqs or boto3.client("sqs")
        s3 = s3 or (boto3.client("s3") if bucket else None)
    stop = stop or threading.Event()
    minutes = protection_minutes(sqs, queue_url)
    done = polls = 0
    while not stop.is_set() and (max_polls is None or polls < max_polls):
        polls += 1
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=wait_seconds,
                                       MessageSystemAttributeNames=["ApproximateReceiveCount"])
        for message in received.get("Messages", []):
            protected = protect(agent_uri, True, minutes)
            try:
                result = handle(message["Body"], bucket, s3)
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                done += 1
                log.info("message %s done: %s", message["MessageId"], result["sha256"])
            except Exception as exc:  # any failure leaves the message for a retry, then the DLQ
                receives = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
                log.error("message %s failed (receive %s): %s", message["MessageId"], receives, exc)
            finally:
                if protected:
                    protect(agent_uri, False)
    return done


def main() -> int:
    """`python -m app worker`: QUEUE_URL from the environment, until ECS stops the task."""
    queue_url = os.environ.get("QUEUE_URL")
    if not queue_url:
        log.error("QUEUE_URL is not set")
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run_worker(queue_url, agent_uri=os.environ.get("ECS_AGENT_URI"), bucket=os.environ.get("OUTPUT_BUCKET"),
               stop=stop)
    return 0
