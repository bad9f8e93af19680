"""Worker mode against moto's SQS and S3 and a fake ECS agent on loopback (the task-protection endpoint)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from moto import mock_aws

from app.worker import main, protect, run_worker

REGION = "us-east-1"


class FakeAgent:
    """`$ECS_AGENT_URI/task-protection/v1/state` as the ECS agent answers it; records every request in order."""

    def __init__(self, answer: dict[str, Any] | None = None):
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.answer = answer
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                agent.calls.append(("PUT", self.path, body))
                reply = agent.answer or {"protection": {"ProtectionEnabled": body["ProtectionEnabled"],
                                                        "TaskArn": "arn:aws:ecs:us-east-1:123456789012:task/c/1"}}
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/v4/task-id"

    def __enter__(self) -> FakeAgent:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        sqs, s3 = boto3.client("sqs", region_name=REGION), boto3.client("s3", region_name=REGION)
        dlq = sqs.create_queue(QueueName="w_dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue = sqs.create_queue(QueueName="w_queue", Attributes={
            "VisibilityTimeout": "0", "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                                                   "maxReceiveCount": 2})})["QueueUrl"]
        s3.create_bucket(Bucket="out")
        yield {"sqs": sqs, "s3": s3, "queue": queue, "dlq": dlq}


def visible(sqs: Any, url: str) -> int:
    return int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
               ["Attributes"]["ApproximateNumberOfMessages"])


class TestWorker:
    def test_protects_while_working_then_deletes_and_unprotects(self, aws: dict[str, Any]) -> None:
        sqs = aws["sqs"]
        sqs.send_message(QueueUrl=aws["queue"], MessageBody="resize photo 42")
        with FakeAgent() as agent:
            done = run_worker(aws["queue"], sqs, aws["s3"], agent.uri, "out", max_polls=1, wait_seconds=0)
        assert done == 1 and visible(sqs, aws["queue"]) == 0
        assert [c[1] for c in agent.calls] == ["/v4/task-id/task-protection/v1/state"] * 2
        # visibility timeout 0 -> protected for the 1-minute minimum the agent accepts, then released
        assert [c[2] for c in agent.calls] == [{"ProtectionEnabled": True, "ExpiresInMinutes": 1},
                                               {"ProtectionEnabled": False}]
        listed = aws["s3"].list_objects_v2(Bucket="out")["Contents"]
        assert len(listed) == 1 and listed[0]["Key"].startswith("messages/")

    def test_failed_message_stays_then_reaches_the_dlq(self, aws: dict[str, Any]) -> None:
        sqs = aws["sqs"]
        sqs.send_message(QueueUrl=aws["queue"], MessageBody="fail")
        with FakeAgent() as agent:
            done = run_worker(aws["queue"], sqs, aws["s3"], agent.uri, "out", max_polls=2, wait_seconds=0)
            # the third receive finds nothing: SQS moved the message after maxReceiveCount (2) receives
            assert run_worker(aws["queue"], sqs, aws["s3"], agent.uri, "out", max_polls=1, wait_seconds=0) == 0
        assert done == 0 and visible(sqs, aws["dlq"]) == 1
        # each attempt was protected and released, even though the work failed
        assert [c[2]["ProtectionEnabled"] for c in agent.calls] == [True, False, True, False]

    def test_refused_protection_still_works_the_message(self, aws: dict[str, Any]) -> None:
        aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody="x")
        refusal = {"failure": {"Arn": "arn:aws:ecs:us-east-1:123456789012:task/c/1", "Reason": "TASK_NOT_VALID"}}
        with FakeAgent(answer=refusal) as agent:
            done = run_worker(aws["queue"], aws["sqs"], aws["s3"], agent.uri, "out", max_polls=1, wait_seconds=0)
        assert done == 1 and [c[2]["ProtectionEnabled"] for c in agent.calls] == [True]  # nothing to release

    def test_no_agent_outside_ecs(self) -> None:
        assert protect(None, True) is False

    def test_unreachable_agent_is_not_fatal(self) -> None:
        assert protect("http://127.0.0.1:9", True, timeout=0.5) is False

    def test_main_needs_queue_url(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("QUEUE_URL", raising=False)
        assert main() == 2
