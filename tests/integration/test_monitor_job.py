"""The drift monitor job under the container contract: real data-capture and ground-truth
formats in, JSON and HTML reports out, metrics to the local store (and, through botocore's
Stubber, requests CloudWatch would accept), then the alarms evaluated over those metrics."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest
from botocore.stub import ANY, Stubber

from pipelines.config import ModelConfig
from pipelines.drift.metrics import metric_data
from pipelines.monitoring.alarms import alarm_specs, evaluate_alarms, replay_alarms
from pipelines.monitoring.metrics_store import MetricDataRejected, MetricsStore
from pipelines.simulation.datagen import StreamSpec, generate
from tests.conftest import Container
from training_containers import monitor
from training_containers.capture import CaptureStats, read_capture, read_ground_truth
from training_containers.profile import baseline_profile

HOUR0 = datetime(2026, 3, 1, 10, tzinfo=UTC)


def capture_record(
    inputs: str, output: str, event_id: str, time: datetime, inference_id: str | None = None, encoding: str = "CSV"
) -> dict:
    content = "application/json" if encoding == "JSON" else "text/csv"
    metadata = {"eventId": event_id, "inferenceTime": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    return {
        "captureData": {
            "endpointInput": {"observedContentType": content, "mode": "INPUT", "data": inputs, "encoding": encoding},
            "endpointOutput": {
                "observedContentType": "text/csv; charset=utf-8",
                "mode": "OUTPUT",
                "data": output,
                "encoding": "CSV",
            },
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }


def scores_for(frame: pd.DataFrame, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.1, 0.15, len(frame))
    return np.clip(frame["is_fraud"].to_numpy() * 0.7 + noise, 0, 1).round(4)


def write_capture(folder: Path, frame: pd.DataFrame, config: ModelConfig, start: datetime, seed: int) -> list[str]:
    """One capture line per row (CSV), spread over one hour; returns the inference ids."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = frame[config.model.feature_names].to_csv(header=False, index=False).splitlines()
    scores = scores_for(frame, seed)
    ids = [f"{seed}-{i}" for i in range(len(frame))]
    step = 3600 / len(frame)
    lines = [
        json.dumps(capture_record(r, str(s), f"evt-{i}", start + timedelta(seconds=k * step), inference_id=i))
        for k, (r, s, i) in enumerate(zip(rows, scores, ids, strict=True))
    ]
    (folder / f"{start:%H}-capture.jsonl").write_text("\n".join(lines) + "\n")
    return ids


def write_ground_truth(folder: Path, ids: list[str], labels: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {
                "groundTruthData": {"data": str(int(y)), "encoding": "CSV"},
                "eventMetadata": {"eventId": i},
                "eventVersion": "0",
            }
        )
        for i, y in zip(ids, labels, strict=True)
    ]
    (folder / "labels.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def profile(config: ModelConfig) -> dict:
    train = generate(StreamSpec(rows=30_000, seed=21))
    return baseline_profile(train, config, predictions=scores_for(train, 0))


def stage(container: Container, config: ModelConfig, profile: dict) -> Path:
    container.put_config(config)
    baseline = container.root / "processing" / "input" / "baseline"
    baseline.mkdir(parents=True, exist_ok=True)
    (baseline / "baseline_profile.json").write_text(json.dumps(profile))
    return container.root / "processing" / "input"


def test_monitor_reports_drift_performance_and_publishes_metrics(
    container: Container, config: ModelConfig, profile: dict, tmp_path: Path
) -> None:
    inputs = stage(container, config, profile)
    window = generate(StreamSpec(rows=3000, seed=22, scenario="covariate"))
    ids = write_capture(inputs / "capture", window, config, HOUR0, seed=22)
    write_ground_truth(inputs / "ground_truth", ids[:1200], window["is_fraud"].to_numpy()[:1200])
    with (inputs / "capture" / "10-capture.jsonl").open("a") as handle:
        handle.write("{not json\n")
    store = MetricsStore(tmp_path / "metrics.sqlite")

    report = monitor.run(window_end=(HOUR0 + timedelta(hours=1)).isoformat(), metrics_client=store)

    written = json.loads((container.output("report") / "drift_report.json").read_text())
    assert written["summary"] == report["summary"]
    assert "<table>" in (container.output("report") / "drift_report.html").read_text()
    assert report["window"]["rows"] == 3000 and report["window"]["labelled_rows"] == 1200
    assert report["capture"]["skipped"] == 1 and "not JSON" in report["capture"]["problems"][0]
    assert {"amount", "distance_from_home_km", "merchant_category", "device_trust"} <= set(
        report["summary"]["drifted_features"]
    )
    assert report["summary"]["drift_detected"]
    assert report["performance"]["status"] == "ok" and report["performance"]["labels"] == 1200
    assert report["features"]["amount"]["values"] == 3000

    stamp = HOUR0 + timedelta(hours=1) - timedelta(seconds=1)
    count = store.datapoints("DriftRetraining", "DriftedFeatureCount", {"Model": "fraud-detector"})
    assert count == [(stamp, float(report["summary"]["drifted_feature_count"]))]
    recall = store.datapoints("DriftRetraining", "Recall", {"Model": "fraud-detector"})
    assert recall[0][1] == pytest.approx(report["performance"]["metrics"]["recall"])
    assert report["metrics"]["requests"] == 1 and report["metrics"]["datapoints"] > 50


def test_three_hourly_windows_raise_the_drifted_features_alarm(
    container: Container, config: ModelConfig, profile: dict, tmp_path: Path
) -> None:
    inputs = stage(container, config, profile)
    scenarios = ["none", "covariate", "covariate"]
    for hour, scenario in enumerate(scenarios):
        frame = generate(StreamSpec(rows=1500, seed=30 + hour, scenario=scenario))
        write_capture(inputs / "capture", frame, config, HOUR0 + timedelta(hours=hour), seed=30 + hour)
    store = MetricsStore(tmp_path / "metrics.sqlite")
    for hour in range(3):
        start = HOUR0 + timedelta(hours=hour)
        monitor.run(
            window_start=start.isoformat(), window_end=(start + timedelta(hours=1)).isoformat(), metrics_client=store
        )

    specs = alarm_specs(config)
    states = evaluate_alarms(specs, store, HOUR0 + timedelta(hours=3, minutes=5))
    drifted = states["fraud-detector-retrain-drifted-features"]
    assert drifted.state == "ALARM" and drifted.breaching == 2  # 2 of 3 periods, as configured
    assert states["fraud-detector-drift-amount-psi"].state == "ALARM"
    assert states["fraud-detector-drift-hour_of_day-psi"].state == "OK"
    assert states["fraud-detector-retrain-performance-slo"].state == "INSUFFICIENT_DATA"  # no labels yet

    changes = replay_alarms([s for s in specs if s.triggers_retraining], store, HOUR0, HOUR0 + timedelta(hours=4))
    # one calm hour is a real datapoint within the threshold: OK (the guide's "- - - - 0"); then 2 of 3
    assert [(c.alarm, c.state, c.time) for c in changes] == [
        ("fraud-detector-retrain-drifted-features", "OK", HOUR0 + timedelta(hours=1)),
        ("fraud-detector-retrain-drifted-features", "ALARM", HOUR0 + timedelta(hours=3)),
    ]


def test_capture_formats_multi_record_json_base64_and_flat_tables(config: ModelConfig, tmp_path: Path) -> None:
    names = config.model.feature_names
    row = ["12.5", "online", "3", "400", "8.2", "2", "1", "0.9", "low"]
    as_json = json.dumps(
        {"instances": [dict(zip(names, [12.5, "online", 3, 400, 8.2, 2, 1, 0.9, "low"], strict=True))]}
    )
    lines = [
        capture_record(",".join(row), "0.1", "e1", HOUR0, "i1"),
        capture_record(",".join(row) + "\n" + ",".join(row), "0.2\n0.3", "e2", HOUR0),  # two records, no inferenceId
        capture_record(as_json, "0.4", "e3", HOUR0, "i3", encoding="JSON"),
        capture_record(base64.b64encode(",".join(row).encode()).decode(), "0.5", "e4", HOUR0, "i4", encoding="BASE64"),
        capture_record("1,2,3", "0.6", "e5", HOUR0, "i5"),  # wrong number of fields
    ]
    folder = tmp_path / "capture"
    folder.mkdir()
    (folder / "a.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    pd.DataFrame(
        {**{n: [v] for n, v in zip(names, row, strict=True)}, "prediction": [0.7], "transaction_id": ["t9"]}
    ).astype({"amount": float}).to_parquet(folder / "flat.parquet")

    frame, stats = read_capture(folder, config)

    assert frame["inference_id"].tolist() == ["i1", "e2#0", "e2#1", "i3", "i4", "t9"]
    assert frame["prediction"].tolist() == [0.1, 0.2, 0.3, 0.4, 0.5, 0.7]
    assert frame["amount"].tolist() == [12.5] * 6 and frame["merchant_category"].tolist() == ["online"] * 6
    assert stats.skipped == 1 and "9 fields" in stats.problems[0]
    assert isinstance(stats, CaptureStats) and stats.files == 2


def test_capture_reads_extensionless_tables_and_names_other_files(config: ModelConfig, tmp_path: Path) -> None:
    folder = tmp_path / "capture"
    folder.mkdir()
    row = {f.name: [1.0 if f.type.value == "numeric" else "online"] for f in config.model.features}
    pd.DataFrame({**row, "prediction": [0.7], "transaction_id": ["t9"]}).to_parquet(folder / "0000_part_00")
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / "notes.txt").write_text("not capture")

    frame, stats = read_capture(folder, config)

    assert frame["inference_id"].tolist() == ["t9"] and frame["prediction"].tolist() == [0.7]
    assert stats.files == 1 and any("notes.txt" in p for p in stats.problems)


def test_flat_capture_times_in_numbers_need_the_time_unit(config: ModelConfig, tmp_path: Path) -> None:
    row = {f.name: [1.0 if f.type.value == "numeric" else "online"] for f in config.model.features}
    table = pd.DataFrame({**row, "prediction": [0.7], "transaction_id": ["t9"], "event_time": [1_780_000_000]})
    table.to_parquet(tmp_path / "flat.parquet")

    frame, stats = read_capture(tmp_path, config)
    assert frame["inference_time"].isna().all()
    assert any("set model.time_unit" in p for p in stats.problems)

    in_seconds = config.model_copy(update={"model": config.model.model_copy(update={"time_unit": "s"})})
    frame, _ = read_capture(tmp_path, in_seconds)
    assert frame["inference_time"].tolist() == [pd.Timestamp(1_780_000_000, unit="s", tz="UTC")]


def test_ground_truth_json_and_csv_encodings(config: ModelConfig, tmp_path: Path) -> None:
    folder = tmp_path / "gt" / "2026" / "03" / "01" / "10"
    folder.mkdir(parents=True)
    records = [
        {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "a"}, "eventVersion": "0"},
        {
            "groundTruthData": {"data": '{"label": 0}', "encoding": "JSON"},
            "eventMetadata": {"eventId": "b"},
            "eventVersion": "0",
        },
        {"groundTruthData": {"data": "", "encoding": "CSV"}, "eventMetadata": {"eventId": "c"}, "eventVersion": "0"},
    ]
    (folder / "gt.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    truth, stats = read_ground_truth(tmp_path / "gt", config)
    assert truth.to_dict("list") == {"inference_id": ["a", "b"], "label": ["1", "0"]}
    assert stats.skipped == 1


def test_empty_capture_gives_an_empty_window_report(container: Container, config: ModelConfig, profile: dict) -> None:
    stage(container, config, profile)
    report = monitor.run(metrics_client=None)
    assert report["window"]["rows"] == 0
    assert {r["status"] for r in report["features"].values()} == {"empty"}
    assert not report["summary"]["drift_detected"] and report["metrics"]["datapoints"] == 0


def test_missing_profile_fails_the_job_with_a_reason(container: Container, config: ModelConfig) -> None:
    container.put_config(config)
    assert monitor.main(["--no-metrics"]) == 1
    assert "no baseline profile" in (container.root / "output" / "message").read_text()  # the ExitMessage


def test_cloudwatch_accepts_every_request(config: ModelConfig, profile: dict) -> None:
    # GIVEN a report with every kind of metric, and the real CloudWatch client with a Stubber:
    # botocore validates each request against the service model before the stub answers.
    from pipelines.drift import run_monitor

    window = generate(StreamSpec(rows=2000, seed=41, scenario="covariate"))
    window = window.assign(prediction=scores_for(window, 41), inference_id=[f"i{k}" for k in range(2000)])
    labels = window[["inference_id", "is_fraud"]].rename(columns={"is_fraud": "label"})
    report = run_monitor(config, profile, window.drop(columns="is_fraud"), labels)
    data = metric_data(report, config.model.name, HOUR0)
    client = boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response("put_metric_data", {}, {"Namespace": "DriftRetraining", "MetricData": ANY})
        for spec in alarm_specs(config):
            stub.add_response("put_metric_alarm", {}, spec.put_metric_alarm_request())
        from pipelines.drift.metrics import publish_metrics

        assert publish_metrics(client, config.drift.metric_namespace, data) == 1
        for spec in alarm_specs(config):
            client.put_metric_alarm(**spec.put_metric_alarm_request())
        stub.assert_no_pending_responses()


def test_store_refuses_what_cloudwatch_refuses(tmp_path: Path) -> None:
    store = MetricsStore(tmp_path / "m.sqlite")
    datum = {"MetricName": "PSI", "Dimensions": [], "Value": 1.0}
    with pytest.raises(MetricDataRejected, match="1-1000 items"):
        store.put_metric_data(Namespace="N", MetricData=[datum] * 1001)
    with pytest.raises(MetricDataRejected, match="finite"):
        store.put_metric_data(Namespace="N", MetricData=[datum | {"Value": float("nan")}])
    with pytest.raises(MetricDataRejected, match="reserved"):
        store.put_metric_data(Namespace="AWS/SageMaker", MetricData=[datum])


def test_scheduled_run_judges_the_last_period_and_late_labels_from_earlier_windows(
    container: Container, config: ModelConfig, profile: dict
) -> None:
    # GIVEN three hours of traffic, and labels that so far arrived for the first hour only
    inputs = stage(container, config, profile)
    frames = [generate(StreamSpec(rows=1500, seed=50 + hour)) for hour in range(3)]
    ids = [
        write_capture(inputs / "capture", f, config, HOUR0 + timedelta(hours=h), 50 + h) for h, f in enumerate(frames)
    ]
    write_ground_truth(inputs / "ground_truth", ids[0], frames[0]["is_fraud"].to_numpy())
    # and the profile sits one folder down, where a champion pointer may keep it
    baseline = inputs / "baseline"
    (baseline / "v7").mkdir()
    (baseline / "baseline_profile.json").rename(baseline / "v7" / "baseline_profile.json")

    # WHEN the schedule starts the job with the end of the third hour only
    report = monitor.run(window_end=(HOUR0 + timedelta(hours=3)).isoformat())

    # THEN drift covers the third hour, performance the labelled predictions of the last 24 hours
    assert report["window"]["start"] == (HOUR0 + timedelta(hours=2)).isoformat()
    assert report["window"]["rows"] == 1500 and report["window"]["labelled_window_rows"] == 4500
    assert report["performance"]["status"] == "ok" and report["performance"]["labels"] == 1500


def test_the_job_image_holds_every_module_the_jobs_import(tmp_path: Path) -> None:
    # The image copies only `job_code_files()`: importing every job from a copy of exactly those
    # files fails if a job imports a domain module the image leaves out.
    import shutil
    import subprocess
    import sys

    from pipelines.definition.builder import PROJECT_ROOT, job_code_files

    for path in job_code_files():
        target = tmp_path / path.relative_to(PROJECT_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    jobs = ["data_pull", "train", "evaluate", "monitor"]
    code = "import matplotlib, " + ", ".join(f"training_containers.{job}" for job in jobs)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    pins = (PROJECT_ROOT / "training_containers" / "requirements.lock").read_text()
    assert "matplotlib==" in pins  # the HTML report draws with it


def test_main_publishes_to_the_store_named_by_the_environment(
    container: Container, config: ModelConfig, profile: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = stage(container, config, profile)
    write_capture(inputs / "capture", generate(StreamSpec(rows=500, seed=60)), config, HOUR0, seed=60)
    monkeypatch.setenv("DRIFT_METRICS_STORE", str(tmp_path / "shared.sqlite"))

    assert monitor.main(["--window-end", (HOUR0 + timedelta(hours=1)).isoformat()]) == 0

    rows = MetricsStore(tmp_path / "shared.sqlite").datapoints(
        "DriftRetraining", "WindowRows", {"Model": "fraud-detector"}
    )
    assert rows == [(HOUR0 + timedelta(hours=1) - timedelta(seconds=1), 500.0)]
