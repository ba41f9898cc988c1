"""Promotion: an approved version goes to shadow on the production endpoint, is judged on live
traffic against ground truth, and is promoted or rejected (pipelines.promotion does the deciding).

What this construct creates:
- the endpoint execution role `<model>-endpoint` (pipelines.promotion.aws.endpoint_role_arn) that
  the SageMaker models behind the endpoint run with;
- the two guardrail alarms named by `guardrail_alarm_names` on the production variant, which
  UpdateEndpoint's blue/green deployment watches to roll back on its own;
- the champion pointer `champion/champion.json`, written only if absent (SageMaker fails a job
  whose S3 input prefix is empty, and the monitor job and Evaluate read `champion/`);
- the promotion function (approval events of this group) and the shadow-evaluation function
  (`promotion.shadow.evaluation_schedule`), with a failure queue for approval events;
- widgets on the monitoring dashboard.

Packaging: both functions run one container image built from stacks/promotion/runtime/Dockerfile
(a DockerImageAsset: staged at synth as plain file copies, built and pushed by `cdk deploy`, so
synthesis needs no Docker engine). The shadow evidence is read with training_containers.capture,
which needs pandas and pyarrow, and scored with scikit-learn: too large for a zip package and not
in any managed layer whose versions could be checked offline. The image pins the job image's
versions, so the functions parse capture files exactly as the drift monitor does. A SageMaker
Processing job for the evidence was the alternative; it would add a job, its polling and a second
place the verdict is computed, for data a function reads in seconds. The approval path imports
neither pandas nor scikit-learn (the evidence modules import them when evidence is built).
"""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr
from constructs import Construct

from pipelines import naming
from pipelines.config import ModelConfig
from pipelines.monitoring.alarms import retraining_alarm_names
from pipelines.naming import (
    CHAMPION_POINTER,
    PRODUCTION_VARIANT,
    SHADOW_VARIANT,
    ResourceNames,
    champion_prefix,
    endpoint_role_arn,
)
from pipelines.promotion.champion import pointer_document
from pipelines.promotion.endpoint import guardrail_alarm_names
from stacks.functions import Settings, failure_queue, log_group, on_failure
from stacks.nag import acknowledge
from stacks.packaging import stage_image
from stacks.promotion.iam import (
    PromotionResources,
    acknowledge_function_policy,
    endpoint_role,
    function_statements,
)

APPROVAL_HANDLER, EVALUATION_HANDLER = "handler.on_approved", "handler.evaluate"


# Guardrail alarms: one-minute datapoints, 2 of 3 breaching, so an alarm can fire within the
# canary's wait; no traffic is no evidence of failure.
GUARDRAIL_PERIOD = cdk.Duration.minutes(1)
GUARDRAIL_EVALUATION_PERIODS, GUARDRAIL_DATAPOINTS = 3, 2


def endpoint_settled_pattern(endpoint: str) -> events.EventPattern:
    """The endpoint finishing an update: a staged promotion (shadow removed) takes its next step
    at once instead of at the next scheduled evaluation. The event spells the status IN_SERVICE
    ("SageMaker endpoint state change", "Events that Amazon SageMaker AI sends to Amazon
    EventBridge"); InService, as DescribeEndpoint spells it, is matched too."""
    return events.EventPattern(
        source=["aws.sagemaker"],
        detail_type=["SageMaker Endpoint State Change"],
        detail={"EndpointName": [endpoint], "EndpointStatus": ["IN_SERVICE", "InService"]},
    )


def approved_pattern(model_package_group: str) -> events.EventPattern:
    return events.EventPattern(
        source=["aws.sagemaker"],
        detail_type=["SageMaker Model Package State Change"],
        detail={"ModelPackageGroupName": [model_package_group], "ModelApprovalStatus": ["Approved"]},
    )


class ModelPromotion(Construct):
    """Attributes: `endpoint_role`, `alarms` (name -> Alarm), `champion_seed`, `approval_function`,
    `evaluation_function`, `approval_policy`, `evaluation_policy`, `failed_events` (and `failures`),
    `endpoint_rule`,
    `approval_rule`, `evaluation_rule`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ModelConfig,
        names: ResourceNames,
        key: kms.IKey,
        bucket: s3.IBucket,
        image_repository: ecr.IRepository,
        audit_table_arn: str,
        settings: Settings,
        staging: Path,
        dashboard: cloudwatch.Dashboard | None = None,
        remote: bool = False,
    ) -> None:
        """`key` encrypts this construct's own resources and, in the training account, the data
        too; `remote`: this construct is in a serving account of its own (stacks.accounts), and
        the training account's bucket, key and table are named."""
        super().__init__(scope, construct_id)
        self.names, self.key, self.bucket = names, key, bucket
        self.endpoint = config.promotion.endpoint(names.model)
        self.alarm_names = guardrail_alarm_names(config)
        self.resources = PromotionResources(
            names,
            bucket,
            None if remote else key,
            self.endpoint,
            self.alarm_names,
            retraining_alarm_names(config),
            settings,
            audit_table_arn,
            naming.serves_package_image(config),
        )
        self.endpoint_role = endpoint_role(
            self,
            self.resources,
            endpoint_role_arn(config).rsplit("/", 1)[-1],
            image_repository,
            vpc=config.pipeline.vpc is not None,
            team_image=config.training.outside_image,
            serves_source=bool(config.training.script and config.training.script.framework_image),
        )
        self.alarms = self._guardrail_alarms(config)
        self.champion_seed = None if remote else seed_champion(self, config, names, bucket, key)

        # Both functions are invoked asynchronously (EventBridge): failures after Lambda's retries
        # land here with their error (stacks.functions.on_failure).
        self.failed_events = failure_queue(self, key, "the promotion functions")
        self.failures = [self.failed_events]
        code = str(stage_image("promotion", staging, ("Dockerfile", "requirements.lock")))
        # The deployed config names the key by a placeholder (its ARN exists at deploy time only).
        environment = {**settings.environment(), "KMS_KEY_ARN": key.key_arn}
        if remote:  # the key by alias ARN, resolved by DescribeKey (pipelines.promotion.aws.deployed)
            environment = {**settings.environment(), "KMS_KEY_ARN": names.key_alias_arn}
        self.remote = remote
        self.approval_function, self.approval_policy = self._function(
            "Approval",
            naming.APPROVAL_ROLE,
            code,
            APPROVAL_HANDLER,
            f"{names.model}: approved versions go to shadow (or to production when nothing serves)",
            environment,
            memory=1024,
            timeout=cdk.Duration.minutes(5),
        )
        self.evaluation_function, self.evaluation_policy = self._function(
            "Evaluation",
            naming.EVALUATION_ROLE,
            code,
            EVALUATION_HANDLER,
            f"{names.model}: reconcile the endpoint, judge the shadow on live evidence, promote or reject",
            environment,
            memory=3008,
            timeout=cdk.Duration.minutes(15),
            ephemeral=cdk.Size.gibibytes(4),
        )
        self.operator_role = None if names.single_account else self._operator_role()
        for name, function, role in (
            ("Approval", self.approval_function, self.approval_function.role),
            ("Evaluation", self.evaluation_function, self.evaluation_function.role),
        ):
            assert role is not None
            on_failure(Construct(self, f"{name}Failures"), function, self.failed_events, role, key)
        self.approval_rule = events.Rule(
            self,
            "ApprovedRule",
            description=f"{names.model_package_group}: approved versions start their shadow",
            event_pattern=approved_pattern(names.model_package_group),
            targets=[
                targets.LambdaFunction(self.approval_function, retry_attempts=8, max_event_age=cdk.Duration.hours(24))
            ],
        )
        self.evaluation_rule = events.Rule(
            self,
            "EvaluationRule",
            description=f"{names.model}: shadow evaluation ({config.promotion.shadow.evaluation_schedule})",
            schedule=events.Schedule.expression(config.promotion.shadow.evaluation_schedule),
            targets=[targets.LambdaFunction(self.evaluation_function, retry_attempts=2)],
        )
        self.endpoint_rule = events.Rule(
            self,
            "EndpointSettledRule",
            description=f"{self.endpoint}: an update finished; the next step of a promotion follows at once",
            event_pattern=endpoint_settled_pattern(self.endpoint),
            targets=[targets.LambdaFunction(self.evaluation_function, retry_attempts=2)],
        )
        if dashboard is not None:
            self._widgets(dashboard)

    # ---- guardrail alarms

    def _guardrail_alarms(self, config: ModelConfig) -> dict[str, cloudwatch.Alarm]:
        guard = config.promotion.deployment
        five_xx, latency = self.alarm_names

        def metric(name: str, statistic: str, variant: str = PRODUCTION_VARIANT) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name=name,
                dimensions_map={"EndpointName": self.endpoint, "VariantName": variant},
                statistic=statistic,
                period=GUARDRAIL_PERIOD,
            )

        rate = cloudwatch.MathExpression(
            expression="IF(invocations > 0, errors / invocations, 0)",
            using_metrics={"errors": metric("Invocation5XXErrors", "Sum"), "invocations": metric("Invocations", "Sum")},
            period=GUARDRAIL_PERIOD,
            label="5xx rate",
        )

        def alarm(
            construct_id: str, name: str, description: str, watched: cloudwatch.IMetric, threshold: float
        ) -> cloudwatch.Alarm:
            return cloudwatch.Alarm(
                self,
                construct_id,
                alarm_name=name,
                alarm_description=description,
                metric=watched,
                threshold=threshold,
                evaluation_periods=GUARDRAIL_EVALUATION_PERIODS,
                datapoints_to_alarm=GUARDRAIL_DATAPOINTS,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

        return {
            five_xx: alarm(
                "FiveXxRateAlarm",
                five_xx,
                f"{self.endpoint} production variant: share of requests answered 5xx above "
                f"{guard.max_5xx_rate:g}; rolls back a blue/green update",
                rate,
                guard.max_5xx_rate,
            ),
            latency: alarm(
                "LatencyP99Alarm",
                latency,
                f"{self.endpoint} production variant: ModelLatency p99 above {guard.max_latency_p99_ms:g} ms "
                "(the metric is in microseconds); rolls back a blue/green update",
                metric("ModelLatency", "p99"),
                guard.max_latency_p99_ms * 1000,
            ),
        }

    # ---- functions

    def _function(
        self,
        name: str,
        purpose: str,
        code: str,
        handler: str,
        description: str,
        environment: dict[str, str],
        *,
        memory: int,
        timeout: cdk.Duration,
        ephemeral: cdk.Size | None = None,
    ) -> tuple[lambda_.DockerImageFunction, iam.Policy]:
        role = iam.Role(
            self,
            f"{name}Role",
            # Named when the other accounts' policies name it (stacks.accounts).
            role_name=None if self.names.single_account else self.names.serving_role_arn(purpose).rsplit("/", 1)[-1],
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=description,
        )
        logs_ = log_group(self, f"{name}Logs", self.key)
        function = lambda_.DockerImageFunction(
            self,
            f"{name}Function",
            description=description,
            code=lambda_.DockerImageCode.from_image_asset(
                code, cmd=[handler], platform=ecr_assets.Platform.LINUX_AMD64
            ),
            architecture=lambda_.Architecture.X86_64,
            role=role,
            log_group=logs_,
            memory_size=memory,
            timeout=timeout,
            ephemeral_storage_size=ephemeral,
            # One run at a time comes from the controller's lease, not reserved concurrency, which
            # an account at the default quota rejects at deploy (pipelines.promotion.lease).
            environment=environment,
            environment_encryption=self.key,
        )
        evaluation = handler == EVALUATION_HANDLER
        statements = function_statements(self.resources, self.endpoint_role, logs_, evaluation=evaluation)
        policy = iam.Policy(self, f"{name}Policy", roles=[role], statements=statements)
        function.node.add_dependency(policy)
        acknowledge_function_policy(policy, self.resources, evaluation=evaluation)
        return function, policy

    def _operator_role(self) -> iam.Role:
        """With several accounts, the role operators run `python -m pipelines rollback|promote ...
        --aws` as: the evaluation function's rights, which the other accounts' policies admit by
        this role's name; assumable by the principals of this account that their own IAM lets."""
        role = iam.Role(
            self,
            "OperatorRole",
            role_name=self.names.serving_role_arn(naming.OPERATOR_ROLE).rsplit("/", 1)[-1],
            assumed_by=iam.AccountRootPrincipal(),
            description=f"{self.names.model}: operators promote and roll back with the pipelines CLI (--aws)",
        )
        statements = function_statements(self.resources, self.endpoint_role, None, evaluation=True)
        policy = iam.Policy(self, "OperatorPolicy", roles=[role], statements=statements)
        acknowledge_function_policy(policy, self.resources, evaluation=True)
        return role

    # ---- dashboard

    def _widgets(self, dashboard: cloudwatch.Dashboard) -> None:
        def metric(name: str, statistic: str, variant: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name=name,
                dimensions_map={"EndpointName": self.endpoint, "VariantName": variant},
                statistic=statistic,
                period=cdk.Duration.minutes(5),
                label=f"{variant} {name}",
            )

        variants = (PRODUCTION_VARIANT, SHADOW_VARIANT)
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Deployment guardrails (roll back blue/green updates)",
                alarms=list(self.alarms.values()),
                width=24,
            ),
            cloudwatch.GraphWidget(
                title="Model latency p99 (microseconds): production vs shadow",
                left=[metric("ModelLatency", "p99", v) for v in variants],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Invocations and 5xx: production vs shadow",
                left=[metric("Invocations", "Sum", v) for v in variants],
                right=[metric("Invocation5XXErrors", "Sum", v) for v in variants],
                width=12,
            ),
            cloudwatch.LogQueryWidget(
                title="Promotion decisions (approval events and shadow verdicts)",
                log_group_names=[
                    self.approval_function.log_group.log_group_name,
                    self.evaluation_function.log_group.log_group_name,
                ],
                query_lines=[
                    "fields @timestamp, @message",
                    'filter @message like /"stage"|"decision"/',
                    "sort @timestamp desc",
                    "limit 50",
                ],
                width=24,
            ),
        )


# ---- the champion pointer, seeded once, where the bucket is


def seed_champion(
    scope: Construct, config: ModelConfig, names: ResourceNames, bucket: s3.IBucket, key: kms.IKey
) -> cr.AwsCustomResource:
    _, prefix = champion_prefix(config).removeprefix("s3://").split("/", 1)
    object_key = prefix + CHAMPION_POINTER
    seed = cr.AwsCustomResource(
        scope,
        "ChampionSeed",
        on_create=cr.AwsSdkCall(
            service="S3",
            action="putObject",
            parameters={
                "Bucket": bucket.bucket_name,
                "Key": object_key,
                "Body": json.dumps(pointer_document(None)),
                "IfNoneMatch": "*",  # never replaces a pointer the promotion function wrote
            },
            physical_resource_id=cr.PhysicalResourceId.of(f"s3://{names.bucket}/{object_key}"),
            ignore_error_codes_matching="PreconditionFailed|ConditionalRequestConflict",
        ),
        policy=cr.AwsCustomResourcePolicy.from_statements(
            [
                iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects(object_key)]),
                iam.PolicyStatement(actions=["kms:GenerateDataKey"], resources=[key.key_arn]),
            ]
        ),
        install_latest_aws_sdk=False,
        log_group=log_group(scope, "ChampionSeedLogs", key),
    )
    _acknowledge_custom_resource_function(scope)
    return seed


def _acknowledge_custom_resource_function(scope: Construct) -> None:
    """AwsCustomResource runs a CDK-managed singleton function whose role and runtime the
    construct decides; each finding is acknowledged on it with what it is for."""
    stack = cdk.Stack.of(scope)
    (provider,) = [c for c in stack.node.children if c.node.id.startswith("AWS679f53fac002430cb0da5b7982bd2287")]
    basic = "arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    acknowledge(
        provider,
        f"AwsSolutions-IAM4[Policy::{basic}]",
        "CDK's AwsCustomResource function logs with the basic execution role; its calls have their own policy.",
    )
