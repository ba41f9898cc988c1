"""`python -m pipelines demo`: the retraining pipeline on a laptop.

It generates the example's transactions, puts them where the config says the data lives (the
local runtime's S3), and executes the real SageMaker pipeline definition in the local runtime
twice: a clean round that passes every gate and registers a version pending approval, and a
round whose fresh window arrives with a burst of missing values, which stops at data validation
with the check named and registers nothing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from pipelines.config import ModelConfig, SqlSource, load_config
from pipelines.datagen import StreamSpec, generate
from pipelines.local import record
from pipelines.local.runtime import Execution
from pipelines.local.workspace import Workspace

EXAMPLE = Path(__file__).resolve().parent.parent / "configs" / "fraud-detector.yaml"


def put_data(workspace: Workspace, fresh: pd.DataFrame, history: pd.DataFrame) -> None:
    """Replace what the config's sources hold in local S3 with these frames."""
    config = workspace.config
    targets = [(fresh, config.data.fresh)]
    if config.data.historical is not None:
        targets.append((history, config.data.historical))
    for frame, source in targets:
        uri = source.uri if not isinstance(source, SqlSource) else next(iter(source.local_tables.values()))
        folder = workspace.s3.path(uri)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        frame.to_parquet(folder / "part-0.parquet", index=False)


def split_window(config: ModelConfig, stream: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = stream[config.model.time_column].max() - pd.Timedelta(days=config.data.window.fresh_days)
    newer = stream[config.model.time_column] > cut
    return stream[newer], stream[~newer]


def run_round(workspace: Workspace, title: str, parameters: dict[str, str]) -> Execution:
    print(title)
    execution = workspace.run(parameters, echo=print)
    print(record.render(record.summary(execution)))
    return execution


def main(out: Path = Path("out/demo"), rows: int = 150_000) -> int:
    from pipelines.definition import definition_json

    config = load_config(EXAMPLE)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "pipeline.json").write_text(definition_json(config))
    print(f"1. pipeline definition for {config.model.name}: {out / 'pipeline.json'} (sagemaker SDK, offline)")

    print(f"2. {rows:,} generated transactions over 120 days; the last {config.data.window.fresh_days} are fresh")
    fresh, history = split_window(config, generate(StreamSpec(rows=rows, days=120, seed=7)))
    workspace = Workspace(config, out / "local")
    put_data(workspace, fresh, history)

    first = run_round(workspace, "3. round 1: clean data, started by hand", {"TriggerReason": "manual"})

    broken = fresh.copy()
    broken.loc[broken.index[: len(broken) // 8], "distance_from_home_km"] = None
    put_data(workspace, broken, history)
    second = run_round(workspace, "4. round 2: the fresh window arrives with a burst of missing distances", {})

    packages = workspace.runtime().registry.list_model_packages(config.registry.model_package_group)
    print(f"5. registry: {len(packages)} version(s): " + ", ".join(
        f"v{p['ModelPackageVersion']} {p['ModelApprovalStatus']}" for p in packages
    ))  # fmt: skip
    (out / "summary.json").write_text(
        json.dumps({"rounds": [record.summary(first), record.summary(second)]}, indent=2, default=str)
    )
    ok = first.status == "Succeeded" and second.status == "Failed" and len(packages) == 1
    return 0 if ok else 1
