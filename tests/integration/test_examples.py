"""The example configs of other problem types, end to end on this machine: the commands in their
headers (generate the data, put it where the config reads it, run the pipeline) register v1; then
the loop around the team's script model works as for the fraud classifier: approval deploys, the
next version runs in shadow on replayed traffic, its live metric (rmse, macro_f1) decides in the
metric's own direction, and the drift monitor reads the captured answers (values, classes) and the
delayed labels. Every figure is recomputed here with scikit-learn."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sklearn import metrics as sk

from pipelines.config import ModelConfig, load_config
from pipelines.drift.run import run_monitor
from pipelines.local.workspace import Workspace
from pipelines.naming import GROUND_TRUTH, capture_prefix, layout
from pipelines.promotion.local import local_evidence, local_promotion, write_ground_truth
from pipelines.simulation.tabular import tabular
from tests.conftest import ROOT
from training_containers.capture import read_capture, read_ground_truth


def _documented(config: Path) -> list[list[str]]:
    """The commands in the config's header comment."""
    header = [line.removeprefix("#").strip() for line in config.read_text().splitlines() if line.startswith("#")]
    return [line.split()[1:] for line in header if line.startswith("python ")]  # without "python"


def _run_as_documented(example: str, folder: Path) -> tuple[ModelConfig, Workspace]:
    path = ROOT / "configs" / f"{example}.yaml"
    commands = _documented(path)
    assert [c[2] for c in commands] == ["generate-data", "local-put", "run-local"]
    for command in commands:
        moved = [str(folder / part) if part.startswith("out/") else part for part in command]
        done = subprocess.run([sys.executable, *moved], cwd=ROOT, capture_output=True, text=True, check=False)
        assert done.returncode == 0, (command, done.stderr[-2000:])
    assert f"model-package/{example}/1" in done.stdout
    config = load_config(path)
    return config, Workspace(config, folder / "out" / "local" / example)


@pytest.mark.parametrize("example", ["tabular-regression", "tabular-multiclass", "tabular-image"])
def test_an_example_registers_then_shadows_promotes_and_is_monitored(example: str, tmp_path: Path) -> None:
    config, workspace = _run_as_documented(example, tmp_path)
    registry = workspace.runtime().registry
    (first,) = registry.list_model_packages(config.registry.model_package_group)
    evaluation = workspace.s3.read_json(first["CustomerMetadataProperties"]["EvaluationReport"])
    assert evaluation["summary"]["passed"] is True
    for gate in yaml.safe_load((ROOT / "configs" / f"{example}.yaml").read_text())["gates"]["metrics"]:
        observed = evaluation["metrics"][gate["metric"]]
        assert observed >= gate["min"] if "min" in gate else observed <= gate["max"]
    keys = ("ModelPackageGroupName", "InferenceSpecification", "ModelMetrics", "CustomerMetadataProperties")
    registry.create_model_package({**{k: first[k] for k in keys}, "ModelApprovalStatus": "PendingManualApproval"})

    now = [datetime(2026, 6, 1, tzinfo=UTC)]
    promotion, endpoint = local_promotion(workspace, clock=lambda: now[0])
    promotion.approve(1, actor="alice")
    promotion.approve(2, actor="bob")
    traffic = tabular(config.model.problem_type, rows=1000, seed=11).rename(columns={"row_id": "inference_id"})
    answers = endpoint.invoke(traffic, now=now[0] + timedelta(minutes=1))
    labels = traffic[["inference_id", "target"]].rename(columns={"target": "label"})
    now[0] += timedelta(hours=30)
    write_ground_truth(workspace.s3, config, labels, now[0])

    decision = promotion.evaluate_shadow(local_evidence(config, endpoint, workspace.s3, now=lambda: now[0]))
    assert decision is not None and decision.verdict == "promote", decision
    metric, margin = config.promotion.shadow.metric, config.promotion.shadow.champion_margin
    live = {c.name: c for c in decision.checks}[f"live_{metric}_vs_champion"]
    truth: Any = traffic["target"].to_numpy()
    if metric == "rmse":
        expected = sk.root_mean_squared_error(truth, answers)
        assert answers.dtype.kind == "f" and live.threshold == pytest.approx(expected + margin)  # a ceiling
    else:
        assert set(answers) <= {"bronze", "silver", "gold"}
        expected = sk.f1_score(truth.astype(str), answers.astype(str), average="macro")
        assert live.threshold == pytest.approx(expected - margin)  # a floor
    assert live.observed == pytest.approx(expected)
    assert promotion.production().label == "v2"  # type: ignore[union-attr]

    # the monitor on the same window: the captured answers against v1's baseline, the labels joined
    window, _ = read_capture(workspace.s3.path(f"{capture_prefix(config)}/{endpoint.name}/production/"), config)
    truth_frame, _ = read_ground_truth(workspace.s3.path(layout(config).uri(GROUND_TRUTH)), config)
    report = run_monitor(
        config, workspace.s3.read_json(first["CustomerMetadataProperties"]["BaselineProfile"]), window, truth_frame
    )
    joined = window.merge(labels.astype({"inference_id": str}), on="inference_id")
    measured, slo = report["performance"]["metrics"], report["performance"]["slo"]
    if metric == "rmse":
        assert report["prediction"]["type"] == "numeric"
        assert measured["rmse"] == pytest.approx(sk.root_mean_squared_error(joined["label"], joined["prediction"]))
        assert slo["met"] is (measured["rmse"] <= config.drift.performance_slo.threshold)  # type: ignore[union-attr]
    else:
        assert report["prediction"]["type"] == "categorical"
        f1 = sk.f1_score(joined["label"].astype(str), joined["prediction"].astype(str), average="macro")
        assert measured["macro_f1"] == pytest.approx(f1)
    assert report["label"]["status"] == "not_applicable" and report["performance"]["labels"] == len(traffic)


def test_the_monitor_window_holds_text_classes_for_a_multiclass_model() -> None:
    """A capture line whose answer is a class stays a class (not NaN) in the monitor's window."""
    import json
    import tempfile

    config = load_config(ROOT / "configs" / "tabular-multiclass.yaml")

    def line(event: str, output: dict[str, str]) -> str:
        data = {"observedContentType": "text/csv", "mode": "INPUT", "data": "0.5,5,1,north", "encoding": "CSV"}
        return json.dumps(
            {
                "captureData": {"endpointInput": data, "endpointOutput": {"mode": "OUTPUT", **output}},
                "eventMetadata": {"eventId": event, "inferenceId": event, "inferenceTime": "2026-06-01T10:00:00Z"},
                "eventVersion": "0",
            }
        )

    as_json = {"observedContentType": "application/json", "data": '{"predictions": ["gold"]}', "encoding": "JSON"}
    as_csv = {"observedContentType": "text/csv", "data": "silver", "encoding": "CSV"}
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "a.jsonl").write_text(line("e1", as_json) + "\n" + line("e2", as_csv) + "\n")
        window, stats = read_capture(Path(folder), config)
    assert sorted(window["prediction"].tolist()) == ["gold", "silver"], stats
