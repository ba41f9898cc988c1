"""Processing and training jobs on this machine, under the SageMaker container contract.

Each job gets its own `/opt/ml` tree (the job code finds it through `OPT_ML_ROOT`): inputs are
copied in from local S3 as SageMaker would download them, the image's Python entrypoint runs in
a subprocess with the job's environment, and on success the outputs are uploaded back
(processing outputs folder by folder; training's /opt/ml/model as `model.tar.gz`). A failed job
reports what SageMaker would: the first 1024 characters of /opt/ml/output/failure, else the
exit code and the end of its log.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.bundles import PROJECT_ROOT
from pipelines.errors import PipelinesError
from pipelines.local import containers
from pipelines.local.containers import Images
from pipelines.local.storage import LocalS3

OPT_ML = "/opt/ml"
FAILURE_REASON_LIMIT = 1024
QUERY_RESULT_FILE = "0000_part_00"

QueryRunner = Callable[[str], pd.DataFrame]


class JobFailed(PipelinesError):
    """A job ended Failed. `retryable_as` names the SageMaker exception type a retry policy
    would match (None for an algorithm error, which SageMaker never retries)."""

    def __init__(self, reason: str, retryable_as: str | None = None) -> None:
        self.reason = reason[:FAILURE_REASON_LIMIT]
        self.retryable_as = retryable_as
        super().__init__(self.reason)


@dataclass(frozen=True)
class JobContext:
    name: str
    arn: str
    folder: Path  # the job's own directory: opt_ml/ and job.log
    s3: LocalS3
    run_query: QueryRunner | None = None
    images: Images = field(default_factory=Images)

    @property
    def opt_ml(self) -> Path:
        return self.folder / "opt_ml"

    @property
    def log(self) -> Path:
        return self.folder / "job.log"

    def local(self, container_path: str) -> Path:
        """A container path under /opt/ml, in this job's tree."""
        if not (container_path == OPT_ML or container_path.startswith(OPT_ML + "/")):
            raise JobFailed(
                f"ClientError: LocalPath {container_path!r} is outside {OPT_ML}; the local runtime maps only {OPT_ML}"
            )
        return self.opt_ml / container_path.removeprefix(OPT_ML).lstrip("/")


def run_processing(request: dict[str, Any], job: JobContext, timeout: float | None = None) -> dict[str, Any]:
    """One processing job; with InstanceCount > 1 each instance is a process of its own, with its
    own /opt/ml (`algo-<n>`, as /opt/ml/config/resourceconfig.json names it), its share of the
    `ShardedByS3Key` inputs, and its outputs uploaded under the same prefixes. They run one after
    another; the outputs are those of running them at once."""
    count = int(request.get("ProcessingResources", {}).get("ClusterConfig", {}).get("InstanceCount", 1))
    for index in range(count):
        run_instance(request, job, index, count, timeout)
    return request | {"ProcessingJobName": job.name, "ProcessingJobArn": job.arn, "ProcessingJobStatus": "Completed"}


def run_instance(
    request: dict[str, Any], job: JobContext, index: int = 0, count: int = 1, timeout: float | None = None
) -> None:
    """Instance `index` of `count` of a processing job: staged, run, its outputs uploaded."""
    instance = job if count == 1 else replace(job, folder=job.folder / f"algo-{index + 1}")
    stage_processing(request, instance, index, count)
    app = request["AppSpecification"]
    command = [*_python_command(app.get("ContainerEntrypoint") or []), *app.get("ContainerArguments", [])]
    _run(command, request.get("Environment", {}), instance, _runtime_limit(request, timeout), processing=True)
    upload_outputs(request, instance)


def stage_processing(request: dict[str, Any], job: JobContext, index: int = 0, count: int = 1) -> None:
    """Instance `index` of `count`'s /opt/ml before its container starts: inputs, and the two
    files SageMaker Processing writes under /opt/ml/config ("How Amazon SageMaker Processing
    Configures Your Processing Container":
    https://docs.aws.amazon.com/sagemaker/latest/dg/build-your-own-processing-container.html)."""
    for item in request.get("ProcessingInputs", []):
        _stage_processing_input(item, job, shard=(index, count))
    config = job.opt_ml / "config"
    config.mkdir(parents=True, exist_ok=True)
    hosts = [f"algo-{n}" for n in range(1, count + 1)]
    (config / "processingjobconfig.json").write_text(json.dumps(request, indent=2, default=str))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": hosts[index], "hosts": hosts}))


def upload_outputs(request: dict[str, Any], job: JobContext) -> None:
    for output in request.get("ProcessingOutputConfig", {}).get("Outputs", []):
        if "S3Output" in output:
            folder = job.local(output["S3Output"]["LocalPath"])
            folder.mkdir(parents=True, exist_ok=True)
            job.s3.upload(folder, output["S3Output"]["S3Uri"])


def run_training(request: dict[str, Any], job: JobContext, timeout: float | None = None) -> dict[str, Any]:
    config_dir = job.opt_ml / "input" / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    for folder in ("model", "output/data"):  # SageMaker creates them before the container starts
        (job.opt_ml / folder).mkdir(parents=True, exist_ok=True)
    channels: dict[str, Any] = {}
    for channel in request.get("InputDataConfig", []):
        source = channel["DataSource"].get("S3DataSource")
        if source is None:
            raise JobFailed(f"ClientError: channel {channel['ChannelName']}: only S3DataSource channels run locally")
        _require(source.get("S3DataType", "S3Prefix") == "S3Prefix", f"channel {channel['ChannelName']}: S3DataType")
        _download(job, source["S3Uri"], job.opt_ml / "input" / "data" / channel["ChannelName"])
        channels[channel["ChannelName"]] = {"TrainingInputMode": channel.get("InputMode", "File")}
    (config_dir / "hyperparameters.json").write_text(json.dumps(request.get("HyperParameters", {})))
    (config_dir / "inputdataconfig.json").write_text(json.dumps(channels))
    (config_dir / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    algorithm = request["AlgorithmSpecification"]
    cwd = None
    if algorithm.get("ContainerEntrypoint"):
        command = [*_python_command(algorithm["ContainerEntrypoint"]), *algorithm.get("ContainerArguments", [])]
    else:  # SageMaker runs the image as `docker run <image> train`
        command, cwd = _image_command(job, algorithm["TrainingImage"], "train")
    environment = {**request.get("Environment", {}), "TRAINING_JOB_NAME": job.name, "TRAINING_JOB_ARN": job.arn}
    _run(command, environment, job, _runtime_limit(request, timeout), cwd, processing=False)
    output_path = f"{request['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{job.name}/output"
    model_uri = f"{output_path}/model.tar.gz"
    job.s3.put_bytes(model_uri, _tar_gz(job.opt_ml / "model"))
    output_data = job.opt_ml / "output" / "data"
    if output_data.is_dir() and any(output_data.iterdir()):
        job.s3.put_bytes(f"{output_path}/output.tar.gz", _tar_gz(output_data))
    return request | {
        "TrainingJobName": job.name,
        "TrainingJobArn": job.arn,
        "TrainingJobStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": model_uri},
    }


def run_transform(
    request: dict[str, Any], model: dict[str, Any], job: JobContext, timeout: float | None = None
) -> dict[str, Any]:
    """A batch transform: `model`'s image serves its unpacked ModelDataUrl; every object under the
    input prefix is split into lines, sent in requests of at most MaxPayloadInMB (one record a
    request with SingleRecord) and answered into `<S3OutputPath>/<object key>.out`."""
    container = model.get("PrimaryContainer") or {}
    _require_transform(request, container)
    if container.get("ModelDataUrl"):
        _download(job, container["ModelDataUrl"], job.folder / "model-data")
        archives = sorted((job.folder / "model-data").rglob("*.tar.gz"))
        if not archives:
            raise JobFailed(f"ClientError: ModelDataUrl {container['ModelDataUrl']} holds no .tar.gz archive")
        containers.unpack_model(archives[0], job.opt_ml / "model")
    command, cwd = _image_command(job, container["Image"], "serve")
    source = request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    output = request["TransformOutput"]
    objects = job.s3.keys(source)
    if not objects:
        raise JobFailed(f'ClientError: No S3 objects found under S3 URL "{source}" given in input data source.')
    single = request.get("BatchStrategy") == "SingleRecord"
    payload = 0.0 if single else float(request.get("MaxPayloadInMB", 6))
    limit = timeout or containers.INVOCATIONS_TIMEOUT_SECONDS
    environment = {**container.get("Environment", {}), **request.get("Environment", {})}
    try:
        with containers.model_server(command, cwd, environment, job.opt_ml, job.log) as url:
            for relative, path in objects:
                lines = path.read_bytes().splitlines(keepends=True)
                batches = lines if single else containers.mini_batches(lines, payload)
                answers = [
                    containers.invoke(
                        url,
                        body,
                        request["TransformInput"].get("ContentType", "text/csv"),
                        output.get("Accept", "text/csv"),
                        limit,
                    )
                    for body in batches
                ]
                joined = b"".join(a if a.endswith(b"\n") else a + b"\n" for a in answers)
                job.s3.put_bytes(f"{output['S3OutputPath'].rstrip('/')}/{relative}.out", joined)
    except PipelinesError as error:
        raise JobFailed(str(error)) from error
    return request | {"TransformJobName": job.name, "TransformJobArn": job.arn, "TransformJobStatus": "Completed"}


def _require_transform(request: dict[str, Any], container: dict[str, Any]) -> None:
    source = request["TransformInput"]["DataSource"].get("S3DataSource")
    if source is None or source.get("S3DataType", "S3Prefix") != "S3Prefix":
        raise JobFailed("ClientError: the local runtime transforms S3Prefix inputs only")
    if request["TransformInput"].get("SplitType", "None") != "Line":
        raise JobFailed("ClientError: the local runtime transforms line-split input only (SplitType Line)")
    if request["TransformOutput"].get("AssembleWith", "None") != "Line":
        raise JobFailed("ClientError: the local runtime assembles transform output by line only (AssembleWith Line)")
    if not container.get("Image"):
        raise JobFailed("ClientError: the model has no PrimaryContainer image")


def _image_command(job: JobContext, image: str, mode: str) -> tuple[list[str], Path | None]:
    try:
        return job.images.command(image, mode)
    except containers.ImageNotRunnable as error:
        raise JobFailed(str(error)) from error


def _stage_processing_input(item: dict[str, Any], job: JobContext, shard: tuple[int, int] = (0, 1)) -> None:
    """Copy one input into the instance's /opt/ml. `ShardedByS3Key` gives instance i of n every
    n-th object in key order: SageMaker documents only that each instance "gets approximately 1/n
    of the number of S3 objects" (S3DataSource, SageMaker API Reference), so job code must not
    rely on which ones."""
    name = item["InputName"]
    if "S3Input" in item:
        source = item["S3Input"]
        kind = source.get("S3DataType", "S3Prefix")
        _require(kind in ("S3Prefix", "ManifestFile"), f"input {name}: S3DataType")
        _require(source.get("S3CompressionType", "None") == "None", f"input {name}: S3CompressionType")
        try:
            objects = (
                job.s3.manifest_objects(source["S3Uri"]) if kind == "ManifestFile" else job.s3.keys(source["S3Uri"])
            )
            if not objects:
                job.s3.download(source["S3Uri"], job.local(source["LocalPath"]))  # fails as SageMaker does
        except PipelinesError as exc:
            raise JobFailed(str(exc)) from exc
        index, count = shard if source.get("S3DataDistributionType") == "ShardedByS3Key" else (0, 1)
        destination = job.local(source["LocalPath"])
        for relative, path in objects[index::count]:
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)  # the job only reads its inputs; a link spares copying capture
            except OSError:
                shutil.copyfile(path, target)
    elif "DatasetDefinition" in item:
        _materialise_dataset(name, item["DatasetDefinition"], job)
    else:
        raise JobFailed(f"ClientError: input {name} has neither S3Input nor DatasetDefinition")


def _materialise_dataset(name: str, dataset: dict[str, Any], job: JobContext) -> None:
    """Athena / Redshift run the query and deliver its result as files; here DuckDB runs it over
    the tables the config maps to local data."""
    query_spec = dataset.get("AthenaDatasetDefinition") or dataset.get("RedshiftDatasetDefinition")
    if query_spec is None or job.run_query is None:
        raise JobFailed(
            f"ClientError: input {name}: only Athena or Redshift dataset definitions with local tables run locally"
        )
    try:
        frame = job.run_query(query_spec["QueryString"])
    except Exception as exc:  # the query engine's own message says what is wrong
        raise JobFailed(f"ClientError: input {name}: query failed: {exc}") from exc
    folder = job.local(dataset["LocalPath"])
    folder.mkdir(parents=True, exist_ok=True)
    # Named as the engines name their result files: without extension, `<slice>_part_<part>`
    # ("UNLOAD examples", Amazon Redshift Database Developer Guide:
    # https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD_command_examples.html; Athena's
    # UNLOAD writes extension-less files too), so job code that picks files by name fails here too.
    if query_spec.get("OutputFormat", "PARQUET") == "PARQUET":
        frame.to_parquet(folder / QUERY_RESULT_FILE, index=False)
    else:
        frame.to_csv(folder / QUERY_RESULT_FILE, index=False)


def _download(job: JobContext, uri: str, destination: Path) -> None:
    try:
        job.s3.download(uri, destination)
    except PipelinesError as exc:
        raise JobFailed(str(exc)) from exc


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise JobFailed(
            f"ClientError: {what}: the local runtime supports S3Prefix and ManifestFile, uncompressed inputs only"
        )


def _python_command(entrypoint: list[str]) -> list[str]:
    if not entrypoint or Path(entrypoint[0]).name not in containers.PYTHON_NAMES:
        raise JobFailed(
            f"ClientError: entrypoint {entrypoint!r}: the local runtime runs Python entrypoints of the job image"
        )
    return [sys.executable, *entrypoint[1:]]


def _runtime_limit(request: dict[str, Any], timeout: float | None) -> float | None:
    limit = request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    return timeout if timeout is not None else (float(limit) if limit else None)


def _run(
    command: list[str],
    environment: dict[str, str],
    job: JobContext,
    limit: float | None,
    cwd: Path | None = None,
    *,
    processing: bool,
) -> None:
    env = {
        # On a shared laptop, OpenMP threads that spin while waiting slow training down by an order
        # of magnitude as soon as another process holds a core; passive waiting costs little.
        "OMP_WAIT_POLICY": "PASSIVE",
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SM_"))},
        **environment,
        "OPT_ML_ROOT": str(job.opt_ml.resolve()),  # the job runs with its own folder as cwd
        "SM_LOCAL_RUNTIME": "1",
        "PYTHONPATH": str(PROJECT_ROOT),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    job.folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with job.log.open("w", encoding="utf-8") as log:
        try:
            result = subprocess.run(
                command,
                env=env,
                cwd=cwd or job.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=limit,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise JobFailed(f"MaxRuntimeExceeded: the job ran longer than {limit:.0f} s") from exc
        except (FileNotFoundError, PermissionError) as exc:  # the command, not the machine: no retry
            raise JobFailed(f"ClientError: cannot start {command[0]!r}: {exc.strerror}") from exc
    if result.returncode != 0:
        raise JobFailed(_failure_reason(job, result.returncode, time.monotonic() - started, processing))


def _failure_reason(job: JobContext, code: int, seconds: float, processing: bool) -> str:
    """A training job's FailureReason is its /opt/ml/output/failure; a processing job reports its
    /opt/ml/output/message as ExitMessage (contract.exit_message_file), shown here beside the exit
    code. Without either, the exit code and the end of the log."""
    if not processing:
        failure = job.opt_ml / "output" / "failure"
        if failure.is_file() and failure.read_text(encoding="utf-8").strip():
            return failure.read_text(encoding="utf-8").strip()
    message = job.opt_ml / "output" / "message"
    if processing and message.is_file() and message.read_text(encoding="utf-8").strip():
        return f"AlgorithmError: exit code {code}. ExitMessage: {message.read_text(encoding='utf-8').strip()}"
    tail = job.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
    last = re.sub(r"\s+", " ", " | ".join(tail))
    return f"AlgorithmError: exit code {code} after {seconds:.1f} s. Log ends: {last}"


def _tar_gz(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as archive:
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                info = archive.gettarinfo(str(path), arcname=path.relative_to(folder).as_posix())
                info.mtime = 0
                if path.is_file():
                    with path.open("rb") as handle:
                        archive.addfile(info, handle)
                else:
                    archive.addfile(info)
    return buffer.getvalue()
