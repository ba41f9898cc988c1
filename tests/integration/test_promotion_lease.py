"""The promotion lease on both stores: SQLite locally, DynamoDB (moto) as deployed. The same
semantics on each: one holder, a refusal that names it, a lapsed lease taken over, a release
that never frees someone else's lease."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from pipelines.promotion.lease import LEASE_SECONDS, DynamoDbLease, Lease, SqliteLease

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "dynamodb"])
def lease(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lease]:
    if request.param == "sqlite":
        yield SqliteLease(tmp_path / "audit.db")
        return
    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName="audit",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoDbLease(client, "audit")


def test_one_holder_at_a_time_and_the_refusal_names_it(lease: Lease) -> None:
    assert lease.acquire("fraud", "evaluation:a", T0) is None
    holder = lease.acquire("fraud", "approval:b", T0 + timedelta(minutes=1))
    assert holder is not None and holder.owner == "evaluation:a"
    assert holder.until == T0 + timedelta(seconds=LEASE_SECONDS)
    assert lease.acquire("other-model", "approval:b", T0) is None  # one lease per model
    assert lease.acquire("fraud", "evaluation:a", T0 + timedelta(minutes=2)) is None  # its holder renews


def test_a_lapsed_lease_is_taken_over_and_a_stale_release_frees_nothing(lease: Lease) -> None:
    assert lease.acquire("fraud", "evaluation:a", T0) is None
    later = T0 + timedelta(seconds=LEASE_SECONDS + 1)
    assert lease.acquire("fraud", "approval:b", later) is None  # a's run died: its lease lapsed
    lease.release("fraud", "evaluation:a")  # a wakes up late: b keeps the lease
    holder = lease.acquire("fraud", "cli:c", later + timedelta(seconds=1))
    assert holder is not None and holder.owner == "approval:b"
    lease.release("fraud", "approval:b")
    assert lease.acquire("fraud", "cli:c", later + timedelta(seconds=2)) is None


def test_a_local_lease_whose_process_is_gone_is_taken_over_at_once(tmp_path: Path) -> None:
    """A command killed mid-run (Ctrl-C, a crash) must not lock every other command out for the
    lease's whole duration on the machine where it ran."""
    import sqlite3
    import subprocess
    import sys

    lease = SqliteLease(tmp_path / "audit.db")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert lease.acquire("fraud", "approve:a", T0) is None
    with sqlite3.connect(tmp_path / "audit.db") as db:
        db.execute("UPDATE promotion_lease SET pid = ? WHERE model = 'fraud'", (int(dead.stdout),))
    assert lease.acquire("fraud", "status:b", T0 + timedelta(seconds=5)) is None
    held = lease.acquire("fraud", "approve:c", T0 + timedelta(seconds=6))  # b's process (this one) lives
    assert held is not None and held.owner == "status:b"
