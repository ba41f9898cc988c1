"""Backtest input: clear errors for histories that cannot be replayed, and the windows."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pandas as pd
import pytest

from pipelines.backtest.history import (
    BacktestInputError,
    cut_windows,
    default_warmup,
    empty_spans,
    prepare_history,
    span_origin,
    span_text,
)
from pipelines.backtest.sweep import configured
from pipelines.config import ModelConfig
from pipelines.simulation.datagen import StreamSpec, generate


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate(StreamSpec(rows=600, days=6, seed=11))


def test_history_keeps_order_and_encodes_the_label(frame: pd.DataFrame, config: ModelConfig) -> None:
    history = prepare_history(frame, config)
    assert history.config.model.positive_class == 1
    assert history.frame["is_fraud"].tolist() == frame["is_fraud"].tolist()
    assert history.times.is_monotonic_increasing


def test_nanosecond_times_stay_inside_the_window_that_holds_them(frame: pd.DataFrame, config: ModelConfig) -> None:
    """A new user's times came from pandas with nanoseconds; a window's end (a Python datetime,
    microseconds) cut 2025-01-21 03:54:44.603344889 to ...603344, and the row fell "newer than the
    window end" of its own window: every run failed its time-window check."""
    times = pd.to_datetime(frame["event_time"]) + pd.to_timedelta(889, unit="ns")
    history = prepare_history(frame.assign(event_time=times), config)
    windows = cut_windows(history.times, 100)
    for window in windows:
        rows = history.times.iloc[window.start_row : window.stop_row]
        assert rows.max() <= pd.Timestamp(window.end).tz_localize(None)
    assert history.times.iloc[0] == times.iloc[0].floor("us")


def test_missing_label_column_is_named(frame: pd.DataFrame, config: ModelConfig) -> None:
    with pytest.raises(BacktestInputError, match=r"label column 'is_fraud' \(model.label\) is missing"):
        prepare_history(frame.drop(columns="is_fraud"), config, source="h.csv")


def test_missing_features_are_listed(frame: pd.DataFrame, config: ModelConfig) -> None:
    with pytest.raises(BacktestInputError, match=r"feature columns \['amount', 'risk_band'\]"):
        prepare_history(frame.drop(columns=["amount", "risk_band"]), config)


def test_text_in_a_numeric_feature_is_named_with_a_row_before_any_training(
    frame: pd.DataFrame, config: ModelConfig
) -> None:
    """A new user's CSV had "unknown" in a numeric column. The backtest trained, failed every
    run's type check, and said "amount is str" of a "historical" source their config did not
    have, with advice to use a larger --window."""
    amounts = frame["amount"].astype(object)
    amounts.iloc[[3, 40, 41]] = "unknown"
    with pytest.raises(BacktestInputError) as raised:
        prepare_history(frame.assign(amount=amounts), config, source="loans.csv")
    message = str(raised.value)
    # rows count as a person counts them in the file, the first after the header being row 1: a new
    # user looked up "row 3", a pandas position, and found a number there
    assert "loans.csv: feature 'amount' is numeric (model.features) but 3 rows hold text, e.g. 'unknown' (row 4)" in (
        message
    )
    assert "historical" not in message
    # empty cells are nulls, which data.checks.max_null_rate judges, not a type error
    amounts.iloc[[3, 40, 41]] = None
    assert prepare_history(frame.assign(amount=amounts), config).frame["amount"].isna().sum() == 3
    # True/False and timestamps are not numbers either: every run's type check refuses them
    flags = frame["amount"] > 100
    with pytest.raises(BacktestInputError, match=r"feature 'amount' is numeric \(model.features\) but holds bool"):
        prepare_history(frame.assign(amount=flags), config)
    with pytest.raises(BacktestInputError, match=r"feature 'amount' is numeric \(model.features\) but holds datetime"):
        prepare_history(frame.assign(amount=frame["event_time"]), config)


def test_day_first_dates_are_refused_not_read_month_first(frame: pd.DataFrame, config: ModelConfig) -> None:
    """A new user's times were written 01/02/2025 for 1 February: read month-first, the first
    twelve days of each month became twelve months, and the only error, from the later rows
    that cannot be month-first, counted those rows alone. Only ISO 8601 text is read as time."""
    day_first = frame["event_time"].dt.strftime("%d/%m/%Y %H:%M")
    with pytest.raises(BacktestInputError) as raised:
        prepare_history(frame.assign(event_time=day_first), config)
    message = str(raised.value)
    assert f"e.g. {day_first.iloc[0]!r} in {len(frame)} rows" in message
    assert "dates with day and month in either order" in message
    assert "write ISO-8601 times such as 2026-01-31T12:00:00Z" in message
    # every other form that read before still reads (a reviewer found the first fix refusing
    # them): ISO with a space and no seconds, a trailing UTC (BigQuery's CSV), month names, and
    # empty cells and "NaT" as nulls
    for form in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S UTC", "%b %d %Y %H:%M"):
        text = frame["event_time"].dt.strftime(form)
        read = prepare_history(frame.assign(event_time=text), config).times
        assert (read.to_numpy() == pd.to_datetime(text, format=form).to_numpy()).all(), form
    blanks = frame["event_time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").astype(object)
    blanks.iloc[[5, 6]] = ["", "NaT"]
    with pytest.raises(BacktestInputError, match="time column 'event_time' is empty at row 6"):
        prepare_history(frame.assign(event_time=blanks), config)


def test_unsorted_time_names_the_first_row_out_of_order(frame: pd.DataFrame, config: ModelConfig) -> None:
    swapped = frame.copy()
    swapped.loc[[10, 11], "event_time"] = swapped.loc[[11, 10], "event_time"].to_numpy()
    with pytest.raises(BacktestInputError, match=r"not in time order: row 12 .* earlier than row 11"):
        prepare_history(swapped, config)


def test_missing_time_column_suggests_row_interval(frame: pd.DataFrame, config: ModelConfig) -> None:
    with pytest.raises(BacktestInputError, match="--row-interval"):
        prepare_history(frame.drop(columns="event_time"), config)
    # a new user's table had its times under another name: the error names the columns there are
    with pytest.raises(BacktestInputError, match=r"columns: \[.*'applied_at'.*\]"):
        prepare_history(frame.rename(columns={"event_time": "applied_at"}), config)
    with pytest.raises(
        BacktestInputError, match=r"feature columns \['amount'\] \(model.features\) are missing; columns: \["
    ):
        prepare_history(frame.drop(columns="amount"), config)
    history = prepare_history(frame.drop(columns="event_time"), config, row_interval="30min", start="1996-05-07")
    assert history.times.iloc[2] == pd.Timestamp("1996-05-07 01:00")
    assert any("row order" in note for note in history.notes)


def test_numeric_time_column_needs_a_time_unit(frame: pd.DataFrame, config: ModelConfig) -> None:
    years = frame.assign(event_time=frame["event_time"].dt.year)
    with pytest.raises(BacktestInputError, match=r"h.csv: event_time holds numbers .*model.time_unit"):
        prepare_history(years, config, source="h.csv")
    seconds = frame.assign(event_time=frame["event_time"].astype("datetime64[s]").astype("int64"))
    history = prepare_history(seconds, configured(config, {"model.time_unit": "s"}))
    assert history.times.iloc[5] == frame["event_time"].iloc[5].floor("s")


def test_missing_id_column_gets_row_numbers(frame: pd.DataFrame, config: ModelConfig) -> None:
    history = prepare_history(frame.drop(columns="transaction_id"), config)
    assert history.frame["transaction_id"].iloc[3] == "row-3"


def test_string_labels_are_encoded_with_the_positive_class(frame: pd.DataFrame, config: ModelConfig) -> None:
    text = frame.assign(is_fraud=frame["is_fraud"].map({1: "UP", 0: "DOWN"}))
    history = prepare_history(text, configured(config, {"model.positive_class": "UP"}))
    assert history.frame["is_fraud"].tolist() == frame["is_fraud"].tolist()
    assert history.config.model.positive_class == 1


def test_a_numeric_label_read_as_floats_matches_an_integer_positive_class(
    frame: pd.DataFrame, config: ModelConfig
) -> None:
    """A 0/1 label column with a missing value is read as floats (0.0, 1.0, NaN). Compared as text
    with positive_class 1 ("1.0" against "1"), it was refused: "positive_class 1 never occurs"
    (a new user's trial); labels that are numbers are compared as numbers."""
    floats = frame.assign(is_fraud=frame["is_fraud"].astype("float64"))
    floats.loc[5, "is_fraud"] = None
    history = prepare_history(floats, config)
    encoded = history.frame["is_fraud"]
    assert encoded.isna().tolist() == floats["is_fraud"].isna().tolist()
    assert encoded.dropna().tolist() == floats["is_fraud"].dropna().tolist()
    assert encoded.sum() == frame["is_fraud"].drop(index=5).sum()


def test_label_must_be_binary_and_hold_the_positive_class(frame: pd.DataFrame, config: ModelConfig) -> None:
    with pytest.raises(BacktestInputError, match=r"must be binary; found 3 values .*multiclass_classification"):
        prepare_history(frame.assign(is_fraud=frame.index % 3), config)
    with pytest.raises(BacktestInputError, match="positive_class 'yes'"):
        prepare_history(frame, configured(config, {"model.positive_class": "yes"}))


def test_windows_are_consecutive_and_end_at_their_last_row(frame: pd.DataFrame, config: ModelConfig) -> None:
    history = prepare_history(frame, config)
    windows = cut_windows(history.times, 250)
    assert [(w.start_row, w.stop_row) for w in windows] == [(0, 250), (250, 500)]  # 100 tail rows unused
    assert windows[1].end.replace(tzinfo=None) == history.times.iloc[499]


def test_too_few_rows_for_one_window_is_an_error(frame: pd.DataFrame, config: ModelConfig) -> None:
    history = prepare_history(frame, config)
    with pytest.raises(BacktestInputError, match=r"600 rows: too few .* \(need at least 800\)"):
        cut_windows(history.times, 400)
    with pytest.raises(BacktestInputError, match="--window must be at least 2"):
        cut_windows(history.times, 1)


def _times(*moments: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(moments)))


def test_windows_of_a_span_of_time_follow_the_calendar_whatever_the_volume() -> None:
    """A new user's traffic was quieter at weekends: windows of a fixed row count drifted away from
    the daily monitor they stand for. A span of time cuts one window per calendar day."""
    times = _times(
        *(f"2026-01-01 {h:02d}:00" for h in (0, 6, 12, 18, 23)),  # 5 rows on day 1
        *(f"2026-01-03 {h:02d}:00" for h in (1, 9, 23)),  # none on day 2, 3 on day 3
        "2026-01-04 00:00",
        "2026-01-04 23:00",  # day 4 ends an hour (the rows' gap) before midnight
    )
    windows = cut_windows(times, timedelta(days=1))
    assert [(w.index, w.start_row, w.stop_row) for w in windows] == [(0, 0, 5), (1, 5, 8), (2, 8, 10)]
    # a span's window runs from its start to its last microsecond, whatever its rows' times
    assert windows[1].start.isoformat() == "2026-01-03T00:00:00+00:00"
    assert windows[1].end.isoformat() == "2026-01-03T23:59:59.999999+00:00"
    assert empty_spans(windows, timedelta(days=1)) == 1  # day 2


def test_a_span_the_history_stops_in_is_not_a_window() -> None:
    """A history exported at noon: its last day is half a day of traffic, left out as a row
    window's tail is."""
    times = _times(*(f"2026-01-0{d} {h:02d}:00" for d in (1, 2, 3) for h in range(0, 24, 2)), "2026-01-04 11:00")
    windows = cut_windows(times, timedelta(days=1))
    assert [(w.start_row, w.stop_row) for w in windows] == [(0, 12), (12, 24), (24, 36)]
    six_hours = cut_windows(times, timedelta(hours=6))
    # day 4's 06:00-12:00 holds 11:00 only, an hour before its end (rows come 2 hours apart): whole
    assert len(six_hours) == 13 and (six_hours[-1].start_row, six_hours[-1].stop_row) == (36, 37)


def test_a_span_of_time_must_be_positive_and_leave_windows_to_replay() -> None:
    times = _times("2026-01-01 00:00", "2026-01-01 12:00", "2026-01-01 23:00")
    for short in (timedelta(0), timedelta(seconds=59)):
        with pytest.raises(BacktestInputError, match="is shorter than a minute: no monitor runs that often"):
            cut_windows(times, short)
    with pytest.raises(BacktestInputError, match="every row has the same time"):
        cut_windows(_times("2026-01-01 00:00", "2026-01-01 00:00"), timedelta(days=1))
    with pytest.raises(BacktestInputError, match="windows of 1 minute hold a median of 1 row"):
        cut_windows(_times(*(f"2026-01-01 00:{m:02d}" for m in range(0, 20, 2))), timedelta(minutes=1))
    with pytest.raises(BacktestInputError, match=r"the history spans 1 window\(s\) of 1 day: too few for 1 warm-up"):
        cut_windows(times, timedelta(days=1))


def test_traffic_that_stops_each_evening_keeps_its_last_day_and_a_day_cut_at_six_is_left_out() -> None:
    """A reviewer's business-hours history lost its whole last day (its rows stop at 22:00, like
    every day's), and hourly rows cut at 18:00 replayed the part-day as whole."""
    business = _times(
        *(f"2026-01-0{d} {h:02d}:{m:02d}" for d in (1, 2, 3, 4) for h in range(8, 22) for m in range(0, 60, 5))
    )
    assert [w.rows for w in cut_windows(business, timedelta(days=1))] == [168, 168, 168, 168]
    hourly = _times(*(f"2026-01-0{d} {h:02d}:00" for d in (1, 2, 3) for h in range(24)), "2026-01-04 00:00")
    cut = pd.concat([hourly, _times(*(f"2026-01-04 {h:02d}:00" for h in range(1, 19)))], ignore_index=True)
    assert [w.rows for w in cut_windows(cut, timedelta(days=1))] == [24, 24, 24]


def test_spans_start_at_midnight_or_on_the_clocks_boundaries_and_read_in_whole_units() -> None:
    first = pd.Timestamp("2026-01-07 15:20")  # a Wednesday
    assert span_origin(first, timedelta(hours=6)) == pd.Timestamp("2026-01-07 12:00")
    assert span_origin(first, timedelta(days=7)) == pd.Timestamp("2026-01-07")  # weeks from the first row's day
    assert span_origin(first, timedelta(hours=5)) == pd.Timestamp("2026-01-07")  # 5 h does not divide a day
    texts = [span_text(s) for s in (timedelta(days=1), timedelta(hours=36), timedelta(minutes=90), timedelta(days=7))]
    assert texts == ["1 day", "36 hours", "90 minutes", "7 days"]


def test_default_warmup_covers_the_fresh_window(frame: pd.DataFrame, config: ModelConfig) -> None:
    history = prepare_history(frame, config, row_interval="1h")
    windows = cut_windows(history.times, 24)  # 25 windows of one day
    assert default_warmup(windows, fresh_days=2) == 2
    assert default_warmup(windows, fresh_days=1) == 1
    assert default_warmup(windows, fresh_days=30) == 12  # at most half: something must be replayed


def test_span_windows_end_a_span_apart_and_a_warmup_counts_whole_spans() -> None:
    """A new user's shadow "ran 23.96 h of the 24 h minimum" between two daily windows whose ends
    were their last rows' times, and waited a day more; and fresh_days 28 made 29 warm-up days."""
    first_day = ("2026-01-01 17:05", "2026-01-01 17:45")  # the history starts late on its first day
    later = (f"2026-01-{d:02d} {h:02d}:{m + d:02d}" for d in range(2, 11) for h in (9, 13, 17) for m in (7, 41))
    times = _times(*first_day, *later)
    windows = cut_windows(times, timedelta(days=1))
    assert {b.end - a.end for a, b in pairwise(windows)} == {timedelta(days=1)}
    assert default_warmup(windows, fresh_days=3) == 3
