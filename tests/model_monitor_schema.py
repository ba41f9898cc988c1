"""Structure checks for Model Monitor's statistics.json and constraints.json, written from AWS's
schema pages (SageMaker developer guide):
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-statistics.html
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-constraints.html

Every key must be one the pages document (nothing invented), the keys this project always writes
must be there, and every value must have the documented type. `json.dumps(allow_nan=False)` proves
the document is valid JSON (no NaN or Infinity).
"""

from __future__ import annotations

import json
from numbers import Real
from typing import Any

STATISTICS_TYPES = {"Fractional", "Integral", "String"}
CONSTRAINT_TYPES = {"Integral", "Fractional", "String", "Unknown"}


def _number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _count(value: Any) -> bool:
    return _number(value) and value >= 0 and float(value).is_integer()


def _keys(node: dict[str, Any], required: set[str], allowed: set[str], where: str) -> None:
    assert isinstance(node, dict), f"{where}: not an object"
    assert required <= set(node), f"{where}: missing {sorted(required - set(node))}"
    assert set(node) <= allowed | required, f"{where}: undocumented {sorted(set(node) - allowed - required)}"


def _common(common: dict[str, Any], where: str) -> None:
    _keys(common, {"num_present", "num_missing"}, set(), where)
    assert _count(common["num_present"]) and _count(common["num_missing"]), where


def check_statistics(document: dict[str, Any]) -> None:
    json.dumps(document, allow_nan=False)
    _keys(document, {"version", "dataset", "features"}, set(), "statistics")
    assert _number(document["version"])
    _keys(document["dataset"], {"item_count"}, set(), "dataset")
    rows = document["dataset"]["item_count"]
    assert _count(rows)
    assert isinstance(document["features"], list) and document["features"]
    for feature in document["features"]:
        where = f"feature {feature.get('name')}"
        assert isinstance(feature.get("name"), str) and feature["name"], where
        assert feature.get("inferred_type") in STATISTICS_TYPES, where
        if feature["inferred_type"] == "String":
            _keys(feature, {"name", "inferred_type", "string_statistics"}, set(), where)
            stats = feature["string_statistics"]
            _keys(stats, {"common", "distinct_count", "distribution"}, set(), where)
            _common(stats["common"], where)
            assert _count(stats["distinct_count"]), where
            _keys(stats["distribution"], {"categorical"}, set(), where)
            _keys(stats["distribution"]["categorical"], {"buckets"}, set(), where)
            for bucket in stats["distribution"]["categorical"]["buckets"]:
                _keys(bucket, {"value", "count"}, set(), where)
                assert isinstance(bucket["value"], str) and _count(bucket["count"]), where
        else:
            _keys(feature, {"name", "inferred_type", "numerical_statistics"}, set(), where)
            stats = feature["numerical_statistics"]
            moments = {"mean", "sum", "std_dev", "min", "max", "distribution"}
            present = stats.get("common", {}).get("num_present", 0) > 0
            _keys(stats, {"common"} | (moments if present else set()), moments, where)
            _common(stats["common"], where)
            assert stats["common"]["num_present"] + stats["common"]["num_missing"] == rows, where
            if not present:
                continue
            assert all(_number(stats[k]) for k in ("mean", "sum", "std_dev", "min", "max")), where
            assert stats["std_dev"] >= 0 and stats["min"] <= stats["mean"] <= stats["max"], where
            _keys(stats["distribution"], {"kll"}, set(), where)
            _keys(stats["distribution"]["kll"], {"buckets"}, {"sketch"}, where)
            for bucket in stats["distribution"]["kll"]["buckets"]:
                _keys(bucket, {"lower_bound", "upper_bound", "count"}, set(), where)
                assert _number(bucket["lower_bound"]) and _number(bucket["upper_bound"]), where
                assert bucket["lower_bound"] <= bucket["upper_bound"] and _count(bucket["count"]), where


def check_constraints(document: dict[str, Any]) -> None:
    json.dumps(document, allow_nan=False)
    _keys(document, {"version", "features"}, {"monitoring_config"}, "constraints")
    assert _number(document["version"])
    assert isinstance(document["features"], list) and document["features"]
    for feature in document["features"]:
        where = f"constraint {feature.get('name')}"
        _keys(
            feature,
            {"name", "inferred_type", "completeness"},
            {"num_constraints", "string_constraints", "monitoringConfigOverrides"},
            where,
        )
        assert isinstance(feature["name"], str) and feature["inferred_type"] in CONSTRAINT_TYPES, where
        assert _number(feature["completeness"]) and 0 <= feature["completeness"] <= 1, where
        if "num_constraints" in feature:
            _keys(feature["num_constraints"], {"is_non_negative"}, set(), where)
            assert isinstance(feature["num_constraints"]["is_non_negative"], bool), where
        if "string_constraints" in feature:
            _keys(feature["string_constraints"], {"domains"}, set(), where)
            domains = feature["string_constraints"]["domains"]
            assert isinstance(domains, list) and all(isinstance(d, str) for d in domains), where
