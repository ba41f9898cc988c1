"""What a policy's replay amounts to: cost, quality, SLO breaches and detection delay. Pure."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipelines.backtest.history import Window
from pipelines.backtest.runner import PolicyRun
from pipelines.trigger import iso, parse_time

# The targets for the trigger policy.
TARGET_METRIC_RATIO = 0.95  # of the every-window policy's mean metric, at least
TARGET_RETRAIN_RATIO = 0.25  # of the every-window policy's retrains, at most


@dataclass(frozen=True)
class DriftPoint:
    """A known change in the data: its time and the window that holds it."""

    time: str
    window: int


def locate(times: Sequence[datetime], windows: Sequence[Window]) -> list[DriftPoint]:
    """The window of each drift time: the first whose last row is at or after it. Times after
    the last window are left out."""
    points = []
    for moment in sorted(times):
        holder = next((w for w in windows if w.end >= moment), None)
        if holder is not None:
            points.append(DriftPoint(iso(moment), holder.index))
    return points


def detection_delays(
    retrain_windows: Sequence[int],
    drift_points: Sequence[DriftPoint],
    last_window: int,
    ends: Mapping[int, str],
    promotion_windows: Sequence[int] = (),
) -> list[dict[str, Any]]:
    """For each drift point, the first run started at the end of its window or later, before
    the next drift point's window (delay 0 means a run at the end of the window that holds it),
    and the first promotion after that run's window, before the next drift point's window: a run detects
    the drift, a promotion answers it (a run that fails its gates or its shadow changes nothing)."""
    delays = []
    for position, point in enumerate(drift_points):
        horizon = drift_points[position + 1].window if position + 1 < len(drift_points) else last_window + 1
        first = next((w for w in sorted(retrain_windows) if point.window <= w < horizon), None)
        hours = None
        promoted = None
        if first is not None:
            hours = round((parse_time(ends[first]) - parse_time(point.time)).total_seconds() / 3600, 2)
            # after the run's window: its candidate shadows from the next one (a promotion in the
            # run's own window is an earlier run's)
            promoted = next((w for w in sorted(promotion_windows) if first < w < horizon), None)
        delays.append(
            {
                "drift_point": point.time,
                "drift_window": point.window,
                "retrain_window": first,
                "delay_windows": None if first is None else first - point.window,
                "delay_hours": hours,
                "promotion_window": promoted,
            }
        )
    return delays


def summarize(run: PolicyRun, metric: str, slo_min: float | None, drift_points: Sequence[DriftPoint]) -> dict[str, Any]:
    values = [(r.window, r.metrics.get(metric)) for r in run.records]
    defined = [(w, v) for w, v in values if v is not None]
    retrains = [r.window for r in run.records if r.retrain]
    worst = min(defined, key=lambda item: item[1]) if defined else None
    ends = {r.window: r.end for r in run.records}
    promotions = [r.window for r in run.records if r.promoted]
    delays = detection_delays(retrains, drift_points, run.records[-1].window if run.records else 0, ends, promotions)
    detected = [d["delay_windows"] for d in delays if d["delay_windows"] is not None]
    first_drift = drift_points[0].window if drift_points else None
    return {
        **run.facts,
        "retrains": len(retrains),
        "promotions": sum(1 for r in run.records if r.promoted),
        "failed_runs": dict(
            sorted(Counter(r.outcome for r in run.records if r.retrain and r.outcome != "shadow").items())
        ),
        "shadow_rejections": sum(1 for r in run.records if r.shadow == "reject"),
        "mean_metric": statistics.fmean(v for _, v in defined) if defined else None,
        "worst_metric": None if worst is None else worst[1],
        "worst_window": None if worst is None else worst[0],
        "windows": len(values),
        "windows_below_slo": None if slo_min is None else sum(1 for _, v in defined if v < slo_min),
        "retrain_windows": retrains,
        "promotion_windows": promotions,
        "retrains_before_first_drift": None if first_drift is None else sum(1 for w in retrains if w < first_drift),
        "detection": delays,
        "detected_drift_points": len(detected),
        "promoted_drift_points": sum(1 for d in delays if d["promotion_window"] is not None),
        "mean_detection_delay_windows": statistics.fmean(detected) if detected else None,
    }


def compare(policies: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The trigger policy against the upper bound (every window) and the calendar."""
    trigger, upper, calendar = (policies.get(name) for name in ("trigger", "every_window", "calendar"))
    if trigger is None or upper is None:
        return {}
    ratio = _ratio(trigger["mean_metric"], upper["mean_metric"])
    cost = _ratio(trigger["retrains"], upper["retrains"])
    result: dict[str, Any] = {
        "metric_ratio_vs_every_window": ratio,
        "retrain_ratio_vs_every_window": cost,
        "meets_metric_target": ratio is not None and ratio >= TARGET_METRIC_RATIO,
        "meets_retrain_target": cost is not None and cost <= TARGET_RETRAIN_RATIO,
        "targets": {"metric_ratio_at_least": TARGET_METRIC_RATIO, "retrain_ratio_at_most": TARGET_RETRAIN_RATIO},
    }
    if calendar is not None and trigger["mean_metric"] is not None and calendar["mean_metric"] is not None:
        result |= {
            "metric_delta_vs_calendar": trigger["mean_metric"] - calendar["mean_metric"],
            "calendar_retrains": calendar["retrains"],
            "beats_calendar": trigger["mean_metric"] > calendar["mean_metric"],
        }
    return result


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator
