"""What the operator tools share: stack outputs, the AWS session, one-line errors, exit codes, backoff.

Every tool reads the stack outputs (`--stack S` through the Pulumi CLI, or `--outputs FILE`) and
nothing else by hand; boto3 clients retry throttling with botocore's own exponential backoff
("standard" mode); any error becomes one line on stderr with a documented exit status, never a
traceback. `cli()` wraps a tool's body to do exactly that.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1  # a check failed (doctor), a prerequisite is missing (exec)
EXIT_USAGE = 2  # bad arguments or outputs, or an AWS error
EXIT_INTERRUPTED = 130

#: botocore's "standard" retry mode retries throttling and transient errors with exponential backoff
#: and jitter; 8 attempts ride out a burst of throttling (ThrottlingException, TooManyRequests).
RETRIES = {"mode": "standard", "total_max_attempts": 8}

#: Error codes that mean the credentials are there but no longer valid.
_EXPIRED = ("ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired")
_INVALID = ("UnrecognizedClientException", "InvalidClientTokenId", "SignatureDoesNotMatch", "AuthFailure")
_THROTTLED = ("Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded")


class ToolError(Exception):
    """Stops a tool: `message` is the one line to print, `code` the exit status."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def add_source_args(parser: argparse.ArgumentParser) -> None:
    """`--stack S | --outputs FILE` and `--region`: where a tool finds the stack."""
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--stack", help="read `pulumi stack output --json --stack STACK` (needs the Pulumi CLI)")
    src.add_argument("--outputs", type=Path, help="read the stack outputs from this JSON file")
    parser.add_argument("--region", help="AWS region [the stack's]")


def load_outputs(stack: str | None, outputs_file: Path | None) -> dict[str, Any]:
    """The stack outputs, from a file or from the Pulumi CLI; refuses what is not this project's outputs."""
    if outputs_file is not None:
        try:
            outputs = json.loads(outputs_file.read_text())
        except (OSError, ValueError) as exc:
            raise ToolError(f"{outputs_file}: cannot read stack outputs ({exc})") from None
    else:
        pulumi = shutil.which("pulumi")
        if pulumi is None:
            raise ToolError("no Pulumi CLI here: pass --outputs FILE (saved with `pulumi stack output --json`)")
        cmd = [pulumi, "stack", "output", "--json", *(["--stack", stack] if stack else [])]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            raise ToolError(f"`{' '.join(cmd[1:])}` failed: {last}")
        outputs = json.loads(proc.stdout)
    if not isinstance(outputs, dict) or "clusterArn" not in outputs:
        raise ToolError("the outputs have no clusterArn: are they a private-fargate stack's outputs?")
    return outputs


@dataclass(frozen=True)
class Workload:
    """One entry of the `jobs`/`services`/`workers` outputs, with its name and kind (job, service or worker).

    Workers (queue-driven services, DESIGN.md) are ECS services too: the tools treat them as services.
    """

    name: str
    kind: str
    entry: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        """An output key of the entry; keys added after the first release may be absent in old outputs."""
        value = self.entry.get(key)
        return default if value is None else value

    @property
    def family(self) -> str:
        """The task definition family (`arn:...:task-definition/<family>:<revision>`)."""
        return str(self.entry["taskDefinitionArn"]).rsplit("/", 1)[-1].split(":")[0]

    @property
    def task_id_prefix(self) -> str:
        """`<logStreamPrefix>/<container>/`: the start of the app container's log streams."""
        return f"{self.entry['logStreamPrefix']}/{self.entry['containerName']}/"


def workloads(outputs: dict[str, Any], kinds: tuple[str, ...] = ("job", "service", "worker")) -> list[Workload]:
    """The stack's workloads of these kinds (an output a stack lacks counts as empty): services, workers, jobs."""
    out = []
    for kind, key in (("service", "services"), ("worker", "workers"), ("job", "jobs")):
        if kind in kinds:
            out += [Workload(n, kind, e) for n, e in sorted((outputs.get(key) or {}).items())]
    return out


def find_workload(outputs: dict[str, Any], name: str,
                  kinds: tuple[str, ...] = ("job", "service", "worker")) -> Workload:
    """The named workload, or a ToolError that lists the known ones of these kinds."""
    found = workloads(outputs, kinds)
    for w in found:
        if w.name == name:
            return w
    known = ", ".join(f"{w.name} ({w.kind})" for w in found) or "none"
    raise ToolError(f"no job or service named {name!r}; known: {known}")


def task_id(arn: str) -> str:
    """The id at the end of a task ARN."""
    return arn.rsplit("/", 1)[-1]


def log_stream_link(region: str | None, group: str, stream: str) -> str:
    """A CloudWatch console link to one log stream's events (the console's hash route writes '%' as '$25')."""
    import urllib.parse

    def encode(text: str) -> str:
        return urllib.parse.quote(text, safe="").replace("%", "$25")

    return (f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
            f"{encode(group)}/log-events/{encode(stream)}")


def make_session(profile: str | None = None) -> Any:
    """A boto3 session from the usual AWS environment (profile, SSO, AWS_ENDPOINT_URL), or the named profile,
    whose clients retry throttling with backoff."""
    import boto3
    import botocore.session
    from botocore.config import Config

    core = botocore.session.get_session()
    core.set_default_client_config(Config(retries=dict(RETRIES)))  # type: ignore[arg-type]
    return boto3.Session(botocore_session=core, profile_name=profile)


def region_of(args: argparse.Namespace, outputs: dict[str, Any]) -> str | None:
    """`--region`, else the stack's region from its outputs."""
    return getattr(args, "region", None) or outputs.get("region")


def describe_error(exc: BaseException, region: str | None = None) -> str:
    """One line for an AWS error, saying what to change where that is known."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        TokenRetrievalError,
    )

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return "no AWS credentials found: set AWS_PROFILE (or run `aws sso login`, or export AWS_ACCESS_KEY_ID/..."\
               "AWS_SECRET_ACCESS_KEY) and run again"
    if isinstance(exc, TokenRetrievalError):
        return f"the AWS SSO session has expired ({one_line(exc)}): run `aws sso login` and run again"
    if isinstance(exc, NoRegionError):
        return "no AWS region: the outputs name none; pass --region"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach AWS ({one_line(exc)}): check the network, a proxy or AWS_ENDPOINT_URL"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", ""), one_line(error.get("Message", "") or str(exc))
        operation = getattr(exc, "operation_name", "") or "the call"
        if code in _EXPIRED:
            return f"the AWS credentials have expired ({code}): refresh them (`aws sso login`, a new session) " \
                   "and run again"
        if code in _INVALID:
            return f"the AWS credentials are not valid here ({code}: {message}): check AWS_PROFILE and the account"
        if code in _THROTTLED:
            attempts = RETRIES["total_max_attempts"]
            return f"AWS kept throttling {operation} after {attempts} attempts with backoff ({code}): " \
                   "wait a minute and run again"
        if code == "ClusterNotFoundException":
            where = f" in {region}" if region else ""
            return f"the stack's cluster is not found{where} ({message}): is the stack deployed in this region? " \
                   "(--region overrides the outputs' region)"
        if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
            return f"{operation} was denied ({message}): your AWS identity needs that permission"
        return f"{operation} failed: {code}: {message}"
    return one_line(exc)


def one_line(value: object) -> str:
    """Any message on one line."""
    return " ".join(str(value).split())


def cli(body: Callable[[], int], region: Callable[[], str | None] = lambda: None,
        err: Callable[[str], None] | None = None) -> int:
    """Run a tool's body: its exit status, or one line on stderr and 2 (130 on Ctrl-C), never a traceback."""
    from botocore.exceptions import BotoCoreError, ClientError

    say = err or (lambda line: print(line, file=sys.stderr))
    try:
        return body()
    except KeyboardInterrupt:
        say("interrupted")
        return EXIT_INTERRUPTED
    except ToolError as exc:
        say(f"error: {one_line(exc)}")
        return exc.code
    except (ClientError, BotoCoreError) as exc:
        say(f"error: {describe_error(exc, region())}")
        return EXIT_USAGE


def backoff(first: float = 1.0, factor: float = 2.0, cap: float = 30.0, total: float = 300.0) -> Iterator[float]:
    """Delays growing from `first` by `factor` up to `cap` each, until they add up to `total`.

    AWS's advice for ECS's eventual consistency: describe again, "starting with a couple of seconds
    of wait time and increasing gradually up to five minutes" (RunTask API reference).
    """
    spent, delay = 0.0, first
    while spent < total:
        step = min(delay, cap, total - spent)
        yield step
        spent += step
        delay *= factor


def require_cluster(session: Any, outputs: dict[str, Any], region: str | None) -> None:
    """Stop with one line when the stack's cluster is not in this region (a wrong --region or profile)."""
    from botocore.exceptions import ClientError

    ecs = session.client("ecs", region_name=region)
    try:
        found = ecs.describe_clusters(clusters=[outputs["clusterArn"]])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("ClusterNotFoundException", "InvalidParameterException"):
            raise
        found = {"failures": [{"reason": exc.response["Error"]["Code"]}]}
    if not any(c.get("status") == "ACTIVE" for c in found.get("clusters", [])):
        why = "; ".join(f.get("reason", "") for f in found.get("failures", [])) or "not active"
        raise ToolError(f"the cluster {outputs.get('clusterName')} is not in {region} ({why}): is the stack deployed "
                        f"there? (the outputs say {outputs.get('region')}; --region overrides them)")


@dataclass(frozen=True)
class Stack:
    """What a tool's body works with: the outputs, the region and a session whose clients retry throttling."""

    outputs: dict[str, Any]
    region: str | None
    session: Any

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=self.region)

    def chosen(self, name: str | None) -> list[Workload]:
        """The named workload, or all of them."""
        return [find_workload(self.outputs, name)] if name else workloads(self.outputs)


def run_with_stack(args: argparse.Namespace, session: Any, body: Callable[[Stack], int]) -> int:
    """Load the outputs named by `--stack`/`--outputs`, check the cluster is in the region, run `body`; errors
    become one line and an exit status (`cli`)."""
    state: dict[str, Any] = {}

    def run() -> int:
        outputs = load_outputs(args.stack, args.outputs)
        state["region"] = region = region_of(args, outputs)
        aws = session or make_session()
        require_cluster(aws, outputs, region)
        return body(Stack(outputs, region, aws))

    return cli(run, region=lambda: state.get("region"))
