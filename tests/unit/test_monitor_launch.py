"""The monitor launcher's plan: which objects a scheduled run reads (only its hours, whatever the
retention), on how many instances, or why it does not run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from pipelines.config import ModelConfig
from pipelines.local.storage import LocalS3
from pipelines.monitoring.job import monitor_inputs, monitor_job_request, monitor_launch
from pipelines.monitoring.launch import MalformedLaunch, S3Store, plan_judge, plan_run, start_job
from pipelines.monitoring.local import completion_event
from pipelines.naming import ground_truth_prefix, monitor_hours_prefix, monitor_job_prefix

END = "2026-12-02T10:00:00Z"
BASELINE = b'{"version": 2, "rows": 1, "features": {}}'


class Recording:
    """LocalS3 as the launcher's store, recording every listing; sizes can be scaled up to stand
    for production objects."""

    def __init__(self, s3: LocalS3, scale: int = 1) -> None:
        self.s3, self.scale, self.listed = s3, scale, []

    def listing(self, uri: str) -> list[tuple[str, int]]:
        self.listed.append(uri)
        return [(key, size * self.scale) for key, size in self.s3.listing(uri)]

    def read_bytes(self, uri: str) -> bytes | None:
        return self.s3.read_bytes(uri)

    def put_bytes(self, uri: str, content: bytes) -> None:
        self.s3.put_bytes(uri, content)


@pytest.fixture
def s3(tmp_path: Path, config: ModelConfig) -> LocalS3:
    store = LocalS3(tmp_path / "s3")
    inputs = monitor_inputs(config)
    store.put_bytes(inputs["config"], b"{}")
    store.put_bytes(inputs["baseline"], BASELINE)
    return store


def _launch(config: ModelConfig, **changes: Any) -> dict[str, Any]:
    request = monitor_job_request(config, image_uri="img", role_arn="arn:aws:iam::1:role/r", key_arn="k")
    return monitor_launch(config, request, END) | changes


def _capture(s3: LocalS3, config: ModelConfig, hour: str, name: str, size: int = 10) -> str:
    key = f"{hour}/{name}"
    s3.put_bytes(monitor_inputs(config)["capture"] + key, b"x" * size)
    return key


def _manifest(s3: LocalS3, request: dict[str, Any], name: str) -> list[Any] | None:
    for item in request["ProcessingInputs"]:
        if item["InputName"] == name:
            assert item["S3Input"]["S3DataType"] == "ManifestFile"
            return s3.read_json(item["S3Input"]["S3Uri"])  # type: ignore[no-any-return]
    return None


def _stored(s3: LocalS3, config: ModelConfig, hour: str, key: str, objects: list[str]) -> None:
    """An hour entry as the job writes it (training_containers.hour_profiles.HourEntry.write)."""
    folder = f"{monitor_hours_prefix(config)}{hour}/{key}/"
    s3.put_bytes(folder + "profile.json", b"{}")
    s3.put_bytes(folder + "predictions.parquet", b"p")
    s3.put_bytes(folder + "objects.json", json.dumps({"objects": objects}).encode())


def _baseline_key() -> str:
    import hashlib

    return hashlib.sha256(BASELINE).hexdigest()[:16]


@pytest.mark.parametrize(
    ("missing", "reason"),
    [("config", "config artifact is missing"), ("baseline", "no champion baseline yet")],
)
def test_a_run_without_its_config_or_baseline_is_skipped_with_its_reason(
    s3: LocalS3, config: ModelConfig, missing: str, reason: str
) -> None:
    s3.path(monitor_inputs(config)[missing]).unlink()
    _capture(s3, config, "2026/12/02/09", "a.jsonl")
    run = plan_run(_launch(config), s3)
    assert run.request is None and run.skipped is not None and reason in run.skipped
    assert run.to_json()["job"] is None


def test_capture_outside_the_window_hours_is_not_a_reason_to_run(s3: LocalS3, config: ModelConfig) -> None:
    _capture(s3, config, "2026/12/02/08", "old.jsonl")  # the hour before the window
    _capture(s3, config, "2026/12/02/10", "running.jsonl")  # the hour still being written
    run = plan_run(_launch(config), s3)
    assert run.skipped == "no capture yet in the window's hours"


def test_a_run_reads_its_hour_only_with_the_same_listings_whatever_the_retention(
    s3: LocalS3, config: ModelConfig
) -> None:
    wanted = [_capture(s3, config, "2026/12/02/09", f"part-{n}.jsonl") for n in range(3)]
    recording = Recording(s3)
    plan_run(_launch(config), recording)
    one_day = list(recording.listed)
    for day in range(1, 90):  # 90 days of retention, an object an hour
        for hour in range(24):
            _capture(s3, config, f"2026/09/{3 + day // 30:02d}/{hour:02d}", f"d{day}.jsonl")
    recording = Recording(s3)
    run = plan_run(_launch(config), recording)
    assert recording.listed == one_day  # the same hour prefixes, whatever lies beside them
    assert len(one_day) == 1 + 1 + 24 + 25  # config; the window's capture hour; lookback hours; label hours
    assert run.request is not None and run.to_json()["instances"] == 1
    assert _manifest(s3, run.request, "capture") == [{"prefix": monitor_inputs(config)["capture"]}, *wanted]
    assert run.request["AppSpecification"]["ContainerArguments"] == [
        "--window-start",
        "2026-12-02T09:00:00Z",
        "--window-end",
        END,
    ]
    assert run.notes == ("no ground truth yet in the lookback's hours: performance waits for labels",)
    assert [i["InputName"] for i in run.request["ProcessingInputs"]] == ["config", "baseline", "capture"]


def test_stored_hours_are_reused_and_only_new_capture_is_profiled(s3: LocalS3, config: ModelConfig) -> None:
    done = _capture(s3, config, "2026/12/02/09", "early.jsonl")
    late = _capture(s3, config, "2026/12/02/09", "late.jsonl")
    key = _baseline_key()
    hours = monitor_hours_prefix(config)
    _stored(s3, config, "2026/12/02/09", key, [done])
    s3.put_bytes(f"{hours}2026/12/02/08/oldbaseline0000/predictions.parquet", b"p")  # an earlier champion's hour
    s3.put_bytes(f"{hours}2026/12/01/09/{key}/predictions.parquet", b"p")  # outside the 24-hour lookback
    truth = ground_truth_prefix(config)
    s3.put_bytes(f"{truth}2026/12/02/10/labels.jsonl", b"{}")  # arrived during the hour the run is in
    s3.put_bytes(f"{truth}2026/12/01/09/labels.jsonl", b"{}")  # before the lookback: not read
    run = plan_run(_launch(config), s3)
    assert run.request is not None
    assert _manifest(s3, run.request, "capture") == [{"prefix": monitor_inputs(config)["capture"]}, late]
    assert _manifest(s3, run.request, "hours") == [
        {"prefix": hours},
        "2026/12/02/08/oldbaseline0000/predictions.parquet",
        f"2026/12/02/09/{key}/predictions.parquet",
        f"2026/12/02/09/{key}/profile.json",
    ]
    assert _manifest(s3, run.request, "ground_truth") == [{"prefix": truth}, "2026/12/02/10/labels.jsonl"]
    assert run.reads == {"capture": 1, "hours": 3, "ground_truth": 1, "shards": 0}
    outputs = {o["OutputName"]: o["S3Output"]["S3Uri"] for o in run.request["ProcessingOutputConfig"]["Outputs"]}
    name = f"{monitor_job_prefix(config.model.name)}-202612021000"
    assert run.request["ProcessingJobName"] == name and len(name) <= 63
    assert outputs == {"report": outputs["report"], "hours": hours} and outputs["report"].endswith(f"/{name}/")


def test_an_hour_already_profiled_runs_without_a_capture_input(s3: LocalS3, config: ModelConfig) -> None:
    done = _capture(s3, config, "2026/12/02/09", "a.jsonl")
    _stored(s3, config, "2026/12/02/09", _baseline_key(), [done])
    run = plan_run(_launch(config), s3)
    assert run.request is not None
    assert [i["InputName"] for i in run.request["ProcessingInputs"]] == ["config", "baseline", "hours"]


def test_a_stored_hour_whose_object_list_is_unreadable_is_profiled_again(s3: LocalS3, config: ModelConfig) -> None:
    done = _capture(s3, config, "2026/12/02/09", "a.jsonl")
    _stored(s3, config, "2026/12/02/09", _baseline_key(), [done])
    s3.put_bytes(f"{monitor_hours_prefix(config)}2026/12/02/09/{_baseline_key()}/objects.json", b"{not json")
    run = plan_run(_launch(config), s3)
    assert run.request is not None and run.reads["capture"] == 1


def test_a_run_is_pinned_to_the_baseline_it_planned_with(s3: LocalS3, config: ModelConfig) -> None:
    _capture(s3, config, "2026/12/02/09", "a.jsonl")
    run = plan_run(_launch(config), s3)
    assert run.request is not None
    (baseline,) = [i["S3Input"] for i in run.request["ProcessingInputs"] if i["InputName"] == "baseline"]
    assert baseline["S3Uri"].endswith(f"/runs/{run.request['ProcessingJobName']}/baseline_profile.json")
    s3.put_bytes(monitor_inputs(config)["baseline"], b'{"a promotion": "since"}')
    assert s3.read_bytes(baseline["S3Uri"]) == BASELINE  # the job reads what the plan read


def test_the_launchers_names_are_the_projects(config: ModelConfig) -> None:
    from pipelines import naming
    from pipelines.monitoring import launch

    assert (launch.HOUR_PROFILE, launch.HOUR_PREDICTIONS, launch.HOUR_OBJECTS, launch.BASELINE_SNAPSHOT) == (
        naming.HOUR_PROFILE,
        naming.HOUR_PREDICTIONS,
        naming.HOUR_OBJECTS,
        naming.BASELINE_PROFILE,
    )


def test_a_large_hour_is_profiled_on_shards_and_judged_when_that_job_completes(
    s3: LocalS3, config: ModelConfig
) -> None:
    keys = [_capture(s3, config, "2026/12/02/09", f"part-{n}.jsonl", size=10) for n in range(7)]
    store = Recording(s3, scale=100_000_000)  # each object stands for 1 GB
    launch = _launch(config)
    run = plan_run(launch, store)
    request = run.request
    assert request is not None and run.new_capture_bytes == 7_000_000_000
    assert request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 4  # 7 GB at 2048 MB each
    assert request["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] == 30  # 1.75 GB a shard, twice: room
    stored_baseline = [i["S3Input"]["S3Uri"] for i in request["ProcessingInputs"] if i["InputName"] == "baseline"]
    (capture,) = [i for i in request["ProcessingInputs"] if i["InputName"] == "capture"]
    assert capture["S3Input"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert _manifest(s3, request, "capture")[1:] == keys  # type: ignore[index]
    assert request["AppSpecification"]["ContainerArguments"] == [
        "--stage",
        "profile",
        "--window-start",
        "2026-12-02T09:00:00Z",
        "--window-end",
        END,
    ]
    ((output, uri),) = [(o["OutputName"], o["S3Output"]["S3Uri"]) for o in request["ProcessingOutputConfig"]["Outputs"]]
    assert output == "shards" and uri.endswith(f"/runs/{request['ProcessingJobName']}/shards/")

    assert plan_judge(launch, {"detail": {**request, "ProcessingJobStatus": "Failed"}}, store) is None
    s3.put_bytes(monitor_inputs(config)["baseline"], b'{"a promotion": "since"}')
    judge = plan_judge(launch, completion_event(request), store)
    assert judge is not None and judge.request is not None
    assert judge.request["ProcessingJobName"] == request["ProcessingJobName"].removesuffix("-shards")
    assert judge.request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
    names = {i["InputName"]: i["S3Input"] for i in judge.request["ProcessingInputs"]}
    # the judge lays hours on the stage's baseline, even after a promotion in between
    assert s3.read_bytes(names["baseline"]["S3Uri"]) == s3.read_bytes(stored_baseline[0]) == BASELINE
    assert "capture" not in names and names["shards"]["S3Uri"] == uri and names["shards"]["S3DataType"] == "S3Prefix"
    assert judge.request["AppSpecification"]["ContainerArguments"][-2:] == ["--window-end", END]
    with pytest.raises(MalformedLaunch, match="ProcessingJobName"):
        plan_judge(launch, {"detail": {}}, store)


def test_the_instance_count_is_capped_and_the_volume_holds_a_shard(s3: LocalS3, config: ModelConfig) -> None:
    for n in range(30):
        _capture(s3, config, "2026/12/02/09", f"part-{n:02d}.jsonl")
    run = plan_run(_launch(config), Recording(s3, scale=1_000_000_000))  # 10 GB an object
    assert run.request is not None
    cluster = run.request["ProcessingResources"]["ClusterConfig"]
    assert cluster["InstanceCount"] == config.drift.max_instances
    assert cluster["VolumeSizeInGB"] == 160  # 300 GB over 8 instances, room for twice a shard, + 10


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda launch: launch.pop("request"), "request"),
        (lambda launch: launch.pop("hours_prefix"), "hours_prefix"),
        (lambda launch: launch.update(window_end="yesterday"), "window_end"),
        (lambda launch: launch["request"]["ProcessingInputs"].pop(), "baseline input is missing"),
    ],
)
def test_a_malformed_launch_names_the_field(s3: LocalS3, config: ModelConfig, change: Any, field: str) -> None:
    launch = _launch(config)
    change(launch)
    with pytest.raises(MalformedLaunch, match=field):
        plan_run(launch, s3)


def _client(service: str) -> Any:
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_the_s3_store_pages_listings_and_reads_a_missing_key_as_none() -> None:
    s3 = _client("s3")
    with Stubber(s3) as stub:
        prefix = "m/capture/e/production/2026/12/02/09/"
        stub.add_response(
            "list_objects_v2",
            {"IsTruncated": True, "NextContinuationToken": "t", "Contents": [{"Key": prefix + "b", "Size": 2}]},
            {"Bucket": "b", "Prefix": prefix},
        )
        stub.add_response(
            "list_objects_v2",
            {"IsTruncated": False, "Contents": [{"Key": prefix + "a", "Size": 1}]},
            {"Bucket": "b", "Prefix": prefix, "ContinuationToken": "t"},
        )
        stub.add_client_error("get_object", "NoSuchKey", "The specified key does not exist.", 404)
        store = S3Store(s3)
        assert store.listing(f"s3://b/{prefix}") == [("a", 1), ("b", 2)]
        assert store.read_bytes("s3://b/m/champion/baseline_profile.json") is None


def test_a_second_start_of_a_window_is_not_an_error(s3: LocalS3, config: ModelConfig) -> None:
    _capture(s3, config, "2026/12/02/09", "a.jsonl")
    run = plan_run(_launch(config), s3)
    assert run.request is not None
    sagemaker = _client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "create_processing_job", {"ProcessingJobArn": "arn:aws:sagemaker:us-east-1:1:processing-job/x"}
        )
        stub.add_client_error("create_processing_job", "ResourceInUse", "Job name must be unique")
        stub.add_client_error("create_processing_job", "ResourceLimitExceeded", "too many jobs")
        assert start_job(sagemaker, run.request) is True
        assert start_job(sagemaker, run.request) is False
        with pytest.raises(Exception, match="ResourceLimitExceeded"):
            start_job(sagemaker, run.request)
