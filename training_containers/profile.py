"""The baseline profile: what the training data looked like, for the drift monitor.

Numeric features get quantile bin edges fixed now (PSI later bins the current window on the
same edges), bin shares, range, moments, quantiles and a seeded sample of raw values (for KS and
Wasserstein). Categorical features get category frequencies. Shares exclude nulls; null rates
are kept separately.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import FeatureType, ModelConfig

PROFILE_VERSION = 1
SAMPLE_SIZE = 2000


def numeric_profile(values: pd.Series, bins: int, seed: int) -> dict[str, Any]:
    clean = values.dropna().to_numpy(dtype="float64")
    profile: dict[str, Any] = {"type": "numeric", "count": int(values.size), "null_rate": _null_rate(values)}
    if clean.size == 0:
        return profile | {"edges": [], "shares": []}
    # Inner edges at quantiles; duplicates (heavy ties) collapse so no bin is empty by design.
    inner = np.unique(np.quantile(clean, np.linspace(0, 1, bins + 1)[1:-1]))
    edges = [-np.inf, *inner.tolist(), np.inf]
    counts = np.histogram(clean, bins=edges)[0]
    rng = np.random.default_rng(seed)
    sample = clean if clean.size <= SAMPLE_SIZE else rng.choice(clean, SAMPLE_SIZE, replace=False)
    return profile | {
        "edges": [None if not np.isfinite(e) else float(e) for e in edges],
        "shares": (counts / clean.size).tolist(),
        "min": float(clean.min()),
        "max": float(clean.max()),
        "mean": float(clean.mean()),
        "std": float(clean.std()),
        "quantiles": {str(q): float(np.quantile(clean, q)) for q in (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)},
        "sample": np.sort(sample).tolist(),
    }


def categorical_profile(values: pd.Series) -> dict[str, Any]:
    clean = values.dropna().astype(str)
    shares = clean.value_counts(normalize=True).sort_index()
    return {
        "type": "categorical",
        "count": int(values.size),
        "null_rate": _null_rate(values),
        "frequencies": {str(k): float(v) for k, v in shares.items()},
    }


def baseline_profile(frame: pd.DataFrame, config: ModelConfig) -> dict[str, Any]:
    features = {}
    for index, feature in enumerate(config.model.features):
        column = frame[feature.name]
        if feature.type is FeatureType.numeric:
            features[feature.name] = numeric_profile(
                column, config.drift.numeric_bins, config.training.random_seed + index
            )
        else:
            features[feature.name] = categorical_profile(column)
    labels = frame[config.model.label]
    return {
        "version": PROFILE_VERSION,
        "rows": len(frame),
        "features": features,
        "label": {"positive_rate": float((labels == config.model.positive_class).mean()) if len(labels) else None},
    }


def _null_rate(values: pd.Series) -> float:
    return float(values.isna().mean()) if values.size else 0.0
