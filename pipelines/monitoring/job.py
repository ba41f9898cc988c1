"""The scheduled drift monitor job as a CreateProcessingJob request, from the config: its inputs,
outputs and resources. The CDK app puts it in the schedule's input (with the stack's role, key and
image); the local loop builds the same request to decide, as the launcher does, whether a run has
anything to judge (pipelines.monitoring.launch).

Inputs (what `training_containers.monitor` reads), all under the model's prefix:
- `config`: the content-addressed `model-config.json` the pipeline's jobs read;
- `capture`: the endpoint's data capture of the `production` variant only,
  `<capture prefix>/<endpoint>/production/` (shadow traffic must not count as production drift);
- `ground_truth`: delayed labels under `ground-truth/` (optional);
- `baseline`: the champion's `baseline_profile.json`, written by promotion beside `champion.json`.
The launcher turns `capture` and `ground_truth` into manifests of the hours a run needs and adds
`hours` (stored hour profiles) or, for a sharded run's judge, `shards`.
Outputs: `report` (a folder a run) and `hours` (the shared hour store, `naming.monitor_hours_prefix`).
"""

from __future__ import annotations

from typing import Any

from pipelines import naming
from pipelines.config import ModelConfig
from pipelines.definition.builder import artifacts
from pipelines.naming import BASELINE_PROFILE, PRODUCTION_VARIANT, champion_prefix

PROCESSING = "/opt/ml/processing"
MODEL_TAG = naming.MODEL_TAG  # on every monitor job: its launcher may create only jobs tagged with its model
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"  # EventBridge Scheduler's context attribute


def monitor_inputs(deployed: ModelConfig) -> dict[str, str]:
    """Input name -> S3 URI of the monitor job (see the module docstring). On AWS `deployed` is
    the pipeline construct's `deployed_config`, whose config artifact that construct uploads."""
    return {
        "config": artifacts(deployed)["config"].uri,
        "capture": naming.variant_capture_prefix(deployed, PRODUCTION_VARIANT),
        "ground_truth": naming.ground_truth_prefix(deployed),
        "baseline": champion_prefix(deployed) + BASELINE_PROFILE,
    }


def monitor_job_request(config: ModelConfig, *, image_uri: str, role_arn: str, key_arn: str) -> dict[str, Any]:
    """The CreateProcessingJob request of a monitor run, without its name and window (the
    launcher adds both: pipelines.monitoring.launch.plan_run)."""
    model = config.model.name
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
        "RoleArn": role_arn,
        "AppSpecification": {
            "ImageUri": image_uri,
            "ContainerEntrypoint": ["python3", "-m", "training_containers.monitor"],
        },
        "ProcessingInputs": [s3_input(name, uri) for name, uri in monitor_inputs(config).items()],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "report",
                    "S3Output": {
                        "S3Uri": naming.layout(config).uri(naming.MONITORING),
                        "LocalPath": f"{PROCESSING}/output/report",
                        "S3UploadMode": "EndOfJob",
                    },
                },
                {  # each hour this run profiled, for every later run that covers it
                    "OutputName": "hours",
                    "S3Output": {
                        "S3Uri": naming.monitor_hours_prefix(config),
                        "LocalPath": f"{PROCESSING}/output/hours",
                        "S3UploadMode": "EndOfJob",
                    },
                },
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
        "Environment": {"MODEL_NAME": model, "METRIC_NAMESPACE": config.drift.metric_namespace},
        "NetworkConfig": {"EnableNetworkIsolation": False, "EnableInterContainerTrafficEncryption": True},
        "Tags": [{"Key": MODEL_TAG, "Value": model}],
    }
    if p.vpc is not None:
        request["NetworkConfig"]["VpcConfig"] = {
            "SecurityGroupIds": p.vpc.security_group_ids,
            "Subnets": p.vpc.subnet_ids,
        }
    return request


def monitor_launch(config: ModelConfig, request: dict[str, Any], window_end: str = SCHEDULED_TIME) -> dict[str, Any]:
    """The launcher's input: the window end (on AWS the time Scheduler fills in), the job name
    prefix, the request, the stores' prefixes and how to size a run (pipelines.monitoring.launch)."""
    drift = config.drift
    return {
        "window_end": window_end,
        "job_name_prefix": naming.monitor_job_prefix(config.model.name),
        "request": request,
        "hours_prefix": naming.monitor_hours_prefix(config),
        "runs_prefix": naming.monitor_runs_prefix(config),
        "period_seconds": drift.alarm_period_seconds,
        "performance_window_hours": drift.performance_window_hours,
        "instance_capture_mb": drift.instance_capture_mb,
        "max_instances": drift.max_instances,
    }
