"""Step caching as SageMaker does it: a step with `CacheConfig.Enabled` reuses the result of an
earlier successful run of the same pipeline and step whose cache-key attributes (per step type,
from the SageMaker documentation "Default cache key attributes by pipeline step type") resolved
to the same values, if it finished within `ExpireAfter`.

Because the attributes are compared after resolution, an input that embeds the execution id
(as every output of an earlier step does) never hits across executions; it does hit when an
execution is re-run with the same resolved inputs.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.errors import PipelinesError

KEY_ATTRIBUTES = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": (
        "AlgorithmSpecification",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "Environment",
        "HyperParameters",
        "InputDataConfig",
    ),
}
_DURATION = re.compile(
    r"^P?(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$", re.IGNORECASE
)


def expire_after(text: str) -> timedelta:
    """ISO 8601 durations as SageMaker accepts them: P30D, PT1H, 30d, T16m, 30dT5h (years are 365 days,
    months 30)."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise PipelinesError(f"CacheConfig.ExpireAfter {text!r} is not an ISO 8601 duration such as P30D or PT1H")
    years, months, weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=years * 365 + months * 30 + weeks * 7 + days, hours=hours, minutes=minutes, seconds=seconds)


def cache_key(step_type: str, request: dict[str, Any]) -> str:
    attributes = {name: request.get(name) for name in KEY_ATTRIBUTES[step_type]}
    return hashlib.sha256(json.dumps(attributes, sort_keys=True).encode()).hexdigest()


class StepCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._db()) as db, db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS step_cache (pipeline TEXT, step TEXT, key TEXT, execution_arn TEXT, "
                "properties TEXT, finished_at TEXT)"
            )

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    def find(self, pipeline: str, step: str, key: str, within: timedelta) -> tuple[str, dict[str, Any]] | None:
        oldest = (datetime.now(UTC) - within).isoformat()
        with closing(self._db()) as db, db:
            row = db.execute(
                "SELECT execution_arn, properties FROM step_cache WHERE pipeline = ? AND step = ? AND key = ? "
                "AND finished_at >= ? ORDER BY finished_at DESC LIMIT 1",
                (pipeline, step, key, oldest),
            ).fetchone()
        return None if row is None else (str(row[0]), json.loads(row[1]))

    def store(self, pipeline: str, step: str, key: str, execution_arn: str, properties: dict[str, Any]) -> None:
        with closing(self._db()) as db, db:
            db.execute(
                "INSERT INTO step_cache VALUES (?, ?, ?, ?, ?, ?)",
                (pipeline, step, key, execution_arn, json.dumps(properties), datetime.now(UTC).isoformat()),
            )
