"""Retrain trigger stores that need no AWS: in memory (tests) and SQLite (the local runtime, the CLI).

Both keep the `TriggerStore` contract of `pipelines.trigger.service`: a commit writes the state, marks the
event id seen and appends the decisions all or nothing, and fails with `DuplicateEvent` or
`StateConflict` exactly when the DynamoDB store's conditional writes would.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from pipelines.trigger import DuplicateEvent, StateConflict, TriggerDecision, TriggerState


class MemoryTriggerStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, TriggerState] = {}
        self._seen: set[tuple[str, str]] = set()
        self._decisions: dict[str, dict[str, TriggerDecision]] = {}

    def load(self, pipeline: str) -> TriggerState:
        with self._lock:
            return self._states.get(pipeline, TriggerState(pipeline=pipeline))

    def seen(self, pipeline: str, event_id: str) -> bool:
        with self._lock:
            return (pipeline, event_id) in self._seen

    def commit(
        self,
        state: TriggerState,
        *,
        expected_version: int,
        decisions: Sequence[TriggerDecision],
        event_id: str | None,
    ) -> TriggerState:
        with self._lock:
            if event_id is not None and (state.pipeline, event_id) in self._seen:
                raise DuplicateEvent(event_id)
            current = self._states.get(state.pipeline, TriggerState(pipeline=state.pipeline))
            if current.version != expected_version:
                raise StateConflict(f"version {current.version}, expected {expected_version}")
            stored = replace(state, version=expected_version + 1)
            self._states[state.pipeline] = stored
            if event_id is not None:
                self._seen.add((state.pipeline, event_id))
            for decision in decisions:
                self._decisions.setdefault(decision.pipeline, {})[decision.sort_key] = decision
            return stored

    def record(self, decision: TriggerDecision) -> None:
        with self._lock:
            self._decisions.setdefault(decision.pipeline, {})[decision.sort_key] = decision

    def decisions(self, pipeline: str) -> list[TriggerDecision]:
        with self._lock:
            records = self._decisions.get(pipeline, {})
            return [records[key] for key in sorted(records)]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS gate_state (pipeline TEXT PRIMARY KEY, version INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen_event (
    pipeline TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (pipeline, event_id)
);
CREATE TABLE IF NOT EXISTS decision (
    pipeline TEXT NOT NULL, sort_key TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (pipeline, sort_key)
);
"""


class SqliteTriggerStore:
    """One SQLite file; every commit is one IMMEDIATE transaction, so several local processes
    (the runtime, a CLI call) can share it."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        with self._session() as db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=30, isolation_level=None)

    @contextmanager
    def _session(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            yield db
        finally:
            db.close()

    def load(self, pipeline: str) -> TriggerState:
        with self._session() as db:
            row = db.execute("SELECT body FROM gate_state WHERE pipeline = ?", (pipeline,)).fetchone()
        return TriggerState(pipeline=pipeline) if row is None else TriggerState.from_json(json.loads(row[0]))

    def seen(self, pipeline: str, event_id: str) -> bool:
        with self._session() as db:
            query = "SELECT 1 FROM seen_event WHERE pipeline = ? AND event_id = ?"
            return db.execute(query, (pipeline, event_id)).fetchone() is not None

    def commit(
        self,
        state: TriggerState,
        *,
        expected_version: int,
        decisions: Sequence[TriggerDecision],
        event_id: str | None,
    ) -> TriggerState:
        stored = replace(state, version=expected_version + 1)
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            if event_id is not None:
                try:
                    db.execute("INSERT INTO seen_event VALUES (?, ?)", (state.pipeline, event_id))
                except sqlite3.IntegrityError:
                    raise DuplicateEvent(event_id) from None
            row = db.execute("SELECT version FROM gate_state WHERE pipeline = ?", (state.pipeline,)).fetchone()
            current = 0 if row is None else int(row[0])
            if current != expected_version:
                raise StateConflict(f"version {current}, expected {expected_version}")
            db.execute(
                "INSERT OR REPLACE INTO gate_state VALUES (?, ?, ?)",
                (state.pipeline, stored.version, json.dumps(stored.to_json(), sort_keys=True)),
            )
            for decision in decisions:
                self._insert(db, decision)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()
        return stored

    @staticmethod
    def _insert(db: sqlite3.Connection, decision: TriggerDecision) -> None:
        db.execute(
            "INSERT OR REPLACE INTO decision VALUES (?, ?, ?)",
            (decision.pipeline, decision.sort_key, json.dumps(decision.to_json(), sort_keys=True)),
        )

    def record(self, decision: TriggerDecision) -> None:
        with self._session() as db:
            self._insert(db, decision)

    def decisions(self, pipeline: str) -> list[TriggerDecision]:
        with self._session() as db:
            rows = db.execute("SELECT body FROM decision WHERE pipeline = ? ORDER BY sort_key", (pipeline,)).fetchall()
        return [TriggerDecision.from_json(json.loads(body)) for (body,) in rows]
