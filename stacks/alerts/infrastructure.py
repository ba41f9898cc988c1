"""Alerts: one KMS-encrypted SNS topic per model with the routes from config (email, Slack through
AWS Chatbot, PagerDuty through a function that sends its Events API v2), a function that explains
failed executions, and a notice when a new model version waits for approval.

PagerDuty is not an HTTPS subscription of the topic: SNS would post its own JSON (and first a
subscription confirmation), which the Events API does not read, and the URL would carry the
integration key into the template. The PagerDuty function reads the key from the Secrets Manager
secret the config names (`alerts.pagerduty.routing_key_secret`)."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from pipelines import naming
from pipelines.config import AlertsSection
from pipelines.naming import ResourceNames
from stacks.functions import Settings, logs_statement, staged_function
from stacks.nag import acknowledge, logical_id


def execution_failed_pattern(pipeline_arn: str) -> events.EventPattern:
    return events.EventPattern(
        source=["aws.sagemaker"],
        detail_type=["SageMaker Model Building Pipeline Execution Status Change"],
        detail={"pipelineArn": [pipeline_arn], "currentPipelineExecutionStatus": ["Failed"]},
    )


def awaiting_approval_pattern(model_package_group: str) -> events.EventPattern:
    return events.EventPattern(
        source=["aws.sagemaker"],
        detail_type=["SageMaker Model Package State Change"],
        detail={"ModelPackageGroupName": [model_package_group], "ModelApprovalStatus": ["PendingManualApproval"]},
    )


class Alerts(Construct):
    """Attributes: `topic`, `function`, `failure_rule`, `approval_rule`, `slack` (or None)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        routes: AlertsSection,
        key: kms.IKey,
        artifact_bucket: s3.IBucket,
        settings: Settings,
        staging: Path,
    ) -> None:
        """The functions read the topic, model and PagerDuty route from `settings`."""
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=naming.alert_topic(names.model),
            display_name=f"{names.model} retraining",
            master_key=key,
            enforce_ssl=True,
        )
        for address in routes.email:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
        self.slack: chatbot.SlackChannelConfiguration | None = None
        if routes.slack is not None:
            self.slack = chatbot.SlackChannelConfiguration(
                self,
                "Slack",
                slack_channel_configuration_name=naming.chat_channel(names.model),
                slack_workspace_id=routes.slack.workspace_id,
                slack_channel_id=routes.slack.channel_id,
                notification_topics=[self.topic],
                logging_level=chatbot.LoggingLevel.ERROR,
            )
        # EventBridge publishes the approval notice, and CloudWatch the failure alarms, to the
        # encrypted topic themselves.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"EventsAndAlarmsToAlertTopic{names.model.replace('-', '')}",
                principals=[
                    iam.ServicePrincipal("events.amazonaws.com"),
                    iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                ],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"aws:SourceAccount": names.account}},
            )
        )

        staged = staged_function(
            self,
            "alerts",
            staging,
            key=key,
            role_description=f"{names.pipeline} failure alerts",
            description=f"Explains failed {names.pipeline} executions: failed gate or data check, observed, threshold",
            environment=settings.environment(),
        )
        self.function, role, log_group = staged.function, staged.role, staged.log_group
        self.failures = [staged.failures]
        policy = iam.Policy(
            self,
            "FunctionPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="ExecutionSteps",
                    actions=["sagemaker:ListPipelineExecutionSteps"],
                    resources=[f"{names.pipeline_arn}/execution/*"],
                ),
                iam.PolicyStatement(
                    sid="RunReports",
                    actions=["s3:GetObject"],
                    resources=[f"{artifact_bucket.bucket_arn}/{names.layout.key(naming.EXECUTIONS)}*"],
                ),
                # A report the run never wrote must read as NoSuchKey: without s3:ListBucket, S3
                # answers 403 AccessDenied for a missing object (GetObject, "Permissions":
                # https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
                iam.PolicyStatement(
                    sid="RunReportsMissing",
                    actions=["s3:ListBucket"],
                    resources=[artifact_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{names.layout.key(naming.EXECUTIONS)}*"]}},
                ),
                settings.statement(),
                iam.PolicyStatement(sid="Publish", actions=["sns:Publish"], resources=[self.topic.topic_arn]),
                iam.PolicyStatement(
                    sid="ReportSettingsAndTopicKey",
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[key.key_arn],
                ),
                logs_statement(log_group),
            ],
        )
        self.function.node.add_dependency(policy)
        self.policy = policy
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{names.pipeline_arn}/execution/*]",
            "Steps of any execution of this one pipeline: execution ids are assigned when a run starts.",
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::<{logical_id(artifact_bucket)}.Arn>/{names.layout.key(naming.EXECUTIONS)}*]",
            "The reports of this model's runs (evaluation.json, validation_report.json), under per-run prefixes.",
        )

        self.pagerduty: lambda_.Function | None = None
        if routes.pagerduty is not None:
            self.pagerduty = self._pagerduty(names, routes, key, settings, staging)

        self.failure_rule = events.Rule(
            self,
            "ExecutionFailedRule",
            description=f"{names.pipeline}: failed executions are explained to the alert routes",
            event_pattern=execution_failed_pattern(names.pipeline_arn),
            targets=[targets.LambdaFunction(self.function, retry_attempts=8)],
        )
        self.approval_rule = events.Rule(
            self,
            "AwaitingApprovalRule",
            description=f"{names.model_package_group}: a new version waits for approval",
            event_pattern=awaiting_approval_pattern(names.model_package_group),
            targets=[
                targets.SnsTopic(
                    self.topic,
                    message=events.RuleTargetInput.from_text(
                        f"[{names.model}] model version {events.EventField.from_path('$.detail.ModelPackageArn')} "
                        "passed every gate and waits for approval in SageMaker Studio (Model Registry)."
                    ),
                )
            ],
        )

    def _pagerduty(
        self, names: ResourceNames, routes: AlertsSection, key: kms.IKey, settings: Settings, staging: Path
    ) -> lambda_.Function:
        assert routes.pagerduty is not None
        scope = Construct(self, "PagerDuty")
        reference = routes.pagerduty.routing_key_secret
        secret = (
            secretsmanager.Secret.from_secret_partial_arn(scope, "RoutingKey", reference)
            if reference.startswith("arn:")
            else secretsmanager.Secret.from_secret_name_v2(scope, "RoutingKey", reference)
        )
        staged = staged_function(
            scope,
            "alerts",
            staging,
            key=key,
            role_description=f"{names.pipeline} alerts to PagerDuty",
            description=f"Sends {names.model}'s alerts to PagerDuty (Events API v2)",
            environment=settings.environment(),
            handler="pagerduty.handler",
        )
        self.failures.append(staged.failures)
        policy = iam.Policy(
            scope,
            "FunctionPolicy",
            roles=[staged.role],
            statements=[
                iam.PolicyStatement(
                    sid="RoutingKey", actions=["secretsmanager:GetSecretValue"], resources=[secret.secret_arn]
                ),
                settings.statement(),
                iam.PolicyStatement(sid="SettingsKey", actions=["kms:Decrypt"], resources=[key.key_arn]),
                logs_statement(staged.log_group),
            ],
        )
        staged.function.node.add_dependency(policy)
        if not reference.startswith("arn:"):
            acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:{names.region}:{names.account}"
                f":secret:{reference}-??????]",
                "A secret named in the config: Secrets Manager appends six random characters to its ARN.",
            )
        self.topic.add_subscription(subscriptions.LambdaSubscription(staged.function))
        return staged.function

    def allow_alarms(self, alarm_names: list[str]) -> None:
        """CloudWatch publishes these alarms' notifications to the topic. The topic's policy replaces
        SNS's default one, so the service is named: allow cloudwatch.amazonaws.com to sns:Publish,
        for these alarms only ("Why didn't I receive an SNS notification for my CloudWatch alarm
        trigger?", AWS re:Post knowledge center; condition keys aws:SourceArn, aws:SourceAccount)."""
        stack = cdk.Stack.of(self)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": [
                            f"arn:aws:cloudwatch:{stack.region}:{stack.account}:alarm:{name}" for name in alarm_names
                        ]
                    },
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )
