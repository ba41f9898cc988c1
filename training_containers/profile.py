"""The baseline profile: what the data looked like when the model was built, for the drift monitor.

DataPull profiles the fresh window (the newest labelled data, which the model is trained on and
tested on), not the history a weighted or expanding window mixes in: the monitor asks whether
traffic moved since the model was built, and a mix of past regimes would make traffic the model
already fits look drifted, re-triggering retrains that cannot settle the alarm.

Numeric features get quantile bin edges fixed now (PSI later bins the current window on the
same edges), bin shares, range, moments, quantiles and an ECDF (exact up to 2048 distinct values,
otherwise compressed to within 1/2048 of the exact one, for KS and Wasserstein). Categorical
features get category frequencies and counts. Shares exclude nulls; null rates are kept
separately. The drift engine (`pipelines/drift/reference.py`) writes and reads this format, so
the monitor compares against exactly what was stored.

Version 2 replaced version 1's 2000-value random sample with the ECDF; the engine reads both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import FeatureType, ModelConfig
from pipelines.drift.estimation import calibration_profile
from pipelines.drift.reference import CategoricalReference, NumericReference
from pipelines.gates.metrics import as_classes

PROFILE_VERSION = 2


def numeric_profile(values: pd.Series | np.ndarray, bins: int) -> dict[str, Any]:
    return NumericReference.from_values(values, bins).to_profile()


def categorical_profile(values: pd.Series) -> dict[str, Any]:
    return CategoricalReference.from_values(values).to_profile()


def prediction_profile(scores: np.ndarray, bins: int) -> dict[str, Any]:
    """Profile of the champion's positive-class scores on held-out data: the baseline for
    prediction drift. `baseline_profile(..., predictions=...)` stores it under "prediction"."""
    return numeric_profile(np.asarray(scores, dtype=np.float64), bins)


def with_predictions(
    profile: dict[str, Any], scores: np.ndarray, config: ModelConfig, truth: np.ndarray | None = None
) -> dict[str, Any]:
    """`profile` with the model's predictions as its prediction baseline (Evaluate adds the
    candidate's test-split predictions to DataPull's profile; the backtest does the same for its
    candidates): scores or values as numbers, a multiclass model's classes as categories. A binary
    classifier's scores are calibrated by the same rows' `truth` (0/1), which the monitor's
    performance estimate reads (pipelines.drift.estimation), or the profile says why they cannot be."""
    if config.model.problem_type == "multiclass_classification":
        return profile | {"prediction": categorical_profile(pd.Series(scores, dtype=object))}
    found = profile | {"prediction": prediction_profile(scores, config.drift.numeric_bins)}
    if config.model.problem_type == "binary_classification" and truth is not None:
        found["calibration"] = calibration_profile(scores, truth)
    return found


def baseline_profile(frame: pd.DataFrame, config: ModelConfig, predictions: np.ndarray | None = None) -> dict[str, Any]:
    features = {}
    for feature in config.model.features:
        column = frame[feature.name]
        if feature.type is FeatureType.numeric:
            features[feature.name] = numeric_profile(column, config.drift.numeric_bins)
        else:
            features[feature.name] = categorical_profile(column)
    labels = frame[config.model.label]
    profile: dict[str, Any] = {
        "version": PROFILE_VERSION,
        "rows": len(frame),
        "features": features,
        "label": {
            "positive_rate": _positive_rate(labels, config),
            "count": int(labels.notna().sum()),
            # A multiclass model's classes, as text: what an answer may be (training_containers.scoring).
            "classes": (
                sorted(set(as_classes(labels.dropna().to_numpy())))
                if config.model.problem_type == "multiclass_classification"
                else None
            ),
        },
    }
    return profile if predictions is None else with_predictions(profile, predictions, config)


def _positive_rate(labels: pd.Series, config: ModelConfig) -> float | None:
    """A binary classifier's share of positive labels (label drift's baseline); None otherwise."""
    if config.model.problem_type != "binary_classification" or not len(labels):
        return None
    return float((labels == config.model.positive_class).mean())
