"""Metric code against sklearn computed independently, and the model-quality format."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from training_containers.metrics import classification_metrics, model_quality_statistics


@pytest.fixture
def labelled() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    y = (rng.random(4000) < 0.1).astype(int)
    scores = np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0, 1)
    return y, scores


def test_classification_metrics_match_sklearn(labelled: tuple[np.ndarray, np.ndarray]) -> None:
    y, scores = labelled
    got = classification_metrics(y, scores, threshold=0.55)
    predicted = scores >= 0.55
    assert got["accuracy"] == pytest.approx(np.mean(predicted == y))
    assert got["precision"] == pytest.approx(((predicted == 1) & (y == 1)).sum() / predicted.sum())
    assert got["recall"] == pytest.approx(((predicted == 1) & (y == 1)).sum() / y.sum())
    assert got["roc_auc"] == pytest.approx(sk.roc_auc_score(y, scores))
    assert got["pr_auc"] == pytest.approx(sk.average_precision_score(y, scores))
    assert got["samples"] == 4000 and got["positives"] == int(y.sum())


def test_single_class_rank_metrics_are_undefined() -> None:
    got = classification_metrics(np.zeros(10, int), np.linspace(0, 1, 10), 0.5)
    assert got["roc_auc"] is None and got["pr_auc"] is None
    assert got["accuracy"] == pytest.approx(0.5)


def test_model_quality_statistics_format(labelled: tuple[np.ndarray, np.ndarray]) -> None:
    y, scores = labelled
    doc = model_quality_statistics(y, scores, 0.5, bootstrap=10, seed=1)
    block = doc["binary_classification_metrics"]
    matrix = sk.confusion_matrix(y, scores >= 0.5)
    assert block["confusion_matrix"]["1"]["1"] == matrix[1, 1]
    assert block["confusion_matrix"]["0"]["1"] == matrix[0, 1]
    assert block["auc"]["value"] == pytest.approx(sk.roc_auc_score(y, scores))
    assert 0 < block["auc"]["standard_deviation"] < 0.05
    assert block["f1"]["value"] == pytest.approx(sk.f1_score(y, scores >= 0.5))
    assert len(block["receiver_operating_characteristic_curve"]["false_positive_rates"]) <= 101
    assert doc["dataset"]["item_count"] == 4000
