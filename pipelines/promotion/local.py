"""Promotion on this machine: the controller wired to the local registry, endpoint, audit trail
and champion pointer of a workspace, and shadow evidence read from local capture and labels."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from pipelines.config import ModelConfig
from pipelines.local.storage import LocalS3
from pipelines.local.workspace import Workspace
from pipelines.naming import ground_truth_prefix
from pipelines.promotion.audit import SqliteAudit
from pipelines.promotion.champion import LocalChampion
from pipelines.promotion.controller import EvidenceSource, ModelVersion, Promotion
from pipelines.promotion.evidence import ID, LABEL, SCORE, variant_evidence
from pipelines.promotion.lease import SqliteLease
from pipelines.promotion.local_endpoint import LocalEndpoint
from pipelines.promotion.shadow import ShadowEvidence


def local_promotion(
    workspace: Workspace, clock: Callable[[], datetime] | None = None
) -> tuple[Promotion, LocalEndpoint]:
    from pipelines.naming import champion_prefix

    config, s3 = workspace.config, workspace.s3
    endpoint = LocalEndpoint(config, workspace.root, s3)
    promotion = Promotion(
        config=config,
        registry=workspace.runtime(echo=lambda _: None).registry,
        endpoint=endpoint,
        audit=SqliteAudit(workspace.root / "audit.db"),
        champion=LocalChampion(s3, champion_prefix(config)),
        lease=SqliteLease(workspace.root / "audit.db"),
        location=f"the local workspace {workspace.root}",
    )
    if clock is not None:
        promotion.clock = clock
    return promotion, endpoint


def write_ground_truth(s3: LocalS3, config: ModelConfig, labels: pd.DataFrame, moment: datetime) -> str:
    """Labels (`inference_id`, `label`) as SageMaker Model Monitor ground-truth JSONL."""
    lines = [
        json.dumps(
            {
                "groundTruthData": {"data": str(label), "encoding": "CSV"},
                "eventMetadata": {"eventId": str(i)},
                "eventVersion": "0",
            }
        )
        for i, label in zip(labels[ID], labels[LABEL], strict=True)
    ]
    uri = f"{ground_truth_prefix(config)}{moment:%Y/%m/%d/%H}/{uuid.uuid4().hex}.jsonl"
    s3.put_bytes(uri, ("\n".join(lines) + "\n").encode())
    return uri


def local_evidence(
    config: ModelConfig, endpoint: LocalEndpoint, s3: LocalS3, now: Callable[[], datetime] | None = None
) -> EvidenceSource:
    from pipelines.drift import INFERENCE_TIME_COLUMN
    from training_containers.capture import read_capture, read_ground_truth

    def since(frame: pd.DataFrame, started: datetime) -> pd.DataFrame:
        if INFERENCE_TIME_COLUMN not in frame.columns:
            return frame
        times = pd.to_datetime(frame[INFERENCE_TIME_COLUMN], utc=True)
        return frame[times >= pd.Timestamp(started).tz_convert("UTC").floor("s")]

    def scored(frame: pd.DataFrame) -> pd.DataFrame:
        if ID not in frame.columns:  # nothing captured yet
            return pd.DataFrame({ID: pd.Series(dtype=object), SCORE: pd.Series(dtype="float64")})
        return frame[[ID, SCORE]]

    def build(shadow: ModelVersion, production: ModelVersion, started: datetime) -> ShadowEvidence:
        threshold = config.gates.decision_threshold
        shadow_frame = scored(since(read_capture(endpoint.captured("shadow"), config)[0], started))
        production_frame = scored(since(read_capture(endpoint.captured("production"), config)[0], started))
        production_frame = production_frame[production_frame[ID].isin(shadow_frame[ID])]  # the same requests
        truth, _ = read_ground_truth(s3.path(ground_truth_prefix(config)), config)
        truth = truth.assign(**{LABEL: (truth[LABEL].astype(str) == str(config.model.positive_class)).astype(np.int64)})
        shadow_t, production_t = endpoint.telemetry("shadow", started), endpoint.telemetry("production", started)
        report = shadow.metadata.get("EvaluationReport")
        offline = s3.read_json(report)["metrics"] if report else {}
        return ShadowEvidence(
            started_at=started,
            now=(now or (lambda: datetime.now(UTC)))(),
            shadow=variant_evidence(
                shadow_frame[[ID, SCORE]], truth, threshold, shadow_t.latency_p99_ms, shadow_t.error_rate
            ),
            production=variant_evidence(
                production_frame[[ID, SCORE]], truth, threshold, production_t.latency_p99_ms, production_t.error_rate
            ),
            offline=offline,
        )

    return build
