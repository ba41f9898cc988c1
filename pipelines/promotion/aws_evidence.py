"""Shadow evidence on AWS, through injected S3 and CloudWatch clients: what `local.local_evidence`
reads on this machine, read from where SageMaker and the label feed put it.

Predictions. SageMaker writes each variant's data capture under
`<capture prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/` (UTC). Labels arrive under
`s3://<bucket>/<model>/ground-truth/`, by Model Monitor's convention in `yyyy/mm/dd/hh/` folders of
their arrival time; a label for a request served after the shadow started cannot arrive before it.
So only the hours from the one the shadow started in can concern it, and each is read once: an
hour that has ended is downloaded (to a temporary folder, removed after), read by
`training_containers.capture` (the drift monitor's reader), and what the evidence needs of it
(inference id, prediction, time; or id and label) is kept as one small Parquet object under
`naming.shadow_evidence_prefix`; later evaluations read that instead. The last two hours are
read from capture each time. A file written into an hour after its extract was kept is not read
(an hour is kept only once it ended more than an hour ago, so a capture file uploaded late still
counts). As locally, requests
before the shadow started are dropped, production is compared on the requests the shadow also
served, labels are joined by inference id (callers send `InferenceId`, which both variants'
captures and the ground truth carry), and the label is positive when it equals
`model.positive_class`.

Latency and errors. `AWS/SageMaker` metrics with dimensions EndpointName and VariantName: a shadow
variant reports under its own variant name, as production does (SageMaker's shadow-test dashboard
compares exactly these per variant: "Monitor a shadow test" in the SageMaker developer guide).
ModelLatency is in microseconds, read as the p99 extended statistic; the error rate is the sum of
Invocation5XXErrors over the sum of Invocations. One period spans the whole window: a whole number
of hours, which GetMetricStatistics accepts for data of any age. Should the window still fall in
two periods, the larger p99 is taken: an upper bound of the window's p99, the safe side of a limit.
No invocation means no latency and no error rate (None), which the verdict treats as not proven.

Offline metrics come from the candidate's evaluation report (customer metadata `EvaluationReport`,
an S3 URI of the Evaluate step's `evaluation.json`), key `metrics`.

pandas, pyarrow and scikit-learn are imported only when evidence is built, so the approval
function, which never builds any, starts without them.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.config import ModelConfig
from pipelines.monitoring.hours import HOUR, floor_hour, partition
from pipelines.naming import (
    EVALUATION_REPORT,
    PRODUCTION_VARIANT,
    SHADOW_VARIANT,
    ground_truth_prefix,
    shadow_evidence_prefix,
    split_uri,
    variant_capture_prefix,
)
from pipelines.promotion.controller import EvidenceSource, ModelVersion
from pipelines.promotion.shadow import ShadowEvidence

NAMESPACE = "AWS/SageMaker"
LABELS = "labels"
SETTLE = timedelta(hours=1)  # an hour is kept once it ended this long ago: a late capture file still counts
HOUR_SECONDS = 3600


@dataclass(frozen=True)
class VariantTelemetry:
    invocations: float
    latency_p99_ms: float | None
    error_rate: float | None


def download_prefix(s3: Any, prefix_uri: str, folder: Path) -> int:
    """Every object under `prefix_uri` mirrored into `folder` (keys that would land outside it
    are skipped). Returns how many."""
    bucket, prefix = split_uri(prefix_uri)
    root = folder.resolve()
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix) :]
            target = (root / relative).resolve()
            if not relative or item["Key"].endswith("/") or not target.is_relative_to(root):
                continue  # folder markers, and keys that would land outside the folder
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                shutil.copyfileobj(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"], out)
            count += 1
    return count


@dataclass
class HourReads:
    """How one evidence source was read: hours downloaded from the source, hours read from kept extracts."""

    downloaded: int = 0
    kept: int = 0


def read_by_hour(
    s3: Any,
    source_uri: str,
    extracts_uri: str,
    started: datetime,
    now: datetime,
    read: Callable[[Path], Any],
    folder: Path,
) -> tuple[Any, HourReads]:
    """Every hour partition of `source_uri` from `started`'s hour to `now`'s, read with `read`
    (a folder in, a frame out): an hour that ended more than `SETTLE` ago from its kept extract
    under `extracts_uri`, or read once and kept there; younger hours from the source."""
    import io

    import pandas as pd

    current = floor_hour(now)
    settled = current - SETTLE  # hours before this one are kept; later files may still land in younger ones
    reads, frames = HourReads(), []
    hour = floor_hour(started)
    while hour <= current:
        extract = f"{extracts_uri}{hour:%Y/%m/%d/%H}.parquet"
        bucket, key = split_uri(extract)
        if hour < settled:
            try:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except Exception as error:
                if getattr(error, "response", {}).get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                    raise
            else:
                frames.append(pd.read_parquet(io.BytesIO(body)))
                reads.kept += 1
                hour += HOUR
                continue
        target = folder / partition(hour)
        download_prefix(s3, source_uri + partition(hour), target)
        frame = read(target)
        reads.downloaded += 1
        if hour < settled:
            buffer = io.BytesIO()
            frame.to_parquet(buffer, index=False)
            s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
        frames.append(frame)
        hour += HOUR
    kept = [frame for frame in frames if len(frame)]
    return (pd.concat(kept, ignore_index=True) if kept else frames[0] if frames else pd.DataFrame()), reads


def variant_telemetry(
    cloudwatch: Any, endpoint: str, variant: str, started: datetime, end: datetime
) -> VariantTelemetry:
    seconds = max((end - started).total_seconds(), 1.0)
    request: dict[str, Any] = {
        "Namespace": NAMESPACE,
        "Dimensions": [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
        "StartTime": started,
        "EndTime": end,
        "Period": math.ceil(seconds / HOUR_SECONDS) * HOUR_SECONDS,
    }

    def datapoints(metric: str, **statistics: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = cloudwatch.get_metric_statistics(MetricName=metric, **request, **statistics)[
            "Datapoints"
        ]
        return found

    invocations = sum(float(d.get("Sum", 0.0)) for d in datapoints("Invocations", Statistics=["Sum"]))
    errors = sum(float(d.get("Sum", 0.0)) for d in datapoints("Invocation5XXErrors", Statistics=["Sum"]))
    p99s = [
        float(d["ExtendedStatistics"]["p99"])
        for d in datapoints("ModelLatency", ExtendedStatistics=["p99"])
        if "p99" in d.get("ExtendedStatistics", {})
    ]
    if not invocations:
        return VariantTelemetry(0.0, None, None)
    return VariantTelemetry(invocations, max(p99s) / 1000 if p99s else None, errors / invocations)


def offline_metrics(s3: Any, version: ModelVersion) -> dict[str, float | None]:
    report = version.metadata.get(EVALUATION_REPORT)
    if not report:
        return {}
    bucket, key = split_uri(report)
    metrics: dict[str, float | None] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())["metrics"]
    return metrics


def aws_evidence(
    config: ModelConfig,
    s3: Any,
    cloudwatch: Any,
    *,
    now: Callable[[], datetime] | None = None,
    workdir: Path | None = None,
) -> EvidenceSource:
    endpoint = config.promotion.endpoint(config.model.name)
    clock = now or (lambda: datetime.now(UTC))

    def build(shadow: ModelVersion, production: ModelVersion, started: datetime) -> ShadowEvidence:
        from pipelines.drift import INFERENCE_TIME_COLUMN
        from pipelines.promotion.evidence import ID, SCORE, Observed, Telemetry, shadow_evidence
        from training_containers.capture import read_capture, read_ground_truth

        def telemetry(variant: str) -> Telemetry:
            measured = variant_telemetry(cloudwatch, endpoint, variant, started, moment)
            return Telemetry(measured.latency_p99_ms, measured.error_rate)

        moment = clock()

        def predictions(folder: Path) -> Any:
            frame = read_capture(folder, config)[0]
            return frame[[c for c in (ID, SCORE, INFERENCE_TIME_COLUMN) if c in frame.columns]]

        def labels(folder: Path) -> Any:
            return read_ground_truth(folder, config)[0]

        with tempfile.TemporaryDirectory(prefix="shadow-evidence-", dir=workdir) as temporary:
            folder = Path(temporary)
            read: dict[str, Any] = {}
            for source, uri, reader in (
                (SHADOW_VARIANT, variant_capture_prefix(config, SHADOW_VARIANT), predictions),
                (PRODUCTION_VARIANT, variant_capture_prefix(config, PRODUCTION_VARIANT), predictions),
                (LABELS, ground_truth_prefix(config), labels),
            ):
                read[source], _ = read_by_hour(
                    s3, uri, shadow_evidence_prefix(config, source), started, moment, reader, folder / source
                )
            observed = Observed(
                shadow=read[SHADOW_VARIANT],
                production=read[PRODUCTION_VARIANT],
                labels=read[LABELS],
                shadow_telemetry=telemetry(SHADOW_VARIANT),
                production_telemetry=telemetry(PRODUCTION_VARIANT),
                offline=offline_metrics(s3, shadow),
            )
        return shadow_evidence(config, observed, started, moment)

    return build
