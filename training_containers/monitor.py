"""Drift monitor processing job: one window of captured hours against the champion's baseline.

Inputs:  config/model-config.json; baseline/baseline_profile.json (the champion's, written by
         DataPull); capture/ (SageMaker data-capture JSONL under yyyy/mm/dd/hh/ folders, or
         Parquet/CSV tables): the capture no stored hour profile covers yet; hours/ (optional):
         stored hour profiles and predictions (training_containers.hour_profiles); shards/
         (optional): the hour profiles a sharded profile stage wrote; ground_truth/ (optional:
         Model Monitor ground-truth JSONL, or tables).
Outputs: report/drift_report.json and report/drift_report.html; hours/: every hour this run
         profiled, merged with what was stored (the store the next runs read); with
         `--stage profile`, shards/<host>/: this instance's hour profiles, nothing else.
Metrics: CloudWatch (namespace and dimensions in `pipelines/drift/metrics.py` and docs/drift.md)
         through an injected client; locally the same datapoints go to the SQLite metrics store
         at `--metrics-store PATH`, else `$DRIFT_METRICS_STORE` (a store that outlives one run,
         so alarms can be evaluated over many), else, under the local runtime,
         `report/metrics.sqlite`.
Arguments: --window-end (ISO-8601): drift is judged on the capture hours of one alarm period
         before the end's hour (pipelines.monitoring.hours); --window-start too: the hours from
         the start's to the end's; neither: every hour found. Labels come late, so performance
         and label drift use the predictions of the last `drift.performance_window_hours` hours.
         The metrics are stamped one second before the window's end, inside the period the
         window describes. --stage profile: profile this instance's share of the capture and stop
         (the first step of a sharded run; a second job with `shards/` as input judges).
Inputs are found by name: `model-config.json` and `baseline_profile.json` directly in their
input folders or, when exactly one file of that name is below, there.

Unreadable capture lines, a missing feature, a missing hour, an empty window, an object profiled
twice are findings in the report, not crashes; the job fails only without a config or a
baseline profile.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines import naming
from pipelines.config import ModelConfig, parse_config
from pipelines.drift import BaselineReference, run_monitor
from pipelines.drift.metrics import MetricsClient, metric_data, publish_metrics
from pipelines.drift.report import write_html
from pipelines.drift.window import baseline_key
from pipelines.monitoring.hours import HOUR, floor_hour, lookback_hours, stamp, window_hours
from pipelines.monitoring.metrics_store import MetricsStore
from training_containers import contract
from training_containers.capture import CaptureStats, merge_stats, read_ground_truth
from training_containers.files import read_json, write_json
from training_containers.hour_profiles import (
    merge_entries,
    profile_capture,
    read_entries,
    unique_predictions,
    window_profile,
    window_scores,
    window_stats,
)

REPORT_JSON = "drift_report.json"
REPORT_HTML = "drift_report.html"
LOCAL_STORE = "metrics.sqlite"
METRICS_STORE_ENV = "DRIFT_METRICS_STORE"
PROFILE_STAGE, ALL_STAGES = "profile", "all"
SHARD_SUMMARY = "_summary.json"


class MonitorInputMissing(Exception):
    """The job cannot run: a required input is absent."""


def _utc(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def metrics_timestamp(window_end: datetime) -> datetime:
    """One second before the window's end, so each datapoint lands in the alarm period it describes."""
    return window_end - timedelta(seconds=1)


def _find(folder: Path, name: str, what: str) -> Path:
    """`name` directly in `folder`, else the one file of that name below it."""
    if (folder / name).is_file():
        return folder / name
    found = sorted(folder.rglob(name)) if folder.exists() else []
    if len(found) != 1:
        where = f"{len(found)} files named {name}" if found else f"no {name}"
        raise MonitorInputMissing(f"no {what}: {where} under {folder}")
    return found[0]


def load_inputs() -> tuple[ModelConfig, dict[str, Any], str]:
    """The config, the baseline profile and the baseline's name (the sha-256 of its bytes)."""
    config_path = _find(contract.processing_input("config"), naming.CONFIG_FILE, "model config")
    profile_path = _find(contract.processing_input("baseline"), naming.BASELINE_PROFILE, "baseline profile")
    return parse_config(read_json(config_path)), read_json(profile_path), baseline_key(profile_path.read_bytes())


def judged_hours(config: ModelConfig, start: str | None, end: str | None, found: list[datetime]) -> list[datetime]:
    """The capture hours a run judges (see the module docstring)."""
    if end is None:
        return sorted(found) if start is None else sorted(h for h in found if h >= floor_hour(_utc(start)))
    if start is None:
        return window_hours(_utc(end), config.drift.alarm_period_seconds)
    first, last = floor_hour(_utc(start)), floor_hour(_utc(end))
    return [first + HOUR * k for k in range(int((last - first) / HOUR))]


def shard_unplaced(folder: Path) -> list[CaptureStats]:
    """What the profile stage's instances could not place in an hour (their `_summary.json`)."""
    summaries = sorted(folder.rglob(SHARD_SUMMARY)) if folder.exists() else []
    return [CaptureStats.from_dict(read_json(summary).get("unplaced") or {}) for summary in summaries]


def profile_stage(config: ModelConfig, reference: BaselineReference, baseline: str) -> dict[str, Any]:
    """A sharded run's first step: this instance's capture profiled by hour, written for the merge."""
    entries, unplaced = profile_capture(contract.processing_input("capture"), config, reference, baseline)
    host = contract.current_host()
    folder = contract.processing_output("shards") / host
    for entry in entries.values():
        entry.write(folder)
    records = sum(entry.profile.rows for entry in entries.values())
    summary = {"stage": PROFILE_STAGE, "host": host, "hours": [stamp(h) for h in sorted(entries)], "records": records}
    write_json(folder / SHARD_SUMMARY, summary | {"unplaced": unplaced.as_dict()})
    return summary


def run(
    *,
    window_start: str | None = None,
    window_end: str | None = None,
    metrics_client: MetricsClient | None = None,
    stage: str = ALL_STAGES,
) -> dict[str, Any]:
    """Profile the new capture, update the hour store, judge the window, write the reports and
    publish the metrics (when a client is given)."""
    config, profile, baseline = load_inputs()
    reference = BaselineReference.from_profile(profile)
    if stage == PROFILE_STAGE:
        return profile_stage(config, reference, baseline)

    stored, stored_predictions, problems = read_entries(contract.processing_input("hours"), baseline)
    new, unplaced = profile_capture(contract.processing_input("capture"), config, reference, baseline, stored)
    shards, _, shard_problems = read_entries(contract.processing_input("shards"), baseline)
    unplaced = merge_stats([unplaced, *shard_unplaced(contract.processing_input("shards"))])
    fresh, fresh_problems = merge_entries([shards, new])
    entries, merge_problems = merge_entries([stored, fresh])
    store = contract.processing_output("hours")
    for hour in sorted(fresh):
        entries[hour].write(store)

    hours = judged_hours(config, window_start, window_end, list(entries))
    window = window_profile(entries, hours, baseline)
    end = hours[-1] + HOUR if hours else (floor_hour(_utc(window_end)) if window_end else None)
    lookback = set(lookback_hours(end, config.drift.performance_window_hours)) if end and window_end else set(entries)
    predictions = unique_predictions(
        [*(entries[h].predictions for h in sorted(entries) if h in lookback), stored_predictions]
    )
    labels, truth_stats = read_ground_truth(contract.processing_input("ground_truth"), config)

    report = run_monitor(
        config,
        profile,
        window,
        labels,
        labelled_window=predictions,
        window_scores=window_scores(entries, hours).to_numpy(dtype="float64"),
        window_start=hours[0].isoformat() if hours else window_start,
        window_end=end.isoformat() if end else window_end,
    )
    report["capture"] = merge_stats([window_stats(entries, hours), unplaced]).as_dict()
    report["ground_truth"] = truth_stats.as_dict()
    report["hours"] = {
        "baseline": baseline,
        "window": [stamp(h) for h in hours],
        "missing": [stamp(h) for h in hours if h not in entries],
        "profiled": [stamp(h) for h in sorted(fresh)],
        "reused": [stamp(h) for h in hours if h in stored],
        "problems": [*problems, *shard_problems, *fresh_problems, *merge_problems],
    }

    published = {"namespace": config.drift.metric_namespace, "datapoints": 0, "requests": 0, "destination": None}
    if metrics_client is not None and end is not None:
        data = metric_data(report, config.model.name, metrics_timestamp(end))
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
    if report.get("stage") == PROFILE_STAGE:
        hours = len(report["hours"])
        return f"drift monitor ({report['host']}): {report['records']:,} records profiled in {hours} hours"
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
    parser.add_argument("--stage", choices=[ALL_STAGES, PROFILE_STAGE], default=ALL_STAGES)
    args = parser.parse_args(argv)
    try:
        config, _, _ = load_inputs()
        metrics = None if args.stage == PROFILE_STAGE else _client(args, config.pipeline.region)
        report = run(
            window_start=args.window_start or None,
            window_end=args.window_end or None,
            metrics_client=metrics,
            stage=args.stage,
        )
    except MonitorInputMissing as exc:
        return _failed(exc)
    print(_summary(report), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
