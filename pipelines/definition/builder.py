"""The retraining pipeline, built from a model config with the sagemaker SDK (3.x).

DataPull+Validate -> DataValid? (else FailStep DataValidationFailed) -> Train -> Evaluate ->
QualityGates? (else FailStep QualityGatesFailed) -> Register.

Building is offline and deterministic: no AWS call (the SDK's bucket lookup, role validation and
telemetry are switched off here), no timestamps, and every artifact the jobs read is addressed
by the sha256 of its content. `artifacts(config)` lists those objects so a deployment (CDK) or
the local runtime can put them where the definition expects them.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import io
import json
import logging
import os
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines import bundles, naming
from pipelines.config import ModelConfig, SqlSource, config_to_json, require_deployable
from pipelines.definition.steps import PROCESSING
from pipelines.errors import DefinitionError
from pipelines.naming import DATA_PULL

PROJECT_ROOT = bundles.PROJECT_ROOT


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
    found = {"config": _content_addressed(config, naming.CONFIG, naming.CONFIG_FILE, config_to_json(config).encode())}
    edge = config.gates.edge_cases
    if edge is not None and not edge.uri.startswith("s3://"):
        path = config.local_path(edge.uri)
        if not path.exists():
            raise DefinitionError(f"gates.edge_cases.uri: {path} does not exist")
        found["edge_cases"] = _content_addressed(config, naming.EDGE_CASES, "edge-cases.csv", path.read_bytes())
    elif edge is not None:
        found["edge_cases"] = Artifact(edge.uri, b"")
    script = config.training.script
    if script is not None:
        needed = {"entry_point": script.entry_point, "inference": script.inference}
        if script.requirements:
            needed["requirements"] = script.requirements
        archive = source_archive(config.local_path(script.source_dir), needed)
        if script.framework_image:
            require_input_fn(config.local_path(script.source_dir) / script.inference)
        found["source"] = _content_addressed(config, naming.SOURCE, naming.SOURCE_ARCHIVE, archive)
    return found


def require_input_fn(inference: Path) -> None:
    """A framework image's serving library decodes a text/csv request into a numeric array unless
    the inference module defines `input_fn`; the features hold text, so it must (read without
    importing the module)."""
    tree = ast.parse(inference.read_text(encoding="utf-8"), filename=str(inference))
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    if "input_fn" not in defined:
        raise DefinitionError(
            f"training.script.inference: {inference} defines no input_fn; with framework_image the framework's "
            "serving library calls input_fn(body, content_type) first and its default reads CSV as numbers only: "
            "return the features frame (models/tabular/inference.py shows one)"
        )


def source_archive(folder: Path, required: dict[str, str]) -> bytes:
    """`folder` as a gzipped tar, the same bytes for the same files: entries sorted, times, owners
    and modes fixed, no gzip timestamp; caches and hidden files left out. `required` (the
    training.script field -> its file) must be there."""
    if not folder.is_dir():
        raise DefinitionError(f"training.script.source_dir: {folder} is not a folder")
    for field, name in required.items():
        if not (folder / name).is_file():
            raise DefinitionError(f"training.script.{field}: {folder / name} does not exist")
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(folder).parts)
    )
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped, tarfile.open(fileobj=zipped, mode="w") as tar:
        for path in files:
            info = tarfile.TarInfo(path.relative_to(folder).as_posix())
            data = path.read_bytes()
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def pipeline_name(config: ModelConfig) -> str:
    return naming.pipeline_name(config.model.name)


def _quiet_sdk() -> None:
    """The SDK warns about things that are on purpose here (no job is started); its logging is
    switched off around the build in `definition_json`."""
    warnings.filterwarnings("ignore", module=r"sagemaker\..*")
    warnings.filterwarnings("ignore", message=r".*PipelineSession.*")


def _validate_sdk_config_once() -> None:
    """The SDK checks the session's `sagemaker_config` against its JSON schema on every config
    lookup (over a hundred a build, most of the build's time with image models' ModelSteps). The
    same dict passes or fails the same way each time: each distinct one is checked once."""
    from sagemaker.core.config.config_manager import SageMakerConfig

    check = SageMakerConfig.validate_sagemaker_config
    if getattr(check, "once", False):
        return
    passed: set[str] = set()

    def validate_once(sagemaker_config: dict[str, Any] | None = None) -> None:
        key = json.dumps(sagemaker_config, sort_keys=True, default=str)
        if key not in passed:
            check(sagemaker_config)
            passed.add(key)

    validate_once.once = True  # type: ignore[attr-defined]
    SageMakerConfig.validate_sagemaker_config = staticmethod(validate_once)


def _session(config: ModelConfig) -> Any:
    # The SDK creates boto3 clients at import time and needs a region for that (no call is made).
    os.environ.setdefault("AWS_DEFAULT_REGION", config.pipeline.region)
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"  # else ModelTrainer calls iam:SimulatePrincipalPolicy
    _quiet_sdk()
    _validate_sdk_config_once()
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
    """The `sagemaker.mlops.workflow.Pipeline` for this config: one builder per step (`steps`)."""
    session = _session(config)  # before the SDK's import, which needs the region it sets
    from sagemaker.mlops.workflow import Pipeline

    from pipelines.definition import steps

    job = steps.Job.of(config, session, image_uri(config), code_version(), artifacts(config))
    data_pull = steps.data_pull(job)
    train = steps.train(job, data_pull)
    scoring, scored = steps.scoring(job, data_pull, train) if job.scored_by_transform else ([], None)
    evaluate = steps.evaluate(job, data_pull, train, scored)
    register = steps.register(job, data_pull, train, evaluate)
    gated = [train, *scoring, evaluate, steps.quality_gates(job, evaluate, register)]
    return Pipeline(
        name=pipeline_name(config),
        parameters=list(job.parameters.values()),
        steps=[data_pull, steps.data_valid(data_pull, gated)],
        sagemaker_session=job.session,
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


def _registered_life_cycle(definition: dict[str, Any]) -> None:
    """A registered candidate's `ModelLifeCycle` (the SDK's step has no argument for it), so Studio
    shows the registry's own lifecycle from the first version on; promotion moves it with every
    stage (pipelines.promotion.lifecycle)."""
    from pipelines.promotion.lifecycle import Stage, life_cycle

    def visit(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            arguments = step.get("Arguments", {})
            if step.get("Type") == "RegisterModel":
                arguments["ModelLifeCycle"] = life_cycle(
                    Stage.REGISTERED, "registered by the pipeline: awaiting approval in Studio"
                )
            for branch in ("IfSteps", "ElseSteps"):  # a condition step's branches
                visit(arguments.get(branch, []))

    visit(definition.get("Steps", []))


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
    _registered_life_cycle(document)
    return json.dumps(document, indent=2) + "\n"
