"""The loop across accounts (config `accounts`): training (`pipeline.account`: pipeline, jobs,
bucket, key, monitor, trigger, alerts), registry (the model package group, where Studio approves)
and serving (endpoint, its role, the promotion functions). One account holds all three by default,
and then nothing here is made: `RetrainingStack` is what it always was.

Each cross-account piece follows the AWS documentation cited with it, and grants what the calls
need (tests/infra/test_accounts.py, tests/integration/test_two_accounts.py):
- the training account's bucket, key and audit table name the serving account's roles in their
  resource policies, statement for statement what those roles' own policies ask for
  (stacks.promotion.iam.DataAccess); each names the account as principal and the role in an
  `aws:PrincipalArn` condition, so a stack deploys before the other account's roles exist;
- the model package group's resource policy (PutModelPackageGroupPolicy, CloudFormation's
  `ModelPackageGroupPolicy`) lets the training account's pipeline register versions and the
  serving account's functions read, update and deploy them ("Cross-account discoverability",
  "Register a Model Version from a Different Account", "Deploy a Model Version from a Different
  Account", SageMaker developer guide: https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-ram.html);
- events cross accounts through the receivers' default buses: a rule of the sender targets the
  receiver's bus, whose policy admits the sender's account for that source only ("Sending and
  receiving events between AWS accounts in Amazon EventBridge", EventBridge user guide:
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html). Approvals go
  registry -> serving, approval notices registry -> training (the alert topic), the promotion's
  failure alarm serving -> training;
- CloudWatch alarms have no resource policy: the serving account re-arms the training account's
  retraining alarms as a role of the training account that trusts the evaluation function's and
  the operator's roles;
- a registry account of its own reads the versions' model data and reports in the training bucket.
Not done here: the job image's repository (CDK's asset repository, whose policy the app cannot
set) admitting a registry account of its own (docs/deploying.md, "Several accounts").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from pipelines import naming
from pipelines.config import ModelConfig
from pipelines.monitoring.alarms import retraining_alarm_names
from pipelines.naming import ResourceNames
from stacks.alerts.infrastructure import awaiting_approval_pattern
from stacks.functions import Settings
from stacks.nag import acknowledge_function_scans
from stacks.pipeline.infrastructure import concrete, job_image, retained_key
from stacks.promotion.iam import DataAccess, PromotionResources, endpoint_data_access, function_data_access
from stacks.promotion.infrastructure import ModelPromotion, approved_pattern, seed_champion


class LoopError(ValueError):
    """The loop cannot be placed where it was asked to be (stacks.retraining_loop), or its accounts
    cannot be wired as the config asks."""


APPROVAL, EVALUATION, ENDPOINT, OPERATOR = (
    naming.APPROVAL_ROLE,
    naming.EVALUATION_ROLE,
    naming.ENDPOINT_ROLE,
    naming.OPERATOR_ROLE,
)
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"


def principal_condition(role_arn: str) -> dict[str, dict[str, str]]:
    return {"ArnEquals": {"aws:PrincipalArn": role_arn}}


def granted(statement: iam.PolicyStatement, account: str, role_arn: str, sid: str) -> iam.PolicyStatement:
    """`statement` of a role's own policy as a statement of the resource's policy: the same actions,
    resources and conditions, for that role of that account only."""
    return iam.PolicyStatement(
        sid=sid,
        principals=[iam.AccountPrincipal(account)],
        actions=statement.actions,
        resources=statement.resources,
        conditions={**statement.conditions, **principal_condition(role_arn)},
    )


def serving_data_access(at: PromotionResources, config: ModelConfig) -> dict[str, DataAccess]:
    """Each serving principal's use of the training account's data, by purpose."""
    script = config.training.script
    return {
        ENDPOINT: endpoint_data_access(at, serves_source=bool(script and script.framework_image)),
        APPROVAL: function_data_access(at, evaluation=False),
        EVALUATION: function_data_access(at, evaluation=True),
        OPERATOR: function_data_access(at, evaluation=True),
    }


def admit_events(scope: Construct, construct_id: str, names: ResourceNames, sender: str, sources: list[str]) -> None:
    """This account's default bus takes `sources`' events from `sender`'s account."""
    stack = cdk.Stack.of(scope)
    events.CfnEventBusPolicy(
        scope,
        construct_id,
        event_bus_name="default",
        statement_id=f"{names.model}-from-{sender}"[:64],
        statement={
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{sender}:root"},
            "Action": "events:PutEvents",
            "Resource": f"arn:aws:events:{stack.region}:{stack.account}:event-bus/default",
            "Condition": {"StringEquals": {"events:source": sources}},
        },
    )


def forward(
    scope: Construct, construct_id: str, description: str, pattern: events.EventPattern, receiver: str
) -> events.Rule:
    """A rule that sends matching events to `receiver`'s default bus (same region)."""
    region = cdk.Stack.of(scope).region
    bus = events.EventBus.from_event_bus_arn(
        scope, f"{construct_id}Bus", f"arn:aws:events:{region}:{receiver}:event-bus/default"
    )
    return events.Rule(
        scope, construct_id, description=description, event_pattern=pattern, targets=[targets.EventBus(bus)]
    )


def failure_alarm_pattern(alarm_arn: str) -> events.EventPattern:
    return events.EventPattern(source=["aws.cloudwatch"], detail_type=[ALARM_STATE_CHANGE], resources=[alarm_arn])


def group_policy(names: ResourceNames, config: ModelConfig) -> dict[str, Any]:
    """The model package group's resource policy, for the accounts other than the registry's:
    the training pipeline registers versions (CreateModelPackage; AddTags, as the pipeline tags
    what it creates); the serving functions list, read and update (stage, lifecycle) them, and
    deploy them (CreateModel from a package) when the endpoint runs the package's own image.
    Nothing for the registry's own account, whose IAM decides."""
    group_arn = names.model_package_group_arn
    packages = (
        f"arn:aws:sagemaker:{names.region}:{names.registry_account}:model-package/{names.model_package_group.lower()}/*"
    )
    statements: list[dict[str, Any]] = []
    if names.account != names.registry_account:
        statements.append(
            {
                "Sid": "TrainingRegisters",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{names.account}:root"},
                "Action": ["sagemaker:CreateModelPackage", "sagemaker:AddTags"],
                "Resource": [group_arn, packages],
                "Condition": principal_condition(names.role_arn),
            }
        )
    if names.serving_account != names.registry_account:
        functions = [names.serving_role_arn(purpose) for purpose in naming.PROMOTION_ROLES]
        statements += [
            {
                "Sid": "ServingLists",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{names.serving_account}:root"},
                "Action": ["sagemaker:ListModelPackages"],
                # The action's resource type is model-package (Service Authorization Reference,
                # "Actions defined by Amazon SageMaker"), as in AWS's cross-account example.
                "Resource": [group_arn, packages],
                "Condition": {"ArnEquals": {"aws:PrincipalArn": functions}},
            },
            {
                "Sid": "ServingPromotes",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{names.serving_account}:root"},
                "Action": [
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:UpdateModelPackage",
                    *(["sagemaker:CreateModel"] if naming.serves_package_image(config) else []),
                ],
                "Resource": [packages],
                "Condition": {"ArnEquals": {"aws:PrincipalArn": functions}},
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def registry_events(scope: Construct, names: ResourceNames) -> None:
    """In the registry's account: approvals to the serving account, approval notices to the
    training account's alert topic."""
    if names.serving_account != names.registry_account:
        forward(
            scope,
            "ForwardApprovals",
            f"{names.model_package_group}: approved versions, to the serving account's promotion",
            approved_pattern(names.model_package_group),
            names.serving_account,
        )
    if names.account != names.registry_account:
        forward(
            scope,
            "ForwardAwaitingApproval",
            f"{names.model_package_group}: versions waiting for approval, to the training account's alerts",
            awaiting_approval_pattern(names.model_package_group),
            names.account,
        )


# ---- the training account's side


class TrainingGrants(Construct):
    """In the training account, when the registry or the endpoint is elsewhere: the resource
    policies that admit the other accounts, the re-arm role, the champion pointer's seed (the
    promotion that seeds it in one account is not here) and the serving failure alarm's alert."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ModelConfig,
        names: ResourceNames,
        bucket: s3.Bucket,
        key: kms.Key,
        table: dynamodb.TableV2,
        settings: Settings,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        # Each other account's events, one bus statement a sender: registry approval notices (to
        # the alert topic), the serving failure alarm.
        senders: dict[str, list[str]] = {}
        if names.registry_account != names.account:
            senders.setdefault(names.registry_account, []).append("aws.sagemaker")
            self._let_the_registry_read_versions(names, bucket, key)
        if names.serving_account != names.account:
            senders.setdefault(names.serving_account, []).append("aws.cloudwatch")
        for sender, sources in senders.items():
            admit_events(self, f"EventsFrom{sender}", names, sender, sources)
        if names.serving_account == names.account:
            return
        at = PromotionResources(
            names,
            bucket,
            key,
            config.promotion.endpoint(names.model),
            naming.guardrail_alarms(config.promotion.endpoint(names.model)),
            retraining_alarm_names(config),
            settings,
            table.table_arn,
        )
        for purpose, access in serving_data_access(at, config).items():
            self._admit(names, purpose, access, bucket, key, table)
        self.rearm_role = self._rearm_role(names, config)
        self.champion_seed = seed_champion(self, config, names, bucket, key)
        alarm = naming.failures_alarm(names.model, "promotion")
        events.Rule(
            self,
            "ServingFailuresRule",
            description=f"{alarm} (serving account): to the alert topic",
            event_pattern=failure_alarm_pattern(names.alarm_arn(alarm, names.serving_account)),
            targets=[
                targets.SnsTopic(
                    topic,
                    message=events.RuleTargetInput.from_text(
                        f"[{names.model}] {alarm} in the serving account {names.serving_account} is "
                        f"{events.EventField.from_path('$.detail.state.value')}: a promotion function invocation "
                        "failed after its retries; its event and error are in that account's failure queue."
                    ),
                )
            ],
        )

    def _let_the_registry_read_versions(self, names: ResourceNames, bucket: s3.Bucket, key: kms.Key) -> None:
        """A version registered in another account's group keeps its model data and reports here:
        the registry account reads them (Studio shows the evaluation; "Register a Model Version
        from a Different Account", SageMaker developer guide, asks the artifacts' owner to admit
        the registry account to the objects and their key)."""
        registry = iam.AccountPrincipal(names.registry_account)
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="RegistryReadsVersions",
                principals=[registry],
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(names.layout.key(naming.EXECUTIONS) + "*")],
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="RegistryDecryptsVersions",
                principals=[registry],
                actions=["kms:Decrypt", "kms:DescribeKey"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"kms:ViaService": f"s3.{names.region}.amazonaws.com"}},
            )
        )

    def _admit(
        self,
        names: ResourceNames,
        purpose: str,
        access: DataAccess,
        bucket: s3.Bucket,
        key: kms.Key,
        table: dynamodb.TableV2,
    ) -> None:
        role = names.serving_role_arn(purpose)
        account, title = names.serving_account, purpose.title()
        for statement in access.bucket_statements:
            bucket.add_to_resource_policy(granted(statement, account, role, f"{title}{statement.sid}"))
        key_statements = [iam.PolicyStatement(sid="Key", actions=access.key_actions, resources=["*"])]
        if access.key_grants:
            key_statements.append(
                iam.PolicyStatement(
                    sid="KeyGrantsForEndpoint",
                    actions=["kms:CreateGrant"],
                    resources=["*"],  # in a key policy, "*" is this key
                    conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                )
            )
        for statement in key_statements:
            key.add_to_resource_policy(granted(statement, account, role, f"{title}{statement.sid}"))
        if access.table_actions:
            statement = iam.PolicyStatement(actions=access.table_actions, resources=["*"])
            table.add_to_resource_policy(granted(statement, account, role, f"{title}AuditTrail"))

    def _rearm_role(self, names: ResourceNames, config: ModelConfig) -> iam.Role:
        rearmers = [names.serving_role_arn(EVALUATION), names.serving_role_arn(OPERATOR)]
        role = iam.Role(
            self,
            "RearmRole",
            role_name=names.rearm_role_arn.rsplit("/", 1)[-1],
            assumed_by=iam.AccountPrincipal(names.serving_account).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": rearmers}}
            ),
            description=f"{names.model}: the serving account's evaluation (or operator) re-arms the retraining alarms",
        )
        iam.Policy(
            self,
            "RearmPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="RearmRetrainingAlarms",
                    actions=["cloudwatch:SetAlarmState"],
                    resources=[names.alarm_arn(name) for name in retraining_alarm_names(config)],
                )
            ],
        )
        return role


# ---- the registry's stack, when it has an account of its own


class RegistryStack(cdk.Stack):
    """The model package group in the registry account, its policy and its event forwarding."""

    def __init__(self, scope: Construct, *, names: ResourceNames, config: ModelConfig) -> None:
        super().__init__(
            scope,
            names.stack_of("registry"),
            env=cdk.Environment(account=names.registry_account, region=names.region),
            description=f"Model Registry of {names.model}: the model package group, shared with its other accounts",
        )
        cdk.Tags.of(self).add("model", names.model)
        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=names.model_package_group,
            model_package_group_description=f"Versions of {names.model}, registered by {names.pipeline}",
            model_package_group_policy=group_policy(names, config),
        )
        registry_events(self, names)


# ---- the serving account's stack


class ServingStack(cdk.Stack):
    """The endpoint's role, guardrails and promotion functions in the serving account, with a key
    of its own for its own logs, queue and settings, the job image's copy, and its dashboard."""

    def __init__(
        self,
        scope: Construct,
        *,
        config: ModelConfig,
        names: ResourceNames,
        training_image: str,
        staging: Path,
    ) -> None:
        super().__init__(
            scope,
            names.stack_of("serving"),
            env=cdk.Environment(account=names.serving_account, region=names.region),
            description=f"Serving of {names.model}: endpoint role, deployment guardrails, promotion through shadow",
        )
        cdk.Tags.of(self).add("model", names.model)
        self.key = retained_key(
            self,
            f"alias/{names.model}-serving",
            f"{names.model} serving account: promotion logs, settings, failure queue",
            names.region,
            names.serving_account,
        )
        self.image = job_image(self, staging)
        serving_image = str(concrete(self, self.image.image_uri, names, account=names.serving_account))
        if naming.image_copy(training_image, names.account, names.serving_account) != serving_image:
            raise LoopError(
                f"{names.model}: the job image's copy in the serving account is {serving_image}, where the promotion "
                f"derives it from {training_image} (pipelines.naming.image_copy); both accounts must use the same CDK "
                "bootstrap qualifier"
            )
        training_bucket = s3.Bucket.from_bucket_name(self, "TrainingBucket", names.bucket)
        settings = Settings(training_bucket, training_settings_uri(config))
        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=naming.dashboard(names.model, "serving")
        )
        self.promotion = ModelPromotion(
            self,
            "Promotion",
            config=config,
            names=names,
            key=self.key,
            bucket=training_bucket,
            image_repository=self.image.repository,
            audit_table_arn=names.audit_table_arn,
            settings=settings,
            staging=staging,
            dashboard=self.dashboard,
            remote=True,
        )
        alarm = naming.failures_alarm(names.model, "promotion")
        self.failures_alarm = cloudwatch.Alarm(
            self,
            "FailedEventsAlarmPromotion",
            alarm_name=alarm,
            alarm_description=(
                f"{names.model} promotion functions: an invocation failed after its retries; its event and error are "
                "in the queue (the state change goes to the training account's alert topic)"
            ),
            metric=self.promotion.failed_events.metric_number_of_messages_sent(
                period=cdk.Duration.minutes(5), statistic="Sum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        forward(
            self,
            "ForwardFailures",
            f"{alarm}: state changes to the training account's alert topic",
            failure_alarm_pattern(names.alarm_arn(alarm, names.serving_account)),
            names.account,
        )
        if names.registry_account != names.serving_account:
            admit_events(self, "RegistryEvents", names, names.registry_account, ["aws.sagemaker"])
        acknowledge_function_scans(self)


def training_settings_uri(config: ModelConfig) -> str:
    """The config object the training account's stack deployed (every function's settings)."""
    from pipelines.definition.builder import artifacts

    return artifacts(config)["config"].uri


def stacks_for(scope: Construct, config: ModelConfig, staging: Path, *, deployed: ModelConfig) -> Sequence[cdk.Stack]:
    """The registry's and the serving account's stacks beside the training account's, whose
    deployed config (its image, bucket and role) is `deployed`."""
    names = ResourceNames.of(config)
    made: list[cdk.Stack] = []
    if names.registry_account != names.account:
        made.append(RegistryStack(scope, names=names, config=config))
    if names.serving_account != names.account:
        image = deployed.pipeline.image_uri
        assert image is not None
        made.append(ServingStack(scope, config=deployed, names=names, training_image=image, staging=staging))
    return made
