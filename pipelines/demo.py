"""`python -m pipelines demo`: what this stage of the project can show on a laptop.

It generates the example's transactions, builds the real SageMaker pipeline definition, and runs
the definition's three job steps (DataPull+Validate, Train, Evaluate) in order with the same job
code and container contract SageMaker uses, then prints the gate table. Two rounds: a clean one
that passes every gate, and one with corrupted data that stops at validation with the check
named. The local runtime (which executes the definition JSON itself, conditions and
registration included) replaces the hand-wired order here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pandas as pd

from pipelines.config import ModelConfig, config_to_json, load_config
from pipelines.datagen import StreamSpec, generate

EXAMPLE = Path(__file__).resolve().parent.parent / "configs" / "fraud-detector.yaml"


def _job(module: str, root: Path, *args: str) -> None:
    env = dict(os.environ, OPT_ML_ROOT=str(root), SM_LOCAL_RUNTIME="1")
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", f"training_containers.{module}", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{module} failed:\n{result.stderr[-2000:]}")
    print(f"  {module:<10} {time.perf_counter() - started:6.1f}s")


def _stage(folder: Path, frame: pd.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / "part-0.parquet", index=False)


def run_round(config: ModelConfig, work: Path, fresh: pd.DataFrame, history: pd.DataFrame) -> dict[str, object]:
    pull = work / "pull" / "processing"
    (pull / "input" / "config").mkdir(parents=True)
    (pull / "input" / "config" / "model-config.json").write_text(config_to_json(config))
    _stage(pull / "input" / "fresh", fresh)
    _stage(pull / "input" / "historical", history)
    _job("data_pull", work / "pull", "--window-end", "latest")
    report = json.loads((pull / "output" / "report" / "validation_report.json").read_text())
    if not report["passed"]:
        return {"stage": "DataValidationFailed", "message": report["failure_message"]}

    train = work / "train"
    for channel in ("train", "validation"):
        shutil.copytree(pull / "output" / channel, train / "input" / "data" / channel)
    shutil.copytree(pull / "input" / "config", train / "input" / "data" / "config")
    hyperparameters = {"estimator": config.training.estimator, **config.training.hyperparameters}
    (train / "input" / "config").mkdir(parents=True)
    (train / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({k: json.dumps(v) for k, v in hyperparameters.items()})
    )
    _job("train", train)

    evaluation = work / "evaluate" / "processing" / "input"
    (evaluation / "model").mkdir(parents=True)
    with tarfile.open(evaluation / "model" / "model.tar.gz", "w:gz") as tar:
        for item in (train / "model").iterdir():
            tar.add(item, arcname=item.name)
    shutil.copytree(pull / "output" / "test", evaluation / "test")
    shutil.copytree(pull / "input" / "config", evaluation / "config")
    if config.gates.edge_cases is not None:
        (evaluation / "edge_cases").mkdir()
        shutil.copy(config.local_path(config.gates.edge_cases.uri), evaluation / "edge_cases" / "edge-cases.csv")
    _job("evaluate", work / "evaluate")
    document = json.loads((work / "evaluate" / "processing" / "output" / "evaluation" / "evaluation.json").read_text())
    return {"stage": "Register" if document["summary"]["passed"] else "QualityGatesFailed", "evaluation": document}


def print_gates(evaluation: dict[str, object]) -> None:
    gates = evaluation["gates"]
    assert isinstance(gates, dict)
    print(f"  {'gate':<18}{'observed':>10}{'threshold':>11}{'delta':>9}  result")
    for name, gate in gates.items():
        observed = "n/a" if gate["observed"] is None else f"{gate['observed']:.4f}"
        threshold = "n/a" if gate["threshold"] is None else f"{gate['threshold']:.4f}"
        delta = "" if gate["delta"] is None else f"{gate['delta']:+.4f}"
        print(f"  {name:<18}{observed:>10}{threshold:>11}{delta:>9}  {'pass' if gate['passed'] else 'FAIL'}")


def main(out: Path = Path("out/demo"), rows: int = 150_000) -> int:
    from pipelines.definition import definition_json

    config = load_config(EXAMPLE)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    print(f"1. pipeline definition for {config.model.name} (sagemaker SDK, offline)")
    definition = out / "pipeline.json"
    definition.write_text(definition_json(config))
    print(f"  wrote {definition} ({definition.stat().st_size:,} bytes)")

    print(f"2. {rows:,} generated transactions over 120 days; the last 14 days are the fresh window")
    stream = generate(StreamSpec(rows=rows, days=120, seed=7))
    cut = stream["event_time"].max() - pd.Timedelta(days=config.data.window.fresh_days)
    fresh, history = stream[stream["event_time"] > cut], stream[stream["event_time"] <= cut]

    print("3. round 1: clean data")
    first = run_round(config, out / "round-1", fresh, history)
    print(f"  outcome: {first['stage']}")
    if "evaluation" in first:
        assert isinstance(first["evaluation"], dict)
        print_gates(first["evaluation"])

    print("4. round 2: the fresh window arrives with a burst of missing distances")
    broken = fresh.copy()
    broken.loc[broken.index[: len(broken) // 8], "distance_from_home_km"] = None
    second = run_round(config, out / "round-2", broken, history)
    print(f"  outcome: {second['stage']}\n  message: {second.get('message', '')}")
    return 0 if first["stage"] == "Register" and second["stage"] == "DataValidationFailed" else 1
