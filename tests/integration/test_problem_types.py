"""Every problem type with every built-in estimator that supports it, through the local runtime
to a registered version: the gates, the registry, the model-quality statistics and the prediction
baseline work the same around each. Every metric is recomputed here with scikit-learn's own
functions from the registered model's predictions on the test split."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from pipelines.local.workspace import Workspace
from tests.problem_types import config_dict, seeded
from training_containers.estimators import features_frame, predictions

# Each problem type with a built-in estimator, and the binary one with the example script; the
# multiclass and regression models trained by the same script run as documented, to a registered
# version and then through shadow, promotion and the monitor, in test_examples.py. Every other
# estimator x problem type is fitted in tests/unit/test_problem_types.py.
CASES = [
    ("binary_classification", "random_forest"),
    ("binary_classification", "script"),
    ("multiclass_classification", "xgboost"),
    ("regression", "lightgbm"),
]


def _registered(problem_type: str, estimator: str, folder: Path) -> tuple[Any, Workspace, dict[str, Any]]:
    workspace = seeded(config_dict(problem_type, estimator, folder), folder)
    config = workspace.config
    execution = workspace.run(echo=lambda _: None)
    assert execution.status == "Succeeded", [(s.name, s.status, s.failure_reason) for s in execution.steps]
    (package,) = workspace.runtime().registry.list_model_packages(config.registry.model_package_group)
    return config, workspace, package


def _model(workspace: Workspace, package: dict[str, Any], folder: Path) -> Any:
    """The registered model, loaded the way Evaluate and the server load it."""
    from training_containers import models

    archive = workspace.s3.path(package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return models.load(folder)[0]


@pytest.mark.parametrize(("problem_type", "estimator"), CASES, ids=[f"{p}-{e}" for p, e in CASES])
def test_a_model_of_each_kind_is_trained_gated_and_registered(
    problem_type: str, estimator: str, tmp_path: Path
) -> None:
    config, workspace, package = _registered(problem_type, estimator, tmp_path)
    metadata = package["CustomerMetadataProperties"]
    evaluation = workspace.s3.read_json(metadata["EvaluationReport"])
    assert evaluation["summary"]["passed"] is True, evaluation["summary"]
    test = pd.concat(
        pd.read_parquet(p) for p in sorted(workspace.s3.path(evaluation_uri(metadata, "test")).glob("*.parquet"))
    )
    model = _model(workspace, package, tmp_path / "model")
    predicted = predictions(model, features_frame(test, config), config.model.problem_type)
    truth = test["target"].to_numpy()
    measured = evaluation["metrics"]
    quality = workspace.s3.read_json(evaluation_uri(metadata, "model_quality"))
    if problem_type == "binary_classification":
        truth = truth.astype(int)
        assert measured["roc_auc"] == pytest.approx(sk.roc_auc_score(truth, predicted), rel=1e-9)
        assert measured["pr_auc"] == pytest.approx(sk.average_precision_score(truth, predicted), rel=1e-9)
        assert measured["recall"] == pytest.approx(sk.recall_score(truth, predicted >= 0.5), rel=1e-9)
        assert quality["binary_classification_metrics"]["auc"]["value"] == pytest.approx(measured["roc_auc"])
    elif problem_type == "regression":
        truth = truth.astype(float)
        assert measured["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(truth, predicted)), rel=1e-9)
        assert measured["mae"] == pytest.approx(sk.mean_absolute_error(truth, predicted), rel=1e-9)
        assert measured["r2"] == pytest.approx(sk.r2_score(truth, predicted), rel=1e-9)
        assert evaluation["gates"]["max_rmse"]["bound"] == "max" and evaluation["gates"]["max_rmse"]["delta"] > 0
        south = (test["region"] == "south").to_numpy()
        gate = evaluation["gates"]["south_mae"]
        assert gate["observed"] == pytest.approx(sk.mean_absolute_error(truth[south], predicted[south]), abs=1e-6)
        assert set(quality["regression_metrics"]) == {"mae", "mse", "rmse", "r2"}
        assert quality["regression_metrics"]["rmse"]["value"] == pytest.approx(measured["rmse"], rel=1e-9)
        assert "edges" in workspace.s3.read_json(metadata["BaselineProfile"])["prediction"]
    else:
        truth = truth.astype(str)
        assert measured["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted), rel=1e-9)
        assert measured["macro_f1"] == pytest.approx(sk.f1_score(truth, predicted, average="macro"), rel=1e-9)
        assert measured["weighted_f1"] == pytest.approx(sk.f1_score(truth, predicted, average="weighted"), rel=1e-9)
        gold = truth == "gold"
        gate = evaluation["gates"]["gold_recall"]
        assert gate["observed"] == pytest.approx(np.mean(predicted[gold] == "gold"), abs=1e-6)
        assert evaluation["segments"]["gold_recall"]["support"] == int(gold.sum())
        statistics = quality["multiclass_classification_metrics"]
        assert statistics["weighted_f1"]["value"] == pytest.approx(measured["weighted_f1"], rel=1e-9)
        assert sum(sum(row.values()) for row in statistics["confusion_matrix"].values()) == len(truth)
        prediction = workspace.s3.read_json(metadata["BaselineProfile"])["prediction"]
        assert prediction["type"] == "categorical" and set(prediction["counts"]) <= {"bronze", "silver", "gold"}
    assert evaluation["edge_cases"]["cases"] == 2


def evaluation_uri(metadata: dict[str, str], what: str) -> str:
    """The test split DataPull wrote, or Evaluate's model-quality statistics, of this version."""
    evaluation = metadata["EvaluationReport"].rsplit("/", 1)[0]
    if what == "model_quality":
        return f"{evaluation}/model_quality.json"
    execution = evaluation.rsplit("/", 2)[0]
    return f"{execution}/DataPull/test/"
