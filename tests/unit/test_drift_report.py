"""The report document: labels joined by inference id, performance gated on label count, label
drift, prediction drift, and the frame-vs-frame path of the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from pipelines.config import DriftSection, ModelConfig
from pipelines.drift import compare_frames, join_labels, run_monitor
from pipelines.drift.files import DriftInputError
from pipelines.drift.performance import label_drift, performance
from pipelines.simulation.datagen import StreamSpec, generate
from training_containers.profile import baseline_profile


@pytest.fixture(scope="module")
def baseline(config: ModelConfig) -> dict:
    frame = generate(StreamSpec(rows=20_000, seed=5))
    scores = np.random.default_rng(0).beta(1, 20, len(frame))
    return baseline_profile(frame, config, predictions=scores)


def window_with_ids(rows: int, seed: int, scenario: str = "none") -> pd.DataFrame:
    frame = generate(StreamSpec(rows=rows, seed=seed, scenario=scenario))
    rng = np.random.default_rng(seed)
    # A score that tracks the label, so performance is high but not perfect.
    scores = np.clip(frame["is_fraud"] * 0.7 + rng.normal(0.1, 0.15, rows), 0, 1)
    return frame.assign(inference_id=[f"inf-{i}" for i in range(rows)], prediction=scores)


def test_labels_join_by_inference_id_last_label_wins() -> None:
    window = pd.DataFrame({"inference_id": ["a", "b", "c"], "x": [1, 2, 3]})
    labels = pd.DataFrame({"inference_id": ["c", "a", "c", "zzz"], "label": [0, 1, 1, 0]})
    joined = join_labels(window, labels, "is_fraud")
    assert joined["is_fraud"].tolist()[0] == 1 and pd.isna(joined["is_fraud"].tolist()[1])
    assert joined["is_fraud"].tolist()[2] == 1


def test_performance_waits_for_the_minimum_label_count(config: ModelConfig, baseline: dict) -> None:
    window = window_with_ids(4000, seed=8)
    labels = window[["inference_id", "is_fraud"]].rename(columns={"is_fraud": "label"})
    few = run_monitor(config, baseline, window.drop(columns="is_fraud"), labels.head(100))
    assert few["performance"]["status"] == "insufficient_labels"
    assert few["performance"]["labels"] == 100 and few["performance"]["metrics"] is None
    assert few["window"]["labelled_rows"] == 100

    full = run_monitor(config, baseline, window.drop(columns="is_fraud"), labels)
    truth = window["is_fraud"].to_numpy()
    assert full["performance"]["status"] == "ok"
    assert full["performance"]["metrics"]["roc_auc"] == pytest.approx(sk.roc_auc_score(truth, window["prediction"]))
    assert full["performance"]["metrics"]["recall"] == pytest.approx(
        sk.recall_score(truth, window["prediction"] >= config.gates.decision_threshold)
    )
    slo = full["performance"]["slo"]
    assert slo["metric"] == "pr_auc" and slo["met"] == (slo["observed"] >= 0.45)


def test_monitor_report_against_profile_flags_covariate_shift(config: ModelConfig, baseline: dict) -> None:
    report = run_monitor(config, baseline, window_with_ids(5000, seed=9, scenario="covariate"))
    assert report["summary"]["drift_detected"]
    assert {"amount", "distance_from_home_km"} <= set(report["summary"]["drifted_features"])
    assert report["features"]["amount"]["exact_reference"] is False  # compressed ECDF from the profile
    assert report["prediction"]["status"] == "ok" and report["prediction"]["drifted"]  # scores moved


def test_label_drift_uses_cohens_h_once_enough_labels() -> None:
    drift = DriftSection(min_labels_for_performance=500)
    doubled = label_drift(40, 1000, 0.02, drift)
    assert doubled["cohens_h"] == pytest.approx(0.1189225, abs=1e-6) and doubled["drifted"]
    assert not label_drift(4, 100, 0.02, drift)["drifted"]
    assert label_drift(0, 0, 0.02, drift)["status"] == "no_labels"


def test_performance_with_one_class_leaves_rank_metrics_undefined() -> None:
    result = performance(
        np.zeros(600, dtype=np.int64), np.linspace(0, 1, 600), decision_threshold=0.5, min_labels=500, slo=None
    )
    assert result["metrics"]["roc_auc"] is None and result["metrics"]["accuracy"] == pytest.approx(0.5, abs=0.01)


def test_compare_frames_without_config_infers_feature_types() -> None:
    rng = np.random.default_rng(0)  # a measurement, not a counter (0, 1, 2, ... is left out as one)
    n = rng.normal(0, 1, 1000)
    reference = pd.DataFrame({"n": n, "c": ["a", "b"] * 500, "t": pd.Timestamp("2026-01-01")})
    current = pd.DataFrame({"n": n + 0.5, "c": ["a", "b"] * 500, "t": pd.Timestamp("2026-02-01")})
    report = compare_frames(reference, current)
    assert set(report["features"]) == {"n", "c"}
    assert report["features"]["n"]["type"] == "numeric" and report["features"]["n"]["drifted"]
    assert report["features"]["c"]["type"] == "categorical" and not report["features"]["c"]["drifted"]


def test_text_labels_with_a_numeric_positive_class_are_refused_not_read_as_no_positives() -> None:
    """A new user's yes/no label with positive_class 1 (no config: the default) gave positives 0,
    an accuracy of 0.99 and label drift, status ok: no label equals 1 as a number."""
    frame = pd.DataFrame({"n": np.arange(1000.0), "churned": ["yes", "no", "no", "no"] * 250})
    with pytest.raises(DriftInputError, match=r"label 'churned' holds text \('no', 'yes'\); positive_class is 1"):
        compare_frames(frame, frame, label_column="churned")
    numeric = frame.assign(churned=(frame["churned"] == "yes").astype(float))
    assert compare_frames(numeric, numeric, label_column="churned")["label"]["positive_rate"] == 0.25


def test_html_report_marks_breaches_escapes_names_and_embeds_charts() -> None:
    from pipelines.drift.report import render_html

    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"<b>x</b>": rng.normal(0, 1, 2000), "c": rng.choice(["a", "b"], 2000)})
    current = pd.DataFrame({"<b>x</b>": rng.normal(1, 1, 2000), "c": rng.choice(["a", "b"], 2000)})
    page = render_html(compare_frames(reference, current))
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert page.count("class=breach") >= 3  # PSI, KS, Wasserstein and JS of the shifted feature
    assert page.count("data:image/png;base64,") == 2
    assert "performance: no_predictions" in page
