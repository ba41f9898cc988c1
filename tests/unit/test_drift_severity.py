"""A feature's drift severity: its worst statistic relative to that statistic's threshold."""

from __future__ import annotations

import pytest

from pipelines.drift.verdict import severity

THRESHOLDS = {"psi_threshold": 0.2, "ks_threshold": 0.1, "js_threshold": 0.1, "cramers_v_threshold": 0.1}


def test_the_worst_statistic_relative_to_its_own_threshold_names_it() -> None:
    # PSI is the larger number, KS the larger share of its threshold
    assert severity(
        {"type": "numeric", "status": "ok", "psi": 0.3, "ks": 0.25, "js": 0.05}, THRESHOLDS
    ) == pytest.approx((2.5, "ks"))
    assert severity({"type": "numeric", "status": "ok", "psi": 0.1, "ks": 0.02}, THRESHOLDS) == pytest.approx(
        (0.5, "psi")
    )


def test_only_the_statistics_of_the_features_kind_count() -> None:
    # a categorical feature has no KS; Cramér's V counts for it and not for a numeric one
    categorical = {"type": "categorical", "status": "ok", "ks": 0.9, "psi": 0.02, "cramers_v": 0.15}
    assert severity(categorical, THRESHOLDS) == pytest.approx((1.5, "cramers_v"))
    assert severity({"type": "numeric", "status": "ok", "psi": 0.02, "cramers_v": 0.9}, THRESHOLDS) == pytest.approx(
        (0.1, "psi")
    )


def test_a_feature_without_statistics_has_no_severity() -> None:
    assert severity({"type": "numeric", "status": "ok"}, THRESHOLDS) is None


def test_statistics_that_do_not_vote_do_not_count() -> None:
    """As the verdict: on a window with too few values the distribution statistics are shown but
    do not vote (`breaches`); the null-rate increase still does once the window has enough rows."""
    thresholds = {**THRESHOLDS, "null_rate_increase_threshold": 0.1, "min_window_rows": 100}
    few = {"type": "numeric", "status": "insufficient_data", "rows": 40, "ks": 0.5, "null_rate_increase": 0.02}
    assert severity(few, thresholds) is None
    enough_rows = {**few, "rows": 150}
    assert severity(enough_rows, thresholds) == pytest.approx((0.2, "null_rate_increase"))
