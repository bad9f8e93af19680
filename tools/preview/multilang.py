"""Multi-language components (awsx, eks, aws-apigateway, synced-folder): what the offline preview cannot see.

Such a component is built by its own provider plugin, which `pulumi preview` runs and the offline
preview does not: under mocks it is one opaque resource with no children. The policy pack therefore
cannot check what it creates. For each one the report gets an advisory, policy `opaque-component`,
naming the component and the pack's policies that would have looked inside it, from what the
component creates (read from each package's source) and what each policy examines. A component not
listed here may create anything: every policy is named.
"""

from __future__ import annotations

from typing import Any

POLICY_NAME = "opaque-component"

_SERVICE = "aws:ecs/service:Service"
_TASK = "aws:ecs/taskDefinition:TaskDefinition"
_LOGS = "aws:cloudwatch/logGroup:LogGroup"
_ROLE = ("aws:iam/role:Role", "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
_SG = "aws:ec2/securityGroup:SecurityGroup"
_LB = ("aws:lb/loadBalancer:LoadBalancer", "aws:lb/listener:Listener", "aws:lb/targetGroup:TargetGroup")
_NETWORK = ("aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable", "aws:ec2/route:Route",
            "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:ec2/internetGateway:InternetGateway",
            "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip", "aws:ec2/vpcEndpoint:VpcEndpoint")
_BUCKET = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:s3/bucketPolicy:BucketPolicy",
           "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")

#: Resource types each component's provider creates (pulumi-awsx awsx/, pulumi-eks nodejs/eks/,
#: pulumi-aws-apigateway, pulumi-synced-folder sources).
CREATES: dict[str, tuple[str, ...]] = {
    "awsx:ecs:FargateService": (_SERVICE, _TASK, _LOGS, *_ROLE, _SG),
    "awsx:ecs:FargateTaskDefinition": (_TASK, _LOGS, *_ROLE),
    "awsx:ecs:EC2Service": (_SERVICE, _TASK, _LOGS, *_ROLE, _SG),
    "awsx:ecs:EC2TaskDefinition": (_TASK, _LOGS, *_ROLE),
    "awsx:ec2:Vpc": _NETWORK,
    "awsx:ec2:DefaultVpc": (),
    "awsx:lb:ApplicationLoadBalancer": (*_LB, _SG),
    "awsx:lb:NetworkLoadBalancer": _LB,
    "awsx:lb:TargetGroupAttachment": ("aws:lb/targetGroupAttachment:TargetGroupAttachment",),
    "awsx:ecr:Repository": ("aws:ecr/repository:Repository", "aws:ecr/lifecyclePolicy:LifecyclePolicy"),
    "awsx:ecr:Image": (),
    "awsx:cloudtrail:Trail": ("aws:cloudtrail/trail:Trail", *_BUCKET, _LOGS, *_ROLE),
    "eks:index:Cluster": (*_NETWORK, "aws:eks/cluster:Cluster", *_ROLE, _SG,
                          "aws:ec2/securityGroupRule:SecurityGroupRule", "aws:ec2/launchTemplate:LaunchTemplate",
                          "aws:eks/nodeGroup:NodeGroup", "aws:iam/openIdConnectProvider:OpenIdConnectProvider"),
    "eks:index:ManagedNodeGroup": ("aws:eks/nodeGroup:NodeGroup", *_ROLE),
    "aws-apigateway:index:RestAPI": ("aws:apigateway/restApi:RestApi", "aws:apigateway/deployment:Deployment",
                                     "aws:apigateway/stage:Stage", "aws:lambda/permission:Permission", *_ROLE),
    "synced-folder:index:S3BucketFolder": ("aws:s3/bucketObject:BucketObject",),
}

_LAUNCHERS = (_SERVICE, "aws:scheduler/schedule:Schedule", "aws:cloudwatch/eventTarget:EventTarget")
_INGRESS = (_SG, "aws:ec2/securityGroupRule:SecurityGroupRule",
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
#: Resource types each policy of the pack examines ("*": every taggable resource).
SUBJECTS: dict[str, tuple[str, ...]] = {
    "ecs-service-no-public-ip": _LAUNCHERS,
    "ecs-tasks-in-private-subnets": (*_LAUNCHERS, *_NETWORK),
    "vpc-endpoints-for-private-tasks": (*_LAUNCHERS, *_NETWORK),
    "ecs-container-logging": (_TASK,), "ecs-log-group-managed": (_TASK, _LOGS), "log-group-retention": (_LOGS,),
    "ecs-no-privileged": (_TASK,), "ecs-no-secrets-in-environment": (_TASK,),
    "ecr-image-scanning": ("aws:ecr/repository:Repository",), "ecr-immutable-tags": ("aws:ecr/repository:Repository",),
    "ecr-lifecycle-policy": ("aws:ecr/repository:Repository",), "s3-block-public-access": _BUCKET,
    "s3-tls-only": _BUCKET, "security-group-no-public-ingress": (*_INGRESS, *_LB),
    "iam-no-wildcard-actions": (*_ROLE, "aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"),
    "ecs-readonly-root-filesystem": (_TASK,), "ecs-non-root-user": (_TASK,),
    "ecs-execution-role-differs-from-task-role": (_TASK,), "ecs-fargate-platform-latest": (_SERVICE,),
    "ecs-cluster-container-insights": ("aws:ecs/cluster:Cluster",), "ecs-service-circuit-breaker": (_SERVICE,),
    "vpc-flow-logs": ("aws:ec2/vpc:Vpc",), "default-security-group-closed": ("aws:ec2/vpc:Vpc",),
    "ecr-kms-encryption": ("aws:ecr/repository:Repository",), "log-group-kms": (_LOGS,),
    "alb-drop-invalid-headers": _LB, "alb-https-only": _LB, "alb-access-logs": _LB,
    "images-from-private-ecr": (_TASK,), "required-tags": ("*",),
}


def blind_policies(component: str, enabled: list[str]) -> list[str]:
    """The enabled policies that would examine something `component` creates (all of them for an unknown one)."""
    creates = CREATES.get(component)
    if creates is None:
        return list(enabled)
    if not creates:
        return []
    # A policy this table does not know yet may look at anything: name it rather than leave it out.
    return [p for p in enabled if p not in SUBJECTS or "*" in SUBJECTS[p] or set(SUBJECTS[p]) & set(creates)]


def advisories(opaque: list[dict[str, str]], enabled: list[str]) -> list[dict[str, Any]]:
    """One advisory per multi-language component whose inside some enabled policy would examine."""
    out = []
    for component in opaque:
        blind = blind_policies(component["type"], enabled)
        if not blind:
            continue
        name = component["urn"].rsplit("::", 1)[-1]
        out.append({"policy": POLICY_NAME, "level": "advisory", "urn": component["urn"], "message": (
            f"{component['type']} {name!r} is a multi-language component: its own provider creates its "
            "resources, which the offline preview does not run, so these policies cannot see inside it: "
            f"{', '.join(blind)}. `pulumi preview --policy-pack` runs the provider and checks them; to check "
            "them offline, build those resources from pulumi_aws.")})
    return out
