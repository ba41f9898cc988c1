"""Live evidence for the shadow verdict: captured predictions of both variants joined with
ground truth by inference id, plus each variant's latency and error rate.

One function (`shadow_evidence`) turns what was observed into the evidence, wherever it was read:
on AWS (`pipelines.promotion.aws_evidence`: data capture and labels from S3, latency and errors
from CloudWatch) and on this machine (`pipelines.promotion.local`: the local endpoint's capture
and telemetry). Requests before the shadow started are dropped, production is compared on the
requests the shadow also served, and labels are joined by inference id. For a binary classifier a
label is positive when it equals `model.positive_class`; a multiclass model's labels and answers
are classes (compared as text), a regression's numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from pipelines.config import ModelConfig
from pipelines.drift import INFERENCE_TIME_COLUMN
from pipelines.gates import metrics as gate_metrics
from pipelines.gates.catalog import ProblemType
from pipelines.promotion.shadow import ShadowEvidence, VariantEvidence

ID, SCORE, LABEL = "inference_id", "prediction", "label"


def variant_evidence(
    captured: pd.DataFrame,
    labels: pd.DataFrame,
    decision_threshold: float,
    latency_p99_ms: float | None,
    error_rate: float | None,
    problem_type: ProblemType = "binary_classification",
) -> VariantEvidence:
    """`captured` has inference_id and prediction (positive-class score, class or value); `labels`
    has inference_id and label (0/1 for a binary classifier). Requests without a label yet are
    counted, not measured; no request at all gives zero requests (the verdict waits). Ids are
    compared as text: an empty frame has no id type to agree on."""
    predictions = captured[[ID, SCORE]].astype({ID: str}).drop_duplicates(ID)
    joined = predictions.merge(labels[[ID, LABEL]].astype({ID: str}).drop_duplicates(ID), on=ID)
    truth, predicted = joined[LABEL].to_numpy(), joined[SCORE].to_numpy()
    if problem_type == "binary_classification":
        truth, predicted = truth.astype(np.int64), predicted.astype(np.float64)
    elif problem_type == "regression":
        truth, predicted = truth.astype(np.float64), predicted.astype(np.float64)
    metrics = (
        gate_metrics.measure(problem_type, truth, predicted, decision_threshold=decision_threshold)
        if len(joined)
        else {}
    )
    return VariantEvidence(
        requests=int(captured[ID].nunique()),
        labelled=len(joined),
        metrics=metrics,
        latency_p99_ms=latency_p99_ms,
        error_rate=error_rate,
    )


@dataclass(frozen=True)
class Telemetry:
    """A variant's p99 latency and error rate since the shadow started (None without traffic)."""

    latency_p99_ms: float | None
    error_rate: float | None


@dataclass(frozen=True)
class Observed:
    """What a backend read: each variant's capture (as `training_containers.capture` reads it),
    the labels (`inference_id`, `label` as delivered), telemetry and the offline metrics."""

    shadow: pd.DataFrame
    production: pd.DataFrame
    labels: pd.DataFrame
    shadow_telemetry: Telemetry
    production_telemetry: Telemetry
    offline: dict[str, float | None]


def _scored_since(frame: pd.DataFrame, started: datetime) -> pd.DataFrame:
    if ID not in frame.columns:  # nothing captured yet
        return pd.DataFrame({ID: pd.Series(dtype=object), SCORE: pd.Series(dtype="float64")})
    if INFERENCE_TIME_COLUMN in frame.columns:
        times = pd.to_datetime(frame[INFERENCE_TIME_COLUMN], utc=True)
        frame = frame[times >= pd.Timestamp(started).tz_convert("UTC").floor("s")]
    return frame[[ID, SCORE]]


def shadow_evidence(config: ModelConfig, observed: Observed, started_at: datetime, now: datetime) -> ShadowEvidence:
    """The shadow verdict's evidence from what was observed (see the module docstring)."""
    shadow = _scored_since(observed.shadow, started_at)
    production = _scored_since(observed.production, started_at)
    production = production[production[ID].astype(str).isin(shadow[ID].astype(str))]  # the same requests
    labels = observed.labels
    problem_type = config.model.problem_type
    if LABEL not in labels.columns:
        labels = pd.DataFrame({ID: pd.Series(dtype=object), LABEL: pd.Series(dtype="int64")})
    elif problem_type == "binary_classification":
        positive = (labels[LABEL].astype(str) == str(config.model.positive_class)).astype(np.int64)
        labels = labels.assign(**{LABEL: positive})
    threshold = config.gates.decision_threshold

    def measured(frame: pd.DataFrame, telemetry: Telemetry) -> VariantEvidence:
        return variant_evidence(frame, labels, threshold, telemetry.latency_p99_ms, telemetry.error_rate, problem_type)

    return ShadowEvidence(
        started_at=started_at,
        now=now,
        shadow=measured(shadow, observed.shadow_telemetry),
        production=measured(production, observed.production_telemetry),
        offline=observed.offline,
    )
