"""Metrics for the gates, and SageMaker Model Monitor's model-quality statistics format (what the
Model Registry shows in Studio) for each problem type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import metrics as sk

from pipelines.gates import metrics
from pipelines.gates.catalog import ProblemType


def classification_metrics(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float | None]:
    """A binary classifier's metrics plus the support gates need: `samples` and `positives`."""
    return gate_metrics("binary_classification", y_true, scores, threshold)


def gate_metrics(
    problem_type: ProblemType, truth: Any, predicted: Any, threshold: float, of_class: str | None = None
) -> dict[str, float | None]:
    """Every metric of the problem type (`pipelines.gates.metrics`, one definition for offline gates
    and live performance) plus `samples`, and `positives` for a binary classifier."""
    measured = metrics.measure(problem_type, truth, predicted, decision_threshold=threshold, of_class=of_class)
    support: dict[str, float | None] = {"samples": len(truth)}
    if problem_type == "binary_classification":
        support["positives"] = int(np.asarray(truth).astype(np.int64).sum())
    return measured | support


def quality_statistics(
    problem_type: ProblemType, truth: Any, predicted: Any, threshold: float, *, seed: int = 0
) -> dict[str, Any]:
    """The model-quality statistics document of the problem type."""
    if problem_type == "binary_classification":
        return model_quality_statistics(truth, predicted, threshold, seed=seed)
    if problem_type == "multiclass_classification":
        return multiclass_quality_statistics(truth, predicted, seed=seed)
    return regression_quality_statistics(truth, predicted, seed=seed)


def _bootstrap(size: int, seed: int, draws: int = 30) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, size, size) for _ in range(draws)]


def _statistic(fn: Any, truth: np.ndarray, predicted: np.ndarray, samples: list[np.ndarray]) -> dict[str, float]:
    drawn = np.array([fn(truth[i], predicted[i]) for i in samples]) if truth.size else np.array([np.nan])
    value = float(fn(truth, predicted)) if truth.size else float("nan")
    return {"value": value, "standard_deviation": float(np.nanstd(drawn))}


def regression_quality_statistics(truth: Any, predicted: Any, *, seed: int = 0) -> dict[str, Any]:
    """`regression_metrics`: mae, mse, rmse, r2 ("Model quality metrics and Amazon CloudWatch
    monitoring", https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html);
    standard deviations from a seeded bootstrap."""
    truth, predicted = np.asarray(truth, dtype=float), np.asarray(predicted, dtype=float)
    samples = _bootstrap(truth.size, seed)
    return {
        "version": 0.0,
        "dataset": {"item_count": int(truth.size), "evaluation_time": None},
        "regression_metrics": {
            "mae": _statistic(sk.mean_absolute_error, truth, predicted, samples),
            "mse": _statistic(sk.mean_squared_error, truth, predicted, samples),
            "rmse": _statistic(lambda t, p: np.sqrt(sk.mean_squared_error(t, p)), truth, predicted, samples),
            "r2": _statistic(sk.r2_score, truth, predicted, samples),
        },
    }


def multiclass_quality_statistics(truth: Any, predicted: Any, *, seed: int = 0) -> dict[str, Any]:
    """`multiclass_classification_metrics` (same page as above): the confusion matrix, accuracy,
    and weighted recall, precision, f0.5, f1 and f2, with what always predicting the most frequent
    class would score."""
    truth, predicted = metrics.as_classes(truth), metrics.as_classes(predicted)
    classes = sorted(set(truth) | set(predicted))
    matrix = sk.confusion_matrix(truth, predicted, labels=classes)
    samples = _bootstrap(truth.size, seed)
    weighted: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
        "weighted_recall": lambda t, p: sk.recall_score(t, p, average="weighted", zero_division=0),
        "weighted_precision": lambda t, p: sk.precision_score(t, p, average="weighted", zero_division=0),
        "weighted_f0_5": lambda t, p: sk.fbeta_score(t, p, beta=0.5, average="weighted", zero_division=0),
        "weighted_f1": lambda t, p: sk.f1_score(t, p, average="weighted", zero_division=0),
        "weighted_f2": lambda t, p: sk.fbeta_score(t, p, beta=2, average="weighted", zero_division=0),
    }
    values, counts = np.unique(truth, return_counts=True)
    constant = np.full(truth.size, values[np.argmax(counts)] if truth.size else "", dtype=object)
    found: dict[str, Any] = {
        "confusion_matrix": {a: {b: int(matrix[i, j]) for j, b in enumerate(classes)} for i, a in enumerate(classes)},
        "accuracy": _statistic(sk.accuracy_score, truth, predicted, samples),
        "accuracy_best_constant_classifier": {
            "value": float(sk.accuracy_score(truth, constant)) if truth.size else float("nan"),
            "standard_deviation": 0.0,
        },
    }
    for name, fn in weighted.items():
        found[name] = _statistic(fn, truth, predicted, samples)
        found[f"{name}_best_constant_classifier"] = {
            "value": float(fn(truth, constant)) if truth.size else float("nan"),
            "standard_deviation": 0.0,
        }
    return {
        "version": 0.0,
        "dataset": {"item_count": int(truth.size), "evaluation_time": None},
        "multiclass_classification_metrics": found,
    }


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
