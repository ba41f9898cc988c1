"""The per-feature engine: verdicts on known shifts, and defined results on every edge case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.config import DriftSection, Feature, FeatureType, ModelConfig
from pipelines.drift import BaselineReference, compare_frames
from pipelines.drift.engine import compare_features, feature_types_from
from pipelines.drift.reference import CategoricalReference, NumericReference
from pipelines.simulation.datagen import StreamSpec, generate

DRIFT = DriftSection()
NUMERIC = Feature(name="x", type=FeatureType.numeric)
CATEGORICAL = Feature(name="c", type=FeatureType.categorical)


def compare(reference: pd.DataFrame, current: pd.DataFrame, drift: DriftSection = DRIFT) -> dict:
    features = [f for f in (NUMERIC, CATEGORICAL) if f.name in reference.columns]
    baseline = BaselineReference.from_frame(reference, features, bins=drift.numeric_bins)
    results, problems = compare_features(baseline, current, features, drift, workers=2)
    return {"features": results, "problems": problems}


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(10, 2, 5000), "c": rng.choice(["a", "b", "c"], 5000, p=[0.5, 0.3, 0.2])})


def test_unchanged_window_is_not_drifted(reference: pd.DataFrame) -> None:
    rng = np.random.default_rng(1)
    current = pd.DataFrame({"x": rng.normal(10, 2, 3000), "c": rng.choice(["a", "b", "c"], 3000, p=[0.5, 0.3, 0.2])})
    result = compare(reference, current)["features"]
    assert result["x"]["status"] == "ok" and not result["x"]["drifted"]
    assert result["c"]["status"] == "ok" and not result["c"]["drifted"]
    assert result["x"]["ks"] < 0.05 and result["c"]["cramers_v"] < 0.05


def test_location_shift_and_spread_change_are_drifted(reference: pd.DataFrame) -> None:
    rng = np.random.default_rng(2)
    shifted = compare(reference, pd.DataFrame({"x": rng.normal(10.4, 2, 3000)}))["features"]["x"]
    spread = compare(reference, pd.DataFrame({"x": rng.normal(10, 2.8, 3000)}))["features"]["x"]
    assert "wasserstein" in shifted["breaches"] and shifted["wasserstein"] == pytest.approx(0.2, abs=0.05)
    assert spread["drifted"] and spread["wasserstein"] > 0.1


def test_constant_column_against_itself_and_a_moved_constant() -> None:
    reference = pd.DataFrame({"x": np.full(500, 3.0)})
    same = compare(reference, pd.DataFrame({"x": np.full(200, 3.0)}))["features"]["x"]
    moved = compare(reference, pd.DataFrame({"x": np.full(200, 4.0)}))["features"]["x"]
    assert same["status"] == "ok" and not same["drifted"]
    assert (same["psi"], same["ks"], same["wasserstein"], same["js"], same["ood_share"]) == (0.0, 0.0, 0.0, 0.0, 0.0)
    # A constant reference has no spread: Wasserstein falls back to raw units (documented).
    assert moved["ks"] == 1.0 and moved["wasserstein"] == 1.0 and moved["ood_share"] == 1.0 and moved["drifted"]


def test_constant_baseline_whose_std_is_rounding_noise_measures_wasserstein_in_raw_units() -> None:
    # Elec2's vicprice is 0.003467 for its first 17,000 rows: pandas gives that column a std of
    # about 4e-19, and dividing by it reported a Wasserstein distance of 1e15.
    reference = pd.DataFrame({"x": np.full(1344, 0.003467)})
    assert reference["x"].std() > 0
    moved = compare(reference, pd.DataFrame({"x": np.full(336, 0.203467)}))["features"]["x"]
    assert moved["wasserstein_raw"] == pytest.approx(0.2)
    assert moved["wasserstein"] == pytest.approx(0.2)


def test_all_null_current_column_is_drifted_on_its_null_rate(reference: pd.DataFrame) -> None:
    current = pd.DataFrame({"x": np.full(300, np.nan), "c": pd.Series([None] * 300, dtype="object")})
    result = compare(reference, current)["features"]
    for name in ("x", "c"):
        assert result[name]["status"] == "no_values"
        assert result[name]["null_rate"] == 1.0 and result[name]["psi"] is None
        assert result[name]["breaches"] == ["null_rate_increase"] and result[name]["drifted"]


def test_all_null_reference_column_has_no_baseline() -> None:
    reference = pd.DataFrame({"x": np.full(100, np.nan)})
    result = compare(reference, pd.DataFrame({"x": np.arange(200.0)}))["features"]["x"]
    assert result["status"] == "no_baseline" and not result["drifted"] and result["ks"] is None


def test_empty_window_gives_empty_status_not_a_crash(reference: pd.DataFrame) -> None:
    current = pd.DataFrame({"x": pd.Series([], dtype="float64"), "c": pd.Series([], dtype="object")})
    result = compare(reference, current)["features"]
    for name in ("x", "c"):
        assert result[name]["status"] == "empty" and result[name]["rows"] == 0
        assert result[name]["null_rate"] is None and not result[name]["drifted"]


def test_single_row_computes_statistics_but_withholds_the_verdict(reference: pd.DataFrame) -> None:
    result = compare(reference, pd.DataFrame({"x": [100.0], "c": ["zzz"]}))["features"]
    assert result["x"]["status"] == "insufficient_data" and result["x"]["ks"] is not None
    assert result["x"]["ood_share"] == 1.0 and not result["x"]["drifted"]
    assert result["c"]["status"] == "insufficient_data" and not result["c"]["drifted"]


def test_unseen_category_counts_as_out_of_distribution(reference: pd.DataFrame) -> None:
    rng = np.random.default_rng(3)
    values = rng.choice(["a", "b", "c", "new"], 2000, p=[0.45, 0.27, 0.18, 0.10])
    result = compare(reference, pd.DataFrame({"c": values}))["features"]["c"]
    assert result["ood_share"] == pytest.approx((values == "new").mean())
    assert result["unseen_categories"][0]["category"] == "new"
    assert np.isfinite(result["psi"]) and "ood_share" in result["breaches"]
    assert result["histogram"]["categories"] == ["a", "b", "c", "new"]
    assert result["histogram"]["baseline"][-1] == 0.0


def test_missing_feature_is_a_schema_problem(reference: pd.DataFrame) -> None:
    outcome = compare(reference, pd.DataFrame({"x": np.arange(500.0)}))
    assert outcome["features"]["c"]["status"] == "missing" and not outcome["features"]["c"]["drifted"]
    assert outcome["features"]["c"]["psi"] is None
    assert outcome["problems"] == [{"feature": "c", "problem": "missing from the current window"}]


def test_text_in_a_numeric_column_is_reported_and_read_as_null(reference: pd.DataFrame) -> None:
    current = pd.DataFrame({"x": pd.Series(["10.5", "oops", "9.1"] * 100, dtype="object")})
    outcome = compare(reference, current)
    assert outcome["features"]["x"]["invalid_values"] == 100
    assert outcome["features"]["x"]["null_rate"] == pytest.approx(1 / 3)
    assert {"feature": "x", "problem": "100 values are not numbers (read as null)"} in outcome["problems"]
    one = compare(reference, pd.DataFrame({"x": pd.Series(["oops", *["9.1"] * 299], dtype="object")}))
    assert {"feature": "x", "problem": "1 value is not a number (read as null)"} in one["problems"]


def test_p_values_are_holm_adjusted_across_features(reference: pd.DataFrame) -> None:
    rng = np.random.default_rng(4)
    current = pd.DataFrame({"x": rng.normal(10, 2, 1000), "c": rng.choice(["a", "b", "c"], 1000, p=[0.5, 0.3, 0.2])})
    result = compare(reference, current)["features"]
    raw = sorted([result["x"]["ks_p_value"], result["c"]["chi2_p_value"]])
    adjusted = sorted([result["x"]["ks_p_value_adjusted"], result["c"]["chi2_p_value_adjusted"]])
    assert adjusted[0] == pytest.approx(min(1.0, 2 * raw[0]))


def test_profile_round_trip_keeps_results(reference: pd.DataFrame) -> None:
    numeric = NumericReference.from_values(reference["x"], 10)
    categorical = CategoricalReference.from_values(reference["c"])
    restored = NumericReference.from_profile(numeric.to_profile())
    assert restored.edges.tolist() == numeric.edges.tolist() and restored.shares.tolist() == numeric.shares.tolist()
    assert (restored.mean, restored.std, restored.values) == (numeric.mean, numeric.std, numeric.values)
    again = CategoricalReference.from_profile(categorical.to_profile())
    assert again.categories == ("a", "b", "c") and again.counts.tolist() == categorical.counts.tolist()


def test_version_one_profile_is_still_read() -> None:
    entry = {
        "type": "numeric",
        "count": 4,
        "null_rate": 0.0,
        "edges": [None, 2.0, None],
        "shares": [0.25, 0.75],
        "min": 1.0,
        "max": 3.0,
        "mean": 2.25,
        "std": 0.83,
        "sample": [3.0, 1.0, 2.0, 3.0],
    }
    restored = NumericReference.from_profile(entry)
    assert restored.support.tolist() == [1.0, 2.0, 3.0] and restored.cdf.tolist() == [0.25, 0.5, 1.0]
    assert restored.exact and restored.values == 4


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("none", set()),
        ("covariate", {"amount", "distance_from_home_km", "merchant_category", "device_trust"}),
        ("subtle", {"device_trust"}),
    ],
)
def test_fraud_scenarios_flag_exactly_the_shifted_features(config: ModelConfig, scenario: str, expected: set) -> None:
    reference = generate(StreamSpec(rows=30_000, seed=1))
    current = generate(StreamSpec(rows=10_000, seed=2, scenario=scenario))
    report = compare_frames(reference, current, config, workers=2)
    assert set(report["summary"]["drifted_features"]) == expected
    assert report["summary"]["drift_detected"] == (len(expected) >= config.drift.min_drifted_features)
    assert not report["schema_problems"]


def test_inferred_features_leave_out_times_and_identifiers_only() -> None:
    """Without a config, a CSV's time column and a text identifier are not features. A reviewer
    found the first rule crashing on local times across a daylight-saving change and the second
    dropping a numeric column with one stray word, and a high-cardinality category that happened
    to be all distinct in a small reference."""
    rows = 1_200
    rng = np.random.default_rng(0)
    amounts = pd.Series(rng.gamma(2.0, 50.0, rows).round(2), dtype="object")
    amounts.iloc[7] = "unknown"
    frame = pd.DataFrame(
        {
            "local_time": ["2026-03-28T23:00:00+01:00"] * (rows // 2) + ["2026-03-29T04:00:00+02:00"] * (rows // 2),
            "utc_or_naive": ["2026-01-01T00:00:00Z", "2026-01-01T01:00:00"] * (rows // 2),
            "order_id": [f"o-{i:06d}" for i in range(rows)],
            "amount": amounts,
            "zip": [f"{z:05d}" for z in rng.choice(100_000, rows, replace=False)],
            "store": [f"store-{s}" for s in rng.choice(50_000, rows, replace=False)],
            "merchant": rng.choice(["a", "b", "c"], rows),
        }
    )
    features, skipped = feature_types_from(frame)
    assert skipped == {
        "local_time": "timestamps",
        "utc_or_naive": "timestamps",
        "order_id": "every value distinct: an identifier or free text",
        "store": "every value distinct: an identifier or free text",  # 1,200 distinct: no frequency to compare
    }
    kinds = {f.name: f.type.value for f in features}
    # amount's one word is a schema problem later; zip codes written as digits read as numbers, as a CSV reads them
    assert kinds == {"amount": "numeric", "zip": "numeric", "merchant": "categorical"}
    # a varied category in a small reference, all distinct by chance, stays a feature
    small, _ = feature_types_from(frame.iloc[:400])
    assert {"store", "order_id"} <= {f.name for f in small}


def test_inferred_features_leave_out_integer_counters() -> None:
    """A new user's machine-failure table kept its row number (UDI, 1..N) as a feature without a
    config: every current value lay beyond the reference's, so it "drifted" in every window. An
    integer column whose every value is distinct and that counts (in order, or a dense run of
    numbers however shuffled) is a row number, a sequential id or an epoch time; distinct integers
    that do neither (balances in cents) stay a feature. A reviewer found epoch seconds with
    repeats, ids read as floats (a blank cell) and ids written as text kept as features."""
    rows = 1_200
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "udi": np.arange(1, rows + 1),
            "shuffled_row": rng.permutation(rows),
            "epoch_seconds": 1_767_225_600 + np.cumsum(rng.integers(1, 600, rows)),
            "balance_cents": rng.choice(10_000_000, rows, replace=False),
            "torque": rng.normal(40, 10, rows),
        }
    )
    ids_with_a_blank = np.arange(rows, dtype=np.float64)
    ids_with_a_blank[7] = np.nan  # a CSV column with one empty cell reads as floats
    frame = frame.assign(
        busy_epoch=1_767_225_600 + np.sort(rng.integers(0, rows, rows)),  # an event a second: a third repeat
        float_id=ids_with_a_blank,
        text_id=[str(i) for i in range(100, 100 + rows)],
    )
    features, skipped = feature_types_from(frame)
    counter = "counting: a row number, sequential id or epoch time"
    assert skipped == {
        name: counter for name in ("udi", "shuffled_row", "epoch_seconds", "busy_epoch", "float_id", "text_id")
    }
    assert {f.name for f in features} == {"balance_cents", "torque"}
    # a small reference counts by chance more easily: below the identifier rows it stays a feature
    small, _ = feature_types_from(frame.iloc[:400])
    assert "udi" in {f.name for f in small}
