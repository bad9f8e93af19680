"""Load balancer policies: no request smuggling, TLS 1.2 or later, HTTPS, access logs, deletion protection.

Internet-facing and internal load balancers get the same checks at different levels: what the world
reaches is mandatory, what only the VPC reaches is advisory.
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs

from .framework import Findings, hint, hint_args, resource_policy, stack_policy
from .graph import Graph, Node
from .topology import LOAD_BALANCER

LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
#: Predefined ELB security policies that negotiate nothing older than TLS 1.2 (ELBSecurityPolicy-TLS13-1-2-*,
#: -TLS13-1-3-*, -TLS-1-2-*, -FS-1-2-*, and their FIPS/PQ/Res/Ext variants). The API's default when
#: sslPolicy is omitted is ELBSecurityPolicy-2016-08, which still accepts TLS 1.0.
TLS12_POLICY = re.compile(r"^ELBSecurityPolicy-(TLS13-1-[23]|TLS-1-2|FS-1-2)(-|$)")
SAFE_DESYNC = ("defensive", "strictest")


def _is_alb(args_or_node: Any) -> bool:
    kind = getattr(args_or_node, "resource_type", None) or getattr(args_or_node, "type", None)
    props = args_or_node.props
    return kind in LOAD_BALANCER and props.get("loadBalancerType", "application") == "application"


def _internet_facing(props: Any) -> bool:
    return props.get("internal") is not True


def _smuggling(args: ResourceValidationArgs) -> list[str]:
    """What leaves an ALB open to HTTP request smuggling."""
    problems = []
    if args.props.get("dropInvalidHeaderFields") is not True:
        problems.append("forwards invalid HTTP header fields (set dropInvalidHeaderFields: true)")
    mode = args.props.get("desyncMitigationMode") or "defensive"
    if mode not in SAFE_DESYNC:
        problems.append(f"uses desync mitigation mode {mode!r} (use defensive, the default, or strictest)")
    return problems


def _public_smuggling(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if _is_alb(args) and _internet_facing(args.props):
        for problem in _smuggling(args):
            report_violation(f"{args.name} is internet-facing and {problem}: request smuggling reaches the "
                             f"targets{hint_args(args)}.")


def _drop_invalid(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if _is_alb(args) and not _internet_facing(args.props) and args.props.get("dropInvalidHeaderFields") is not True:
        report_violation(f"{args.name} forwards invalid HTTP header fields (request smuggling risk); set "
                         f"dropInvalidHeaderFields: true{hint_args(args)}.")


def _desync(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if _is_alb(args) and not _internet_facing(args.props) and \
            (args.props.get("desyncMitigationMode") or "defensive") not in SAFE_DESYNC:
        report_violation(f"{args.name} only monitors HTTP desync (request smuggling): use defensive (the default) "
                         f"or strictest{hint_args(args)}.")


def _tls_policy(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in LISTENERS or args.props.get("protocol") not in ("HTTPS", "TLS"):
        return
    policy = args.props.get("sslPolicy")
    if not isinstance(policy, str) or not TLS12_POLICY.match(policy):
        shown = policy or "none, so AWS's default ELBSecurityPolicy-2016-08"
        report_violation(f"{args.name} negotiates TLS older than 1.2 (sslPolicy: {shown}); use "
                         f"ELBSecurityPolicy-TLS13-1-2-2021-06 or another TLS 1.2+ policy{hint_args(args)}.")


def _access_logs(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if _is_alb(args) and (args.props.get("accessLogs") or {}).get("enabled") is not True:
        report_violation(f"{args.name} keeps no access logs; enable them to a bucket"
                         f"{hint_args(args, 'services[].loadBalancer.accessLogs')}.")


def _deletion_protection(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type in LOAD_BALANCER and args.props.get("enableDeletionProtection") is not True:
        report_violation(f"{args.name} can be deleted by one API call or a replacing update; set "
                         f"enableDeletionProtection{hint_args(args, 'protect')}.")


def _listeners(graph: Graph, found: Findings, internet_facing: bool) -> list[tuple[Node, Node]]:
    """(HTTP listener, its ALB) for ALBs of one scheme; listeners of load balancers elsewhere are outside."""
    out = []
    for listener in graph.of_type(*LISTENERS):
        if listener.props.get("protocol") != "HTTP":
            continue
        lbs, _, _ = graph.refs(listener, "loadBalancerArn", LOAD_BALANCER)
        if not lbs:
            found.outside.append(f"the load balancer of listener {listener.name} (not in this stack)")
        out += [(listener, lb) for lb in lbs if _is_alb(lb) and _internet_facing(lb.props) == internet_facing]
    return out


def _serves_plain(listener: Node) -> bool:
    actions = listener.props.get("defaultActions") or []
    return not all(isinstance(a, dict) and a.get("type") == "redirect"
                   and (a.get("redirect") or {}).get("protocol") == "HTTPS" for a in actions)


def _https_only(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    for listener, lb in _listeners(graph, found, internet_facing=True):
        if _serves_plain(listener):
            found.violation(f"{listener.name} serves plain HTTP on internet-facing {lb.name}: listen on HTTPS and "
                            f"redirect HTTP to it{hint(listener, 'services[].loadBalancer.certificateArn')}.",
                            listener.urn)


def _internal_https(graph: Graph, _: dict[str, Any], found: Findings) -> None:
    for listener, lb in _listeners(graph, found, internet_facing=False):
        if _serves_plain(listener):
            found.violation(f"{listener.name} serves plain HTTP on internal {lb.name}: requests cross the VPC "
                            f"unencrypted. Serve HTTPS with a certificate"
                            f"{hint(listener, 'services[].loadBalancer.certificateArn')}.", listener.urn)


alb_public_smuggling_protection = resource_policy(
    "alb-public-smuggling-protection",
    "Internet-facing ALBs drop invalid header fields and mitigate HTTP desync (defensive or strictest).",
    EnforcementLevel.MANDATORY, _public_smuggling)
alb_drop_invalid_headers = resource_policy(
    "alb-drop-invalid-headers", "Internal ALBs drop invalid HTTP header fields.", EnforcementLevel.ADVISORY,
    _drop_invalid)
alb_desync_mitigation = resource_policy(
    "alb-desync-mitigation", "Internal ALBs mitigate HTTP desync (defensive or strictest).",
    EnforcementLevel.ADVISORY, _desync)
alb_tls_policy = resource_policy(
    "alb-tls-policy", "HTTPS and TLS listeners use a security policy of TLS 1.2 or later.",
    EnforcementLevel.MANDATORY, _tls_policy)
alb_https_only = stack_policy(
    "alb-https-only", "Listeners of internet-facing ALBs serve HTTPS; HTTP only redirects to it.",
    EnforcementLevel.ADVISORY, _https_only)
alb_internal_https = stack_policy(
    "alb-internal-https", "Listeners of internal ALBs serve HTTPS too (set mandatory to require TLS inside the VPC).",
    EnforcementLevel.ADVISORY, _internal_https)
alb_access_logs = resource_policy(
    "alb-access-logs", "ALBs write access logs.", EnforcementLevel.ADVISORY, _access_logs)
alb_deletion_protection = resource_policy(
    "alb-deletion-protection", "Load balancers have deletion protection on.", EnforcementLevel.ADVISORY,
    _deletion_protection)

POLICIES = [alb_public_smuggling_protection, alb_drop_invalid_headers, alb_desync_mitigation, alb_tls_policy,
            alb_https_only, alb_internal_https, alb_access_logs, alb_deletion_protection]
