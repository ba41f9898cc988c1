"""The promotion construct's IAM: the endpoint's execution role, and the promotion functions'
policies (exactly what pipelines.promotion calls through the handlers:
tests/infra/test_promotion_functions.py), each wildcard acknowledged with its reason.

Each grant is the pattern of the names the controller creates (pipelines.naming)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from pipelines import naming
from pipelines.naming import ResourceNames
from stacks.functions import Settings, logs_statement
from stacks.nag import acknowledge, logical_id
from stacks.network import acknowledge_vpc_scans, vpc_network_statement


@dataclass(frozen=True)
class PromotionResources:
    """What the promotion touches: the model's names, the training account's bucket and key, its
    endpoint, the guardrail alarms UpdateEndpoint watches and the retraining alarms it re-arms.
    `key` is None when the promotion serves from another account than training's: the key is then
    known by its alias only (its ARN exists at the training account's deploy), and granted through
    the alias (`kms:ResourceAliases`)."""

    names: ResourceNames
    bucket: s3.IBucket
    key: kms.IKey | None
    endpoint: str
    guardrail_alarms: list[str]
    retraining_alarms: list[str]
    settings: Settings
    audit_table_arn: str
    serves_package_image: bool = False  # pipelines.naming.serves_package_image

    @property
    def remote(self) -> bool:
        return self.key is None

    def key_statement(self, sid: str, actions: list[str], **conditions: dict[str, object]) -> iam.PolicyStatement:
        """The right to use the training account's key: the key itself, or, from another account,
        any key of that account that has the model's alias ("kms:ResourceAliases", AWS KMS
        developer guide: https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html
        #conditions-kms-resource-aliases)."""
        if self.key is not None:
            return iam.PolicyStatement(sid=sid, actions=actions, resources=[self.key.key_arn], conditions=conditions)
        n = self.names
        alias = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": naming.key_alias(n.model)}}
        return iam.PolicyStatement(
            sid=sid, actions=actions, resources=[self.key_pattern], conditions={**conditions, **alias}
        )

    @property
    def key_pattern(self) -> str:
        return f"arn:aws:kms:{self.names.region}:{self.names.account}:key/*"

    @property
    def _arn(self) -> str:
        return f"arn:aws:sagemaker:{self.names.region}:{self.names.serving_account}"

    @property
    def endpoint_arn(self) -> str:
        return f"{self._arn}:endpoint/{self.endpoint.lower()}"

    @property
    def endpoint_config_arns(self) -> str:
        return f"{self._arn}:{naming.endpoint_config_pattern(self.endpoint)}"

    @property
    def model_arns(self) -> str:
        return f"{self._arn}:{naming.model_pattern(self.names.model)}"

    @property
    def package_arns(self) -> str:
        n = self.names
        return f"arn:aws:sagemaker:{n.region}:{n.registry_account}:model-package/{n.model_package_group.lower()}/*"

    def prefix(self, part: str) -> str:
        """The ARN pattern of every object under one of the model's S3 prefixes."""
        return f"{self.bucket.bucket_arn}/{self.names.layout.key(part)}*"

    def prefix_finding(self, part: str) -> str:
        """The same pattern as cdk-nag prints it."""
        return f"Resource::{self.bucket_finding}/{self.names.layout.key(part)}*"

    @property
    def bucket_finding(self) -> str:
        """The bucket's ARN as cdk-nag prints it: the bucket's own, or another account's by name."""
        if self.remote:
            return f"arn:<AWS::Partition>:s3:::{self.names.bucket}"
        return f"<{logical_id(self.bucket)}.Arn>"


REMOTE_KEY_REASON = (
    "The training account's key, known here by its alias only (its ARN exists once that account deploys): the "
    "kms:ResourceAliases condition limits the grant to the key with this model's alias."
)


# ---- what the promotion's principals do to the training account's data


@dataclass(frozen=True)
class DataAccess:
    """One principal's use of the training account's data: statements on the artifact bucket, the
    key's actions (and whether it creates grants for AWS resources: endpoint volumes), and the
    audit table's actions. The same value gives the principal's own policy (`identity`) and, when
    it serves from another account, the training account's resource policies (stacks.accounts):
    a cross-account call needs both ("Cross-account policy evaluation logic", IAM user guide:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html)."""

    bucket: list[iam.PolicyStatement]
    key_actions: list[str]
    key_grants: bool = False
    table_actions: list[str] = field(default_factory=list)
    evidence: list[iam.PolicyStatement] = field(default_factory=list)  # bucket statements too

    @property
    def bucket_statements(self) -> list[iam.PolicyStatement]:
        return [*self.bucket, *self.evidence]

    def identity(self, at: PromotionResources) -> list[iam.PolicyStatement]:
        """Bucket (but evidence), table and key statements, in that order; the evidence statements
        are the caller's to place."""
        statements = [*self.bucket]
        if self.table_actions:
            statements.append(
                iam.PolicyStatement(sid="AuditTrail", actions=self.table_actions, resources=[at.audit_table_arn])
            )
        statements.append(at.key_statement("Key", self.key_actions))
        if self.key_grants:
            # kms:GrantIsForAWSResource is on CreateGrant, ListGrants and RevokeGrant requests only
            # (https://docs.aws.amazon.com/kms/latest/developerguide/grant-authorization.html):
            # DescribeKey, which every endpoint config naming the key needs, is in key_actions.
            statements.append(
                at.key_statement(
                    "KeyGrantsForEndpoint", ["kms:CreateGrant"], Bool={"kms:GrantIsForAWSResource": "true"}
                )
            )
        return statements


def endpoint_data_access(at: PromotionResources, *, serves_source: bool) -> DataAccess:
    return DataAccess(
        bucket=[
            iam.PolicyStatement(
                sid="ModelArtifacts",
                actions=["s3:GetObject"],
                resources=[at.prefix(naming.EXECUTIONS), *([at.prefix(naming.SOURCE)] if serves_source else [])],
            ),
            iam.PolicyStatement(sid="DataCapture", actions=["s3:PutObject"], resources=[at.prefix(naming.CAPTURE)]),
        ],
        key_actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
    )


def function_data_access(at: PromotionResources, *, evaluation: bool) -> DataAccess:
    """The approval function's, and the evaluation function's (`evaluation`), which also reads the
    evidence."""
    n = at.names
    bucket = [
        at.settings.statement(),
        iam.PolicyStatement(sid="RunArtifacts", actions=["s3:GetObject"], resources=[at.prefix(naming.EXECUTIONS)]),
        iam.PolicyStatement(sid="Champion", actions=["s3:PutObject"], resources=[at.prefix(naming.CHAMPION)]),
    ]
    kept: list[iam.PolicyStatement] = []
    if evaluation:
        evidence = [naming.CAPTURE, naming.GROUND_TRUTH]
        kept = [
            iam.PolicyStatement(sid="Evidence", actions=["s3:GetObject"], resources=[at.prefix(p) for p in evidence]),
            # Each ended hour's evidence, kept once so later evaluations do not read its capture again
            # (pipelines.promotion.aws_evidence.read_by_hour).
            iam.PolicyStatement(
                sid="KeptEvidence", actions=["s3:GetObject", "s3:PutObject"], resources=[kept_evidence(at)]
            ),
            iam.PolicyStatement(
                sid="EvidenceListing",
                actions=["s3:ListBucket"],
                resources=[at.bucket.bucket_arn],
                conditions={
                    "StringLike": {"s3:prefix": [*(f"{n.layout.key(p)}*" for p in evidence), f"{_kept_key(at)}*"]}
                },
            ),
        ]
    return DataAccess(
        bucket=bucket,
        key_actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
        key_grants=True,
        # Records, intents and the lease: put, query (consistent reads) and delete (intents done,
        # lease released).
        table_actions=["dynamodb:PutItem", "dynamodb:Query", "dynamodb:DeleteItem"],
        evidence=kept,
    )


# ---- the endpoint's execution role


def endpoint_role(
    scope: Construct,
    at: PromotionResources,
    role_name: str,
    repository: ecr.IRepository,
    *,
    vpc: bool,
    team_image: str | None = None,
    serves_source: bool = False,
) -> iam.Role:
    """The role the SageMaker models behind the endpoint run with; `team_image`: the image that
    serves the model when it is not the job image (its repository is pulled from as well);
    `serves_source`: a framework image's inference toolkit downloads the script's source archive."""
    n = at.names
    role = iam.Role(
        scope,
        "EndpointRole",
        role_name=role_name,
        assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
        description=f"{at.endpoint}: the SageMaker models behind the endpoint",
    )
    log_groups = f"arn:aws:logs:{n.region}:{n.serving_account}:log-group:/aws/sagemaker/Endpoints/{at.endpoint}:*"
    statements = [
        *endpoint_data_access(at, serves_source=serves_source).identity(at),
        iam.PolicyStatement(
            sid="Image",
            actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            resources=[repository.repository_arn, *([naming.ecr_repository_arn(team_image)] if team_image else [])],
        ),
        iam.PolicyStatement(sid="RegistryLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
        iam.PolicyStatement(
            sid="Logs",
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[log_groups],
        ),
        iam.PolicyStatement(
            sid="Metrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
        ),
        iam.PolicyStatement(
            sid="RollbackAlarms",
            actions=["cloudwatch:DescribeAlarms"],
            resources=[n.alarm_arn(name, n.serving_account) for name in at.guardrail_alarms],
        ),
    ]
    if vpc:
        statements.append(vpc_network_statement("NetworkInterfaces"))
    policy = iam.Policy(scope, "EndpointRolePolicy", roles=[role], statements=statements)
    if vpc:
        acknowledge_vpc_scans(policy)
    reasons = {
        at.prefix_finding(naming.EXECUTIONS): (
            "Model artifacts of this model's registered versions, under per-run prefixes of its pipeline."
        ),
        at.prefix_finding(naming.CAPTURE): (
            "SageMaker data capture writes one object per batch under <endpoint>/<variant>/yyyy/mm/dd/hh/."
        ),
        **(
            {
                at.prefix_finding(naming.SOURCE): (
                    "A framework image's inference toolkit downloads the script's content-addressed source archive."
                )
            }
            if serves_source
            else {}
        ),
        "Resource::*": (
            "ecr:GetAuthorizationToken has no resource type; cloudwatch:PutMetricData has none either and is "
            "limited by its namespace condition to /aws/sagemaker/*"
            + ("; EC2 network interface actions for VPC endpoints have no resource scoping" if vpc else "")
            + "."
        ),
        f"Resource::{log_groups}": (
            "The endpoint's own log group /aws/sagemaker/Endpoints/<endpoint>, one stream per instance and variant."
        ),
    }
    if at.remote:
        reasons[f"Resource::{at.key_pattern}"] = REMOTE_KEY_REASON
    for finding, reason in reasons.items():
        acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)
    return role


# ---- the functions' policies


def function_statements(
    at: PromotionResources,
    endpoint_role: iam.IRole,
    log_group: logs.ILogGroup | None,
    *,
    evaluation: bool,
) -> list[iam.PolicyStatement]:
    """The approval function's statements, and the evaluation function's (`evaluation`), which
    also reads evidence, variant metrics and re-arms the retraining alarms (in another account
    than the serving one, as the role that account lets it assume: `rearm_role`)."""
    n = at.names
    data = function_data_access(at, evaluation=evaluation)
    statements = [
        iam.PolicyStatement(
            sid="Registry",
            actions=["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"],
            resources=[at.package_arns],
        ),
        iam.PolicyStatement(sid="RegistryListing", actions=["sagemaker:ListModelPackages"], resources=["*"]),
        iam.PolicyStatement(
            sid="Serving",
            actions=[
                "sagemaker:DescribeModel",
                "sagemaker:CreateModel",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:CreateEndpointConfig",
                "sagemaker:DescribeEndpoint",
                "sagemaker:CreateEndpoint",
                "sagemaker:UpdateEndpoint",
            ],
            resources=[at.model_arns, at.endpoint_config_arns, at.endpoint_arn],
        ),
        iam.PolicyStatement(
            sid="PassEndpointRole",
            actions=["iam:PassRole"],
            resources=[endpoint_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        ),
        iam.PolicyStatement(
            sid="RollbackAlarms",
            actions=["cloudwatch:DescribeAlarms"],
            resources=[n.alarm_arn(name, n.serving_account) for name in at.guardrail_alarms],
        ),
        *data.identity(at),
        *([logs_statement(log_group)] if log_group is not None else []),
        *data.evidence,
    ]
    if n.serving_account != n.registry_account and at.serves_package_image:
        # CreateModel from a package of another account is authorized on the package too ("Deploy
        # a Model Version from a Different Account", SageMaker developer guide); the job image's
        # copy is deployed from the package's container, not the package.
        statements[0] = iam.PolicyStatement(
            sid="Registry",
            actions=["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage", "sagemaker:CreateModel"],
            resources=[at.package_arns],
        )
    if evaluation:
        statements += [
            iam.PolicyStatement(sid="VariantMetrics", actions=["cloudwatch:GetMetricStatistics"], resources=["*"]),
            # Re-arming is due N alarm periods after a change of production: the scheduled
            # evaluation does it, after reading whether it was done since that change.
            iam.PolicyStatement(
                sid="RearmRetrainingAlarms",
                actions=["sts:AssumeRole"] if at.remote else ["cloudwatch:SetAlarmState"],
                resources=[n.rearm_role_arn] if at.remote else [n.alarm_arn(name) for name in at.retraining_alarms],
            ),
        ]
    return statements


def _kept_key(at: PromotionResources) -> str:
    return f"{at.names.layout.key(naming.MONITOR_STORE)}evidence/"


def kept_evidence(at: PromotionResources) -> str:
    """The ARN pattern of the shadow evaluation's kept hour extracts."""
    return f"{at.bucket.bucket_arn}/{_kept_key(at)}*"


def acknowledge_function_policy(policy: iam.Policy, at: PromotionResources, *, evaluation: bool) -> None:
    reasons = {
        f"Resource::{at.package_arns}": (
            "Versions of this model's package group only; version numbers are assigned at registration."
        ),
        f"Resource::{at.model_arns}": (
            "SageMaker models of this model's versions are named <model>-<hash>-v<version> (pipelines.naming)."
        ),
        f"Resource::{at.endpoint_config_arns}": (
            "Endpoint configs of this endpoint are named <endpoint>-<hash>-p<production>-s<shadow>-<settings hash>."
        ),
        "Resource::*": (
            "sagemaker:ListModelPackages has no resource type (the group is a request parameter)"
            + ("; cloudwatch:GetMetricStatistics has no resource type either" if evaluation else "")
            + "."
        ),
        at.prefix_finding(naming.EXECUTIONS): (
            "Reads the model artifact and baseline of a version (copied to champion/) and its evaluation report."
        ),
        at.prefix_finding(naming.CHAMPION): (
            "Writes the champion prefix: champion.json, model.tar.gz and baseline_profile.json."
        ),
    }
    if at.remote:
        reasons[f"Resource::{at.key_pattern}"] = REMOTE_KEY_REASON
    if evaluation:
        reasons[at.prefix_finding(naming.CAPTURE)] = (
            "Reads data capture of both variants since the shadow started, one object per batch and hour."
        )
        reasons[at.prefix_finding(naming.GROUND_TRUTH)] = (
            "Reads ground-truth labels, delivered as objects under hourly prefixes of their arrival."
        )
        reasons[f"Resource::{at.bucket_finding}/{_kept_key(at)}*"] = (
            "Keeps what it read of each ended hour (yyyy/mm/dd/hh.parquet a variant, and labels) and reads it back."
        )
    for finding, reason in reasons.items():
        acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)
