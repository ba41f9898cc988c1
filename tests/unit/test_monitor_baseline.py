"""Model Monitor statistics.json / constraints.json: every value against pandas computed
independently, and both documents against the structure AWS documents."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipelines.config import FeatureType, ModelConfig
from pipelines.simulation.datagen import StreamSpec, generate
from tests.model_monitor_schema import check_constraints, check_statistics
from training_containers.monitor_baseline import baseline_files, constraints, statistics


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Generated transactions with the gaps real data has: nulls, infinities, missing categories."""
    data = generate(StreamSpec(rows=5000, days=10, seed=7))
    rng = np.random.default_rng(5)
    data.loc[rng.random(len(data)) < 0.03, "amount"] = np.nan
    data.loc[data.index[:3], "distance_from_home_km"] = [np.inf, -np.inf, np.nan]
    data.loc[rng.random(len(data)) < 0.02, "merchant_category"] = None
    return data


def by_name(document: dict[str, Any]) -> dict[str, Any]:
    return {f["name"]: f for f in document["features"]}


def present(column: pd.Series) -> pd.Series:
    return column.replace([np.inf, -np.inf], np.nan).dropna().astype(float)


def test_numeric_statistics_match_pandas(frame: pd.DataFrame, config: ModelConfig) -> None:
    stats = statistics(frame, config)
    assert stats["version"] == 0 and stats["dataset"] == {"item_count": len(frame)}
    numeric = [f.name for f in config.model.features if f.type is FeatureType.numeric]
    for name in numeric:
        got = by_name(stats)[name]["numerical_statistics"]
        values = present(frame[name])
        assert got["common"] == {"num_present": len(values), "num_missing": len(frame) - len(values)}, name
        assert got["mean"] == pytest.approx(values.mean(), rel=1e-12), name
        assert got["sum"] == pytest.approx(values.sum(), rel=1e-12), name
        assert got["min"] == values.min() and got["max"] == values.max(), name
        # Population standard deviation (Deequ: sqrt(m2 / n)), from its definition.
        population = math.sqrt(((values - values.mean()) ** 2).sum() / len(values))
        assert got["std_dev"] == pytest.approx(population, rel=1e-9), name
        assert got["std_dev"] == pytest.approx(values.std(ddof=0), rel=1e-9), name
        assert got["std_dev"] != pytest.approx(values.std(ddof=1), rel=1e-6), name  # the choice shows
    amount = by_name(stats)["amount"]["numerical_statistics"]["common"]
    assert amount["num_missing"] == int(frame["amount"].isna().sum()) > 100
    distance = by_name(stats)["distance_from_home_km"]["numerical_statistics"]["common"]
    assert distance["num_missing"] == int(frame["distance_from_home_km"].isna().sum()) + 2  # the infinities


def test_buckets_are_ten_equal_width_bins_with_exact_counts(frame: pd.DataFrame, config: ModelConfig) -> None:
    stats = by_name(statistics(frame, config))
    for name in ("amount", "hour_of_day", "distance_from_home_km"):
        values = present(frame[name])
        buckets = stats[name]["numerical_statistics"]["distribution"]["kll"]["buckets"]
        low, high = values.min(), values.max()
        width = (high - low) / 10
        assert len(buckets) == 10
        for i, bucket in enumerate(buckets):
            lower, upper = low + i * width, (high if i == 9 else low + (i + 1) * width)
            assert bucket["lower_bound"] == pytest.approx(lower) and bucket["upper_bound"] == pytest.approx(upper)
            inside = (values >= lower) & ((values <= upper) if i == 9 else (values < upper))
            assert bucket["count"] == int(inside.sum()), (name, i)
        assert buckets[0]["lower_bound"] == low and buckets[-1]["upper_bound"] == high
        assert sum(b["count"] for b in buckets) == len(values)


def test_string_statistics_match_pandas(frame: pd.DataFrame, config: ModelConfig) -> None:
    stats = by_name(statistics(frame, config))
    for name in ("merchant_category", "risk_band"):
        got = stats[name]
        column = frame[name]
        assert got["inferred_type"] == "String" and "numerical_statistics" not in got
        string = got["string_statistics"]
        assert string["common"] == {"num_present": int(column.notna().sum()), "num_missing": int(column.isna().sum())}
        assert string["distinct_count"] == column.nunique(dropna=True)
        buckets = string["distribution"]["categorical"]["buckets"]
        assert {b["value"]: b["count"] for b in buckets} == column.value_counts(dropna=True).to_dict()
    assert stats["merchant_category"]["string_statistics"]["common"]["num_missing"] > 50


def test_inferred_type_follows_the_storage_type(frame: pd.DataFrame, config: ModelConfig) -> None:
    assert frame["hour_of_day"].dtype == np.int64 and frame["amount"].dtype == np.float64
    types = {f["name"]: f["inferred_type"] for f in statistics(frame, config)["features"]}
    assert types == {
        "amount": "Fractional",
        "merchant_category": "String",
        "hour_of_day": "Integral",
        "account_age_days": "Fractional",
        "distance_from_home_km": "Fractional",
        "txn_count_24h": "Integral",
        "card_present": "Integral",
        "device_trust": "Fractional",
        "risk_band": "String",
    }
    # Nullable integers and booleans are Integral too; categorical codes stored as numbers are String.
    other = frame.assign(
        hour_of_day=frame["hour_of_day"].astype("Int64").mask(frame.index < 10),
        card_present=frame["card_present"].astype(bool),
        risk_band=frame["risk_band"].map({"low": 0, "medium": 1, "high": 2}),
    )
    stats = by_name(statistics(other, config))
    assert stats["hour_of_day"]["inferred_type"] == "Integral"
    assert stats["hour_of_day"]["numerical_statistics"]["common"]["num_missing"] == 10
    assert stats["card_present"]["inferred_type"] == "Integral"
    assert stats["card_present"]["numerical_statistics"]["mean"] == pytest.approx(other["card_present"].mean())
    assert stats["risk_band"]["inferred_type"] == "String"
    assert {b["value"] for b in stats["risk_band"]["string_statistics"]["distribution"]["categorical"]["buckets"]} == {
        "0",
        "1",
        "2",
    }


def test_constraints_match_pandas_and_the_config(frame: pd.DataFrame, config: ModelConfig) -> None:
    files = baseline_files(frame, config)
    got = by_name(files["constraints.json"])
    assert files["constraints.json"]["version"] == 0
    assert [f["name"] for f in files["constraints.json"]["features"]] == config.model.feature_names
    for feature in config.model.features:
        column = frame[feature.name]
        if feature.type is FeatureType.numeric:
            column = column.replace([np.inf, -np.inf], np.nan)
        assert got[feature.name]["completeness"] == pytest.approx(column.notna().mean(), abs=1e-15)
        assert got[feature.name]["inferred_type"] == by_name(files["statistics.json"])[feature.name]["inferred_type"]
    assert got["amount"]["completeness"] < 0.99 and got["hour_of_day"]["completeness"] == 1.0
    assert got["amount"]["num_constraints"] == {"is_non_negative": True}
    assert got["merchant_category"]["string_constraints"] == {
        "domains": ["grocery", "restaurants", "fuel", "online", "electronics", "travel", "gaming"]
    }
    assert got["risk_band"]["string_constraints"] == {"domains": ["low", "medium", "high"]}
    assert "string_constraints" not in got["amount"] and "num_constraints" not in got["risk_band"]


def test_negative_values_no_values_one_value_and_no_declared_categories(
    frame: pd.DataFrame, config: ModelConfig
) -> None:
    features = [
        f.model_copy(update={"categories": None}) if f.name == "merchant_category" else f for f in config.model.features
    ]
    undeclared = config.model_copy(update={"model": config.model.model_copy(update={"features": features})})
    odd = frame.assign(amount=-frame["amount"], device_trust=np.nan, card_present=1)
    stats = by_name(statistics(odd, undeclared))
    check_statistics(statistics(odd, undeclared))
    # no values: only the counts; mean, std and the rest are undefined
    assert stats["device_trust"]["numerical_statistics"] == {"common": {"num_present": 0, "num_missing": len(odd)}}
    # one distinct value: one bucket holding every row
    assert stats["card_present"]["numerical_statistics"]["std_dev"] == 0.0
    assert stats["card_present"]["numerical_statistics"]["distribution"]["kll"]["buckets"] == [
        {"lower_bound": 1.0, "upper_bound": 1.0, "count": len(odd)}
    ]
    got = by_name(constraints(statistics(odd, undeclared), undeclared))
    assert got["amount"]["num_constraints"] == {"is_non_negative": False}
    assert got["device_trust"]["completeness"] == 0.0 and "num_constraints" not in got["device_trust"]
    assert "string_constraints" not in got["merchant_category"]  # no domain the config does not declare


def test_documents_follow_the_documented_structure(frame: pd.DataFrame, config: ModelConfig) -> None:
    files = baseline_files(frame, config)
    check_statistics(files["statistics.json"])
    check_constraints(files["constraints.json"])
    # the checks reject what the pages do not document, and NaN
    bad = baseline_files(frame, config)["statistics.json"]
    bad["features"][0]["numerical_statistics"]["median"] = 1.0
    with pytest.raises(AssertionError, match="undocumented"):
        check_statistics(bad)
    bad["features"][0]["numerical_statistics"].pop("median")
    bad["features"][0]["numerical_statistics"]["mean"] = float("nan")
    with pytest.raises(ValueError):
        check_statistics(bad)


def test_an_empty_frame_is_refused(config: ModelConfig) -> None:
    empty = pd.DataFrame({f.name: pd.Series(dtype=float) for f in config.model.features})
    with pytest.raises(ValueError, match="no rows"):
        statistics(empty, config)


def test_features_follow_the_config_not_the_frame(frame: pd.DataFrame, config: ModelConfig) -> None:
    extra = frame.assign(unused=1.0)[[*reversed(frame.columns), "unused"]]
    names = [f["name"] for f in statistics(extra, config)["features"]]
    assert names == config.model.feature_names
