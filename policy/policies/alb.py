"""Load balancer policies: drop invalid headers, serve HTTPS, keep access logs."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ._util import setting_hint

LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")


def _is_alb(args: ResourceValidationArgs) -> bool:
    return args.resource_type in LOAD_BALANCERS and args.props.get("loadBalancerType", "application") == "application"


def _drop_invalid(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if _is_alb(args) and args.props.get("dropInvalidHeaderFields") is not True:
        report_violation(f"{args.name} forwards invalid HTTP header fields (request smuggling risk); set "
                         "dropInvalidHeaderFields: true.")


def _https_only(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in LISTENERS or args.props.get("protocol") != "HTTP":
        return
    actions = args.props.get("defaultActions") or []
    if not all(a.get("type") == "redirect" and (a.get("redirect") or {}).get("protocol") == "HTTPS" for a in actions):
        report_violation(f"{args.name} serves plain HTTP: listen on HTTPS and redirect HTTP to it (private-fargate: "
                         f"services[].loadBalancer.certificateArn){setting_hint(args.name)}.")


def _access_logs(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if _is_alb(args) and (args.props.get("accessLogs") or {}).get("enabled") is not True:
        report_violation(f"{args.name} keeps no access logs; enable them to a bucket (private-fargate: "
                         "services[].loadBalancer.accessLogs).")


alb_drop_invalid_headers = ResourceValidationPolicy(
    name="alb-drop-invalid-headers", description="ALBs drop invalid HTTP header fields.",
    enforcement_level=EnforcementLevel.ADVISORY, validate=_drop_invalid)
alb_https_only = ResourceValidationPolicy(
    name="alb-https-only", description="ALB listeners serve HTTPS; HTTP only redirects to it.",
    enforcement_level=EnforcementLevel.ADVISORY, validate=_https_only)
alb_access_logs = ResourceValidationPolicy(
    name="alb-access-logs", description="ALBs write access logs.",
    enforcement_level=EnforcementLevel.ADVISORY, validate=_access_logs)

POLICIES = [alb_drop_invalid_headers, alb_https_only, alb_access_logs]
