"""The monitor at volume, run as on AWS (the launcher's plan on S3, the job with its request) on
the local S3: each captured hour is profiled once and reused, a sharded run (its shards separate
processes) judges exactly as one instance, and bad capture is reported, never counted twice."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipelines.config import ModelConfig
from pipelines.definition.builder import artifacts
from pipelines.drift import run_monitor as judge_records
from pipelines.local.storage import LocalS3
from pipelines.monitoring.job import monitor_inputs, monitor_job_request, monitor_launch
from pipelines.monitoring.local import run_monitor
from pipelines.naming import ground_truth_prefix, monitor_hours_prefix
from pipelines.simulation.datagen import StreamSpec, generate
from tests.conftest import Container
from tests.integration.test_monitor_job import capture_record, scores_for
from training_containers import monitor as job
from training_containers.capture import read_capture
from training_containers.profile import baseline_profile

HOUR9 = datetime(2026, 3, 1, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def profile(config: ModelConfig) -> dict[str, Any]:
    train = generate(StreamSpec(rows=20_000, seed=31))
    return baseline_profile(train, config, predictions=scores_for(train, 0))


@pytest.fixture
def s3(tmp_path: Path, config: ModelConfig, profile: dict[str, Any]) -> LocalS3:
    store = LocalS3(tmp_path / "s3")
    artifact = artifacts(config)["config"]
    store.put_bytes(artifact.uri, artifact.content)
    store.put_bytes(monitor_inputs(config)["baseline"], json.dumps(profile).encode())
    return store


def put_capture(
    s3: LocalS3, config: ModelConfig, hour: datetime, name: str, frame: pd.DataFrame, seed: int, extra: str = ""
) -> list[str]:
    """One capture object in `hour`'s partition, as SageMaker writes it; returns the inference ids."""
    rows = frame[config.model.feature_names].to_csv(header=False, index=False).splitlines()
    ids = [f"{name}-{i}" for i in range(len(frame))]
    lines = [
        json.dumps(capture_record(r, str(s), f"e-{i}", hour + timedelta(seconds=k), inference_id=i))
        for k, (r, s, i) in enumerate(zip(rows, scores_for(frame, seed), ids, strict=True))
    ]
    uri = f"{monitor_inputs(config)['capture']}{hour:%Y/%m/%d/%H}/{name}.jsonl"
    s3.put_bytes(uri, ("\n".join(lines) + "\n" + extra).encode())
    return ids


def put_labels(s3: LocalS3, config: ModelConfig, arrived: datetime, ids: list[str], labels: np.ndarray) -> None:
    lines = [
        json.dumps({"groundTruthData": {"data": str(int(y)), "encoding": "CSV"}, "eventMetadata": {"eventId": i}})
        for i, y in zip(ids, labels, strict=True)
    ]
    s3.put_bytes(f"{ground_truth_prefix(config)}{arrived:%Y/%m/%d/%H}/labels.jsonl", "\n".join(lines).encode())


def launch(config: ModelConfig, end: datetime, **changes: Any) -> dict[str, Any]:
    request = monitor_job_request(config, image_uri="local", role_arn="local", key_arn="local")
    return monitor_launch(config, request, end.isoformat()) | changes


def monitor(s3: LocalS3, config: ModelConfig, end: datetime, folder: Path, **changes: Any) -> dict[str, Any]:
    run, report = run_monitor(launch(config, end, **changes), s3, folder, None)
    assert report is not None, run.skipped
    return report | {"run": run.to_json()}


def test_each_hour_is_profiled_once_and_later_runs_reuse_it(
    s3: LocalS3, config: ModelConfig, profile: dict[str, Any], tmp_path: Path
) -> None:
    nine = [generate(StreamSpec(rows=800, seed=40 + n)) for n in range(2)]
    ten = generate(StreamSpec(rows=900, seed=45, scenario="covariate"))
    ids9 = [put_capture(s3, config, HOUR9, f"nine-{n}", frame, n) for n, frame in enumerate(nine)]
    put_labels(s3, config, HOUR9 + timedelta(minutes=90), ids9[0], nine[0]["is_fraud"].to_numpy())
    put_capture(s3, config, HOUR9 + timedelta(hours=1), "ten", ten, 7)

    first = monitor(s3, config, HOUR9 + timedelta(hours=1), tmp_path / "jobs")
    assert first["hours"]["profiled"] == ["2026-03-01T09:00:00Z"] and first["window"]["rows"] == 1600
    assert first["run"]["reads"]["capture"] == 2

    second = monitor(s3, config, HOUR9 + timedelta(hours=2), tmp_path / "jobs")
    assert second["run"]["reads"]["capture"] == 1  # hour ten only; hour nine comes from the store
    assert second["hours"]["profiled"] == ["2026-03-01T10:00:00Z"] and second["window"]["rows"] == 900
    # performance: hour nine's stored predictions joined with the labels that arrived at 10:30
    assert second["window"]["labelled_rows"] == 800

    # the same window judged from the records themselves: the same verdicts
    captured, _ = read_capture(s3.path(monitor_inputs(config)["capture"] + "2026/03/01/10/"), config)
    direct = judge_records(config, profile, captured)
    assert second["summary"]["drifted_features"] == direct["summary"]["drifted_features"]
    for name, result in direct["features"].items():
        assert second["features"][name]["breaches"] == result["breaches"], name

    # a file written late into hour ten, and the window retried: only the new object is read
    late = generate(StreamSpec(rows=300, seed=46, scenario="covariate"))
    put_capture(s3, config, HOUR9 + timedelta(hours=1), "ten-late", late, 8)
    retried = monitor(s3, config, HOUR9 + timedelta(hours=2), tmp_path / "jobs")
    assert retried["run"]["reads"]["capture"] == 1 and retried["window"]["rows"] == 1200
    store = s3.path(monitor_hours_prefix(config))
    stored = sorted(p.relative_to(store).as_posix() for p in store.rglob("profile.json"))
    assert len(stored) == 2 and stored[0].startswith("2026/03/01/09/") and stored[1].startswith("2026/03/01/10/")
    objects = json.loads((store / stored[1]).with_name("objects.json").read_text())["objects"]
    assert objects == ["2026/03/01/10/ten-late.jsonl", "2026/03/01/10/ten.jsonl"]


def test_four_shards_in_separate_processes_judge_as_one_instance(
    s3: LocalS3, config: ModelConfig, tmp_path: Path
) -> None:
    frames = [generate(StreamSpec(rows=500, seed=60 + n, scenario="covariate" if n % 2 else "none")) for n in range(8)]
    for n, frame in enumerate(frames):
        put_capture(s3, config, HOUR9, f"part-{n}", frame, n)
    alone = LocalS3(tmp_path / "alone")
    shutil.copytree(s3.root, alone.root)
    end = HOUR9 + timedelta(hours=1)

    sharded = monitor(s3, config, end, tmp_path / "sharded", instance_capture_mb=0.0001, max_instances=4)
    single = monitor(alone, config, end, tmp_path / "single")

    assert single["run"]["instances"] == 1
    assert sharded["run"]["instances"] == 4
    assert sharded["hours"]["profiled"] == single["hours"]["profiled"] == ["2026-03-01T09:00:00Z"]
    assert sharded["summary"] == single["summary"] and sharded["window"] == single["window"]
    assert sharded["summary"]["drifted_feature_count"] >= 1
    for name, result in single["features"].items():
        other = sharded["features"][name]
        assert (other["status"], other["breaches"], other["rows"]) == (
            result["status"],
            result["breaches"],
            result["rows"],
        )
        for statistic in ("psi", "ks", "wasserstein", "js", "ood_share", "cramers_v", "null_rate"):
            if result.get(statistic) is not None:
                assert other[statistic] == pytest.approx(result[statistic], rel=1e-9, abs=1e-12), (name, statistic)
    # every shard ran as its own process, with its own host name
    hosts = sorted(
        p.name for p in (tmp_path / "sharded").rglob("algo-*") if p.is_dir() and p.parent.name.endswith("-shards")
    )
    assert hosts == ["algo-1", "algo-2", "algo-3", "algo-4"]


def test_bad_capture_is_reported_and_never_counted_twice(
    s3: LocalS3, config: ModelConfig, tmp_path: Path, container: Container
) -> None:
    frame = generate(StreamSpec(rows=400, seed=70))
    ids = put_capture(s3, config, HOUR9, "good", frame, 1, extra="{not json\n")
    half = put_capture(s3, config, HOUR9, "half", frame.iloc[:100], 2)
    uri = f"{monitor_inputs(config)['capture']}2026/03/01/09/half.jsonl"
    body = s3.read_bytes(uri)
    assert body is not None
    s3.put_bytes(uri, body[: len(body) - 40])  # cut inside its last line, as an interrupted upload would
    put_labels(
        s3,
        config,
        HOUR9 + timedelta(hours=1),
        [*ids[:300], "nobody-1", "nobody-2"],
        np.r_[frame["is_fraud"].to_numpy()[:300], 1, 0],
    )
    two_hours = launch(config, HOUR9 + timedelta(hours=1), period_seconds=7200)

    _, report = run_monitor(two_hours, s3, tmp_path / "jobs", None)
    assert report is not None
    assert report["hours"]["window"] == ["2026-03-01T08:00:00Z", "2026-03-01T09:00:00Z"]
    assert report["hours"]["missing"] == ["2026-03-01T08:00:00Z"]
    assert report["window"]["rows"] == 499  # 400 + 99 whole lines of the cut object
    assert report["capture"]["skipped"] == 2 and any("not JSON" in p for p in report["capture"]["problems"])
    assert report["window"]["labelled_rows"] == 300  # labels for unknown ids join nothing

    # the same object again beside a stored hour that covers it (two runs that raced): counted once
    stored = next(s3.path(monitor_hours_prefix(config)).rglob("profile.json")).parent
    assert sorted(json.loads((stored / "profile.json").read_text())["objects"]) == [
        "2026/03/01/09/good.jsonl",
        "2026/03/01/09/half.jsonl",
    ]
    container.put_config(config)
    inputs = container.root / "processing" / "input"
    (inputs / "baseline").mkdir(parents=True)
    shutil.copy(s3.path(monitor_inputs(config)["baseline"]), inputs / "baseline")
    shutil.copytree(stored, inputs / "hours" / "2026/03/01/09" / stored.name)
    (inputs / "capture" / "2026/03/01/09").mkdir(parents=True)
    shutil.copy(
        s3.path(f"{monitor_inputs(config)['capture']}2026/03/01/09/good.jsonl"), inputs / "capture/2026/03/01/09"
    )
    again = job.run(window_end=(HOUR9 + timedelta(hours=1)).isoformat())
    assert again["window"]["rows"] == 499
    assert any("already profiled in a stored hour" in problem for problem in again["capture"]["problems"])
    assert len(half) == 100


def test_capture_that_lands_after_its_hour_was_judged_still_meets_its_labels(
    s3: LocalS3, config: ModelConfig, tmp_path: Path
) -> None:
    early = generate(StreamSpec(rows=300, seed=80))
    ids = put_capture(s3, config, HOUR9, "nine", early, 1)
    monitor(s3, config, HOUR9 + timedelta(hours=1), tmp_path / "jobs")  # hour nine judged
    late = generate(StreamSpec(rows=100, seed=81))
    late_ids = put_capture(s3, config, HOUR9, "nine-late", late, 2)  # uploaded after that run
    put_labels(
        s3,
        config,
        HOUR9 + timedelta(minutes=90),
        ids + late_ids,
        np.r_[early["is_fraud"].to_numpy(), late["is_fraud"].to_numpy()],
    )
    put_capture(s3, config, HOUR9 + timedelta(hours=1), "ten", generate(StreamSpec(rows=200, seed=82)), 3)

    later = monitor(s3, config, HOUR9 + timedelta(hours=2), tmp_path / "jobs")
    assert later["window"]["rows"] == 200  # hour ten's drift only
    assert later["window"]["labelled_rows"] == 400  # hour nine's predictions, the late ones too
    assert later["run"]["notes"][0].startswith("1 capture object(s) landed in hours judged already")
    again = monitor(s3, config, HOUR9 + timedelta(hours=2), tmp_path / "jobs")  # a retry reads nothing new
    assert again["run"]["reads"]["capture"] == 0 and again["window"]["labelled_rows"] == 400
