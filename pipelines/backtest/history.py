"""The labelled history a backtest replays, checked once and cut into windows.

Any CSV or Parquet table works when the config describes it: the features, the label and a time
order. Rows must already be in time order (a backtest on shuffled rows would leak the future into
training, so an out-of-order row is an error, not something to fix silently). A table without a
time column (Elec2) gets one from its row order with `row_interval`; a table without the id column
gets row-number ids (ids only serve the duplicate check). A binary classifier's label is encoded
0/1 with the config's `positive_class` as 1, and the backtest uses a config copy whose
`positive_class` is 1, so string labels ("UP"/"DOWN") pass the same data checks as 0/1 ones; a
regression's label must be numbers, a multiclass one's classes are kept as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import FeatureType, ModelConfig, TimeUnit
from pipelines.drift.files import DriftInputError, label_classes, read_frame
from pipelines.errors import InputError
from training_containers.validation import TimeColumnError, as_numbers, is_number_dtype, parse_times


class BacktestInputError(InputError):
    """The history or the backtest settings cannot be replayed; the message says what to change."""


@dataclass(frozen=True)
class Window:
    """Rows [start_row, stop_row) of the history, over [start, end]. A window of rows runs from its
    first row's time to its last's; a span of time from the span's start to the last microsecond
    before its end, when a monitor on that schedule runs (times are read to the microsecond: every
    row of the span is at or before it, none of the next). At `end` the monitor runs, the retrain
    trigger decides and a retraining run starts."""

    index: int
    start_row: int
    stop_row: int
    start: datetime
    end: datetime

    @property
    def rows(self) -> int:
        return self.stop_row - self.start_row


@dataclass(frozen=True)
class History:
    frame: pd.DataFrame  # time-ordered; label 0/1; time column naive UTC; id column present
    config: ModelConfig  # the user's config with positive_class 1 (the label is encoded)
    source: str
    notes: tuple[str, ...] = ()

    @property
    def times(self) -> pd.Series:
        return self.frame[self.config.model.time_column]


def load_history(
    path: str | Path, config: ModelConfig, *, row_interval: str | None = None, start: str = "2000-01-01"
) -> History:
    try:
        frame = read_frame(path)
    except DriftInputError as exc:
        raise BacktestInputError(str(exc)) from None
    return prepare_history(frame, config, source=str(path), row_interval=row_interval, start=start)


def prepare_history(
    frame: pd.DataFrame,
    config: ModelConfig,
    *,
    source: str = "<history>",
    row_interval: str | None = None,
    start: str = "2000-01-01",
) -> History:
    model = config.model
    notes: list[str] = []
    if model.label not in frame.columns:
        raise BacktestInputError(
            f"{source}: label column '{model.label}' (model.label) is missing; "
            f"columns: {sorted(map(str, frame.columns))}"
        )
    missing = [name for name in model.feature_names if name not in frame.columns]
    if missing:
        raise BacktestInputError(
            f"{source}: feature columns {missing} (model.features) are missing; "
            f"columns: {sorted(map(str, frame.columns))}"
        )
    if len(frame) == 0:
        raise BacktestInputError(f"{source}: the table holds no rows")
    frame = frame.reset_index(drop=True)
    frame = frame.assign(**_numeric_features(frame, config, source))
    # to microseconds: window ends and every time the trigger and the checks compare are Python
    # datetimes, and a row at ...603344889 ns lay after the end (...603344) of its own window
    times = _times(frame, model.time_column, model.time_unit, source, row_interval, start).dt.floor("us")
    frame = frame.assign(**{model.time_column: times})
    if row_interval is not None:
        notes.append(f"time column '{model.time_column}' derived from row order: {start} + row x {row_interval}")
    _check_order(frame[model.time_column], source, model.time_column)
    if model.id_column not in frame.columns:
        frame[model.id_column] = [f"row-{i}" for i in range(len(frame))]
        notes.append(f"id column '{model.id_column}' absent: row numbers used")
    if model.problem_type == "regression":
        frame[model.label] = numeric_label(frame[model.label], source, model.label)
        return History(frame=frame, config=config, source=source, notes=tuple(notes))
    if model.problem_type == "multiclass_classification":
        return History(frame=frame, config=config, source=source, notes=tuple(notes))
    frame[model.label] = encode_label(frame[model.label], model.positive_class, source, model.label)
    binary = config.model_copy(update={"model": model.model_copy(update={"positive_class": 1})})
    return History(frame=frame, config=binary, source=source, notes=tuple(notes))


def _times(
    frame: pd.DataFrame, column: str, unit: TimeUnit | None, source: str, row_interval: str | None, start: str
) -> pd.Series:
    if row_interval is not None:
        try:
            step = pd.Timedelta(row_interval)
        except ValueError:
            raise BacktestInputError(f"--row-interval {row_interval!r} is not a duration (e.g. 30min, 1h)") from None
        if step <= pd.Timedelta(0):
            raise BacktestInputError(f"--row-interval must be positive, got {row_interval!r}")
        return pd.Series(pd.Timestamp(start) + step * np.arange(len(frame)), index=frame.index)
    if column not in frame.columns:
        raise BacktestInputError(
            f"{source}: time column '{column}' (model.time_column) is missing; columns: "
            f"{sorted(map(str, frame.columns))}; if the rows are in time order at a fixed interval and have no time, "
            "give --row-interval (e.g. 30min) to derive it"
        )
    try:
        times = parse_times(frame[column], unit)
    except TimeColumnError as exc:
        raise BacktestInputError(f"{source}: {exc}") from None
    if times.isna().any():
        row = int(np.flatnonzero(times.isna().to_numpy())[0])
        raise BacktestInputError(f"{source}: time column '{column}' is empty at {_row(row)}")
    return times


def _row(position: int) -> str:
    """A row as a person counts it in the file: the first after the header is row 1."""
    return f"row {position + 1}"


def _check_order(times: pd.Series, source: str, column: str) -> None:
    values = times.to_numpy()
    backwards = np.flatnonzero(values[1:] < values[:-1])
    if backwards.size:
        row = int(backwards[0]) + 1
        raise BacktestInputError(
            f"{source}: rows are not in time order: {_row(row)} ({times.iloc[row]}) is earlier than {_row(row - 1)} "
            f"({times.iloc[row - 1]}); sort the table by '{column}' first"
        )


def _numeric_features(frame: pd.DataFrame, config: ModelConfig, source: str) -> dict[str, pd.Series]:
    """The numeric features read as text (a CSV column with a word in it) as numbers, or an error
    naming the feature and its first row of text. Checked here, once, because every retraining
    run's type check would otherwise fail on it, far from the cause."""
    converted = {}
    for feature in config.model.features:
        values = frame[feature.name]
        if feature.type is not FeatureType.numeric or is_number_dtype(values.dtype):
            continue
        if not _text(values.dtype):  # True/False, timestamps: DataPull's type check refuses them too
            raise BacktestInputError(
                f"{source}: feature '{feature.name}' is numeric (model.features) but holds {values.dtype}: "
                "write numbers (0/1 for a flag) or declare the feature categorical"
            )
        numbers, texts, row = _as_numbers(values)
        if texts:
            raise BacktestInputError(
                f"{source}: feature '{feature.name}' is numeric (model.features) but {texts} rows hold "
                f"text, e.g. {values.iloc[row]!r} ({_row(row)}): leave unknown values empty (nulls, which "
                "data.checks.max_null_rate judges) or declare the feature categorical"
            )
        converted[feature.name] = numbers
    return converted


def _text(dtype: Any) -> bool:
    """Values that may hold numbers written as text: objects, strings, categories."""
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def _as_numbers(values: pd.Series) -> tuple[pd.Series, int, int]:
    """`values` as numbers (`as_numbers`), how many values are text instead, and the first row
    holding text (0 when none does)."""
    numbers, text = as_numbers(values)
    rows = np.flatnonzero(text.to_numpy())
    return numbers, len(rows), int(rows[0]) if len(rows) else 0


def numeric_label(values: pd.Series, source: str, column: str) -> pd.Series:
    """A regression's label as numbers (null stays null); anything else is an error naming a row."""
    numbers, texts, row = _as_numbers(values)
    if texts:
        raise BacktestInputError(
            f"{source}: label '{column}' of a regression must be numbers; {_row(row)} holds {values.iloc[row]!r}"
        )
    return numbers


def encode_label(values: pd.Series, positive_class: int | str, source: str, column: str) -> pd.Series:
    """1 for the positive class, 0 for the other, null stays null. Exactly two classes. Labels that
    are all numbers meet a numeric positive class as numbers (a 0/1 column with a missing value
    is read as 0.0/1.0); anything else is compared as text."""
    classes, positive_name, numeric = label_classes(values, positive_class)
    if numeric:
        values = pd.to_numeric(values, errors="coerce")
    if len(classes) > 2:
        raise BacktestInputError(
            f"{source}: label '{column}' must be binary; found {len(classes)} values {classes[:6]}: set "
            "model.problem_type to multiclass_classification for more classes, or map the label to two"
        )
    if positive_name not in classes:
        raise BacktestInputError(
            f"{source}: positive_class {positive_class!r} (model.positive_class) never occurs in label '{column}'; "
            f"values: {classes}"
        )
    positive = values == float(positive_class) if numeric else values.astype(str) == str(positive_class)
    encoded = positive.astype("int64")
    if values.isna().any():
        return encoded.astype("float64").where(values.notna())
    return encoded


def cut_windows(times: pd.Series, size: int | timedelta, *, warmup: int = 1) -> list[Window]:
    """Consecutive windows of `size` rows, or of a span of time (`_span_windows`); a partial last
    window is left out. At least `warmup` windows to train the first model and one to replay are
    needed."""
    if isinstance(size, timedelta):
        return _span_windows(times, size, warmup)
    if size < 2:
        raise BacktestInputError(f"--window must be at least 2 rows, got {size}")
    count = len(times) // size
    if count < warmup + 1:
        raise BacktestInputError(
            f"the history holds {len(times)} rows: too few for {warmup} warm-up window(s) and one window to replay "
            f"of {size} rows each (need at least {(warmup + 1) * size}); use a smaller --window"
        )
    moments = times.to_numpy()
    return [
        Window(
            index,
            index * size,
            (index + 1) * size,
            utc_time(moments[index * size]),
            utc_time(moments[(index + 1) * size - 1]),
        )
        for index in range(count)
    ]


MIN_SPAN = timedelta(minutes=1)
TICK = timedelta(microseconds=1)  # the resolution times are read at


def _span_windows(times: pd.Series, span: timedelta, warmup: int) -> list[Window]:
    """One window per span of time that holds rows, as a monitor on a schedule sees the traffic
    whatever its volume. Spans are laid from `span_origin`. A span with no rows is no window (no
    monitor datapoint; `empty_spans` counts them). The span the history stops in is left out when
    the history was cut inside it (`_cut_short`), as a partial window of rows is."""
    if span < MIN_SPAN:
        raise BacktestInputError(
            f"--window {span_text(span) if span > timedelta(0) else span} is shorter than a minute: no monitor runs "
            "that often (a deployed one judges whole hours); give a span of a minute or more, or rows"
        )
    if times.iloc[0] == times.iloc[-1]:
        raise BacktestInputError(
            f"every row has the same time ({times.iloc[0].isoformat()}): the history spans no time to cut into "
            f"windows of {span_text(span)}; check the time column, or give --window in rows"
        )
    origin = span_origin(pd.Timestamp(times.iloc[0]), span)
    numbers = ((times - origin) // span).to_numpy(dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(numbers)) + 1]
    stops = np.r_[starts[1:], len(times)]
    ends = origin + pd.to_timedelta((numbers[stops - 1] + 1) * pd.Timedelta(span).value, unit="ns")  # span ends
    if _cut_short(ends - pd.DatetimeIndex(times.to_numpy()[stops - 1])):
        starts, stops = starts[:-1], stops[:-1]
    if len(starts) < warmup + 1:
        raise BacktestInputError(
            f"the history spans {len(starts)} window(s) of {span_text(span)}: too few for {warmup} warm-up "
            "window(s) and one window to replay; use a shorter --window (or a smaller --warmup)"
        )
    if np.median(stops - starts) < 2:
        raise BacktestInputError(
            f"windows of {span_text(span)} hold a median of {np.median(stops - starts):g} row(s): no metric or drift "
            "statistic is measured on one row; use a longer --window"
        )
    return [
        Window(
            index,
            int(start),
            int(stop),
            utc_time(origin + number * span),
            utc_time(origin + (number + 1) * span - TICK),
        )
        for index, (start, stop, number) in enumerate(zip(starts, stops, numbers[starts].tolist(), strict=True))
    ]


def _cut_short(quiet: pd.Series | np.ndarray) -> bool:
    """Whether the history stops inside its last span: `quiet` is each span's time from its last
    row to its end. The last span's is at most twice the longest of the spans before (traffic that
    stops each evening leaves each day as quiet at its end); longer, and the history was cut
    inside it. (With rows arriving at random, a whole last span is judged cut about once in n**2
    histories of n spans.)"""
    quiet = pd.to_timedelta(pd.Series(quiet))
    if len(quiet) < 2:
        return False
    return bool(quiet.iloc[-1] > 2 * quiet.iloc[:-1].max())


def span_origin(first: pd.Timestamp, span: timedelta) -> pd.Timestamp:
    """Where spans of time start: a span that divides a day at midnight UTC and every span after
    it (6h: 00:00, 06:00, ...), one that does not at the midnight of the first row's day."""
    day = first.floor("D")
    if timedelta(days=1) % span:
        return day
    return day + ((first - day) // span) * span


def next_span_row(times: pd.Series, span: timedelta, row: int) -> int:
    """The first row of the span that holds `row`, or of the next when `row` is not its first:
    where to cut the history so that neither part holds part of a span."""
    if not 0 < row < len(times):
        return row
    origin = span_origin(pd.Timestamp(times.iloc[0]), span)
    number = -((origin - times.iloc[row]) // span)  # the span at or after the row's time, rounded up
    return int(np.searchsorted(times.to_numpy(), (origin + number * span).to_datetime64(), side="left"))


def empty_spans(windows: list[Window], span: timedelta) -> int:
    """Spans of time between the first window and the last that held no row, hence no window."""
    origin = span_origin(pd.Timestamp(windows[0].start).tz_localize(None), span)
    last = (pd.Timestamp(windows[-1].start).tz_localize(None) - origin) // span
    return int(last) + 1 - len(windows)


def span_text(span: timedelta) -> str:
    """`span` in the largest whole unit: "1 day", "6 hours", "90 minutes"."""
    seconds = span.total_seconds()
    for unit, length in (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1)):
        if seconds % length == 0:
            count = int(seconds // length)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return str(span)


def default_warmup(windows: list[Window], fresh_days: float) -> int:
    """Enough windows for the first model to see a whole fresh window (`data.window.fresh_days`),
    as a production model would; at most half the windows, so there is something to replay."""
    span = timedelta(days=fresh_days)

    def covered(n: int) -> timedelta:  # up to the next window's first row: n whole windows of time
        return (windows[n].start if n < len(windows) else windows[n - 1].end) - windows[0].start

    needed = next((n for n in range(1, len(windows) + 1) if covered(n) >= span), len(windows))
    return max(1, min(needed, len(windows) // 2))


def utc_time(value: np.datetime64 | pd.Timestamp) -> datetime:
    return pd.Timestamp(value).to_pydatetime().replace(tzinfo=UTC)
