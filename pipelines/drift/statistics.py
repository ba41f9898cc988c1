"""Drift statistics as pure, vectorised functions of shares, counts and sorted samples.

Definitions (docs/drift.md, "Drift metrics", repeats them for operators):

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
    the reference at or below each. Both statistics are exact for the ECDF given, by one of two
    equivalent O(n + k) computations: a few passes over the sample when the reference is small
    (a stored profile), a merge of both when it is as large as the sample (an exact reference).
    """
    if support.size * 8 <= current_sorted.size:
        return _gap_distances(support, cdf, current_sorted)
    return _merged_distances(support, cdf, current_sorted)


def _merged_distances(support: Floats, cdf: Floats, current_sorted: Floats) -> tuple[float, float]:
    """Merge the reference points into the sorted sample, evaluate both step functions after
    every merged point and integrate |F_ref - F_cur| over the gaps."""
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


def _gap_distances(support: Floats, cdf: Floats, y: Floats) -> tuple[float, float]:
    """The same statistics from the sample's own gaps, for a reference much smaller than it.

    F_ref is constant between reference points, so KS needs F_cur only on both sides of each
    (two binary searches per reference point). For Wasserstein, the gap [y_t, y_t+1) has
    F_cur = (t+1)/m and, unless a reference point falls strictly inside it, F_ref = the share of
    the reference at or below y_t; the few gaps a reference point splits are corrected piece by
    piece, and so are the stretches before the first and after the last sample value.
    """
    k = support.size
    m = y.size
    below = np.searchsorted(y, support, side="left")  # sample values < s_j
    at_or_below = np.searchsorted(y, support, side="right")  # sample values <= s_j
    ks = max(
        below[0] / m,
        float(np.abs(cdf - at_or_below / m).max()),
        float(np.abs(cdf[:-1] - below[1:] / m).max()) if k > 1 else 0.0,
    )

    # |F_ref - F_cur| on each gap, F_ref taken at the gap's left end.
    difference = np.repeat(np.concatenate(([0.0], cdf)), np.diff(np.concatenate(([0], below, [m]))))
    level = np.arange(1, m + 1, dtype=np.float64)
    level /= m
    difference -= level
    del level
    np.abs(difference, out=difference)
    wasserstein = float(np.dot(difference[:-1], np.diff(y)))
    following = int(np.searchsorted(support, y[-1], side="right"))
    if following < k:  # after the last sample value F_cur = 1, up to the next reference point
        wasserstein += float(difference[-1] * (support[following] - y[-1]))

    # Reference points equal to no sample value start a piece [s_j, next point) of their own.
    inside = np.flatnonzero(below == at_or_below)
    first_above = at_or_below[inside]
    f_cur = first_above / m
    next_sample = np.where(first_above < m, y[np.minimum(first_above, m - 1)], np.inf)
    next_reference = np.concatenate((support[1:], [np.inf]))[inside]
    length = np.minimum(next_sample, next_reference) - support[inside]
    length[~np.isfinite(length)] = 0.0  # [s_last, inf) with F_ref = F_cur = 1
    counted = np.zeros(inside.size)  # what the gap computation already counted there
    within = (first_above >= 1) & (first_above <= m - 1)
    counted[within] = difference[first_above[within] - 1]
    wasserstein += float(np.dot(np.abs(cdf[inside] - f_cur) - counted, length))
    return ks, wasserstein


KS_LIMIT_FROM = 10_000


def ks_p_value(statistic: float, n_reference: int, n_current: int) -> float:
    """Two-sided p-value of a two-sample KS statistic: scipy's 'asymp' mode (the one-sample
    distribution at the effective size) below an effective size of KS_LIMIT_FROM, Kolmogorov's
    limiting distribution above it, where the two agree and the first costs up to 0.2 s a call."""
    effective = n_reference * n_current / (n_reference + n_current)
    if effective < KS_LIMIT_FROM:
        return float(stats.kstwo.sf(statistic, np.round(effective)))
    return float(stats.kstwobign.sf(statistic * np.sqrt(effective)))


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
    return statistic, dof, chi2_p_value(statistic, dof)


def chi2_p_value(statistic: float, dof: int) -> float:
    """The chance of a chi-square statistic at least this large with `dof` degrees of freedom."""
    return float(stats.chi2.sf(statistic, dof))


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
