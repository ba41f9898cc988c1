"""A local stand-in for CloudWatch metrics: one SQLite file, written atomically.

`put_metric_data` takes the same keyword arguments as boto3's CloudWatch client and enforces the
same limits (at most 1000 items per call, finite values, 1-30 dimensions), so the monitor's
publishing code runs unchanged against either, and a batching bug fails locally too. Each call
is one SQLite transaction: a reader sees all of a call's datapoints or none. WAL mode lets the
alarm evaluator read while a monitor run writes.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.errors import PipelinesError

MAX_ITEMS_PER_CALL = 1000
MAX_DIMENSIONS = 30

_SCHEMA = """
CREATE TABLE IF NOT EXISTS metric_data (
    namespace   TEXT NOT NULL,
    metric_name TEXT NOT NULL,
    dimensions  TEXT NOT NULL,
    timestamp   REAL NOT NULL,
    value       REAL NOT NULL,
    unit        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS metric_series ON metric_data (namespace, metric_name, dimensions, timestamp);
"""


class MetricDataRejected(PipelinesError):
    """A PutMetricData request CloudWatch would refuse; says which item and why."""


def canonical_dimensions(dimensions: Mapping[str, str] | Sequence[Mapping[str, str]]) -> str:
    """One text key per dimension set, whatever the order or shape it was given in."""
    pairs = {d["Name"]: d["Value"] for d in dimensions} if not isinstance(dimensions, Mapping) else dict(dimensions)
    return json.dumps(sorted(pairs.items()), separators=(",", ":"))


def _epoch(value: datetime | str | float) -> float:
    if isinstance(value, int | float):
        return float(value)
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class MetricsStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as connection, connection:
            yield connection

    def put_metric_data(
        self, *, Namespace: str, MetricData: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:  # boto3's argument names
        if not 1 <= len(MetricData) <= MAX_ITEMS_PER_CALL:
            raise MetricDataRejected(f"PutMetricData takes 1-{MAX_ITEMS_PER_CALL} items, got {len(MetricData)}")
        if Namespace.startswith("AWS/"):
            raise MetricDataRejected(f"namespace {Namespace!r} is reserved for AWS services")
        rows = []
        for index, datum in enumerate(MetricData):
            name = datum.get("MetricName")
            value = datum.get("Value")
            dimensions = datum.get("Dimensions", [])
            if not name:
                raise MetricDataRejected(f"MetricData[{index}]: MetricName is required")
            if value is None or not math.isfinite(float(value)):
                raise MetricDataRejected(f"MetricData[{index}] ({name}): Value must be a finite number, got {value!r}")
            if len(dimensions) > MAX_DIMENSIONS:
                raise MetricDataRejected(f"MetricData[{index}] ({name}): more than {MAX_DIMENSIONS} dimensions")
            timestamp = datum.get("Timestamp") or datetime.now(UTC)
            rows.append(
                (
                    Namespace,
                    name,
                    canonical_dimensions(dimensions),
                    _epoch(timestamp),
                    float(value),
                    datum.get("Unit", "None"),
                )
            )
        with self._connection() as connection:
            connection.executemany("INSERT INTO metric_data VALUES (?, ?, ?, ?, ?, ?)", rows)
        return {"ResponseMetadata": {"HTTPStatusCode": 200}}

    def datapoints(
        self,
        namespace: str,
        metric_name: str,
        dimensions: Mapping[str, str] | Sequence[Mapping[str, str]],
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[tuple[datetime, float]]:
        """Raw datapoints of one metric in [start, end), oldest first."""
        query = "SELECT timestamp, value FROM metric_data WHERE namespace = ? AND metric_name = ? AND dimensions = ?"
        arguments: list[Any] = [namespace, metric_name, canonical_dimensions(dimensions)]
        if start is not None:
            query += " AND timestamp >= ?"
            arguments.append(_epoch(start))
        if end is not None:
            query += " AND timestamp < ?"
            arguments.append(_epoch(end))
        with self._connection() as connection:
            found = connection.execute(query + " ORDER BY timestamp", arguments).fetchall()
        return [(datetime.fromtimestamp(t, UTC), float(v)) for t, v in found]

    def list_metrics(self, namespace: str | None = None) -> list[tuple[str, str, dict[str, str]]]:
        """(namespace, metric name, dimensions) of every stored series."""
        query = "SELECT DISTINCT namespace, metric_name, dimensions FROM metric_data"
        arguments: list[Any] = []
        if namespace is not None:
            query += " WHERE namespace = ?"
            arguments.append(namespace)
        with self._connection() as connection:
            found = connection.execute(query + " ORDER BY 1, 2, 3", arguments).fetchall()
        return [(n, m, dict(json.loads(d))) for n, m, d in found]
