"""The retrain trigger: alarm events in, at most one pipeline execution at a time out.

EventBridge rules send (1) this model's retraining alarms going to ALARM, (2) this pipeline's
executions reaching a terminal status and (3) a sweep schedule to one function, which runs
pipelines.trigger.service against a DynamoDB table (state, seen event ids, audit trail; KMS, PITR).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from pipelines.naming import ResourceNames
from pipelines.trigger.events import TERMINAL_STATUSES
from stacks.functions import Settings, logs_statement, staged_function

SWEEP = "rate(1 hour)"


def alarm_pattern(alarm_arns: Sequence[str]) -> events.EventPattern:
    return events.EventPattern(
        source=["aws.cloudwatch"],
        detail_type=["CloudWatch Alarm State Change"],
        resources=list(alarm_arns),
        detail={"state": {"value": ["ALARM"]}},
    )


def execution_ended_pattern(pipeline_arn: str) -> events.EventPattern:
    return events.EventPattern(
        source=["aws.sagemaker"],
        detail_type=["SageMaker Model Building Pipeline Execution Status Change"],
        detail={"pipelineArn": [pipeline_arn], "currentPipelineExecutionStatus": list(TERMINAL_STATUSES)},
    )


class Trigger(Construct):
    """Attributes: `table`, `function`, `dead_letters`, `alarm_rule`, `execution_rule`, `sweep_rule`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        alarm_names: Sequence[str],
        key: kms.IKey,
        settings: Settings,
        retry_failed_runs: bool,
        staging: Path,
    ) -> None:
        """`settings` is where the function reads the `trigger` section (cooldown, max staleness,
        retries); `retry_failed_runs` decides whether its role may read the alarms' states."""
        super().__init__(scope, construct_id)
        self.table = dynamodb.TableV2(
            self,
            "AuditTable",
            table_name=names.audit_table,
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(key),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute="expires_at",
            deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        staged = staged_function(
            self,
            "trigger",
            staging,
            key=key,
            role_description=f"{names.pipeline} retrain trigger",
            description=f"Retrain trigger of {names.pipeline}: dedupe, cooldown, single flight, audit",
            # No reserved concurrency: decisions are serialised by conditional writes, and an
            # account at the default quota rejects any reservation (pipelines.promotion.lease).
            environment=settings.environment(),
        )
        self.function, role, log_group = staged.function, staged.role, staged.log_group
        self.dead_letters = staged.failures
        retried = [names.alarm_arn(a) for a in alarm_names] if retry_failed_runs else []
        self._grant(role, log_group, names, key, settings, retried)

        target = targets.LambdaFunction(self.function, retry_attempts=8, max_event_age=cdk.Duration.hours(24))
        self.alarm_rule = events.Rule(
            self,
            "AlarmRule",
            description=f"{names.model}: retraining alarms going to ALARM",
            event_pattern=alarm_pattern([names.alarm_arn(a) for a in alarm_names]),
            targets=[target],
        )
        self.execution_rule = events.Rule(
            self,
            "ExecutionEndedRule",
            description=f"{names.pipeline}: executions reaching a terminal status release the gate",
            event_pattern=execution_ended_pattern(names.pipeline_arn),
            targets=[target],
        )
        self.sweep_rule = events.Rule(
            self,
            "SweepRule",
            description=f"{names.pipeline}: start triggers whose cooldown ended; retries; max-staleness check",
            schedule=events.Schedule.expression(SWEEP),
            targets=[target],
        )

    def _grant(
        self,
        role: iam.Role,
        log_group: logs.LogGroup,
        names: ResourceNames,
        key: kms.IKey,
        settings: Settings,
        retried_alarm_arns: list[str],
    ) -> None:
        """Exactly what pipelines.trigger.aws calls (tests/infra/test_functions.py);
        DescribeAlarms only where failed runs are retried (`trigger.retry_failed_runs`)."""
        pipeline_arn = names.pipeline_arn
        retry = [
            iam.PolicyStatement(
                sid="RetryAlarmState",  # a failed run is retried only while its alarm is in ALARM
                actions=["cloudwatch:DescribeAlarms"],
                resources=retried_alarm_arns,
            )
        ]
        policy = iam.Policy(
            self,
            "FunctionPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="Pipeline",
                    actions=["sagemaker:StartPipelineExecution", "sagemaker:ListPipelineExecutions"],
                    resources=[pipeline_arn],
                ),
                *(retry if retried_alarm_arns else []),
                settings.statement(),
                iam.PolicyStatement(
                    sid="AuditTable",
                    actions=["dynamodb:GetItem", "dynamodb:PutItem"],
                    resources=[self.table.table_arn],
                ),
                iam.PolicyStatement(
                    sid="TableAndSettingsKey",
                    actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                    resources=[key.key_arn],
                ),
                logs_statement(log_group),
            ],
        )
        self.function.node.add_dependency(policy)
        self.policy = policy
