"""Drift statistics against scipy and against plain reference implementations written here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from scipy.stats.contingency import association

from pipelines.drift import statistics as st
from pipelines.drift.reference import GRID_POINTS, NumericReference


def plain_psi(reference: list[float], current: list[float], floor: float = 1e-4) -> float:
    ref = [max(r, floor) for r in reference]
    cur = [max(c, floor) for c in current]
    ref = [r / sum(ref) for r in ref]
    cur = [c / sum(cur) for c in cur]
    return sum((c - r) * math.log(c / r) for r, c in zip(ref, cur, strict=True))


def plain_js(p: list[float], q: list[float]) -> float:
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]
    kl_p = sum(a * math.log2(a / c) for a, c in zip(p, m, strict=True) if a > 0)
    kl_q = sum(b * math.log2(b / c) for b, c in zip(q, m, strict=True) if b > 0)
    return math.sqrt((kl_p + kl_q) / 2)


def ks_wasserstein(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    built = NumericReference.from_values(reference, bins=10)
    return st.ecdf_distances(built.support, built.cdf, np.sort(current))


SAMPLES = [
    # (seed, reference size, current size, rounding that creates ties or None)
    (0, 200, 300, None),
    (1, 1000, 50, None),
    (2, 5000, 5000, 1),
    (3, 37, 4000, 0),
    (4, 1, 10, None),
    (5, 10, 1, None),
]


@pytest.mark.parametrize(("seed", "n", "m", "decimals"), SAMPLES)
def test_ks_and_wasserstein_match_scipy(seed: int, n: int, m: int, decimals: int | None) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.normal(0, 1, n)
    current = rng.standard_t(4, m) * 1.3 + 0.2
    if decimals is not None:
        reference, current = np.round(reference, decimals), np.round(current, decimals)

    ks, wasserstein = ks_wasserstein(reference, current)

    assert ks == pytest.approx(stats.ks_2samp(reference, current).statistic, abs=1e-9)
    assert wasserstein == pytest.approx(stats.wasserstein_distance(reference, current), abs=1e-9)


@pytest.mark.parametrize("path", [st._gap_distances, st._merged_distances])
def test_both_computations_match_scipy_on_small_tied_samples(path: object) -> None:
    # Many tiny samples with heavy ties: reference points equal to, between, before and after
    # the sample's values, and samples of one value.
    rng = np.random.default_rng(21)
    for _ in range(400):
        reference = np.round(rng.normal(0, 2, int(rng.integers(1, 30))))
        current = np.round(rng.normal(rng.normal(), 2, int(rng.integers(1, 30))))
        built = NumericReference.from_values(reference, bins=10)
        ks, wasserstein = path(built.support, built.cdf, np.sort(current))  # type: ignore[operator]
        assert ks == pytest.approx(stats.ks_2samp(reference, current).statistic, abs=1e-9)
        assert wasserstein == pytest.approx(stats.wasserstein_distance(reference, current), abs=1e-9)


def test_ks_and_wasserstein_match_scipy_through_a_stored_profile() -> None:
    # GIVEN a reference with fewer distinct values than the grid: the profile keeps it exactly
    rng = np.random.default_rng(11)
    reference = np.round(rng.gamma(2.0, 3.0, 20_000), 1)
    current = np.round(rng.gamma(2.2, 3.0, 7_000), 1)
    stored = NumericReference.from_profile(NumericReference.from_values(reference, 10).to_profile())
    assert stored.exact

    ks, wasserstein = st.ecdf_distances(stored.support, stored.cdf, np.sort(current))

    assert ks == pytest.approx(stats.ks_2samp(reference, current).statistic, abs=1e-9)
    assert wasserstein == pytest.approx(stats.wasserstein_distance(reference, current), abs=1e-9)


def test_compressed_profile_stays_within_its_documented_bound() -> None:
    rng = np.random.default_rng(12)
    reference = rng.lognormal(3, 0.9, 200_000)
    current = np.sort(rng.lognormal(3.05, 0.95, 100_000))
    exact = NumericReference.from_values(reference, 10)
    stored = NumericReference.from_profile(exact.to_profile())
    assert not stored.exact and stored.support.size <= GRID_POINTS + 10

    ks_exact, w_exact = st.ecdf_distances(exact.support, exact.cdf, current)
    ks_stored, w_stored = st.ecdf_distances(stored.support, stored.cdf, current)

    assert abs(ks_stored - ks_exact) <= 1 / GRID_POINTS
    assert abs(w_stored - w_exact) / exact.std < 0.005  # normalised Wasserstein, threshold 0.1


@pytest.mark.parametrize("seed", range(5))
def test_psi_matches_the_plain_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.dirichlet(np.ones(10))
    current = rng.dirichlet(np.ones(10))
    current[seed] = 0.0  # an empty bin on one side
    current /= current.sum()

    assert st.psi(reference, current) == pytest.approx(plain_psi(list(reference), list(current)), rel=1e-12)


def test_psi_is_zero_for_identical_shares_and_symmetric() -> None:
    shares = np.asarray([0.1, 0.2, 0.7])
    other = np.asarray([0.3, 0.3, 0.4])
    assert st.psi(shares, shares) == 0.0
    assert st.psi(shares, other) == pytest.approx(st.psi(other, shares))


@pytest.mark.parametrize("seed", range(5))
def test_js_distance_matches_the_plain_definition_and_scipy(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    p = rng.dirichlet(np.ones(8))
    q = rng.dirichlet(np.ones(8))
    q[0] = 0.0
    q /= q.sum()

    value = st.js_distance(p, q)

    assert value == pytest.approx(plain_js(list(p), list(q)), rel=1e-12)
    assert value == pytest.approx(jensenshannon(p, q, base=2), rel=1e-9)


def test_js_distance_is_one_for_disjoint_supports() -> None:
    assert st.js_distance(np.asarray([1.0, 0.0]), np.asarray([0.0, 1.0])) == pytest.approx(1.0)


def test_bin_counts_follow_numpy_histogram() -> None:
    rng = np.random.default_rng(3)
    values = np.round(rng.normal(size=10_000), 1)
    edges = np.asarray([-np.inf, -1.0, -0.3, 0.0, 0.3, 1.0, np.inf])
    assert st.bin_counts(np.sort(values), edges).tolist() == np.histogram(values, bins=edges)[0].tolist()


def test_chi2_matches_scipy_contingency() -> None:
    reference = np.asarray([500, 300, 150, 50, 0])
    current = np.asarray([80, 70, 30, 15, 5])
    statistic, dof, p_value = st.chi2_two_sample(reference, current)
    expected = stats.chi2_contingency(np.vstack([reference, current]), correction=False)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert dof == expected.dof
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_cramers_v_equals_scipy_on_an_equal_size_table() -> None:
    reference = np.asarray([0.5, 0.3, 0.15, 0.05, 0.0])
    current = np.asarray([0.4, 0.35, 0.15, 0.05, 0.05])
    table = np.rint(np.vstack([reference, current]) * 10_000).astype(np.int64)
    v = association(table[:, table.sum(axis=0) > 0], method="cramer")
    assert st.cramers_v_equal_size(reference, current) == pytest.approx(v)
    assert st.cramers_v_equal_size(np.asarray([1.0, 0.0]), np.asarray([0.0, 1.0])) == pytest.approx(1.0)


def test_cohens_h_hand_value() -> None:
    # 2 asin(sqrt(.04)) - 2 asin(sqrt(.02)) = 0.402716 - 0.283794
    assert st.cohens_h(0.02, 0.04) == pytest.approx(0.1189225, abs=1e-6)


def test_holm_adjustment_hand_values() -> None:
    # sorted: .01*3=.03, .02*2=.04, .04*1=.04 (monotone), returned in input order
    assert st.holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert st.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert st.holm([]) == []


def test_ks_p_value_matches_scipy_asymptotic_mode() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=3000), rng.normal(0.05, 1, 2000)
    expected = stats.ks_2samp(a, b, method="asymp")
    assert st.ks_p_value(expected.statistic, a.size, b.size) == pytest.approx(expected.pvalue, rel=1e-9)


def test_ks_p_value_for_large_samples_uses_the_limiting_distribution() -> None:
    expected = stats.kstwo.sf(0.003, 500_000)
    assert st.ks_p_value(0.003, 1_000_000, 1_000_000) == pytest.approx(expected, abs=1e-3)


def test_sorted_quantiles_match_numpy() -> None:
    values = np.sort(np.random.default_rng(6).normal(size=1001))
    probabilities = np.asarray([0.0, 0.01, 0.5, 0.975, 1.0])
    assert st.sorted_quantiles(values, probabilities) == pytest.approx(np.quantile(values, probabilities))


def test_a_statistic_exactly_at_its_threshold_votes_and_each_kind_votes_only_when_allowed() -> None:
    """The verdict's rule: drifted at >= the threshold; the null-rate increase votes on its own
    switch, the distribution statistics on theirs."""
    from pipelines.config import DriftSection
    from pipelines.drift.verdict import breaches

    drift = DriftSection()
    at = {"psi": drift.psi_threshold, "null_rate_increase": drift.null_rate_increase_threshold}
    assert breaches(at, "numeric", drift, distribution_votes=True, null_rate_votes=True) == [
        "psi",
        "null_rate_increase",
    ]
    below = {"psi": drift.psi_threshold - 1e-9, "null_rate_increase": drift.null_rate_increase_threshold - 1e-9}
    assert breaches(below, "numeric", drift, distribution_votes=True, null_rate_votes=True) == []
    assert breaches(at, "numeric", drift, distribution_votes=True, null_rate_votes=False) == ["psi"]
    assert breaches(at, "numeric", drift, distribution_votes=False, null_rate_votes=True) == ["null_rate_increase"]


def test_js_distance_normalises_counts_itself() -> None:
    p, q = np.asarray([30.0, 50.0, 20.0]), np.asarray([5.0, 5.0, 10.0])
    assert st.js_distance(p, q) == pytest.approx(jensenshannon(p / p.sum(), q / q.sum(), base=2), rel=1e-9)


def test_chi2_drops_empty_categories_and_gives_up_without_two_of_them_or_one_side() -> None:
    reference, current = np.asarray([500, 300, 1, 0]), np.asarray([80, 70, 0, 0])  # a category seen once
    statistic, dof, p_value = st.chi2_two_sample(reference, current)
    expected = stats.chi2_contingency(np.vstack([reference[:3], current[:3]]), correction=False)
    assert (statistic, dof, p_value) == (pytest.approx(expected.statistic), 2, pytest.approx(expected.pvalue))
    two = stats.chi2_contingency(np.asarray([[5, 5], [1, 0]]), correction=False)  # one row sums to 1
    assert st.chi2_two_sample(np.asarray([5, 5]), np.asarray([1, 0]))[:2] == (pytest.approx(two.statistic), 1)
    assert st.chi2_two_sample(np.asarray([7, 0]), np.asarray([3, 0])) == (0.0, 0, 1.0)  # one category
    assert st.chi2_two_sample(np.asarray([5, 3, 0]), np.asarray([0, 0, 0])) == (0.0, 1, 1.0)  # no current rows


def test_cramers_v_ignores_categories_neither_side_holds() -> None:
    reference, current = np.asarray([0.5, 0.5, 0.0]), np.asarray([0.25, 0.75, 0.0])
    assert st.cramers_v_equal_size(reference, current) == pytest.approx(
        st.cramers_v_equal_size(reference[:2], current[:2])
    )
    assert np.isfinite(st.cramers_v_equal_size(reference, current))


def test_sorted_quantiles_interpolate_between_neighbours() -> None:
    values = np.sort(np.random.default_rng(7).normal(size=1000))  # positions fall between samples
    probabilities = np.asarray([0.0, 0.0015, 0.3337, 0.999, 1.0])
    assert st.sorted_quantiles(values, probabilities) == pytest.approx(np.quantile(values, probabilities))


def test_a_constant_sample_against_the_same_constant_reference_is_at_distance_zero() -> None:
    """Every merged point equal: no step rises, and both distances are 0 (scipy agrees)."""
    support, cdf = np.array([3.0]), np.array([1.0])
    current = np.full(5, 3.0)  # merged path: the reference is not 8 times smaller
    assert st.ecdf_distances(support, cdf, current) == (0.0, 0.0)
    assert stats.ks_2samp(np.full(4, 3.0), current).statistic == 0.0


def test_ks_p_value_switches_to_the_limit_distribution_exactly_at_the_limit() -> None:
    """At an effective size of exactly KS_LIMIT_FROM the limiting distribution answers; below it
    scipy's one-sample distribution at the rounded effective size."""
    n = 2 * st.KS_LIMIT_FROM  # n * n / (n + n) == KS_LIMIT_FROM
    d = 0.012
    assert st.ks_p_value(d, n, n) == float(stats.kstwobign.sf(d * math.sqrt(st.KS_LIMIT_FROM)))
    below = n - 2
    effective = below * below / (2 * below)
    assert st.ks_p_value(d, below, below) == float(stats.kstwo.sf(d, np.round(effective)))
