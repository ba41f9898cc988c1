"""One builder per step of the retraining pipeline (sagemaker SDK 3.x). `Job` holds what every
step shares: the session, role, image, the staged artifacts, the pipeline parameters, network,
tags and retry policies. The SDK is imported inside the builders: importing it is slow, and the
local runtime and the functions never build a pipeline."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pipelines import naming
from pipelines.config import FilesSource, ModelConfig, SqlSource
from pipelines.gates.rules import gate_names
from pipelines.naming import (
    CHAMPION_SELECTION,
    CHAMPION_URI,
    CREATE_CANDIDATE,
    CREATE_CHAMPION,
    DATA_FAILED,
    DATA_PULL,
    DATA_VALID,
    DATA_WINDOW_END,
    EVALUATE,
    EVALUATION_REPORT,
    GATES_FAILED,
    QUALITY_GATES,
    REGISTER,
    SCORE_CANDIDATE,
    SCORE_CHAMPION,
    SELECT_CHAMPION,
    TRAIN,
    TRIGGER_ALARM,
    TRIGGER_METRIC_VALUE,
    TRIGGER_REASON,
    VALIDATION_REPORT,
)

PROCESSING = "/opt/ml/processing"
CODE_CHANNEL = "/opt/ml/input/data/code"  # where a training job finds its code channel

LATEST = "latest"  # DataWindowEnd default: the window ends at the newest fresh row


def parameters(config: ModelConfig) -> dict[str, Any]:
    """The pipeline parameters, by name, in the definition's order."""
    from sagemaker.core.workflow.parameters import ParameterString

    # Defaults are never empty: they end up in CustomerMetadataProperties, whose values
    # CreateModelPackage requires to be at least one character long.
    defaults = {
        TRIGGER_REASON: "manual",
        TRIGGER_ALARM: "none",
        TRIGGER_METRIC_VALUE: "none",
        DATA_WINDOW_END: LATEST,
        CHAMPION_URI: naming.champion_prefix(config),
    }
    return {name: ParameterString(name, default_value=value) for name, value in defaults.items()}


def retry_policies() -> list[Any]:
    """Retries cover the platform's transient faults only; a job that fails on its own stays failed."""
    from sagemaker.mlops.workflow.retry import (
        SageMakerJobExceptionTypeEnum,
        SageMakerJobStepRetryPolicy,
        StepExceptionTypeEnum,
        StepRetryPolicy,
    )

    return [
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


@dataclass(frozen=True)
class Job:
    """What every step of one config's pipeline shares."""

    config: ModelConfig
    session: Any
    image: str
    code_version: str
    staged: dict[str, Any]  # artifact name -> builder.Artifact
    parameters: dict[str, Any]
    retries: list[Any]

    @classmethod
    def of(cls, config: ModelConfig, session: Any, image: str, code_version: str, staged: dict[str, Any]) -> Job:
        return cls(config, session, image, code_version, staged, parameters(config), retry_policies())

    @property
    def role(self) -> str:
        return self.config.pipeline.role(self.config.model.name)

    @property
    def team_image(self) -> str | None:
        """The team's own image (training.image): trained and served as it is, scored by transform."""
        image = self.config.training.image
        return image.uri if image is not None else None

    @property
    def model_image(self) -> str:
        """The image that trains and serves the candidate: the team's, a framework's, else the job image."""
        return self.config.training.outside_image or self.image

    @property
    def scored_by_transform(self) -> bool:
        """An image without this project's model code serves the model: Evaluate reads its answers."""
        return self.model_image != self.image

    @property
    def serving_environment(self) -> dict[str, Any]:
        """What the serving image needs besides the artifacts: a framework image's inference toolkit
        finds the script by SAGEMAKER_PROGRAM in the source archive SAGEMAKER_SUBMIT_DIRECTORY names."""
        environment: dict[str, Any] = {
            "SAGEMAKER_REGION": self.config.pipeline.region,
            "MODEL_NAME": self.config.model.name,
        }
        script = self.config.training.script
        if script is not None and script.framework_image:
            environment |= {
                "SAGEMAKER_PROGRAM": script.inference,
                "SAGEMAKER_SUBMIT_DIRECTORY": self.staged["source"].uri,
                # Its server (sagemaker_containers) answers a request without Accept in this type,
                # JSON when unset; the version is registered as answering text/csv.
                "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
            }
        return environment

    @property
    def environment(self) -> dict[str, str]:
        return {"JOB_IMAGE_URI": self.image, "CODE_VERSION": self.code_version}

    @property
    def tags(self) -> list[dict[str, str]]:
        """Every job carries its model's tag: the pipeline role may create, describe and stop only
        jobs with it (Pipelines names jobs pipelines-<execution>-..., a name every pipeline shares)."""
        return [{"Key": naming.MODEL_TAG, "Value": self.config.model.name}]

    @property
    def vpc(self) -> dict[str, list[str] | None]:
        """The jobs' subnets and security groups (the SDK's argument names), None outside a VPC."""
        vpc = self.config.pipeline.vpc
        return {
            "security_group_ids": vpc.security_group_ids if vpc else None,
            "subnets": vpc.subnet_ids if vpc else None,
        }

    def run_uri(self, *parts: str) -> Any:
        """Under this execution's folder of the artifact bucket."""
        from sagemaker.core.workflow.execution_variables import ExecutionVariables
        from sagemaker.core.workflow.functions import Join

        executions = naming.layout(self.config).uri(naming.EXECUTIONS).rstrip("/")
        return Join(on="/", values=[executions, ExecutionVariables.PIPELINE_EXECUTION_ID, *parts])

    def processor(self, module: str, job: str) -> Any:
        from sagemaker.core.network import NetworkConfig
        from sagemaker.core.processing import Processor

        p = self.config.pipeline
        return Processor(
            role=self.role,
            image_uri=self.image,
            instance_count=1,
            instance_type=p.processing_instance_type,
            entrypoint=["python3", "-m", f"training_containers.{module}"],
            volume_kms_key=p.kms_key_id,
            output_kms_key=p.kms_key_id,
            max_runtime_in_seconds=p.processing_max_runtime_seconds,
            base_job_name=naming.job_base_name(self.config.model.name, job),
            sagemaker_session=self.session,
            env=self.environment,
            network_config=NetworkConfig(
                enable_network_isolation=p.network_isolation, encrypt_inter_container_traffic=True, **self.vpc
            ),
            tags=self.tags,
        )


def s3_input(name: str, uri: Any) -> Any:
    from sagemaker.core.shapes import ProcessingInput, ProcessingS3Input

    return ProcessingInput(
        input_name=name,
        s3_input=ProcessingS3Input(
            s3_uri=uri, local_path=f"{PROCESSING}/input/{name}", s3_data_type="S3Prefix", s3_input_mode="File"
        ),
    )


def s3_output(job: Job, step: str, name: str) -> Any:
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output

    return ProcessingOutput(
        output_name=name,
        s3_output=ProcessingS3Output(
            s3_uri=job.run_uri(step, name), local_path=f"{PROCESSING}/output/{name}", s3_upload_mode="EndOfJob"
        ),
    )


def source_input(name: str, source: FilesSource | SqlSource) -> Any:
    from sagemaker.core.shapes import DatasetDefinition, ProcessingInput

    if isinstance(source, FilesSource):
        return s3_input(name, source.uri)
    # The SDK (3.27) drops DatasetDefinition when it serialises inputs; `definition_json`
    # puts the request form back (see `builder.dataset_definition`).
    return ProcessingInput(
        input_name=name, dataset_definition=DatasetDefinition(local_path=f"{PROCESSING}/input/{name}")
    )


def outputs(step: Any) -> Any:
    """A processing step's outputs, by name."""
    return step.properties.ProcessingOutputConfig.Outputs


def data_pull(job: Job) -> Any:
    """DataPull+Validate: the window's train/validation/test splits, the data report and the
    baseline, and a content-addressed copy of every object it read (`naming.LINEAGE`)."""
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow import ProcessingStep

    data = job.config.data
    inputs = [s3_input("config", job.staged["config"].uri), source_input("fresh", data.fresh)]
    if data.historical is not None:
        inputs.append(source_input("historical", data.historical))
    names = ["train", "validation", "test", "report", "baseline"]
    if job.scored_by_transform:  # the rows an image model is scored on, as its serving contract takes them
        names.append("scoring")
        if "edge_cases" in job.staged:
            inputs.append(s3_input("edge_cases", job.staged["edge_cases"].uri))
    snapshot = ProcessingOutput(  # content-addressed: one prefix for every run, each object stored once
        output_name="snapshot",
        s3_output=ProcessingS3Output(
            s3_uri=naming.layout(job.config).uri(naming.LINEAGE, "objects"),
            local_path=f"{PROCESSING}/output/snapshot",
            s3_upload_mode="EndOfJob",
        ),
    )
    return ProcessingStep(
        name=DATA_PULL,
        display_name="Pull and validate data",
        step_args=job.processor("data_pull", "data-pull").run(
            inputs=inputs,
            outputs=[*(s3_output(job, DATA_PULL, n) for n in names), snapshot],
            arguments=["--window-end", job.parameters[DATA_WINDOW_END]],
        ),
        property_files=[PropertyFile(name=VALIDATION_REPORT, output_name="report", path=naming.VALIDATION_FILE)],
        retry_policies=job.retries,
        # Never cached: the sources are mutable prefixes and tables, so equal arguments do not
        # mean equal data.
    )


def train(job: Job, data_pull: Any) -> Any:
    from sagemaker.core.shapes import Tag
    from sagemaker.mlops.workflow import TrainingStep
    from sagemaker.mlops.workflow.steps import CacheConfig
    from sagemaker.train import ModelTrainer
    from sagemaker.train.configs import Compute, InputData, Networking, OutputDataConfig, StoppingCondition

    training, p = job.config.training, job.config.pipeline
    hyperparameters: dict[str, str]
    if training.estimator is not None:
        chosen = {"estimator": training.estimator, "random_seed": training.random_seed} | training.hyperparameters
        hyperparameters = {k: json.dumps(v) for k, v in chosen.items()}
    elif training.script is not None:  # its own arguments only, JSON-encoded as the framework estimators pass them
        hyperparameters = {k: json.dumps(v) for k, v in training.hyperparameters.items()}
        if training.script.framework_image:  # what the framework's training toolkit runs, from the code channel
            hyperparameters |= {
                naming.TOOLKIT_PROGRAM: json.dumps(training.script.entry_point),
                naming.TOOLKIT_SUBMIT_DIRECTORY: json.dumps(f"{CODE_CHANNEL}/{naming.SOURCE_ARCHIVE}"),
            }
    else:  # an image reads hyperparameters.json itself: values as plain text
        hyperparameters = {k: _text(v) for k, v in training.hyperparameters.items()}
    trainer = ModelTrainer(
        sagemaker_session=job.session,
        role=job.role,
        training_image=job.model_image,
        base_job_name=naming.job_base_name(job.config.model.name, "train"),
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
            enable_network_isolation=p.network_isolation, enable_inter_container_traffic_encryption=True, **job.vpc
        ),
        output_data_config=OutputDataConfig(
            s3_output_path=job.run_uri(TRAIN),
            compression_type="GZIP",
            **({"kms_key_id": p.kms_key_id} if p.kms_key_id else {}),
        ),
        hyperparameters=hyperparameters,
        environment={} if job.team_image else job.environment,
        tags=[Tag(key=t["Key"], value=t["Value"]) for t in job.tags],
    )
    pulled = outputs(data_pull)
    channels = {"train": pulled["train"].S3Output.S3Uri, "validation": pulled["validation"].S3Output.S3Uri}
    if not job.team_image:  # the job image's code reads the config; a script's folder is the code channel
        channels["config"] = job.staged["config"].uri
        if "source" in job.staged:
            channels["code"] = job.staged["source"].uri
    return TrainingStep(
        name=TRAIN,
        display_name="Train candidate",
        step_args=trainer.train(
            input_data_config=[InputData(channel_name=name, data_source=uri) for name, uri in channels.items()]
        ),
        retry_policies=job.retries,
        # Safe to cache: same image, hyperparameters and input objects give the same model
        # (seeded), and DataPull writes its splits under the execution id.
        cache_config=CacheConfig(enable_caching=True, expire_after="P30D"),
    )


def evaluate(job: Job, data_pull: Any, train: Any, scored: tuple[Any, Any] | None = None) -> Any:
    """The candidate and the champion on the test split, the gates, the candidate's baseline.
    `scored`: the candidate's and the champion's transform steps, for an image model."""
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow import ProcessingStep

    pulled = outputs(data_pull)
    inputs = [
        s3_input("config", job.staged["config"].uri),
        # the model (scored in process, or hashed only: lineage.model_sha256) and DataPull's
        # report (lineage.manifest_sha256): the registry entry anchors both by content
        s3_input("model", train.properties.ModelArtifacts.S3ModelArtifacts),
        s3_input("test", pulled["test"].S3Output.S3Uri),
        s3_input("baseline", pulled["baseline"].S3Output.S3Uri),
        s3_input("report", pulled["report"].S3Output.S3Uri),
        s3_input("champion", job.parameters[CHAMPION_URI]),
    ]
    if "edge_cases" in job.staged:
        inputs.append(s3_input("edge_cases", job.staged["edge_cases"].uri))
    if scored is not None:  # an image model: what its own server answered for the scoring rows
        candidate, champion = scored
        inputs.append(s3_input("predictions", candidate.properties.TransformOutput.S3OutputPath))
        inputs.append(s3_input("champion_predictions", champion.properties.TransformOutput.S3OutputPath))
    return ProcessingStep(
        name=EVALUATE,
        display_name="Evaluate candidate and champion",
        step_args=job.processor("evaluate", "evaluate").run(
            inputs=inputs, outputs=[s3_output(job, EVALUATE, "evaluation")]
        ),
        property_files=[PropertyFile(name=EVALUATION_REPORT, output_name="evaluation", path=naming.EVALUATION_FILE)],
        retry_policies=job.retries,
        # Never cached: the champion behind ChampionUri changes when a version is promoted.
    )


def _evaluation(evaluate: Any, json_path: str) -> Any:
    """A value of Evaluate's report."""
    from sagemaker.core.workflow.functions import JsonGet

    (report,) = evaluate.property_files
    return JsonGet(step_name=EVALUATE, property_file=report, json_path=json_path)


def register(job: Job, data_pull: Any, train: Any, evaluate: Any) -> Any:
    """The candidate as a model package, with its metrics, baselines and lineage."""
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.mlops.workflow import ModelStep
    from sagemaker.serve.model_builder import ModelBuilder

    config, registry = job.config, job.config.registry
    evaluation_uri = outputs(evaluate)["evaluation"].S3Output.S3Uri
    pulled = outputs(data_pull)
    # The drift monitor's baseline is Evaluate's: DataPull's profile plus the candidate's test
    # scores. It is recorded in the metadata only: SageMaker reads ModelDataQuality in Model
    # Monitor's format, which DataPull writes from the same window (monitor_baseline.py).
    monitor_baseline = pulled["baseline"].S3Output.S3Uri

    def json_source(*path: Any) -> Any:
        return MetricsSource(content_type="application/json", s3_uri=Join(on="/", values=list(path)))

    builder = ModelBuilder(
        s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts,
        image_uri=job.model_image,
        sagemaker_session=job.session,
        role_arn=job.role,
        env_vars=job.serving_environment,
    )
    # An image's contract is CSV in and out; the job image's server takes JSON too.
    own_server = not job.scored_by_transform
    step_args = builder.register(
        model_package_group_name=naming.registry_group(config, config.pipeline.account),
        content_types=["text/csv", "application/json"] if own_server else ["text/csv"],
        response_types=["application/json"] if own_server else ["text/csv"],
        inference_instances=registry.inference_instance_types,
        transform_instances=registry.inference_instance_types,
        approval_status=registry.approval_status,
        description=f"{config.model.name} retrained by the drift-triggered pipeline",
        model_metrics=ModelMetrics(
            model_statistics=json_source(evaluation_uri, naming.MODEL_QUALITY_FILE),
            # "Schema for Statistics (statistics.json file)" and "Schema for Constraints
            # (constraints.json file)", SageMaker developer guide:
            # https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-statistics.html
            # https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-constraints.html
            # DriftCheckBaselines is not set: it is for a Model Monitor schedule built from the
            # model package (API reference, DriftCheckModelDataQuality); this project's monitor
            # reads BaselineProfile, and the statistics carry no KLL sketch for such a schedule.
            model_data_statistics=json_source(monitor_baseline, naming.STATISTICS_FILE),
            model_data_constraints=json_source(monitor_baseline, naming.CONSTRAINTS_FILE),
        ),
        customer_metadata_properties={
            **{name: job.parameters[name] for name in (TRIGGER_REASON, TRIGGER_ALARM, TRIGGER_METRIC_VALUE)},
            DATA_WINDOW_END: job.parameters[DATA_WINDOW_END],
            "DatasetManifest": Join(on="/", values=[pulled["report"].S3Output.S3Uri, naming.MANIFEST_FILE]),
            naming.EVALUATION_REPORT: Join(on="/", values=[evaluation_uri, naming.EVALUATION_FILE]),
            "BaselineProfile": Join(on="/", values=[evaluation_uri, naming.BASELINE_PROFILE]),
            "EnvironmentHash": _evaluation(evaluate, "lineage.environment_hash"),
            "DatasetManifestSha256": _evaluation(evaluate, "lineage.manifest_sha256"),
            "ModelSha256": _evaluation(evaluate, "lineage.model_sha256"),
            "CodeVersion": job.code_version,
            "ImageUri": job.model_image,
            "PipelineExecutionArn": ExecutionVariables.PIPELINE_EXECUTION_ARN,
            # a script's code, content-addressed (its key holds its sha256): what reproduce runs
            **({"SourceArchive": job.staged["source"].uri} if "source" in job.staged else {}),
        },
    )
    return ModelStep(name=REGISTER, display_name="Register candidate", step_args=step_args)


def quality_gates(job: Job, evaluate: Any, register: Any) -> Any:
    """Register when every gate passed, else fail with Evaluate's failure message."""
    from sagemaker.core.workflow.conditions import ConditionEquals
    from sagemaker.mlops.workflow import ConditionStep, FailStep

    failed = FailStep(name=GATES_FAILED, error_message=_evaluation(evaluate, "summary.failure_message"))
    return ConditionStep(
        name=QUALITY_GATES,
        display_name="Quality gates",
        conditions=[
            ConditionEquals(left=_evaluation(evaluate, f"gates.{name}.passed"), right=True)
            for name in gate_names(job.config)
        ],
        if_steps=[register],
        else_steps=[failed],
    )


def data_valid(data_pull: Any, then: list[Any]) -> Any:
    """Go on with `then` when the data checks passed, else fail with DataPull's failure message."""
    from sagemaker.core.workflow.conditions import ConditionEquals
    from sagemaker.core.workflow.functions import JsonGet
    from sagemaker.mlops.workflow import ConditionStep, FailStep

    (report,) = data_pull.property_files

    def validation(json_path: str) -> Any:
        return JsonGet(step_name=DATA_PULL, property_file=report, json_path=json_path)

    return ConditionStep(
        name=DATA_VALID,
        display_name="Data checks passed",
        conditions=[ConditionEquals(left=validation("passed"), right=True)],
        if_steps=then,
        else_steps=[FailStep(name=DATA_FAILED, error_message=validation("failure_message"))],
    )


def _text(value: int | float | str | bool) -> str:
    """A hyperparameter as an image reads it from hyperparameters.json: numbers and booleans as
    Python writes them in JSON (`300`, `0.1`, `true`), text as it is."""
    return value if isinstance(value, str) else json.dumps(value)


# --------------------------------------------------------------------------- image models
# An image model is scored through its own serving contract: a SageMaker Model of the image and
# the artifacts, then a batch transform of DataPull's scoring rows (test split, then edge cases).
# The champion is scored the same way; when no champion serves yet, SelectChampion names the
# candidate instead (a pipeline cannot rejoin after a condition, and a transform needs a model).


def create_model(job: Job, name: str, image: Any, model_data: Any, environment: dict[str, Any]) -> Any:
    """A SageMaker Model (CreateModel) of `image` serving `model_data`."""
    from sagemaker.mlops.workflow import ModelStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train.configs import Networking

    builder = ModelBuilder(
        s3_model_data_url=model_data,
        image_uri=image,
        sagemaker_session=job.session,
        role_arn=job.role,
        env_vars=environment,
        network=Networking(enable_network_isolation=job.config.pipeline.network_isolation, **job.vpc),
    )
    step_args = builder.build()
    # Tagged like every job: the pipeline role may create only models that carry the model's tag.
    step_args.create_model_request["Tags"] = job.tags
    return ModelStep(name=name, display_name=f"Model of the {name.removesuffix('Model').lower()}", step_args=step_args)


def transform(job: Job, name: str, model: Any, rows: Any) -> Any:
    """A batch transform of the scoring rows (CSV, one record per line) by `model`'s own server;
    the answers land as `<input file>.out`, one line per record."""
    from sagemaker.core.transformer import Transformer
    from sagemaker.mlops.workflow import TransformStep

    kms = job.config.pipeline.kms_key_id
    transformer = Transformer(
        model_name=model.properties.ModelName,
        instance_count=1,
        instance_type=job.config.registry.inference_instance_types[0],
        strategy="MultiRecord",
        assemble_with="Line",
        accept="text/csv",
        max_payload=6,  # MB per request: the real-time endpoint's limit, so a model that serves can score
        output_path=job.run_uri(name),
        output_kms_key=kms,
        volume_kms_key=kms,
        sagemaker_session=job.session,
        tags=job.tags,
    )
    return TransformStep(
        name=name,
        display_name=f"Score the {name.removeprefix('Score').lower()}",
        step_args=transformer.transform(data=rows, content_type="text/csv", split_type="Line"),
        retry_policies=job.retries,
    )


def select_champion(job: Job, train: Any) -> Any:
    """Which image and artifacts ScoreChampion scores: the champion's (champion.json), else the
    candidate's, so the transform always has a model; Evaluate ignores it when none serves."""
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow import ProcessingStep

    candidate = train.properties.ModelArtifacts.S3ModelArtifacts
    return ProcessingStep(
        name=SELECT_CHAMPION,
        display_name="Select the model to compare with",
        step_args=job.processor("select_champion", "select-champion").run(
            inputs=[s3_input("champion", job.parameters[CHAMPION_URI])],
            outputs=[s3_output(job, SELECT_CHAMPION, "selection")],
            arguments=[
                "--champion-uri",
                job.parameters[CHAMPION_URI],
                "--candidate-image",
                job.model_image,
                "--candidate-model-data",
                candidate,
                *[f"--candidate-environment={k}={v}" for k, v in _program_environment(job).items()],
            ],
        ),
        property_files=[PropertyFile(name=CHAMPION_SELECTION, output_name="selection", path=naming.SELECTION_FILE)],
        retry_policies=job.retries,
    )


def selected(select: Any, field: str) -> Any:
    from sagemaker.core.workflow.functions import JsonGet

    (selection,) = select.property_files
    return JsonGet(step_name=SELECT_CHAMPION, property_file=selection, json_path=field)


def scoring(job: Job, data_pull: Any, train: Any) -> tuple[list[Any], tuple[Any, Any]]:
    """The steps that score an image model and its champion, and the two transform steps."""
    rows = outputs(data_pull)["scoring"].S3Output.S3Uri
    artifacts = train.properties.ModelArtifacts.S3ModelArtifacts
    candidate_model = create_model(job, CREATE_CANDIDATE, job.model_image, artifacts, job.serving_environment)
    select = select_champion(job, train)
    # The champion serves with its own code: the program and source archive it was registered with.
    champion_environment = job.serving_environment | {
        name: selected(select, f"environment.{name}") for name in _program_environment(job)
    }
    champion_model = create_model(
        job, CREATE_CHAMPION, selected(select, "image"), selected(select, "model_data"), champion_environment
    )
    candidate = transform(job, SCORE_CANDIDATE, candidate_model, rows)
    champion = transform(job, SCORE_CHAMPION, champion_model, rows)
    return [candidate_model, candidate, select, champion_model, champion], (candidate, champion)


def _program_environment(job: Job) -> dict[str, Any]:
    """The serving variables that name a framework image's code (none for other images)."""
    return {k: v for k, v in job.serving_environment.items() if k in naming.PROGRAM_ENVIRONMENT}
