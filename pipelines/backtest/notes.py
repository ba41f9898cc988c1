"""What a reader of a backtest report should know beside its tables: notes on this replay's data,
config and label delay (also on the console), and the modelling assumptions every replay makes
(in the report only). Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pipelines.backtest.history import History, Window, utc_time
from pipelines.config import ModelConfig
from pipelines.trigger import iso


def replay_notes(
    history: History,
    windows: Sequence[Window],
    warmup: int,
    window_rows: int,
    drift_times: Sequence[datetime],
    delay: int,
    summaries: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """Every note on one replay, in the order a reader needs them."""
    whole = len(windows) * window_rows  # rows in whole windows: a tail after them is not replayed
    return [
        *history.notes,
        *_data_notes(history, whole, window_rows),
        *_warmup_notes(drift_times, windows, warmup),
        *_notes(history.config, window_rows),
        *_label_delay_notes(history.config, windows, delay, window_rows),
        *_every_window_notes(summaries, len(windows) - warmup, delay),
    ]


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


def assumptions(config: ModelConfig, label_delay: int = 0) -> list[str]:
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
