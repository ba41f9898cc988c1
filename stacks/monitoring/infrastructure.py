"""Monitoring: the drift monitor job on a schedule, the CloudWatch alarms of `pipelines.alarms`
and a dashboard (drift per feature, performance, pipeline runs; the promotion construct adds its
own widgets, promotion decisions among them).

Schedule: an EventBridge Scheduler schedule (`drift.schedule`) whose universal target calls
SageMaker CreateProcessingJob directly with the job image and `training_containers.monitor`.
Scheduler names each job from its execution id, retries on throttling, and needs no function
of ours; the request is checked against botocore's service model in tests/infra.
Job inputs (what `training_containers.monitor` reads), all under the model's prefix:
- `config`: the content-addressed `model-config.json` the pipeline's jobs read
  (`pipelines.definition.artifacts` of the deployed config, uploaded by the pipeline construct);
- `capture`: the endpoint's data capture of the `production` variant only,
  `<capture prefix>/<endpoint>/production/` (shadow traffic must not count as production drift);
- `ground_truth`: delayed labels under `ground-truth/`;
- `baseline`: the champion prefix, where promotion keeps `champion.json`, `model.tar.gz` and the
  one `baseline_profile.json` of the model in production.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from pipelines.alarms import AlarmSpec, alarm_specs
from pipelines.config import ModelConfig
from pipelines.definition import artifacts, champion_prefix
from pipelines.drift.metrics import DRIFTED_FEATURE_COUNT, PERFORMANCE_METRICS, model_dimensions
from pipelines.promotion.endpoint import PRODUCTION, capture_prefix
from stacks.nag import acknowledge
from stacks.naming import ResourceNames

PROCESSING = "/opt/ml/processing"
JOB_PREFIX_LIMIT = 26  # ProcessingJobName: 63 characters, 36 of them the scheduler's execution id


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


def monitor_inputs(deployed: ModelConfig, names: ResourceNames) -> dict[str, str]:
    """Input name -> S3 URI of the monitor job (see the module docstring). `deployed` is the
    pipeline construct's `deployed_config`, whose config artifact that construct uploads."""
    endpoint = deployed.promotion.endpoint(deployed.model.name)
    return {
        "config": artifacts(deployed)["config"].uri,
        "capture": f"{capture_prefix(deployed)}/{endpoint}/{PRODUCTION}/",
        # pipelines.promotion.local.ground_truth_prefix (not imported: it loads pandas)
        "ground_truth": f"{names.artifact_prefix}/ground-truth/",
        "baseline": champion_prefix(deployed),
    }


def monitor_job_request(
    config: ModelConfig, names: ResourceNames, *, image_uri: str, role_arn: str, key_arn: str
) -> dict[str, Any]:
    """The CreateProcessingJob request the schedule sends (`<aws.scheduler.*>` filled in by Scheduler)."""
    prefix = names.artifact_prefix
    p = config.pipeline

    def s3_input(name: str, uri: str) -> dict[str, Any]:
        return {
            "InputName": name,
            "S3Input": {
                "S3Uri": uri,
                "LocalPath": f"{PROCESSING}/input/{name}",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
            },
        }

    request: dict[str, Any] = {
        "ProcessingJobName": f"{names.model[: JOB_PREFIX_LIMIT - 1]}-<aws.scheduler.execution-id>",
        "RoleArn": role_arn,
        "AppSpecification": {
            "ImageUri": image_uri,
            "ContainerEntrypoint": ["python3", "-m", "training_containers.monitor"],
            "ContainerArguments": ["--window-end", "<aws.scheduler.scheduled-time>"],
        },
        "ProcessingInputs": [s3_input(name, uri) for name, uri in monitor_inputs(config, names).items()],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "report",
                    "S3Output": {
                        "S3Uri": f"{prefix}/monitoring/<aws.scheduler.execution-id>/",
                        "LocalPath": f"{PROCESSING}/output/report",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ],
            "KmsKeyId": key_arn,
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": p.processing_instance_type,
                "VolumeSizeInGB": 30,
                "VolumeKmsKeyId": key_arn,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": p.processing_max_runtime_seconds},
        "Environment": {"MODEL_NAME": names.model, "METRIC_NAMESPACE": config.drift.metric_namespace},
        "NetworkConfig": {"EnableNetworkIsolation": False, "EnableInterContainerTrafficEncryption": True},
    }
    if p.vpc is not None:
        request["NetworkConfig"]["VpcConfig"] = {
            "SecurityGroupIds": p.vpc.security_group_ids,
            "Subnets": p.vpc.subnet_ids,
        }
    return request


class DriftMonitoring(Construct):
    """Attributes: `alarms` (name -> Alarm), `retraining_alarms` (names), `schedule`, `dashboard`."""

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
    ) -> None:
        super().__init__(scope, construct_id)
        specs = alarm_specs(config)
        self.alarms = {spec.name: to_alarm(self, spec) for spec in specs}
        self.retraining_alarms = [spec.name for spec in specs if spec.triggers_retraining]

        scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": names.account}}
            ),
            description=f"{names.model}: starts the scheduled drift monitor job",
        )
        job_arn = (
            f"arn:aws:sagemaker:{names.region}:{names.account}:processing-job/{names.model[: JOB_PREFIX_LIMIT - 1]}-*"
        )
        policy = iam.Policy(
            self,
            "SchedulerPolicy",
            roles=[scheduler_role],
            statements=[
                iam.PolicyStatement(
                    sid="StartMonitorJob",
                    actions=["sagemaker:CreateProcessingJob", "sagemaker:AddTags"],
                    resources=[job_arn],
                ),
                iam.PolicyStatement(
                    sid="PassJobRole",
                    actions=["iam:PassRole"],
                    resources=[job_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
            ],
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{job_arn}]",
            "Monitor jobs are named <model>-<scheduler execution id>; the id is assigned per invocation.",
        )
        request = monitor_job_request(
            config, names, image_uri=image_uri, role_arn=job_role.role_arn, key_arn=key.key_arn
        )
        self.schedule = scheduler.CfnSchedule(
            self,
            "MonitorSchedule",
            name=f"{names.model}-drift-monitor",
            description=f"{names.model}: drift monitor job ({config.drift.schedule})",
            schedule_expression=config.drift.schedule,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            kms_key_arn=key.key_arn,
            target=scheduler.CfnSchedule.TargetProperty(
                arn="arn:aws:scheduler:::aws-sdk:sagemaker:createProcessingJob",
                role_arn=scheduler_role.role_arn,
                input=cdk.Stack.of(self).to_json_string(request),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=3600, maximum_retry_attempts=3
                ),
            ),
        )
        self.schedule.node.add_dependency(policy)
        key.grant(scheduler_role, "kms:Decrypt", "kms:GenerateDataKey")
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
            left=[metric(name, model_dimensions(model), key) for key, name in PERFORMANCE_METRICS.items()],
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
        alarms = cloudwatch.AlarmStatusWidget(
            title="Retraining alarms", alarms=[self.alarms[name] for name in self.retraining_alarms], width=24
        )
        return cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{model}-retraining",
            widgets=[[alarms], [drifted, performance], [runs], drift_widgets],
        )
