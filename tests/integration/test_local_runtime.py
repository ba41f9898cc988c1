"""The example pipeline definition executed end to end by the local runtime: a clean run that
registers, a run whose gates fail, a run whose data fails validation, and every job request
checked against botocore on the way."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipelines.config import MetricGate, ModelConfig
from pipelines.definition import builder as d
from pipelines.local.runtime import Execution
from pipelines.local.workspace import Workspace
from tests.conftest import EXAMPLE_CONFIG, ROOT, split_fresh
from tests.model_monitor_schema import check_constraints, check_statistics


@pytest.fixture(scope="module")
def definition(config: ModelConfig) -> dict[str, Any]:
    return json.loads(d.definition_json(config))


def seeded(config: ModelConfig, root: Path, stream: pd.DataFrame, fresh_change: Any = None) -> Workspace:
    """A workspace whose local S3 holds the example's fresh and historical data."""
    workspace = Workspace(config, root)
    fresh, history = split_fresh(stream.tail(60_000))
    if fresh_change is not None:
        fresh = fresh_change(fresh)
    for frame, uri in (
        (fresh, config.data.fresh.uri),
        (history, "s3://fraud-detector-data-111122223333/transactions/history/"),
    ):  # type: ignore[union-attr]
        path = workspace.s3.path(uri) / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
    return workspace


def steps(execution: Execution) -> dict[str, str]:
    return {r.name: r.status for r in execution.steps}


def test_cli_run_registers_a_version_carrying_the_trigger_parameters(
    config: ModelConfig, stream: pd.DataFrame, tmp_path: Path
) -> None:
    workspace = seeded(config, tmp_path / "w", stream)
    result = subprocess.run(
        [
            sys.executable, "-m", "pipelines", "run-local", str(EXAMPLE_CONFIG), "--workdir", str(workspace.root),
            "--param", "TriggerReason=drift", "--param", "TriggerAlarm=fraud-detector-psi-amount",
            "--param", "TriggerMetricValue=0.31",
        ],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Succeeded" in result.stdout and "min_roc_auc" in result.stdout
    (package,) = workspace.runtime().registry.list_model_packages(config.registry.model_package_group)
    metadata = package["CustomerMetadataProperties"]
    assert metadata["TriggerReason"] == "drift"
    assert metadata["TriggerAlarm"] == "fraud-detector-psi-amount"
    assert metadata["TriggerMetricValue"] == "0.31"
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    execution_dir = next((workspace.root / "executions").iterdir())
    assert metadata["PipelineExecutionArn"].endswith(f"/execution/{execution_dir.name}")
    model = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert model.endswith("/output/model.tar.gz") and workspace.s3.path(model).stat().st_size > 1000
    evaluation = workspace.s3.read_json(metadata["EvaluationReport"])
    assert evaluation["summary"]["passed"] is True
    assert workspace.s3.path(metadata["DatasetManifest"]).is_file()
    # the baseline the monitor gets once this version serves has a prediction section (Evaluate's)
    assert "/Evaluate/" in metadata["BaselineProfile"]
    assert set(workspace.s3.read_json(metadata["BaselineProfile"])["prediction"]) >= {"edges", "shares", "ecdf"}
    # model data quality: Model Monitor's files of the fresh window, written by DataPull
    quality = package["ModelMetrics"]["ModelDataQuality"]
    assert {k: v["ContentType"] for k, v in quality.items()} == {
        "Statistics": "application/json",
        "Constraints": "application/json",
    }
    assert quality["Statistics"]["S3Uri"].endswith("/DataPull/baseline/statistics.json")
    assert quality["Constraints"]["S3Uri"].endswith("/DataPull/baseline/constraints.json")
    statistics = workspace.s3.read_json(quality["Statistics"]["S3Uri"])
    constraints = workspace.s3.read_json(quality["Constraints"]["S3Uri"])
    check_statistics(statistics)
    check_constraints(constraints)
    drift_profile = workspace.s3.read_json(metadata["BaselineProfile"])
    assert statistics["dataset"]["item_count"] == drift_profile["rows"] > 0
    assert [f["name"] for f in constraints["features"]] == config.model.feature_names
    summary = json.loads((execution_dir / "summary.json").read_text())
    assert [s["name"] for s in summary["steps"]] == [
        "DataPull",
        "DataValid",
        "Train",
        "Evaluate",
        "QualityGates",
        "Register",
    ]
    assert {g["name"] for g in summary["gates"]} == set(evaluation["gates"])


def test_failed_gate_ends_in_the_fail_step_and_registers_nothing(
    config: ModelConfig, definition: dict[str, Any], stream: pd.DataFrame, tmp_path: Path
) -> None:
    strict = config.model_copy(
        update={"gates": config.gates.model_copy(update={"metrics": [MetricGate(metric="roc_auc", min=0.999)]})}
    )
    workspace = seeded(strict, tmp_path / "w", stream)
    execution = workspace.run(echo=lambda _: None)
    assert execution.status == "Failed"
    assert steps(execution)["QualityGatesFailed"] == "Failed" and "Register" not in steps(execution)
    reason = execution.failure_reason or ""
    assert reason.startswith("QualityGates failed (1 of ")
    assert "min_roc_auc" in reason and "< threshold 0.9990" in reason and "delta -" in reason
    observed = float(reason.split("observed ")[1].split()[0])
    assert 0.9 < observed < 0.999
    assert workspace.runtime().registry.list_model_packages(config.registry.model_package_group) == []


def test_bad_data_fails_at_validation_with_the_check_named(
    config: ModelConfig, stream: pd.DataFrame, tmp_path: Path
) -> None:
    def burst(fresh: pd.DataFrame) -> pd.DataFrame:
        broken = fresh.copy()
        broken.loc[broken.index[: len(broken) // 5], "distance_from_home_km"] = None
        return broken

    workspace = seeded(config, tmp_path / "w", stream, burst)
    execution = workspace.run(echo=lambda _: None)
    assert execution.status == "Failed"
    assert steps(execution) == {"DataPull": "Succeeded", "DataValid": "Succeeded", "DataValidationFailed": "Failed"}
    assert "null_rate" in (execution.failure_reason or "")
    assert "distance_from_home_km" in (execution.failure_reason or "")
    assert not any(
        workspace.s3.keys(
            f"s3://{config.pipeline.bucket(config.model.name)}/fraud-detector/executions/{execution.execution_id}/DataPull/train/"
        )
    )


def test_missing_input_fails_the_job_as_sagemaker_would(config: ModelConfig, tmp_path: Path) -> None:
    execution = Workspace(config, tmp_path / "empty").run(echo=lambda _: None)
    assert execution.status == "Failed" and steps(execution) == {"DataPull": "Failed"}
    assert "No S3 objects found under S3 URL" in (execution.failure_reason or "")


def test_a_broken_job_argument_is_caught_before_the_job_runs(
    config: ModelConfig, definition: dict[str, Any], stream: pd.DataFrame, tmp_path: Path
) -> None:
    broken = json.loads(json.dumps(definition))
    broken["Steps"][0]["Arguments"]["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] = "thirty"
    workspace = seeded(config, tmp_path / "w", stream)
    execution = workspace.run(definition=broken, echo=lambda _: None)
    assert execution.status == "Failed"
    assert "CreateProcessingJob would be rejected" in (execution.failure_reason or "")
    assert "VolumeSizeInGB" in (execution.failure_reason or "")
    assert not (execution.folder / "jobs").exists()
