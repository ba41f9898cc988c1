"""The promotion audit trail: every lifecycle move and every shadow verdict, with who and why.

Records are append-only. The local store is SQLite; on AWS the same records go to the DynamoDB
audit table with a conditional put, so a retried write never duplicates or overwrites one.

Intents. A command writes its intent (who, why, what it will change) before its first change and
removes it when its record is written. An intent still there afterwards belongs to a run that was
interrupted: the next run (`Promotion.reconcile`) writes its record from the intent, so no
actor or reason is ever lost. The record's time and sequence are the intent's, so a record the
interrupted run did write is not written twice.
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


@dataclass(frozen=True)
class Intent:
    """A command about to change `version`: done once the version is in one of `targets`.
    `id` sorts by time (`<at>#<sequence>`)."""

    id: str
    at: str
    sequence: int
    model: str
    action: str
    version: str
    targets: tuple[str, ...]
    actor: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def record(self, outcome: str, **details: Any) -> AuditRecord:
        return AuditRecord(
            at=self.at,
            model=self.model,
            action=self.action,
            outcome=outcome,
            version=self.version,
            actor=self.actor,
            reason=self.reason,
            details={**self.details, **details},
            sequence=self.sequence,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Intent:
        return cls(**{**raw, "targets": tuple(raw["targets"])})


class Audit(Protocol):
    def append(self, record: AuditRecord) -> None: ...

    def records(self, model: str, since: str | None = None) -> list[AuditRecord]:
        """The model's records in order; with `since` (ISO-8601), those written at or after it."""
        ...

    def begin(self, intent: Intent) -> None: ...

    def finish(self, model: str, intent_id: str) -> None: ...

    def pending(self, model: str) -> list[Intent]:
        """Intents of runs that did not finish, oldest first."""
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
            db.execute(
                "CREATE TABLE IF NOT EXISTS promotion_intent (model TEXT, id TEXT, at TEXT, body TEXT, "
                "PRIMARY KEY (model, id))"
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

    def begin(self, intent: Intent) -> None:
        with closing(sqlite3.connect(self.path, timeout=60)) as db, db:
            db.execute(
                "INSERT OR IGNORE INTO promotion_intent VALUES (?, ?, ?, ?)",
                (intent.model, intent.id, intent.id, json.dumps(intent.to_json())),
            )

    def finish(self, model: str, intent_id: str) -> None:
        with closing(sqlite3.connect(self.path, timeout=60)) as db, db:
            db.execute("DELETE FROM promotion_intent WHERE model = ? AND id = ?", (model, intent_id))

    def pending(self, model: str) -> list[Intent]:
        with closing(sqlite3.connect(self.path, timeout=60)) as db:
            rows = db.execute("SELECT body FROM promotion_intent WHERE model = ? ORDER BY at", (model,)).fetchall()
        return [Intent.from_json(json.loads(row[0])) for row in rows]


class DynamoDbAudit:
    """Items keyed `pk = PROMOTION#<model>`, `sk = <time>#<sequence>#<action>#<version>` in the
    retrain trigger's audit table (the retrain trigger's own items use `PIPELINE#<name>`); intents
    `pk = INTENT#<model>`, `sk = <intent id>` (ids sort by time). Reads are strongly consistent: a run
    must see the intent or record the previous run wrote a moment ago (DynamoDB reads are
    eventually consistent unless ConsistentRead is set:
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html)."""

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
            "ConsistentRead": True,
        }
        for item in self._query(kwargs):
            found.append(AuditRecord(**json.loads(item["body"]["S"])))
        return found

    def _query(self, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self.client.query(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _intent_key(model: str, intent_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"INTENT#{model}"}, "sk": {"S": intent_id}}

    def begin(self, intent: Intent) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={**self._intent_key(intent.model, intent.id), "body": {"S": json.dumps(intent.to_json())}},
        )

    def finish(self, model: str, intent_id: str) -> None:
        self.client.delete_item(TableName=self.table, Key=self._intent_key(model, intent_id))

    def pending(self, model: str) -> list[Intent]:
        items = self._query(
            {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": f"INTENT#{model}"}},
                "ConsistentRead": True,
            }
        )
        return [Intent.from_json(json.loads(item["body"]["S"])) for item in items]
