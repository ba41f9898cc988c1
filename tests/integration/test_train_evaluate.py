"""Train and Evaluate jobs on DataPull's real outputs; gate values checked against sklearn."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from pipelines.config import ModelConfig
from pipelines.gates.rules import gate_names
from tests.conftest import EDGE_CASES, Container, split_fresh
from tests.model_monitor_schema import check_constraints, check_statistics
from training_containers import data_pull, evaluate, train
from training_containers.environment import environment, environment_hash


def pack(model_dir: Path, archive: Path) -> Path:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for item in model_dir.iterdir():
            tar.add(item, arcname=item.name)
    return archive


def train_candidate(root: Path, config: ModelConfig, stream: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> Path:
    """DataPull then Train, each in its own /opt/ml; returns the root of the pull job."""
    pull = Container(root / "pull")
    monkeypatch.setenv("OPT_ML_ROOT", str(pull.root))
    fresh, history = split_fresh(stream)
    pull.put_config(config)
    pull.put_table("fresh", fresh)
    pull.put_table("historical", history)
    assert data_pull.run("")["passed"]

    job = root / "train"
    for channel in ("train", "validation"):
        shutil.copytree(pull.output(channel), job / "input" / "data" / channel)
    Container(job).put_config(config, where="training")
    (job / "input" / "config").mkdir(parents=True)
    hyperparameters = {"estimator": config.training.estimator, **config.training.hyperparameters}
    (job / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({k: json.dumps(v) for k, v in hyperparameters.items()})
    )
    monkeypatch.setenv("OPT_ML_ROOT", str(job))
    monkeypatch.setenv("JOB_IMAGE_URI", "example.invalid/jobs:test")
    assert train.main() == 0
    return root


def run_evaluate(root: Path, config: ModelConfig, monkeypatch: pytest.MonkeyPatch, champion: Path | None) -> dict:
    job = Container(root / "evaluate")
    inputs = job.root / "processing" / "input"
    pack(root / "train" / "model", inputs / "model" / "model.tar.gz")
    shutil.copytree(root / "pull" / "processing" / "output" / "test", inputs / "test")
    shutil.copytree(root / "pull" / "processing" / "output" / "baseline", inputs / "baseline")
    job.put_config(config)
    (inputs / "edge_cases").mkdir(parents=True)
    shutil.copy(EDGE_CASES, inputs / "edge_cases" / "edge-cases.csv")
    (inputs / "champion").mkdir(parents=True)
    info = {"model_package_arn": None}
    if champion is not None:
        shutil.copy(champion, inputs / "champion" / "model.tar.gz")
        info = {
            "model_package_arn": "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-detector/1",
            "model_data": "model.tar.gz",
        }
    (inputs / "champion" / "champion.json").write_text(json.dumps(info))
    monkeypatch.setenv("OPT_ML_ROOT", str(job.root))
    evaluate.run(root / "scratch")
    return json.loads((job.output("evaluation") / "evaluation.json").read_text())


@pytest.fixture
def trained(tmp_path: Path, config: ModelConfig, stream: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SM_LOCAL_RUNTIME", "1")
    return train_candidate(tmp_path, config, stream, monkeypatch)


def test_train_writes_model_with_metadata_and_environment_hash(trained: Path, config: ModelConfig) -> None:
    model_dir = trained / "train" / "model"
    metadata = json.loads((model_dir / "model_metadata.json").read_text())
    assert metadata["estimator"] == "gradient_boosting"
    assert metadata["hyperparameters"]["class_weight"] == "balanced"
    assert metadata["environment"]["image_uri"] == "example.invalid/jobs:test"
    assert metadata["environment_hash"] == environment_hash(metadata["environment"])
    assert metadata["environment"]["packages_lock_sha256"] == environment()["packages_lock_sha256"]
    assert metadata["validation_metrics"]["roc_auc"] > 0.9
    model = joblib.load(model_dir / "model.joblib")
    assert model.named_steps["model"].get_params()["learning_rate"] == 0.1


def test_evaluate_gate_values_match_sklearn(
    trained: Path, config: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = run_evaluate(trained, config, monkeypatch, champion=None)

    test = pd.read_parquet(trained / "pull" / "processing" / "output" / "test")
    model = joblib.load(trained / "train" / "model" / "model.joblib")
    x = test[config.model.feature_names].astype({"merchant_category": object, "risk_band": object})
    scores = model.predict_proba(x)[:, 1]
    y = test["is_fraud"].to_numpy()
    predicted = scores >= config.gates.decision_threshold
    high = (test["risk_band"] == "high").to_numpy()

    gates = report["gates"]
    assert set(gates) == set(gate_names(config))
    assert gates["min_roc_auc"]["observed"] == pytest.approx(sk.roc_auc_score(y, scores), abs=1e-6)
    assert gates["min_pr_auc"]["observed"] == pytest.approx(sk.average_precision_score(y, scores), abs=1e-6)
    assert gates["min_recall"]["observed"] == pytest.approx(sk.recall_score(y, predicted), abs=1e-6)
    assert gates["high_risk_recall"]["observed"] == pytest.approx(sk.recall_score(y[high], predicted[high]), abs=1e-6)
    assert gates["min_roc_auc"]["delta"] == pytest.approx(gates["min_roc_auc"]["observed"] - 0.90, abs=1e-6)
    assert report["segments"]["high_risk_recall"]["support"] == int(y[high].sum())
    assert report["champion"]["present"] is False
    assert report["summary"]["passed"] is True, report["summary"]["failure_message"]
    assert (
        report["lineage"]["environment_hash"]
        == json.loads((trained / "train" / "model" / "model_metadata.json").read_text())["environment_hash"]
    )
    quality = json.loads(
        (trained / "evaluate" / "processing" / "output" / "evaluation" / "model_quality.json").read_text()
    )
    assert quality["binary_classification_metrics"]["auc"]["value"] == pytest.approx(sk.roc_auc_score(y, scores))

    # The registered baseline: DataPull's feature profile, plus the candidate's test scores as
    # the prediction baseline the drift monitor compares production scores with.
    pulled = json.loads((trained / "pull" / "processing" / "output" / "baseline" / "baseline_profile.json").read_text())
    profile = json.loads(
        (trained / "evaluate" / "processing" / "output" / "evaluation" / "baseline_profile.json").read_text()
    )
    assert profile["features"] == pulled["features"] and profile["rows"] == pulled["rows"]
    prediction = profile["prediction"]
    assert prediction["count"] == len(test)
    assert prediction["mean"] == pytest.approx(scores.mean(), abs=1e-9)
    inner = np.quantile(scores, np.linspace(0, 1, config.drift.numeric_bins + 1)[1:-1])
    assert prediction["edges"][1:-1] == pytest.approx(inner.tolist())


def test_data_pull_writes_model_monitor_baseline_of_the_fresh_window(
    trained: Path, config: ModelConfig, stream: pd.DataFrame
) -> None:
    """The files registered as the version's ModelDataQuality: Model Monitor's statistics.json and
    constraints.json of the fresh window (the rows the profile describes), beside the profile."""
    baseline = trained / "pull" / "processing" / "output" / "baseline"
    stats = json.loads((baseline / "statistics.json").read_text())
    constraints = json.loads((baseline / "constraints.json").read_text())
    check_statistics(stats)
    check_constraints(constraints)

    fresh, _ = split_fresh(stream)
    profile = json.loads((baseline / "baseline_profile.json").read_text())
    assert stats["dataset"]["item_count"] == len(fresh) == profile["rows"]
    features = {f["name"]: f for f in stats["features"]}
    assert list(features) == config.model.feature_names
    amount = features["amount"]["numerical_statistics"]
    assert features["amount"]["inferred_type"] == "Fractional"
    assert amount["common"] == {"num_present": int(fresh["amount"].notna().sum()), "num_missing": 0}
    assert amount["mean"] == pytest.approx(fresh["amount"].mean(), rel=1e-12)
    assert amount["sum"] == pytest.approx(fresh["amount"].sum(), rel=1e-12)
    assert amount["std_dev"] == pytest.approx(fresh["amount"].std(ddof=0), rel=1e-9)
    assert (amount["min"], amount["max"]) == (fresh["amount"].min(), fresh["amount"].max())
    assert features["hour_of_day"]["inferred_type"] == "Integral"
    risk = features["risk_band"]["string_statistics"]
    buckets = {b["value"]: b["count"] for b in risk["distribution"]["categorical"]["buckets"]}
    assert buckets == fresh["risk_band"].value_counts().to_dict() and risk["distinct_count"] == 3
    # the same rows as the drift profile: the two baselines describe one window
    assert buckets == profile["features"]["risk_band"]["counts"]
    assert amount["mean"] == pytest.approx(profile["features"]["amount"]["mean"], rel=1e-12)

    by_name = {c["name"]: c for c in constraints["features"]}
    assert by_name["device_trust"]["completeness"] == pytest.approx(fresh["device_trust"].notna().mean())
    assert by_name["risk_band"]["string_constraints"]["domains"] == ["low", "medium", "high"]


def test_champion_is_measured_on_the_same_test_set(
    trained: Path, config: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The champion: the same candidate, so every champion value equals the candidate's.
    champion = pack(trained / "train" / "model", trained / "champion" / "model.tar.gz")
    report = run_evaluate(trained, config, monkeypatch, champion=champion)
    gate = report["gates"]["champion_pr_auc"]
    assert report["champion"]["present"] is True
    assert gate["champion"] == pytest.approx(gate["observed"])
    assert gate["threshold"] == pytest.approx(gate["observed"] - 0.02, abs=1e-6)
    assert gate["passed"]
    assert report["gates"]["high_risk_recall"]["champion"] == pytest.approx(
        report["gates"]["high_risk_recall"]["observed"]
    )


def test_failed_segment_assertion_fails_gates_with_message(
    trained: Path, config: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    segment = config.gates.segments[0].model_copy(update={"min": 0.999})
    strict = config.model_copy(update={"gates": config.gates.model_copy(update={"segments": [segment]})})
    report = run_evaluate(trained, strict, monkeypatch, champion=None)
    assert report["summary"]["passed"] is False
    assert report["summary"]["failed_gates"] == ["high_risk_recall"]
    observed = report["gates"]["high_risk_recall"]["observed"]
    message = report["summary"]["failure_message"]
    assert f"high_risk_recall: recall observed {observed:.4f} < threshold 0.9990" in message
    assert f"delta {observed - 0.999:+.4f}" in message


def test_train_failure_is_written_for_sagemaker(
    tmp_path: Path, config: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = Container(tmp_path / "train")
    job.put_config(config, where="training")
    (job.root / "input" / "data" / "train").mkdir(parents=True)
    pd.DataFrame({"is_fraud": np.zeros(5)}).to_parquet(job.root / "input" / "data" / "train" / "t.parquet")
    monkeypatch.setenv("OPT_ML_ROOT", str(job.root))
    assert train.main() == 1
    failure = (job.root / "output" / "failure").read_text()
    assert failure.startswith("ValueError: the train channel holds a single class")
    assert not (job.root / "model" / "model.joblib").exists()
