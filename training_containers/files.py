"""Reading and writing the tables and JSON documents jobs exchange.

Which files below a job's input folder are tables, and how each is read:
- Parquet by content, whatever the name: the file begins with the magic bytes `PAR1` (Apache
  Parquet "File Format": https://parquet.apache.org/docs/file-format/). Athena and Redshift write
  the results of a processing DatasetDefinition without a file extension (Redshift names them
  `0000_part_00`, `0001_part_00`, ...: "UNLOAD examples", Amazon Redshift Database Developer Guide,
  https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD_command_examples.html).
- CSV by name: `.csv`.
- Passed over: names starting with `_` or `.` (markers such as `_SUCCESS`, hidden temporaries: the
  convention Arrow's dataset discovery follows, `selector_ignore_prefixes` default ['.', '_'],
  https://arrow.apache.org/docs/python/generated/pyarrow.dataset.FileSystemFactoryOptions.html)
  and empty files.
- Anything else is refused with `UnrecognisedFile` naming it: a table dropped without a word would
  let a model train on part of its data.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

PARQUET_MAGIC = b"PAR1"
MARKER_PREFIXES = ("_", ".")
TableFormat = Literal["parquet", "csv"]


class UnrecognisedFile(ValueError):
    """A file among tables that is neither Parquet nor CSV nor a marker; the message names it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"{path}: not a table: neither Parquet (its first bytes are not 'PAR1') nor CSV (name does not end "
            "in .csv). Remove it from the input, or rename marker files to start with '_' or '.'"
        )


def table_format(path: Path) -> TableFormat | None:
    """'parquet' or 'csv' for a table, None for a marker, hidden or empty file; raises
    `UnrecognisedFile` for anything else."""
    if path.name.startswith(MARKER_PREFIXES) or path.stat().st_size == 0:
        return None
    with path.open("rb") as handle:
        if handle.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC:
            return "parquet"
    if path.suffix.lower() == ".parquet":
        return "parquet"  # named Parquet but not one: the reader's error says why
    if path.suffix.lower() == ".csv":
        return "csv"
    raise UnrecognisedFile(path)


@dataclass(frozen=True)
class Listing:
    """The files below a folder: tables, and files that are none (nor markers)."""

    tables: list[Path] = field(default_factory=list)
    unrecognised: list[Path] = field(default_factory=list)


def list_tables(folder: Path) -> Listing:
    """Every file below `folder` (or `folder` itself, when it is a file) sorted into tables and
    unrecognised files, in a stable order; markers, hidden and empty files are left out."""
    if folder.is_file():
        candidates = [folder]
    elif folder.exists():
        candidates = sorted(p for p in folder.rglob("*") if p.is_file() and not _hidden(p, folder))
    else:
        candidates = []
    listing = Listing()
    for path in candidates:
        try:
            if table_format(path) is not None:
                listing.tables.append(path)
        except UnrecognisedFile:
            listing.unrecognised.append(path)
    return listing


def _hidden(path: Path, folder: Path) -> bool:
    """A file inside a folder whose name starts with '_' or '.' (below `folder`) is passed over too."""
    return any(part.startswith(MARKER_PREFIXES) for part in path.relative_to(folder).parts[:-1])


def table_files(folder: Path) -> list[Path]:
    """Every table below `folder`, in a stable order; raises `UnrecognisedFile` for the first
    file that is neither a table nor a marker."""
    listing = list_tables(folder)
    if listing.unrecognised:
        raise UnrecognisedFile(listing.unrecognised[0])
    return listing.tables


def read_table_files(paths: Sequence[Path]) -> pd.DataFrame:
    """Concatenate these tables; none gives an empty frame."""
    frames = [pd.read_parquet(p) if table_format(p) == "parquet" else pd.read_csv(p) for p in paths]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def read_tables(folder: Path) -> pd.DataFrame:
    """Concatenate every table below `folder`; an empty folder gives an empty frame, a file that
    is not a table raises `UnrecognisedFile`."""
    return read_table_files(table_files(folder))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: Path, document: Any) -> None:
    """Write atomically: a reader sees the old file or the whole new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, sort_keys=True, default=_jsonable) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
