"""Threshold search: the trigger policy replayed under a grid of drift, SLO and M-of-N settings,
and the frontier of mean metric against retraining runs.

Each grid point is the user's config with a few fields changed and validated again by the config
schema, so a point is a config one could deploy. Training, gates and shadow criteria stay as
configured: a sweep answers "which thresholds", not "which model".
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.backtest.lab import Lab
from pipelines.backtest.policies import GatedTrigger
from pipelines.backtest.runner import replay
from pipelines.backtest.summary import DriftPoint, summarize
from pipelines.config import ModelConfig, parse_config

DRIFT_SCALES = (0.5, 1.0, 2.0)
SLO_OFFSETS = (-0.05, 0.0, 0.05)
# The distribution thresholds a drift scale multiplies, with the schema's upper bounds.
SCALED_THRESHOLDS: dict[str, float | None] = {
    "psi_threshold": None,
    "ks_threshold": 1.0,
    "wasserstein_threshold": None,
    "js_threshold": 1.0,
    "cramers_v_threshold": 1.0,
    "ood_share_threshold": 1.0,
}


@dataclass(frozen=True)
class SweepPoint:
    name: str
    overrides: dict[str, Any]  # dotted config path -> value


def grid(config: ModelConfig) -> list[SweepPoint]:
    """Drift thresholds (off, or scaled, with k features), the SLO (off, or shifted), the
    alarm's M of N (the config's, and 1 of 1) and the max staleness (the config's, none, and
    one fresh window)."""
    drift, features = config.drift, len(config.model.features)
    drift_options: list[tuple[str, dict[str, Any]]] = [("drift off", {"drift.min_drifted_features": features + 1})]
    k = drift.min_drifted_features
    for scale, features_needed in [*((scale, k) for scale in DRIFT_SCALES), (1.0, k + 1)]:
        if features_needed > features:
            continue
        scaled = {f"drift.{name}": _scaled(getattr(drift, name), scale, cap) for name, cap in SCALED_THRESHOLDS.items()}
        drift_options.append(
            (f"drift x{scale:g} k={features_needed}", scaled | {"drift.min_drifted_features": features_needed})
        )
    slo_options: list[tuple[str, dict[str, Any]]] = [("slo off", {"drift.performance_slo": None})]
    if drift.performance_slo is not None:
        slo = drift.performance_slo
        for offset in SLO_OFFSETS:
            floor = round(min(max(slo.min + offset, 0.0), 1.0), 4)
            slo_options.append(
                (f"{slo.metric}<{floor:g}", {"drift.performance_slo": {"metric": slo.metric, "min": floor}})
            )
    trigger = config.trigger
    alarm_options: list[tuple[str, dict[str, Any]]] = [
        (f"{trigger.datapoints_to_alarm}/{trigger.evaluation_periods}", {})
    ]
    if (trigger.datapoints_to_alarm, trigger.evaluation_periods) != (1, 1):
        alarm_options.append(("1/1", {"trigger.datapoints_to_alarm": 1, "trigger.evaluation_periods": 1}))
    staleness_options = [
        (_staleness_name(days), {"trigger.max_staleness_days": days})
        for days in dict.fromkeys([trigger.max_staleness_days, None, config.data.window.fresh_days])
    ]
    points = []
    for (drift_name, drift_values), (slo_name, slo_values), (alarm_name, alarm_values), (
        stale_name,
        stale_values,
    ) in itertools.product(drift_options, slo_options, alarm_options, staleness_options):
        if drift_name == "drift off" and slo_name == "slo off" and stale_values["trigger.max_staleness_days"] is None:
            continue  # nothing could ever start a run: the never policy
        name = f"{drift_name}, {slo_name}, {alarm_name}, {stale_name}"
        points.append(SweepPoint(name, drift_values | slo_values | alarm_values | stale_values))
    return points


def _staleness_name(days: int | None) -> str:
    return "no staleness" if days is None else f"staleness {days}d"


def _scaled(value: float, scale: float, cap: float | None) -> float:
    scaled = round(value * scale, 6)
    return scaled if cap is None else min(scaled, cap)


def configured(config: ModelConfig, overrides: Mapping[str, Any]) -> ModelConfig:
    """`config` with the dotted fields changed, validated again by the config schema."""
    raw = config.model_dump(mode="json")
    for path, value in overrides.items():
        *parents, leaf = path.split(".")
        node = raw
        for part in parents:
            node = node[part]
        node[leaf] = value
    changed = parse_config(raw, source="sweep")
    changed._base_dir = config._base_dir
    return changed


def is_configured(config: ModelConfig, point: SweepPoint) -> bool:
    """Whether the point changes nothing that matters: the user's own thresholds."""
    return configured(config, point.overrides).model_dump() == config.model_dump()


def frontier(points: Sequence[Mapping[str, Any]]) -> list[str]:
    """Names of the points no other point beats: none has as few runs and a higher mean metric."""
    ranked = sorted(
        (p for p in points if p["mean_metric"] is not None), key=lambda p: (p["retrains"], -p["mean_metric"])
    )
    best, names = float("-inf"), []
    for point in ranked:
        if point["mean_metric"] > best:
            names.append(point["name"])
            best = point["mean_metric"]
    return names


def run_sweep(
    lab: Lab,
    metric: str,
    drift_points: Sequence[DriftPoint],
    *,
    retrain_budget: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Replay the trigger policy at every grid point. `retrain_budget` picks the recommended
    point: the best mean metric with at most that many runs."""
    base = lab.config
    points = grid(base)
    results = []
    for number, point in enumerate(points, start=1):
        variant = configured(base, point.overrides)
        if progress is not None:
            progress(f"sweep {number}/{len(points)}: {point.name}")
        run = replay(lab, GatedTrigger(variant, name=point.name), monitor_config=variant)
        slo = variant.drift.performance_slo
        summary = summarize(run, metric, slo.min if slo else None, drift_points)
        results.append(
            {
                "name": point.name,
                "overrides": point.overrides,
                "configured": is_configured(base, point),
                "retrains": summary["retrains"],
                "mean_metric": summary["mean_metric"],
                "worst_metric": summary["worst_metric"],
                "mean_detection_delay_windows": summary["mean_detection_delay_windows"],
            }
        )
    on_frontier = frontier(results)
    for result in results:
        result["on_frontier"] = result["name"] in on_frontier
    affordable = [
        r
        for r in results
        if r["mean_metric"] is not None and (retrain_budget is None or r["retrains"] <= retrain_budget)
    ]
    best = max(affordable, key=lambda r: (r["mean_metric"], -r["retrains"]), default=None)
    return {
        "points": results,
        "frontier": on_frontier,
        "retrain_budget": retrain_budget,
        "recommended": None if best is None else best["name"],
    }
