"""Which files in a job's input are tables: Parquet by content, CSV by name, markers passed over,
anything else refused by name."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from training_containers.files import UnrecognisedFile, list_tables, read_tables, table_files

FRAME = pd.DataFrame({"id": [1, 2, 3], "amount": [1.5, 2.5, 3.5]})


def test_parquet_without_extension_is_read_by_content(tmp_path: Path) -> None:
    FRAME.to_parquet(tmp_path / "0000_part_00", index=False)  # as Redshift UNLOAD names its files
    FRAME.to_parquet(tmp_path / "20260101_000000_00001_abcde_5f0e", index=False)  # as Athena's are named
    assert [p.name for p in table_files(tmp_path)] == ["0000_part_00", "20260101_000000_00001_abcde_5f0e"]
    assert read_tables(tmp_path)["amount"].tolist() == [1.5, 2.5, 3.5, 1.5, 2.5, 3.5]


def test_markers_hidden_and_empty_files_are_passed_over(tmp_path: Path) -> None:
    FRAME.to_parquet(tmp_path / "part", index=False)
    (tmp_path / "_SUCCESS").write_bytes(b"")
    (tmp_path / "_committed_123").write_text('{"added": ["part"]}')
    (tmp_path / ".part.crc").write_bytes(b"\x00\x01")
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / ".hidden-folder").mkdir()
    (tmp_path / ".hidden-folder" / "notes.txt").write_text("scratch")
    FRAME.to_csv(tmp_path / "more.csv", index=False)
    assert [p.name for p in table_files(tmp_path)] == ["more.csv", "part"]
    assert len(read_tables(tmp_path)) == 6


def test_an_unrecognised_file_is_refused_by_name(tmp_path: Path) -> None:
    FRAME.to_parquet(tmp_path / "part", index=False)
    (tmp_path / "notes.txt").write_text("not a table")
    with pytest.raises(UnrecognisedFile, match=r"notes\.txt: not a table.*Remove it from the input"):
        read_tables(tmp_path)
    listing = list_tables(tmp_path)
    assert [p.name for p in listing.tables] == ["part"] and [p.name for p in listing.unrecognised] == ["notes.txt"]


def test_a_single_file_and_a_missing_folder(tmp_path: Path) -> None:
    FRAME.to_parquet(tmp_path / "data", index=False)
    assert len(read_tables(tmp_path / "data")) == 3
    assert read_tables(tmp_path / "absent").empty
