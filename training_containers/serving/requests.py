"""Request bodies as typed columns: what `/invocations` takes, and the 4xx it answers otherwise.

    text/csv          one record per line, the features in model order, no header; an empty
                      field (or a pandas NA token such as `NA`) is a missing value
    application/json  {"instances": [record, ...]}, a list of records, or one record; a record is
                      an object {feature: value} (null for a missing value) or a list in model order

Input the model cannot take (wrong field count, a non-numeric or infinite value for a numeric
feature, a missing feature key, unreadable JSON) is a `BadRequest` naming the record and the
feature. A category the model has not seen is not an error: the model's encoders handle it.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from training_containers.serving.schema import CATEGORICAL, NUMERIC, Feature

CSV, JSON = "text/csv", "application/json"
COLUMNAR_FROM_LINES = 32  # a CSV body of this many lines or more is parsed by Arrow, column by column
# pandas.read_csv's default NA strings: capture.py reads CSV capture with them, so the server
# treats them as missing too and the monitor sees what the model saw.
NA_TOKENS = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)


class BadRequest(ValueError):
    """The request cannot be scored; the message says why (sent back with the status)."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Records:
    """A request's records as one typed array per feature, in model order: float64 for numeric
    features (NaN when missing), object (str, or NaN when missing) for categorical ones."""

    columns: dict[str, np.ndarray]
    count: int

    def frame(self) -> pd.DataFrame:
        """As the frame `features_frame` gives a pipeline in training."""
        return pd.DataFrame(self.columns)


def media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def parse(body: bytes, content_type: str, features: Sequence[Feature]) -> Records:
    """A request body as typed columns (how `features_frame` prepares training data: numeric
    columns as floats, categoricals as strings, NaN for missing values)."""
    kind = media_type(content_type) or CSV
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if kind == CSV:
        columnar = _csv_columns(text, features) if text.count("\n") >= COLUMNAR_FROM_LINES else None
        if columnar is not None:
            return columnar
        rows = _csv_rows(text, features)
    elif kind == JSON:
        rows = _json_rows(text, features)
    else:
        raise BadRequest(
            f"unsupported Content-Type {content_type!r}; send {CSV} or {JSON}", HTTPStatus.UNSUPPORTED_MEDIA_TYPE
        )
    if not rows:
        raise BadRequest("the body holds no records")
    columns: dict[str, np.ndarray] = {}
    for position, feature in enumerate(features):
        values = [row[position] for row in rows]
        columns[feature.name] = np.asarray(values, dtype="float64" if feature.type == NUMERIC else object)
    return Records(columns, len(rows))


def _csv_columns(text: str, features: Sequence[Feature]) -> Records | None:
    """A batch parsed by Arrow's CSV reader, column by column (faster than row by row from some
    tens of records); None when Arrow refuses anything or reads a value the row-wise parser
    would refuse (an infinity), so that parser answers with the record and feature named.
    Arrow reads numbers correctly rounded, as `float` does, and the same tokens as missing."""
    read, layout, convert = _arrow_options(tuple(features))
    try:
        table = pa_csv.read_csv(
            io.BytesIO(text.encode()), read_options=read, parse_options=layout, convert_options=convert
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeError):
        return None
    columns: dict[str, np.ndarray] = {}
    for feature in features:
        column = table.column(feature.name)
        if feature.type == NUMERIC:
            values = column.to_numpy(zero_copy_only=False).astype("float64")
            if np.isinf(values).any():
                return None
        else:
            values = column.to_numpy(zero_copy_only=False).astype(object)
            values[column.is_null().to_numpy(zero_copy_only=False)] = math.nan
        columns[feature.name] = values
    return Records(columns, table.num_rows) if table.num_rows else None


@functools.cache
def _arrow_options(
    features: tuple[Feature, ...],
) -> tuple[pa_csv.ReadOptions, pa_csv.ParseOptions, pa_csv.ConvertOptions]:
    """Arrow's reader settings for a schema, built once (they cost more than reading 100 records)."""
    types = {f.name: pa.float64() if f.type == NUMERIC else pa.string() for f in features}
    return (
        pa_csv.ReadOptions(column_names=list(types), use_threads=False),
        pa_csv.ParseOptions(newlines_in_values=True),
        pa_csv.ConvertOptions(
            column_types=types, null_values=sorted(NA_TOKENS), strings_can_be_null=True, quoted_strings_can_be_null=True
        ),
    )


def _order(features: Sequence[Feature]) -> str:
    return ", ".join(f.name for f in features)


def _csv_rows(text: str, features: Sequence[Feature]) -> list[list[Any]]:
    records = (
        fields
        for fields in csv.reader(io.StringIO(text))
        if fields and not (len(fields) == 1 and not fields[0].strip())
    )
    rows = []
    for number, fields in enumerate(records, 1):  # a quoted field may hold a line break
        if len(fields) != len(features):
            raise BadRequest(
                f"CSV record {number} has {len(fields)} fields; the model takes {len(features)} "
                f"features in this order, without a header: {_order(features)}"
            )
        where = f"CSV record {number}"
        rows.append([_value(field, feature, where, NA_TOKENS) for field, feature in zip(fields, features, strict=True)])
    return rows


def _json_rows(text: str, features: Sequence[Feature]) -> list[list[Any]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from exc
    except ValueError as exc:  # an integer of more digits than Python converts
        raise BadRequest(f"the body's JSON cannot be read: {exc}") from exc
    if isinstance(document, dict) and "instances" in document:
        document = document["instances"]
        if not isinstance(document, list):
            raise BadRequest('"instances" must be a list of records')
    if isinstance(document, dict):
        document = [document]
    elif isinstance(document, list) and document and not isinstance(document[0], dict | list):
        document = [document]  # one record given as a list of values
    if not isinstance(document, list):
        raise BadRequest('expected {"instances": [...]}, a list of records or one record object')
    rows = []
    for number, item in enumerate(document):
        where = f"JSON record {number}"
        if isinstance(item, dict):
            absent = [f.name for f in features if f.name not in item]
            if absent:
                raise BadRequest(f"{where} lacks features {', '.join(absent)} (send null for a missing value)")
            values = [item[f.name] for f in features]
        elif isinstance(item, list):
            if len(item) != len(features):
                raise BadRequest(
                    f"{where} has {len(item)} values; the model takes {len(features)} features "
                    f"in this order: {_order(features)}"
                )
            values = item
        else:
            raise BadRequest(f"{where} is neither an object of features nor a list of values in model order")
        rows.append([_value(value, feature, where) for value, feature in zip(values, features, strict=True)])
    return rows


def _value(value: Any, feature: Feature, where: str, missing: frozenset[str] = frozenset()) -> Any:
    """One feature value as the pipeline takes it: float or str, NaN when missing (JSON null or
    NaN, or in CSV one of `missing`). A number is what pandas reads as one (capture is read back
    with pandas): ASCII digits, no digit separators."""
    if (
        value is None
        or (isinstance(value, str) and value in missing)
        or (isinstance(value, float) and math.isnan(value))
    ):
        return math.nan
    if isinstance(value, dict | list):
        raise BadRequest(f"{where}, feature {feature.name!r}: expected a single value, got {json.dumps(value)}")
    if feature.type == CATEGORICAL:
        return value if isinstance(value, str) else str(value)
    if isinstance(value, bool):
        raise BadRequest(f"{where}, feature {feature.name!r} is numeric: got {json.dumps(value)}, send 1 or 0")
    try:
        if isinstance(value, str) and (not value.isascii() or "_" in value):
            raise ValueError(value)
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        shown = repr(value) if len(str(value)) <= 40 else f"{str(value)[:40]!r}..."
        raise BadRequest(f"{where}, feature {feature.name!r} is numeric: {shown} is not a number") from None
    if math.isinf(number):
        raise BadRequest(f"{where}, feature {feature.name!r}: {value!r} is not a finite number")
    return number
