"""The promotion audit trail: every lifecycle move and every shadow verdict, with who and why.

Records are append-only. The local store is SQLite; on AWS the same records go to the DynamoDB
audit table with a conditional put, so a retried write never duplicates or overwrites one.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class AuditRecord:
    at: str
    model: str
    action: str
    outcome: str
    version: str | None = None
    actor: str = "system"
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    # Orders records written within the same second (the clock may be coarse or simulated).
    sequence: int = field(default_factory=time.time_ns)

    @property
    def sort_key(self) -> str:
        return f"{self.at}#{self.sequence:020d}#{self.action}#{self.version or '-'}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Audit(Protocol):
    def append(self, record: AuditRecord) -> None: ...

    def records(self, model: str, since: str | None = None) -> list[AuditRecord]:
        """The model's records in order; with `since` (ISO-8601), those written at or after it."""
        ...


class SqliteAudit:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(path, timeout=60)) as db, db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS promotion_audit (model TEXT, sort_key TEXT, body TEXT, "
                "PRIMARY KEY (model, sort_key))"
            )

    def append(self, record: AuditRecord) -> None:
        with closing(sqlite3.connect(self.path, timeout=60)) as db, db:
            db.execute(
                "INSERT OR IGNORE INTO promotion_audit VALUES (?, ?, ?)",
                (record.model, record.sort_key, json.dumps(record.to_json(), sort_keys=True)),
            )

    def records(self, model: str, since: str | None = None) -> list[AuditRecord]:
        with closing(sqlite3.connect(self.path, timeout=60)) as db:
            rows = db.execute(
                "SELECT body FROM promotion_audit WHERE model = ? AND sort_key >= ? ORDER BY sort_key",
                (model, since or ""),
            ).fetchall()
        return [AuditRecord(**json.loads(row[0])) for row in rows]


class DynamoDbAudit:
    """Items keyed `pk = PROMOTION#<model>`, `sk = <time>#<sequence>#<action>#<version>` in the
    trigger gate's audit table (the trigger gate's own items use `PIPELINE#<name>`)."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def append(self, record: AuditRecord) -> None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": f"PROMOTION#{record.model}"},
                    "sk": {"S": record.sort_key},
                    "body": {"S": json.dumps(record.to_json(), sort_keys=True)},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except Exception as error:  # a retried write of the same record is not an error
            if getattr(error, "response", {}).get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def records(self, model: str, since: str | None = None) -> list[AuditRecord]:
        found: list[AuditRecord] = []
        values = {":pk": {"S": f"PROMOTION#{model}"}} | ({":since": {"S": since}} if since else {})
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk" + (" AND sk >= :since" if since else ""),
            "ExpressionAttributeValues": values,
        }
        while True:
            page = self.client.query(**kwargs)
            found += [AuditRecord(**json.loads(item["body"]["S"])) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
