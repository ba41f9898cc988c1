"""One backtest: every policy replayed over the same windows, summarised side by side.

The trigger policy runs first: the calendar policy's period defaults to the one whose number of
runs matches the trigger's, so the two are compared at the same cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from threadpoolctl import threadpool_limits

from pipelines.backtest.history import (
    BacktestInputError,
    History,
    Window,
    cut_windows,
    default_warmup,
    next_span_row,
    span_text,
)
from pipelines.backtest.lab import Lab
from pipelines.backtest.notes import assumptions, replay_notes
from pipelines.backtest.policies import Calendar, EveryWindow, GatedTrigger, Never, Policy, matched_calendar
from pipelines.backtest.runner import PolicyRun, headline_metric, replay
from pipelines.backtest.summary import compare, locate, summarize
from pipelines.backtest.sweep import SWEEP_BUDGET_SHARE, configured, run_sweep
from pipelines.config import ModelConfig
from pipelines.errors import ConfigError
from pipelines.trigger import iso

BACKTEST_VERSION = 1
POLICY_ORDER = ("never", "calendar", "trigger", "every_window")


@dataclass(frozen=True)
class BacktestSettings:
    window: int | timedelta = 1000  # rows per window, or a span of time (one window per calendar span)
    warmup: int | None = None  # windows that train the first model; None: a whole fresh window
    calendar_every: int | None = None  # None: matched to the trigger policy's number of runs
    drift_times: tuple[datetime, ...] = ()  # known drift points, for detection delays
    sweep: bool = False
    rearm: bool = True  # alarms re-armed after each promotion and shadow rejection (as deployed); False: never
    label_delay: int = 0  # windows between a prediction and its label (0: labelled at once)
    per_signal: bool = False  # also replay the trigger with each retrain signal alone


def run_backtest(
    history: History, settings: BacktestSettings, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """The backtest document (see `pipelines.backtest.report` for its layout).

    Every fit and prediction runs on one thread: a backtest makes hundreds of small fits, for
    which OpenMP's thread start-up and spinning cost more than they save (15x slower on a
    busy two-core machine)."""
    with threadpool_limits(limits=1):
        return _run(history, settings, progress)


def _run(history: History, settings: BacktestSettings, progress: Callable[[str], None] | None) -> dict[str, Any]:
    if settings.warmup is not None and settings.warmup < 1:
        raise BacktestInputError(f"--warmup must be at least 1 window, got {settings.warmup}")
    if settings.label_delay < 0:
        raise BacktestInputError(f"--label-delay must be 0 or more windows, got {settings.label_delay}")
    if settings.calendar_every is not None and settings.calendar_every < 1:
        raise BacktestInputError(f"--calendar-every must be at least 1 window, got {settings.calendar_every}")
    started = time.monotonic()
    config = history.config
    windows = cut_windows(history.times, settings.window, warmup=settings.warmup or 1)
    warmup = settings.warmup or default_warmup(windows, config.data.window.fresh_days)
    _check_drift_times(settings.drift_times, windows)
    lab = Lab(history, windows, warmup=warmup, label_delay=settings.label_delay, progress=progress)
    lab.initial()
    replayed = len(windows) - warmup
    whole = windows[-1].stop_row  # rows in whole windows: a tail after them is not replayed
    drift_points = locate(settings.drift_times, windows[warmup:])
    metric = headline_metric(config)
    slo = config.drift.performance_slo

    def summary(run: PolicyRun) -> dict[str, Any]:
        document = summarize(run, metric, slo.threshold if slo and slo.metric == metric else None, drift_points)
        return document | {"timeline": [r.to_json() for r in run.records]}

    delay = settings.label_delay
    trigger = replay(lab, GatedTrigger(config, rearm=settings.rearm), progress=progress)
    every = settings.calendar_every or matched_calendar(replayed, sum(r.retrain for r in trigger.records))
    runs: dict[str, PolicyRun] = {"trigger": trigger}
    schedules: tuple[Policy, ...] = (Never(), Calendar(every), EveryWindow())
    for policy in schedules:
        runs[policy.name] = replay(lab, policy, progress=progress)
    summaries = {name: summary(runs[name]) for name in POLICY_ORDER}
    if settings.per_signal:
        for signal, alone in signal_configs(config).items():
            name = f"trigger:{signal}"
            run = replay(lab, GatedTrigger(alone, name, rearm=settings.rearm), progress=progress)
            summaries[name] = summary(run) | {"in_retrain_on": signal in config.trigger.retrain_on}
    if settings.calendar_every is None:
        summaries["calendar"]["every_chosen_to_match"] = "trigger"
    comparison = compare(summaries) | {"calendar_phases": _phases(lab, every, summary, summaries, progress)}
    document: dict[str, Any] = {
        "backtest_version": BACKTEST_VERSION,
        "model": config.model.name,
        "data": {
            "source": history.source,
            "rows": len(history.frame),
            "window_rows": None if isinstance(settings.window, timedelta) else settings.window,
            "window_span": span_text(settings.window) if isinstance(settings.window, timedelta) else None,
            "rows_per_window": {"min": min(w.rows for w in windows), "max": max(w.rows for w in windows)},
            "windows": len(windows),
            "warmup_windows": warmup,
            "replayed_windows": replayed,
            "unused_tail_rows": len(history.frame) - whole,
            "first": windows[0].start.isoformat(),
            "last": windows[-1].end.isoformat(),
        },
        "metric": metric,
        "slo": None if slo is None else {"metric": slo.metric, slo.bound: slo.threshold},
        "drift_points": [{"time": p.time, "window": p.window} for p in drift_points],
        "label_delay_windows": delay,
        "policies": summaries,
        "comparison": comparison,
        "notes": replay_notes(history, windows, warmup, settings.window, settings.drift_times, delay, summaries),
        "assumptions": assumptions(config, delay),
    }
    if settings.sweep:
        budget = int(replayed * SWEEP_BUDGET_SHARE)
        document["sweep"] = run_sweep(
            lab,
            metric,
            drift_points,
            retrain_budget=budget,
            progress=progress,
            rearm=settings.rearm,
        )
    document["runtime"] = {"seconds": round(time.monotonic() - started, 1), "trainings": lab.trainings}
    return document


def signal_configs(config: ModelConfig) -> dict[str, ModelConfig]:
    """The config with each of its retrain signals alone in `trigger.retrain_on`, and no max
    staleness (every signal whose alarm the config can have: an objective it sets, a binary
    classifier's label drift)."""
    candidates = ["drifted_features", "performance_slo", "estimated_performance", "ood_share"]
    if config.model.problem_type == "binary_classification":
        candidates.append("label_drift")
    found = {}
    for signal in candidates:
        try:
            alone = configured(
                config,
                {"trigger.retrain_on": [signal], "trigger.external_alarms": [], "trigger.max_staleness_days": None},
            )
        except ConfigError:  # the signal needs an objective this config does not set
            continue
        if alone.retrain_signals:
            found[signal] = alone
    return found


def run_holdout(
    history: History, settings: BacktestSettings, fraction: float, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Tune on the past, check on what followed: the sweep runs on the first `1 - fraction` of the
    rows, and its recommended point is replayed with the four policies on the last `fraction`,
    which start with their own warm-up and were never seen by the sweep. The document is the
    held-out backtest, with `holdout` saying what was tuned where."""
    if not 0 < fraction < 1:
        raise BacktestInputError(f"--holdout must be a fraction between 0 and 1, got {fraction}")
    cut = round(len(history.frame) * (1 - fraction))
    if isinstance(settings.window, timedelta):  # neither part starts or ends with part of a span
        cut = next_span_row(history.times, settings.window, cut)
    tuning = replace(history, frame=history.frame.iloc[:cut].reset_index(drop=True))
    held_out = replace(history, frame=history.frame.iloc[cut:].reset_index(drop=True))
    if tuning.frame.empty or held_out.frame.empty:
        raise BacktestInputError(f"--holdout {fraction} leaves no rows on one side of {len(history.frame)}")
    boundary = held_out.times.iloc[0].tz_localize("UTC").to_pydatetime()
    earlier = tuple(t for t in settings.drift_times if t < boundary)  # each drift point on its own side
    later = tuple(t for t in settings.drift_times if t >= boundary)
    try:
        tuned = run_backtest(tuning, replace(settings, sweep=True, drift_times=earlier), progress)
    except BacktestInputError as error:  # name the part: "the history" would be the whole file
        raise BacktestInputError(
            f"on the tuning rows (the first {cut:,} of {len(history.frame):,}, before {iso(boundary)}; --holdout "
            f"{fraction}): {error}"
        ) from error
    sweep = tuned["sweep"]
    point = next((p for p in sweep["points"] if p["name"] == sweep["recommended"]), None)
    if point is None:
        raise BacktestInputError(
            f"the sweep on the first {1 - fraction:.0%} of the rows found no point within "
            f"{sweep['retrain_budget']} runs; give the tuning part more windows (a smaller --holdout)"
        )
    chosen = configured(history.config, point["overrides"])
    try:
        checked = run_backtest(
            replace(held_out, config=chosen), replace(settings, sweep=False, drift_times=later), progress
        )
    except BacktestInputError as error:
        raise BacktestInputError(
            f"on the held-out rows (the last {len(held_out.frame):,} of {len(history.frame):,}, from "
            f"{iso(boundary)}; --holdout {fraction}): {error}"
        ) from error
    as_configured = tuned["policies"]["trigger"]
    own = [f"on the tuning rows: {note}" for note in tuned["notes"] if note not in checked["notes"]]
    checked["notes"][:0] = own  # its rows left out, its drift points in the warm-up
    if point["retrains"] == 0:
        checked["notes"].insert(
            0,
            "warning: the recommended point started no run on the tuning rows: there it did what never retraining "
            "does, and nothing showed what it does on a drift; hold out less (a smaller --holdout) so that the "
            "tuning rows hold one",
        )
    checked["holdout"] = {
        "fraction": fraction,
        "tuning": {
            "rows": cut,
            "first": tuned["data"]["first"],
            "last": tuned["data"]["last"],
            "recommended": point["name"],
            "overrides": point["overrides"],
            "in_sample": {"retrains": point["retrains"], "mean_metric": point["mean_metric"]},
            "as_configured": {"retrains": as_configured["retrains"], "mean_metric": as_configured["mean_metric"]},
            "sweep": sweep,
        },
        "held_out": {"rows": len(held_out.frame), "first": checked["data"]["first"], "last": checked["data"]["last"]},
    }
    return checked


def _phases(
    lab: Lab,
    every: int,
    summary: Callable[[PolicyRun], dict[str, Any]],
    summaries: dict[str, dict[str, Any]],
    progress: Callable[[str], None] | None,
) -> dict[str, Any]:
    """The calendar at each of its `every` phases: which weeks a schedule happens to hit is luck,
    so the trigger policy is also compared with the calendar's average over its phases."""
    calendars = [summaries["calendar"]] + [
        summary(replay(lab, Calendar(every, name=f"calendar+{phase}", phase=phase), progress=progress))
        for phase in range(1, every)
    ]
    means = [c["mean_metric"] for c in calendars if c["mean_metric"] is not None]
    trigger = summaries["trigger"]["mean_metric"]
    return {
        "every": every,
        "retrains": [c["retrains"] for c in calendars],
        "mean_metric": means,
        "average_mean_metric": sum(means) / len(means) if means else None,
        "trigger_beats": None if trigger is None else sum(trigger > m for m in means),
    }


def _check_drift_times(times: Sequence[datetime], windows: Sequence[Window]) -> None:
    """A drift point must fall within the history (one in the warm-up counts for the first replayed
    window): one outside it measures nothing, and is most likely a typo."""
    first, last = windows[0].start, windows[-1].end
    for moment in times:
        where = "before" if moment < first else "after" if moment > last else None
        if where is not None:
            raise BacktestInputError(
                f"--drift-point {iso(moment)} is {where} the history ({iso(first)} to {iso(last)}): "
                "give a time in that range"
            )
