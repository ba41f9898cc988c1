"""Two- and three-account layouts (tests/infra/conftest.py ACCOUNT_LAYOUTS): which stack goes to
which account, and that each cross-account grant is exactly what the calls across it need: the
training account's bucket, key and table admit each serving role for what that role's own policy
asks of them, no more; the model package group and the event buses admit the accounts that call
or send. cfn-lint, cdk-nag and checkov cover these templates with the others'."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pipelines import naming
from pipelines.naming import ResourceNames
from stacks.pipeline.infrastructure import concrete
from tests.infra.conftest import REGISTRY, SERVING, TRAINING, Synth, resources

ROLES = ("endpoint", "approval", "evaluation", "operator")
LAYOUTS = ("fraud-two", "fraud-three", "fraud-rs", "fraud-ro")
# What the promotion's code asks of the training account's key: Decrypt and GenerateDataKey for the
# objects it reads and writes, DescribeKey to resolve the alias it is given (promotion.aws.deployed)
# and for endpoint configs; the endpoint writes capture and reads model data.
FUNCTION_KEY_ACTIONS = frozenset(
    {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"}
)
KEY_ACTIONS = {
    "endpoint": frozenset({"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}),
    "approval": FUNCTION_KEY_ACTIONS,
    "evaluation": FUNCTION_KEY_ACTIONS,
    "operator": FUNCTION_KEY_ACTIONS,
}


def text(value: Any) -> str:
    """A template value as text, the bucket's ARN spelled the same in every stack."""
    flat = json.dumps(value, sort_keys=True)
    flat = re.sub(r'\{"Fn::GetAtt": \["PipelineArtifacts[0-9A-F]+", "Arn"\]\}', "BUCKET", flat)
    return flat


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document["Statement"])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_policies(template: dict[str, Any], role_name: str) -> list[dict[str, Any]]:
    """Every statement of the policies attached to the role of that name."""
    (logical,) = [
        k for k, v in resources(template, "AWS::IAM::Role").items() if v["Properties"].get("RoleName") == role_name
    ]
    found = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": logical} in policy["Properties"]["Roles"]:
            found += statements(policy["Properties"]["PolicyDocument"])
    return found


def on_bucket(statement: dict[str, Any], bucket: str) -> bool:
    return bucket in json.dumps(statement["Resource"])


def grants(statement: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(action, resource, condition) triples, the bucket's ARN normalised, the principal condition left out."""
    conditions = {k: v for k, v in statement.get("Condition", {}).items() if k != "ArnEquals"}
    keys = []
    for resource in as_list(statement["Resource"]):
        found = re.search(r"(fraud-two/[^\"]*)", text(resource))
        keys.append(found.group(1) if found else "the bucket")
    return {(a, k, json.dumps(conditions, sort_keys=True)) for a in as_list(statement["Action"]) for k in keys}


@pytest.fixture(scope="module")
def two(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        role: synth.template(name)
        for role, name in (("training", "fraud-two-retraining"), ("serving", "fraud-two-retraining-serving"))
    }


def test_each_stack_deploys_to_its_roles_account(synth: Synth) -> None:
    accounts = {name: synth.stacks[name].account for name in synth.stacks if name.startswith(LAYOUTS)}
    assert accounts == {
        "fraud-two-retraining": TRAINING,
        "fraud-two-retraining-serving": SERVING,
        "fraud-three-retraining": TRAINING,
        "fraud-three-retraining-registry": REGISTRY,
        "fraud-three-retraining-serving": SERVING,
        "fraud-rs-retraining": TRAINING,
        "fraud-rs-retraining-registry": SERVING,
        "fraud-rs-retraining-serving": SERVING,
        "fraud-ro-retraining": TRAINING,
        "fraud-ro-retraining-registry": REGISTRY,
    }


def test_a_registry_of_its_own_names_the_functions_of_a_serving_account_that_is_trainings(synth: Synth) -> None:
    """Registry elsewhere, endpoint in training's account: the group's policy names the promotion
    function roles, so the training stack must create them by those names."""
    training = synth.template("fraud-ro-retraining")
    named = {r["Properties"].get("RoleName") for r in resources(training, "AWS::IAM::Role").values()}
    (group,) = resources(synth.template("fraud-ro-retraining-registry"), "AWS::SageMaker::ModelPackageGroup").values()
    promoters = {
        arn.rsplit("/", 1)[-1]
        for statement in group["Properties"]["ModelPackageGroupPolicy"]["Statement"]
        if statement["Sid"].startswith("Serving")
        for arn in statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    }
    assert promoters == {f"fraud-ro-{role}-us-east-1" for role in ("approval", "evaluation", "operator")}
    assert promoters <= named


@pytest.mark.parametrize("role", ROLES)
def test_the_training_bucket_admits_each_serving_role_for_what_it_asks_of_it(two: dict[str, Any], role: str) -> None:
    name = f"fraud-two-{role}-us-east-1"
    arn = f"arn:aws:iam::{SERVING}:role/{name}"
    asked = set().union(
        *(grants(s) for s in role_policies(two["serving"], name) if on_bucket(s, "fraud-two-111122223333"))
    )
    (policy,) = [
        p for p in resources(two["training"], "AWS::S3::BucketPolicy").values() if "PipelineArtifacts" in text(p)
    ]
    admitted = [
        s
        for s in statements(policy["Properties"]["PolicyDocument"])
        if s.get("Condition", {}).get("ArnEquals") == {"aws:PrincipalArn": arn}
    ]
    assert admitted and all(SERVING in text(s["Principal"]) for s in admitted)
    assert set().union(*(grants(s) for s in admitted)) == asked


@pytest.mark.parametrize("role", ROLES)
def test_the_training_key_and_table_admit_each_serving_role_for_what_it_asks(two: dict[str, Any], role: str) -> None:
    name = f"fraud-two-{role}-us-east-1"
    arn = f"arn:aws:iam::{SERVING}:role/{name}"
    own = role_policies(two["serving"], name)
    asked_key = {a for s in own if "kms:ResourceAliases" in text(s.get("Condition", {})) for a in as_list(s["Action"])}
    asked_table = {a for s in own if ":dynamodb:" in text(s["Resource"]) for a in as_list(s["Action"])}
    (key,) = resources(two["training"], "AWS::KMS::Key").values()
    admitted_key = {
        a
        for s in statements(key["Properties"]["KeyPolicy"])
        if s.get("Condition", {}).get("ArnEquals") == {"aws:PrincipalArn": arn}
        for a in as_list(s["Action"])
    }
    assert admitted_key == asked_key == KEY_ACTIONS[role]
    (table,) = resources(two["training"], "AWS::DynamoDB::GlobalTable").values()
    policy = table["Properties"]["Replicas"][0].get("ResourcePolicy", {"PolicyDocument": {"Statement": []}})
    admitted_table = {
        a
        for s in statements(policy["PolicyDocument"])
        if s.get("Condition", {}).get("ArnEquals") == {"aws:PrincipalArn": arn}
        for a in as_list(s["Action"])
    }
    assert admitted_table == asked_table  # the endpoint's role: neither asks nor is admitted


def test_the_registry_account_shares_the_group_with_training_and_serving(synth: Synth) -> None:
    registry = synth.template("fraud-three-retraining-registry")
    (group,) = resources(registry, "AWS::SageMaker::ModelPackageGroup").values()
    policy = {s["Sid"]: s for s in group["Properties"]["ModelPackageGroupPolicy"]["Statement"]}
    assert set(policy) == {"TrainingRegisters", "ServingLists", "ServingPromotes"}
    assert policy["TrainingRegisters"]["Condition"]["ArnEquals"]["aws:PrincipalArn"] == (
        f"arn:aws:iam::{TRAINING}:role/fraud-three-pipeline-us-east-1"
    )
    assert policy["ServingPromotes"]["Action"] == ["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"]
    packages = f"arn:aws:sagemaker:us-east-1:{REGISTRY}:model-package/fraud-three/*"
    assert packages in policy["ServingLists"]["Resource"]  # ListModelPackages' resource type is model-package
    # The pipeline registers into that account's group, by ARN, and its role may.
    training = synth.template("fraud-three-retraining")
    assert not resources(training, "AWS::SageMaker::ModelPackageGroup")
    (pipeline,) = resources(training, "AWS::SageMaker::Pipeline").values()
    group_arn = f"arn:aws:sagemaker:us-east-1:{REGISTRY}:model-package-group/fraud-three"
    assert group_arn in text(pipeline["Properties"])
    role_statements = role_policies(training, "fraud-three-pipeline-us-east-1")
    (register,) = [s for s in role_statements if s.get("Sid") == "Registry"]
    assert all(f":{REGISTRY}:" in r for r in register["Resource"])


def test_events_cross_to_the_accounts_that_act_on_them(synth: Synth) -> None:
    def targets(template: dict[str, Any]) -> dict[str, str]:
        return {
            k: text(v["Properties"]["Targets"][0]["Arn"])
            for k, v in resources(template, "AWS::Events::Rule").items()
            if k.startswith("Forward")
        }

    def admitted(template: dict[str, Any]) -> set[str]:
        return {
            text(v["Properties"]["Statement"]["Principal"])
            for v in resources(template, "AWS::Events::EventBusPolicy").values()
        }

    registry, serving = (
        synth.template("fraud-three-retraining-registry"),
        synth.template("fraud-three-retraining-serving"),
    )
    training = synth.template("fraud-three-retraining")
    forwarded = targets(registry)
    assert {k.rstrip("0123456789ABCDEF") for k in forwarded} == {"ForwardApprovals", "ForwardAwaitingApproval"}
    assert any(SERVING in v for k, v in forwarded.items() if k.startswith("ForwardApprovals"))
    assert any(TRAINING in v for k, v in forwarded.items() if k.startswith("ForwardAwaitingApproval"))
    assert all(TRAINING in v for v in targets(serving).values())  # the failure alarm, to the alert topic
    assert {REGISTRY in p for p in admitted(serving)} == {True}
    assert sorted(SERVING in p for p in admitted(training)) == [False, True]  # registry's and serving's


def test_the_serving_stack_runs_its_own_copy_of_the_job_image(synth: Synth) -> None:
    serving = synth.stacks["fraud-two-retraining-serving"]
    training = synth.stacks["fraud-two-retraining"]
    image = training.loop.pipeline.deployed_config.pipeline.image_uri
    template = synth.template("fraud-two-retraining-serving")
    copy = concrete(serving, serving.image.image_uri, ResourceNames.of(training.loop.pipeline.deployed_config), SERVING)
    assert copy == naming.image_copy(image, TRAINING, SERVING) and copy.split(":")[-1] == image.split(":")[-1]
    assert copy.startswith(f"{SERVING}.dkr.ecr.us-east-1.amazonaws.com/cdk-hnb659fds-container-assets-{SERVING}-")
    (pull,) = [s for s in role_policies(template, "fraud-two-endpoint-us-east-1") if s.get("Sid") == "Image"]
    assert f"container-assets-{SERVING}-us-east-1" in text(pull["Resource"]) and TRAINING not in text(pull["Resource"])
    environment = [
        f["Properties"]["Environment"]["Variables"]
        for f in resources(template, "AWS::Lambda::Function").values()
        if "KMS_KEY_ARN" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert environment and {e["KMS_KEY_ARN"] for e in environment} == {
        f"arn:aws:kms:us-east-1:{TRAINING}:alias/fraud-two-retraining"
    }
