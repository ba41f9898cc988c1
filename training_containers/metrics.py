"""Classification metrics for gates and the SageMaker model-quality statistics format."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as sk

from pipelines.drift.performance import classification_metrics as live_metrics

METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc")


def classification_metrics(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float | None]:
    """The monitor's metrics (`pipelines.drift.performance`, one definition for offline gates and
    live performance) plus the support gates need: `samples` and `positives`."""
    truth = np.asarray(y_true).astype(np.int64)
    measured: dict[str, float | None] = dict(live_metrics(truth, np.asarray(scores, dtype=np.float64), threshold))
    return measured | {"samples": int(truth.size), "positives": int(truth.sum())}


def model_quality_statistics(
    y_true: np.ndarray, scores: np.ndarray, threshold: float, *, bootstrap: int = 30, seed: int = 0
) -> dict[str, Any]:
    """The document SageMaker Model Monitor writes for binary classification model quality, which
    the Model Registry shows in Studio. Standard deviations come from a seeded bootstrap."""
    y_true = np.asarray(y_true).astype(int)
    scores = np.asarray(scores, dtype=float)
    predicted = (scores >= threshold).astype(int)
    rng = np.random.default_rng(seed)
    samples = [rng.integers(0, y_true.size, y_true.size) for _ in range(bootstrap)]

    def stat(fn: Any, use_scores: bool = False) -> dict[str, float]:
        def value(index: np.ndarray) -> float:
            truth = y_true[index]
            if use_scores and len(np.unique(truth)) < 2:
                return float("nan")
            return float(fn(truth, scores[index] if use_scores else predicted[index]))

        drawn = np.array([value(i) for i in samples])
        return {"value": value(np.arange(y_true.size)), "standard_deviation": float(np.nanstd(drawn))}

    matrix = sk.confusion_matrix(y_true, predicted, labels=[0, 1])
    tn, fp, fn, tp = (int(x) for x in matrix.ravel())
    fpr, tpr, _ = sk.roc_curve(y_true, scores)
    precisions, recalls, _ = sk.precision_recall_curve(y_true, scores)
    positive_rate = float(y_true.mean())
    return {
        "version": 0.0,
        "dataset": {"item_count": int(y_true.size), "evaluation_time": None},
        "binary_classification_metrics": {
            "confusion_matrix": {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}},
            "recall": stat(lambda t, p: sk.recall_score(t, p, zero_division=0)),
            "precision": stat(lambda t, p: sk.precision_score(t, p, zero_division=0)),
            "accuracy": stat(sk.accuracy_score),
            "recall_best_constant_classifier": {"value": 1.0, "standard_deviation": 0.0},
            "precision_best_constant_classifier": {"value": positive_rate, "standard_deviation": 0.0},
            "accuracy_best_constant_classifier": {
                "value": max(positive_rate, 1 - positive_rate),
                "standard_deviation": 0.0,
            },
            "true_positive_rate": {"value": tp / max(tp + fn, 1), "standard_deviation": 0.0},
            "true_negative_rate": {"value": tn / max(tn + fp, 1), "standard_deviation": 0.0},
            "false_positive_rate": {"value": fp / max(fp + tn, 1), "standard_deviation": 0.0},
            "false_negative_rate": {"value": fn / max(fn + tp, 1), "standard_deviation": 0.0},
            "receiver_operating_characteristic_curve": {
                "false_positive_rates": _thin(fpr),
                "true_positive_rates": _thin(tpr),
            },
            "precision_recall_curve": {"precisions": _thin(precisions), "recalls": _thin(recalls)},
            "auc": stat(sk.roc_auc_score, use_scores=True),
            "f0_5": stat(lambda t, p: sk.fbeta_score(t, p, beta=0.5, zero_division=0)),
            "f1": stat(lambda t, p: sk.f1_score(t, p, zero_division=0)),
            "f2": stat(lambda t, p: sk.fbeta_score(t, p, beta=2, zero_division=0)),
        },
    }


def _thin(values: np.ndarray, points: int = 101) -> list[float]:
    """Curves are kept to about 100 points: enough to draw, small enough for the registry."""
    if values.size <= points:
        return [float(v) for v in values]
    index = np.linspace(0, values.size - 1, points).round().astype(int)
    return [float(v) for v in values[index]]
