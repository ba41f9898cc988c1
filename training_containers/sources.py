"""Reading the data sources a config names.

On SageMaker every source arrives as files under a processing input (an S3 prefix, or the
result of an Athena / Redshift dataset definition). Locally a SQL source runs on DuckDB over
local files with the same query; `run_sql_locally` is what the local runtime calls to
materialise such an input.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from training_containers.files import table_files, table_format


def run_sql_locally(query: str, tables: dict[str, Path]) -> pd.DataFrame:
    """Run `query` on DuckDB with each name in `tables` bound to the Parquet/CSV files below
    its path (Parquet recognised by content, as the jobs read it: `training_containers.files`).
    Nothing outside these files is reachable from the query."""
    connection = duckdb.connect(database=":memory:")
    try:
        for name, folder in tables.items():
            files = table_files(folder)
            if not files:
                raise FileNotFoundError(f"table {name!r}: no Parquet or CSV files under {folder}")
            parquet = [str(f) for f in files if table_format(f) == "parquet"]
            csv = [str(f) for f in files if table_format(f) == "csv"]
            reader = (
                connection.read_parquet(parquet, union_by_name=True)
                if parquet
                else connection.read_csv(csv, union_by_name=True)  # type: ignore[arg-type]  # a list works; stubs say one
            )
            connection.register(name, reader)
        return connection.execute(query).df()
    finally:
        connection.close()
