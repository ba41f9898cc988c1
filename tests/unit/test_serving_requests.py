"""A CSV batch is parsed column by column by Arrow: the very columns the row-wise parser gives,
awkward values included, and the same 400 for a value either refuses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training_containers.serving import requests
from training_containers.serving.requests import BadRequest, parse
from training_containers.serving.schema import Feature

FEATURES = (Feature("amount", "numeric"), Feature("merchant", "categorical"), Feature("trust", "numeric"))
AWKWARD = [
    "12.5,grocery,0.25",
    '0.1,"quoted, with a comma",1e-3',  # a quoted field holding the separator
    "1e300,NA,",  # a pandas NA token and an empty field: missing
    "-0.0,,null",
    '3,"two\nlines",7',  # a quoted field holding a line break
    "0.30000000000000004,3,nan",  # a category that looks like a number stays text
    '2.5,"",4',  # a quoted empty field: missing, as the row-wise parser reads it
    "123456789.123456789,crypto, 5.5",  # spaces around a number
]


def body(lines: list[str], copies: int = 5) -> bytes:
    return ("\n".join(lines * copies) + "\n").encode()


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return len(a) == len(b) and all(
        (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)) or x == y
        for x, y in zip(a.tolist(), b.tolist(), strict=True)
    )


def row_wise(data: bytes, monkeypatch: pytest.MonkeyPatch) -> requests.Records:
    with monkeypatch.context() as patch:
        patch.setattr(requests, "COLUMNAR_FROM_LINES", 10**9)
        return parse(data, "text/csv", FEATURES)


def test_a_batch_gets_the_columns_the_row_wise_parser_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    data = body(AWKWARD)
    assert data.count(b"\n") >= requests.COLUMNAR_FROM_LINES
    columnar = requests._csv_columns(data.decode(), FEATURES)
    assert columnar is not None  # Arrow read it
    expected = row_wise(data, monkeypatch)
    assert columnar.count == expected.count == 40
    for feature in FEATURES:
        got, want = columnar.columns[feature.name], expected.columns[feature.name]
        assert got.dtype == want.dtype and same(got, want), feature.name
    assert parse(data, "text/csv", FEATURES).columns["merchant"].tolist()[4] == "two\nlines"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("inf,grocery,1", "CSV record 17, feature 'amount': 'inf' is not a finite number"),
        ("1_000,grocery,1", "CSV record 17, feature 'amount' is numeric: '1_000' is not a number"),
        ("1,grocery", "CSV record 17 has 2 fields; the model takes 3"),
        ("true,grocery,1", "CSV record 17, feature 'amount' is numeric: 'true' is not a number"),
    ],
)
def test_a_batch_with_a_value_either_parser_refuses_gets_the_row_wise_message(
    bad: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = AWKWARD * 2 + [bad] + AWKWARD * 3  # the bad line is CSV record 17 (the 5th line holds two)
    with pytest.raises(BadRequest) as batch:
        parse(body(lines, 1), "text/csv", FEATURES)
    with pytest.raises(BadRequest) as single:
        row_wise(body(lines, 1), monkeypatch)
    assert message in str(batch.value) and str(batch.value) == str(single.value)
