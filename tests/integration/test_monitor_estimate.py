"""The monitor job's estimated performance on stored hours: every score of the window's hours,
whatever the lookback, with or without inference ids and times, each record once."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pipelines.backtest.sweep import configured
from pipelines.config import ModelConfig
from pipelines.definition.builder import artifacts
from pipelines.local.storage import LocalS3
from pipelines.monitoring.job import monitor_inputs
from pipelines.simulation.datagen import StreamSpec, generate
from tests.integration.test_monitor_hours import HOUR9, monitor, put_capture
from tests.integration.test_monitor_job import capture_record, scores_for
from training_containers.profile import baseline_profile, with_predictions

ESTIMATING = {"drift.estimated_slo": {"metric": "roc_auc", "min": 0.9}}


def store_with_champion(tmp_path: Path, config: ModelConfig) -> LocalS3:
    train = generate(StreamSpec(rows=20_000, seed=31))
    scores = scores_for(train, 0)
    truth = train["is_fraud"].to_numpy().astype(int)
    profile = with_predictions(baseline_profile(train, config, predictions=scores), scores, config, truth)
    s3 = LocalS3(tmp_path / "s3")
    artifact = artifacts(config)["config"]
    assert artifact.content is not None
    s3.put_bytes(artifact.uri, artifact.content)
    s3.put_bytes(monitor_inputs(config)["baseline"], json.dumps(profile).encode())
    return s3


def estimated(report: dict[str, Any]) -> tuple[str, int]:
    found = report["estimated_performance"]
    return found["status"], found["predictions"]


def test_a_window_longer_than_the_label_lookback_is_estimated_on_all_its_hours(
    tmp_path: Path, config: ModelConfig
) -> None:
    config = configured(config, {**ESTIMATING, "drift.schedule": "rate(2 hours)", "drift.performance_window_hours": 1})
    s3 = store_with_champion(tmp_path, config)
    put_capture(s3, config, HOUR9, "nine", generate(StreamSpec(rows=800, seed=40)), 0)
    put_capture(s3, config, HOUR9 + timedelta(hours=1), "ten", generate(StreamSpec(rows=600, seed=41)), 1)
    report = monitor(s3, config, HOUR9 + timedelta(hours=2), tmp_path / "jobs")
    assert report["window"]["rows"] == 1400 and estimated(report) == ("ok", 1400)


@pytest.mark.parametrize("columns", ["no id", "no time", "neither"])
def test_flat_capture_without_ids_or_times_is_estimated_on_every_record(
    tmp_path: Path, config: ModelConfig, columns: str
) -> None:
    config = configured(config, ESTIMATING)
    s3 = store_with_champion(tmp_path, config)
    frame = generate(StreamSpec(rows=1500, seed=40))
    flat = frame[config.model.feature_names].assign(prediction=scores_for(frame, 1))
    if columns == "no time":
        flat["inference_id"] = [f"f{i}" for i in range(len(flat))]
    if columns == "no id":
        flat["inference_time"] = [HOUR9 + timedelta(seconds=i) for i in range(len(flat))]
    s3.put_bytes(f"{monitor_inputs(config)['capture']}{HOUR9:%Y/%m/%d/%H}/flat.csv", flat.to_csv(index=False).encode())
    report = monitor(s3, config, HOUR9 + timedelta(hours=1), tmp_path / "jobs")
    assert report["prediction"]["status"] == "ok" and estimated(report) == ("ok", 1500)


def test_records_sharing_an_inference_id_each_count(tmp_path: Path, config: ModelConfig) -> None:
    config = configured(config, ESTIMATING)
    s3 = store_with_champion(tmp_path, config)
    frame = generate(StreamSpec(rows=1500, seed=40))
    rows = frame[config.model.feature_names].to_csv(header=False, index=False).splitlines()
    lines = [
        json.dumps(
            capture_record(row, str(score), f"e-{k}", HOUR9 + timedelta(seconds=k), inference_id=f"customer-{k % 300}")
        )
        for k, (row, score) in enumerate(zip(rows, scores_for(frame, 1), strict=True))
    ]
    s3.put_bytes(f"{monitor_inputs(config)['capture']}{HOUR9:%Y/%m/%d/%H}/x.jsonl", ("\n".join(lines) + "\n").encode())
    report = monitor(s3, config, HOUR9 + timedelta(hours=1), tmp_path / "jobs")
    assert estimated(report) == ("ok", 1500)
