"""Starting the scheduled drift monitor: which objects a run reads, on how many instances, or why
it does not run.

The launcher lists exactly the hour partitions a run needs (pipelines.monitoring.hours) and
hands the job manifests of those objects, so a run reads what its window needs whatever the
retention: the capture no stored hour profile covers yet, the stored hour profiles of the
window, the stored predictions of the performance lookback, and the labels that arrived since
its start. The choice (the launcher lists; the job reads only what it is given) keeps the job
free of S3 calls, lets SageMaker shard the capture over instances (`ShardedByS3Key` splits a
manifest's objects across them), and costs the launcher one ListObjectsV2 per hour partition.

Manifests are SageMaker's ManifestFile inputs: a JSON array, a `{"prefix": ...}` first and object
keys relative to it after ("S3DataSource", SageMaker API Reference:
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html). A processing
input that matches no object fails the job ("No S3 objects found under S3 URL ..."), so an input
with nothing in it is left out rather than sent empty.

A run whose new capture exceeds `drift.instance_capture_mb` runs in two jobs: a profile stage on
up to `drift.max_instances` instances, each profiling its share of the capture
(`<job>-shards`), and, when SageMaker reports that job Completed (EventBridge "SageMaker
Processing Job State Change"), a judge job that merges the shards' hour profiles into the store
and judges the window (`plan_judge`). One instance does both in one job.

Skipped runs publish nothing (the alarms see missing data, not a breach): no config object, no
champion baseline (no version in production yet), or no capture in the window's hours.

The job name is the model's owned prefix plus the window end (`pipelines.naming`), so a retried
invocation for the same window finds the job already started instead of starting a second one.
Standard library only: it runs in a zip function.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pipelines.monitoring.hours import label_hours, lookback_hours, partition, stamp, window_hours

SKIPS = {
    "config": "the job's config artifact is missing: deploy the stack again",
    "baseline": "no champion baseline yet: no version is in production",
    "capture": "no capture yet in the window's hours",
}
NO_LABELS = "no ground truth yet in the lookback's hours: performance waits for labels"
INPUTS = ("config", "capture", "ground_truth", "baseline")
LAUNCH_FIELDS = (
    "window_end",
    "job_name_prefix",
    "request",
    "hours_prefix",
    "runs_prefix",
    "period_seconds",
    "performance_window_hours",
    "instance_capture_mb",
    "max_instances",
)
# pipelines.naming's, repeated for the zip function (tests/unit/test_monitor_launch.py checks they agree)
HOUR_PROFILE, HOUR_PREDICTIONS, HOUR_OBJECTS = "profile.json", "predictions.parquet", "objects.json"
BASELINE_SNAPSHOT = "baseline_profile.json"
SHARDS_SUFFIX = "-shards"
JUDGE_WINDOW_END = "from the completed job's name"  # the completion rule's launch: plan_judge reads the name
COMPLETED = "Completed"


class MalformedLaunch(ValueError):
    """The schedule's input (or the completion event) is not a monitor launch: names the field."""


class Store(Protocol):
    """The objects the launcher reads and writes (S3, or the local runtime's folders)."""

    def listing(self, uri: str) -> list[tuple[str, int]]:
        """(key relative to the prefix, size) of every object under a prefix, sorted by key."""
        ...

    def read_bytes(self, uri: str) -> bytes | None:
        """An object's bytes, None when there is none."""
        ...

    def put_bytes(self, uri: str, content: bytes) -> None: ...


@dataclass(frozen=True)
class MonitorRun:
    window_end: str
    request: dict[str, Any] | None  # CreateProcessingJob, or None when the run is skipped
    skipped: str | None = None
    notes: tuple[str, ...] = ()
    reads: Mapping[str, int] = field(default_factory=dict)  # input -> objects in its manifest
    new_capture_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        name = self.request["ProcessingJobName"] if self.request else None
        instances = self.request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] if self.request else 0
        return {
            "window_end": self.window_end,
            "job": name,
            "instances": instances,
            "skipped": self.skipped,
            "notes": list(self.notes),
            "reads": dict(self.reads),
            "new_capture_bytes": self.new_capture_bytes,
        }


def window_end(value: Any) -> datetime:
    """The scheduled time Scheduler substitutes (`<aws.scheduler.scheduled-time>`, ISO-8601 UTC)."""
    if not isinstance(value, str):
        raise MalformedLaunch(f"window_end: expected the scheduled time as text, got {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedLaunch(f"window_end: not an ISO-8601 time: {value!r}") from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _checked(launch: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    for name in LAUNCH_FIELDS:
        if name not in launch:
            raise MalformedLaunch(f"{name}: missing from the schedule's input")
    inputs = {item["InputName"]: item for item in launch["request"].get("ProcessingInputs", [])}
    unknown = set(inputs) - set(INPUTS)
    if unknown:
        raise MalformedLaunch(f"request.ProcessingInputs: unknown inputs {sorted(unknown)}")
    for name in INPUTS:
        if name not in inputs:
            raise MalformedLaunch(f"request.ProcessingInputs: the {name} input is missing")
    return inputs


def _uri(inputs: Mapping[str, dict[str, Any]], name: str) -> str:
    return str(inputs[name]["S3Input"]["S3Uri"])


@dataclass
class _Plan:
    """What one run reads, found by listing the hours it needs."""

    baseline: bytes  # the champion's baseline profile as read: the run is pinned to it
    new_capture: list[tuple[str, int]]
    hours: list[str]  # stored entry files, relative to the hours prefix
    labels: list[str]
    late: int = 0  # of the new capture, objects in hours judged already


def _find(
    launch: Mapping[str, Any], inputs: Mapping[str, dict[str, Any]], store: Store, end: datetime, baseline_uri: str
) -> _Plan | str:
    """The objects a run needs, or why it has nothing to judge."""
    if not store.listing(_uri(inputs, "config")):
        return SKIPS["config"]
    baseline_bytes = store.read_bytes(baseline_uri)
    if baseline_bytes is None:
        return SKIPS["baseline"]
    baseline = hashlib.sha256(baseline_bytes).hexdigest()[:16]
    capture, hours_prefix = _uri(inputs, "capture"), str(launch["hours_prefix"])
    window = window_hours(end, int(launch["period_seconds"]))
    lookback = lookback_hours(end, float(launch["performance_window_hours"]))
    kept = {hour: {key for key, _ in store.listing(hours_prefix + partition(hour))} for hour in {*window, *lookback}}
    ours = {name: f"{baseline}/{name}" for name in (HOUR_OBJECTS, HOUR_PROFILE, HOUR_PREDICTIONS)}
    new: list[tuple[str, int]] = []
    stored: list[str] = []
    for hour in window:
        covered: set[str] = set()
        if ours[HOUR_PROFILE] in kept[hour] and ours[HOUR_OBJECTS] in kept[hour]:
            covered = _covered(store.read_bytes(hours_prefix + partition(hour) + ours[HOUR_OBJECTS]))
            stored.append(partition(hour) + ours[HOUR_PROFILE])
        objects = [(partition(hour) + key, size) for key, size in store.listing(capture + partition(hour))]
        new += [(key, size) for key, size in objects if key not in covered]
    if not new and not stored:
        return SKIPS["capture"]
    late = 0
    for hour in sorted(set(lookback) - set(window)):
        # Capture that landed in an hour after it was judged: added to that hour's stored entry so
        # its predictions meet their labels (the hour's verdict was published already). Only into
        # an entry of this baseline: a new one would hide the hour's predictions of an earlier one.
        if ours[HOUR_OBJECTS] in kept[hour]:
            covered = _covered(store.read_bytes(hours_prefix + partition(hour) + ours[HOUR_OBJECTS]))
            objects = [(partition(hour) + key, size) for key, size in store.listing(capture + partition(hour))]
            missed = [(key, size) for key, size in objects if key not in covered]
            if missed:
                new += missed
                late += len(missed)
                stored.append(partition(hour) + ours[HOUR_PROFILE])
    for hour in lookback:  # predictions do not depend on the baseline: ours, else any hour's
        found = sorted(key for key in kept[hour] if key.endswith(f"/{HOUR_PREDICTIONS}"))
        chosen = ours[HOUR_PREDICTIONS] if ours[HOUR_PREDICTIONS] in found else (found[0] if found else None)
        if chosen is not None:
            stored.append(partition(hour) + chosen)
    truth = _uri(inputs, "ground_truth")
    labels = [
        partition(hour) + key
        for hour in label_hours(end, float(launch["performance_window_hours"]))
        for key, _ in store.listing(truth + partition(hour))
    ]
    return _Plan(baseline_bytes, new, sorted(set(stored)), labels, late)


def _covered(document: bytes | None) -> set[str]:
    """The capture objects a stored hour covers; none when its list cannot be read (the hour is
    then profiled again, and the job replaces the entry it cannot read either)."""
    try:
        objects = json.loads(document or b"{}").get("objects", [])
    except (ValueError, AttributeError):
        return set()
    return {str(key) for key in objects} if isinstance(objects, list) else set()


def _volume_gb(instance_bytes: int) -> int:
    """A File-mode input is downloaded to the instance's volume: room for it twice (the inputs and
    what is written from them) plus 10 GB, from 30 GB to the largest volume SageMaker allows
    (ProcessingClusterConfig.VolumeSizeInGB: 1 to 16384)."""
    return max(30, min(16384, math.ceil(2 * instance_bytes / 1e9) + 10))


def _baseline_snapshot(launch: Mapping[str, Any], job: str) -> str:
    return f"{launch['runs_prefix']}{job}/{BASELINE_SNAPSHOT}"


def _pinned(
    launch: Mapping[str, Any], inputs: Mapping[str, dict[str, Any]], store: Store, found: _Plan, job: str
) -> dict[str, Any]:
    """The baseline input of a job, pinned to the profile the plan read: a copy under the run's
    prefix, so a promotion between the plan and the job (or between a sharded run's two jobs)
    cannot mix hours laid on two baselines."""
    uri = _baseline_snapshot(launch, job)
    store.put_bytes(uri, found.baseline)
    item = inputs["baseline"]
    return {**item, "S3Input": {**item["S3Input"], "S3Uri": uri, "S3DataType": "S3Prefix"}}


def _manifest(store: Store, runs_prefix: str, job: str, name: str, prefix: str, keys: list[str]) -> str:
    uri = f"{runs_prefix}{job}/manifests/{name}.json"
    store.put_bytes(uri, json.dumps([{"prefix": prefix}, *keys], indent=0).encode())
    return uri


def _manifest_input(item: Mapping[str, Any], uri: str, sharded: bool = False) -> dict[str, Any]:
    source = {**item["S3Input"], "S3Uri": uri, "S3DataType": "ManifestFile"}
    if sharded:
        source["S3DataDistributionType"] = "ShardedByS3Key"
    return {**item, "S3Input": source}


def plan_run(launch: Mapping[str, Any], store: Store) -> MonitorRun:
    """The run for one scheduled time. `launch` is the schedule's input (pipelines.monitoring.job
    `monitor_launch`): the window end, the job name prefix, the CreateProcessingJob request
    without its name, window and manifests, the stores' prefixes and the sizing settings."""
    inputs = _checked(launch)
    end = window_end(launch["window_end"])
    when = stamp(end)
    found = _find(launch, inputs, store, end, _uri(inputs, "baseline"))
    if isinstance(found, str):
        return MonitorRun(when, None, skipped=found)
    size = sum(size for _, size in found.new_capture)
    wanted = math.ceil(size / (float(launch["instance_capture_mb"]) * 1e6))
    # never more instances than objects: ShardedByS3Key splits objects, not bytes
    shards = max(1, min(int(launch["max_instances"]), len(found.new_capture), wanted))
    name = f"{launch['job_name_prefix']}-{end:%Y%m%d%H%M}"
    if shards > 1:
        return _profile_stage(launch, inputs, store, found, f"{name}{SHARDS_SUFFIX}", when, shards, size)
    return _judge(launch, inputs, store, found, name, when, size, capture=True)


def plan_judge(launch: Mapping[str, Any], event: Mapping[str, Any], store: Store) -> MonitorRun | None:
    """The judge job of a sharded run, when its profile stage's completion event arrives (None
    for any other job or status, which this function does not act on)."""
    detail = event.get("detail") or {}
    job = detail.get("ProcessingJobName")
    if not isinstance(job, str):
        raise MalformedLaunch("detail.ProcessingJobName: missing from the completion event")
    if detail.get("ProcessingJobStatus") != COMPLETED or not job.endswith(SHARDS_SUFFIX):
        return None
    name = job.removesuffix(SHARDS_SUFFIX)
    prefix = f"{launch['job_name_prefix']}-"
    if not name.startswith(prefix):
        return None
    try:
        end = datetime.strptime(name.removeprefix(prefix), "%Y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        raise MalformedLaunch(f"detail.ProcessingJobName: no window end in {job!r}") from None
    inputs = _checked(launch)
    found = _find(launch, inputs, store, end, _baseline_snapshot(launch, job))  # the profile stage's
    if isinstance(found, str):
        return MonitorRun(stamp(end), None, skipped=found)
    shards = f"{launch['runs_prefix']}{job}/shards/"
    return _judge(launch, inputs, store, found, name, stamp(end), 0, capture=False, shards=shards)


def _judge(
    launch: Mapping[str, Any],
    inputs: Mapping[str, dict[str, Any]],
    store: Store,
    found: _Plan,
    name: str,
    when: str,
    size: int,
    *,
    capture: bool,
    shards: str | None = None,
    shard_bytes: int | None = None,
) -> MonitorRun:
    request = copy.deepcopy(dict(launch["request"]))
    runs, hours_prefix = str(launch["runs_prefix"]), str(launch["hours_prefix"])

    def manifest(item: Mapping[str, Any], prefix: str, keys: list[str]) -> dict[str, Any]:
        return _manifest_input(item, _manifest(store, runs, name, str(item["InputName"]), prefix, keys))

    chosen: list[dict[str, Any]] = [inputs["config"], _pinned(launch, inputs, store, found, name)]
    reads = {"capture": 0, "hours": len(found.hours), "ground_truth": len(found.labels), "shards": 0}
    if capture and found.new_capture:
        reads["capture"] = len(found.new_capture)
        chosen.append(manifest(inputs["capture"], _uri(inputs, "capture"), [key for key, _ in found.new_capture]))
    if found.hours:
        chosen.append(manifest(_local_input(inputs["capture"], "hours"), hours_prefix, found.hours))
    if shards is not None:
        item = _local_input(inputs["capture"], "shards")
        chosen.append({**item, "S3Input": {**item["S3Input"], "S3Uri": shards, "S3DataType": "S3Prefix"}})
        reads["shards"] = 1
    notes: tuple[str, ...] = ()
    if capture and found.late:
        notes += (f"{found.late} capture object(s) landed in hours judged already: added to those hours",)
    if found.labels:
        chosen.append(manifest(inputs["ground_truth"], _uri(inputs, "ground_truth"), found.labels))
    else:
        notes += (NO_LABELS,)
    request["ProcessingInputs"] = chosen
    request["ProcessingJobName"] = name
    _size_volume(request, size + (shard_bytes or 0))
    for output in request.get("ProcessingOutputConfig", {}).get("Outputs", []):
        if output["OutputName"] == "report":  # a prefix a run; the hour store is shared
            output["S3Output"]["S3Uri"] = f"{output['S3Output']['S3Uri'].rstrip('/')}/{name}/"
    request["AppSpecification"] = {**request["AppSpecification"], "ContainerArguments": _window_arguments(launch, when)}
    return MonitorRun(when, request, notes=notes, reads=reads, new_capture_bytes=size)


def _window_arguments(launch: Mapping[str, Any], when: str) -> list[str]:
    """The job judges exactly the hours the launcher planned for."""
    first = window_hours(window_end(when), int(launch["period_seconds"]))[0]
    return ["--window-start", stamp(first), "--window-end", when]


def _profile_stage(
    launch: Mapping[str, Any],
    inputs: Mapping[str, dict[str, Any]],
    store: Store,
    found: _Plan,
    name: str,
    when: str,
    shards: int,
    size: int,
) -> MonitorRun:
    request = copy.deepcopy(dict(launch["request"]))
    runs = str(launch["runs_prefix"])
    keys = [key for key, _ in found.new_capture]
    capture = _manifest_input(
        inputs["capture"], _manifest(store, runs, name, "capture", _uri(inputs, "capture"), keys), sharded=True
    )
    request["ProcessingInputs"] = [inputs["config"], _pinned(launch, inputs, store, found, name), capture]
    request["ProcessingJobName"] = name
    local = str(inputs["capture"]["S3Input"]["LocalPath"]).rsplit("/input/", 1)[0]
    request["ProcessingOutputConfig"] = {
        **request.get("ProcessingOutputConfig", {}),
        "Outputs": [
            {
                "OutputName": "shards",
                "S3Output": {
                    "S3Uri": f"{runs}{name}/shards/",
                    "LocalPath": f"{local}/output/shards",
                    "S3UploadMode": "EndOfJob",
                },
            }
        ],
    }
    request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = shards
    _size_volume(request, math.ceil(size / shards) * 2)  # ShardedByS3Key splits by objects: room for uneven ones
    request["AppSpecification"] = {
        **request["AppSpecification"],
        "ContainerArguments": ["--stage", "profile", *_window_arguments(launch, when)],
    }
    reads = {"capture": len(keys), "hours": 0, "ground_truth": 0, "shards": 0}
    return MonitorRun(when, request, reads=reads, new_capture_bytes=size)


def _size_volume(request: dict[str, Any], instance_bytes: int) -> None:
    cluster = request["ProcessingResources"]["ClusterConfig"]
    cluster["VolumeSizeInGB"] = max(int(cluster.get("VolumeSizeInGB", 30)), _volume_gb(instance_bytes))


def _local_input(item: Mapping[str, Any], name: str) -> dict[str, Any]:
    """An input like `item`, named `name`, at the sibling local path."""
    local = str(item["S3Input"]["LocalPath"]).rsplit("/", 1)[0] + f"/{name}"
    return {**item, "InputName": name, "S3Input": {**item["S3Input"], "LocalPath": local}}


# ---- AWS, through injected clients


class S3Store:
    """The launcher's S3: paginated ListObjectsV2, GetObject, PutObject."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3

    def listing(self, uri: str) -> list[tuple[str, int]]:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        found = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found += [(item["Key"][len(prefix) :], int(item["Size"])) for item in page.get("Contents", [])]
        return sorted(found)

    def read_bytes(self, uri: str) -> bytes | None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            body: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as error:
            if getattr(error, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return body

    def put_bytes(self, uri: str, content: bytes) -> None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        self.s3.put_object(Bucket=bucket, Key=key, Body=content, ContentType="application/json")


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
