"""Reading the CLI's reference and current tables, and writing a report atomically."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.errors import PipelinesError


class DriftInputError(PipelinesError):
    """A reference or current table cannot be read."""


def read_frame(path: str | Path) -> pd.DataFrame:
    """A Parquet or CSV file (by suffix) as a frame."""
    source = Path(path)
    if not source.exists():
        raise DriftInputError(f"{source}: no such file")
    suffix = source.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(source)
        if suffix == ".csv":
            return pd.read_csv(source)
    except (OSError, ValueError) as exc:
        raise DriftInputError(f"{source}: cannot read ({type(exc).__name__}: {exc})") from None
    raise DriftInputError(f"{source}: expected a .parquet or .csv file, got '{suffix or 'no suffix'}'")


def write_report(report: Mapping[str, Any], path: str | Path) -> Path:
    """Write JSON atomically: a reader sees the old file or the whole new one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, allow_nan=False) + "\n"
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, target)
    return target
