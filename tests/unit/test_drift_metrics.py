"""A drift report as CloudWatch metrics: only voting statistics, named and dimensioned as the
alarms expect, batched within PutMetricData's limits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from pipelines.config import ModelConfig
from pipelines.drift import compare_frames
from pipelines.drift.metrics import MAX_ITEMS_PER_REQUEST, batches, metric_data, publish_metrics
from pipelines.monitoring.alarms import alarm_specs
from pipelines.simulation.datagen import StreamSpec, generate

END = datetime(2026, 3, 1, 12, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def put_metric_data(self, *, Namespace: str, MetricData: Any) -> None:  # boto3's argument names
        self.calls.append({"Namespace": Namespace, "MetricData": list(MetricData)})


def by_name(data: list[dict[str, Any]]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(d["MetricName"], tuple((x["Name"], x["Value"]) for x in d["Dimensions"])): d["Value"] for d in data}


def test_every_alarm_metric_is_published_for_a_full_window(config: ModelConfig) -> None:
    reference = generate(StreamSpec(rows=20_000, seed=1))
    current = generate(StreamSpec(rows=5_000, seed=2, scenario="covariate"))
    report = compare_frames(reference, current, config, workers=2)
    published = by_name(metric_data(report, config.model.name, END))

    for spec in alarm_specs(config):
        if spec.kind == "performance_slo":
            continue  # no labels with predictions in this window
        assert (spec.metric_name, spec.dimensions) in published, spec.name
    amount = report["features"]["amount"]
    assert published[("PSI", (("Model", "fraud-detector"), ("Feature", "amount")))] == amount["psi"]
    assert published[("DriftedFeatureCount", (("Model", "fraud-detector"),))] == 4
    assert published[("WindowRows", (("Model", "fraud-detector"),))] == 5000


def test_a_small_window_publishes_no_distribution_statistic(config: ModelConfig) -> None:
    reference = generate(StreamSpec(rows=5_000, seed=1))
    report = compare_frames(reference, reference.head(20), config, workers=1)
    names = {d["MetricName"] for d in metric_data(report, config.model.name, END)}
    assert names == {"WindowRows", "LabelledRows", "SchemaProblemCount"}


def test_nan_and_none_values_are_never_sent() -> None:
    report = {
        "thresholds": {"min_window_rows": 1},
        "features": {"x": {"type": "numeric", "status": "ok", "rows": 10, "psi": float("nan"), "ks": None}},
        "window": {"rows": 10, "labelled_rows": 0},
        "summary": {"drifted_feature_count": 0, "schema_problem_count": 0},
    }
    data = metric_data(report, "m", END)
    assert all(np.isfinite(d["Value"]) for d in data)
    assert "PSI" not in {d["MetricName"] for d in data}


def test_batches_respect_the_item_limit_and_keep_order() -> None:
    data = [{"MetricName": f"M{i}", "Dimensions": [], "Value": float(i)} for i in range(2500)]
    split = batches(data)
    assert [len(b) for b in split] == [MAX_ITEMS_PER_REQUEST, MAX_ITEMS_PER_REQUEST, 500]
    assert [d["Value"] for b in split for d in b] == [float(i) for i in range(2500)]


def test_batches_respect_the_payload_limit() -> None:
    wide = [{"MetricName": "M", "Dimensions": [{"Name": "Feature", "Value": "f" * 1000}], "Value": 1.0}] * 900
    split = batches(wide)
    assert len(split) > 1
    assert all(sum(len(str(d)) for d in b) < 1_000_000 for b in split)


def test_publish_sends_each_batch_to_the_injected_client() -> None:
    recorder = Recorder()
    data = [{"MetricName": "M", "Dimensions": [], "Value": float(v)} for v in range(1200)]
    assert publish_metrics(recorder, "DriftRetraining", data) == 2
    assert [len(c["MetricData"]) for c in recorder.calls] == [1000, 200]
    assert {c["Namespace"] for c in recorder.calls} == {"DriftRetraining"}
