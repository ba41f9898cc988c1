"""Drift monitoring: statistics, the per-feature engine, reports and their CloudWatch metrics.

`run_monitor` (a window against the champion's baseline profile) and `compare_frames` (one
frame against another) are the entry points; `statistics` holds the pure definitions.

The names below load on first use, so `pipelines.drift.metrics` and `pipelines.monitoring.alarms` stay
light (no pandas, scipy or scikit-learn) for the CDK app and other small consumers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {
    "BaselineReference": "reference",
    "CategoricalReference": "reference",
    "NumericReference": "reference",
    "GROUND_TRUTH_COLUMN": "run",
    "INFERENCE_ID_COLUMN": "run",
    "INFERENCE_TIME_COLUMN": "run",
    "PREDICTION_COLUMN": "run",
    "compare_frames": "run",
    "drift_report": "run",
    "join_labels": "run",
    "run_monitor": "run",
}

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


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'pipelines.drift' has no attribute {name!r}")
    return getattr(importlib.import_module(f"pipelines.drift.{_HOMES[name]}"), name)
