"""A SQL source runs locally on DuckDB with the same query SageMaker gives Athena."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipelines.config import ModelConfig, SqlSource
from tests.conftest import split_fresh
from training_containers.sources import run_sql_locally


def test_example_history_query_runs_on_duckdb(tmp_path: Path, config: ModelConfig, stream: pd.DataFrame) -> None:
    _, history = split_fresh(stream)
    folder = tmp_path / "history"
    folder.mkdir()
    half = len(history) // 2
    history.iloc[:half].to_parquet(folder / "part-0.parquet", index=False)
    history.iloc[half:].to_parquet(folder / "part-1.parquet", index=False)
    source = config.data.historical
    assert isinstance(source, SqlSource)

    result = run_sql_locally(source.query, {"transactions_history": folder})

    assert list(result.columns) == list(history.columns)
    assert len(result) == len(history)
    assert set(result["transaction_id"]) == set(history["transaction_id"])


def test_filters_and_aggregates_match_pandas(tmp_path: Path, stream: pd.DataFrame) -> None:
    stream.head(5000).to_csv(tmp_path / "tx.csv", index=False)
    result = run_sql_locally(
        "SELECT risk_band, count(*) AS n, avg(is_fraud) AS rate FROM tx WHERE amount > 100 GROUP BY 1 ORDER BY 1",
        {"tx": tmp_path / "tx.csv"},
    )
    expected = stream.head(5000).query("amount > 100").groupby("risk_band")["is_fraud"].agg(["count", "mean"])
    assert result["n"].tolist() == expected["count"].tolist()
    assert result["rate"].tolist() == pytest.approx(expected["mean"].tolist())


def test_parquet_without_extension_is_a_table(tmp_path: Path, stream: pd.DataFrame) -> None:
    stream.head(100).to_parquet(tmp_path / "0000_part_00", index=False)
    stream.iloc[100:300].to_parquet(tmp_path / "0001_part_00", index=False)
    result = run_sql_locally("SELECT count(*) AS n FROM tx", {"tx": tmp_path})
    assert result["n"].tolist() == [300]


def test_missing_table_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="table 'history': no Parquet or CSV files"):
        run_sql_locally("SELECT 1", {"history": tmp_path / "nothing"})
