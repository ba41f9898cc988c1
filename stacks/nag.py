"""cdk-nag (AwsSolutions) as a synth-time validation, and one place to acknowledge a finding.

cdk-nag 3 is a validation plugin, not an Aspect: `Validations.of(app).add_plugins(...)`. Every
acknowledgement names one finding (rule id and, for IAM5, the exact resource or action) and says
why it is right here; docs/deploying.md ("cdk-nag acknowledgements") summarises them.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

PLUGIN = "AwsSolutions"


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """`finding` as cdk-nag prints it, e.g. `AwsSolutions-IAM5[Resource::*]`; the plugin prefix that
    tells CDK which validation plugin the rule belongs to is added here."""
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=f"{PLUGIN}::{finding}", reason=reason))


def check(app: cdk.App) -> None:
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def logical_id(construct: IConstruct) -> str:
    """The logical id cdk-nag shows for a construct's resource in a finding (`<Id.Arn>`)."""
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return cdk.Stack.of(construct).get_logical_id(child)


# ---- a second scanner: checkov (`make scan`, run by `make test`) reads acknowledgements from each
# resource's Metadata ("checkov": {"skip": [{"id", "comment"}]}); each one is given here, with why.

SCANNER = "checkov"
CDK_MANAGED_FUNCTIONS = ("Custom::CDKBucketDeployment", "AWS679f53fac002430cb0da5b7982bd2287")
FUNCTION_FINDINGS = {
    "CKV_AWS_115": (
        "No reserved concurrency: a reservation must leave the account's unreserved minimum free, and an account "
        "at a new account's quota has none to give, so cdk deploy would fail there. Runs are serialised where it "
        "matters by the retrain trigger's conditional writes and the promotion lease."
    ),
    "CKV_AWS_117": (
        "The function calls AWS APIs only (and PagerDuty's, for the PagerDuty function); in a VPC it would need a NAT "
        "gateway or an interface endpoint per service, for no data that leaves AWS's network."
    ),
}
ASYNC_FAILURES = (
    "Asynchronous failures go to an on-failure destination (SQS, with an alarm to the alert topic), which keeps "
    "the error with the event; a dead-letter queue would keep the event alone."
)
CDK_MANAGED = {
    "CKV_AWS_116": "CDK's custom-resource function, invoked synchronously by CloudFormation: no event to keep.",
    "CKV_AWS_173": "CDK's custom-resource function; its environment holds no secret.",
}


def acknowledge_scan(resource: cdk.CfnResource, check: str, reason: str) -> None:
    found = resource.get_metadata(SCANNER)
    skips = list(found["skip"]) if isinstance(found, dict) else []
    if any(skip["id"] == check for skip in skips):
        return  # a second loop in the stack acknowledging CDK's shared function again
    skips.append({"id": check, "comment": reason})
    resource.add_metadata(SCANNER, {"skip": skips})


def acknowledge_function_scans(scope: IConstruct) -> None:
    """The function findings acknowledged for every function under `scope`, and for the functions
    CDK made for it at its stack's top level (BucketDeployment, AwsCustomResource); a function of
    someone else's in the same stack keeps its findings."""
    from aws_cdk import aws_lambda as lambda_

    providers = [c for c in cdk.Stack.of(scope).node.children if c.node.id.startswith(CDK_MANAGED_FUNCTIONS)]
    managed = [f for p in providers for f in p.node.find_all() if isinstance(f, lambda_.CfnFunction)]
    ours = [f for f in scope.node.find_all() if isinstance(f, lambda_.CfnFunction)]
    for construct in [*ours, *managed]:
        reasons = {**FUNCTION_FINDINGS, **(CDK_MANAGED if construct in managed else {"CKV_AWS_116": ASYNC_FAILURES})}
        for check, reason in reasons.items():
            acknowledge_scan(construct, check, reason)
