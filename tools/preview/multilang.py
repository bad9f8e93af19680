"""Multi-language components (awsx, eks, aws-apigateway, synced-folder): what the offline preview cannot see.

Such a component is built by its own provider plugin, which `pulumi preview` runs and the offline
preview does not: under mocks it is one opaque resource with no children. The policy pack therefore
cannot check what it creates. For each one the report gets an advisory, policy `opaque-component`,
naming the component and the pack's policies that would have looked inside it, from what the
component creates (read from each package's source) and what each policy examines. A component not
listed here may create anything: every policy is named. Components the pack's own `cannot-verify`
policy already reports (the awsx ECS ones, whose inputs it partly reads) get no second advisory.
"""

from __future__ import annotations

from typing import Any

POLICY_NAME = "opaque-component"

_SERVICE = "aws:ecs/service:Service"
_TASK = "aws:ecs/taskDefinition:TaskDefinition"
_CLUSTER = "aws:ecs/cluster:Cluster"
_LOGS = "aws:cloudwatch/logGroup:LogGroup"
_ROLE = ("aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
         "aws:iam/instanceProfile:InstanceProfile")
_SG = ("aws:ec2/securityGroup:SecurityGroup", "aws:ec2/securityGroupRule:SecurityGroupRule")
_LB = ("aws:lb/loadBalancer:LoadBalancer", "aws:lb/listener:Listener", "aws:lb/targetGroup:TargetGroup")
_SUBNETS = ("aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable", "aws:ec2/route:Route",
            "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:ec2/internetGateway:InternetGateway",
            "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip")
_VPC = "aws:ec2/vpc:Vpc"
_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
_REPO = ("aws:ecr/repository:Repository", "aws:ecr/lifecyclePolicy:LifecyclePolicy")
_BUCKET = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:s3/bucketPolicy:BucketPolicy",
           "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
           "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "aws:s3/bucketAclV2:BucketAclV2")
_OBJECT = "aws:s3/bucketObject:BucketObject"

#: Resource types each component's provider creates (read from pulumi/pulumi-awsx awsx/, pulumi/pulumi-eks
#: nodejs/eks/, pulumi/pulumi-aws-apigateway, pulumi/pulumi-synced-folder: their `new aws.*` calls).
CREATES: dict[str, tuple[str, ...]] = {
    "awsx:ecs:FargateService": (_SERVICE, _TASK, _LOGS, *_ROLE, *_SG),
    "awsx:ecs:FargateTaskDefinition": (_TASK, _LOGS, *_ROLE),
    "awsx:ecs:EC2Service": (_SERVICE, _TASK, _LOGS, *_ROLE, *_SG),
    "awsx:ecs:EC2TaskDefinition": (_TASK, _LOGS, *_ROLE),
    "awsx:ec2:Vpc": (_VPC, *_SUBNETS, _ENDPOINT, *_SG),
    "awsx:ec2:DefaultVpc": (),
    "awsx:lb:ApplicationLoadBalancer": (*_LB, *_SG),
    "awsx:lb:NetworkLoadBalancer": _LB,
    "awsx:lb:TargetGroupAttachment": ("aws:lb/targetGroupAttachment:TargetGroupAttachment",
                                      "aws:lambda/permission:Permission"),
    "awsx:ecr:Repository": _REPO,
    "awsx:ecr:Image": (),
    "awsx:cloudtrail:Trail": ("aws:cloudtrail/trail:Trail", "aws:s3/bucket:Bucket", "aws:s3/bucketPolicy:BucketPolicy",
                              _LOGS, *_ROLE),
    "eks:index:Cluster": ("aws:eks/cluster:Cluster", *_ROLE, *_SG, "aws:ec2/launchTemplate:LaunchTemplate",
                          "aws:autoscaling/group:Group", "aws:eks/nodeGroup:NodeGroup", "aws:eks/addon:Addon",
                          "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
                          "aws:cloudformation/stack:Stack"),
    "eks:index:NodeGroup": (*_ROLE, *_SG, "aws:ec2/launchTemplate:LaunchTemplate", "aws:autoscaling/group:Group"),
    "eks:index:NodeGroupV2": (*_ROLE, *_SG, "aws:ec2/launchTemplate:LaunchTemplate", "aws:autoscaling/group:Group"),
    "eks:index:ManagedNodeGroup": ("aws:eks/nodeGroup:NodeGroup", *_ROLE, "aws:ec2/launchTemplate:LaunchTemplate"),
    "aws-apigateway:index:RestAPI": ("aws:apigateway/restApi:RestApi", "aws:apigateway/deployment:Deployment",
                                     "aws:apigateway/stage:Stage", "aws:lambda/permission:Permission",
                                     "aws:lambda/function:Function", *_ROLE, "aws:s3/bucket:Bucket", _OBJECT),
    "synced-folder:index:S3BucketFolder": (_OBJECT,),
}

_LAUNCHERS = (_SERVICE, "aws:ecs/taskSet:TaskSet", "aws:scheduler/schedule:Schedule",
              "aws:cloudwatch/eventTarget:EventTarget", "aws:pipes/pipe:Pipe")
#: Resource types each policy of the pack examines ("*": every taggable resource). A test keeps it
#: complete: a new policy of the pack needs a line here.
SUBJECTS: dict[str, tuple[str, ...]] = {
    "ecs-service-no-public-ip": _LAUNCHERS,
    "ecs-tasks-in-private-subnets": (*_LAUNCHERS, _VPC, *_SUBNETS),
    "vpc-endpoints-for-private-tasks": (*_LAUNCHERS, _VPC, *_SUBNETS, _ENDPOINT, _TASK),
    "vpc-flow-logs": (_VPC,),
    "default-security-group-closed": (_VPC,),
    "security-group-no-public-ingress": (*_SG, *_LB),
    "ecs-task-egress-restricted": (*_SG, *_LAUNCHERS),
    "security-group-descriptions": _SG,
    **dict.fromkeys(("ecs-container-logging", "ecs-no-privileged", "ecs-no-secrets-in-environment",
                     "ecs-readonly-root-filesystem", "ecs-non-root-user", "images-from-private-ecr",
                     "ecs-execution-role-differs-from-task-role"), (_TASK,)),
    "ecs-fargate-platform-latest": _LAUNCHERS,
    "ecs-cluster-container-insights": (_CLUSTER,),
    "ecs-service-circuit-breaker": (_SERVICE,),
    "ecs-log-group-managed": (_TASK, _LOGS),
    "ecs-exec-logging": (_CLUSTER, *_LAUNCHERS),
    **dict.fromkeys(("log-group-retention", "log-group-retention-minimum", "log-group-kms"), (_LOGS,)),
    "log-group-kms-key-policy": (_LOGS, "aws:kms/key:Key"),
    **dict.fromkeys(("ecr-image-scanning", "ecr-immutable-tags", "ecr-lifecycle-policy", "ecr-kms-encryption"), _REPO),
    **dict.fromkeys(("s3-block-public-access", "s3-bucket-public-access-block", "s3-acls-disabled", "s3-tls-only",
                     "s3-abort-incomplete-uploads", "s3-access-logging"), _BUCKET),
    **dict.fromkeys(("iam-no-wildcard-actions", "iam-pass-role-scoped"), (*_ROLE, "aws:iam/policy:Policy")),
    "resource-policy-not-public": (*_REPO, "aws:sns/topic:Topic", "aws:sqs/queue:Queue", "aws:kms/key:Key"),
    **dict.fromkeys(("sns-encrypted", "sns-tls-only"), ("aws:sns/topic:Topic",)),
    "kms-key-rotation": ("aws:kms/key:Key",),
    **dict.fromkeys(("alb-public-smuggling-protection", "alb-drop-invalid-headers", "alb-desync-mitigation",
                     "alb-tls-policy", "alb-https-only", "alb-internal-https", "alb-access-logs",
                     "alb-deletion-protection"), _LB),
    "sqs-encrypted": ("aws:sqs/queue:Queue",),
    "sqs-tls-only": ("aws:sqs/queue:Queue", "aws:sqs/queuePolicy:QueuePolicy"),
    "sfn-logging": ("aws:sfn/stateMachine:StateMachine",),
    "efs-encrypted": ("aws:efs/fileSystem:FileSystem",),
    "efs-transit-encryption": (_TASK,),
    "required-tags": ("*",),
}
#: The pack's own advisory for what it cannot see: it already names some opaque components.
PACK_CANNOT_VERIFY = "cannot-verify"


def blind_policies(component: str, enabled: list[str]) -> list[str]:
    """The enabled policies that would examine something `component` creates (all of them for an unknown one)."""
    creates = CREATES.get(component)
    enabled = [p for p in enabled if p != PACK_CANNOT_VERIFY]
    if creates is None:
        return enabled
    # A policy this table does not know yet may look at anything: name it rather than leave it out.
    return [p for p in enabled if p not in SUBJECTS or "*" in SUBJECTS[p] or set(SUBJECTS[p]) & set(creates)] \
        if creates else []


def advisories(opaque: list[dict[str, str]], enabled: list[str],
               violations: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One advisory per multi-language component whose inside some enabled policy would examine, unless the
    pack's own `cannot-verify` already reports that component (`violations`: the pack's findings)."""
    said = {v["urn"] for v in violations or [] if v["policy"] == PACK_CANNOT_VERIFY and v.get("urn")}
    out = []
    for component in opaque:
        blind = blind_policies(component["type"], enabled)
        if not blind or component["urn"] in said:
            continue
        name = component["urn"].rsplit("::", 1)[-1]
        out.append({"policy": POLICY_NAME, "level": "advisory", "urn": component["urn"], "message": (
            f"{component['type']} {name!r} is a multi-language component: its own provider creates its "
            "resources, which the offline preview does not run, so these policies cannot see inside it: "
            f"{', '.join(blind)}. `pulumi preview --policy-pack` runs the provider and checks them; to check "
            "them offline, build those resources from pulumi_aws.")})
    return out
