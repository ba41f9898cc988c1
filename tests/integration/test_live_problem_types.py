"""The live side around a team's own model of another problem type: approval deploys, the next
version runs in shadow on replayed traffic, its live metric (rmse, macro_f1) decides with the
metric's own direction, and the drift monitor reads the captured answers (values, classes) and
the delayed labels into prediction drift and live performance, each recomputed here with
scikit-learn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn import metrics as sk

from pipelines.config import load_config
from pipelines.drift.run import run_monitor
from pipelines.local.workspace import Workspace
from pipelines.naming import capture_prefix
from pipelines.promotion.local import local_evidence, local_promotion, write_ground_truth
from tests.problem_types import config_dict, rows
from training_containers.capture import read_capture, read_ground_truth


@pytest.mark.parametrize("problem_type", ["regression", "multiclass_classification"])
def test_shadow_verdict_and_monitor_for_a_script_model(problem_type: str, tmp_path: Path) -> None:
    raw = config_dict(problem_type, "script", tmp_path)
    metric = "rmse" if problem_type == "regression" else "macro_f1"
    raw["drift"]["performance_slo"] = {"metric": metric, **({"max": 1.0} if metric == "rmse" else {"min": 0.8})}
    raw["drift"]["min_labels_for_performance"] = 200
    raw["promotion"]["shadow"] |= {"min_labels": 200, "offline_tolerance": 0.5, "champion_margin": 0.01}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    config = load_config(path)
    workspace = Workspace(config, tmp_path / "w")
    data = rows(problem_type, count=4000)
    fresh, traffic = data.iloc[:3000], data.iloc[3000:].rename(columns={"row_id": "inference_id"})
    target = workspace.s3.path(config.data.fresh.uri) / "part-0.parquet"  # type: ignore[union-attr]
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh.to_parquet(target, index=False)
    assert workspace.run(echo=lambda _: None).status == "Succeeded"
    registry = workspace.runtime().registry
    (first,) = registry.list_model_packages(config.registry.model_package_group)
    keys = ("ModelPackageGroupName", "InferenceSpecification", "ModelMetrics", "CustomerMetadataProperties")
    registry.create_model_package({**{k: first[k] for k in keys}, "ModelApprovalStatus": "PendingManualApproval"})

    now = [datetime(2026, 6, 1, tzinfo=UTC)]
    promotion, endpoint = local_promotion(workspace, clock=lambda: now[0])
    promotion.approve(1, actor="alice")
    promotion.approve(2, actor="bob")
    answers = endpoint.invoke(traffic, now=now[0] + timedelta(minutes=1))
    if problem_type == "regression":
        assert answers.dtype == np.float64
    else:
        assert set(answers) <= {"bronze", "silver", "gold"}
    labels = traffic[["inference_id", "target"]].rename(columns={"target": "label"})
    now[0] += timedelta(hours=30)
    write_ground_truth(workspace.s3, config, labels, now[0])

    decision = promotion.evaluate_shadow(local_evidence(config, endpoint, workspace.s3, now=lambda: now[0]))
    assert decision is not None and decision.verdict == "promote", decision
    checks = {c.name: c for c in decision.checks}
    live = checks[f"live_{metric}_vs_champion"]
    truth: Any = traffic["target"].to_numpy()
    if problem_type == "regression":
        expected = sk.root_mean_squared_error(truth, answers)
        assert live.observed == pytest.approx(expected) and live.threshold == pytest.approx(expected + 0.01)
    else:
        expected = sk.f1_score(truth.astype(str), answers.astype(str), average="macro")
        assert live.observed == pytest.approx(expected) and live.threshold == pytest.approx(expected - 0.01)
    assert promotion.production().label == "v2"  # type: ignore[union-attr]

    # the monitor on the same window: the captured answers against v1's baseline, the labels joined
    folder = workspace.s3.path(f"{capture_prefix(config)}/{endpoint.name}/production/")
    window, _ = read_capture(folder, config)
    truth_frame, _ = read_ground_truth(workspace.s3.path(f"{_ground_truth(config)}/"), config)
    baseline = workspace.s3.read_json(first["CustomerMetadataProperties"]["BaselineProfile"])
    report = run_monitor(config, baseline, window, truth_frame)
    joined = window.merge(labels.astype({"inference_id": str}), on="inference_id")
    measured = report["performance"]["metrics"]
    if problem_type == "regression":
        assert report["prediction"]["type"] == "numeric"
        assert measured["rmse"] == pytest.approx(sk.root_mean_squared_error(joined["label"], joined["prediction"]))
        assert report["performance"]["slo"]["met"] is (measured["rmse"] <= 1.0)
    else:
        assert report["prediction"]["type"] == "categorical"
        f1 = sk.f1_score(joined["label"].astype(str), joined["prediction"].astype(str), average="macro")
        assert measured["macro_f1"] == pytest.approx(f1)
    assert report["label"]["status"] == "not_applicable"
    assert report["performance"]["labels"] == len(traffic)


def _ground_truth(config: Any) -> str:
    from pipelines.naming import layout

    return layout(config).uri("ground-truth").rstrip("/")


def test_the_monitor_window_holds_text_classes_for_a_multiclass_model(tmp_path: Path) -> None:
    """A capture line whose answer is a class stays a class (not NaN) in the monitor's window."""
    raw = config_dict("multiclass_classification", "random_forest", tmp_path)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    config = load_config(path)
    import json

    line = {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": "0.5,5,1,north",
                "encoding": "CSV",
            },
            "endpointOutput": {
                "observedContentType": "application/json",
                "mode": "OUTPUT",
                "data": json.dumps({"predictions": ["gold"]}),
                "encoding": "JSON",
            },
        },
        "eventMetadata": {"eventId": "e1", "inferenceId": "i1", "inferenceTime": "2026-06-01T10:00:00Z"},
        "eventVersion": "0",
    }
    csv_line = json.loads(json.dumps(line))
    csv_line["captureData"]["endpointOutput"] = {
        "observedContentType": "text/csv",
        "mode": "OUTPUT",
        "data": "silver",
        "encoding": "CSV",
    }
    csv_line["eventMetadata"] = {"eventId": "e2", "inferenceId": "i2", "inferenceTime": "2026-06-01T10:00:01Z"}
    folder = tmp_path / "capture"
    folder.mkdir()
    (folder / "a.jsonl").write_text(json.dumps(line) + "\n" + json.dumps(csv_line) + "\n")
    window, stats = read_capture(folder, config)
    assert sorted(window["prediction"].tolist()) == ["gold", "silver"], stats
    assert isinstance(pd.Series(window["prediction"]).iloc[0], str)
