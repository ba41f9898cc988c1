"""Reading the CLI's reference and current tables: their score column, and their binary label's
classes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.errors import InputError

PREDICTION = "prediction"  # the column the drift report reads the score from


class DriftInputError(InputError):
    """A reference or current table cannot be read, or lacks a column the user named."""


def label_classes(values: pd.Series, positive_class: int | str) -> tuple[list[str], str, bool]:
    """A binary label's classes as text, the positive class as text, and whether they compare as
    numbers: labels that are all numbers meet a numeric positive class as numbers (1.0 and 1 are
    "1"); anything else is compared as text. The drift command and the backtest check with it."""
    present = values.dropna()
    numeric = not isinstance(positive_class, str) and bool(pd.to_numeric(present, errors="coerce").notna().all())
    if numeric:
        present = pd.to_numeric(present)

    def name(value: object) -> str:
        return f"{float(value):g}" if numeric else str(value)  # type: ignore[arg-type]

    return sorted({name(v) for v in present.unique()}), name(positive_class), numeric


PARQUET_MAGIC = b"PAR1"  # first bytes of every Parquet file: https://parquet.apache.org/docs/file-format/


def read_frame(path: str | Path) -> pd.DataFrame:
    """A Parquet file (recognised by content, whatever its name: .pq, none, ...) or a .csv file."""
    source = Path(path)
    if not source.is_file():
        raise DriftInputError(f"{source}: no such file")
    suffix = source.suffix.lower()
    with source.open("rb") as handle:
        parquet = handle.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC or suffix == ".parquet"
    try:
        if parquet:
            return pd.read_parquet(source)
        if suffix == ".csv":
            return pd.read_csv(source)
    except (OSError, ValueError) as exc:
        raise DriftInputError(f"{source}: cannot read ({type(exc).__name__}: {exc})") from None
    raise DriftInputError(
        f"{source}: expected a .parquet or .csv file: it is not Parquet (its first bytes are not 'PAR1') "
        f"and its name ends in '{suffix or 'no suffix'}', not .csv"
    )


def score_column(frame: pd.DataFrame, which: str, column: str, *, named: bool) -> pd.DataFrame:
    """`frame` with the model's positive-class score in `prediction` (the column the drift report
    reads), taken from `column`. A `prediction` column that holds only 0 and 1 is a predicted class,
    not a score: it is refused unless the user named it (`--score-column prediction`)."""
    if column not in frame.columns:
        if named:
            raise DriftInputError(f"{which} table has no column '{column}' (--score-column); columns: {list(frame)}")
        return frame
    values = frame[column]
    if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_numeric_dtype(values.dtype):
        raise DriftInputError(f"{which} table: score column '{column}' holds {values.dtype}, not numbers")
    if not named and values.notna().any() and values.dropna().isin([0, 1]).all():
        raise DriftInputError(
            f"{which} table: column '{column}' holds only 0 and 1: a predicted class, not the score the drift "
            f"of predictions is measured on. Give --score-column NAME for the positive-class score, or "
            f"--score-column {column} to use it anyway"
        )
    if column == PREDICTION:
        return frame
    return frame.drop(columns=PREDICTION, errors="ignore").rename(columns={column: PREDICTION})
