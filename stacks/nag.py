"""cdk-nag (AwsSolutions) as a synth-time validation, and one place to acknowledge a finding.

cdk-nag 3 is a validation plugin, not an Aspect: `Validations.of(app).add_plugins(...)`. Every
acknowledgement names one finding (rule id and, for IAM5, the exact resource or action) and says
why it is right here; the README summarises them.
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
