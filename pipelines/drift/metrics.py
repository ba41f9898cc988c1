"""The CloudWatch metrics a drift report becomes, and publishing them in batches.

Namespace: `drift.metric_namespace` (default `DriftRetraining`). Dimensions:
- `{Model, Feature}` for a feature's statistics: PSI, KS, Wasserstein, JensenShannon, CramersV,
  OutOfDistributionShare, NullRateIncrease;
- `{Model, Signal=prediction}` for the same statistics of the prediction scores;
- `{Model, Signal=label}` for LabelPositiveRate and LabelShift (Cohen's h);
- `{Model}` for DriftedFeatureCount, WindowRows, LabelledRows, SchemaProblemCount and the
  performance metrics (Accuracy, Precision, Recall, F1, ROCAUC, PRAUC).

Only statistics that took part in a verdict are published: a window too small for a verdict
publishes no distribution statistic, so an alarm sees a missing datapoint, not noise. The same
holds for DriftedFeatureCount (published when at least one feature had a verdict) and the
performance metrics (published once the window holds enough labels). Every datapoint carries
the window's end as its timestamp, so a late run lands in the period it describes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from pipelines.drift.verdict import NULL_RATE_STATISTICS, statistics_for

FEATURE_METRICS = {
    "psi": "PSI",
    "ks": "KS",
    "wasserstein": "Wasserstein",
    "js": "JensenShannon",
    "cramers_v": "CramersV",
    "ood_share": "OutOfDistributionShare",
    "null_rate_increase": "NullRateIncrease",
}
PERFORMANCE_METRICS = {
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "roc_auc": "ROCAUC",
    "pr_auc": "PRAUC",
    "macro_f1": "MacroF1",
    "weighted_f1": "WeightedF1",
    "macro_precision": "MacroPrecision",
    "weighted_precision": "WeightedPrecision",
    "macro_recall": "MacroRecall",
    "weighted_recall": "WeightedRecall",
    "rmse": "RMSE",
    "mae": "MAE",
    "mse": "MSE",
    "r2": "R2",
}
DRIFTED_FEATURE_COUNT = "DriftedFeatureCount"
WINDOW_ROWS = "WindowRows"
LABELLED_ROWS = "LabelledRows"
SCHEMA_PROBLEM_COUNT = "SchemaProblemCount"
LABEL_POSITIVE_RATE = "LabelPositiveRate"
LABEL_SHIFT = "LabelShift"

MODEL_DIMENSION = "Model"
FEATURE_DIMENSION = "Feature"
SIGNAL_DIMENSION = "Signal"
ESTIMATED_SIGNAL = "estimated"  # the estimated performance (pipelines.drift.estimation)
INPUTS_SIGNAL = "inputs"  # the window's inputs as a whole (the out-of-distribution share)
LABEL_SIGNAL = "label"

# PutMetricData: at most 1000 MetricDatum items and 1 MB of payload per request.
MAX_ITEMS_PER_REQUEST = 1000
MAX_REQUEST_BYTES = 1_000_000
_BYTES_MARGIN = 0.8  # the wire encoding is larger than the JSON estimate below


class MetricsClient(Protocol):
    """What publishing needs: boto3's CloudWatch client, or `pipelines.monitoring.metrics_store.MetricsStore`."""

    def put_metric_data(self, *, Namespace: str, MetricData: Sequence[Mapping[str, Any]]) -> Any: ...


def model_dimensions(model: str) -> dict[str, str]:
    return {MODEL_DIMENSION: model}


def feature_dimensions(model: str, feature: str) -> dict[str, str]:
    return {MODEL_DIMENSION: model, FEATURE_DIMENSION: feature}


def signal_dimensions(model: str, signal: str) -> dict[str, str]:
    return {MODEL_DIMENSION: model, SIGNAL_DIMENSION: signal}


def estimated_dimensions(model: str) -> dict[str, str]:
    return signal_dimensions(model, ESTIMATED_SIGNAL)


def _datum(
    name: str, dimensions: Mapping[str, str], value: Any, timestamp: datetime, unit: str = "None"
) -> list[dict[str, Any]]:
    if value is None:
        return []
    number = float(value)
    if not math.isfinite(number):  # CloudWatch rejects NaN and infinities
        return []
    return [
        {
            "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            "Timestamp": timestamp,
            "Value": number,
            "Unit": unit,
        }
    ]


def _voting_statistics(result: Mapping[str, Any], min_rows: int) -> Iterable[tuple[str, Any]]:
    for statistic in statistics_for(result.get("type", "numeric")):
        if statistic in NULL_RATE_STATISTICS:
            if result.get("rows", 0) >= min_rows:
                yield statistic, result.get(statistic)
        elif result.get("status") == "ok":
            yield statistic, result.get(statistic)


def metric_data(report: Mapping[str, Any], model: str, timestamp: datetime) -> list[dict[str, Any]]:
    """CloudWatch MetricDatum dicts for one drift report (see the module docstring)."""
    min_rows = int(report["thresholds"]["min_window_rows"])
    data: list[dict[str, Any]] = []
    for feature, result in report["features"].items():
        dimensions = feature_dimensions(model, feature)
        for statistic, value in _voting_statistics(result, min_rows):
            data += _datum(FEATURE_METRICS[statistic], dimensions, value, timestamp)

    prediction = report.get("prediction") or {}
    if "type" in prediction:
        for statistic, value in _voting_statistics(prediction, min_rows):
            data += _datum(FEATURE_METRICS[statistic], signal_dimensions(model, "prediction"), value, timestamp)

    # The out-of-distribution signal: the largest share of one judged feature's values outside the
    # training range or in unseen categories.
    shares = [
        r["ood_share"]
        for r in report["features"].values()
        if r.get("status") == "ok" and r.get("ood_share") is not None
    ]
    if shares:
        data += _datum(FEATURE_METRICS["ood_share"], signal_dimensions(model, INPUTS_SIGNAL), max(shares), timestamp)

    label = report.get("label") or {}
    if label.get("status") == "ok":
        data += _datum(LABEL_POSITIVE_RATE, signal_dimensions(model, LABEL_SIGNAL), label["positive_rate"], timestamp)
        data += _datum(LABEL_SHIFT, signal_dimensions(model, LABEL_SIGNAL), label["cohens_h"], timestamp)

    model_dims = model_dimensions(model)
    judged = any(r.get("status") == "ok" or r.get("rows", 0) >= min_rows for r in report["features"].values())
    if judged:
        count = report["summary"]["drifted_feature_count"]
        data += _datum(DRIFTED_FEATURE_COUNT, model_dims, count, timestamp, "Count")
    data += _datum(WINDOW_ROWS, model_dims, report["window"]["rows"], timestamp, "Count")
    data += _datum(LABELLED_ROWS, model_dims, report["window"]["labelled_rows"], timestamp, "Count")
    data += _datum(SCHEMA_PROBLEM_COUNT, model_dims, report["summary"]["schema_problem_count"], timestamp, "Count")

    performance = report.get("performance") or {}
    if performance.get("status") == "ok":
        for key, name in PERFORMANCE_METRICS.items():
            data += _datum(name, model_dims, performance["metrics"].get(key), timestamp)
    # The estimate, under the realized metric's name with Signal=estimated: none without an estimate
    # (too few predictions, no calibration), so its alarm sees missing data, not a false value.
    estimated = report.get("estimated_performance") or {}
    if estimated.get("status") == "ok":
        dimensions = estimated_dimensions(model)
        for key, entry in estimated["metrics"].items():
            data += _datum(PERFORMANCE_METRICS[key], dimensions, entry["value"], timestamp)
    return data


def batches(data: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Split MetricDatum items into PutMetricData requests within the item and size limits."""
    budget = MAX_REQUEST_BYTES * _BYTES_MARGIN
    result: list[list[Mapping[str, Any]]] = []
    current: list[Mapping[str, Any]] = []
    size = 0
    for datum in data:
        item_size = len(json.dumps(datum, default=str))
        if current and (len(current) == MAX_ITEMS_PER_REQUEST or size + item_size > budget):
            result.append(current)
            current, size = [], 0
        current.append(datum)
        size += item_size
    if current:
        result.append(current)
    return result


def publish_metrics(client: MetricsClient, namespace: str, data: Sequence[Mapping[str, Any]]) -> int:
    """Send every datum with as few PutMetricData calls as the limits allow; returns the count."""
    requests = batches(data)
    for batch in requests:
        client.put_metric_data(Namespace=namespace, MetricData=batch)
    return len(requests)
