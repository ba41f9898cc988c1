"""One backtest: every policy replayed over the same windows, summarised side by side.

The trigger policy runs first: the calendar policy's period defaults to the one whose number of
runs matches the trigger's, so the two are compared at the same cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from threadpoolctl import threadpool_limits

from pipelines.backtest.history import (
    BacktestInputError,
    History,
    Window,
    cut_windows,
    default_warmup,
    utc_time,
)
from pipelines.backtest.lab import Lab
from pipelines.backtest.policies import Calendar, EveryWindow, GatedTrigger, Never, Policy, matched_calendar
from pipelines.backtest.runner import PolicyRun, headline_metric, replay
from pipelines.backtest.summary import TARGET_RETRAIN_RATIO, compare, locate, summarize
from pipelines.backtest.sweep import configured, run_sweep
from pipelines.config import ModelConfig
from pipelines.errors import ConfigError
from pipelines.trigger import iso

BACKTEST_VERSION = 1
POLICY_ORDER = ("never", "calendar", "trigger", "every_window")


@dataclass(frozen=True)
class BacktestSettings:
    window_rows: int = 1000
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
    windows = cut_windows(history.times, settings.window_rows, warmup=settings.warmup or 1)
    warmup = settings.warmup or default_warmup(windows, config.data.window.fresh_days)
    _check_drift_times(settings.drift_times, windows)
    lab = Lab(history, windows, warmup=warmup, label_delay=settings.label_delay, progress=progress)
    lab.initial()
    replayed = len(windows) - warmup
    whole = len(windows) * settings.window_rows  # rows in whole windows: a tail after them is not replayed
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
            "window_rows": settings.window_rows,
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
        "notes": [
            *history.notes,
            *_data_notes(history, whole, settings.window_rows),
            *_warmup_notes(settings.drift_times, windows, warmup),
            *_notes(config, settings.window_rows),
            *_label_delay_notes(config, windows, delay, settings.window_rows),
            *_every_window_notes(summaries, replayed, delay),
        ],
        "assumptions": _assumptions(config, delay),
    }
    if settings.sweep:
        budget = int(summaries["every_window"]["retrains"] * TARGET_RETRAIN_RATIO)
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
    tuning = replace(history, frame=history.frame.iloc[:cut].reset_index(drop=True))
    held_out = replace(history, frame=history.frame.iloc[cut:].reset_index(drop=True))
    if tuning.frame.empty or held_out.frame.empty:
        raise BacktestInputError(f"--holdout {fraction} leaves no rows on one side of {len(history.frame)}")
    boundary = held_out.times.iloc[0].tz_localize("UTC").to_pydatetime()
    earlier = tuple(t for t in settings.drift_times if t < boundary)  # each drift point on its own side
    later = tuple(t for t in settings.drift_times if t >= boundary)
    tuned = run_backtest(tuning, replace(settings, sweep=True, drift_times=earlier), progress)
    sweep = tuned["sweep"]
    point = next((p for p in sweep["points"] if p["name"] == sweep["recommended"]), None)
    if point is None:
        raise BacktestInputError(
            f"the sweep on the first {1 - fraction:.0%} of the rows found no point within "
            f"{sweep['retrain_budget']} runs; give the tuning part more windows (a smaller --holdout)"
        )
    chosen = configured(history.config, point["overrides"])
    checked = run_backtest(
        replace(held_out, config=chosen), replace(settings, sweep=False, drift_times=later), progress
    )
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
        },
        "held_out": {"rows": len(held_out.frame), "first": checked["data"]["first"]},
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


def _warmup_notes(times: Sequence[datetime], windows: Sequence[Window], warmup: int) -> list[str]:
    """Drift points in the warm-up: counted for the first replayed window, which the reader should know."""
    return [
        f"--drift-point {iso(moment)} falls in the warm-up (windows 0 to {warmup - 1}): the first model may have "
        f"trained on rows after it, and it counts for the first replayed window ({warmup})"
        for moment in sorted(times)
        if moment <= windows[warmup - 1].end
    ]


def _data_notes(history: History, whole: int, window_rows: int) -> list[str]:
    """The rows the replay leaves out (a tail after the `whole` rows of whole windows) or cannot
    score (no label)."""
    notes = []
    unused = len(history.frame) - whole
    if unused:
        notes.append(
            f"the last {unused:,} rows (from {iso(utc_time(history.times.iloc[whole]))}) fill no whole window of "
            f"{window_rows:,} rows: they are not replayed, and a drift point among them is refused"
        )
    unlabelled = int(history.frame[history.config.model.label].iloc[:whole].isna().sum())
    if unlabelled:
        notes.append(
            f"{unlabelled:,} rows ({unlabelled / whole:.1%} of those in whole windows) have no label: drift judges "
            "them; realized performance and the shadow do not, and a retraining run whose fresh window holds more "
            "than data.checks.max_null_rate of them fails its data check"
        )
    return notes


def _notes(config: ModelConfig, window_rows: int) -> list[str]:
    """Warnings about this config at this window size."""
    notes = []
    if window_rows < config.drift.min_labels_for_performance:
        notes.append(
            f"warning: windows of {window_rows} rows never reach drift.min_labels_for_performance "
            f"({config.drift.min_labels_for_performance}): the performance SLO alarm cannot fire"
        )
    if window_rows < config.drift.min_window_rows:
        notes.append(
            f"warning: windows of {window_rows} rows are below drift.min_window_rows ({config.drift.min_window_rows}): "
            "no feature gets a drift verdict"
        )
    if window_rows < config.promotion.shadow.min_labels:
        notes.append(
            f"warning: a shadow needs promotion.shadow.min_labels ({config.promotion.shadow.min_labels}) labels, more "
            f"than one window of {window_rows} rows: it waits several windows, and a newer candidate replaces it"
        )
    return notes


def _label_delay_notes(config: ModelConfig, windows: Sequence[Window], delay: int, window_rows: int) -> list[str]:
    """A fresh window too short to hold enough labelled rows at a run: retraining runs fail."""
    if not delay or len(windows) < 2:
        return []
    days_per_window = (windows[-1].end - windows[0].start).total_seconds() / 86_400 / len(windows)
    fresh, needed = config.data.window.fresh_days, config.data.checks.min_rows
    labelled = max(0.0, fresh / days_per_window - delay) * window_rows  # rows of the fresh window whose labels came
    if labelled >= needed:
        return []
    held = "no labelled row" if labelled == 0 else f"about {labelled:,.0f} labelled rows"
    return [
        f"warning: labels come {delay} windows (about {delay * days_per_window:.1f} days) late and the fresh window "
        f"(data.window.fresh_days) is {fresh:g} days: at a run it holds {held}, fewer than data.checks.min_rows "
        f"({needed:,}), so retraining runs fail their data check; make it reach back further past the delay"
    ]


def _every_window_notes(summaries: Mapping[str, Mapping[str, Any]], replayed: int, delay: int) -> list[str]:
    """With late labels, the every-window policy waits for each shadow's verdict: no upper bound."""
    every = summaries.get("every_window")
    if not delay or every is None:
        return []
    return [
        f"with labels {delay} windows late the every-window policy waits for each shadow's verdict, so it ran "
        f"{every['retrains']} times in {replayed} windows: the trigger-vs-every-window targets compare with that "
        "schedule, not with an upper bound"
    ]


def _assumptions(config: ModelConfig, label_delay: int = 0) -> list[str]:
    """The replay's modelling choices: the same on every run, so in the report, not on the console."""
    found = [
        "one window = one monitor run = one alarm period; decisions happen at window ends",
        (
            f"labels come {label_delay} windows after their window (--label-delay): the monitor, the shadow and a "
            f"retraining run have the labels of windows up to {label_delay} before theirs; the warm-up's are known"
            if label_delay
            else "labels are known at the end of their window (--label-delay 0)"
        ),
    ]
    if config.registry.approval == "manual":
        found.append("registry.approval is manual: the backtest assumes every registered candidate is approved")
    return [
        *found,
        "shadow latency and error rate are not simulated (taken as 0)",
        "fits run single-threaded; the same history and settings give the same report",
    ]
