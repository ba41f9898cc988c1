"""SageMaker Model Monitor's data-quality baseline files for a frame: statistics.json and
constraints.json.

A model version registers these as `ModelMetrics.ModelDataQuality` (Statistics, Constraints),
which SageMaker reads in Model Monitor's format. The project's own drift monitor does not use them:
it reads `baseline_profile.json` (training_containers/profile.py), a different format.

Sources (AWS, SageMaker developer guide):
- "Schema for Statistics (statistics.json file)",
  https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-statistics.html
  (also "model-monitor-interpreting-statistics.html", the same schema for the prebuilt container)
- "Schema for Constraints (constraints.json file)",
  https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-constraints.html
- "Schema for Violations (constraint_violations.json file)": completeness is "% of non-null
  items", https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-interpreting-violations.html
- "Create a Baseline": the prebuilt container "is based on Spark and is built with Deequ",
  https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-create-baseline.html
Real files for comparison: aws/sagemaker-python-sdk tests/data/monitor/statistics.json and
constraints.json (completeness 1.0 for a column without nulls: a fraction, not a percentage).

What is written, per model feature (config order; the label, id and time columns are not model
inputs and are left out):
- statistics.json: `version` 0, `dataset.item_count` (rows), and per feature `name`,
  `inferred_type` and either `numerical_statistics` (`common.num_present`/`num_missing`, `mean`,
  `sum`, `std_dev`, `min`, `max`, `distribution.kll.buckets`) or `string_statistics`
  (`common`, `distinct_count`, `distribution.categorical.buckets` of value and count).
- constraints.json: `version` 0 and per feature `name`, `inferred_type`, `completeness`;
  `num_constraints.is_non_negative` for numeric features with values; for categorical features
  `string_constraints.domains` when the config lists the feature's categories.

Rules and choices:
- Missing values are NaN, None and +/-inf (and, in a numeric feature, text that is no number), as
  in the project's profile (`finite_values`); JSON cannot hold an infinity, so an infinite value
  could not be counted as present anyway.
- `std_dev` is the population standard deviation (ddof=0): Deequ's StandardDeviation analyzer
  is `sqrt(m2 / n)` (awslabs/deequ, src/main/scala/com/amazon/deequ/analyzers/
  StandardDeviation.scala, `stateful_stddev_pop`).
- `inferred_type` follows the column's storage type: integer or boolean columns are Integral,
  other numeric columns Fractional; categorical features are String whatever their storage (the
  model reads them as strings, and their constraint domains are strings).
- Values are exact counts and moments of the whole frame, not sketch estimates.

Left out, on purpose:
- `distribution.kll.sketch`: a KLL sketch is the compactor state of a randomized streaming
  algorithm with Model Monitor's parameters (c, k); nothing here can produce one that matches
  what the prebuilt container would write. The statistics page says the KLL sketch is the
  recognized representation and the distribution is materialized in 10 buckets, so the buckets
  are written (10 equal-width buckets over [min, max], exact counts, each bucket half-open
  [lower, upper) except the last, which includes max; one bucket when min == max). The page does
  not say how the container places bucket bounds; each bucket states its own, so the counts are
  right for the bounds given.
- mean, sum, std_dev, min, max and the distribution of a numeric feature with no values: they are
  undefined (and JSON has no NaN); only `common` is written.
- `string_constraints.domains` of a categorical feature without configured categories: the
  constraints page lists "observed values for small cardinality" without a cut-off; a domain the
  config does not declare is not claimed.
- `monitoring_config` and per-feature `monitoringConfigOverrides`: options of a Model Monitor
  monitoring job (thresholds, comparison method); no such job runs here, and choosing them is the
  business of whoever schedules one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipelines import naming
from pipelines.config import Feature, FeatureType, ModelConfig
from pipelines.drift.reference import category_counts, finite_values

STATISTICS, CONSTRAINTS = naming.STATISTICS_FILE, naming.CONSTRAINTS_FILE
SCHEMA_VERSION = 0  # both schemas show "version": 0
BUCKETS = 10  # "By default, the distribution is materialized in 10 buckets." (statistics page)

FRACTIONAL, INTEGRAL, STRING = "Fractional", "Integral", "String"


def inferred_type(column: pd.Series, feature: Feature) -> str:
    if feature.type is FeatureType.categorical:
        return STRING
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_integer_dtype(column):
        return INTEGRAL
    return FRACTIONAL


def kll_buckets(values: np.ndarray, buckets: int = BUCKETS) -> list[dict[str, float | int]]:
    """Equal-width buckets over [min, max] of finite `values` with exact counts (see the module
    docstring); `values` must not be empty."""
    low, high = float(values.min()), float(values.max())
    if low == high:
        return [{"lower_bound": low, "upper_bound": high, "count": int(values.size)}]
    # np.histogram: every bucket is [a, b) but the last, which is [a, b]; linspace ends at high.
    counts, edges = np.histogram(values, bins=np.linspace(low, high, buckets + 1))
    return [
        {"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": int(counts[i])}
        for i in range(buckets)
    ]


def numerical_statistics(column: pd.Series) -> dict[str, Any]:
    array, rows = finite_values(column)
    values = array[np.isfinite(array)]
    common = {"num_present": int(values.size), "num_missing": rows - int(values.size)}
    if values.size == 0:
        return {"common": common}
    return {
        "common": common,
        "mean": float(values.mean()),
        "sum": float(values.sum()),
        "std_dev": float(values.std(ddof=0)),
        "min": float(values.min()),
        "max": float(values.max()),
        "distribution": {"kll": {"buckets": kll_buckets(values)}},
    }


def string_statistics(column: pd.Series) -> dict[str, Any]:
    # Counted as the profile counts categories: non-null values as strings, sorted by value.
    categories, counts = category_counts(column)
    present = int(counts.sum())
    return {
        "common": {"num_present": present, "num_missing": int(column.size) - present},
        "distinct_count": len(categories),
        "distribution": {
            "categorical": {
                "buckets": [{"value": value, "count": int(n)} for value, n in zip(categories, counts, strict=True)]
            }
        },
    }


def statistics(frame: pd.DataFrame, config: ModelConfig) -> dict[str, Any]:
    """statistics.json of the model features in `frame`."""
    if len(frame) == 0:
        raise ValueError("no rows: Model Monitor statistics of an empty frame are undefined")
    features = []
    for feature in config.model.features:
        column = frame[feature.name]
        kind = inferred_type(column, feature)
        entry: dict[str, Any] = {"name": feature.name, "inferred_type": kind}
        if kind == STRING:
            entry["string_statistics"] = string_statistics(column)
        else:
            entry["numerical_statistics"] = numerical_statistics(column)
        features.append(entry)
    return {"version": SCHEMA_VERSION, "dataset": {"item_count": len(frame)}, "features": features}


def constraints(stats: dict[str, Any], config: ModelConfig) -> dict[str, Any]:
    """constraints.json for the statistics `stats` (as `statistics` returns them)."""
    rows = stats["dataset"]["item_count"]
    features = []
    for entry in stats["features"]:
        feature = config.model.feature(entry["name"])
        numeric = entry.get("numerical_statistics")
        common = (numeric or entry["string_statistics"])["common"]
        constraint: dict[str, Any] = {
            "name": entry["name"],
            "inferred_type": entry["inferred_type"],
            # "denotes observed non-null value percentage" (constraints page), written as a
            # fraction as the SDK's sample constraints.json and Deequ's Completeness do.
            "completeness": common["num_present"] / rows,
        }
        if numeric is not None and "min" in numeric:
            constraint["num_constraints"] = {"is_non_negative": bool(numeric["min"] >= 0)}
        if feature.type is FeatureType.categorical and feature.categories is not None:
            constraint["string_constraints"] = {"domains": list(feature.categories)}
        features.append(constraint)
    return {"version": SCHEMA_VERSION, "features": features}


def baseline_files(frame: pd.DataFrame, config: ModelConfig) -> dict[str, dict[str, Any]]:
    """{file name: document} for both files."""
    stats = statistics(frame, config)
    return {STATISTICS: stats, CONSTRAINTS: constraints(stats, config)}
