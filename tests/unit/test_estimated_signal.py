"""The estimated performance as a retrain signal: Evaluate's baseline carries the calibration, the
monitor's report estimates the window (and, where labels came, puts the estimate next to them), the
metric is published under Signal=estimated, and its alarm starts a retrain when trigger.retrain_on
names it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import botocore.session
import numpy as np
import pandas as pd
import pytest
from botocore.validate import ParamValidator

from pipelines.backtest.sweep import configured
from pipelines.config import ModelConfig
from pipelines.drift import run_monitor
from pipelines.drift.estimation import estimate
from pipelines.drift.metrics import ESTIMATED_SIGNAL, metric_data
from pipelines.drift.reference import BaselineReference
from pipelines.drift.window import WindowProfile
from pipelines.errors import ConfigError
from pipelines.monitoring.alarms import alarm_specs, retraining_alarm_names
from pipelines.simulation.datagen import StreamSpec, generate
from training_containers.profile import baseline_profile

SIGNAL = {"drift.estimated_slo": {"metric": "roc_auc", "min": 0.9}}


def scored(rows: int, seed: int) -> pd.DataFrame:
    """The example's records with a score that is a calibrated-ish probability of fraud."""
    frame = generate(StreamSpec(rows=rows, seed=seed))
    rng = np.random.default_rng(seed)
    scores = np.clip(frame["is_fraud"] * 0.55 + rng.beta(1, 6, rows), 0, 1).round(3)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    return frame.assign(
        prediction=scores,
        inference_id=[f"i{seed}-{i}" for i in range(rows)],
        inference_time=[start + timedelta(seconds=3600 * i / rows) for i in range(rows)],
    )


@pytest.fixture(scope="module")
def estimating(config: ModelConfig) -> ModelConfig:
    return configured(config, {**SIGNAL, "trigger.retrain_on": ["drifted_features", "estimated_performance"]})


@pytest.fixture(scope="module")
def profile(estimating: ModelConfig) -> dict:
    reference = scored(20_000, seed=1)
    truth = (reference["is_fraud"] == 1).to_numpy().astype(np.int64)
    found = baseline_profile(reference, estimating, predictions=reference["prediction"].to_numpy())
    from training_containers.profile import with_predictions

    return with_predictions(found, reference["prediction"].to_numpy(), estimating, truth)


def test_the_baseline_carries_the_calibration_of_the_scores_it_holds(profile: dict) -> None:
    calibration = profile["calibration"]
    assert calibration["status"] == "ok" and calibration["rows"] == 20_000
    assert calibration["probabilities"] == sorted(calibration["probabilities"])  # isotonic: non-decreasing


def test_the_report_estimates_the_window_and_sets_the_estimate_beside_the_labels(
    estimating: ModelConfig, profile: dict
) -> None:
    window = scored(4000, seed=7)
    labels = window[["inference_id", "is_fraud"]].rename(columns={"is_fraud": "label"})
    report = run_monitor(estimating, profile, window.drop(columns="is_fraud"), labels)
    found = report["estimated_performance"]
    direct = estimate(
        window["prediction"].to_numpy(),
        profile["calibration"],
        decision_threshold=estimating.gates.decision_threshold,
        min_predictions=500,
        slo=estimating.drift.estimated_slo,
    )
    assert found["status"] == "ok" and found["predictions"] == 4000
    assert found["metrics"]["roc_auc"]["value"] == pytest.approx(direct["metrics"]["roc_auc"]["value"])
    assert found["slo"] == {"metric": "roc_auc", "min": 0.9, "estimated": direct["slo"]["estimated"], "met": True}
    assert report["summary"]["estimated_slo_met"] is True
    beside = found["labelled"]
    assert beside["rows"] == 4000 and beside["realized"] == report["performance"]["metrics"]
    assert abs(beside["estimated"]["roc_auc"] - beside["realized"]["roc_auc"]) < 0.03

    datum = [
        d
        for d in metric_data(report, "fraud-detector", datetime(2026, 6, 1, tzinfo=UTC))
        if d["MetricName"] == "ROCAUC"
    ]
    estimated = [d for d in datum if {"Name": "Signal", "Value": ESTIMATED_SIGNAL} in d["Dimensions"]]
    assert [d["Value"] for d in estimated] == [found["metrics"]["roc_auc"]["value"]]
    assert len(datum) == 2  # and the realized one, under the model's dimension alone


def test_where_labels_came_the_report_says_whether_the_calibration_still_holds(
    estimating: ModelConfig, profile: dict
) -> None:
    """docs/drift.md promised that estimate and realized parting expose a calibration that no
    longer holds; a new user's report showed "estimated: met" beside a realized 0.64 under the
    objective, and nothing flagged it. The realized metric is judged against the estimate's 95 %
    bounds on the same labelled predictions (their spread if the calibration holds)."""
    window = scored(4000, seed=7)
    labels = window[["inference_id", "is_fraud"]].rename(columns={"is_fraud": "label"})
    holds = run_monitor(estimating, profile, window.drop(columns="is_fraud"), labels)["estimated_performance"]
    beside = holds["labelled"]
    low, high = beside["bounds"]["roc_auc"]
    assert low <= beside["realized"]["roc_auc"] <= high and beside["realized_within_bounds"] is True
    # concept drift: a third of the frauds now score like legitimate traffic, the scores as confident as before
    rng = np.random.default_rng(3)
    hidden = (window["is_fraud"] == 1) & (rng.random(len(window)) < 0.33)
    changed = window.assign(prediction=np.where(hidden, rng.beta(1, 6, len(window)).round(3), window["prediction"]))
    broken = run_monitor(estimating, profile, changed.drop(columns="is_fraud"), labels)["estimated_performance"]
    beside = broken["labelled"]
    assert beside["realized"]["roc_auc"] < beside["bounds"]["roc_auc"][0]
    assert beside["realized_within_bounds"] is False and beside["judged_metric"] == "roc_auc"
    # without an estimated SLO the realized SLO's metric is the one judged, where the estimate has it
    plain = configured(
        estimating,
        {
            "drift.estimated_slo": None,
            "drift.performance_slo": {"metric": "pr_auc", "min": 0.3},
            "trigger.retrain_on": ["drifted_features"],
        },
    )
    beside = run_monitor(plain, profile, window.drop(columns="is_fraud"), labels)["estimated_performance"]["labelled"]
    assert beside["judged_metric"] == "pr_auc" and set(beside["bounds"]) >= {"pr_auc", "roc_auc"}


def test_a_window_of_stored_hours_is_estimated_from_the_scores_it_is_given(
    estimating: ModelConfig, profile: dict
) -> None:
    """The sharded monitor judges hour profiles: summaries, whose scores the job passes beside them
    (every record of the window's hours, not the label lookback's)."""
    hour = scored(1000, seed=4)
    reference = BaselineReference.from_profile(profile)
    window = WindowProfile.of(reference, hour.drop(columns="is_fraud"), estimating.model.features, "b")
    lookback = scored(3000, seed=3)[["prediction", "inference_id", "inference_time"]]
    report = run_monitor(estimating, profile, window, labelled_window=lookback)
    assert report["estimated_performance"]["status"] == "insufficient_predictions"  # no scores given
    given = run_monitor(
        estimating, profile, window, labelled_window=lookback, window_scores=hour["prediction"].to_numpy()
    )
    assert given["estimated_performance"]["predictions"] == 1000


def test_a_window_with_too_few_predictions_publishes_no_estimate(estimating: ModelConfig, profile: dict) -> None:
    report = run_monitor(estimating, profile, scored(300, seed=5).drop(columns="is_fraud"))
    assert report["estimated_performance"]["status"] == "insufficient_predictions"
    data = metric_data(report, "fraud-detector", datetime(2026, 6, 1, tzinfo=UTC))
    assert not [d for d in data if {"Name": "Signal", "Value": ESTIMATED_SIGNAL} in d["Dimensions"]]


def test_its_alarm_retrains_on_the_estimated_metric_and_is_a_valid_put_metric_alarm(estimating: ModelConfig) -> None:
    (spec,) = [s for s in alarm_specs(estimating) if s.kind == "estimated_performance"]
    assert spec.name == "fraud-detector-retrain-estimated-performance" and spec.triggers_retraining
    assert spec.name in retraining_alarm_names(estimating)
    request = spec.put_metric_alarm_request()
    assert request["MetricName"] == "ROCAUC" and request["ComparisonOperator"] == "LessThanThreshold"
    assert {"Name": "Signal", "Value": "estimated"} in request["Dimensions"] and request["Threshold"] == 0.9
    model = botocore.session.get_session().get_service_model("cloudwatch")
    report = ParamValidator().validate(request, model.operation_model("PutMetricAlarm").input_shape)
    assert not report.has_errors(), report.generate_report()


def test_the_signal_needs_its_objective_and_a_binary_classifier(config: ModelConfig) -> None:
    only = {"trigger.retrain_on": ["estimated_performance"]}
    with pytest.raises(ConfigError, match=r"estimated_performance needs drift\.estimated_slo"):
        configured(config, only)
    watched = configured(config, SIGNAL)  # set but not in retrain_on: an alarm that starts nothing
    (spec,) = [s for s in alarm_specs(watched) if s.kind == "estimated_performance"]
    assert spec.name == "fraud-detector-watch-estimated-performance" and not spec.triggers_retraining


def test_an_estimate_is_refused_for_a_regression(config: ModelConfig) -> None:
    from pathlib import Path

    from pipelines.config import load_config

    regression = load_config(Path(__file__).resolve().parents[2] / "configs" / "tabular-regression.yaml")
    with pytest.raises(ConfigError, match="performance is estimated for binary classifiers only"):
        configured(regression, {"drift.estimated_slo": {"metric": "r2", "min": 0.5}})


def test_the_drift_command_calibrates_on_the_reference_and_estimates_the_current_frame(
    estimating: ModelConfig,
) -> None:
    from pipelines.drift import compare_frames

    reference, current = scored(20_000, seed=1), scored(3000, seed=2)
    report = compare_frames(reference, current.drop(columns="is_fraud"), estimating)
    found = report["estimated_performance"]
    assert found["status"] == "ok" and found["predictions"] == 3000
    unlabelled = compare_frames(reference.drop(columns="is_fraud"), current, estimating)
    assert unlabelled["estimated_performance"]["reason"] == "the reference holds no labelled scores to calibrate"


def test_the_html_report_shows_the_estimate_or_why_there_is_none(estimating: ModelConfig, profile: dict) -> None:
    from pipelines.drift.report import render_html

    report = run_monitor(estimating, profile, scored(4000, seed=7).drop(columns="is_fraud"))
    roc = report["estimated_performance"]["metrics"]["roc_auc"]
    page = render_html(report)
    assert "estimated performance on 4,000 predictions, before labels" in page
    assert f"roc_auc {roc['value']:.4f} [{roc['lower']:.4f}, {roc['upper']:.4f}]" in page
    few = render_html(run_monitor(estimating, profile, scored(300, seed=5).drop(columns="is_fraud")))
    assert "estimated performance: none (300 predictions in the window; an estimate needs 500)" in few
