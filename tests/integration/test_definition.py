"""The pipeline definition: structure, offline build, determinism, and request shapes that
botocore's SageMaker service model accepts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.client import BaseClient
from botocore.validate import ParamValidator

from pipelines.config import ModelConfig
from pipelines.definition import builder as d
from pipelines.gates.rules import gate_names
from pipelines.naming import champion_prefix
from tests.conftest import EXAMPLE_CONFIG, ROOT


@pytest.fixture(scope="module")
def built(config: ModelConfig) -> dict[str, Any]:
    return json.loads(d.definition_json(config))


def steps_by_name(steps: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for step in steps:
        yield step["Name"], step
        if step["Type"] == "Condition":
            yield from steps_by_name(step["Arguments"]["IfSteps"])
            yield from steps_by_name(step["Arguments"]["ElseSteps"])


def test_parameters_carry_the_trigger_context(built: dict[str, Any], config: ModelConfig) -> None:
    parameters = {p["Name"]: p for p in built["Parameters"]}
    assert list(parameters) == ["TriggerReason", "TriggerAlarm", "TriggerMetricValue", "DataWindowEnd", "ChampionUri"]
    assert parameters["TriggerReason"]["DefaultValue"] == "manual"
    assert parameters["ChampionUri"]["DefaultValue"] == champion_prefix(config)


def test_steps_and_branches(built: dict[str, Any]) -> None:
    assert [s["Name"] for s in built["Steps"]] == ["DataPull", "DataValid"]
    data_valid = built["Steps"][1]["Arguments"]
    assert [s["Name"] for s in data_valid["IfSteps"]] == ["Train", "Evaluate", "QualityGates"]
    assert [s["Name"] for s in data_valid["ElseSteps"]] == ["DataValidationFailed"]
    gates = data_valid["IfSteps"][2]["Arguments"]
    assert [s["Name"] for s in gates["IfSteps"]] == ["Register"]
    assert [s["Name"] for s in gates["ElseSteps"]] == ["QualityGatesFailed"]
    assert "MlflowConfig" not in built


def test_conditions_read_the_property_files(built: dict[str, Any], config: ModelConfig) -> None:
    steps = dict(steps_by_name(built["Steps"]))
    (check,) = steps["DataValid"]["Arguments"]["Conditions"]
    assert check["Type"] == "Equals" and check["RightValue"] is True
    assert check["LeftValue"]["Std:JsonGet"] == {
        "PropertyFile": {"Get": "Steps.DataPull.PropertyFiles.DataValidationReport"},
        "Path": "passed",
    }
    paths = [c["LeftValue"]["Std:JsonGet"]["Path"] for c in steps["QualityGates"]["Arguments"]["Conditions"]]
    assert paths == [f"gates.{name}.passed" for name in gate_names(config)]
    assert steps["Evaluate"]["PropertyFiles"] == [
        {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": "evaluation.json"}
    ]


def test_fail_steps_carry_the_job_messages(built: dict[str, Any]) -> None:
    steps = dict(steps_by_name(built["Steps"]))
    assert steps["QualityGatesFailed"]["Arguments"]["ErrorMessage"]["Std:JsonGet"]["Path"] == "summary.failure_message"
    assert steps["DataValidationFailed"]["Arguments"]["ErrorMessage"]["Std:JsonGet"]["Path"] == "failure_message"


def test_jobs_run_the_job_image_with_retries_and_encryption(built: dict[str, Any], config: ModelConfig) -> None:
    steps = dict(steps_by_name(built["Steps"]))
    pull, train, evaluate = steps["DataPull"], steps["Train"], steps["Evaluate"]
    image = d.image_uri(config)
    assert pull["Arguments"]["AppSpecification"]["ImageUri"] == image
    assert pull["Arguments"]["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "-m",
        "training_containers.data_pull",
    ]
    assert pull["Arguments"]["AppSpecification"]["ContainerArguments"] == [
        "--window-end",
        {"Get": "Parameters.DataWindowEnd"},
    ]
    assert train["Arguments"]["AlgorithmSpecification"]["TrainingImage"] == image
    assert train["Arguments"]["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert train["Arguments"]["EnableManagedSpotTraining"] is True
    assert train["Arguments"]["EnableInterContainerTrafficEncryption"] is True
    assert json.loads(train["Arguments"]["HyperParameters"]["class_weight"]) == "balanced"
    assert train["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
    assert "CacheConfig" not in pull and "CacheConfig" not in evaluate
    for step in (pull, train, evaluate):
        kinds = {t for policy in step["RetryPolicies"] for t in policy["ExceptionType"]}
        assert {"SageMaker.CAPACITY_ERROR", "Step.THROTTLING"} <= kinds
    assert pull["Arguments"]["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True


def test_register_step_records_lineage(built: dict[str, Any], config: ModelConfig) -> None:
    register = dict(steps_by_name(built["Steps"]))["Register"]["Arguments"]
    assert register["ModelPackageGroupName"] == "fraud-detector"
    assert register["ModelApprovalStatus"] == "PendingManualApproval"
    metadata = register["CustomerMetadataProperties"]
    assert metadata["TriggerAlarm"] == {"Get": "Parameters.TriggerAlarm"}
    assert metadata["PipelineExecutionArn"] == {"Get": "Execution.PipelineExecutionArn"}
    assert metadata["CodeVersion"] == d.code_version()
    assert metadata["EnvironmentHash"]["Std:JsonGet"]["Path"] == "lineage.environment_hash"
    assert metadata["DatasetManifest"]["Std:Join"]["Values"][1] == "manifest.json"
    assert set(register["ModelMetrics"]) == {"ModelQuality", "ModelDataQuality"}
    env = register["InferenceSpecification"]["Containers"][0]["Environment"]
    assert "SAGEMAKER_PROGRAM" not in env


def test_model_data_quality_points_at_model_monitor_files(built: dict[str, Any]) -> None:
    """Studio reads ModelDataQuality as Model Monitor's statistics.json / constraints.json, which
    DataPull writes from the fresh window; the project's own profile stays in the metadata."""
    register = dict(steps_by_name(built["Steps"]))["Register"]["Arguments"]
    baseline_output = {"Get": "Steps.DataPull.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"}
    assert register["ModelMetrics"]["ModelDataQuality"] == {
        "Statistics": {
            "ContentType": "application/json",
            "S3Uri": {"Std:Join": {"On": "/", "Values": [baseline_output, "statistics.json"]}},
        },
        "Constraints": {
            "ContentType": "application/json",
            "S3Uri": {"Std:Join": {"On": "/", "Values": [baseline_output, "constraints.json"]}},
        },
    }
    # The drift monitor's baseline is still Evaluate's profile, recorded in the metadata only.
    evaluation_output = {"Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"}
    assert register["CustomerMetadataProperties"]["BaselineProfile"] == {
        "Std:Join": {"On": "/", "Values": [evaluation_output, "baseline_profile.json"]}
    }
    assert "DriftCheckBaselines" not in register


def test_sql_source_becomes_an_athena_dataset_definition(built: dict[str, Any], config: ModelConfig) -> None:
    inputs = {i["InputName"]: i for i in built["Steps"][0]["Arguments"]["ProcessingInputs"]}
    athena = inputs["historical"]["DatasetDefinition"]["AthenaDatasetDefinition"]
    assert athena["QueryString"] == config.data.historical.query  # type: ignore[union-attr]
    assert athena["OutputFormat"] == "PARQUET"
    assert inputs["historical"]["DatasetDefinition"]["LocalPath"] == "/opt/ml/processing/input/historical"
    assert inputs["config"]["S3Input"]["S3Uri"] == d.artifacts(config)["config"].uri


def test_auto_approval_and_vpc_from_config(config: ModelConfig) -> None:
    from pipelines.config import Vpc

    pipeline = config.pipeline.model_copy(
        update={
            "vpc": Vpc(subnet_ids=["subnet-1"], security_group_ids=["sg-1"]),
            "network_isolation": True,
            "kms_key_id": "arn:aws:kms:us-east-1:111122223333:key/abc",
        }
    )
    changed = config.model_copy(
        update={"pipeline": pipeline, "registry": config.registry.model_copy(update={"approval": "auto"})}
    )
    steps = dict(steps_by_name(json.loads(d.definition_json(changed))["Steps"]))
    assert steps["Register"]["Arguments"]["ModelApprovalStatus"] == "Approved"
    network = steps["DataPull"]["Arguments"]["NetworkConfig"]
    assert network["VpcConfig"] == {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}
    assert network["EnableNetworkIsolation"] is True
    assert steps["Train"]["Arguments"]["VpcConfig"] == {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}
    assert steps["Train"]["Arguments"]["OutputDataConfig"]["KmsKeyId"].endswith("key/abc")
    assert steps["DataPull"]["Arguments"]["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"].endswith("key/abc")


def test_build_makes_no_aws_call(config: ModelConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def refuse(self: BaseClient, operation: str, params: dict[str, Any]) -> None:
        calls.append(operation)
        raise AssertionError(f"AWS call {operation} while building the definition")

    monkeypatch.setattr(BaseClient, "_make_api_call", refuse)
    text = d.definition_json(config)
    assert calls == [] and '"Name": "Register"' in text


def test_build_is_byte_identical_across_processes() -> None:
    def build() -> bytes:
        return subprocess.run(
            [sys.executable, "-m", "pipelines", "definition", str(EXAMPLE_CONFIG)],
            capture_output=True,
            check=True,
            cwd=ROOT,
        ).stdout

    first, second = build(), build()
    assert len(first) > 10_000 and first == second


# ---- request shapes against botocore's service model


def _resolve(node: Any, parameters: dict[str, str]) -> Any:
    """Stand-in values for pipeline expressions, enough to check request shapes."""
    if isinstance(node, dict):
        if "Get" in node:
            name = node["Get"]
            if name.startswith("Parameters."):
                return parameters[name.removeprefix("Parameters.")]
            return "s3://bucket/resolved" if "S3" in name else "resolved"
        if "Std:Join" in node:
            return node["Std:Join"]["On"].join(str(_resolve(v, parameters)) for v in node["Std:Join"]["Values"])
        if "Std:JsonGet" in node:
            return "resolved"
        return {k: _resolve(v, parameters) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, parameters) for v in node]
    return node


REQUESTS = {
    "Processing": "CreateProcessingJob",
    "Training": "CreateTrainingJob",
    "Transform": "CreateTransformJob",
    "Model": "CreateModel",
    "RegisterModel": "CreateModelPackage",
}
# The name each request needs, which Pipelines supplies at run time (the SDK pops it).
NAMES = {"Processing": "ProcessingJobName", "Training": "TrainingJobName", "Transform": "TransformJobName"}
NAMES["Model"] = "ModelName"


def validate_request(step: dict[str, Any], parameters: dict[str, str]) -> Any:
    model = botocore.session.get_session().get_service_model("sagemaker")
    operation = REQUESTS[step["Type"]]
    request = _resolve(step["Arguments"], parameters)
    if step["Type"] in NAMES:
        request.setdefault(NAMES[step["Type"]], "job-name")
    return ParamValidator().validate(request, model.operation_model(operation).input_shape)


def test_job_requests_satisfy_the_sagemaker_service_model(built: dict[str, Any]) -> None:
    parameters = {p["Name"]: p["DefaultValue"] for p in built["Parameters"]}
    for name, step in steps_by_name(built["Steps"]):
        if step["Type"] in REQUESTS:
            report = validate_request(step, parameters)
            assert not report.has_errors(), f"{name}: {report.generate_report()}"


def test_a_broken_request_is_caught(built: dict[str, Any]) -> None:
    parameters = {p["Name"]: p["DefaultValue"] for p in built["Parameters"]}
    train = json.loads(json.dumps(dict(steps_by_name(built["Steps"]))["Train"]))
    train["Arguments"]["ResourceConfig"]["InstanceCount"] = "one"
    train["Arguments"]["StoppingCondition"]["MaxRuntimeSeconds"] = 10
    report = validate_request(train, parameters).generate_report()
    assert "ResourceConfig.InstanceCount" in report and "MaxRuntimeSeconds" in report


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_no_experiment_is_created_for_the_pipeline(config: ModelConfig, region: str) -> None:
    """By default SageMaker Pipelines creates an experiment per pipeline and a run group per
    execution ("If you don't want an experiment and run group created for the pipeline, set
    pipeline_experiment_config to None": https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-experiments.html),
    which needs Experiments permissions the pipeline role does not have. Lineage lives in the
    registry's metadata instead."""
    pipeline = config.pipeline.model_copy(update={"region": region})
    built = json.loads(d.definition_json(config.model_copy(update={"pipeline": pipeline})))
    assert "PipelineExperimentConfig" in built and built["PipelineExperimentConfig"] is None
