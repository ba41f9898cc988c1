"""Shadow evidence on AWS, through injected S3 and CloudWatch clients: what `local.local_evidence`
reads on this machine, read from where SageMaker and the label feed put it.

Predictions. SageMaker writes each variant's data capture under
`<capture prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/` (UTC). Labels arrive under
`s3://<bucket>/<model>/ground-truth/`, by Model Monitor's convention in `yyyy/mm/dd/hh/` folders of
their arrival time; a label for a request served after the shadow started cannot arrive before it.
Keys therefore sort by hour, and each listing starts after `<prefix>/<hour the shadow started>`:
only objects that can concern the shadow are downloaded (to a temporary folder, removed after)
and read by `training_containers.capture`, the drift monitor's reader. As locally, requests
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.config import ModelConfig
from pipelines.naming import (
    EVALUATION_REPORT,
    PRODUCTION_VARIANT,
    SHADOW_VARIANT,
    ground_truth_prefix,
    split_uri,
    variant_capture_prefix,
)
from pipelines.promotion.controller import EvidenceSource, ModelVersion
from pipelines.promotion.shadow import ShadowEvidence

NAMESPACE = "AWS/SageMaker"
HOUR_SECONDS = 3600


@dataclass(frozen=True)
class VariantTelemetry:
    invocations: float
    latency_p99_ms: float | None
    error_rate: float | None


def download_since(s3: Any, prefix_uri: str, started: datetime, folder: Path) -> int:
    """Every object under `prefix_uri` in an hour folder from the hour of `started` on (and any
    key that sorts after those, such as flat tables), mirrored into `folder`. Returns how many."""
    bucket, prefix = split_uri(prefix_uri)
    start_after = f"{prefix}{started.astimezone(UTC):%Y/%m/%d/%H}"
    root = folder.resolve()
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, StartAfter=start_after):
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
        from pipelines.promotion.evidence import Observed, Telemetry, shadow_evidence
        from training_containers.capture import read_capture, read_ground_truth

        def telemetry(variant: str) -> Telemetry:
            measured = variant_telemetry(cloudwatch, endpoint, variant, started, moment)
            return Telemetry(measured.latency_p99_ms, measured.error_rate)

        moment = clock()
        with tempfile.TemporaryDirectory(prefix="shadow-evidence-", dir=workdir) as temporary:
            folder = Path(temporary)
            for variant in (SHADOW_VARIANT, PRODUCTION_VARIANT):
                download_since(s3, variant_capture_prefix(config, variant), started, folder / variant)
            download_since(s3, ground_truth_prefix(config), started, folder / "ground-truth")
            observed = Observed(
                shadow=read_capture(folder / SHADOW_VARIANT, config)[0],
                production=read_capture(folder / PRODUCTION_VARIANT, config)[0],
                labels=read_ground_truth(folder / "ground-truth", config)[0],
                shadow_telemetry=telemetry(SHADOW_VARIANT),
                production_telemetry=telemetry(PRODUCTION_VARIANT),
                offline=offline_metrics(s3, shadow),
            )
        return shadow_evidence(config, observed, started, moment)

    return build
