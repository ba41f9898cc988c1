"""`python -m pipelines backtest`: read, replay, write, print. Exit 0 when the backtest ran,
2 when the config or the history cannot be used (the message says which field or row)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import pandas as pd

from pipelines.backtest.history import BacktestInputError, load_history
from pipelines.backtest.notes import counted
from pipelines.backtest.report import policy_rows, windows_line, write_html
from pipelines.backtest.run import BacktestSettings, run_backtest, run_holdout
from pipelines.config import load_config
from pipelines.local.files import write_json

EXIT_INVALID = 2


@dataclass(frozen=True)
class BacktestRequest:
    config: str
    data: str
    window: int | timedelta = 1000  # rows, or a span of time
    warmup: int | None = None
    calendar_every: int | None = None
    drift_points: Sequence[str] = ()
    row_interval: str | None = None
    start: str = "2000-01-01"
    json: str | None = None
    html: str | None = None
    sweep: bool = False
    rearm: bool = True
    holdout: float | None = None  # tune on the rest, check the recommended point on this last share
    label_delay: int = 0  # windows before a prediction's label comes
    per_signal: bool = False  # the trigger with each retrain signal alone, too


def parse_times(values: Sequence[str]) -> tuple[datetime, ...]:
    times = []
    for value in values:
        try:
            moment = pd.Timestamp(value)
        except ValueError:
            raise BacktestInputError(f"--drift-point {value!r} is not a timestamp") from None
        moment = moment.tz_convert("UTC") if moment.tzinfo else moment.tz_localize("UTC")
        times.append(moment.to_pydatetime().astimezone(UTC))
    return tuple(times)


def throttled(stream: TextIO, every_seconds: float = 2.0, prefix: str = "backtest") -> Callable[[str], None]:
    """A progress line at most every `every_seconds` (a long run shows it is alive)."""
    last = [0.0]

    def show(message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= every_seconds:
            last[0] = now
            print(f"{prefix}: {message}", file=stream, flush=True)

    return show


def holdout_line(document: dict[str, Any]) -> str | None:
    """What the held-out table below it checks, or None without --holdout."""
    holdout = document.get("holdout")
    if not holdout:
        return None
    tuning = holdout["tuning"]
    return (
        f"tuned on the first {tuning['rows']:,} rows ({tuning['first'][:10]} to {tuning['last'][:10]}): "
        f"{tuning['recommended']} ({tuning['in_sample']['retrains']} runs, mean "
        f"{_cell(tuning['in_sample']['mean_metric'])} there; the config as written: "
        f"{tuning['as_configured']['retrains']} runs, {_cell(tuning['as_configured']['mean_metric'])}). "
        f"Replayed on the held-out {holdout['held_out']['rows']:,} rows (windows < SLO count against the tuned "
        "point's objective):"
    )


def text_table(document: dict[str, Any]) -> str:
    metric = document["metric"]
    header = ("policy", "runs", "promoted", "failed", f"mean {metric}", "worst", "< SLO", "drifts", "delay")
    rows = [header, *[tuple(_cell(v) for v in row) for row in policy_rows(document)]]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    lines = [("held out: " if document.get("holdout") else "") + windows_line(document["data"])]
    lines += [line] if (line := holdout_line(document)) else []
    if document.get("label_delay_windows"):
        lines.append(f"labels come {counted(document['label_delay_windows'], 'window')} after their predictions")
    lines += [
        "  ".join(str(cell).rjust(widths[i]) if i else str(cell).ljust(widths[i]) for i, cell in enumerate(row))
        for row in rows
    ]
    comparison = document.get("comparison") or {}
    if comparison:
        lines.append(
            f"trigger vs every window: {_cell(comparison['metric_ratio_vs_every_window'])} of its mean "
            f"with {_cell(comparison['retrain_ratio_vs_every_window'])} of its runs"
        )
    if "beats_calendar" in comparison:
        lines.append(
            f"trigger vs calendar ({counted(comparison['calendar_retrains'], 'run')}): "
            f"{comparison['metric_delta_vs_calendar']:+.4f}"
        )
    phases = comparison.get("calendar_phases")
    if phases and len(phases["mean_metric"]) > 1:
        lines.append(
            f"calendar every {phases['every']} windows over its {len(phases['mean_metric'])} phases: mean "
            f"{_cell(phases['average_mean_metric'])} ({min(phases['retrains'])}-{max(phases['retrains'])} runs); "
            f"trigger beats {phases['trigger_beats']} of them"
        )
    if document.get("sweep"):
        sweep = document["sweep"]
        best = next((p for p in sweep["points"] if p["name"] == sweep["recommended"]), None)
        scored = f" ({best['retrains']} runs, mean {_cell(best['mean_metric'])})" if best else ""
        lines.append(
            f"sweep: recommended within {sweep['retrain_budget']} runs (a quarter of the "
            f"{document['data']['replayed_windows']} replayed windows): {sweep['recommended']}{scored}"
        )
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def backtest_command(request: BacktestRequest, stderr: TextIO | None = None) -> int:
    stderr = stderr or sys.stderr
    try:
        config = load_config(request.config)
        if config.training.image is not None:
            raise BacktestInputError(
                f"{request.config}: the backtest retrains on this machine with a built-in estimator or a "
                "script; training.image is not replayed (set training.estimator or training.script to "
                "backtest the loop's policies)"
            )
        history = load_history(request.data, config, row_interval=request.row_interval, start=request.start)
        settings = BacktestSettings(
            window=request.window,
            warmup=request.warmup,
            calendar_every=request.calendar_every,
            drift_times=parse_times(request.drift_points),
            sweep=request.sweep,
            rearm=request.rearm,
            label_delay=request.label_delay,
            per_signal=request.per_signal,
        )
        if request.holdout is None:
            document = run_backtest(history, settings, progress=throttled(stderr))
        else:
            document = run_holdout(history, settings, request.holdout, progress=throttled(stderr))
    except BacktestInputError as exc:
        print(f"error: {exc}", file=stderr)
        return EXIT_INVALID
    if request.json:
        write_json(document, request.json)
        print(f"wrote {request.json}", file=stderr)
    if request.html:
        write_html(document, request.html)
        print(f"wrote {request.html}", file=stderr)
    print(text_table(document))
    for note in document["notes"]:
        print(f"note: {note}")
    return 0
