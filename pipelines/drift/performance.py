"""Model quality on the labelled part of a window, and label drift against the baseline.

Labels arrive late: a window's performance is reported only once it holds at least
`drift.min_labels_for_performance` labelled predictions; before that it says how many it has.
Rank metrics (ROC-AUC, PR-AUC) are None when the labels hold a single class: undefined, not zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from pipelines.config import DriftSection, PerformanceSlo
from pipelines.drift import statistics as st
from pipelines.gates import metrics
from pipelines.gates.catalog import ProblemType

PERFORMANCE_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc")


def classification_metrics(
    truth: npt.NDArray[np.int64], scores: npt.NDArray[np.float64], decision_threshold: float
) -> dict[str, float | None]:
    """A binary classifier's metrics (pipelines.gates.metrics: one definition for offline gates and
    live performance)."""
    return metrics.binary(truth, scores, decision_threshold)


def performance(
    truth: Any,
    predicted: Any,
    *,
    decision_threshold: float,
    min_labels: int,
    slo: PerformanceSlo | None,
    problem_type: ProblemType = "binary_classification",
) -> dict[str, Any]:
    """The labelled predictions' metrics (pipelines.gates.metrics) and the SLO's verdict. `truth`
    holds 0/1 labels and `predicted` positive-class scores for a binary classifier; classes for a
    multiclass one; values for a regression."""
    labels = len(truth)
    result: dict[str, Any] = {
        "labels": labels,
        "min_labels": min_labels,
        "positives": int(np.asarray(truth).astype(np.int64).sum()) if problem_type == "binary_classification" else None,
        "decision_threshold": decision_threshold,
        "metrics": None,
        "slo": None,
    }
    if labels < min_labels:
        return result | {"status": "insufficient_labels"}
    measured = metrics.measure(problem_type, truth, predicted, decision_threshold=decision_threshold)
    result |= {"status": "ok", "metrics": measured}
    if slo is not None:
        observed = measured[slo.metric]
        result["slo"] = {"metric": slo.metric, slo.bound: slo.threshold, "observed": observed, "met": slo.met(observed)}
    return result


def label_drift(
    positives: int, labels: int, baseline_positive_rate: float | None, drift: DriftSection
) -> dict[str, Any]:
    """Positive rate of the labelled window against the baseline's, judged by Cohen's h."""
    rate = positives / labels if labels else None
    result: dict[str, Any] = {
        "labels": labels,
        "positive_rate": rate,
        "baseline_positive_rate": baseline_positive_rate,
        "cohens_h": None,
        "psi": None,
        "js": None,
        "drifted": False,
    }
    if rate is None or baseline_positive_rate is None:
        return result | {"status": "no_labels" if rate is None else "no_baseline"}
    base = np.asarray([1 - baseline_positive_rate, baseline_positive_rate])
    now = np.asarray([1 - rate, rate])
    h = st.cohens_h(baseline_positive_rate, rate)
    enough = labels >= drift.min_labels_for_performance
    return result | {
        "status": "ok" if enough else "insufficient_labels",
        "cohens_h": h,
        "psi": st.psi(base, now),
        "js": st.js_distance(base, now),
        "drifted": enough and h >= drift.label_shift_threshold,
    }
