"""One promotion run at a time per model: a lease every controller run holds while it acts.

The approval function, the scheduled evaluation function and a person's CLI command can start
at the same moment; each reads the registry and then moves stages, so two at once could act on
the same stale listing (promote a shadow another run just superseded). Lambda's reserved
concurrency would serialise the functions but not the CLI, and an account at the default
concurrency quota rejects any reservation at deploy (reserved concurrency must leave the
account's unreserved minimum free:
https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html). A lease with an
expiry does both: a run that dies leaves a lease that lapses by itself.

On AWS the lease is an item of the audit table written with a conditional put (DynamoDB
conditions are evaluated atomically on the item); locally a row in a SQLite table.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from pipelines.errors import PipelinesError

# Longer than any run holds it: the evaluation function's 15-minute timeout, plus margin.
LEASE_SECONDS = 17 * 60


class PromotionBusy(PipelinesError):
    """Another promotion run holds the model's lease."""


@dataclass(frozen=True)
class Holder:
    owner: str
    until: datetime


class Lease(Protocol):
    def acquire(self, model: str, owner: str, now: datetime) -> Holder | None:
        """Take the lease until `now + LEASE_SECONDS`; None if someone else holds it unexpired,
        else the holder found (so the refusal can say who)."""
        ...

    def release(self, model: str, owner: str) -> None: ...


class SqliteLease:
    """The local lease also records the holder's process: a command killed on this machine leaves a
    lease whose process is gone, which the next command takes over at once instead of waiting for
    it to lapse."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with closing(sqlite3.connect(path, timeout=60)) as db, db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS promotion_lease "
                "(model TEXT PRIMARY KEY, owner TEXT, until TEXT, host TEXT, pid INTEGER)"
            )

    def acquire(self, model: str, owner: str, now: datetime) -> Holder | None:
        until = now + timedelta(seconds=LEASE_SECONDS)
        with closing(sqlite3.connect(self.path, timeout=60, isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT owner, until, host, pid FROM promotion_lease WHERE model = ?", (model,)).fetchone()
            if row is not None and row[0] != owner and datetime.fromisoformat(row[1]) > now and _alive(row[2], row[3]):
                db.execute("ROLLBACK")
                return Holder(row[0], datetime.fromisoformat(row[1]))
            db.execute(
                "INSERT OR REPLACE INTO promotion_lease VALUES (?, ?, ?, ?, ?)",
                (model, owner, until.isoformat(), socket.gethostname(), os.getpid()),
            )
            db.execute("COMMIT")
        return None

    def release(self, model: str, owner: str) -> None:
        with closing(sqlite3.connect(self.path, timeout=60)) as db, db:
            db.execute("DELETE FROM promotion_lease WHERE model = ? AND owner = ?", (model, owner))


def _alive(host: str | None, pid: int | None) -> bool:
    """Whether the holder's process may still run: always, unless it ran here and is gone."""
    if host != socket.gethostname() or pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


class DynamoDbLease:
    """Item `pk = LEASE#<model>`, `sk = LEASE` in the audit table; `expires_at` (epoch seconds) is
    also the table's TTL attribute, so DynamoDB removes a lapsed lease eventually on its own."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    @staticmethod
    def _key(model: str) -> dict[str, Any]:
        return {"pk": {"S": f"LEASE#{model}"}, "sk": {"S": "LEASE"}}

    def acquire(self, model: str, owner: str, now: datetime) -> Holder | None:
        until = int(now.timestamp()) + LEASE_SECONDS
        try:
            self.client.put_item(
                TableName=self.table,
                Item={**self._key(model), "owner": {"S": owner}, "expires_at": {"N": str(until)}},
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR #owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}, ":owner": {"S": owner}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as error:
            response = getattr(error, "response", {})
            if response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            item = response.get("Item", {})
            held_until = datetime.fromtimestamp(int(item.get("expires_at", {}).get("N", "0")), tz=now.tzinfo)
            return Holder(item.get("owner", {}).get("S", "unknown"), held_until)
        return None

    def release(self, model: str, owner: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=self._key(model),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except Exception as error:  # lapsed and taken over by another run: nothing of ours to release
            if getattr(error, "response", {}).get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
