"""The controller's adapters on AWS, each around an injected boto3 client: the SageMaker Model
Registry, the endpoint, the S3 champion pointer, the DynamoDB audit trail and the retraining
alarms (re-armed on every change of production)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines import naming
from pipelines.clients import assumed
from pipelines.config import ModelConfig
from pipelines.monitoring.alarms import REARMED_STATE
from pipelines.naming import endpoint_role_arn
from pipelines.promotion.audit import DynamoDbAudit
from pipelines.promotion.champion import S3Champion
from pipelines.promotion.controller import EvidenceSource, Promotion
from pipelines.promotion.endpoint import SageMakerEndpoint
from pipelines.promotion.lease import DynamoDbLease


class SageMakerRegistry:
    """The Model Registry as the controller reads and changes it. UpdateModelPackage merges the
    customer metadata keys it is given, so stage changes never drop the lineage keys."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def describe_model_package(self, arn: str) -> dict[str, Any]:
        described = dict(self.client.describe_model_package(ModelPackageName=arn))
        described.pop("ResponseMetadata", None)
        return described

    def list_model_packages(self, group: str, approval_status: str | None = None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "ModelPackageType": "Versioned",
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
        }
        if approval_status:
            kwargs["ModelApprovalStatus"] = approval_status
        summaries: list[dict[str, Any]] = []
        for page in self.client.get_paginator("list_model_packages").paginate(**kwargs):
            summaries += page["ModelPackageSummaryList"]
        return [self.describe_model_package(s["ModelPackageArn"]) for s in summaries]

    def update_model_package(
        self,
        arn: str,
        *,
        approval_status: str | None = None,
        approval_description: str | None = None,
        metadata: dict[str, str] | None = None,
        actor: str = "user",
        life_cycle: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"ModelPackageArn": arn}
        if approval_status:
            request["ModelApprovalStatus"] = approval_status
            if approval_description:
                request["ApprovalDescription"] = f"{approval_description} ({actor})"[:1024]
        if metadata:
            request["CustomerMetadataProperties"] = metadata
        if life_cycle:
            request["ModelLifeCycle"] = life_cycle
        self.client.update_model_package(**request)
        return self.describe_model_package(arn)


class CloudWatchAlarms:
    """Re-arms alarms with SetAlarmState: INSUFFICIENT_DATA now (`REARMED_STATE`), and the alarm's
    next evaluation decides again (back to ALARM, with a new state-change event, when the metrics
    still breach). `connect` gives
    the client at each re-arm (the training account's alarms, through a role assumed then)."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self.connect = connect

    def rearm(self, alarm_names: Sequence[str], reason: str) -> None:
        client = self.connect()
        for name in alarm_names:
            client.set_alarm_state(AlarmName=name, StateValue=REARMED_STATE, StateReason=reason[:1023])


@dataclass(frozen=True)
class ServingAccount:
    """What the promotion does differently when it serves from another account than training's:
    re-arm the training account's retraining alarms as that account's role, and deploy a version
    of the job image from this account's copy of that image (`image_copy`). Nothing in one account."""

    training: str = ""
    serving: str = ""
    rearm_role_arn: str = ""

    @classmethod
    def of(cls, config: ModelConfig) -> ServingAccount:
        training, serving = config.pipeline.account, config.serving_account
        if serving == training:
            return cls()
        return cls(training, serving, naming.ResourceNames.of(config).rearm_role_arn)

    def image_copy(self, image: str) -> str | None:
        """The copy of any job image the training account built (each version names the one it
        was trained with; the serving stack pushes every one it deploys with)."""
        return naming.image_copy(image, self.training, self.serving) if self.serving else None


def aws_promotion(config: ModelConfig, client: Callable[[str], Any]) -> Promotion:
    """The controller against the deployed stack (names as the CDK app derives them); `client(service)`
    gives the AWS clients (pipelines.clients). In a serving account of its own, the audit table is
    the training account's (by ARN: DynamoDB's resource policy grants this account) and its alarms
    are re-armed through `serving.rearm_role_arn`."""
    from pipelines.naming import champion_prefix

    sagemaker, dynamodb = client("sagemaker"), client("dynamodb")
    serving = ServingAccount.of(config)
    table = naming.audit_table(config.model.name)
    if config.serving_account != config.pipeline.account:
        table = naming.ResourceNames.of(config).audit_table_arn

    def alarms_client() -> Any:
        if not serving.rearm_role_arn:
            return client("cloudwatch")
        return assumed("cloudwatch", serving.rearm_role_arn, f"{config.model.name}-rearm")

    return Promotion(
        config=config,
        registry=SageMakerRegistry(sagemaker),
        endpoint=SageMakerEndpoint(config, sagemaker, endpoint_role_arn(config), serving.image_copy),
        audit=DynamoDbAudit(dynamodb, table),
        champion=S3Champion(client("s3"), champion_prefix(config), config.pipeline.kms_key_id),
        alarms=CloudWatchAlarms(alarms_client),
        lease=DynamoDbLease(dynamodb, table),
    )


def with_deployed_key(config: ModelConfig, kms: Any) -> ModelConfig:
    """The config as the stack's functions see it: with the stack's KMS key (found by its alias),
    which every endpoint config and captured object is encrypted with. Without it a person's CLI
    would build endpoint configs of other names and without the key."""
    alias = naming.key_alias(config.model.name)
    if config.serving_account != config.pipeline.account:  # the training account's key, from the serving one
        alias = naming.ResourceNames.of(config).key_alias_arn
    key = kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
    return config.model_copy(update={"pipeline": config.pipeline.model_copy(update={"kms_key_id": key})})


def deployed(config_json: Mapping[str, Any], kms_key_arn: str, kms: Any = None) -> ModelConfig:
    """The config the stack deployed, with the stack's key (the deployed object names the key by a
    placeholder: its ARN exists only at deploy time, and the functions are given it). A serving
    account of its own is given the training account's key by alias ARN, which `kms` resolves to
    the key's ARN (DescribeKey takes an alias ARN of another account: "Key identifiers (KeyId)",
    AWS KMS developer guide: https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id):
    S3 and SageMaker are then given the key itself, as they are in one account."""
    from pipelines.config import parse_config

    config = parse_config(dict(config_json))
    if ":alias/" in kms_key_arn:
        if kms is None:
            raise ValueError(f"{kms_key_arn} is an alias: a KMS client is needed to resolve it")
        kms_key_arn = kms.describe_key(KeyId=kms_key_arn)["KeyMetadata"]["Arn"]
    return config.model_copy(update={"pipeline": config.pipeline.model_copy(update={"kms_key_id": kms_key_arn})})


def on_aws(
    config: ModelConfig,
    client: Callable[[str], Any],
    workdir: Path | None = None,
) -> tuple[Promotion, EvidenceSource]:
    """The controller and the shadow's live evidence against the deployed stack: the one wiring the
    promotion functions and the CLI's --aws share (`config` with the stack's key)."""
    from pipelines.promotion.aws_evidence import aws_evidence

    evidence = aws_evidence(config, client("s3"), client("cloudwatch"), workdir=workdir)
    return aws_promotion(config, client), evidence
