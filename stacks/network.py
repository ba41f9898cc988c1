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


def acknowledge_vpc_scans(policy: iam.Policy) -> None:
    """checkov reads the network-interface actions on "*" as unconstrained writes and permission
    management; they are what SageMaker needs to attach a job's or an endpoint's interfaces in the
    customer's subnets ("Give SageMaker AI access to resources in your Amazon VPC", SageMaker
    developer guide), and the EC2 actions among them that take resources do so per interface ids
    that exist only once SageMaker creates them."""
    from stacks.nag import acknowledge_scan

    resource = policy.node.default_child
    reason = (
        "SageMaker attaches the job's or endpoint's network interfaces in the configured VPC with these EC2 "
        "actions; their resources are interfaces SageMaker creates at run time."
    )
    for check in ("CKV_AWS_111", "CKV_AWS_109"):
        acknowledge_scan(resource, check, reason)  # type: ignore[arg-type]
