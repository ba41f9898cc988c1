"""A drift report for one window: features, prediction, label and performance in one document.

Two entry points share everything after the reference is built:
- `run_monitor`: the monitoring job's path, the window against the champion's stored baseline
  profile (compressed ECDFs, see `reference.py`), with delayed labels joined by inference id;
- `compare_frames`: the CLI's path, one frame against another. By default the reference is what a
  baseline profile of the first frame would hold, so the CLI reports what the monitor would;
  `exact=True` keeps every reference value (KS and Wasserstein then equal scipy's).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import DriftSection, Feature, ModelConfig
from pipelines.drift.engine import (
    compare_categorical,
    compare_features,
    compare_numeric,
    compare_sketch,
    feature_types_from,
)
from pipelines.drift.estimation import ESTIMATED_METRICS, calibration_profile, estimate
from pipelines.drift.files import PREDICTION, DriftInputError, label_classes
from pipelines.drift.files import score_column as score_column_of
from pipelines.drift.performance import label_drift, performance
from pipelines.drift.reference import BaselineReference, CategoricalReference
from pipelines.drift.window import WindowProfile
from pipelines.gates.catalog import ProblemType
from pipelines.gates.metrics import as_classes

REPORT_VERSION = 1
PREDICTION_COLUMN = PREDICTION
INFERENCE_ID_COLUMN = "inference_id"
INFERENCE_TIME_COLUMN = "inference_time"
GROUND_TRUTH_COLUMN = "label"


def run_monitor(
    config: ModelConfig,
    profile: Mapping[str, Any],
    window: pd.DataFrame | WindowProfile,
    labels: pd.DataFrame | None = None,
    *,
    labelled_window: pd.DataFrame | None = None,
    window_start: str | None = None,
    window_end: str | None = None,
    workers: int | None = None,
    window_scores: np.ndarray | None = None,
) -> dict[str, Any]:
    """Drift of a captured window against the baseline profile. `window` holds the feature
    columns, `prediction` (positive-class score) and `inference_id`; `labels` holds
    `inference_id` and `label` (ground truth, possibly for older windows too). Labels arrive
    late, so performance and label drift may be judged on a longer `labelled_window` of captured
    predictions (by default the drift window itself). `window_scores`: every score of the window,
    for its estimated performance, where `window` holds summaries (a `WindowProfile`)."""
    reference = BaselineReference.from_profile(profile)
    if labels is not None:
        if labelled_window is not None:
            labelled_window = join_labels(labelled_window, labels, config.model.label)
        elif isinstance(window, pd.DataFrame):
            window = join_labels(window, labels, config.model.label)
    return drift_report(
        reference,
        window,
        config.model.features,
        config.drift,
        model=config.model.name,
        label=config.model.label,
        positive_class=config.model.positive_class,
        decision_threshold=config.gates.decision_threshold,
        problem_type=config.model.problem_type,
        labelled_window=labelled_window,
        window_start=window_start,
        window_end=window_end,
        workers=workers,
        calibration=profile.get("calibration"),
        window_scores=window_scores,
    )


def compare_frames(
    reference_frame: pd.DataFrame,
    current_frame: pd.DataFrame,
    config: ModelConfig | None = None,
    *,
    exact: bool = False,
    workers: int | None = None,
    score_column: str | None = None,
    label_column: str | None = None,
    positive_class: int | str | None = None,
) -> dict[str, Any]:
    """Drift of one frame against another. Without a config every column except the score, the
    label, times and identifiers is a feature (numbers numeric, the rest categorical; the report's
    `skipped_columns` names the others) and thresholds are the config defaults. The score is
    `score_column`, else `prediction` unless that holds only 0/1 (a class, refused:
    `files.score_column`); the label is `label_column`, else the config's; its positive class
    `positive_class`, else the config's, else 1."""
    reference_frame, current_frame = (
        score_column_of(frame, which, score_column or PREDICTION_COLUMN, named=score_column is not None)
        for frame, which in ((reference_frame, "reference"), (current_frame, "current"))
    )
    label = label_column or (config.model.label if config else None)
    if label_column is not None and label_column not in reference_frame.columns:
        raise DriftInputError(
            f"reference table has no column '{label_column}' (--label-column); columns: {list(reference_frame)}"
        )
    drift = config.drift if config else DriftSection()
    features: Sequence[Feature] = config.model.features if config else ()
    skipped: dict[str, str] = {}
    if config is None:
        features, skipped = feature_types_from(
            reference_frame, exclude=[PREDICTION_COLUMN, *([label] if label else [])]
        )
    given = positive_class is not None
    if given and label is None:
        raise DriftInputError("--positive-class names a value of the label: give --label-column too")
    if positive_class is None:
        positive_class = config.model.positive_class if config else 1
    setting = "model.positive_class in the config" if config and not given else ""
    binary = config is None or config.model.problem_type == "binary_classification"
    for frame, which in ((reference_frame, "reference"), (current_frame, "current")):
        _check_label_type(frame, label, positive_class, setting)
        if binary:
            _check_binary_label(frame, label, positive_class, setting, which)
    reference = BaselineReference.from_frame(
        reference_frame,
        features,
        bins=drift.numeric_bins,
        label=label,
        positive_class=positive_class,
        prediction=PREDICTION_COLUMN,
        exact=exact,
    )
    report = drift_report(
        reference,
        current_frame,
        features,
        drift,
        model=config.model.name if config else None,
        label=label,
        positive_class=positive_class,
        decision_threshold=config.gates.decision_threshold if config else 0.5,
        workers=workers,
        calibration=_reference_calibration(reference_frame, label, positive_class),
    )
    if config is None:
        report["skipped_columns"] = skipped
    return report


def _check_label_type(frame: pd.DataFrame, label: str | None, positive_class: int | str, setting: str) -> None:
    """A numeric positive class cannot match labels that are text: every row would read as
    negative, and the report would say so with status ok. `setting`: where the positive class is
    set ("" for --positive-class)."""
    if label is None or label not in frame.columns or isinstance(positive_class, str):
        return
    present = frame[label].dropna()
    text = present[pd.to_numeric(present, errors="coerce").isna()]
    if len(text):
        shown = ", ".join(repr(v) for v in sorted({str(v) for v in text.unique()})[:4])
        how = (
            f"set {setting} to the label's positive value (e.g. 'yes')"
            if setting
            else f"give --positive-class: the label's positive value, one of {shown}"
        )
        raise DriftInputError(
            f"label '{label}' holds text ({shown}); positive_class is {positive_class}, a number: {how}"
        )


def _check_binary_label(
    frame: pd.DataFrame, label: str | None, positive_class: int | str, setting: str, which: str
) -> None:
    """A binary label holds two values, and the reference holds the positive one: a third value
    (labels still pending) would read as negative, and a positive class the labels never hold
    would make every row negative, each reported with status ok."""
    if label is None or label not in frame.columns:
        return
    values, positive, _ = label_classes(frame[label], positive_class)
    shown = ", ".join(repr(v) for v in values[:5])
    if len(values) > 2:
        raise DriftInputError(
            f"label '{label}' holds {len(values)} values in the {which} table ({shown}): a binary label has two; "
            "leave out the rows whose label has not settled (e.g. 'pending'), or leave them null"
        )
    if which == "reference" and values and positive not in values:
        how = f"set {setting}" if setting else "give --positive-class"
        raise DriftInputError(
            f"the positive class {positive_class!r} is not among the values of label '{label}' in the reference "
            f"table ({shown}): every row would read as negative; {how} to one of them"
        )


def _reference_calibration(frame: pd.DataFrame, label: str | None, positive_class: int | str) -> dict[str, Any]:
    """The reference's scores calibrated by its labels, as Evaluate calibrates a champion's: the
    current frame's performance is then estimated as the monitor estimates a window's."""
    if label is None or label not in frame.columns or PREDICTION_COLUMN not in frame.columns:
        return {"status": "uncalibratable", "reason": "the reference holds no labelled scores to calibrate"}
    labelled = frame[frame[label].notna() & frame[PREDICTION_COLUMN].notna()]
    truth = _is_positive(labelled[label], positive_class).to_numpy().astype(np.int64)
    return calibration_profile(labelled[PREDICTION_COLUMN].to_numpy(dtype=np.float64), truth)


def _prediction_drift(reference: BaselineReference, predicted: pd.Series, drift: DriftSection) -> dict[str, Any]:
    """The predictions against the baseline's: scores and values as numbers, classes as categories."""
    if reference.prediction is None:
        return {"status": "no_baseline", "drifted": False}
    if isinstance(reference.prediction, CategoricalReference):
        return compare_categorical(reference.prediction, predicted.astype(object), drift)
    return compare_numeric(reference.prediction, predicted, drift)


def _judged(
    scored: pd.DataFrame, label: str | None, positive: pd.Series, problem_type: ProblemType
) -> tuple[np.ndarray, np.ndarray]:
    """(truth, predictions) of the labelled, predicted rows as the problem type's metrics take them."""
    if problem_type == "binary_classification" or label is None or scored.empty:
        predicted = scored[PREDICTION_COLUMN].to_numpy(dtype=np.float64) if len(scored) else np.zeros(0)
        return positive.to_numpy().astype(np.int64), predicted
    if problem_type == "multiclass_classification":
        return as_classes(scored[label].to_numpy()), as_classes(scored[PREDICTION_COLUMN].to_numpy())
    truth = pd.to_numeric(scored[label], errors="coerce").to_numpy(dtype=np.float64)
    return truth, pd.to_numeric(scored[PREDICTION_COLUMN], errors="coerce").to_numpy(dtype=np.float64)


def join_labels(window: pd.DataFrame, labels: pd.DataFrame, label_column: str) -> pd.DataFrame:
    """The window with `label_column` filled from ground truth by inference id (the last label
    wins when one id was labelled twice). Rows without a label get null."""
    if INFERENCE_ID_COLUMN not in window.columns or labels.empty:
        return window.assign(**{label_column: pd.Series(np.nan, index=window.index, dtype="object")})
    truth = labels.drop_duplicates(INFERENCE_ID_COLUMN, keep="last").set_index(INFERENCE_ID_COLUMN)[GROUND_TRUTH_COLUMN]
    return window.assign(**{label_column: window[INFERENCE_ID_COLUMN].map(truth)})


def _is_positive(values: pd.Series, positive_class: int | str) -> pd.Series:
    if isinstance(positive_class, str):
        return values.astype(str) == positive_class
    return pd.to_numeric(values, errors="coerce") == positive_class


def drift_report(
    reference: BaselineReference,
    window: pd.DataFrame | WindowProfile,
    features: Sequence[Feature],
    drift: DriftSection,
    *,
    model: str | None,
    label: str | None,
    positive_class: int | str,
    decision_threshold: float,
    problem_type: ProblemType = "binary_classification",
    labelled_window: pd.DataFrame | None = None,
    window_start: str | None = None,
    window_end: str | None = None,
    workers: int | None = None,
    calibration: Mapping[str, Any] | None = None,
    window_scores: np.ndarray | None = None,
) -> dict[str, Any]:
    results, problems = compare_features(reference, window, features, drift, workers=workers)
    if labelled_window is None and isinstance(window, WindowProfile):
        labelled_window = pd.DataFrame({PREDICTION_COLUMN: pd.Series(dtype="float64")})
    judged = window if labelled_window is None else labelled_window
    assert isinstance(judged, pd.DataFrame)

    prediction: dict[str, Any] = {"status": "no_predictions", "drifted": False}
    if isinstance(window, WindowProfile):
        if window.prediction is not None:
            prediction = (
                {"status": "no_baseline", "drifted": False}
                if reference.prediction is None
                else compare_sketch(reference.prediction, window.prediction, drift)
            )
    elif PREDICTION_COLUMN in window.columns:
        prediction = _prediction_drift(reference, window[PREDICTION_COLUMN], drift)

    labelled = pd.Series(False, index=judged.index)
    positive = pd.Series(False, index=judged.index)
    if label is not None and label in judged.columns:
        labelled = judged[label].notna()
        positive = _is_positive(judged[label], positive_class) & labelled
    label_result = label_drift(int(positive.sum()), int(labelled.sum()), reference.positive_rate, drift)
    if problem_type != "binary_classification":  # a positive rate is a binary classifier's
        label_result = label_result | {"status": "not_applicable", "drifted": False}

    scored = labelled & judged[PREDICTION_COLUMN].notna() if PREDICTION_COLUMN in judged.columns else labelled & False
    performance_result = performance(
        *_judged(judged[scored], label, positive[scored], problem_type),
        decision_threshold=decision_threshold,
        min_labels=drift.min_labels_for_performance,
        slo=drift.performance_slo,
        problem_type=problem_type,
    )
    if PREDICTION_COLUMN not in judged.columns or not judged[PREDICTION_COLUMN].notna().any():
        performance_result["status"] = "no_predictions"

    first, last = _time_range(window)
    estimated: dict[str, Any] = (
        _estimated(
            window_scores if window_scores is not None else _window_scores(window),
            judged[scored],
            performance_result["metrics"] if performance_result["status"] == "ok" else None,
            calibration,
            drift,
            decision_threshold,
        )
        if problem_type == "binary_classification"
        else {"status": "not_applicable", "metrics": None}
    )
    drifted = [name for name, result in results.items() if result["drifted"]]
    slo = performance_result["slo"]
    report = {
        "report_version": REPORT_VERSION,
        "model": model,
        "window": {
            "start": window_start or first,
            "end": window_end or last,
            "rows": window.rows if isinstance(window, WindowProfile) else len(window),
            "labelled_rows": int(labelled.sum()),
            "labelled_window_rows": len(judged),
        },
        "reference": {"rows": reference.rows, "profile_version": reference.version},
        "thresholds": drift.model_dump(mode="json"),
        "features": results,
        "schema_problems": problems,
        "prediction": prediction,
        "label": label_result,
        "performance": performance_result,
        "estimated_performance": estimated,
        "summary": {
            "features": len(results),
            "drifted_features": drifted,
            "drifted_feature_count": len(drifted),
            "min_drifted_features": drift.min_drifted_features,
            "drift_detected": len(drifted) >= drift.min_drifted_features,
            "schema_problem_count": len(problems),
            "prediction_drifted": bool(prediction.get("drifted")),
            "label_drifted": bool(label_result["drifted"]),
            "slo_met": None if slo is None else slo["met"],
            "estimated_slo_met": (estimated.get("slo") or {}).get("met"),
        },
    }
    finite: dict[str, Any] = _finite(report)
    return finite


def _window_scores(window: pd.DataFrame | WindowProfile) -> np.ndarray:
    """The drift window's own positive-class scores; a window of summaries is given them
    (`window_scores`: the monitor job keeps every hour's scores)."""
    if not isinstance(window, pd.DataFrame) or PREDICTION_COLUMN not in window.columns:
        return np.zeros(0)
    return pd.to_numeric(window[PREDICTION_COLUMN], errors="coerce").to_numpy(dtype=np.float64)


def _estimated(
    scores: np.ndarray,
    labelled: pd.DataFrame,
    realized: Mapping[str, float | None] | None,
    calibration: Mapping[str, Any] | None,
    drift: DriftSection,
    decision_threshold: float,
) -> dict[str, Any]:
    """The window's estimated performance and, on the labelled predictions, the estimate next to
    what the labels measured (`realized`, the report's performance when it has one): how well the
    calibration still holds."""
    found = estimate(
        scores,
        calibration,
        decision_threshold=decision_threshold,
        min_predictions=drift.min_predictions_for_estimate,
        slo=drift.estimated_slo,
    )
    if found["status"] != "ok" or realized is None:
        return found | {"labelled": None}
    labelled_scores = labelled[PREDICTION_COLUMN].to_numpy(dtype=np.float64)
    on_labelled = estimate(labelled_scores, calibration, decision_threshold=decision_threshold, min_predictions=1)
    measured = on_labelled["metrics"] or {}
    judged = judged_metric(drift)
    return found | {
        "labelled": {
            "rows": len(labelled),
            "estimated": {name: entry["value"] for name, entry in measured.items()},
            "bounds": {name: [entry["lower"], entry["upper"]] for name, entry in measured.items()},
            "realized": dict(realized),
            "judged_metric": judged,
            "realized_within_bounds": within_bounds(measured.get(judged), realized.get(judged)),
        }
    }


def judged_metric(drift: DriftSection) -> str:
    """The metric the estimate is set beside the labels on: the estimated SLO's, else the realized
    SLO's where the estimate has it, else ROC-AUC."""
    for slo in (drift.estimated_slo, drift.performance_slo):
        if slo is not None and slo.metric in ESTIMATED_METRICS:
            return slo.metric
    return "roc_auc"


def within_bounds(estimated: Mapping[str, Any] | None, realized: float | None) -> bool | None:
    """Whether what the labels measured lies within the estimate's 95 % bounds on the same
    predictions (None: nothing to judge). The bounds are the realized metric's spread if the
    calibration holds; they leave out the calibration's own error, so on large windows a
    calibration fitted on a few hundred rows falls outside them now and then (a reviewer counted
    5 to 13 in 50 windows of 20,000 rows, by metric). Outside them, the relation between scores and
    outcomes may have changed (concept drift): the realized metric, not the estimate, tells."""
    if estimated is None or realized is None or estimated["lower"] is None or estimated["upper"] is None:
        return None
    return bool(estimated["lower"] <= realized <= estimated["upper"])


def _time_range(window: pd.DataFrame | WindowProfile) -> tuple[str | None, str | None]:
    """The window's first and last inference times."""
    if isinstance(window, WindowProfile):
        return window.first, window.last
    if INFERENCE_TIME_COLUMN not in window.columns or not len(window):
        return None, None
    times = window[INFERENCE_TIME_COLUMN]
    return _iso(times.min()), _iso(times.max())


def _finite(value: Any) -> Any:
    """The report with NaN and infinities replaced by None, so it is valid JSON everywhere."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _iso(value: Any) -> str | None:
    if value is None or pd.isna(value):
        return None
    return str(pd.Timestamp(value).isoformat())
