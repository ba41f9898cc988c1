"""Threshold search: the trigger policy replayed under a grid of retraining signals, drift and
SLO thresholds, M-of-N and staleness settings, and the frontier of mean metric against runs.

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
from pipelines.gates import catalog

DRIFT_SCALES = (0.5, 1.0, 2.0)
SLO_OFFSETS = (-0.15, -0.1, -0.05, 0.0, 0.05)
ALARM_M_OF_N = ((1, 1), (2, 3))  # besides the config's own
# The distribution thresholds a drift scale multiplies, with the schema's upper bounds.
SCALED_THRESHOLDS: dict[str, float | None] = {
    "psi_threshold": None,
    "ks_threshold": 1.0,
    "wasserstein_threshold": None,
    "js_threshold": 1.0,
    "cramers_v_threshold": 1.0,
    "ood_share_threshold": 1.0,
}


VARIED_SIGNALS = ("drifted_features", "performance_slo")  # the retrain signals the grid switches on and off


@dataclass(frozen=True)
class SweepPoint:
    name: str
    overrides: dict[str, Any]  # dotted config path -> value


@dataclass(frozen=True)
class _Option:
    name: str
    overrides: dict[str, Any]
    signal: str | None  # the `trigger.retrain_on` signal this option switches on, if any


def grid(config: ModelConfig) -> list[SweepPoint]:
    """Which alarms start a retrain and at what thresholds: the drifted-features alarm (off, or
    its thresholds scaled, with k features), the performance SLO (off, or its minimum shifted),
    the alarms' M of N (the config's, 1 of 1, 2 of 3), the max staleness (the config's, none, one
    fresh window) and, where the config turns them off, retries of failed runs. "Off" leaves the
    alarm out of `trigger.retrain_on`; the retrain signals the sweep does not vary (the estimate,
    label drift, the out-of-range share) stay as configured."""
    points = []
    kept = [signal for signal in config.trigger.retrain_on if signal not in VARIED_SIGNALS]
    for drift, slo, alarm, stale, retry in itertools.product(
        _drift_options(config),
        _slo_options(config),
        _alarm_options(config),
        _staleness_options(config),
        _retry_options(config),
    ):
        retrain_on = [o.signal for o in (drift, slo) if o.signal is not None] + kept
        if not retrain_on and stale.overrides["trigger.max_staleness_days"] is None:
            continue  # nothing could ever start a run: the never policy
        chosen = (drift, slo, alarm, stale, retry)
        overrides: dict[str, Any] = {"trigger.retrain_on": retrain_on}
        for option in chosen:
            overrides |= option.overrides
        points.append(SweepPoint(", ".join(o.name for o in chosen if o.name), overrides))
    return points


def _drift_options(config: ModelConfig) -> list[_Option]:
    drift, features = config.drift, len(config.model.features)
    options = [_Option("drift off", {}, None)]
    k = drift.min_drifted_features
    for scale, needed in [*((scale, k) for scale in DRIFT_SCALES), (1.0, k + 1)]:
        if needed > features:
            continue
        scaled = {f"drift.{name}": _scaled(getattr(drift, name), scale, cap) for name, cap in SCALED_THRESHOLDS.items()}
        options.append(
            _Option(f"drift x{scale:g} k={needed}", scaled | {"drift.min_drifted_features": needed}, "drifted_features")
        )
    return options


def _slo_options(config: ModelConfig) -> list[_Option]:
    options = [_Option("slo off", {}, None)]
    slo = config.drift.performance_slo
    if slo is None:
        return options
    unit_interval = catalog.metric(config.model.problem_type, slo.metric).unit_interval
    for offset in SLO_OFFSETS:
        bound = slo.threshold + offset if unit_interval else slo.threshold * (1 + offset)
        bound = round(min(max(bound, 0.0), 1.0) if unit_interval else bound, 4)
        overrides = {"drift.performance_slo": {"metric": slo.metric, slo.bound: bound}}
        sign = "<" if slo.bound == "min" else ">"
        options.append(_Option(f"{slo.metric}{sign}{bound:g}", overrides, "performance_slo"))
    return list({o.name: o for o in options}.values())


def _alarm_options(config: ModelConfig) -> list[_Option]:
    trigger = config.trigger
    pairs = dict.fromkeys([(trigger.datapoints_to_alarm, trigger.evaluation_periods), *ALARM_M_OF_N])
    return [
        _Option(f"{m}/{n}", {"trigger.datapoints_to_alarm": m, "trigger.evaluation_periods": n}, None) for m, n in pairs
    ]


def _staleness_options(config: ModelConfig) -> list[_Option]:
    days = dict.fromkeys([config.trigger.max_staleness_days, None, config.data.window.fresh_days])
    return [_Option(_staleness_name(d), {"trigger.max_staleness_days": d}, None) for d in days]


def _retry_options(config: ModelConfig) -> list[_Option]:
    """Retries as configured, and on where the config turns them off: without them a run that fails
    leaves its alarm in ALARM, and an M-of-N alarm (M < N) can stay there for as long as the breach
    lasts, so a point that never failed a gate on the tuning rows can stick on later ones. The names
    say "retries on/off" only where both are tried, and "on" comes first: of two points that score
    the same (no run failed) the recommendation and the frontier take the first."""
    if config.trigger.retry_failed_runs:
        return [_Option("", {}, None)]
    return [_Option("retries on", {"trigger.retry_failed_runs": True}, None), _Option("retries off", {}, None)]


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
    """Whether the point changes nothing that matters: the user's own thresholds (`retrain_on` is
    a set of signals: its order does not matter)."""
    return _compared(configured(config, point.overrides)) == _compared(config)


def _compared(config: ModelConfig) -> dict[str, Any]:
    dumped = config.model_dump()
    dumped["trigger"]["retrain_on"] = sorted(dumped["trigger"]["retrain_on"])
    return dumped


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


# The recommended point's runs, at most, as a share of the replayed windows (one run a window is
# the most a trigger can start). Not of the every-window policy's runs: it waits for its shadows
# (the shadow's min duration, late labels), so a share of those would leave little to recommend.
SWEEP_BUDGET_SHARE = 0.25


def run_sweep(
    lab: Lab,
    metric: str,
    drift_points: Sequence[DriftPoint],
    *,
    retrain_budget: int | None = None,
    progress: Callable[[str], None] | None = None,
    rearm: bool = True,
) -> dict[str, Any]:
    """Replay the trigger policy at every grid point, with the backtest's label delay and re-arming.
    `retrain_budget` picks the recommended point: the best mean metric with at most that many runs."""
    base = lab.config
    points = grid(base)
    results = []
    for number, point in enumerate(points, start=1):
        variant = configured(base, point.overrides)
        if progress is not None:
            progress(f"sweep {number}/{len(points)}: {point.name}")
        run = replay(lab, GatedTrigger(variant, name=point.name, rearm=rearm), monitor_config=variant)
        slo = variant.drift.performance_slo
        summary = summarize(run, metric, slo.threshold if slo and slo.metric == metric else None, drift_points)
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
