"""Mergeable summaries of a window's feature values, laid on the baseline's grid.

A monitor run must not reread every captured record of a long window: each captured hour is
summarised once and a window is the merge (sum) of its hours' summaries. A summary is laid on
the champion's baseline reference, the grid the statistics compare against anyway:

- a numeric feature keeps its row, value and invalid counts, its counts in the reference's PSI
  bins, and for the reference's ECDF support points s_0 < ... < s_k-1 the count of values equal
  to each point and, for each gap (below s_0, between two points, above s_k-1), the count and sum
  of the values strictly inside it; plus count, mean and M2 (Chan et al.'s pairwise update),
  minimum and maximum;
- a categorical feature keeps its row count and each category's count.

Everything but the floating sums merges exactly (integer counts add; Chan's update is exact in
real arithmetic). From a merged summary:

- PSI, JS, the out-of-range share, null rates, chi-square and Cramér's V are exactly what the
  window's own values give;
- KS is exact: the reference ECDF is a step function constant between its points, so the
  window's ECDF is only needed on both sides of each point (`statistics._gap_distances` reads it
  there too);
- Wasserstein is exact on every gap where the window's ECDF stays on one side of the reference's
  level, and below the first and above the last point (the reference is 0 or 1 there and the gap
  sums give the integral). On a gap where the window's ECDF crosses the reference's level the
  window's values are taken at their mean; the error there is at most the gap's width times the
  window's share inside it, and the sum of those bounds is reported
  (`wasserstein_error_bound`, in the same units as `wasserstein_raw`);
- the window's quantiles are known to within the gap holding them (reported, never voted on).

A summary made against one reference cannot be merged with one made against another: merging
raises `SketchMismatch`, and the monitor keys stored summaries by the baseline they were laid on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipelines.drift.reference import QUANTILES, CategoricalReference, NumericReference, category_counts
from pipelines.drift.statistics import Counts, Floats

_QUANTILES = tuple(str(q) for q in QUANTILES)


class SketchMismatch(ValueError):
    """Two summaries laid on different references (or of different kinds) cannot be merged."""


def _ints(values: Any, size: int) -> Counts:
    array: Counts = np.asarray(values, dtype=np.int64)
    if array.shape != (size,):
        raise SketchMismatch(f"expected {size} counts, got {array.shape}")
    return array


@dataclass(frozen=True)
class NumericSketch:
    rows: int
    invalid: int
    bins: Counts  # per reference PSI bin
    at: Counts  # per reference support point: values equal to it
    inside: Counts  # per gap (k + 1): values strictly between support points
    inside_sum: Floats  # per gap: the sum of those values
    mean: float  # of the values (0 when there are none)
    m2: float  # sum of squared deviations from the mean
    minimum: float  # nan when there are no values
    maximum: float

    @property
    def values(self) -> int:
        return int(self.at.sum() + self.inside.sum())

    @classmethod
    def of(cls, reference: NumericReference, column: pd.Series | np.ndarray) -> NumericSketch:
        """The summary of one column's values on `reference`'s grid."""
        invalid = 0
        if isinstance(column, pd.Series) and not (
            pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
        ):
            coerced = pd.to_numeric(column, errors="coerce")
            invalid = int((coerced.isna() & column.notna()).sum())
            column = coerced
        if isinstance(column, pd.Series):
            array = column.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            array = np.asarray(column, dtype=np.float64)
        finite = np.isfinite(array)
        values = array if finite.all() else array[finite]
        support = reference.support
        k = support.size
        gap = np.searchsorted(support, values, side="left")  # the first point >= each value
        hit = support[np.minimum(gap, k - 1)] == values if k else np.zeros(values.size, dtype=bool)
        inner = reference.edges[1:-1]
        bins = np.bincount(np.searchsorted(inner, values, side="right"), minlength=inner.size + 1)
        missed = ~hit
        mean = float(values.mean()) if values.size else 0.0
        return cls(
            rows=int(array.size),
            invalid=invalid,
            bins=bins.astype(np.int64),
            at=np.bincount(gap[hit], minlength=k).astype(np.int64),
            inside=np.bincount(gap[missed], minlength=k + 1).astype(np.int64),
            inside_sum=np.bincount(gap[missed], weights=values[missed], minlength=k + 1).astype(np.float64),
            mean=mean,
            m2=float(np.square(values - mean).sum()) if values.size else 0.0,
            minimum=float(values.min()) if values.size else math.nan,
            maximum=float(values.max()) if values.size else math.nan,
        )

    @classmethod
    def empty(cls, reference: NumericReference, rows: int = 0) -> NumericSketch:
        """`rows` rows without a value (a column the window lacks)."""
        return cls.of(reference, np.full(rows, np.nan))

    def merge(self, other: NumericSketch) -> NumericSketch:
        if self.at.shape != other.at.shape or self.bins.shape != other.bins.shape:
            raise SketchMismatch("numeric summaries laid on different references")
        n_a, n_b = self.values, other.values
        n = n_a + n_b
        delta = other.mean - self.mean
        mean = self.mean + delta * n_b / n if n else 0.0
        m2 = self.m2 + other.m2 + delta * delta * n_a * n_b / n if n else 0.0
        return NumericSketch(
            rows=self.rows + other.rows,
            invalid=self.invalid + other.invalid,
            bins=self.bins + other.bins,
            at=self.at + other.at,
            inside=self.inside + other.inside,
            inside_sum=self.inside_sum + other.inside_sum,
            mean=mean,
            m2=m2,
            minimum=float(np.fmin(self.minimum, other.minimum)),
            maximum=float(np.fmax(self.maximum, other.maximum)),
        )

    # ---- statistics against the reference it was laid on

    def distances(self, reference: NumericReference) -> tuple[float, float, float]:
        """(KS, Wasserstein, Wasserstein's error bound) against `reference` (see the module
        docstring); KS and the bound are exact, Wasserstein is within the bound."""
        m = self.values
        support, cdf = reference.support, reference.cdf
        k = support.size
        if m == 0 or k == 0:
            return 0.0, 0.0, 0.0
        at_or_below = np.cumsum(self.at + self.inside[:k])  # values <= s_j
        below = at_or_below - self.at  # values < s_j
        ks = max(
            below[0] / m,
            float(np.abs(cdf - at_or_below / m).max()),
            float(np.abs(cdf[:-1] - below[1:] / m).max()) if k > 1 else 0.0,
        )
        wasserstein = (self.inside[0] * support[0] - self.inside_sum[0]) / m
        wasserstein += (self.inside_sum[k] - self.inside[k] * support[-1]) / m
        bound = 0.0
        if k > 1:
            level = cdf[:-1]  # the reference between s_j-1 and s_j
            start = at_or_below[:-1] / m  # the window's ECDF just after s_j-1
            end = below[1:] / m  # and just before s_j
            width = np.diff(support)
            count = self.inside[1:k]
            inner_mean = np.where(
                count > 0, self.inside_sum[1:k] / np.maximum(count, 1), support[:-1]
            )  # an empty gap is all "after" its left point
            wasserstein += float(
                np.dot(np.abs(level - start), inner_mean - support[:-1])
                + np.dot(np.abs(level - end), support[1:] - inner_mean)
            )
            crossing = (level - start) * (level - end) < 0
            bound = float(np.dot(width[crossing], (end - start)[crossing]))
        return ks, float(wasserstein), bound

    def quantiles(self, reference: NumericReference, probabilities: Floats) -> Floats:
        """The window's quantiles (np.quantile's linear rule), each within the gap holding it:
        values inside a gap are taken as spread evenly across it."""
        m = self.values
        support = reference.support
        k = support.size
        # Runs in value order: gap 0, point 0, gap 1, point 1, ..., gap k.
        counts = np.empty(2 * k + 1, dtype=np.int64)
        counts[0::2] = self.inside
        counts[1::2] = self.at
        lows = np.empty(2 * k + 1)
        highs = np.empty(2 * k + 1)
        lows[1::2] = highs[1::2] = support
        lows[0], highs[-1] = self.minimum, self.maximum
        lows[2::2] = support
        highs[0:-1:2] = support
        ends = np.cumsum(counts)
        starts = ends - counts

        def order_statistic(rank: Floats) -> Floats:
            run = np.searchsorted(ends, rank, side="right")
            spread = (rank - starts[run] + 0.5) / np.maximum(counts[run], 1)
            value: Floats = lows[run] + spread * (highs[run] - lows[run])
            return np.where(counts[run] == 0, lows[run], value)

        position = np.asarray(probabilities, dtype=np.float64) * (m - 1)
        lower = np.floor(position)
        result: Floats = order_statistic(lower) + (position - lower) * (
            order_statistic(np.minimum(lower + 1, m - 1)) - order_statistic(lower)
        )
        return np.clip(result, self.minimum, self.maximum)

    def as_reference(self, grid: NumericReference) -> NumericReference:
        """These values as a baseline reference on `grid`'s bins and ECDF points (the baseline
        and a window summary are the same thing on the same grid). The ECDF is exact at every grid
        point; values below the first point or above the last are placed at the minimum and the
        maximum. A summary of a reference's own values gives that reference back."""
        n = self.values
        if n == 0:
            return NumericReference.from_values(np.full(self.rows, np.nan), 2)
        k = grid.support.size
        at_or_below = np.cumsum(self.at + self.inside[:k])
        support, cdf = grid.support, at_or_below / n
        if self.inside[0]:
            support, cdf = np.r_[self.minimum, support], np.r_[self.inside[0] / n, cdf]
        if self.inside[k]:
            support, cdf = np.r_[support, self.maximum], np.r_[cdf, 1.0]
        keep = np.r_[True, np.diff(cdf) > 0] if cdf.size else np.zeros(0, dtype=bool)  # points without values
        estimated = self.quantiles(grid, np.asarray([float(q) for q in _QUANTILES]))
        quantiles = dict(zip(_QUANTILES, estimated.tolist(), strict=True))
        return NumericReference(
            rows=self.rows,
            values=n,
            edges=grid.edges,
            shares=self.bins / n,
            support=support[keep],
            cdf=cdf[keep],
            mean=self.mean,
            std=math.sqrt(self.m2 / n),
            minimum=self.minimum,
            maximum=self.maximum,
            quantiles=quantiles,
            exact=False,
        )

    # ---- storage

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "numeric",
            "rows": self.rows,
            "invalid": self.invalid,
            "bins": self.bins.tolist(),
            "at": self.at.tolist(),
            "inside": self.inside.tolist(),
            "inside_sum": self.inside_sum.tolist(),
            "mean": self.mean,
            "m2": self.m2,
            "min": None if math.isnan(self.minimum) else self.minimum,
            "max": None if math.isnan(self.maximum) else self.maximum,
        }

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> NumericSketch:
        points = len(entry["at"])
        return cls(
            rows=int(entry["rows"]),
            invalid=int(entry["invalid"]),
            bins=np.asarray(entry["bins"], dtype=np.int64),
            at=_ints(entry["at"], points),
            inside=_ints(entry["inside"], points + 1),
            inside_sum=np.asarray(entry["inside_sum"], dtype=np.float64),
            mean=float(entry["mean"]),
            m2=float(entry["m2"]),
            minimum=math.nan if entry["min"] is None else float(entry["min"]),
            maximum=math.nan if entry["max"] is None else float(entry["max"]),
        )


@dataclass(frozen=True)
class CategoricalSketch:
    rows: int
    counts: Mapping[str, int] = field(default_factory=dict)  # non-null values by category (text)

    @classmethod
    def of(cls, column: pd.Series) -> CategoricalSketch:
        categories, counts = category_counts(column)
        return cls(int(column.size), dict(zip(categories, counts.tolist(), strict=True)))

    @classmethod
    def empty(cls, rows: int = 0) -> CategoricalSketch:
        return cls(rows, {})

    def merge(self, other: CategoricalSketch) -> CategoricalSketch:
        merged = dict(self.counts)
        for category, count in other.counts.items():
            merged[category] = merged.get(category, 0) + count
        return CategoricalSketch(self.rows + other.rows, merged)

    def as_reference(self) -> CategoricalReference:
        """These values as a baseline reference (category counts are the reference itself)."""
        categories, counts = self.category_counts()
        return CategoricalReference(self.rows, tuple(categories), counts)

    def category_counts(self) -> tuple[list[str], Counts]:
        """As `reference.category_counts` gives them: categories sorted, their counts."""
        categories = sorted(self.counts)
        return categories, np.asarray([self.counts[c] for c in categories], dtype=np.int64)

    def to_json(self) -> dict[str, Any]:
        return {"type": "categorical", "rows": self.rows, "counts": dict(sorted(self.counts.items()))}

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> CategoricalSketch:
        return cls(int(entry["rows"]), {str(k): int(v) for k, v in entry["counts"].items()})


Sketch = NumericSketch | CategoricalSketch


def merge_sketches(first: Sketch, second: Sketch) -> Sketch:
    if isinstance(first, NumericSketch) and isinstance(second, NumericSketch):
        return first.merge(second)
    if isinstance(first, CategoricalSketch) and isinstance(second, CategoricalSketch):
        return first.merge(second)
    raise SketchMismatch("a numeric and a categorical summary of one column cannot be merged")


def sketch_from_json(entry: Mapping[str, Any]) -> Sketch:
    if entry.get("type") == "numeric":
        return NumericSketch.from_json(entry)
    if entry.get("type") == "categorical":
        return CategoricalSketch.from_json(entry)
    raise SketchMismatch(f"unknown summary type {entry.get('type')!r}")
