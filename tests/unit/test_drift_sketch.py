"""Mergeable window summaries (pipelines.drift.sketch) against the exact single-pass statistics:
counts, bins and moments merge exactly, KS equals the exact ECDF computation, Wasserstein lies
within the reported bound, and the verdicts do not depend on how the window was split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipelines.config import DriftSection
from pipelines.drift import statistics as st
from pipelines.drift.engine import (
    compare_categorical,
    compare_categorical_sketch,
    compare_numeric,
    compare_numeric_sketch,
)
from pipelines.drift.reference import CategoricalReference, NumericReference
from pipelines.drift.sketch import CategoricalSketch, NumericSketch, SketchMismatch, sketch_from_json

DRIFT = DriftSection()


def _reference(values: np.ndarray) -> NumericReference:
    return NumericReference.from_profile(NumericReference.from_values(values, DRIFT.numeric_bins).to_profile())


def _windows() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    base = rng.lognormal(3, 1, 50_000)
    with_nulls = rng.normal(0.2, 1.1, 30_000)
    with_nulls[rng.random(with_nulls.size) < 0.1] = np.nan
    return {
        "same distribution": (base, rng.lognormal(3, 1, 20_000)),
        "shifted": (base, rng.lognormal(3.3, 1, 20_000)),
        "outside the range": (rng.normal(0, 1, 20_000), rng.normal(8, 1, 5_000)),
        "nulls and ties": (np.round(rng.normal(0, 1, 40_000), 1), np.round(with_nulls, 1)),
        "few distinct values (exact reference)": (
            rng.integers(0, 30, 20_000).astype(float),
            rng.integers(5, 40, 9_000).astype(float),
        ),
    }


@pytest.mark.parametrize("case", list(_windows()))
def test_a_summary_gives_the_exact_counts_and_ks_and_wasserstein_within_its_bound(case: str) -> None:
    baseline, window = _windows()[case]
    reference = _reference(baseline)
    sketch = NumericSketch.of(reference, window)
    finite = np.sort(window[np.isfinite(window)])

    assert sketch.rows == window.size
    assert sketch.values == finite.size
    np.testing.assert_array_equal(sketch.bins, st.bin_counts(finite, reference.edges))
    assert sketch.inside[0] == int((finite < reference.minimum).sum())
    assert sketch.inside[-1] == int((finite > reference.maximum).sum())
    assert sketch.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert np.sqrt(sketch.m2 / sketch.values) == pytest.approx(finite.std(), rel=1e-9)

    ks, wasserstein, bound = sketch.distances(reference)
    exact_ks, exact_wasserstein = st.ecdf_distances(reference.support, reference.cdf, finite)
    assert ks == pytest.approx(exact_ks, abs=1e-12)
    assert abs(wasserstein - exact_wasserstein) <= bound + 1e-9 * max(1.0, exact_wasserstein)
    if reference.exact:  # against an exact reference KS is scipy's two-sample statistic
        assert ks == pytest.approx(stats.ks_2samp(baseline[np.isfinite(baseline)], finite).statistic, abs=1e-12)


def test_the_wasserstein_bound_is_small_against_the_threshold_on_real_shapes() -> None:
    baseline, window = _windows()["shifted"]
    reference = _reference(baseline)
    _, _, bound = NumericSketch.of(reference, window).distances(reference)
    assert 0 < bound / reference.std < 0.15 * DRIFT.wasserstein_threshold  # a lognormal's long tail


def test_quantiles_fall_within_the_gap_that_holds_them() -> None:
    baseline, window = _windows()["shifted"]
    reference = _reference(baseline)
    sketch = NumericSketch.of(reference, window)
    probabilities = np.asarray([0.01, 0.25, 0.5, 0.75, 0.99])
    estimated = sketch.quantiles(reference, probabilities)
    exact = np.quantile(window, probabilities)
    for q, e in zip(estimated, exact, strict=True):
        gap = np.searchsorted(reference.support, e)
        low = reference.support[gap - 1] if gap > 0 else sketch.minimum
        high = reference.support[gap] if gap < reference.support.size else sketch.maximum
        assert low - 1e-9 <= q <= high + 1e-9


@pytest.mark.parametrize("parts", [2, 4, 7])
def test_merged_parts_equal_one_summary_of_the_whole(parts: int) -> None:
    baseline, window = _windows()["nulls and ties"]
    reference = _reference(baseline)
    whole = NumericSketch.of(reference, window)
    pieces = [NumericSketch.of(reference, piece) for piece in np.array_split(window, parts)]
    merged = pieces[0]
    for piece in pieces[1:]:
        merged = merged.merge(piece)
    for name in ("bins", "at", "inside"):
        np.testing.assert_array_equal(getattr(merged, name), getattr(whole, name))
    np.testing.assert_allclose(merged.inside_sum, whole.inside_sum, rtol=1e-12, atol=1e-9)
    assert (merged.rows, merged.values, merged.minimum, merged.maximum) == (
        whole.rows,
        whole.values,
        whole.minimum,
        whole.maximum,
    )
    assert merged.mean == pytest.approx(whole.mean, rel=1e-12)
    assert merged.m2 == pytest.approx(whole.m2, rel=1e-9)
    one = compare_numeric_sketch(reference, whole, DRIFT)
    many = compare_numeric_sketch(reference, merged, DRIFT)
    assert one["breaches"] == many["breaches"]
    for statistic in ("psi", "ks", "js", "ood_share", "null_rate"):
        assert many[statistic] == pytest.approx(one[statistic], abs=1e-12)


def test_the_summary_verdict_equals_the_single_pass_verdict() -> None:
    for baseline, window in _windows().values():
        reference = _reference(baseline)
        exact = compare_numeric(reference, pd.Series(window), DRIFT)
        summary = compare_numeric_sketch(reference, NumericSketch.of(reference, window), DRIFT)
        assert summary["breaches"] == exact["breaches"]
        assert summary["status"] == exact["status"]
        assert summary["psi"] == pytest.approx(exact["psi"], abs=1e-9)


def test_categorical_summaries_merge_exactly_and_judge_as_the_values() -> None:
    rng = np.random.default_rng(3)
    reference = CategoricalReference.from_values(pd.Series(rng.choice(["a", "b", "c"], 10_000, p=[0.6, 0.3, 0.1])))
    window = pd.Series(rng.choice(["a", "b", "c", "new", None], 6_000, p=[0.4, 0.3, 0.1, 0.1, 0.1]))
    parts = [CategoricalSketch.of(window.iloc[i : i + 2_000]) for i in (0, 2_000, 4_000)]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    assert merged.to_json() == CategoricalSketch.of(window).to_json()
    exact = compare_categorical(reference, window, DRIFT)
    summary = compare_categorical_sketch(reference, merged, DRIFT)
    assert summary == exact


def test_summaries_round_trip_through_json_and_refuse_another_reference() -> None:
    baseline, window = _windows()["shifted"]
    reference = _reference(baseline)
    sketch = NumericSketch.of(reference, window)
    again = sketch_from_json(sketch.to_json())
    assert isinstance(again, NumericSketch)
    assert compare_numeric_sketch(reference, again, DRIFT) == compare_numeric_sketch(reference, sketch, DRIFT)
    other = NumericSketch.of(_reference(baseline[:50]), window)
    with pytest.raises(SketchMismatch, match="different references"):
        sketch.merge(other)
    with pytest.raises(SketchMismatch, match="numeric and a categorical"):
        from pipelines.drift.sketch import merge_sketches

        merge_sketches(sketch, CategoricalSketch.of(pd.Series(["a"])))


def test_a_report_from_merged_hour_profiles_equals_the_report_from_the_records(config, stream) -> None:  # type: ignore[no-untyped-def]
    """The monitor's path (profile each hour, merge, judge) against the whole window's records:
    the same statuses, breaches and exact statistics for every feature and the predictions."""
    from pipelines.drift import BaselineReference, drift_report
    from pipelines.drift.window import WindowProfile, merge_all
    from training_containers.profile import baseline_profile

    model = config.model
    frame = stream.rename(columns={model.time_column: "inference_time"})
    rng = np.random.default_rng(5)
    baseline = frame.iloc[:4_000]
    window = frame.iloc[4_000:10_000].assign(prediction=rng.random(6_000))
    window.loc[window.index[:2_500], "amount"] *= 1.6  # drift in part of the window
    reference = BaselineReference.from_profile(
        baseline_profile(baseline, config, predictions=rng.random(len(baseline)))
    )
    parts = (window.iloc[i : i + 1_200] for i in range(0, 6_000, 1_200))
    hours = [WindowProfile.of(reference, part, model.features, "b1") for part in parts]
    merged = merge_all(hours, "b1")
    arguments = {"model": "m", "label": None, "positive_class": 1, "decision_threshold": 0.5}
    from_records = drift_report(reference, window, model.features, config.drift, **arguments)
    from_profiles = drift_report(reference, merged, model.features, config.drift, **arguments)
    assert from_profiles["summary"] == from_records["summary"]
    assert from_profiles["window"]["rows"] == len(window)
    for name, exact in [*from_records["features"].items(), ("prediction", from_records["prediction"])]:
        summarised = from_profiles["features"].get(name, from_profiles["prediction"])
        assert (summarised["status"], summarised["breaches"]) == (exact["status"], exact["breaches"]), name
        for statistic in ("psi", "js", "ood_share", "null_rate", "chi2", "cramers_v"):
            if exact.get(statistic) is not None:
                # the records' path sorts float32 values against a compressed reference (engine._sorted_window)
                assert summarised[statistic] == pytest.approx(exact[statistic], abs=1e-4), (name, statistic)
    assert from_records["summary"]["drifted_features"]  # the test would be empty without a drifted feature
    with pytest.raises(SketchMismatch, match="baselines b1 and b2"):
        merged.merge(WindowProfile.of(reference, window, model.features, "b2"))
    assert WindowProfile.from_json(merged.to_json()).to_json() == merged.to_json()


def test_a_baseline_is_the_summary_of_its_own_values_on_its_grid() -> None:
    """The champion's baseline and a window summary are one type: a reference's own values, laid
    on its grid, give the reference back (bins, ECDF points, moments, range)."""
    for baseline, _ in _windows().values():
        reference = _reference(baseline)
        again = NumericSketch.of(reference, baseline).as_reference(reference)
        assert (again.rows, again.values, again.minimum, again.maximum) == (
            reference.rows,
            reference.values,
            reference.minimum,
            reference.maximum,
        )
        np.testing.assert_allclose(again.shares, reference.shares, rtol=0, atol=1e-15)
        np.testing.assert_array_equal(again.support, reference.support)
        np.testing.assert_allclose(again.cdf, reference.cdf, rtol=0, atol=1e-15)
        assert again.mean == pytest.approx(reference.mean, rel=1e-12)
        assert again.std == pytest.approx(reference.std, rel=1e-9)


def test_traffic_merged_from_its_hours_serves_as_the_reference_of_later_windows() -> None:
    """A baseline made of merged hour profiles judges a later window as the same values' own
    reference on that grid does: the same verdicts, the same exact statistics."""
    rng = np.random.default_rng(11)
    grid = _reference(rng.lognormal(3, 1, 30_000))
    traffic = rng.lognormal(3.05, 1.05, 60_000)
    hours = [NumericSketch.of(grid, part) for part in np.array_split(traffic, 6)]
    merged = hours[0]
    for hour in hours[1:]:
        merged = merged.merge(hour)
    from_hours = merged.as_reference(grid)
    from_values = NumericSketch.of(grid, traffic).as_reference(grid)
    later = rng.lognormal(3.4, 1.0, 8_000)
    first = compare_numeric_sketch(from_hours, NumericSketch.of(from_hours, later), DRIFT)
    second = compare_numeric_sketch(from_values, NumericSketch.of(from_values, later), DRIFT)
    assert first["breaches"] == second["breaches"] and first["breaches"]
    for statistic in ("psi", "ks", "js", "ood_share"):
        assert first[statistic] == pytest.approx(second[statistic], abs=1e-12)
    # and against the exact ECDF of the traffic, KS is within one grid step of the traffic's ECDF
    exact, _ = st.ecdf_distances(*_exact_ecdf(traffic), np.sort(later))
    assert abs(first["ks"] - exact) <= np.diff(from_hours.cdf).max() + 1e-12  # the grid's largest step


def _exact_ecdf(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    support, counts = np.unique(values, return_counts=True)
    return support, np.cumsum(counts) / values.size
