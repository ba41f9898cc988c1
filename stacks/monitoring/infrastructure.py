"""Monitoring: the drift monitor job on a schedule, the CloudWatch alarms of `pipelines.monitoring.alarms`
and a dashboard (drift per feature, performance, pipeline runs; the promotion construct adds its
own widgets, promotion decisions among them).

Schedule: an EventBridge Scheduler schedule on the clock's boundaries (`drift.monitor_schedule`)
invokes the monitor launcher function with the CreateProcessingJob request for the window that
just ended; the launcher checks that the job's inputs exist and starts the job, or records why
there is nothing to judge yet (pipelines.monitoring.launch: a job whose S3 input matches no object
fails, which after `cdk deploy` would be every run until traffic, labels and a champion exist).
Failures go to one queue, with an alarm to the alert topic: the schedule's dead-letter queue
(Scheduler could not invoke the launcher), the launcher's on-failure destination (it raised after
Lambda's retries), and monitor jobs that fail after they started ("SageMaker Processing Job State
Change" to Failed). The request is checked against botocore's service model in tests/infra.
The job's request and inputs: pipelines.monitoring.job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from pipelines import naming
from pipelines.config import ModelConfig
from pipelines.drift.metrics import DRIFTED_FEATURE_COUNT, PERFORMANCE_METRICS, model_dimensions
from pipelines.gates import catalog
from pipelines.monitoring.alarms import AlarmSpec, alarm_specs, monitor_silent_spec
from pipelines.monitoring.job import MODEL_TAG, monitor_inputs, monitor_job_request, monitor_launch
from pipelines.monitoring.launch import JUDGE_WINDOW_END
from pipelines.naming import ResourceNames
from stacks.functions import logs_statement, staged_function
from stacks.nag import acknowledge


def to_alarm(scope: Construct, spec: AlarmSpec) -> cloudwatch.Alarm:
    metric = cloudwatch.Metric(
        namespace=spec.namespace,
        metric_name=spec.metric_name,
        dimensions_map=spec.dimensions_map,
        statistic=spec.statistic,
        period=cdk.Duration.seconds(spec.period_seconds),
    )
    return cloudwatch.Alarm(
        scope,
        spec.name,
        alarm_name=spec.name,
        alarm_description=spec.description,
        metric=metric,
        threshold=spec.threshold,
        comparison_operator=cloudwatch.ComparisonOperator(_COMPARISON[spec.comparison]),
        evaluation_periods=spec.evaluation_periods,
        datapoints_to_alarm=spec.datapoints_to_alarm,
        treat_missing_data=cloudwatch.TreatMissingData(_MISSING[spec.treat_missing_data]),
    )


_COMPARISON = {
    "GreaterThanOrEqualToThreshold": "GREATER_THAN_OR_EQUAL_TO_THRESHOLD",
    "GreaterThanThreshold": "GREATER_THAN_THRESHOLD",
    "LessThanThreshold": "LESS_THAN_THRESHOLD",
    "LessThanOrEqualToThreshold": "LESS_THAN_OR_EQUAL_TO_THRESHOLD",
}
_MISSING = {"missing": "MISSING", "notBreaching": "NOT_BREACHING", "breaching": "BREACHING", "ignore": "IGNORE"}


def monitor_job_failed_pattern(model: str) -> events.EventPattern:
    """This model's monitor jobs failing after they started. The event's detail is the job's
    description ("SageMaker Processing Job State Change", "Events that Amazon SageMaker AI sends
    to Amazon EventBridge": https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html)."""
    return events.EventPattern(
        source=["aws.sagemaker"],
        detail_type=["SageMaker Processing Job State Change"],
        detail={
            "ProcessingJobStatus": ["Failed"],
            "ProcessingJobName": [{"prefix": f"{naming.monitor_job_prefix(model)}-"}],
        },
    )


def monitor_job_completed_pattern(model: str) -> events.EventPattern:
    """This model's monitor jobs completing (same event as `monitor_job_failed_pattern`)."""
    return events.EventPattern(
        source=["aws.sagemaker"],
        detail_type=["SageMaker Processing Job State Change"],
        detail={
            "ProcessingJobStatus": ["Completed"],
            "ProcessingJobName": [{"prefix": f"{naming.monitor_job_prefix(model)}-"}],
        },
    )


# The retrain signals besides drifted features and the realized SLO, each a graph of its metric.
SIGNAL_KINDS = {
    "estimated_performance": "Estimated performance (scores, before labels) vs realized",
    "label_drift": "Label drift (Cohen's h of the positive rate)",
    "ood_share": "Largest share of a feature's values outside training",
}


class DriftMonitoring(Construct):
    """Attributes: `alarms` (name -> Alarm), `retraining_alarms` (names), `silent` (the alarm on the
    monitor judging no window; its owner routes it), `schedule`, `launcher`, `failures` (the queue
    of failed runs), `job_failed_rule`, `dashboard`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ModelConfig,
        names: ResourceNames,
        image_uri: str,
        job_role: iam.Role,
        key: kms.IKey,
        bucket: s3.IBucket,
        staging: Path,
    ) -> None:
        super().__init__(scope, construct_id)
        specs = alarm_specs(config)
        self.alarms = {spec.name: to_alarm(self, spec) for spec in specs}
        self.retraining_alarms = [spec.name for spec in specs if spec.triggers_retraining]
        self.silent = to_alarm(self, monitor_silent_spec(config))

        request = monitor_job_request(config, image_uri=image_uri, role_arn=job_role.role_arn, key_arn=key.key_arn)
        launcher = staged_function(
            self,
            "monitoring",
            staging,
            key=key,
            role_description=f"{names.model}: starts the drift monitor job when its inputs exist",
            description=f"{names.model}: drift monitor launcher (skips runs with nothing to judge yet)",
            environment={},
        )
        self.launcher, self.failures = launcher.function, launcher.failures
        self._grant_launcher(launcher.role, launcher.log_group, config, names, job_role, key, bucket)

        scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": names.account}}
            ),
            description=f"{names.model}: invokes the drift monitor launcher on schedule",
        )
        scheduler_policy = iam.Policy(
            self,
            "SchedulerPolicy",
            roles=[scheduler_role],
            statements=[
                iam.PolicyStatement(
                    sid="Launch", actions=["lambda:InvokeFunction"], resources=[self.launcher.function_arn]
                ),
                iam.PolicyStatement(
                    sid="DeadLetters", actions=["sqs:SendMessage"], resources=[self.failures.queue_arn]
                ),
                # The schedule's input is encrypted with the key, and so is the dead-letter queue.
                iam.PolicyStatement(sid="Key", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn]),
            ],
        )
        self.schedule = scheduler.CfnSchedule(
            self,
            "MonitorSchedule",
            name=naming.monitor_schedule(names.model),
            description=f"{names.model}: drift monitor ({config.drift.schedule}, on the clock's boundaries, UTC)",
            schedule_expression=config.drift.monitor_schedule,
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            kms_key_arn=key.key_arn,
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.launcher.function_arn,
                role_arn=scheduler_role.role_arn,
                input=cdk.Stack.of(self).to_json_string(monitor_launch(config, request)),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=3600, maximum_retry_attempts=3
                ),
                # "Configuring a dead-letter queue for EventBridge Scheduler":
                # https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(arn=self.failures.queue_arn),
            ),
        )
        self.schedule.node.add_dependency(scheduler_policy)
        self.job_failed_rule = events.Rule(
            self,
            "JobFailedRule",
            description=f"{names.model}: a monitor job that failed after it started",
            event_pattern=monitor_job_failed_pattern(names.model),
            targets=[targets.SqsQueue(self.failures)],
        )
        # A sharded run's profile stage completed: the launcher plans the judge job
        # (pipelines.monitoring.launch.plan_judge); it ignores every other monitor job.
        self.shards_done_rule = events.Rule(
            self,
            "ShardsDoneRule",
            description=f"{names.model}: a monitor job completed (a sharded run's profile stage starts its judge)",
            event_pattern=monitor_job_completed_pattern(names.model),
            targets=[
                targets.LambdaFunction(
                    self.launcher,
                    event=events.RuleTargetInput.from_object(
                        {
                            # the window end is the completed job's, in its name: no Scheduler placeholder
                            # here, where <...> is the input transformer's own syntax
                            "launch": monitor_launch(config, request, window_end=JUDGE_WINDOW_END),
                            "completed": {
                                "detail": {
                                    "ProcessingJobName": events.EventField.from_path("$.detail.ProcessingJobName"),
                                    "ProcessingJobStatus": events.EventField.from_path("$.detail.ProcessingJobStatus"),
                                }
                            },
                        }
                    ),
                    dead_letter_queue=self.failures,
                    retry_attempts=3,
                )
            ],
        )
        metrics = iam.Policy(
            self,
            "MonitorMetrics",
            roles=[job_role],
            statements=[
                iam.PolicyStatement(
                    sid="DriftMetrics",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringEquals": {"cloudwatch:namespace": config.drift.metric_namespace}},
                )
            ],
        )
        acknowledge(
            metrics,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:PutMetricData has no resource type; the namespace condition limits it to the drift metrics.",
        )
        self.dashboard = self._dashboard(config, names, specs)

    def _grant_launcher(
        self,
        role: iam.Role,
        log_group: Any,
        config: ModelConfig,
        names: ResourceNames,
        job_role: iam.Role,
        key: kms.IKey,
        bucket: s3.IBucket,
    ) -> None:
        """Exactly what pipelines.monitoring.launch calls (tests/infra/test_functions.py): it lists
        the hour partitions a run needs, reads the champion's baseline and the stored hour
        profiles' object lists, and writes the run's manifests."""
        job_arn = f"arn:aws:sagemaker:{names.region}:{names.account}:{naming.monitor_job_pattern(names.model)}"
        inputs = monitor_inputs(config)

        def key_of(uri: str) -> str:
            return uri.removeprefix(f"s3://{names.bucket}/")

        hours, runs = key_of(naming.monitor_hours_prefix(config)), key_of(naming.monitor_runs_prefix(config))
        # Every key it reads is listable too, so a missing one answers NoSuchKey, not AccessDenied
        # ("Permissions", GetObject API reference: https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
        partitioned = [key_of(inputs["capture"]), key_of(inputs["ground_truth"]), hours, runs]
        listed = sorted([key_of(inputs["config"]), key_of(inputs["baseline"]), *(p + "*" for p in partitioned)])
        object_arn = f"arn:aws:s3:::{names.bucket}/"
        policy = iam.Policy(
            self,
            "LauncherPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="StartMonitorJob",
                    actions=["sagemaker:CreateProcessingJob", "sagemaker:AddTags"],
                    resources=[job_arn],
                    conditions={"StringEquals": {f"aws:RequestTag/{MODEL_TAG}": names.model}},
                ),
                iam.PolicyStatement(
                    sid="PassJobRole",
                    actions=["iam:PassRole"],
                    resources=[job_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
                # SageMaker creates grants on the key for the job's encrypted volume, as for the
                # pipeline's jobs (kms:GrantIsForAWSResource: only grant requests carry it).
                iam.PolicyStatement(sid="JobVolumeKey", actions=["kms:DescribeKey"], resources=[key.key_arn]),
                iam.PolicyStatement(
                    sid="JobVolumeKeyGrants",
                    actions=["kms:CreateGrant"],
                    resources=[key.key_arn],
                    conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                ),
                iam.PolicyStatement(
                    sid="HoursOfARun",
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": listed}},
                ),
                iam.PolicyStatement(
                    sid="BaselineAndStoredHours",
                    actions=["s3:GetObject"],
                    resources=[
                        object_arn + key_of(inputs["baseline"]),
                        f"{object_arn}{hours}*/{naming.HOUR_OBJECTS}",
                        f"{object_arn}{runs}*/{naming.BASELINE_PROFILE}",
                    ],
                ),
                iam.PolicyStatement(
                    sid="RunManifestsAndBaseline",
                    actions=["s3:PutObject"],
                    resources=[f"{object_arn}{runs}*/manifests/*", f"{object_arn}{runs}*/{naming.BASELINE_PROFILE}"],
                ),
                # The bucket's objects are encrypted with the key: reading one decrypts, writing one
                # generates a data key (SSE-KMS, through S3 only).
                iam.PolicyStatement(
                    sid="ObjectKey",
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{names.region}.amazonaws.com"}},
                ),
                logs_statement(log_group),
            ],
        )
        self.launcher.node.add_dependency(policy)
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{job_arn}]",
            "Monitor jobs are named <model>-<hash>-<window end>, a window a job, and tagged with their model.",
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{object_arn}{hours}*/{naming.HOUR_OBJECTS}]",
            "Stored hours are keyed by hour and baseline (yyyy/mm/dd/hh/<baseline>/objects.json); only their "
            "object lists are read.",
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{object_arn}{runs}*/manifests/*]",
            "Each monitor run writes its input manifests under its own job name.",
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{object_arn}{runs}*/{naming.BASELINE_PROFILE}]",
            "Each monitor run pins the champion's baseline it planned with under its own job name.",
        )

    def _dashboard(self, config: ModelConfig, names: ResourceNames, specs: list[AlarmSpec]) -> cloudwatch.Dashboard:
        namespace, model = config.drift.metric_namespace, names.model
        period = cdk.Duration.seconds(config.drift.alarm_period_seconds)

        def metric(name: str, dimensions: dict[str, str], label: str, namespace: str = namespace) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=namespace,
                metric_name=name,
                dimensions_map=dimensions,
                statistic="Maximum",
                period=period,
                label=label,
            )

        drift_widgets = []
        for feature in config.model.features:
            feature_specs = [s for s in specs if s.feature == feature.name]
            drift_widgets.append(
                cloudwatch.GraphWidget(
                    title=f"Drift: {feature.name}",
                    left=[
                        metric(s.metric_name, s.dimensions_map, s.drift_statistic or s.metric_name)
                        for s in feature_specs
                    ],
                    left_annotations=[
                        cloudwatch.HorizontalAnnotation(value=s.threshold, label=f"{s.drift_statistic} threshold")
                        for s in feature_specs
                    ],
                    width=8,
                )
            )
        performance = cloudwatch.GraphWidget(
            title="Performance on labelled windows",
            left=[
                metric(PERFORMANCE_METRICS[key], model_dimensions(model), key)
                for key in catalog.overall(config.model.problem_type)
            ],
            width=12,
        )
        drifted = cloudwatch.GraphWidget(
            title="Drifted features",
            left=[metric(DRIFTED_FEATURE_COUNT, model_dimensions(model), "drifted features")],
            left_annotations=[
                cloudwatch.HorizontalAnnotation(value=config.drift.min_drifted_features, label="retraining threshold")
            ],
            width=12,
        )
        runs = cloudwatch.GraphWidget(
            title="Pipeline runs",
            left=[
                cloudwatch.Metric(
                    namespace="AWS/Sagemaker/ModelBuildingPipeline",
                    metric_name=name,
                    dimensions_map={"PipelineName": names.pipeline},
                    statistic="Sum",
                    period=cdk.Duration.days(1),
                    label=name,
                )
                for name in ("ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed", "ExecutionStopped")
            ],
            width=12,
        )
        signals = [s for s in specs if s.kind in SIGNAL_KINDS]
        alarms = cloudwatch.AlarmStatusWidget(
            title="Retrain signals (retrain- starts a run, watch- only shows) and the silent monitor",
            alarms=[*(self.alarms[s.name] for s in specs if s.kind not in ("feature_drift",)), self.silent],
            width=24,
        )
        signal_widgets = [
            cloudwatch.GraphWidget(
                title=SIGNAL_KINDS[s.kind],
                left=[
                    metric(
                        s.metric_name, s.dimensions_map, "estimated" if s.kind == "estimated_performance" else s.kind
                    ),
                    *(
                        [metric(s.metric_name, model_dimensions(model), "realized, labelled windows")]
                        if s.kind == "estimated_performance"
                        else []
                    ),
                ],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=s.threshold, label=s.name)],
                width=8,
            )
            for s in signals
        ]
        return cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=naming.dashboard(model),
            widgets=[[alarms], [drifted, performance], signal_widgets, [runs], drift_widgets],
        )
