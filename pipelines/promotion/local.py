"""Promotion on this machine: the controller wired to the local registry, endpoint, audit trail
and champion pointer of a workspace, and shadow evidence read from local capture and labels."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd

from pipelines.config import ModelConfig
from pipelines.local.storage import LocalS3
from pipelines.local.workspace import Workspace
from pipelines.naming import EVALUATION_REPORT, PRODUCTION_VARIANT, SHADOW_VARIANT, ground_truth_prefix
from pipelines.promotion.audit import SqliteAudit
from pipelines.promotion.champion import LocalChampion
from pipelines.promotion.controller import EvidenceSource, ModelVersion, Promotion
from pipelines.promotion.evidence import ID, LABEL, Observed, Telemetry, shadow_evidence
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
    """The shadow's evidence on this machine: the local endpoint's capture and telemetry, labels
    from the local S3 (pipelines.promotion.evidence.shadow_evidence does the rest)."""
    from training_containers.capture import read_capture, read_ground_truth

    def telemetry(variant: str, started: datetime) -> Telemetry:
        measured = endpoint.telemetry(variant, started)
        return Telemetry(measured.latency_p99_ms, measured.error_rate)

    def build(shadow: ModelVersion, production: ModelVersion, started: datetime) -> ShadowEvidence:
        report = shadow.metadata.get(EVALUATION_REPORT)
        observed = Observed(
            shadow=read_capture(endpoint.captured(SHADOW_VARIANT), config)[0],
            production=read_capture(endpoint.captured(PRODUCTION_VARIANT), config)[0],
            labels=read_ground_truth(s3.path(ground_truth_prefix(config)), config)[0],
            shadow_telemetry=telemetry(SHADOW_VARIANT, started),
            production_telemetry=telemetry(PRODUCTION_VARIANT, started),
            offline=s3.read_json(report)["metrics"] if report else {},
        )
        return shadow_evidence(config, observed, started, (now or (lambda: datetime.now(UTC)))())

    return build
