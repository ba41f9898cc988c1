"""Data checks on the pulled window, as pure functions over data frames.

Each check gives a `CheckResult` with what was observed and the threshold, so the pipeline's
FailStep message can name the check. Checks that need columns the schema check found missing
are reported as skipped rather than crashing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from pipelines.config import FeatureType, ModelConfig, TimeUnit


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    message: str
    observed: Any = None
    threshold: Any = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Window:
    """The fresh window (start, end]: `end` is DataWindowEnd. Labels have settled for the rows up
    to `labels_until` (end less `data.window.label_delay_days`); newer rows await theirs."""

    start: pd.Timestamp
    end: pd.Timestamp
    labels_until: pd.Timestamp

    def labelled(self, times: pd.Series) -> pd.Series:
        """Which of `times` the fresh window trains on: inside it, with settled labels."""
        return (times > self.start) & (times <= self.labels_until)


def required_columns(config: ModelConfig) -> list[str]:
    m = config.model
    return [m.id_column, m.time_column, *m.feature_names, m.label]


def check_schema(frame: pd.DataFrame, config: ModelConfig, source: str) -> list[CheckResult]:
    """Columns present, numeric features numeric, time parseable, label binary."""
    results = []
    missing = [c for c in required_columns(config) if c not in frame.columns]
    results.append(
        CheckResult(
            name="schema_columns",
            passed=not missing,
            observed=missing,
            threshold=[],
            message=f"{source}: missing columns {missing}" if missing else f"{source}: all columns present",
        )
    )
    if missing:
        return results

    wrong = {}
    for feature in config.model.features:
        dtype = frame[feature.name].dtype
        if feature.type is FeatureType.numeric and not is_number_dtype(dtype):
            wrong[feature.name] = f"{dtype} (expected numeric)" + _text_example(frame[feature.name])
    try:
        parse_times(frame[config.model.time_column], config.model.time_unit)
    except TimeColumnError as exc:
        wrong[config.model.time_column] = str(exc)
    label_error = _label_values(frame[config.model.label], config)
    if label_error:
        wrong[config.model.label] = label_error
    results.append(
        CheckResult(
            name="schema_dtypes",
            passed=not wrong,
            observed=wrong,
            threshold={},
            message=(
                f"{source}: wrong types: "
                + ", ".join(v if k == config.model.time_column else f"{k} is {v}" for k, v in wrong.items())
                if wrong
                else f"{source}: column types as configured"
            ),
        )
    )
    return results


def is_number_dtype(dtype: Any) -> bool:
    """A dtype a numeric feature may have: numbers, not booleans."""
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def as_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """`values` as float64 numbers (null stays null), and which of them were text instead."""
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers.astype("float64"), numbers.isna() & values.notna()


def _text_example(values: pd.Series) -> str:
    """How many of a numeric feature's values are not numbers, and the first of them."""
    _, text = as_numbers(values)
    if not text.any():
        return ""
    first = values[text].iloc[0]
    return f": {int(text.sum())} rows hold text, e.g. {str(first)[:40]!r}"


def check_history_present(history: pd.DataFrame | None) -> CheckResult:
    """A configured `data.historical` that delivers no rows is a failure, not "no history": the
    model would otherwise train on the fresh window alone without anyone noticing."""
    rows = 0 if history is None else len(history)
    return CheckResult(
        name="historical_rows",
        passed=rows > 0,
        observed=rows,
        threshold=1,
        message=(
            f"historical input holds {rows} rows"
            if rows
            else "data.historical is configured but its input holds no rows: check that its query or prefix "
            "returns data (files are read as Parquet by content, or as .csv), or remove data.historical "
            "to train on the fresh window alone"
        ),
    )


class TimeColumnError(ValueError):
    """The time column cannot be read as timestamps; the message names it and says what to do."""


def parse_times(values: pd.Series, unit: TimeUnit | None) -> pd.Series:
    """The time column as timezone-naive UTC timestamps (nulls stay null). Timestamps and text
    that parses as one are taken as they are, except dates of numbers alone, whose day and month
    order is ambiguous; numbers only with `unit` (model.time_unit), as
    epoch times in that unit. Raises `TimeColumnError` naming the column otherwise."""
    column = values.name
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = pd.to_datetime(values, utc=True)
    elif pd.api.types.is_bool_dtype(values.dtype):
        raise TimeColumnError(f"{column} holds booleans, not timestamps (model.time_column)")
    elif pd.api.types.is_numeric_dtype(values.dtype):
        if unit is None:
            raise TimeColumnError(
                f"{column} holds numbers ({values.dtype}), not timestamps (model.time_column): if they are "
                "epoch times, set model.time_unit to s, ms, us or ns; a year or a counter is not a time, "
                "give a timestamp column"
            )
        try:
            parsed = pd.to_datetime(values, unit=unit, utc=True)
        except (ValueError, OverflowError) as exc:
            raise TimeColumnError(
                f"{column} holds numbers out of range as epoch {unit} (model.time_unit): {exc}"
            ) from None
    else:
        text = values.astype("string").str.strip()
        _refuse_numeric_dates(text, column)
        blank = text.isin(["", "NaT"]).fillna(False).astype(bool)
        values = values.astype(object).where(~blank, None)  # empty text is a missing time, as an empty cell is
        parsed = pd.to_datetime(values, errors="coerce", utc=True)
        bad = parsed.isna() & values.notna()
        if bad.any():
            example = values[bad].iloc[0]
            raise TimeColumnError(
                f"{column} has values that are not timestamps (model.time_column), e.g. {str(example)[:40]!r} "
                f"in {int(bad.sum())} rows: write ISO-8601 times such as 2026-01-31T12:00:00Z"
            )
    return parsed.dt.tz_localize(None)


# A date written with numbers only, day and month in either order: 01/02/2025, 1.2.25, 01-02-2025
NUMERIC_DATE = r"^\s*\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}\b"


def _refuse_numeric_dates(text: pd.Series, column: Any) -> None:
    """Refuse dates like 01/02/2025 in `text` (the column as stripped text). pandas infers their
    format from the first value and reads them month-first: a new user's 1 February became 2
    January, without a word, in every row whose day is 12 or less. Which order a file meant cannot
    be told from it."""
    numeric = text.str.match(NUMERIC_DATE, na=False)
    if numeric.any():
        raise TimeColumnError(
            f"{column} has dates with day and month in either order (model.time_column), e.g. "
            f"{str(text[numeric].iloc[0])[:40]!r} in {int(numeric.sum())} rows: is 01/02 the 1st of February or "
            "the 2nd of January? write ISO-8601 times such as 2026-01-31T12:00:00Z"
        )


def normalise_time(frame: pd.DataFrame, column: str, unit: TimeUnit | None = None) -> pd.DataFrame:
    """The time column as timezone-naive UTC timestamps (see `parse_times`)."""
    return frame.assign(**{column: parse_times(frame[column], unit)})


def check_fresh_window(fresh: pd.DataFrame, config: ModelConfig, window: Window | None) -> list[CheckResult]:
    checks = config.data.checks
    results = []
    rows = awaiting = 0
    if window is not None:
        times = fresh[config.model.time_column]
        rows = int(window.labelled(times).sum())
        awaiting = int(((times > window.labels_until) & (times <= window.end)).sum())
    message = f"fresh window holds {rows} rows; at least {checks.min_rows} required"
    if awaiting:
        message += (
            f" ({awaiting} newer rows await their labels: data.window.label_delay_days is "
            f"{config.data.window.label_delay_days:g})"
        )
    results.append(
        CheckResult(
            name="row_count",
            passed=rows >= checks.min_rows,
            observed=rows,
            threshold=checks.min_rows,
            message=message,
            details={"awaiting_labels": awaiting},
        )
    )
    if window is None or len(fresh) == 0:
        return results

    results.append(_time_window(fresh[config.model.time_column], config, window))
    if config.model.problem_type != "binary_classification":
        return results  # label_rate is a positive rate: a binary classifier's
    labels = fresh.loc[window.labelled(fresh[config.model.time_column]), config.model.label].dropna()  # settled only
    rate = float((labels == config.model.positive_class).mean()) if len(labels) else 0.0
    low, high = checks.label_rate
    results.append(
        CheckResult(
            name="label_rate",
            passed=low <= rate <= high,
            observed=round(rate, 6),
            threshold=[low, high],
            message=f"label rate {rate:.4f} must lie in [{low}, {high}]",
        )
    )
    return results


def _time_window(time: pd.Series, config: ModelConfig, window: Window) -> CheckResult:
    """Fresh rows outside the window: how many, how old, and what to do about them."""
    limit = config.data.checks.max_outside_window_rate
    older, newer = time <= window.start, time > window.end
    count = int((older | newer).sum())
    outside = count / len(time)
    parts = []
    if older.any():
        oldest = time[older].min()
        days = (window.start - oldest) / pd.Timedelta(days=1)
        parts.append(
            f"{int(older.sum())} older than the window start, the oldest at {oldest.isoformat()} "
            f"({days:.1f} days before the start)"
        )
    if newer.any():
        parts.append(f"{int(newer.sum())} newer than the window end (DataWindowEnd)")
    message = (
        f"{count} of {len(time)} fresh rows ({outside:.2%}) fall outside the window "
        f"({window.start.isoformat()}, {window.end.isoformat()}]" + (": " + "; ".join(parts) if parts else "")
    )
    message += f"; at most {limit:.2%} allowed (data.checks.max_outside_window_rate)"
    if outside > limit:
        message += (
            f". Rows outside the window are not trained on as fresh data: move older rows to data.historical "
            f"(fresh should hold the last {config.data.window.fresh_days} days), or raise "
            "data.checks.max_outside_window_rate to drop them without failing"
        )
    return CheckResult(
        name="time_window", passed=outside <= limit, observed=round(outside, 6), threshold=limit, message=message
    )


def check_null_rates(frames: dict[str, pd.DataFrame], config: ModelConfig) -> CheckResult:
    """Null rates per source, so a burst in the fresh window is not diluted by long history."""
    checks = config.data.checks
    over_null = {}
    unlabelled = False
    for source, frame in frames.items():
        if len(frame) == 0:
            continue
        for column in [*config.model.feature_names, config.model.label]:
            limit = checks.max_null_rate
            if column in config.model.feature_names:
                own = config.model.feature(column).max_null_rate
                limit = own if own is not None else limit
            rate = float(frame[column].isna().mean())
            if rate > limit:
                over_null[f"{source}.{column}"] = {"observed": round(rate, 6), "threshold": limit}
                unlabelled = unlabelled or column == config.model.label
    message = "null rates within limits"
    if over_null:
        message = "null rate too high: " + ", ".join(
            f"{c} {v['observed']:.2%} > {v['threshold']:.2%}" for c, v in over_null.items()
        )
    if unlabelled:
        message += (
            f"; rows without a label cannot be trained on: where labels come late, give the training sources "
            f"only rows whose label '{config.model.label}' has come (the newest rows wait for the next run)"
        )
    return CheckResult(
        name="null_rate", passed=not over_null, observed=over_null, threshold=checks.max_null_rate, message=message
    )


def category_labels(values: pd.Series) -> pd.Series:
    """Categorical values as the text the config's `categories` hold: whole numbers without a
    decimal point, so code 1 matches 1 and 1.0 (a column of codes with nulls reads as floats)."""
    if pd.api.types.is_float_dtype(values.dtype) and bool((values.dropna() % 1 == 0).all()):
        return values.astype("Int64").astype(str)
    return values.astype(str)


def check_contents(frame: pd.DataFrame, config: ModelConfig) -> list[CheckResult]:
    """Value ranges and duplicate ids over everything that will train the model."""
    checks = config.data.checks
    results: list[CheckResult] = []
    if len(frame) == 0:
        return results

    out_of_range = {}
    for feature in config.model.features:
        values = frame[feature.name].dropna()
        if len(values) == 0:
            continue
        if feature.type is FeatureType.numeric:
            bad = pd.Series(False, index=values.index)
            if feature.min is not None:
                bad |= values < feature.min
            if feature.max is not None:
                bad |= values > feature.max
        elif feature.categories is not None:
            bad = ~category_labels(values).isin(feature.categories)
        else:
            continue
        rate = float(bad.mean())
        if rate > checks.max_out_of_range_rate:
            example = values[bad].iloc[0]
            out_of_range[feature.name] = {
                "observed": round(rate, 6),
                "example": example.item() if hasattr(example, "item") else str(example),
            }
    results.append(
        CheckResult(
            name="value_range",
            passed=not out_of_range,
            observed=out_of_range,
            threshold=checks.max_out_of_range_rate,
            message=(
                "values out of range: "
                + ", ".join(f"{c} {v['observed']:.2%} (e.g. {v['example']})" for c, v in out_of_range.items())
                if out_of_range
                else "values inside configured ranges"
            ),
        )
    )

    duplicates = int(frame[config.model.id_column].duplicated().sum())
    results.append(
        CheckResult(
            name="duplicate_ids",
            passed=duplicates <= checks.max_duplicate_ids,
            observed=duplicates,
            threshold=checks.max_duplicate_ids,
            message=(
                f"{duplicates} duplicate {config.model.id_column} values; at most {checks.max_duplicate_ids} allowed"
            ),
        )
    )
    return results


def failure_message(results: list[CheckResult]) -> str:
    failed = [r for r in results if not r.passed]
    if not failed:
        return ""
    return "DataValidation failed: " + "; ".join(f"{r.name}: {r.message}" for r in failed)


def _label_values(labels: pd.Series, config: ModelConfig) -> str:
    """What is wrong with the label column's values for the problem type ('' when nothing): 0/1
    or the positive class for a binary classifier, numbers for a regression; any class names a
    multiclass one."""
    present = labels.dropna()
    if config.model.problem_type == "binary_classification":
        allowed = {0, 1, config.model.positive_class}
        unexpected = set(present.unique().tolist()) - allowed
        return f"values {sorted(map(str, unexpected))[:5]} (expected 0/1)" if unexpected else ""
    if config.model.problem_type == "regression":
        numbers = pd.to_numeric(present, errors="coerce")
        bad = present[numbers.isna()]
        return f"values {sorted(map(str, bad.unique()))[:5]} (a regression's label is a number)" if len(bad) else ""
    return ""
