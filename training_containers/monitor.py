"""Drift monitor processing job: one window of captured traffic against the champion's baseline.

Inputs:  config/model-config.json; baseline/baseline_profile.json (the champion's, written by
         DataPull); capture/ (SageMaker data-capture JSONL, or Parquet/CSV tables);
         ground_truth/ (optional: Model Monitor ground-truth JSONL, or tables).
Outputs: report/drift_report.json and report/drift_report.html.
Metrics: CloudWatch (namespace and dimensions in `pipelines/drift/metrics.py` and docs/drift.md)
         through an injected client; locally the same datapoints go to the SQLite metrics store
         at `--metrics-store PATH`, else `$DRIFT_METRICS_STORE` (a store that outlives one run,
         so alarms can be evaluated over many), else, under the local runtime,
         `report/metrics.sqlite`.
Arguments: --window-start / --window-end (ISO-8601): drift is judged on records whose inference
         time is in [start, end); with an end alone (the scheduled run) the start is one alarm
         period (`drift.alarm_period_seconds`) earlier; with neither, every captured record.
         Labels come late, so performance and label drift use the captured predictions of the
         last `drift.performance_window_hours` before the end. The metrics are stamped one second
         before the end (default: the newest inference), inside the period the window describes.
Inputs are found by name: `model-config.json` and `baseline_profile.json` directly in their
input folders or, when exactly one file of that name is below, there.

Unreadable capture lines, a missing feature or an empty window are findings in the report, not
crashes; the job fails only without a config or a baseline profile.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines import naming
from pipelines.config import ModelConfig, parse_config
from pipelines.drift import INFERENCE_TIME_COLUMN, run_monitor
from pipelines.drift.metrics import MetricsClient, metric_data, publish_metrics
from pipelines.drift.report import write_html
from pipelines.monitoring.metrics_store import MetricsStore
from training_containers import contract
from training_containers.capture import read_capture, read_ground_truth
from training_containers.files import read_json, write_json

REPORT_JSON = "drift_report.json"
REPORT_HTML = "drift_report.html"
LOCAL_STORE = "metrics.sqlite"
METRICS_STORE_ENV = "DRIFT_METRICS_STORE"


class MonitorInputMissing(Exception):
    """The job cannot run: a required input is absent."""


def _window(frame: pd.DataFrame, start: str | None, end: str | None) -> pd.DataFrame:
    if INFERENCE_TIME_COLUMN not in frame.columns or not (start or end):
        return frame
    times = pd.to_datetime(frame[INFERENCE_TIME_COLUMN], utc=True)
    keep = pd.Series(True, index=frame.index)
    if start:
        keep &= times >= pd.Timestamp(_utc(start))
    if end:
        keep &= times < pd.Timestamp(_utc(end))
    return frame[keep]


def _utc(value: str) -> datetime:
    moment = pd.Timestamp(value)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    return moment.to_pydatetime()


def metrics_timestamp(report: dict[str, Any], window_end: str | None) -> datetime:
    """A moment inside the window, so each datapoint lands in the alarm period it describes: one
    second before an explicit end, else the newest inference, else now."""
    if window_end:
        return _utc(window_end) - timedelta(seconds=1)
    if report["window"].get("end"):
        return _utc(report["window"]["end"])
    return datetime.now(UTC)


def _find(folder: Path, name: str, what: str) -> Path:
    """`name` directly in `folder`, else the one file of that name below it."""
    if (folder / name).is_file():
        return folder / name
    found = sorted(folder.rglob(name)) if folder.exists() else []
    if len(found) != 1:
        where = f"{len(found)} files named {name}" if found else f"no {name}"
        raise MonitorInputMissing(f"no {what}: {where} under {folder}")
    return found[0]


def load_inputs() -> tuple[ModelConfig, dict[str, Any]]:
    config_path = _find(contract.processing_input("config"), naming.CONFIG_FILE, "model config")
    profile_path = _find(contract.processing_input("baseline"), naming.BASELINE_PROFILE, "baseline profile")
    return parse_config(read_json(config_path)), read_json(profile_path)


def run(
    *,
    window_start: str | None = None,
    window_end: str | None = None,
    metrics_client: MetricsClient | None = None,
) -> dict[str, Any]:
    """Read the inputs, write the reports, publish the metrics (when a client is given)."""
    config, profile = load_inputs()
    captured, capture_stats = read_capture(contract.processing_input("capture"), config)
    labels, truth_stats = read_ground_truth(contract.processing_input("ground_truth"), config)
    if window_end and not window_start:  # a scheduled run: the period that just ended
        window_start = (_utc(window_end) - timedelta(seconds=config.drift.alarm_period_seconds)).isoformat()
    window = _window(captured, window_start, window_end)
    labelled_window = None
    if window_end:
        lookback = timedelta(hours=config.drift.performance_window_hours)
        labelled_window = _window(captured, (_utc(window_end) - lookback).isoformat(), window_end)

    report = run_monitor(
        config,
        profile,
        window,
        labels,
        labelled_window=labelled_window,
        window_start=window_start,
        window_end=window_end,
    )
    report["capture"] = capture_stats.as_dict()
    report["ground_truth"] = truth_stats.as_dict()

    published = {"namespace": config.drift.metric_namespace, "datapoints": 0, "requests": 0, "destination": None}
    if metrics_client is not None:
        data = metric_data(report, config.model.name, metrics_timestamp(report, window_end))
        published |= {
            "datapoints": len(data),
            "requests": publish_metrics(metrics_client, config.drift.metric_namespace, data),
            "destination": type(metrics_client).__name__,
        }
    report["metrics"] = published

    out = contract.processing_output("report")
    write_json(out / REPORT_JSON, report)
    write_html(report, out / REPORT_HTML)
    return report


def _client(args: argparse.Namespace, config_region: str) -> MetricsClient | None:
    if args.no_metrics:
        return None
    if args.metrics_store or os.environ.get(METRICS_STORE_ENV):
        return MetricsStore(args.metrics_store or os.environ[METRICS_STORE_ENV])
    if os.environ.get("SM_LOCAL_RUNTIME"):
        return MetricsStore(contract.processing_output("report") / LOCAL_STORE)
    from pipelines.clients import client  # only on SageMaker: the one place this job creates an AWS client

    return client("cloudwatch", region_name=os.environ.get("AWS_REGION", config_region))  # type: ignore[no-any-return]


def _failed(exc: MonitorInputMissing) -> int:
    """The failure reason where SageMaker reads it (the job's ExitMessage), and on stderr."""
    contract.report_exit_message(f"DriftMonitor: {exc}")
    print(f"error: {exc}", file=sys.stderr)
    return 1


def _summary(report: dict[str, Any]) -> str:
    summary = report["summary"]
    return (
        f"drift monitor: {report['window']['rows']:,} rows, {summary['drifted_feature_count']} of "
        f"{summary['features']} features drifted (alarm at {summary['min_drifted_features']}), "
        f"{report['metrics']['datapoints']} datapoints published"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window-start", default=None)
    parser.add_argument("--window-end", default=None)
    parser.add_argument("--metrics-store", default=None, help="local SQLite metrics store instead of CloudWatch")
    parser.add_argument("--no-metrics", action="store_true", help="write the reports only")
    args = parser.parse_args(argv)
    try:
        config, _ = load_inputs()
        metrics = _client(args, config.pipeline.region)
        report = run(window_start=args.window_start or None, window_end=args.window_end or None, metrics_client=metrics)
    except MonitorInputMissing as exc:
        return _failed(exc)
    print(_summary(report), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
