"""IAM for jobs and models that run in the configured VPC."""

from __future__ import annotations

from aws_cdk import aws_iam as iam

# What SageMaker needs to attach a job's or an endpoint's ENIs in the customer's subnets. These
# EC2 actions take no resource-level permissions (acknowledged as IAM5 where they are granted).
VPC_NETWORK_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
)


def vpc_network_statement(sid: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(sid=sid, actions=list(VPC_NETWORK_ACTIONS), resources=["*"])
