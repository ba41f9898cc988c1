"""The retraining pipeline, built from a model config with the sagemaker SDK (3.x).

DataPull+Validate -> DataValid? (else FailStep DataValidationFailed) -> Train -> Evaluate ->
QualityGates? (else FailStep QualityGatesFailed) -> Register.

Building is offline and deterministic: no AWS call (the SDK's bucket lookup, role validation and
telemetry are switched off here), no timestamps, and every artifact the jobs read is addressed
by the sha256 of its content. `artifacts(config)` lists those objects so a deployment (CDK) or
the local runtime can put them where the definition expects them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines import bundles, naming
from pipelines.config import FilesSource, ModelConfig, SqlSource, config_to_json, require_deployable
from pipelines.errors import DefinitionError
from pipelines.gates.rules import gate_names

PROJECT_ROOT = bundles.PROJECT_ROOT
PROCESSING = "/opt/ml/processing"

# Pipeline parameter names: the retrain trigger passes its context through these.
TRIGGER_REASON = "TriggerReason"
TRIGGER_ALARM = "TriggerAlarm"
TRIGGER_METRIC_VALUE = "TriggerMetricValue"
DATA_WINDOW_END = "DataWindowEnd"
CHAMPION_URI = "ChampionUri"
LATEST = "latest"  # DataWindowEnd default: the window ends at the newest fresh row

# Step names, shared with the local runtime, the alert function and the tests.
from pipelines.naming import (  # noqa: E402  (re-exported: tests and the local runtime read them here)
    DATA_FAILED,
    DATA_PULL,
    DATA_VALID,
    EVALUATE,
    EVALUATION_REPORT,
    GATES_FAILED,
    QUALITY_GATES,
    REGISTER,
    TRAIN,
    VALIDATION_REPORT,
)


@dataclass(frozen=True)
class Artifact:
    """An object the definition references by URI; `content` is what must be stored there."""

    uri: str
    content: bytes


def job_code_files() -> list[Path]:
    """What the job image is built from: training_containers/ whole (code, lock, Dockerfile) and the
    project packages its modules import (pipelines.bundles); the Dockerfile copies both folders."""
    job = [p for p in (PROJECT_ROOT / "training_containers").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted(set(job) | set(bundles.reached_files(p for p in job if p.suffix == ".py")))


def code_version() -> str:
    """sha256 over the job code and its image recipe; the image tag and lineage use it."""
    digest = hashlib.sha256()
    for path in job_code_files():
        digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def image_uri(config: ModelConfig) -> str:
    if config.pipeline.image_uri:
        return config.pipeline.image_uri
    p = config.pipeline
    return naming.job_image_uri(p.account, p.region, config.model.name, code_version()[:16])


def _content_addressed(config: ModelConfig, kind: str, name: str, content: bytes) -> Artifact:
    sha = hashlib.sha256(content).hexdigest()[:16]
    return Artifact(naming.layout(config).uri(kind, sha, name), content)


def artifacts(config: ModelConfig) -> dict[str, Artifact]:
    """Objects the jobs read that come from the config rather than from data or earlier steps."""
    found = {"config": _content_addressed(config, naming.CONFIG, "model-config.json", config_to_json(config).encode())}
    edge = config.gates.edge_cases
    if edge is not None and not edge.uri.startswith("s3://"):
        path = config.local_path(edge.uri)
        if not path.exists():
            raise DefinitionError(f"gates.edge_cases.uri: {path} does not exist")
        found["edge_cases"] = _content_addressed(config, naming.EDGE_CASES, "edge-cases.csv", path.read_bytes())
    elif edge is not None:
        found["edge_cases"] = Artifact(edge.uri, b"")
    return found


def pipeline_name(config: ModelConfig) -> str:
    return naming.pipeline_name(config.model.name)


def _quiet_sdk() -> None:
    """The SDK warns about things that are on purpose here (no job is started); its logging is
    switched off around the build in `definition_json`."""
    warnings.filterwarnings("ignore", module=r"sagemaker\..*")
    warnings.filterwarnings("ignore", message=r".*PipelineSession.*")


def _session(config: ModelConfig) -> Any:
    # The SDK creates boto3 clients at import time and needs a region for that (no call is made).
    os.environ.setdefault("AWS_DEFAULT_REGION", config.pipeline.region)
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"  # else ModelTrainer calls iam:SimulatePrincipalPolicy
    _quiet_sdk()
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    boto_session = boto3.Session(
        region_name=config.pipeline.region, aws_access_key_id="offline", aws_secret_access_key="offline"
    )
    session = PipelineSession(
        boto_session=boto_session,
        default_bucket=config.pipeline.bucket(config.model.name),
        # Telemetry off in code: a config file works too but slows every build 3-4x.
        sagemaker_config={"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}},
    )
    session._default_bucket = config.pipeline.bucket(config.model.name)  # no ListBuckets lookup
    return session


def build_pipeline(config: ModelConfig) -> Any:
    """The `sagemaker.mlops.workflow.Pipeline` for this config."""
    session = _session(config)
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.network import NetworkConfig
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes import (
        DatasetDefinition,
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
        Tag,
    )
    from sagemaker.core.workflow.conditions import ConditionEquals
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterString
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow import ConditionStep, FailStep, ModelStep, Pipeline, ProcessingStep, TrainingStep
    from sagemaker.mlops.workflow.retry import (
        SageMakerJobExceptionTypeEnum,
        SageMakerJobStepRetryPolicy,
        StepExceptionTypeEnum,
        StepRetryPolicy,
    )
    from sagemaker.mlops.workflow.steps import CacheConfig
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train import ModelTrainer
    from sagemaker.train.configs import Compute, InputData, Networking, OutputDataConfig, StoppingCondition

    p = config.pipeline
    role = p.role(config.model.name)
    image = image_uri(config)
    version = code_version()
    staged = artifacts(config)
    layout = naming.layout(config)

    trigger_reason = ParameterString(TRIGGER_REASON, default_value="manual")
    # Defaults are never empty: they end up in CustomerMetadataProperties, whose values
    # CreateModelPackage requires to be at least one character long.
    trigger_alarm = ParameterString(TRIGGER_ALARM, default_value="none")
    trigger_metric_value = ParameterString(TRIGGER_METRIC_VALUE, default_value="none")
    window_end = ParameterString(DATA_WINDOW_END, default_value=LATEST)
    champion_uri = ParameterString(CHAMPION_URI, default_value=naming.champion_prefix(config))
    parameters = [trigger_reason, trigger_alarm, trigger_metric_value, window_end, champion_uri]

    def run_uri(*parts: str) -> Any:
        return Join(
            on="/", values=[layout.uri(naming.EXECUTIONS).rstrip("/"), ExecutionVariables.PIPELINE_EXECUTION_ID, *parts]
        )

    def s3_input(name: str, uri: Any) -> Any:
        return ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(
                s3_uri=uri, local_path=f"{PROCESSING}/input/{name}", s3_data_type="S3Prefix", s3_input_mode="File"
            ),
        )

    def s3_output(step: str, name: str) -> Any:
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=run_uri(step, name), local_path=f"{PROCESSING}/output/{name}", s3_upload_mode="EndOfJob"
            ),
        )

    def source_input(name: str, source: FilesSource | SqlSource) -> Any:
        if isinstance(source, FilesSource):
            return s3_input(name, source.uri)
        # The SDK (3.27) drops DatasetDefinition when it serialises inputs; `definition_json`
        # puts the request form back (see `dataset_definition`).
        return ProcessingInput(
            input_name=name,
            dataset_definition=DatasetDefinition(local_path=f"{PROCESSING}/input/{name}"),
        )

    network = NetworkConfig(
        enable_network_isolation=p.network_isolation,
        encrypt_inter_container_traffic=True,
        security_group_ids=p.vpc.security_group_ids if p.vpc else None,
        subnets=p.vpc.subnet_ids if p.vpc else None,
    )
    job_env = {"JOB_IMAGE_URI": image, "CODE_VERSION": version}
    # Every job carries its model's tag: the pipeline role may create, describe and stop only jobs
    # with it (Pipelines names jobs pipelines-<execution>-..., a name every pipeline shares).
    job_tags = [{"Key": naming.MODEL_TAG, "Value": config.model.name}]

    def processor(module: str, job: str) -> Any:
        return Processor(
            role=role,
            image_uri=image,
            instance_count=1,
            instance_type=p.processing_instance_type,
            entrypoint=["python3", "-m", f"training_containers.{module}"],
            volume_kms_key=p.kms_key_id,
            output_kms_key=p.kms_key_id,
            max_runtime_in_seconds=p.processing_max_runtime_seconds,
            base_job_name=naming.job_base_name(config.model.name, job),
            sagemaker_session=session,
            env=job_env,
            network_config=network,
            tags=job_tags,
        )

    # Retries cover the platform's transient faults only; a job that fails on its own stays failed.
    retries = [
        SageMakerJobStepRetryPolicy(
            exception_types=[
                SageMakerJobExceptionTypeEnum.INTERNAL_ERROR,
                SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
                SageMakerJobExceptionTypeEnum.RESOURCE_LIMIT,
            ],
            interval_seconds=60,
            backoff_rate=2.0,
            max_attempts=3,
        ),
        StepRetryPolicy(
            exception_types=[StepExceptionTypeEnum.SERVICE_FAULT, StepExceptionTypeEnum.THROTTLING],
            interval_seconds=10,
            backoff_rate=2.0,
            max_attempts=5,
        ),
    ]

    # ---- DataPull+Validate
    pull_inputs = [s3_input("config", staged["config"].uri), source_input("fresh", config.data.fresh)]
    if config.data.historical is not None:
        pull_inputs.append(source_input("historical", config.data.historical))
    validation_report = PropertyFile(name=VALIDATION_REPORT, output_name="report", path=naming.VALIDATION_FILE)
    data_pull = ProcessingStep(
        name=DATA_PULL,
        display_name="Pull and validate data",
        step_args=processor("data_pull", "data-pull").run(
            inputs=pull_inputs,
            outputs=[s3_output(DATA_PULL, n) for n in ("train", "validation", "test", "report", "baseline")],
            arguments=["--window-end", window_end],
        ),
        property_files=[validation_report],
        retry_policies=retries,
        # Never cached: the sources are mutable prefixes and tables, so equal arguments do not
        # mean equal data.
    )
    pull_output = data_pull.properties.ProcessingOutputConfig.Outputs

    # ---- Train
    training = config.training
    hyperparameters = {"estimator": training.estimator, "random_seed": training.random_seed, **training.hyperparameters}
    trainer = ModelTrainer(
        sagemaker_session=session,
        role=role,
        training_image=image,
        base_job_name=naming.job_base_name(config.model.name, "train"),
        compute=Compute(
            instance_type=training.instance_type,
            instance_count=training.instance_count,
            volume_size_in_gb=30,
            enable_managed_spot_training=training.use_spot or None,
            **({"volume_kms_key_id": p.kms_key_id} if p.kms_key_id else {}),
        ),
        stopping_condition=StoppingCondition(
            max_runtime_in_seconds=training.max_runtime_seconds,
            **({"max_wait_time_in_seconds": training.max_wait_seconds} if training.use_spot else {}),
        ),
        networking=Networking(
            enable_network_isolation=p.network_isolation,
            enable_inter_container_traffic_encryption=True,
            security_group_ids=p.vpc.security_group_ids if p.vpc else None,
            subnets=p.vpc.subnet_ids if p.vpc else None,
        ),
        output_data_config=OutputDataConfig(
            s3_output_path=run_uri(TRAIN),
            compression_type="GZIP",
            **({"kms_key_id": p.kms_key_id} if p.kms_key_id else {}),
        ),
        hyperparameters={k: json.dumps(v) for k, v in hyperparameters.items()},
        environment=job_env,
        tags=[Tag(key=t["Key"], value=t["Value"]) for t in job_tags],
    )
    train = TrainingStep(
        name=TRAIN,
        display_name="Train candidate",
        step_args=trainer.train(
            input_data_config=[
                InputData(channel_name="train", data_source=pull_output["train"].S3Output.S3Uri),
                InputData(channel_name="validation", data_source=pull_output["validation"].S3Output.S3Uri),
                InputData(channel_name="config", data_source=staged["config"].uri),
            ]
        ),
        retry_policies=retries,
        # Safe to cache: same image, hyperparameters and input objects give the same model
        # (seeded), and DataPull writes its splits under the execution id.
        cache_config=CacheConfig(enable_caching=True, expire_after="P30D"),
    )

    # ---- Evaluate
    evaluation_report = PropertyFile(name=EVALUATION_REPORT, output_name="evaluation", path=naming.EVALUATION_FILE)
    eval_inputs = [
        s3_input("config", staged["config"].uri),
        s3_input("model", train.properties.ModelArtifacts.S3ModelArtifacts),
        s3_input("test", pull_output["test"].S3Output.S3Uri),
        s3_input("baseline", pull_output["baseline"].S3Output.S3Uri),
        s3_input("champion", champion_uri),
    ]
    if "edge_cases" in staged:
        eval_inputs.append(s3_input("edge_cases", staged["edge_cases"].uri))
    evaluate = ProcessingStep(
        name=EVALUATE,
        display_name="Evaluate candidate and champion",
        step_args=processor("evaluate", "evaluate").run(
            inputs=eval_inputs, outputs=[s3_output(EVALUATE, "evaluation")]
        ),
        property_files=[evaluation_report],
        retry_policies=retries,
        # Never cached: the champion behind ChampionUri changes when a version is promoted.
    )
    evaluation_uri = evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri
    report_uri = pull_output["report"].S3Output.S3Uri
    # The drift monitor's baseline is Evaluate's: DataPull's profile plus the candidate's test
    # scores. It is recorded in the metadata only: SageMaker reads ModelDataQuality in Model
    # Monitor's format, which DataPull writes from the same window (monitor_baseline.py).
    baseline = Join(on="/", values=[evaluation_uri, "baseline_profile.json"])
    monitor_baseline = pull_output["baseline"].S3Output.S3Uri

    # ---- Register
    registry = config.registry
    builder = ModelBuilder(
        s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts,
        image_uri=image,
        sagemaker_session=session,
        role_arn=role,
        env_vars={"SAGEMAKER_REGION": p.region, "MODEL_NAME": config.model.name},
    )
    register_args = builder.register(
        model_package_group_name=registry.model_package_group,
        content_types=["text/csv", "application/json"],
        response_types=["application/json"],
        inference_instances=registry.inference_instance_types,
        transform_instances=registry.inference_instance_types,
        approval_status=registry.approval_status,
        description=f"{config.model.name} retrained by the drift-triggered pipeline",
        model_metrics=ModelMetrics(
            model_statistics=MetricsSource(
                content_type="application/json", s3_uri=Join(on="/", values=[evaluation_uri, "model_quality.json"])
            ),
            # "Schema for Statistics (statistics.json file)" and "Schema for Constraints
            # (constraints.json file)", SageMaker developer guide:
            # https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-statistics.html
            # https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-constraints.html
            # DriftCheckBaselines is not set: it is for a Model Monitor schedule built from the
            # model package (API reference, DriftCheckModelDataQuality); this project's monitor
            # reads BaselineProfile, and the statistics carry no KLL sketch for such a schedule.
            model_data_statistics=MetricsSource(
                content_type="application/json", s3_uri=Join(on="/", values=[monitor_baseline, "statistics.json"])
            ),
            model_data_constraints=MetricsSource(
                content_type="application/json", s3_uri=Join(on="/", values=[monitor_baseline, "constraints.json"])
            ),
        ),
        customer_metadata_properties={
            "TriggerReason": trigger_reason,
            "TriggerAlarm": trigger_alarm,
            "TriggerMetricValue": trigger_metric_value,
            "DataWindowEnd": window_end,
            "DatasetManifest": Join(on="/", values=[report_uri, "manifest.json"]),
            naming.EVALUATION_REPORT: Join(on="/", values=[evaluation_uri, naming.EVALUATION_FILE]),
            "BaselineProfile": baseline,
            "EnvironmentHash": JsonGet(
                step_name=EVALUATE, property_file=evaluation_report, json_path="lineage.environment_hash"
            ),
            "CodeVersion": version,
            "ImageUri": image,
            "PipelineExecutionArn": ExecutionVariables.PIPELINE_EXECUTION_ARN,
        },
    )
    register = ModelStep(name=REGISTER, display_name="Register candidate", step_args=register_args)

    # ---- Gates and failures
    gates_failed = FailStep(
        name=GATES_FAILED,
        error_message=JsonGet(step_name=EVALUATE, property_file=evaluation_report, json_path="summary.failure_message"),
    )
    quality_gates = ConditionStep(
        name=QUALITY_GATES,
        display_name="Quality gates",
        conditions=[
            ConditionEquals(
                left=JsonGet(step_name=EVALUATE, property_file=evaluation_report, json_path=f"gates.{name}.passed"),
                right=True,
            )
            for name in gate_names(config)
        ],
        if_steps=[register],
        else_steps=[gates_failed],
    )
    data_failed = FailStep(
        name=DATA_FAILED,
        error_message=JsonGet(step_name=DATA_PULL, property_file=validation_report, json_path="failure_message"),
    )
    data_valid = ConditionStep(
        name=DATA_VALID,
        display_name="Data checks passed",
        conditions=[
            ConditionEquals(
                left=JsonGet(step_name=DATA_PULL, property_file=validation_report, json_path="passed"), right=True
            )
        ],
        if_steps=[train, evaluate, quality_gates],
        else_steps=[data_failed],
    )
    return Pipeline(
        name=pipeline_name(config),
        parameters=parameters,
        steps=[data_pull, data_valid],
        sagemaker_session=session,
        # No SageMaker Experiments entities (an experiment per pipeline, a run group per execution,
        # created by default in some regions): lineage is in the registry's metadata, and the
        # pipeline role is not granted the Experiments API. Kept in the definition as an explicit
        # null, which is what the SDK sends for None.
        pipeline_experiment_config=None,
    )


def dataset_definition(config: ModelConfig, name: str, source: SqlSource) -> dict[str, Any]:
    """The CreateProcessingJob `DatasetDefinition` for a SQL source (Athena or Redshift)."""
    kms = {"KmsKeyId": config.pipeline.kms_key_id} if config.pipeline.kms_key_id else {}
    if source.athena is not None:
        engine = {
            "AthenaDatasetDefinition": {
                "Catalog": source.athena.catalog,
                "Database": source.athena.database,
                "QueryString": source.query,
                "WorkGroup": source.athena.work_group,
                "OutputS3Uri": source.athena.output_s3_uri,
                "OutputFormat": "PARQUET",
                **kms,
            }
        }
    else:
        assert source.redshift is not None  # the config guarantees one engine section
        rs = source.redshift
        engine = {
            "RedshiftDatasetDefinition": {
                "ClusterId": rs.cluster_id,
                "Database": rs.database,
                "DbUser": rs.db_user,
                "QueryString": source.query,
                "ClusterRoleArn": rs.cluster_role_arn,
                "OutputS3Uri": rs.output_s3_uri,
                "OutputFormat": "PARQUET",
                **kms,
            }
        }
    return {
        **engine,
        "LocalPath": f"{PROCESSING}/input/{name}",
        "DataDistributionType": "FullyReplicated",
        "InputMode": "File",
    }


def _restore_dataset_definitions(definition: dict[str, Any], config: ModelConfig) -> None:
    wanted = {
        name: dataset_definition(config, name, source)
        for name, source in (("fresh", config.data.fresh), ("historical", config.data.historical))
        if isinstance(source, SqlSource)
    }
    for step in definition["Steps"]:
        if step["Name"] != DATA_PULL:
            continue
        for item in step["Arguments"]["ProcessingInputs"]:
            if item["InputName"] in wanted:
                item["DatasetDefinition"] = wanted[item["InputName"]]
                item.setdefault("AppManaged", False)


def tidy(definition: dict[str, Any]) -> dict[str, Any]:
    """Remove what the SDK emits that SageMaker does not need or that misleads a reader:
    `MlflowConfig: null`, empty `Bias`/`Explainability` metrics and the script-mode variables
    `SAGEMAKER_PROGRAM`/`SAGEMAKER_SUBMIT_DIRECTORY` set to "" (the job image carries its code)."""
    if definition.get("MlflowConfig") is None:
        definition.pop("MlflowConfig", None)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("Type") == "RegisterModel":
                arguments = node["Arguments"]
                metrics = arguments.get("ModelMetrics", {})
                for key in [k for k, v in metrics.items() if v == {}]:
                    del metrics[key]
                for container in arguments.get("InferenceSpecification", {}).get("Containers", []):
                    env = container.get("Environment", {})
                    for key in ("SAGEMAKER_PROGRAM", "SAGEMAKER_SUBMIT_DIRECTORY"):
                        if env.get(key) == "":
                            del env[key]
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(definition)
    return definition


def definition_json(config: ModelConfig) -> str:
    """The pipeline definition JSON, byte-identical for the same config and code. A config no
    pipeline can read (`deployment_problems`) is refused before the SDK is touched: given a local
    path, the SDK would upload it to S3."""
    require_deployable(config)
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # the SDK reconfigures its loggers while it builds
    try:
        document = tidy(json.loads(build_pipeline(config).definition()))
    finally:
        logging.disable(previous)
    _restore_dataset_definitions(document, config)
    return json.dumps(document, indent=2) + "\n"
