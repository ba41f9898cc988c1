"""Promotion on this machine with a real trained model: approval deploys, the next approval
runs in shadow on replayed traffic with delayed labels, the shadow's live metrics decide, and
the CLI's status and rollback act on the same state."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from pipelines.config import ModelConfig
from pipelines.local.workspace import Workspace
from pipelines.promotion.local import local_evidence, local_promotion, write_ground_truth
from tests.conftest import EXAMPLE_CONFIG, ROOT, split_fresh


def test_local_approval_shadow_promotion_and_cli_rollback(
    config: ModelConfig, stream: pd.DataFrame, tmp_path: Path
) -> None:
    workspace = Workspace(config, tmp_path / "w")
    fresh, history = split_fresh(stream.tail(50_000))
    for frame, uri in ((fresh, config.data.fresh.uri), (history, "s3://fraud-detector-data-111122223333/transactions/history/")):  # type: ignore[union-attr]  # fmt: skip
        path = workspace.s3.path(uri) / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
    assert workspace.run(echo=lambda _: None).status == "Succeeded"
    registry = workspace.runtime().registry
    (first,) = registry.list_model_packages("fraud-detector")
    request = {
        k: first[k]
        for k in ("ModelPackageGroupName", "InferenceSpecification", "ModelMetrics", "CustomerMetadataProperties")
    }
    registry.create_model_package(
        {**request, "ModelApprovalStatus": "PendingManualApproval"}
    )  # v2: same model, retrained

    now = [datetime(2026, 6, 1, tzinfo=UTC)]
    promotion, endpoint = local_promotion(workspace, clock=lambda: now[0])
    promotion.approve(1, actor="alice")
    pointer = workspace.s3.read_json("s3://fraud-detector-111122223333-us-east-1/fraud-detector/champion/champion.json")
    assert pointer["model_package_arn"].endswith("/1")
    champion = "s3://fraud-detector-111122223333-us-east-1/fraud-detector/champion/"
    assert workspace.s3.read_json(champion + "baseline_profile.json")["features"]["amount"]["type"] == "numeric"
    assert workspace.s3.path(champion + "model.tar.gz").stat().st_size > 1000
    promotion.approve(2, actor="bob")
    assert endpoint.state().shadow is not None and endpoint.state().shadow.endswith("/2")  # type: ignore[union-attr]

    traffic = fresh.head(2000).rename(columns={"transaction_id": "inference_id"})
    scores = endpoint.invoke(traffic, now=now[0] + timedelta(minutes=1))
    assert len(scores) == 2000 and scores.min() >= 0 and scores.max() <= 1
    evidence = local_evidence(config, endpoint, workspace.s3, now=lambda: now[0])
    now[0] += timedelta(hours=30)
    waiting = promotion.evaluate_shadow(evidence)
    assert waiting is not None and waiting.verdict == "wait" and "0 labelled predictions" in waiting.reason

    labels = traffic[["inference_id", "is_fraud"]].rename(columns={"is_fraud": "label"})
    write_ground_truth(workspace.s3, config, labels, now[0])
    decision = promotion.evaluate_shadow(evidence)
    assert decision is not None and decision.verdict == "promote", decision
    checks = {c.name: c for c in decision.checks}
    vs_champion = checks[f"live_{config.promotion.shadow.metric}_vs_champion"]
    assert vs_champion.observed == pytest.approx(vs_champion.threshold + 0.01)  # the same model on the same requests
    assert promotion.production().label == "v2"  # type: ignore[union-attr]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "pipelines", *args, str(EXAMPLE_CONFIG), "--workdir", str(workspace.root)]
        return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)

    before = json.loads(cli("status", "--json").stdout)
    assert before["production"]["version"] == "v2" and before["previous_champion"]["version"] == "v1"
    rolled = cli("rollback", "--actor", "oncall")
    assert rolled.returncode == 0, rolled.stderr
    assert "rolled back v2 -> v1" in rolled.stdout
    after = json.loads(cli("status", "--json").stdout)
    assert after["production"]["version"] == "v1" and after["endpoint"]["config"].endswith("-p1-s0")
    again = cli("rollback")
    assert again.returncode == 1 and "no previous champion" in again.stderr
    history = cli("history").stdout
    assert (
        history.index("deploy") < history.index("start_shadow") < history.index("promote") < history.index("rollback")
    )
