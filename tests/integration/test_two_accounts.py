"""Two accounts on this machine: versions trained and registered in a development account
(111122223333, training and registry) are promoted to, and rolled back on, an endpoint of a
production account (222233334444), through the account boundary as AWS draws it.

The boundary: the production account's SageMaker client reaches the other account's model
package group only by ARN, and only as far as the group's resource policy allows, the very policy
the CDK app deploys (stacks.accounts.group_policy), evaluated for the calling role; the endpoint
can pull images of its own account's repositories (and AWS's framework images) only, as a CDK
asset repository grants no other account. Every call is validated against botocore's model."""

from __future__ import annotations

import fnmatch
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from pipelines import naming
from pipelines.config import AccountsSection, ModelConfig
from pipelines.monitoring.alarms import REARMED_STATE
from pipelines.naming import ResourceNames
from pipelines.promotion.audit import SqliteAudit
from pipelines.promotion.aws import CloudWatchAlarms, SageMakerRegistry, ServingAccount
from pipelines.promotion.controller import Promotion
from pipelines.promotion.endpoint import MODEL_PACKAGE_ENV, SageMakerEndpoint
from pipelines.registry.local import LocalRegistry
from stacks.accounts import APPROVAL, EVALUATION, OPERATOR, group_policy
from tests.fake_sagemaker import MODEL, FakeSageMaker
from tests.unit.test_promotion import SETTLED, RecordingChampion, StepClock, promote_evidence, stages

DEV, PROD = "111122223333", "222233334444"
TRAINING_IMAGE = f"{DEV}.dkr.ecr.us-east-1.amazonaws.com/cdk-hnb659fds-container-assets-{DEV}-us-east-1:5eed"
OLDER_TRAINING_IMAGE = TRAINING_IMAGE.replace(":5eed", ":01de")
REGISTRY_CALLS = {
    "list_model_packages": ("ListModelPackages", "ModelPackageGroupName"),
    "describe_model_package": ("DescribeModelPackage", "ModelPackageName"),
    "update_model_package": ("UpdateModelPackage", "ModelPackageArn"),
}


def allowed(policy: dict[str, Any], caller: str, action: str, resource: str) -> bool:
    """IAM's reading of a resource policy for one request: a statement whose principal is the
    caller's account, whose condition names the caller's role, and whose action and resource
    patterns match (wildcards as IAM matches them)."""
    account = caller.split(":")[4]
    for statement in policy["Statement"]:
        if statement["Principal"]["AWS"] != f"arn:aws:iam::{account}:root":
            continue
        roles = statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]
        if caller not in ([roles] if isinstance(roles, str) else roles):
            continue
        if action in statement["Action"] and any(fnmatch.fnmatchcase(resource, r) for r in statement["Resource"]):
            return True
    return False


def denied(action: str, caller: str, resource: str) -> ClientError:
    message = f"User: {caller} is not authorized to perform: sagemaker:{action} on resource: {resource}"
    return ClientError({"Error": {"Code": "AccessDeniedException", "Message": message}}, action)


class ProductionSageMaker(FakeSageMaker):
    """The production account's SageMaker: its own models and endpoint (FakeSageMaker), the
    development account's registry through the group policy, and images of its own account."""

    def __init__(self, registry: LocalRegistry, policy: dict[str, Any], caller: str) -> None:
        super().__init__(account=PROD)
        self.registry, self.policy, self.caller = registry, policy, caller
        self.granted_calls: set[tuple[str, str]] = set()

    def __getattr__(self, name: str) -> Any:
        if name not in REGISTRY_CALLS:
            return super().__getattr__(name)
        operation, target = REGISTRY_CALLS[name]

        def call(**params: Any) -> Any:
            report = ParamValidator().validate(params, MODEL.operation_model(operation).input_shape)
            assert not report.has_errors(), report.generate_report()
            resource = params[target]
            if not resource.startswith("arn:"):  # a name is looked up in the caller's own account
                raise ClientError({"Error": {"Code": "ValidationException", "Message": "not found"}}, operation)
            if resource.split(":")[4] != PROD:
                # ListModelPackages is authorized on the group's model packages: its resource type
                # is model-package (Service Authorization Reference, "Actions defined by Amazon SageMaker").
                authorized = resource.replace(":model-package-group/", ":model-package/") + (
                    "/*" if name == "list_model_packages" else ""
                )
                if not allowed(self.policy, self.caller, f"sagemaker:{operation}", authorized):
                    raise denied(operation, self.caller, resource)
                self.granted_calls.add((operation, resource.split("/")[0]))
            if name == "list_model_packages":
                params = {**params, "ModelPackageGroupName": resource.rsplit("/", 1)[-1]}
                summaries = [
                    {"ModelPackageArn": p["ModelPackageArn"]}
                    for p in self.registry.list_model_packages(params["ModelPackageGroupName"])
                ]
                return {"ModelPackageSummaryList": summaries}
            if name == "describe_model_package":
                return self.registry.describe_model_package(resource)
            self.registry.update_model_package(
                resource,
                approval_status=params.get("ModelApprovalStatus"),
                approval_description=params.get("ApprovalDescription"),
                metadata=params.get("CustomerMetadataProperties"),
                life_cycle=params.get("ModelLifeCycle"),
            )
            return {"ModelPackageArn": resource}

        return call

    def get_paginator(self, name: str) -> Any:
        client = self

        class Pages:
            def paginate(self, **params: Any) -> list[dict[str, Any]]:
                return [getattr(client, name)(**params)]

        return Pages()

    def _create_model(self, p: dict[str, Any]) -> dict[str, Any]:
        for container in p["Containers"]:
            image = container.get("Image", "")
            if image and not image.startswith(f"{PROD}.dkr.ecr."):
                raise ClientError(
                    {"Error": {"Code": "ValidationException", "Message": f"cannot pull {image}: access denied"}},
                    "CreateModel",
                )
            if "ModelPackageName" in container:
                raise AssertionError("a job-image model is deployed from the serving account's copy, not the package")
        return super()._create_model(p)


class RecordingCloudWatch:
    def __init__(self) -> None:
        self.states: list[tuple[str, str]] = []

    def set_alarm_state(self, **params: Any) -> None:
        self.states.append((params["AlarmName"], params["StateValue"]))


@pytest.fixture
def two_accounts(config: ModelConfig, tmp_path: Path) -> Any:
    pipeline = config.pipeline.model_copy(update={"image_uri": TRAINING_IMAGE})
    config = config.model_copy(update={"pipeline": pipeline, "accounts": AccountsSection(serving=PROD)})
    names = ResourceNames.of(config)
    registry = LocalRegistry(tmp_path / "dev-registry.db", account=DEV)  # the development account's
    registry.create_model_package_group(config.registry.model_package_group)
    for number, image in ((1, OLDER_TRAINING_IMAGE), (2, TRAINING_IMAGE)):  # v1 trained before a redeploy
        registry.create_model_package(
            {
                "ModelPackageGroupName": config.registry.model_package_group,
                "ModelApprovalStatus": "PendingManualApproval",
                "CustomerMetadataProperties": {"CodeVersion": f"c{number}"},
                "InferenceSpecification": {
                    "Containers": [
                        {
                            "Image": image,
                            "ModelDataUrl": f"s3://{names.bucket}/fraud-detector/executions/e{number}/model.tar.gz",
                            "Environment": {"SAGEMAKER_PROGRAM": "serve"},
                        }
                    ]
                },
            }
        )
    caller = names.serving_role_arn(EVALUATION)
    sagemaker = ProductionSageMaker(registry, group_policy(names, config), caller)
    assumed: list[str] = []
    cloudwatch = RecordingCloudWatch()
    serving = ServingAccount.of(config)

    def connect() -> RecordingCloudWatch:
        assumed.append(serving.rearm_role_arn)
        return cloudwatch

    promotion = Promotion(
        config=config,
        registry=SageMakerRegistry(sagemaker),
        endpoint=SageMakerEndpoint(config, sagemaker, naming.endpoint_role_arn(config), serving.image_copy),
        audit=SqliteAudit(tmp_path / "prod-audit.db"),
        champion=RecordingChampion(),
        clock=StepClock(),
        alarms=CloudWatchAlarms(connect),
    )
    return promotion, sagemaker, registry, assumed, cloudwatch, names


def test_a_version_trained_in_dev_is_promoted_in_prod_and_rolled_back(two_accounts: Any) -> None:
    promotion, sagemaker, registry, assumed, cloudwatch, names = two_accounts
    endpoint = promotion.endpoint.name
    package = f"arn:aws:sagemaker:us-east-1:{DEV}:model-package/fraud-detector/{{}}"

    promotion.approve(1, actor="alice")
    promotion.approve(2, actor="bob")
    assert sagemaker.serving(endpoint) == (package.format(1), package.format(2))
    promotion.evaluate_shadow(promote_evidence)
    assert stages(promotion) == {"v2": "production", "v1": "retired"}
    assert sagemaker.serving(endpoint) == (package.format(2), None)

    restored = promotion.rollback(actor="oncall", reason="conversion dropped")
    assert restored.label == "v1" and sagemaker.serving(endpoint) == (package.format(1), None)
    assert stages(promotion) == {"v2": "retired", "v1": "production"}

    # Production runs the job image's copy in its own account, with the package's data and environment.
    (container,) = sagemaker.models[naming.model_name("fraud-detector", 1)]["Containers"]
    assert container["Image"] == OLDER_TRAINING_IMAGE.replace(DEV, PROD)  # the copy of the image v1 names
    (newer,) = sagemaker.models[naming.model_name("fraud-detector", 2)]["Containers"]
    assert newer["Image"] == TRAINING_IMAGE.replace(DEV, PROD)
    assert container["ModelDataUrl"].endswith("/e1/model.tar.gz")
    assert container["Environment"] == {"SAGEMAKER_PROGRAM": "serve", MODEL_PACKAGE_ENV: package.format(1)}
    # The registry in dev holds the lifecycle the production account gave it.
    life = registry.describe_model_package(package.format(1))["ModelLifeCycle"]
    assert (life["Stage"], life["StageStatus"]) == ("Production", "Serving")
    life = registry.describe_model_package(package.format(2))["ModelLifeCycle"]
    assert (life["Stage"], life["StageStatus"]) == ("PreviousChampion", "Restorable")

    # Every action the group grants the serving functions was needed, and nothing else was asked.
    granted = {
        action.removeprefix("sagemaker:")
        for statement in group_policy(names, promotion.config)["Statement"]
        for action in statement["Action"]
    }
    assert {operation for operation, _ in sagemaker.granted_calls} == granted

    # Re-arming the development account's retraining alarms goes through its re-arm role.
    promotion.clock.skip(SETTLED + timedelta(minutes=5))
    assert promotion.rearm_if_due()
    assert assumed == [f"arn:aws:iam::{DEV}:role/fraud-detector-rearm-us-east-1"]
    assert {state for _, state in cloudwatch.states} == {REARMED_STATE} and len(cloudwatch.states) == 2


def test_a_role_the_group_does_not_name_is_refused(two_accounts: Any) -> None:
    promotion, sagemaker, *_ = two_accounts
    sagemaker.caller = f"arn:aws:iam::{PROD}:role/someone-else"
    with pytest.raises(ClientError, match="not authorized to perform: sagemaker:ListModelPackages"):
        promotion.approve(1)


def test_the_group_names_only_the_serving_functions_roles(two_accounts: Any) -> None:
    promotion, *_, names = two_accounts
    statements = group_policy(names, promotion.config)["Statement"]
    assert [s["Sid"] for s in statements] == ["ServingLists", "ServingPromotes"]  # training is the registry here
    for statement in statements:
        assert statement["Principal"] == {"AWS": f"arn:aws:iam::{PROD}:root"}
        assert statement["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
            names.serving_role_arn(APPROVAL),
            names.serving_role_arn(EVALUATION),
            names.serving_role_arn(OPERATOR),
        ]
