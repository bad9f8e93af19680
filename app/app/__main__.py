"""`python -m app serve|job|worker|migrate|health|probe|exit`: the sample container's entry point.

serve   HTTP on $PORT (8080): GET /health -> 200 {"status": "ok"}, GET / -> a small JSON document.
job     writes one JSON result object to s3://$OUTPUT_BUCKET/results/<timestamp>.json and logs it.
worker  drains $QUEUE_URL one message at a time under scale-in protection (app/app/worker.py).
migrate the sample "schema migration" the dev stack runs before `web` moves to a new task definition
        (`beforeDeploy: {command: [migrate]}`): logs its steps and records the schema version it
        applied in s3://$OUTPUT_BUCKET/migrations/schema.json (only logs without OUTPUT_BUCKET);
        idempotent, like a real migration should be, since a retried deploy may run it again.
health  exits 0 when the local server answers /health (for the ECS container health check;
        the slim image has no curl).
probe   the network probe of `tools.doctor --probe` (app/probe.py).
exit N  logs and exits with code N (to try alerts: `tools.run_task report --command "exit 3"`).
render-config   writes $RENDER_DIR/nginx.conf (/srv/rendered), the config of an nginx sidecar that
        listens on $PROXY_PORT (8443) and proxies to this app on $PORT (8080): what an init
        container of the full-stack example renders before the others start.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger("app")


class Handler(BaseHTTPRequestHandler):
    """Answers /health and / with JSON; logs one line per request."""

    server_version = "private-fargate-sample/1"

    def do_GET(self) -> None:
        if self.path == "/health":
            self._reply(200, {"status": "ok"})
        elif self.path == "/":
            self._reply(200, {"service": os.environ.get("SERVICE_NAME", "app"), "host": socket.gethostname(),
                              "time": datetime.now(UTC).isoformat()})
        else:
            self._reply(404, {"error": "not found", "path": self.path})

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


def make_server(port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """The HTTP server of service mode (port 0 picks a free port, for tests)."""
    return ThreadingHTTPServer((host, port), Handler)


def serve(port: int) -> int:
    """Serve until stopped (ECS sends SIGTERM, which ends the process)."""
    server = make_server(port)
    log.info("serving on port %d", server.server_address[1])
    server.serve_forever()
    return 0


def run_job(bucket: str, s3: Any = None, now: datetime | None = None) -> str:
    """Write the job's result object and return its key."""
    if s3 is None:
        import boto3

        s3 = boto3.client("s3")
    now = now or datetime.now(UTC)
    key = f"results/{now.strftime('%Y%m%dT%H%M%SZ')}.json"
    result = {"job": os.environ.get("JOB_NAME", "sample"), "finishedAt": now.isoformat(),
              "host": socket.gethostname(), "python": sys.version.split()[0]}
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(result).encode(), ContentType="application/json")
    log.info("wrote s3://%s/%s", bucket, key)
    return key


#: The schema version this image's code expects; `migrate` records it.
SCHEMA_VERSION = 1
MIGRATION_KEY = "migrations/schema.json"


def migrate(bucket: str | None, s3: Any = None, now: datetime | None = None) -> dict[str, Any]:
    """Bring the (sample) schema to SCHEMA_VERSION: record it in the bucket's marker object; the record."""
    now = now or datetime.now(UTC)
    record = {"version": SCHEMA_VERSION, "appliedAt": now.isoformat(), "host": socket.gethostname()}
    log.info("migrating the schema to version %d", SCHEMA_VERSION)
    if not bucket:
        log.info("OUTPUT_BUCKET is not set: nothing to record")
        return record
    if s3 is None:
        import boto3

        s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key=MIGRATION_KEY, Body=json.dumps(record).encode(), ContentType="application/json")
    log.info("schema at version %d: recorded in s3://%s/%s", SCHEMA_VERSION, bucket, MIGRATION_KEY)
    return record


def health(port: int, timeout: float = 2.0) -> int:
    """0 when the local server's /health answers 200, else 1."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=timeout) as resp:
            return 0 if resp.status == 200 else 1
    except OSError:
        return 1


#: nginx's whole config: an unprivileged proxy in front of the app; every file it writes goes to the
#: rendered directory (the only writable one in a read-only container besides the task's scratch volumes).
NGINX_CONF = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log /dev/stderr warn;
events {{ worker_connections 256; }}
http {{
    access_log /dev/stdout;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen {proxy_port};
        location / {{ proxy_pass http://127.0.0.1:{port}; }}
    }}
}}
"""


def render_config(directory: Path, port: int, proxy_port: int) -> Path:
    """Write the sidecar's nginx.conf into `directory` and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "nginx.conf"
    path.write_text(NGINX_CONF.format(dir=directory, port=port, proxy_port=proxy_port))
    log.info("rendered %s (proxy %d -> app %d)", path, proxy_port, port)
    return path


def main(argv: list[str]) -> int:
    """Dispatch on the mode; exit codes are what ECS reports as the container's exit code."""
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stdout)
    mode = argv[0] if argv else "serve"
    port = int(os.environ.get("PORT", "8080"))
    if mode == "serve":
        return serve(port)
    if mode == "health":
        return health(port)
    if mode == "worker":
        from app.worker import main as worker_main

        return worker_main()
    if mode == "job":
        bucket = os.environ.get("OUTPUT_BUCKET")
        if not bucket:
            log.error("OUTPUT_BUCKET is not set")
            return 2
        started = time.monotonic()
        run_job(bucket)
        log.info("job done in %.2fs", time.monotonic() - started)
        return 0
    if mode == "migrate":
        migrate(os.environ.get("OUTPUT_BUCKET"))
        return 0
    if mode == "probe":
        from app.probe import main as probe

        return probe()
    if mode == "exit":
        code = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 1
        log.info("exiting with %d as asked", code)
        return code
    if mode == "render-config":
        render_config(Path(os.environ.get("RENDER_DIR", "/srv/rendered")), port,
                      int(os.environ.get("PROXY_PORT", "8443")))
        return 0
    log.error("unknown mode %r; use serve, job, worker, migrate, health, probe, exit or render-config", mode)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
