"""The local model registry: what SageMaker's Model Registry keeps, in one SQLite file.

A model package keeps every field CreateModelPackage was given (group, description, inference
specification, model metrics, customer metadata, approval status) plus the version SageMaker
assigns, its ARN and timestamps. Versions are numbered per group inside an IMMEDIATE
transaction, so two runs registering at once get distinct versions; nothing is ever deleted,
and every change of approval status or metadata is kept as an event with who and why.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.errors import PipelinesError

APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")
SCHEMA = """
CREATE TABLE IF NOT EXISTS model_package_groups (
    name TEXT PRIMARY KEY, arn TEXT NOT NULL, description TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS model_packages (
    arn TEXT PRIMARY KEY, group_name TEXT NOT NULL REFERENCES model_package_groups(name),
    version INTEGER NOT NULL, approval_status TEXT NOT NULL, request TEXT NOT NULL,
    customer_metadata TEXT NOT NULL, approval_description TEXT, created_at TEXT NOT NULL,
    last_modified_at TEXT NOT NULL, UNIQUE (group_name, version));
CREATE TABLE IF NOT EXISTS model_package_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, arn TEXT NOT NULL, at TEXT NOT NULL, change TEXT NOT NULL,
    actor TEXT NOT NULL, reason TEXT);
"""


class RegistryError(PipelinesError):
    """A registry request names something that does not exist or is not allowed."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class LocalRegistry:
    def __init__(self, path: Path, region: str = "us-east-1", account: str = "111122223333") -> None:
        self.path = path
        self.region = region
        self.account = account
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=60, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)  # IF NOT EXISTS: safe when another run is creating it too
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=60000")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{kind}/{name}"

    # ---- groups

    def create_model_package_group(self, name: str, description: str = "") -> str:
        """Idempotent: an existing group is kept as it is."""
        arn = self._arn("model-package-group", name)
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO model_package_groups VALUES (?, ?, ?, ?)", (name, arn, description, now())
            )
        return arn

    # ---- packages

    def create_model_package(self, request: dict[str, Any], actor: str = "pipeline") -> str:
        group = request.get("ModelPackageGroupName")
        status = request.get("ModelApprovalStatus", "PendingManualApproval")
        if status not in APPROVAL_STATUSES:
            raise RegistryError(f"ModelApprovalStatus {status!r} is not one of {APPROVAL_STATUSES}")
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM model_package_groups WHERE name = ?", (group,)).fetchone() is None:
                raise RegistryError(f"ValidationException: Model Package Group {group!r} does not exist")
            (latest,) = db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM model_packages WHERE group_name = ?", (group,)
            ).fetchone()
            version = int(latest) + 1
            arn = self._arn("model-package", f"{group}/{version}")
            stamp = now()
            db.execute(
                "INSERT INTO model_packages VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                (
                    arn,
                    group,
                    version,
                    status,
                    json.dumps(request, sort_keys=True),
                    json.dumps(request.get("CustomerMetadataProperties", {}), sort_keys=True),
                    stamp,
                    stamp,
                ),
            )
            self._event(db, arn, f"registered {status}", actor, None)
        return arn

    def update_model_package(
        self,
        arn: str,
        *,
        approval_status: str | None = None,
        approval_description: str | None = None,
        metadata: dict[str, str] | None = None,
        actor: str = "user",
        life_cycle: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Change approval status and/or merge customer metadata (keys not given are kept) and/or
        set the package's ModelLifeCycle (replaced whole, as UpdateModelPackage sets it)."""
        if approval_status is not None and approval_status not in APPROVAL_STATUSES:
            raise RegistryError(f"ModelApprovalStatus {approval_status!r} is not one of {APPROVAL_STATUSES}")
        with self._transaction() as db:
            row = db.execute(
                "SELECT approval_status, customer_metadata, request FROM model_packages WHERE arn = ?", (arn,)
            ).fetchone()
            if row is None:
                raise RegistryError(f"ValidationException: model package {arn} does not exist")
            old_status, old_metadata = row[0], json.loads(row[1])
            if life_cycle is not None:
                request = json.loads(row[2]) | {"ModelLifeCycle": dict(life_cycle)}
                db.execute("UPDATE model_packages SET request = ? WHERE arn = ?", (json.dumps(request), arn))
                self._event(db, arn, f"lifecycle {life_cycle['Stage']}/{life_cycle['StageStatus']}", actor, None)
            merged = {**old_metadata, **(metadata or {})}
            db.execute(
                "UPDATE model_packages SET approval_status = ?, customer_metadata = ?, "
                "approval_description = COALESCE(?, approval_description), last_modified_at = ? WHERE arn = ?",
                (approval_status or old_status, json.dumps(merged, sort_keys=True), approval_description, now(), arn),
            )
            if approval_status and approval_status != old_status:
                self._event(db, arn, f"{old_status} -> {approval_status}", actor, approval_description)
            changed = sorted(k for k in (metadata or {}) if old_metadata.get(k) != merged[k])
            if changed:
                self._event(db, arn, f"metadata {', '.join(changed)}", actor, approval_description)
        return self.describe_model_package(arn)

    def describe_model_package(self, arn: str) -> dict[str, Any]:
        with self._transaction() as db:
            row = db.execute("SELECT * FROM model_packages WHERE arn = ?", (arn,)).fetchone()
        if row is None:
            raise RegistryError(f"ValidationException: model package {arn} does not exist")
        return _describe(row)

    def list_model_packages(self, group: str, approval_status: str | None = None) -> list[dict[str, Any]]:
        """Newest first, as ListModelPackages with SortOrder=Descending."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT * FROM model_packages WHERE group_name = ? AND (? IS NULL OR approval_status = ?) "
                "ORDER BY version DESC",
                (group, approval_status, approval_status),
            ).fetchall()
        return [_describe(row) for row in rows]

    def events(self, arn: str | None = None) -> list[dict[str, Any]]:
        with self._transaction() as db:
            rows = db.execute(
                "SELECT arn, at, change, actor, reason FROM model_package_events "
                "WHERE ? IS NULL OR arn = ? ORDER BY id",
                (arn, arn),
            ).fetchall()
        return [dict(zip(("arn", "at", "change", "actor", "reason"), row, strict=True)) for row in rows]

    @staticmethod
    def _event(db: sqlite3.Connection, arn: str, change: str, actor: str, reason: str | None) -> None:
        db.execute(
            "INSERT INTO model_package_events (arn, at, change, actor, reason) VALUES (?, ?, ?, ?, ?)",
            (arn, now(), change, actor, reason),
        )


def _describe(row: tuple[Any, ...]) -> dict[str, Any]:
    arn, group, version, status, request, metadata, approval_description, created, modified = row
    described = {
        **json.loads(request),
        "ModelPackageGroupName": group,
        "ModelPackageVersion": version,
        "ModelPackageArn": arn,
        "ModelPackageName": group,
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": status,
        "CustomerMetadataProperties": json.loads(metadata),
        "CreationTime": created,
        "LastModifiedTime": modified,
    }
    if approval_description is not None:
        described["ApprovalDescription"] = approval_description
    return described
