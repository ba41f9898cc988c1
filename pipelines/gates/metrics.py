"""The catalog's metrics computed with scikit-learn's own functions: one definition for the
offline gates (Evaluate, Train's validation), live performance (the drift monitor) and the shadow
verdict.

What a model's predictions are, per problem type:
- binary_classification: the positive class's score in [0, 1]; `truth` holds 0/1. Rank metrics
  (roc_auc, pr_auc) are None when the labels hold a single class: undefined, not zero.
- multiclass_classification: the predicted class; `truth` holds the true classes (compared as text).
- regression: the predicted value; `truth` holds the true values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as sk

from pipelines.gates.catalog import CLASS_RECALL, ProblemType, overall


def binary(truth: Any, scores: Any, decision_threshold: float) -> dict[str, float | None]:
    truth = np.asarray(truth).astype(np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    predicted = (scores >= decision_threshold).astype(np.int64)
    two_classes = np.unique(truth).size == 2
    return {
        "accuracy": float(sk.accuracy_score(truth, predicted)),
        "precision": float(sk.precision_score(truth, predicted, zero_division=0)),
        "recall": float(sk.recall_score(truth, predicted, zero_division=0)),
        "f1": float(sk.f1_score(truth, predicted, zero_division=0)),
        "roc_auc": float(sk.roc_auc_score(truth, scores)) if two_classes else None,
        "pr_auc": float(sk.average_precision_score(truth, scores)) if two_classes else None,
    }


def multiclass(truth: Any, predicted: Any, of_class: str | None = None) -> dict[str, float | None]:
    """`of_class`: the class whose recall `recall` is (a segment of that class's rows)."""
    truth, predicted = as_classes(truth), as_classes(predicted)
    if truth.size == 0:
        return dict.fromkeys([*overall("multiclass_classification"), CLASS_RECALL])
    measured: dict[str, float | None] = {"accuracy": float(sk.accuracy_score(truth, predicted))}
    for average in ("macro", "weighted"):
        measured[f"{average}_precision"] = float(sk.precision_score(truth, predicted, average=average, zero_division=0))
        measured[f"{average}_recall"] = float(sk.recall_score(truth, predicted, average=average, zero_division=0))
        measured[f"{average}_f1"] = float(sk.f1_score(truth, predicted, average=average, zero_division=0))
    if of_class is not None:
        measured[CLASS_RECALL] = float(
            sk.recall_score(truth, predicted, labels=[str(of_class)], average="macro", zero_division=0)
        )
    return measured


def regression(truth: Any, predicted: Any) -> dict[str, float | None]:
    truth, predicted = np.asarray(truth, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    if truth.size == 0:
        return dict.fromkeys(overall("regression"))
    mse = float(sk.mean_squared_error(truth, predicted))
    return {
        "rmse": float(np.sqrt(mse)),
        "mae": float(sk.mean_absolute_error(truth, predicted)),
        "mse": mse,
        # r2 of a constant truth is undefined (scikit-learn warns and returns nan or 0)
        "r2": float(sk.r2_score(truth, predicted)) if truth.size > 1 and np.ptp(truth) > 0 else None,
    }


def measure(
    problem_type: ProblemType,
    truth: Any,
    predicted: Any,
    *,
    decision_threshold: float = 0.5,
    of_class: str | None = None,
) -> dict[str, float | None]:
    """Every metric of `problem_type` for these predictions."""
    if problem_type == "binary_classification":
        return binary(truth, predicted, decision_threshold)
    if problem_type == "multiclass_classification":
        return multiclass(truth, predicted, of_class)
    return regression(truth, predicted)


def as_classes(values: Any) -> np.ndarray:
    """Class labels as text, whole floats without '.0' (a label column read as float holds 1.0
    where the model predicted 1)."""
    array = np.asarray(values, dtype=object)
    return np.asarray([_text(v) for v in array], dtype=object)


def _text(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)
