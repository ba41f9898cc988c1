"""Starting the scheduled drift monitor job: which inputs a run gets, or why it does not run.

A SageMaker Processing job fails when an S3Prefix input matches no object ("No S3 objects found
under S3 URL ... given in input data source"; AWS-OFFLINE-NOTES.md, and the same validation on
CreateTrainingJob and CreateTransformJob in aws/amazon-sagemaker-examples#2489 and #2414). After
`cdk deploy` nothing is captured yet, labels may never come (no label feed), and no champion has
a baseline until the first version is in production. So the schedule does not start the job
directly: it invokes a small function that checks each input prefix first (one ListObjectsV2
with MaxKeys=1 each) and decides here:

- `config`, `baseline`, `capture` are required: with any of them empty, there is nothing to judge
  and the run is skipped with its reason ("no capture yet", ...), which is not a failure and
  publishes nothing (the alarms see missing data, not a breach);
- `ground_truth` is optional: without labels the job still measures covariate and prediction
  drift, and publishes them (performance waits for labels).

The job name is the model's owned prefix plus the window end (`pipelines.naming`), so a retried
invocation for the same window finds the job already started instead of starting a second one.
Standard library only: it runs in a zip function.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

REQUIRED = {
    "config": "the job's config artifact is missing: deploy the stack again",
    "baseline": "no champion baseline yet: no version is in production",
    "capture": "no capture yet: the endpoint has served no traffic",
}
OPTIONAL = {"ground_truth": "no ground truth yet: performance waits for labels"}


class MalformedLaunch(ValueError):
    """The schedule's input is not a monitor launch: names the field."""


@dataclass(frozen=True)
class MonitorRun:
    window_end: str
    request: dict[str, Any] | None  # CreateProcessingJob, or None when the run is skipped
    skipped: str | None = None
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        name = self.request["ProcessingJobName"] if self.request else None
        return {"window_end": self.window_end, "job": name, "skipped": self.skipped, "notes": list(self.notes)}


def window_end(value: Any) -> datetime:
    """The scheduled time Scheduler substitutes (`<aws.scheduler.scheduled-time>`, ISO-8601 UTC)."""
    if not isinstance(value, str):
        raise MalformedLaunch(f"window_end: expected the scheduled time as text, got {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedLaunch(f"window_end: not an ISO-8601 time: {value!r}") from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def plan_run(launch: Mapping[str, Any], has_objects: Callable[[str], bool]) -> MonitorRun:
    """The run for one scheduled time. `launch` is the schedule's input: `window_end`,
    `job_name_prefix` and `request` (the CreateProcessingJob request without its name and window;
    each output prefix gets the job's name below it);
    `has_objects(s3_uri)` says whether any object is under a prefix."""
    for field in ("window_end", "job_name_prefix", "request"):
        if field not in launch:
            raise MalformedLaunch(f"{field}: missing from the schedule's input")
    end = window_end(launch["window_end"])
    stamp = end.isoformat().replace("+00:00", "Z")
    request = copy.deepcopy(dict(launch["request"]))
    inputs = {item["InputName"]: item for item in request.get("ProcessingInputs", [])}
    unknown = set(inputs) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        raise MalformedLaunch(f"request.ProcessingInputs: unknown inputs {sorted(unknown)}")
    for name, reason in REQUIRED.items():
        if name not in inputs:
            raise MalformedLaunch(f"request.ProcessingInputs: the {name} input is missing")
        if not has_objects(inputs[name]["S3Input"]["S3Uri"]):
            return MonitorRun(stamp, None, skipped=reason)
    notes = []
    for name, reason in OPTIONAL.items():
        if name in inputs and not has_objects(inputs[name]["S3Input"]["S3Uri"]):
            del inputs[name]
            notes.append(reason)
    request["ProcessingInputs"] = list(inputs.values())
    name = f"{launch['job_name_prefix']}-{end:%Y%m%d%H%M}"
    request["ProcessingJobName"] = name
    for output in request.get("ProcessingOutputConfig", {}).get("Outputs", []):
        output["S3Output"]["S3Uri"] = f"{output['S3Output']['S3Uri'].rstrip('/')}/{name}/"  # a prefix a run
    request["AppSpecification"] = {**request["AppSpecification"], "ContainerArguments": ["--window-end", stamp]}
    return MonitorRun(stamp, request, notes=tuple(notes))


# ---- AWS, through injected clients


def has_objects(s3: Any, uri: str) -> bool:
    """Any object under the prefix: one ListObjectsV2 with MaxKeys=1."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return int(s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0)) > 0


def start_job(sagemaker: Any, request: dict[str, Any]) -> bool:
    """CreateProcessingJob; False when a job of this name exists already (a retried invocation for
    the same window: CreateProcessingJob answers ResourceInUse, as botocore's model lists)."""
    try:
        sagemaker.create_processing_job(**request)
    except Exception as error:
        if getattr(error, "response", {}).get("Error", {}).get("Code") != "ResourceInUse":
            raise
        return False
    return True
