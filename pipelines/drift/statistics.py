"""Drift statistics as pure, vectorised functions of shares, counts and sorted samples.

Definitions (the README's "Drift metrics" section repeats them for operators):

- **PSI** (population stability index) over bins: sum((c - r) * ln(c / r)). Bin shares below
  `PSI_FLOOR` are raised to it and each side is renormalised, so a bin empty on one side adds a
  large but finite term instead of infinity. Numeric bins are the reference quantile bins fixed
  at baseline time; categorical "bins" are the categories (unseen ones included).
- **Jensen-Shannon distance**: the square root of the JS divergence with base-2 logarithms, so it
  lies in [0, 1]; zero shares need no smoothing.
- **KS**: the two-sample Kolmogorov-Smirnov statistic, sup |F_ref - F_cur| over all values.
- **Wasserstein**: the 1-Wasserstein (earth mover's) distance, integral |F_ref - F_cur| dx; the
  engine divides it by the reference standard deviation.
- **Cramér's V** of the 2 x k contingency table with both samples reweighted to equal size:
  sqrt(1/2 * sum((c - r)^2 / (c + r))). The usual V shrinks as the baseline outgrows the window;
  this one depends on the two distributions only. The chi-square statistic and its p-value use
  the real counts.
- **Cohen's h** for a proportion: |2 asin(sqrt(p1)) - 2 asin(sqrt(p2))|.

KS and Wasserstein take the reference as an ECDF (sorted support points and the cumulative
share at each), so the same code serves an exact reference built from a frame and the compressed
one stored in a baseline profile.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats  # type: ignore[import-untyped]

Floats = npt.NDArray[np.float64]
Counts = npt.NDArray[np.int64]

PSI_FLOOR = 1e-4


def psi(reference: Floats, current: Floats) -> float:
    """Population stability index of two share vectors over the same bins."""
    ref = _floored(reference)
    cur = _floored(current)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _floored(shares: Floats) -> Floats:
    raised = np.maximum(np.asarray(shares, dtype=np.float64), PSI_FLOOR)
    normalised: Floats = raised / raised.sum()
    return normalised


def js_distance(reference: Floats, current: Floats) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) of two share vectors over the same bins."""
    p = np.asarray(reference, dtype=np.float64)
    q = np.asarray(current, dtype=np.float64)
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2
    divergence = (_kl_terms(p, m) + _kl_terms(q, m)) / 2
    return float(np.sqrt(max(divergence, 0.0)))


def _kl_terms(p: Floats, m: Floats) -> float:
    positive = p > 0
    return float(np.sum(p[positive] * np.log2(p[positive] / m[positive])))


def bin_counts(current_sorted: Floats, edges: Floats) -> Counts:
    """Counts of sorted finite values in bins [e0, e1), [e1, e2), ... (np.histogram's convention,
    with -inf/+inf outer edges)."""
    inner = edges[1:-1]
    below = np.searchsorted(current_sorted, inner, side="left")
    bounds = np.concatenate(([0], below, [current_sorted.size])).astype(np.int64)
    counts: Counts = np.diff(bounds)
    return counts


def ecdf_distances(support: Floats, cdf: Floats, current_sorted: Floats) -> tuple[float, float]:
    """(KS statistic, 1-Wasserstein distance) between a reference ECDF and a sorted sample.

    `support` holds the reference's distinct values in increasing order and `cdf` the share of
    the reference at or below each. Both statistics are exact for the ECDF given: the reference
    points are merged into the sorted sample (O(n + k), no second sort), both step functions are
    evaluated after every merged point, and |F_ref - F_cur| is integrated over the gaps.
    """
    k = support.size
    m = current_sorted.size
    n = m + k
    ref_at = np.searchsorted(current_sorted, support, side="left") + np.arange(k)
    is_ref = np.zeros(n, dtype=bool)
    is_ref[ref_at] = True
    merged = np.empty(n, dtype=np.float64)
    merged[ref_at] = support
    merged[~is_ref] = current_sorted
    ref_seen = np.cumsum(is_ref)
    del is_ref
    gap = np.concatenate(([0.0], cdf))[ref_seen]
    f_cur = np.arange(1, n + 1, dtype=np.float64)
    f_cur -= ref_seen
    del ref_seen
    f_cur /= m
    gap -= f_cur
    del f_cur
    np.abs(gap, out=gap)
    step = np.diff(merged)
    del merged
    wasserstein = float(np.dot(gap[:-1], step))
    rises = step > 0
    ks = float(gap[:-1][rises].max()) if rises.any() else 0.0
    return ks, wasserstein


def ks_p_value(statistic: float, n_reference: int, n_current: int) -> float:
    """Asymptotic two-sided p-value of a two-sample KS statistic (as scipy's 'asymp' mode)."""
    effective = n_reference * n_current / (n_reference + n_current)
    return float(stats.kstwo.sf(statistic, np.round(effective)))


def chi2_two_sample(reference_counts: Counts, current_counts: Counts) -> tuple[float, int, float]:
    """Chi-square statistic, degrees of freedom and p-value of the 2 x k contingency table
    (categories with no observation on either side are dropped)."""
    table = np.vstack([reference_counts, current_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    dof = table.shape[1] - 1
    if dof < 1 or (table.sum(axis=1) == 0).any():
        return 0.0, max(dof, 0), 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, dof, float(stats.chi2.sf(statistic, dof))


def cramers_v_equal_size(reference: Floats, current: Floats) -> float:
    """Cramér's V of the 2 x k table of two share vectors, both samples weighted equally."""
    total = reference + current
    used = total > 0
    value = 0.5 * np.sum((current[used] - reference[used]) ** 2 / total[used])
    return float(np.sqrt(min(max(value, 0.0), 1.0)))


def cohens_h(p_reference: float, p_current: float) -> float:
    """Effect size of a change in a proportion (0.2 is 'small' in Cohen's convention)."""
    return float(abs(2 * np.arcsin(np.sqrt(p_current)) - 2 * np.arcsin(np.sqrt(p_reference))))


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error control), in the input order."""
    count = len(p_values)
    if count == 0:
        return []
    order = np.argsort(p_values, kind="stable")
    scaled = np.asarray(p_values, dtype=np.float64)[order] * (count - np.arange(count))
    adjusted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    result = np.empty(count, dtype=np.float64)
    result[order] = adjusted
    return [float(v) for v in result]


def sorted_quantiles(values_sorted: Floats, probabilities: Floats) -> Floats:
    """Linear-interpolation quantiles of an already sorted sample (np.quantile's default)."""
    position = (values_sorted.size - 1) * probabilities
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, values_sorted.size - 1)
    fraction = position - low
    result: Floats = values_sorted[low] + fraction * (values_sorted[high] - values_sorted[low])
    return result
