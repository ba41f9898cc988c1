"""The reference side of a drift comparison: what the champion's training data looked like.

A reference is built either from a frame (as a profile would store it, or with `exact=True` the
full ECDF of every numeric feature) or from a stored baseline profile (`training_containers/
profile.py` writes it with `to_profile`). A profile keeps a compressed ECDF: at most about `GRID_POINTS` support points,
chosen at evenly spaced cumulative shares plus a few far-tail shares. The compressed ECDF never
differs from the exact one by more than 1 / GRID_POINTS, so a KS statistic computed against it is
within that of the exact value; a column with no more distinct values than the grid is stored
exactly. Bin edges, shares, moments and counts are always exact.

Nulls are NaN, None and +/-inf; shares and ECDFs exclude them, and null rates are kept apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import Feature, FeatureType
from pipelines.drift.statistics import Counts, Floats, bin_counts

GRID_POINTS = 2048
TAIL_SHARES = (1e-7, 1e-6, 1e-5, 1e-4)
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
_EMPTY = np.zeros(0, dtype=np.float64)


def finite_values(values: pd.Series | np.ndarray) -> tuple[Floats, int]:
    """Float64 view of a column and the number of rows; non-numbers and infinities become NaN."""
    if isinstance(values, pd.Series):
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            values = pd.to_numeric(values, errors="coerce")
        array = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        array = np.asarray(values, dtype=np.float64)
    return array, int(array.size)


def sorted_finite(array: Floats) -> Floats:
    finite = np.isfinite(array)
    return np.sort(array if finite.all() else array[finite])


def category_counts(values: pd.Series) -> tuple[list[str], Counts]:
    """Distinct non-null values as strings (sorted) and their counts. Counting happens before the
    string conversion, so only the distinct values are converted."""
    counted = values.value_counts(dropna=True, sort=False)
    counted = counted[counted.to_numpy() > 0]
    if counted.empty:
        return [], np.zeros(0, dtype=np.int64)
    as_text = counted.groupby(counted.index.astype(str), sort=True).sum()
    counts: Counts = as_text.to_numpy().astype(np.int64)
    return [str(k) for k in as_text.index], counts


@dataclass(frozen=True)
class NumericReference:
    rows: int
    values: int
    edges: Floats
    shares: Floats
    support: Floats
    cdf: Floats
    mean: float | None
    std: float | None
    minimum: float | None
    maximum: float | None
    quantiles: Mapping[str, float]
    exact: bool

    @property
    def null_rate(self) -> float:
        return 1.0 - self.values / self.rows if self.rows else 0.0

    @classmethod
    def from_values(cls, values: pd.Series | np.ndarray, bins: int) -> NumericReference:
        array, rows = finite_values(values)
        clean = sorted_finite(array)
        n = clean.size
        if n == 0:
            return cls(rows, 0, _EMPTY, _EMPTY, _EMPTY, _EMPTY, None, None, None, None, {}, True)
        # Inner edges at quantiles; duplicates (heavy ties) collapse into one edge.
        inner = np.unique(np.quantile(clean, np.linspace(0, 1, bins + 1)[1:-1]))
        edges = np.concatenate(([-np.inf], inner, [np.inf]))
        last_of_run = np.empty(n, dtype=bool)
        last_of_run[:-1] = clean[1:] != clean[:-1]
        last_of_run[-1] = True
        return cls(
            rows=rows,
            values=n,
            edges=edges,
            shares=bin_counts(clean, edges) / n,
            support=clean[last_of_run],
            cdf=(np.flatnonzero(last_of_run) + 1) / n,
            mean=float(clean.mean()),
            std=float(clean.std()),
            minimum=float(clean[0]),
            maximum=float(clean[-1]),
            quantiles={str(q): float(v) for q, v in zip(QUANTILES, np.quantile(clean, QUANTILES), strict=True)},
            exact=True,
        )

    def compressed(self, grid_points: int = GRID_POINTS) -> NumericReference:
        """The same reference with its ECDF cut to the grid (see the module docstring)."""
        if self.support.size <= grid_points + 2 * len(TAIL_SHARES) + 2:
            return self
        tails = np.asarray(TAIL_SHARES)
        shares = np.concatenate((np.arange(1, grid_points + 1) / grid_points, tails, 1 - tails))
        # The first support point whose cumulative share reaches each grid share, plus the extremes.
        chosen = np.searchsorted(self.cdf, shares, side="left")
        chosen = np.unique(np.clip(np.concatenate(([0], chosen, [self.support.size - 1])), 0, self.support.size - 1))
        return NumericReference(
            rows=self.rows,
            values=self.values,
            edges=self.edges,
            shares=self.shares,
            support=self.support[chosen],
            cdf=self.cdf[chosen],
            mean=self.mean,
            std=self.std,
            minimum=self.minimum,
            maximum=self.maximum,
            quantiles=self.quantiles,
            exact=False,
        )

    def to_profile(self, grid_points: int = GRID_POINTS) -> dict[str, Any]:
        stored = self.compressed(grid_points)
        entry: dict[str, Any] = {
            "type": "numeric",
            "count": self.rows,
            "values": self.values,
            "null_rate": self.null_rate,
            "edges": [float(e) if np.isfinite(e) else None for e in self.edges],
            "shares": self.shares.tolist(),
        }
        if self.values == 0:
            return entry
        return entry | {
            "min": self.minimum,
            "max": self.maximum,
            "mean": self.mean,
            "std": self.std,
            "quantiles": dict(self.quantiles),
            "ecdf": {"values": stored.support.tolist(), "cdf": stored.cdf.tolist(), "exact": stored.exact},
        }

    @classmethod
    def from_profile(cls, entry: Mapping[str, Any]) -> NumericReference:
        rows = int(entry.get("count", 0))
        values = int(entry["values"]) if "values" in entry else round(rows * (1 - float(entry.get("null_rate", 0.0))))
        edges = np.asarray([(-np.inf if i == 0 else np.inf) if e is None else e for i, e in enumerate(entry["edges"])])
        if values == 0 or edges.size == 0:
            return cls(rows, 0, _EMPTY, _EMPTY, _EMPTY, _EMPTY, None, None, None, None, {}, True)
        if "ecdf" in entry:
            support = np.asarray(entry["ecdf"]["values"], dtype=np.float64)
            cdf = np.asarray(entry["ecdf"]["cdf"], dtype=np.float64)
            exact = bool(entry["ecdf"].get("exact", False))
        else:  # profile version 1: a sorted random sample of the values
            sample = np.sort(np.asarray(entry["sample"], dtype=np.float64))
            support, counts = np.unique(sample, return_counts=True)
            cdf = np.cumsum(counts) / sample.size
            exact = sample.size == values
        return cls(
            rows=rows,
            values=values,
            edges=edges.astype(np.float64),
            shares=np.asarray(entry["shares"], dtype=np.float64),
            support=support,
            cdf=cdf,
            mean=float(entry["mean"]),
            std=float(entry["std"]),
            minimum=float(entry["min"]),
            maximum=float(entry["max"]),
            quantiles={str(k): float(v) for k, v in entry.get("quantiles", {}).items()},
            exact=exact,
        )


@dataclass(frozen=True)
class CategoricalReference:
    rows: int
    categories: tuple[str, ...]
    counts: Counts

    @property
    def values(self) -> int:
        return int(self.counts.sum())

    @property
    def null_rate(self) -> float:
        return 1.0 - self.values / self.rows if self.rows else 0.0

    @property
    def shares(self) -> Floats:
        total = self.counts.sum()
        return self.counts / total if total else np.zeros(len(self.categories))

    @classmethod
    def from_values(cls, values: pd.Series) -> CategoricalReference:
        categories, counts = category_counts(values)
        return cls(rows=int(values.size), categories=tuple(categories), counts=counts)

    def to_profile(self) -> dict[str, Any]:
        return {
            "type": "categorical",
            "count": self.rows,
            "values": self.values,
            "null_rate": self.null_rate,
            "frequencies": {c: float(s) for c, s in zip(self.categories, self.shares, strict=True)},
            "counts": {c: int(n) for c, n in zip(self.categories, self.counts, strict=True)},
        }

    @classmethod
    def from_profile(cls, entry: Mapping[str, Any]) -> CategoricalReference:
        rows = int(entry.get("count", 0))
        if "counts" in entry:
            counts = {str(k): int(v) for k, v in entry["counts"].items()}
        else:  # profile version 1: shares only; counts rebuilt from the non-null row count
            non_null = rows * (1 - float(entry.get("null_rate", 0.0)))
            counts = {str(k): round(float(v) * non_null) for k, v in entry["frequencies"].items()}
        categories = tuple(sorted(counts))
        return cls(rows=rows, categories=categories, counts=np.asarray([counts[c] for c in categories], dtype=np.int64))


FeatureReference = NumericReference | CategoricalReference


@dataclass(frozen=True)
class BaselineReference:
    """Everything a drift comparison needs from the baseline."""

    rows: int
    features: Mapping[str, FeatureReference]
    prediction: FeatureReference | None = None  # scores or values; a multiclass model's classes
    positive_rate: float | None = None
    labels: int = 0
    version: int | None = None

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        features: Iterable[Feature],
        *,
        bins: int,
        label: str | None = None,
        positive_class: int | str = 1,
        prediction: str | None = None,
        exact: bool = False,
    ) -> BaselineReference:
        """The reference a baseline profile of `frame` would hold, or with `exact` the full ECDFs."""
        built: dict[str, FeatureReference] = {}
        for feature in features:
            if feature.name not in frame.columns:
                continue
            column = frame[feature.name]
            if feature.type is FeatureType.numeric:
                numeric = NumericReference.from_values(column, bins)
                built[feature.name] = numeric if exact else numeric.compressed()
            else:
                built[feature.name] = CategoricalReference.from_values(column)
        positive_rate, labels = None, 0
        if label is not None and label in frame.columns:
            labelled = frame[label].dropna()
            labels = int(labelled.size)
            positive_rate = float((labelled == positive_class).mean()) if labels else None
        predicted: FeatureReference | None = None
        if prediction is not None and prediction in frame.columns:
            column = frame[prediction]
            if pd.api.types.is_numeric_dtype(column):
                numeric = NumericReference.from_values(column, bins)
                predicted = numeric if exact else numeric.compressed()
            else:  # a multiclass model's classes
                predicted = CategoricalReference.from_values(column)
        return cls(len(frame), built, predicted, positive_rate, labels)

    @classmethod
    def from_profile(cls, profile: Mapping[str, Any]) -> BaselineReference:
        built: dict[str, FeatureReference] = {}
        for name, entry in profile.get("features", {}).items():
            built[name] = _reference(entry)
        prediction = profile.get("prediction")
        label = profile.get("label") or {}
        return cls(
            rows=int(profile.get("rows", 0)),
            features=built,
            prediction=_reference(prediction) if prediction else None,
            positive_rate=label.get("positive_rate"),
            labels=int(label.get("count", profile.get("rows", 0)) or 0),
            version=profile.get("version"),
        )


def _reference(entry: Mapping[str, Any]) -> FeatureReference:
    """A stored profile entry as the reference of its type (a prediction entry written before
    types were recorded is numeric)."""
    if entry.get("type", "numeric") == "numeric":
        return NumericReference.from_profile(entry)
    return CategoricalReference.from_profile(entry)
