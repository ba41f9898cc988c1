"""DataPull+Validate processing job.

Inputs:  config/model-config.json, fresh/ (labelled window), historical/ (when data.historical is
         configured, it must hold rows). Tables are Parquet (by content, whatever the name) or CSV;
         any other file fails the `readable` check naming it (training_containers.files).
Outputs: train/, validation/, test/ (Parquet splits), report/ (validation_report.json,
         manifest.json), baseline/ (baseline_profile.json: the drift monitor's baseline;
         statistics.json and constraints.json: the same window in SageMaker Model Monitor's
         format, registered as the version's model data quality, see monitor_baseline.py).
Argument: --window-end ISO-8601 or "latest" (the DataWindowEnd pipeline parameter).

A failed check is data, not a crash: the report says `passed: false` with a message naming
every failed check, no split is written, and the pipeline's ConditionStep routes to a FailStep
carrying that message. The job exits non-zero only when it cannot run at all.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines import naming
from pipelines.config import ModelConfig, parse_config
from training_containers import contract, scoring
from training_containers.environment import environment
from training_containers.files import read_json, read_tables, table_files, write_json
from training_containers.manifest import (
    MANIFEST_FORMAT,
    SPLIT_HASH,
    describe_inputs,
    describe_split,
    input_origins,
    output_destination,
    s3_object_exists,
    s3_version_lookup,
    snapshot,
)
from training_containers.monitor_baseline import baseline_files
from training_containers.profile import baseline_profile
from training_containers.validation import (
    CheckResult,
    Window,
    check_contents,
    check_fresh_window,
    check_history_present,
    check_null_rates,
    check_schema,
    failure_message,
    normalise_time,
)
from training_containers.windowing import resolve_window, select_history, split

REPORT, MANIFEST, PROFILE = naming.VALIDATION_FILE, naming.MANIFEST_FILE, naming.BASELINE_PROFILE


def load_job_config() -> ModelConfig:
    return parse_config(read_json(contract.processing_input("config") / naming.CONFIG_FILE))


def _read(name: str, folder: Path) -> tuple[pd.DataFrame | None, CheckResult | None]:
    try:
        return read_tables(folder), None
    except Exception as exc:  # any unreadable file: report it as a failed check
        return None, CheckResult(
            name="readable",
            passed=False,
            observed=f"{type(exc).__name__}: {exc}"[:300],
            threshold="Parquet or CSV files",
            message=f"{name}: cannot read input files ({type(exc).__name__}: {exc})"[:400],
        )


def validate(
    fresh: pd.DataFrame, history: pd.DataFrame | None, config: ModelConfig, window_end: str
) -> tuple[list[CheckResult], Window | None, pd.DataFrame, pd.DataFrame]:
    """Run every check. Returns the results, the window and the (fresh, history) frames ready
    to split; the frames are meaningful only when every check passed."""
    results = check_schema(fresh, config, "fresh")
    if history is not None and len(history):
        results += check_schema(history, config, "historical")
    if not all(r.passed for r in results):
        return results, None, fresh, pd.DataFrame()

    time_column, unit = config.model.time_column, config.model.time_unit
    fresh = normalise_time(fresh, time_column, unit)
    window = resolve_window(fresh, config, window_end)
    results += check_fresh_window(fresh, config, window)
    selected = pd.DataFrame(columns=[*fresh.columns, "sample_weight"])
    if window is not None and history is not None and len(history):
        selected = select_history(normalise_time(history, time_column, unit), config, window)
    if window is not None:
        in_window = fresh[window.labelled(fresh[time_column])]
        combined = pd.concat([selected.drop(columns="sample_weight"), in_window], ignore_index=True)
        results.append(check_null_rates({"fresh": in_window, "historical": selected}, config))
        results += check_contents(combined, config)
        fresh = in_window
    return results, window, fresh, selected


def report_document(results: list[CheckResult], window: Window | None, rows: dict[str, int]) -> dict[str, Any]:
    passed = bool(results) and all(r.passed for r in results)
    return {
        "passed": passed,
        "failed_checks": [r.name for r in results if not r.passed],
        "failure_message": failure_message(results),
        "window": None
        if window is None
        else {
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "labels_until": window.labels_until.isoformat(),
        },
        "rows": rows,
        "checks": [r.to_json() for r in results],
    }


def run(window_end: str) -> dict[str, Any]:
    config = load_job_config()
    inputs = {"fresh": contract.processing_input("fresh")}
    historical_dir = contract.processing_input("historical")
    if historical_dir.exists():
        inputs["historical"] = historical_dir

    fresh, unreadable = _read("fresh", inputs["fresh"])
    history: pd.DataFrame | None = None
    if unreadable is None and "historical" in inputs:
        history, unreadable = _read("historical", inputs["historical"])
    if unreadable is not None or fresh is None:
        results: list[CheckResult] = [unreadable] if unreadable else []
        window = None
        fresh_rows = selected = pd.DataFrame()
    else:
        results, window, fresh_rows, selected = validate(fresh, history, config, window_end)
        if config.data.historical is not None:  # the job's input, not the backtest's simulated history
            results = [check_history_present(history), *results]

    report_dir = contract.processing_output("report")
    for name in ("train", "validation", "test", "baseline", "snapshot"):
        contract.processing_output(name)
    awaiting = next((int(r.details.get("awaiting_labels", 0)) for r in results if r.name == "row_count"), 0)
    rows = {"fresh": len(fresh_rows), "historical": len(selected), "awaiting_labels": awaiting}
    document = report_document(results, window, rows)
    if document["passed"]:
        train, validation, test = split(fresh_rows, selected, config)
        for name, frame in (("train", train), ("validation", validation), ("test", test)):
            frame.to_parquet(contract.processing_output(name) / f"{name}.parquet", index=False)
        # The drift baseline is the fresh window (what the model was built for, and tested on):
        # with history mixed in, traffic the new model already fits would still look drifted.
        write_json(contract.processing_output("baseline") / PROFILE, baseline_profile(fresh_rows, config))
        # Model Monitor's statistics.json and constraints.json of the same window. Written here,
        # not by Evaluate: this job holds the window itself, and the profile cannot stand in for
        # it (no storage types for Integral/Fractional, no exact sums or buckets).
        for name, monitor_file in baseline_files(fresh_rows, config).items():
            write_json(contract.processing_output("baseline") / name, monitor_file)
        document["rows"] |= {"train": len(train), "validation": len(validation), "test": len(test)}
        if config.training.outside_image is not None:
            document["rows"]["scoring"] = write_scoring_rows(test, config)

    write_json(report_dir / MANIFEST, manifest(inputs, window_end, document["passed"]))
    write_json(report_dir / REPORT, document)
    return document


def manifest(inputs: dict[str, Path], window_end: str, passed: bool) -> dict[str, Any]:
    """Every object read (the config too) with its version, the window argument, and each split's
    content hash: what `python -m pipelines reconstruct` needs to rebuild the splits exactly."""
    origins = input_origins()
    versions, kept = None, None
    if os.environ.get("SM_LOCAL_RUNTIME") != "1" and origins:
        from pipelines.clients import client  # only inside SageMaker, where the job role may read object versions

        s3 = client("s3")
        versions, kept = s3_version_lookup(s3), s3_object_exists(s3)
    config_dir, edge_dir = contract.processing_input("config"), contract.processing_input("edge_cases")
    read = {**inputs, "config": config_dir, **({"edge_cases": edge_dir} if edge_dir.exists() else {})}
    entries = describe_inputs(read, origins, versions, files={"config": [config_dir / naming.CONFIG_FILE]})
    splits = {}
    if passed:
        for name in ("train", "validation", "test"):
            splits[name] = describe_split(contract.processing_output(name) / f"{name}.parquet")
        destination = output_destination("snapshot")
        if destination:  # the pipeline asks for it; a run by hand may not
            snapshot(entries, read, contract.processing_output("snapshot"), destination, kept)
    return {
        "format": MANIFEST_FORMAT,
        "split_hash": SPLIT_HASH,
        "window_end": window_end,
        "environment": environment(),  # DataPull's: what a reconstruction's differences may come from
        "inputs": entries,
        "splits": splits,
    }


def write_scoring_rows(test: pd.DataFrame, config: ModelConfig) -> int:
    """An image model's rows to score through its server: the test split, then the edge cases."""
    edge_files = table_files(contract.processing_input("edge_cases"))
    frames = [test, *([read_tables(edge_files[0])] if edge_files else [])]
    return scoring.write_rows(frames, config, contract.processing_output("scoring"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="data_pull", description=__doc__)
    parser.add_argument("--window-end", default="latest", help="ISO-8601 end of the fresh window, or 'latest'")
    args = parser.parse_args(argv)
    document = run(args.window_end)
    status = "passed" if document["passed"] else document["failure_message"]
    print(f"data validation: {status}; rows {document['rows']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
