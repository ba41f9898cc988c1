"""The example data generator: seeded, documented rates, and scenarios that really shift."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipelines.simulation.datagen import StreamSpec, generate


def test_same_seed_same_rows() -> None:
    a = generate(StreamSpec(rows=5000, seed=5))
    b = generate(StreamSpec(rows=5000, seed=5))
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(generate(StreamSpec(rows=5000, seed=6)))


def test_documented_rates() -> None:
    frame = generate(StreamSpec(rows=100_000, seed=1))
    assert frame["is_fraud"].mean() == pytest.approx(0.02, abs=0.003)
    assert (frame["risk_band"] == "high").mean() == pytest.approx(0.08, abs=0.02)
    fraud_in_high = frame.loc[frame["is_fraud"] == 1, "risk_band"].eq("high").mean()
    assert fraud_in_high > 0.5
    assert frame["event_time"].is_monotonic_increasing
    assert frame["transaction_id"].is_unique


def test_covariate_shift_moves_amounts_after_drift_start_only() -> None:
    spec = StreamSpec(rows=40_000, days=40, seed=2, scenario="covariate", drift_start="2026-01-21")
    frame = generate(spec)
    before = frame[frame["event_time"] < "2026-01-21"]["amount"].median()
    after = frame[frame["event_time"] >= "2026-01-21"]["amount"].median()
    assert after / before == pytest.approx(2.5, rel=0.1)


def test_label_shift_doubles_fraud_rate() -> None:
    frame = generate(StreamSpec(rows=60_000, days=60, seed=4, scenario="label_shift", drift_start="2026-01-31"))
    late = frame[frame["event_time"] >= "2026-01-31"]["is_fraud"].mean()
    early = frame[frame["event_time"] < "2026-01-31"]["is_fraud"].mean()
    assert late / early == pytest.approx(2.0, rel=0.2)


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'holiday'"):
        generate(StreamSpec(rows=10, scenario=("seasonal", "holiday")))  # type: ignore[arg-type]


def test_two_ways_of_redrawing_fraud_are_refused_together() -> None:
    with pytest.raises(ValueError, match="combines concept"):
        generate(StreamSpec(rows=10, scenario=("mixed", "card_testing")))


def test_seasonal_drift_moves_legitimate_spending_only_and_composes_with_card_testing() -> None:
    spec = StreamSpec(rows=60_000, days=40, seed=9, scenario=("card_testing", "seasonal"), drift_start="2026-01-21")
    frame = generate(spec)
    after = frame["event_time"] >= pd.Timestamp("2026-01-21")
    fraud = frame["is_fraud"].eq(1)
    legit_before, legit_after = frame[~after & ~fraud], frame[after & ~fraud]
    assert legit_after["distance_from_home_km"].median() < 0.5 * legit_before["distance_from_home_km"].median()
    assert legit_after["card_present"].mean() == pytest.approx(0.85, abs=0.02)
    assert legit_before["card_present"].mean() == pytest.approx(0.6, abs=0.02)
    assert (legit_after["merchant_category"] == "grocery").mean() > 1.3 * (
        legit_before["merchant_category"] == "grocery"
    ).mean()
    # fraud outside the card tests keeps its profile: the same distances as before the drift point
    tiny = frame["amount"].lt(3) & frame["merchant_category"].eq("online") & frame["card_present"].eq(0)
    other_fraud_after = frame[after & fraud & ~tiny]["distance_from_home_km"].median()
    assert other_fraud_after == pytest.approx(frame[~after & fraud]["distance_from_home_km"].median(), rel=0.25)
    assert (tiny & fraud & after).sum() / (fraud & after).sum() == pytest.approx(spec.concept_share, abs=0.06)


def test_mixed_scenario_shifts_features_and_hides_fraud() -> None:
    spec = StreamSpec(rows=40_000, days=40, seed=5, scenario="mixed", drift_start="2026-01-21", concept_share=0.9)
    frame = generate(spec)
    after = frame["event_time"] >= pd.Timestamp("2026-01-21")
    assert frame.loc[after, "amount"].median() > 2 * frame.loc[~after, "amount"].median()
    fraud_night = frame["is_fraud"].eq(1) & frame["hour_of_day"].lt(5)
    # Adapted fraud is drawn from the legitimate profile: far less of it happens at night.
    assert fraud_night[after].sum() / frame.loc[after, "is_fraud"].sum() < 0.6 * (
        fraud_night[~after].sum() / frame.loc[~after, "is_fraud"].sum()
    )


def test_lower_high_risk_cut_widens_the_high_band_and_dilutes_it() -> None:
    usual = generate(StreamSpec(rows=30_000, seed=6))
    loose = generate(StreamSpec(rows=30_000, seed=6, high_risk_cut=0.6))
    assert (loose["risk_band"] == "high").mean() > 2.5 * (usual["risk_band"] == "high").mean()
    assert (
        loose.loc[loose["risk_band"] == "high", "is_fraud"].mean()
        < 0.5 * usual.loc[usual["risk_band"] == "high", "is_fraud"].mean()
    )


def test_card_testing_turns_a_share_of_fraud_into_tiny_online_charges_after_the_drift_point() -> None:
    spec = StreamSpec(rows=60_000, days=40, seed=8, scenario="card_testing", drift_start="2026-01-21")
    frame = generate(spec)
    after = frame["event_time"] >= pd.Timestamp("2026-01-21")
    tiny = frame["amount"].lt(3) & frame["merchant_category"].eq("online") & frame["card_present"].eq(0)
    fraud = frame["is_fraud"].eq(1)
    share = (tiny & fraud & after).sum() / (fraud & after).sum()
    assert share == pytest.approx(spec.concept_share, abs=0.06)
    tests = (tiny & fraud & after).sum()
    assert (tiny & ~after).sum() < 0.05 * tests  # before the drift point the region is all but empty
    assert (tiny & ~fraud & after).sum() < 0.05 * tests  # legitimate spending does not move there
    assert frame.loc[tiny & fraud & after, "txn_count_24h"].mean() > 4  # the bursts a model can learn
    assert 0.015 < frame.loc[after, "is_fraud"].mean() < 0.025  # the fraud rate is unchanged


def test_generate_data_applies_several_scenarios_and_refuses_a_clashing_pair(tmp_path: Path) -> None:
    from pipelines.cli import main

    out = tmp_path / "stream.parquet"
    args = ["generate-data", "--rows", "4000", "--days", "10", "--drift-start", "2026-01-01", "--out", str(out)]
    assert main([*args, "--scenario", "card_testing", "seasonal"]) == 0
    frame = pd.read_parquet(out)
    legit = frame[frame["is_fraud"] == 0]
    assert legit["card_present"].mean() == pytest.approx(0.85, abs=0.03)  # seasonal applied
    assert (frame["amount"].lt(3) & frame["is_fraud"].eq(1)).sum() > 0  # and card testing
    assert main([*args, "--scenario", "mixed", "card_testing"]) == 2
