"""What a reader of a backtest report should know beside its tables: notes on this replay's data,
config and label delay (also on the console), and the modelling assumptions every replay makes
(in the report only). Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pipelines.backtest.history import History, Window, empty_spans, span_text, utc_time
from pipelines.config import ModelConfig
from pipelines.trigger import iso


def replay_notes(
    history: History,
    windows: Sequence[Window],
    warmup: int,
    size: int | timedelta,
    drift_times: Sequence[datetime],
    delay: int,
    summaries: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """Every note on one replay, in the order a reader needs them. `size` is the windows' (`--window`):
    rows, or a span of time."""
    whole = windows[-1].stop_row  # rows in whole windows: a tail after them is not replayed
    return [
        *history.notes,
        *_data_notes(history, whole, size_text(size)),
        *_span_notes(windows, size),
        *_warmup_notes(drift_times, windows, warmup),
        *_notes(history.config, windows[warmup:]),
        *_label_delay_notes(history.config, windows, delay, size),
        *_settling_notes(history.config, windows, delay, size),
        *_every_window_notes(summaries, len(windows) - warmup, delay),
        *_verdictless_notes(history.config, summaries, delay),
    ]


def counted(number: int, noun: str) -> str:
    """ "1 window", "5 windows"."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def size_text(size: int | timedelta) -> str:
    """A window's size as `--window` gave it: "1,000 rows" or "1 day"."""
    return span_text(size) if isinstance(size, timedelta) else f"{size:,} rows"


def _span_notes(windows: Sequence[Window], size: int | timedelta) -> list[str]:
    """Spans of time without traffic: no window, so no alarm period, stands for them."""
    if not isinstance(size, timedelta) or not (empty := empty_spans(list(windows), size)):
        return []
    return [
        f"{counted(empty, 'span')} of {span_text(size)} between the first window and the last held no row: no "
        "window stands for them (a deployed monitor publishes no datapoint then), so --label-delay, alarm periods "
        "and calendar periods count windows with traffic"
    ]


def _warmup_notes(times: Sequence[datetime], windows: Sequence[Window], warmup: int) -> list[str]:
    """Drift points in the warm-up: counted for the first replayed window, which the reader should know."""
    return [
        f"--drift-point {iso(moment)} falls in the warm-up (windows 0 to {warmup - 1}): the first model may have "
        f"trained on rows after it, and it counts for the first replayed window ({warmup})"
        for moment in sorted(times)
        if moment <= windows[warmup - 1].end
    ]


def _data_notes(history: History, whole: int, size: str) -> list[str]:
    """The rows the replay leaves out (a tail after the `whole` rows of whole windows) or cannot
    score (no label)."""
    notes = []
    unused = len(history.frame) - whole
    if unused:
        notes.append(
            f"the last {counted(unused, 'row')} (from {iso(utc_time(history.times.iloc[whole]))}) fill no whole "
            f"window of {size}: they are not replayed, and a drift point among them is refused"
        )
    unlabelled = int(history.frame[history.config.model.label].iloc[:whole].isna().sum())
    if unlabelled:
        notes.append(
            f"{unlabelled:,} rows ({unlabelled / whole:.1%} of those in whole windows) have no label: drift judges "
            "them; realized performance and the shadow do not, and a retraining run whose fresh window holds more "
            "than data.checks.max_null_rate of them fails its data check"
        )
    return notes


def _notes(config: ModelConfig, windows: Sequence[Window]) -> list[str]:
    """Warnings about this config at the replayed windows' sizes: for windows of rows, about all
    of them; for spans of time, about those too small."""
    sizes = [window.rows for window in windows]
    notes = []
    minimums = [
        (
            config.drift.min_labels_for_performance,
            "drift.min_labels_for_performance",
            "the performance SLO alarm cannot fire",
        ),
        (config.drift.min_window_rows, "drift.min_window_rows", "no feature gets a drift verdict"),
    ]
    if config.drift.estimated_slo is not None:
        minimums.append(
            (
                config.drift.min_predictions_for_estimate,
                "drift.min_predictions_for_estimate",
                "no performance is estimated, and the estimated-performance alarm cannot fire",
            )
        )
    for needed, setting, consequence in minimums:
        small = sum(rows < needed for rows in sizes)
        if small == len(sizes) and min(sizes) == max(sizes):
            notes.append(f"warning: windows of {sizes[0]} rows are below {setting} ({needed}): {consequence}")
        elif small:
            notes.append(
                f"warning: {small} of {len(sizes)} windows hold fewer rows than {setting} ({needed}), down to "
                f"{min(sizes):,}: on them {consequence}"
            )
    if max(sizes) < config.promotion.shadow.min_labels:
        notes.append(
            f"warning: a shadow needs promotion.shadow.min_labels ({config.promotion.shadow.min_labels}) labels, more "
            f"than one window of up to {max(sizes):,} rows: it waits several windows, and a newer candidate replaces it"
        )
    return notes


def _label_delay_notes(config: ModelConfig, windows: Sequence[Window], delay: int, size: int | timedelta) -> list[str]:
    """A fresh window too short to hold enough labelled rows at a run: retraining runs fail."""
    if not delay or len(windows) < 2:
        return []
    days_per_window = _days_per_window(windows, size)
    fresh, needed = config.data.window.fresh_days, config.data.checks.min_rows
    rows_per_window = windows[-1].stop_row / len(windows)
    labelled = max(0.0, fresh / days_per_window - delay) * rows_per_window  # rows of the fresh window whose labels came
    if labelled >= needed:
        return []
    held = "no labelled row" if labelled == 0 else f"about {labelled:,.0f} labelled rows"
    return [
        f"warning: labels come {counted(delay, 'window')} (about {delay * days_per_window:.1f} days) late and the "
        f"fresh window (data.window.fresh_days) is {fresh:g} days: at a run it holds {held}, fewer than "
        f"data.checks.min_rows ({needed:,}), so retraining runs fail their data check; make it reach back further "
        "past the delay"
    ]


def _settling_notes(config: ModelConfig, windows: Sequence[Window], delay: int, size: int | timedelta) -> list[str]:
    """Labels that settle later in the config than in the replay: the runs wait for them (DataPull
    leaves the newest rows out), the monitor and the shadow do not."""
    settle = config.data.window.label_delay_days
    days_per_window = _days_per_window(windows, size)
    if not settle or delay * days_per_window >= settle:
        return []
    return [
        f"data.window.label_delay_days is {settle:g} days: retraining runs leave out their newest {settle:g} days, as "
        f"deployed, but this replay gives the monitor and the shadow their labels "
        f"{'at once' if not delay else counted(delay, 'window') + ' late'}; pass --label-delay "
        f"{math.ceil(settle / days_per_window - 1e-9)} (a window is about {days_per_window:.2g} "
        f"day{'' if round(days_per_window, 1) == 1 else 's'}) to replay them "
        "as late as the config expects"
    ]


def _days_per_window(windows: Sequence[Window], size: int | timedelta) -> float:
    """A span's days, or the mean days a window of rows covers."""
    if isinstance(size, timedelta):
        return size / timedelta(days=1)
    return (windows[-1].end - windows[0].start).total_seconds() / 86_400 / len(windows)


def _every_window_notes(summaries: Mapping[str, Mapping[str, Any]], replayed: int, delay: int) -> list[str]:
    """The every-window policy waits for each shadow's verdict (the shadow's min duration and min
    labels, and late labels): when that made it skip windows, it is no upper bound."""
    every = summaries.get("every_window")
    if every is None or every["retrains"] >= replayed:
        return []
    why = f"with labels {counted(delay, 'window')} late " if delay else ""
    return [
        f"{why}the every-window policy waits for each shadow's verdict (promotion.shadow.min_duration_hours and "
        f"min_labels), so it ran {counted(every['retrains'], 'time')} in {counted(replayed, 'window')}: the "
        "trigger-vs-every-window targets "
        "compare with that schedule, not with an upper bound"
    ]


def _verdictless_notes(config: ModelConfig, summaries: Mapping[str, Mapping[str, Any]], delay: int) -> list[str]:
    """Policies whose candidates all shadowed and none was judged: they served the first model
    throughout, whatever their targets say."""
    notes = []
    for name, summary in summaries.items():
        shadows = sum(1 for r in summary.get("timeline", ()) if r["outcome"] == "shadow")
        if shadows and not summary["promotions"] and not summary["shadow_rejections"]:
            late = f", with labels {counted(delay, 'window')} late" if delay else ""
            notes.append(
                f"{name}: none of its {counted(shadows, 'candidate')} in shadow reached a verdict{late}: each waited "
                f"for promotion.shadow.min_labels ({config.promotion.shadow.min_labels}) labels and "
                "min_duration_hours and was replaced, or the replay ended; it served the first model throughout"
            )
    return notes


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
