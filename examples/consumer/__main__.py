"""A team's own worker in the platform's private VPC and cluster, wired from the platform stack's outputs.

Everything network- and cluster-related comes from `StackReference`: the VPC and its private
subnets, the VPC CIDR (HTTPS to the platform's endpoints), the cluster and the repository. The
worker is a task definition and a security group that reaches only the endpoints and S3 (image
layers); run it in the platform's private subnets with RunTask or a schedule of your own.
"""

import json

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
platform = pulumi.StackReference(config.require("platformStack"))
stack = pulumi.get_stack()


def require_version(version: int) -> int:
    if version != 1:
        raise pulumi.RunError(f"this consumer reads outputsVersion 1; the platform stack has {version}")
    return version


outputs_version = platform.require_output("outputsVersion").apply(require_version)
region = platform.require_output("region")
vpc_cidr = platform.require_output("vpcCidr")
repository_url = platform.require_output("repositoryUrl")
repository_name = platform.require_output("repositoryName")
tags = {"project": "private-fargate-consumer", "stack": stack}

group = aws.ec2.SecurityGroup("worker", vpc_id=platform.require_output("vpcId"), description="consumer worker",
                              tags={**tags, "Name": f"consumer-{stack}-worker"})
aws.vpc.SecurityGroupEgressRule("worker-endpoints", security_group_id=group.id, ip_protocol="tcp", from_port=443,
                                to_port=443, cidr_ipv4=vpc_cidr, description="the platform's VPC endpoints")

s3 = aws.ec2.get_prefix_list_output(name=region.apply(lambda r: f"com.amazonaws.{r}.s3"))
aws.vpc.SecurityGroupEgressRule("worker-s3", security_group_id=group.id, ip_protocol="tcp", from_port=443,
                                to_port=443, prefix_list_id=s3.id, description="S3 (image layers)")

log_group_name = f"/ecs/private-fargate-consumer/{stack}/worker"
aws.cloudwatch.LogGroup("worker", name=log_group_name, retention_in_days=30, tags=tags)

trust = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
execution = aws.iam.Role("worker-execution", assume_role_policy=trust, tags=tags)
task = aws.iam.Role("worker-task", assume_role_policy=trust, tags=tags)
identity = aws.get_caller_identity()
partition = aws.get_partition().partition
aws.iam.RolePolicy("worker-execution", role=execution.id, policy=pulumi.Output.all(region, repository_name).apply(
    lambda args: json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                                       "ecr:GetDownloadUrlForLayer"],
         "Resource": f"arn:{partition}:ecr:{args[0]}:{identity.account_id}:repository/{args[1]}"},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"arn:{partition}:logs:{args[0]}:{identity.account_id}:log-group:{log_group_name}:log-stream:*"},
    ]})))

containers = pulumi.Output.all(repository_url, region).apply(lambda args: json.dumps([{
    "name": "worker", "image": f"{args[0]}:{config.require('imageTag')}", "essential": True,
    "readonlyRootFilesystem": True, "command": ["job"],
    "logConfiguration": {"logDriver": "awslogs", "options": {
        "awslogs-group": log_group_name, "awslogs-region": args[1], "awslogs-stream-prefix": "worker"}},
}]))
worker = aws.ecs.TaskDefinition("worker", family=f"consumer-{stack}-worker", cpu="256", memory="512",
                                network_mode="awsvpc", requires_compatibilities=["FARGATE"],
                                execution_role_arn=execution.arn, task_role_arn=task.arn,
                                container_definitions=containers, tags=tags)

pulumi.export("platformOutputsVersion", outputs_version)
pulumi.export("taskDefinitionArn", worker.arn)
pulumi.export("securityGroupId", group.id)
pulumi.export("subnetIds", platform.require_output("privateSubnetIds"))
pulumi.export("clusterArn", platform.require_output("clusterArn"))
