"""The column-wise capture parser (Arrow) against the general row-wise one, value for value, on
CSV capture with the faults production shows: short and long records, non-numbers, nulls, empty
answers, missing inference ids."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.config import ModelConfig
from training_containers import capture
from training_containers.capture import CaptureStats, parse_capture, read_capture_file


def _line(body: str, answer: str | None, index: int, inference_id: bool = True) -> str:
    metadata = {"eventId": f"e{index}", "inferenceTime": f"2026-03-01T10:{index % 60:02d}:00Z"}
    if inference_id:
        metadata["inferenceId"] = f"i{index}"
    output = {"observedContentType": "text/csv", "mode": "OUTPUT", "encoding": "CSV"}
    if answer is not None:
        output["data"] = answer
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": body, "encoding": "CSV"},
                "endpointOutput": output,
            },
            "eventMetadata": metadata,
            "eventVersion": "0",
        }
    )


@pytest.fixture
def capture_file(tmp_path: Path, config: ModelConfig) -> Path:
    good = "22.05,electronics,19,552.1,2.32,1,0,0.7161,medium"
    lines = [
        _line(good, "0.25", 0),
        _line("31.5,grocery,,12,1.1,0,1,NA,low", "0.5", 1),  # nulls
        _line("abc,grocery,3,12,1.1,0,1,0.2,low", "0.75", 2),  # a non-number
        _line("1,2,3", "0.1", 3),  # too few fields
        _line(good + ",extra", "0.1", 4),  # too many
        _line(good, "", 5),  # no answer
        _line(good, None, 6),  # no output at all
        _line(good, " 0.125 ", 7, inference_id=False),  # the event id names it
        _line(",,,,,,,,", "not a score", 8),
    ]
    path = tmp_path / "capture.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_column_parser_reads_what_the_row_parser_reads(capture_file: Path, config: ModelConfig) -> None:
    fast_stats = CaptureStats()
    fast = capture._fast_capture(
        capture._read_jsonl_table(capture_file, capture.CAPTURE_SCHEMA, fast_stats), config, fast_stats
    )
    assert fast is not None
    slow_stats = CaptureStats()
    raw = capture._read_jsonl(capture_file, capture.CAPTURE_SCHEMA, slow_stats)
    slow = parse_capture(raw, config, slow_stats)
    assert fast_stats.as_dict() == slow_stats.as_dict()
    assert fast_stats.skipped == 2 and len(fast) == 7
    assert list(fast.columns) == list(slow.columns)
    for column in fast.columns:
        left, right = fast[column].reset_index(drop=True), slow[column].reset_index(drop=True)
        if pd.api.types.is_float_dtype(right):
            np.testing.assert_array_equal(left.to_numpy(dtype=float), right.to_numpy(dtype=float), err_msg=column)
        else:
            assert (
                left.astype(object).where(left.notna(), None).tolist()
                == right.astype(object).where(right.notna(), None).tolist()
            ), column
    assert fast["inference_id"].tolist()[-2:] == ["e7", "i8"]
    assert np.isnan(fast.loc[1, "hour_of_day"]) and np.isnan(fast.loc[2, "amount"])


def test_a_file_the_column_parser_does_not_cover_goes_to_the_row_parser(
    tmp_path: Path, config: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "two-records.jsonl"
    body = "22.05,electronics,19,552.1,2.32,1,0,0.7161,medium"
    path.write_text(_line(body + "\n" + body, "0.1\n0.2", 0) + "\n")
    general = []
    monkeypatch.setattr(capture, "parse_capture", lambda *a: general.append(1) or pd.DataFrame({"x": [1, 2]}))
    read_capture_file(path, config, CaptureStats())
    assert general == [1]


@pytest.mark.parametrize(
    ("bodies", "kept", "skipped"),
    [
        (["1,2,3"], 0, 1),  # a one-request smoke test: no record fits
        (["22.05,electronics,19,552.1,2.32,1,0,0.7161,medium", '96.42,"grocery,9,1,1,1,1,0.1,low'], 1, 1),
        (["22.05,electronics,19,552.1,2.32,1,0,0.7161,high \t"], 1, 0),  # trailing blanks are stripped
    ],
    ids=["no-record-fits", "unclosed-quote", "trailing-blanks"],
)
def test_a_bad_record_is_skipped_alone_never_the_file(
    tmp_path: Path, config: ModelConfig, bodies: list[str], kept: int, skipped: int
) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text("\n".join(_line(body, "0.5", n) for n, body in enumerate(bodies)) + "\n")
    stats = CaptureStats()
    frames = read_capture_file(path, config, stats)
    rows = sum(len(frame) for frame in frames)
    assert (rows, stats.skipped) == (kept, skipped)
    if kept:
        assert set(frames[0]["risk_band"].dropna()) <= {"medium", "high"}
