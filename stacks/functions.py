"""The zip functions (retrain trigger, alerts, PagerDuty, monitor launcher): staged code, a role of
their own, a one-year log group, and a failure queue.

Each construct that calls `staged_function` adds its own policy to `role` (exactly the calls its
handler makes) and its own triggers. Every one of these functions is invoked asynchronously
(EventBridge, Scheduler, SNS), so each gets an on-failure destination: an invocation that still
fails after Lambda's two retries lands in `failures` with the error, instead of being dropped
("Retaining records of asynchronous invocations", Lambda developer guide:
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html). The ids are
fixed ("Function", "FunctionRole", "FunctionLogs", "FailedEvents", "AsyncFailures") inside the
calling construct, so the logical ids are the caller's; a construct with two functions gives
each its own child scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from pipelines import clients
from stacks.nag import acknowledge
from stacks.packaging import stage_function

RUNTIME = lambda_.Runtime.PYTHON_3_14  # boto3 from the runtime; Powertools vendored (stacks.packaging)
ASYNC_RETRIES = 2


@dataclass(frozen=True)
class Settings:
    """Where every function reads its settings: the config object the stack deployed (the jobs'
    `model-config.json`, pipelines.clients.deployed_config). One environment variable names it;
    each function's policy reads that one object and decrypts it with the stack's key."""

    bucket: s3.IBucket
    uri: str

    def environment(self) -> dict[str, str]:
        return {clients.CONFIG_URI: self.uri}

    def statement(self) -> iam.PolicyStatement:
        key = self.uri.removeprefix("s3://").split("/", 1)[1]
        return iam.PolicyStatement(
            sid="Settings", actions=["s3:GetObject"], resources=[self.bucket.arn_for_objects(key)]
        )


@dataclass(frozen=True)
class StagedFunction:
    function: lambda_.Function
    role: iam.Role
    log_group: logs.LogGroup
    failures: sqs.Queue


def log_group(scope: Construct, construct_id: str, key: kms.IKey) -> logs.LogGroup:
    """A one-year log group encrypted with the stack's key (whose policy lets CloudWatch Logs use
    it: stacks.pipeline)."""
    return logs.LogGroup(scope, construct_id, retention=logs.RetentionDays.ONE_YEAR, encryption_key=key)


def logs_statement(group: logs.ILogGroup) -> iam.PolicyStatement:
    """A function's right to write its own log group, and no other."""
    return iam.PolicyStatement(
        sid="Logs", actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[group.log_group_arn]
    )


def failure_queue(scope: Construct, key: kms.IKey, purpose: str) -> sqs.Queue:
    queue = sqs.Queue(
        scope,
        "FailedEvents",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=cdk.Duration.days(14),
    )
    acknowledge(queue, "AwsSolutions-SQS3", f"This queue is the failure destination of {purpose}; it has no consumer.")
    return queue


def on_failure(
    scope: Construct, function: lambda_.IFunction, queue: sqs.IQueue, role: iam.IRole, key: kms.IKey
) -> None:
    """Failed asynchronous invocations go to `queue`. L1 on purpose: the L2 destination grants
    kms:GenerateDataKey* and kms:ReEncrypt*; sending to a KMS-encrypted queue needs these two."""
    lambda_.CfnEventInvokeConfig(
        scope,
        "AsyncFailures",
        function_name=function.function_name,
        qualifier="$LATEST",
        maximum_retry_attempts=ASYNC_RETRIES,
        destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
            on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(destination=queue.queue_arn)
        ),
    )
    policy = iam.Policy(
        scope,
        "FailureDestinationPolicy",
        roles=[role],
        statements=[
            iam.PolicyStatement(sid="FailedEvents", actions=["sqs:SendMessage"], resources=[queue.queue_arn]),
            iam.PolicyStatement(
                sid="FailedEventsKey", actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key.key_arn]
            ),
        ],
    )
    function.node.add_dependency(policy)


def staged_function(
    scope: Construct,
    concern: str,
    staging: Path,
    *,
    key: kms.IKey,
    role_description: str,
    description: str,
    environment: Mapping[str, str],
    handler: str = "handler.handler",
) -> StagedFunction:
    """`stacks/<concern>/runtime/` with its domain modules, on arm64, 256 MB, 60 s; `handler`
    names the module and function in that folder."""
    role = iam.Role(
        scope, "FunctionRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=role_description
    )
    logs_ = log_group(scope, "FunctionLogs", key)
    function = lambda_.Function(
        scope,
        "Function",
        description=description,
        runtime=RUNTIME,
        architecture=lambda_.Architecture.ARM_64,
        handler=handler,
        code=lambda_.Code.from_asset(str(stage_function(concern, staging))),
        role=role,
        log_group=logs_,
        timeout=cdk.Duration.seconds(60),
        memory_size=256,
        environment=dict(environment),
        environment_encryption=key,
    )
    failures = failure_queue(scope, key, description)
    on_failure(scope, function, failures, role, key)
    return StagedFunction(function, role, logs_, failures)


def failures_alarm(
    scope: Construct, construct_id: str, queue: sqs.IQueue, topic: sns.ITopic, name: str, what: str
) -> cloudwatch.Alarm:
    """An alarm, to the alert topic, in every period in which a failed invocation lands in `queue`
    (messages sent, not messages waiting: a queue nobody drains would otherwise stay in ALARM and
    hide every later failure), and its OK to the topic too (PagerDuty resolves the incident)."""
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_name=name,
        alarm_description=f"{what}: an invocation failed after its retries; its event and error are in the queue",
        metric=queue.metric_number_of_messages_sent(period=cdk.Duration.minutes(5), statistic="Sum"),
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
    alarm.add_ok_action(cloudwatch_actions.SnsAction(topic))
    return alarm
