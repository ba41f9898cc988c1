"""Live evidence for the shadow verdict: captured predictions of both variants joined with
ground truth by inference id, plus each variant's latency and error rate."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from pipelines.drift.performance import classification_metrics
from pipelines.promotion.shadow import ShadowEvidence, VariantEvidence

ID, SCORE, LABEL = "inference_id", "prediction", "label"


def variant_evidence(
    captured: pd.DataFrame,
    labels: pd.DataFrame,
    decision_threshold: float,
    latency_p99_ms: float | None,
    error_rate: float | None,
) -> VariantEvidence:
    """`captured` has inference_id and prediction (positive-class score); `labels` has
    inference_id and label (0/1). Requests without a label yet are counted, not measured; no
    request at all gives zero requests (the verdict waits). Ids are compared as text: an empty
    frame has no id type to agree on."""
    predictions = captured[[ID, SCORE]].astype({ID: str}).drop_duplicates(ID)
    joined = predictions.merge(labels[[ID, LABEL]].astype({ID: str}).drop_duplicates(ID), on=ID)
    truth = joined[LABEL].to_numpy(dtype=np.int64)
    scores = joined[SCORE].to_numpy(dtype=np.float64)
    metrics = classification_metrics(truth, scores, decision_threshold) if len(joined) else {}
    return VariantEvidence(
        requests=int(captured[ID].nunique()),
        labelled=len(joined),
        metrics=metrics,
        latency_p99_ms=latency_p99_ms,
        error_rate=error_rate,
    )


def shadow_evidence(
    *,
    shadow: VariantEvidence,
    production: VariantEvidence,
    offline: dict[str, float | None],
    started_at: datetime,
    now: datetime,
) -> ShadowEvidence:
    return ShadowEvidence(started_at=started_at, now=now, shadow=shadow, production=production, offline=offline)
