"""Drift figures: what they draw is the report's numbers, checked against numpy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.drift.figures import (
    cumulative_shares,
    feature_figure,
    is_yes_no,
    over_time_figure,
    ranked,
)

THRESHOLDS = {"psi_threshold": 0.2, "ks_threshold": 0.1, "js_threshold": 0.1, "cramers_v_threshold": 0.1}


def histogram(baseline: np.ndarray, current: np.ndarray, edges: list[float]) -> dict:
    """Shares over the edges, bins closed on the left, open-ended at both ends (as the monitor counts)."""
    bins = [-np.inf, *edges, np.inf]
    shares = [np.histogram(values, bins=bins)[0] / values.size for values in (baseline, current)]
    return {"edges": [None, *edges, None], "baseline": list(shares[0]), "current": list(shares[1])}


def test_cumulative_shares_are_the_empirical_distribution_below_each_edge() -> None:
    rng = np.random.default_rng(1)
    baseline, current = rng.lognormal(3, 1, 5000), rng.lognormal(3.4, 1, 4000)
    edges = list(np.quantile(baseline, np.linspace(0.1, 0.9, 9)))
    xs, base, now = cumulative_shares(histogram(baseline, current, edges))
    assert xs == pytest.approx(edges)
    assert base == pytest.approx([(baseline < e).mean() for e in edges])
    assert now == pytest.approx([(current < e).mean() for e in edges])


def test_a_numeric_feature_is_drawn_as_cumulative_lines_at_its_edges() -> None:
    rng = np.random.default_rng(2)
    baseline, current = rng.normal(0, 1, 3000), rng.normal(0.5, 1, 3000)
    edges = list(np.quantile(baseline, [0.25, 0.5, 0.75]))
    result = {"type": "numeric", "histogram": histogram(baseline, current, edges), "ks": 0.2, "drifted": True}
    figure = feature_figure("x", result, THRESHOLDS)
    assert figure is not None
    (axes,) = figure.axes
    drawn = [line.get_xydata() for line in axes.get_lines()]
    assert drawn[0][:, 0] == pytest.approx(edges)
    assert "KS 0.20 (threshold 0.1)" in axes.get_title() and "drifted" in axes.get_title()


def test_a_yes_no_feature_is_drawn_as_two_bars_not_as_numeric_bins() -> None:
    values = pd.Series([0, 1, 1, 1])
    result = {"type": "numeric", "histogram": histogram(values.to_numpy(), values.to_numpy(), [0.0, 1.0]), "psi": 0.0}
    assert is_yes_no(result["histogram"])
    figure = feature_figure("card_present", result, THRESHOLDS)
    assert figure is not None
    (axes,) = figure.axes
    assert [label.get_text() for label in axes.get_yticklabels()] == ["0 (no)", "1 (yes)"]
    assert sorted(round(p.get_width(), 2) for p in axes.patches) == [0.25, 0.25, 0.75, 0.75]
    assert not is_yes_no({"edges": [None, 0.0, 1.0, 2.0, None]})


def test_a_categorical_feature_is_drawn_as_bars_per_category() -> None:
    result = {
        "type": "categorical",
        "histogram": {"categories": ["a", "b", "c"], "baseline": [0.5, 0.3, 0.2], "current": [0.2, 0.3, 0.5]},
        "psi": 0.55,
    }
    figure = feature_figure("c", result, THRESHOLDS)
    assert figure is not None
    assert [label.get_text() for label in figure.axes[0].get_yticklabels()] == ["a", "b", "c"]
    assert feature_figure("none", {"type": "numeric"}, THRESHOLDS) is None


def test_features_are_ranked_by_their_worst_statistic_over_its_threshold() -> None:
    report = {
        "thresholds": THRESHOLDS,
        "features": {
            "a": {"type": "numeric", "status": "ok", "psi": 0.1, "ks": 0.05},  # 0.5
            "b": {"type": "numeric", "status": "ok", "psi": 0.5, "ks": 0.3},  # 3.0 by KS
            "c": {"type": "categorical", "status": "ok", "psi": 0.3, "cramers_v": 0.05},  # 1.5 by PSI
            "d": {"type": "numeric", "status": "insufficient_data", "rows": 10, "ks": 0.9},
        },
    }
    assert [(name, statistic) for name, _, statistic in ranked(report)] == [("b", "ks"), ("c", "psi"), ("a", "psi")]


def test_drift_over_time_marks_exactly_the_drifted_cells() -> None:
    values = [[0.2, 1.0, 2.5, None], [0.9, 0.99, 1.01, 4.0]]
    figure = over_time_figure(["d1", "d2", "d3", "d4"], ["f1", "f2"], values)
    marks = [(round(t.get_position()[0]), round(t.get_position()[1])) for t in figure.axes[0].texts]
    assert sorted(marks) == [(1, 0), (2, 0), (2, 1), (3, 1)]


def test_a_figure_is_titled_with_the_statistic_furthest_past_its_threshold() -> None:
    """A categorical feature drifted on Cramér's V with PSI just under its threshold says so."""
    result = {
        "type": "categorical",
        "status": "ok",
        "histogram": {"categories": ["a", "b"], "baseline": [0.5, 0.5], "current": [0.6, 0.4]},
        "psi": 0.198,
        "cramers_v": 0.13,
        "drifted": True,
    }
    figure = feature_figure("merchant", result, THRESHOLDS)
    assert figure is not None
    assert figure.axes[0].get_title().endswith("CRAMERS_V 0.13 (threshold 0.1)")
