"""Tag policy: taggable resources carry the tags cost reports and owners are found by."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs

from ._util import config
from .framework import resource_policy

#: Types that take tags but whose programs often forget them (a resource with a `tags` input is checked too).
TAGGABLE = frozenset({
    "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable", "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/vpcEndpoint:VpcEndpoint", "aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip", "aws:ec2/flowLog:FlowLog", "aws:ecr/repository:Repository", "aws:ecs/cluster:Cluster",
    "aws:ecs/service:Service", "aws:ecs/taskDefinition:TaskDefinition", "aws:cloudwatch/logGroup:LogGroup",
    "aws:iam/role:Role", "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:lb/loadBalancer:LoadBalancer",
    "aws:alb/loadBalancer:LoadBalancer", "aws:lb/targetGroup:TargetGroup", "aws:sqs/queue:Queue",
    "aws:sns/topic:Topic", "aws:kms/key:Key",
})


def _required_tags(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in TAGGABLE and "tags" not in args.props:
        return
    required = config(args, {"requiredTags": ["project", "stack"]})["requiredTags"]
    tags = args.props.get("tags") or {}
    missing = [t for t in required if t not in tags]
    if missing:
        report_violation(f"{args.name} lacks tag(s) {', '.join(missing)}: cost reports and owners cannot find it.")


required_tags = resource_policy(
    "required-tags", "Taggable resources carry the required tags.", EnforcementLevel.ADVISORY, _required_tags,
    {"requiredTags": {"type": "array", "items": {"type": "string"}, "default": ["project", "stack"],
                      "description": "Tag keys every taggable resource must have."}})

POLICIES = [required_tags]
