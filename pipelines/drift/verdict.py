"""Which statistics vote on a feature's drift verdict, and against which config threshold.

A feature is drifted when any voting statistic reaches its threshold (>=). Distribution
statistics vote only when the window holds at least `drift.min_window_rows` non-null values;
the null-rate increase votes when it holds that many rows. p-values never vote: at production
sample sizes they flag negligible differences, and an uncorrected p < 0.05 flags about 5% of
unchanged features at any size. They are reported, Holm-adjusted across the window's features.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.config import DriftSection

NUMERIC_STATISTICS = ("psi", "ks", "wasserstein", "js", "ood_share", "null_rate_increase")
CATEGORICAL_STATISTICS = ("psi", "js", "cramers_v", "ood_share", "null_rate_increase")
NULL_RATE_STATISTICS = frozenset({"null_rate_increase"})

THRESHOLD_FIELDS = {
    "psi": "psi_threshold",
    "ks": "ks_threshold",
    "wasserstein": "wasserstein_threshold",
    "js": "js_threshold",
    "cramers_v": "cramers_v_threshold",
    "ood_share": "ood_share_threshold",
    "null_rate_increase": "null_rate_increase_threshold",
}


def statistics_for(kind: str) -> tuple[str, ...]:
    return NUMERIC_STATISTICS if kind == "numeric" else CATEGORICAL_STATISTICS


def threshold(drift: DriftSection, statistic: str) -> float:
    return float(getattr(drift, THRESHOLD_FIELDS[statistic]))


def breaches(
    result: Mapping[str, Any], kind: str, drift: DriftSection, *, distribution_votes: bool, null_rate_votes: bool
) -> list[str]:
    """The statistics of one feature result that reach their thresholds and may vote."""
    found = []
    for statistic in statistics_for(kind):
        value = result.get(statistic)
        votes = null_rate_votes if statistic in NULL_RATE_STATISTICS else distribution_votes
        if votes and value is not None and value >= threshold(drift, statistic):
            found.append(statistic)
    return found


def severity(result: Mapping[str, Any], thresholds: Mapping[str, Any]) -> tuple[float, str] | None:
    """How far a feature result is from drifted: the largest of its statistics over their
    thresholds (1.0 is the threshold, a drifted feature is at 1.0 or more) and that statistic's
    name; None when no statistic may vote. Which may vote is the verdict's rule (`breaches`): the
    distribution statistics on an `ok` window, the null-rate increase on one of `min_window_rows`
    rows. `thresholds` is a report's `thresholds` mapping."""
    distribution_votes = result.get("status") == "ok"
    null_rate_votes = int(result.get("rows") or 0) >= int(thresholds.get("min_window_rows") or 0)
    ratios = [
        (float(result[statistic]) / float(thresholds[THRESHOLD_FIELDS[statistic]]), statistic)
        for statistic in statistics_for(str(result.get("type")))
        if result.get(statistic) is not None
        and thresholds.get(THRESHOLD_FIELDS[statistic])
        and (null_rate_votes if statistic in NULL_RATE_STATISTICS else distribution_votes)
    ]
    return max(ratios) if ratios else None
