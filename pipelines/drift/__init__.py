"""Drift monitoring: statistics, the per-feature engine, reports and their CloudWatch metrics.

`run_monitor` (a window against the champion's baseline profile) and `compare_frames` (one
frame against another) are the entry points; `statistics` holds the pure definitions.
"""

from pipelines.drift.reference import BaselineReference, CategoricalReference, NumericReference
from pipelines.drift.run import (
    GROUND_TRUTH_COLUMN,
    INFERENCE_ID_COLUMN,
    INFERENCE_TIME_COLUMN,
    PREDICTION_COLUMN,
    compare_frames,
    drift_report,
    join_labels,
    run_monitor,
)

__all__ = [
    "GROUND_TRUTH_COLUMN",
    "INFERENCE_ID_COLUMN",
    "INFERENCE_TIME_COLUMN",
    "PREDICTION_COLUMN",
    "BaselineReference",
    "CategoricalReference",
    "NumericReference",
    "compare_frames",
    "drift_report",
    "join_labels",
    "run_monitor",
]
