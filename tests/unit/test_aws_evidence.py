"""The AWS shadow-evidence source on moto S3 and a botocore Stubber for CloudWatch (moto computes
no extended statistics): what it downloads, the CloudWatch requests it makes (checked against the
service model and the expected values), and the evidence it builds, against values computed by
hand from a dozen captured requests."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from pipelines.config import ModelConfig
from pipelines.naming import ground_truth_prefix, variant_capture_prefix
from pipelines.promotion.aws_evidence import aws_evidence, download_prefix, read_by_hour, variant_telemetry
from pipelines.promotion.controller import ModelVersion
from pipelines.promotion.endpoint import Version
from pipelines.promotion.lifecycle import Stage
from pipelines.promotion.shadow import decide
from tests.conftest import ROOT

REGION = "us-east-1"
BUCKET = "fraud-detector-111122223333-us-east-1"
ENDPOINT = "fraud-detector-endpoint"
STARTED = datetime(2026, 11, 20, 17, 30, tzinfo=UTC)
NOW = STARTED + timedelta(hours=30)
ROW = "12.5,online,10,100,5,1,1,0.9,low"  # the nine features in config order


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


def _put(s3: Any, uri: str, lines: list[dict[str, Any]]) -> None:
    key = uri.removeprefix(f"s3://{BUCKET}/")
    s3.put_object(Bucket=BUCKET, Key=key, Body=("\n".join(json.dumps(line) for line in lines) + "\n").encode())


def capture(inference_id: str, score: float, at: datetime) -> dict[str, Any]:
    """One line of SageMaker data capture (CSV in, CSV out), as an endpoint writes it."""
    return {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": ROW, "encoding": "CSV"},
            "endpointOutput": {
                "observedContentType": "text/csv",
                "mode": "OUTPUT",
                "data": f"{score:.6f}",
                "encoding": "CSV",
            },
        },
        "eventMetadata": {
            "eventId": f"event-{inference_id}-{score}",
            "inferenceId": inference_id,
            "inferenceTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "eventVersion": "0",
    }


def label(inference_id: str, value: int) -> dict[str, Any]:
    return {
        "groundTruthData": {"data": str(value), "encoding": "CSV"},
        "eventMetadata": {"eventId": inference_id},
        "eventVersion": "0",
    }


def test_ground_truth_prefix_is_the_local_one(config: ModelConfig) -> None:
    from pipelines.naming import ground_truth_prefix as local_prefix

    assert ground_truth_prefix(config) == local_prefix(config)
    assert variant_capture_prefix(config, "shadow") == f"s3://{BUCKET}/fraud-detector/capture/{ENDPOINT}/shadow/"


def test_download_mirrors_a_prefix_and_keeps_keys_inside_the_folder(s3: Any, tmp_path: Path) -> None:
    prefix = f"fraud-detector/capture/{ENDPOINT}/shadow/2026/11/20/17/"
    for key in ("c.jsonl", "sub/d.jsonl", "../escape.jsonl"):
        s3.put_object(Bucket=BUCKET, Key=prefix + key, Body=key.encode())
    count = download_prefix(s3, f"s3://{BUCKET}/{prefix}", tmp_path / "hour")
    found = sorted(p.relative_to(tmp_path / "hour").as_posix() for p in (tmp_path / "hour").rglob("*.*"))
    assert found == ["c.jsonl", "sub/d.jsonl"] and count == 2
    assert not (tmp_path / "escape.jsonl").exists()


def test_each_ended_hour_is_read_once_and_kept(s3: Any, tmp_path: Path) -> None:
    source, kept = f"s3://{BUCKET}/m/capture/e/shadow/", f"s3://{BUCKET}/m/monitor-store/evidence/shadow/"
    for hour in ("2026/11/20/16", "2026/11/20/17", "2026/11/20/18", "2026/11/20/19"):
        s3.put_object(Bucket=BUCKET, Key=f"m/capture/e/shadow/{hour}/part.jsonl", Body=hour.encode())

    def read(folder: Path) -> pd.DataFrame:
        return pd.DataFrame({"hour": [p.read_text() for p in sorted(folder.rglob("*.jsonl"))]})

    now = datetime(2026, 11, 20, 20, 10, tzinfo=UTC)
    first, reads = read_by_hour(s3, source, kept, STARTED, now, read, tmp_path / "a")
    assert first["hour"].tolist() == ["2026/11/20/17", "2026/11/20/18", "2026/11/20/19"]  # from the start's hour
    assert (reads.downloaded, reads.kept) == (4, 0)  # 17 to 20: four hours, 20 still empty
    for hour in ("17", "18"):  # the settled hours are gone from the source: the kept extracts answer
        s3.delete_object(Bucket=BUCKET, Key=f"m/capture/e/shadow/2026/11/20/{hour}/part.jsonl")
    s3.put_object(Bucket=BUCKET, Key="m/capture/e/shadow/2026/11/20/19/late.jsonl", Body=b"2026/11/20/19 late")
    again, reads = read_by_hour(s3, source, kept, STARTED, now, read, tmp_path / "b")
    # the hour before now is read again, with the file that landed in it late
    assert again["hour"].tolist() == ["2026/11/20/17", "2026/11/20/18", "2026/11/20/19 late", "2026/11/20/19"]
    assert (reads.downloaded, reads.kept) == (2, 2)


def _dimensions(variant: str) -> list[dict[str, str]]:
    return [{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": variant}]


def stub_telemetry(
    stubber: Stubber,
    variant: str,
    *,
    invocations: list[float],
    errors: list[float],
    p99_us: list[float],
    period: int = 30 * 3600,
) -> None:
    """The three GetMetricStatistics calls of one variant, with their expected requests."""
    common = {
        "Namespace": "AWS/SageMaker",
        "Dimensions": _dimensions(variant),
        "StartTime": STARTED,
        "EndTime": NOW,
        "Period": period,
    }
    at = STARTED.replace(minute=0)

    def sums(values: list[float]) -> dict[str, Any]:
        return {"Label": "x", "Datapoints": [{"Timestamp": at, "Sum": v, "Unit": "Count"} for v in values]}

    stubber.add_response(
        "get_metric_statistics", sums(invocations), {**common, "MetricName": "Invocations", "Statistics": ["Sum"]}
    )
    stubber.add_response(
        "get_metric_statistics", sums(errors), {**common, "MetricName": "Invocation5XXErrors", "Statistics": ["Sum"]}
    )
    stubber.add_response(
        "get_metric_statistics",
        {
            "Label": "ModelLatency",
            "Datapoints": [{"Timestamp": at, "ExtendedStatistics": {"p99": v}, "Unit": "Microseconds"} for v in p99_us],
        },
        {**common, "MetricName": "ModelLatency", "ExtendedStatistics": ["p99"]},
    )


@pytest.fixture
def cloudwatch() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("cloudwatch", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_telemetry_sums_counts_and_takes_the_larger_p99_in_milliseconds(cloudwatch: tuple[Any, Stubber]) -> None:
    client, stubber = cloudwatch
    # 30 hours -> one 30-hour period; CloudWatch may still split it in two datapoints.
    stub_telemetry(stubber, "shadow", invocations=[400, 200], errors=[3, 0], p99_us=[120_000, 150_000])
    telemetry = variant_telemetry(client, ENDPOINT, "shadow", STARTED, NOW)
    assert telemetry.invocations == 600
    assert telemetry.error_rate == pytest.approx(3 / 600)
    assert telemetry.latency_p99_ms == pytest.approx(150.0)


def test_telemetry_without_invocations_is_unknown_and_periods_are_whole_hours(
    cloudwatch: tuple[Any, Stubber],
) -> None:
    client, stubber = cloudwatch
    end = STARTED + timedelta(minutes=61)  # two hours' period
    common = {"Namespace": "AWS/SageMaker", "Dimensions": _dimensions("production"), "StartTime": STARTED}
    for metric, statistic in (
        ("Invocations", {"Statistics": ["Sum"]}),
        ("Invocation5XXErrors", {"Statistics": ["Sum"]}),
        ("ModelLatency", {"ExtendedStatistics": ["p99"]}),
    ):
        stubber.add_response(
            "get_metric_statistics",
            {"Label": metric, "Datapoints": []},
            {**common, "EndTime": end, "Period": 7200, "MetricName": metric, **statistic},
        )
    telemetry = variant_telemetry(client, ENDPOINT, "production", STARTED, end)
    assert (telemetry.invocations, telemetry.latency_p99_ms, telemetry.error_rate) == (0.0, None, None)


def _version(number: int, stage: Stage, metadata: dict[str, str]) -> ModelVersion:
    arn = f"arn:aws:sagemaker:{REGION}:111122223333:model-package/fraud-detector/{number}"
    return ModelVersion(
        Version(arn, number, f"s3://{BUCKET}/fraud-detector/executions/r{number}/model.tar.gz", "img"),
        stage,
        metadata,
        "",
    )


def test_evidence_from_capture_labels_metrics_and_report(
    s3: Any, cloudwatch: tuple[Any, Stubber], config: ModelConfig, tmp_path: Path
) -> None:
    """Hand-computed: the shadow and production scores of the same five labelled requests.

    id  label  shadow  production
    a1    1     0.9      0.6
    a2    0     0.2      0.3
    a3    1     0.7      0.4
    a4    0     0.4      0.55
    a5    0     0.6      0.2
    a6    -     0.8      0.7     (no label yet: counted, not measured)

    Threshold 0.5. Shadow predicts 1,0,1,0,1: TP 2, FP 1, TN 2, FN 0 -> accuracy 4/5, precision 2/3,
    recall 1, f1 0.8; both positives score above every negative -> ROC-AUC 1, PR-AUC 1.
    Production predicts 1,0,0,1,0: TP 1, FP 1, TN 2, FN 1 -> accuracy 3/5, precision 1/2, recall
    1/2, f1 1/2; positive 0.6 beats 3 negatives, 0.4 beats 2 of 3 -> ROC-AUC 5/6; ranked
    0.6(+) 0.55 0.4(+) -> PR-AUC (1 + 2/3) / 2 = 5/6.
    """
    client, stubber = cloudwatch
    before, during = STARTED - timedelta(minutes=10), STARTED + timedelta(hours=2)
    shadow_scores = {"a1": 0.9, "a2": 0.2, "a3": 0.7, "a4": 0.4, "a5": 0.6, "a6": 0.8}
    production_scores = {"a1": 0.6, "a2": 0.3, "a3": 0.4, "a4": 0.55, "a5": 0.2, "a6": 0.7}
    labels = {"a1": 1, "a2": 0, "a3": 1, "a4": 0, "a5": 0}
    shadow_prefix = variant_capture_prefix(config, "shadow")
    production_prefix = variant_capture_prefix(config, "production")
    # Before the shadow started (earlier hour, and earlier in the start hour): never counted.
    _put(s3, f"{production_prefix}2026/11/20/16/old.jsonl", [capture("z1", 0.99, STARTED - timedelta(hours=1))])
    _put(s3, f"{production_prefix}2026/11/20/17/early.jsonl", [capture("z2", 0.99, before)])
    _put(s3, f"{shadow_prefix}2026/11/20/17/early.jsonl", [capture("z2", 0.01, before)])
    _put(s3, f"{shadow_prefix}2026/11/20/19/part.jsonl", [capture(i, s, during) for i, s in shadow_scores.items()])
    # Production also served requests the shadow did not sample: not compared.
    production_lines = [capture(i, s, during) for i, s in production_scores.items()]
    production_lines += [capture("p7", 0.95, during), capture("p8", 0.05, during)]
    _put(s3, f"{production_prefix}2026/11/20/19/part.jsonl", production_lines)
    gt = ground_truth_prefix(config)
    _put(s3, f"{gt}2026/11/21/03/labels.jsonl", [label(i, v) for i, v in labels.items()] + [label("p7", 1)])
    _put(s3, f"{gt}2026/11/20/16/old.jsonl", [label("z1", 0), label("z2", 0)])
    report = f"s3://{BUCKET}/fraud-detector/executions/r2/Evaluate/evaluation/evaluation.json"
    _put(s3, report, [{"metrics": {"roc_auc": 0.97, "pr_auc": 0.9}, "gates": {}}])
    stub_telemetry(stubber, "shadow", invocations=[400, 200], errors=[3, 0], p99_us=[120_000, 150_000])
    stub_telemetry(stubber, "production", invocations=[6000], errors=[], p99_us=[80_000])

    source = aws_evidence(config, s3, client, now=lambda: NOW, workdir=tmp_path)
    shadow = _version(2, Stage.SHADOW, {"EvaluationReport": report, "ShadowStartedAt": STARTED.isoformat()})
    evidence = source(shadow, _version(1, Stage.PRODUCTION, {}), STARTED)

    assert (evidence.started_at, evidence.now, evidence.hours) == (STARTED, NOW, 30.0)
    assert (evidence.shadow.requests, evidence.shadow.labelled) == (6, 5)
    assert (evidence.production.requests, evidence.production.labelled) == (6, 5)
    assert evidence.shadow.metrics == pytest.approx(
        {"accuracy": 0.8, "precision": 2 / 3, "recall": 1.0, "f1": 0.8, "roc_auc": 1.0, "pr_auc": 1.0}
    )
    assert evidence.production.metrics == pytest.approx(
        {"accuracy": 0.6, "precision": 0.5, "recall": 0.5, "f1": 0.5, "roc_auc": 5 / 6, "pr_auc": 5 / 6}
    )
    assert (evidence.shadow.latency_p99_ms, evidence.shadow.error_rate) == (150.0, pytest.approx(0.005))
    assert (evidence.production.latency_p99_ms, evidence.production.error_rate) == (80.0, 0.0)
    assert evidence.offline == {"roc_auc": 0.97, "pr_auc": 0.9}
    assert list(tmp_path.iterdir()) == []  # the downloads are removed

    # The verdict on it: live 1.0 vs offline 0.97 and champion 5/6, latency and errors in limits.
    criteria = config.promotion.shadow.model_copy(update={"min_labels": 5})
    decision = decide(evidence, criteria)
    assert decision.verdict == "promote", decision.reason


def test_evidence_with_nothing_captured_yet_waits_for_traffic(
    s3: Any, cloudwatch: tuple[Any, Stubber], config: ModelConfig
) -> None:
    client, stubber = cloudwatch
    stub_telemetry(stubber, "shadow", invocations=[50], errors=[0], p99_us=[30_000])
    stub_telemetry(stubber, "production", invocations=[5000], errors=[0], p99_us=[25_000])
    evidence = aws_evidence(config, s3, client, now=lambda: NOW)(
        _version(2, Stage.SHADOW, {}), _version(1, Stage.PRODUCTION, {}), STARTED
    )
    assert (evidence.shadow.requests, evidence.shadow.labelled, evidence.shadow.metrics) == (0, 0, {})
    assert evidence.offline == {}
    decision = decide(evidence, config.promotion.shadow)
    assert decision.verdict == "wait" and "no traffic yet" in decision.reason


def test_the_approval_path_imports_no_pandas_pyarrow_or_sklearn() -> None:
    code = (
        "import sys; import pipelines.promotion.aws, pipelines.promotion.aws_evidence; "
        "from pipelines.naming import champion_prefix; "
        "print(sorted(m for m in ('pandas', 'pyarrow', 'sklearn', 'numpy', 'sagemaker') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
