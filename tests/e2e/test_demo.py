"""The README's first command, reduced: the demo's two rounds end where they should."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pipelines.registry import LocalRegistry
from tests.conftest import ROOT


def test_demo_registers_clean_data_and_stops_bad_data(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "pipelines", "demo", "--out", str(out), "--rows", "100000"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    first, second = json.loads((out / "summary.json").read_text())["rounds"]
    assert first["status"] == "Succeeded"
    assert [s["name"] for s in first["steps"]][-1] == "Register"
    gates = {g["name"]: g for g in first["gates"]}
    assert gates["high_risk_recall"]["observed"] >= 0.9 and all(g["passed"] for g in gates.values())

    assert second["status"] == "Failed"
    assert [s["name"] for s in second["steps"]] == ["DataPull", "DataValid", "DataValidationFailed"]
    assert "null_rate: null rate too high: fresh.distance_from_home_km" in second["failure_reason"]
    assert "registry: 1 version(s): v1 PendingManualApproval" in result.stdout

    (package,) = LocalRegistry(out / "local" / "registry.db").list_model_packages("fraud-detector")
    assert package["CustomerMetadataProperties"]["PipelineExecutionArn"] == first["execution_arn"]
    definition = json.loads((out / "pipeline.json").read_text())
    assert [s["Name"] for s in definition["Steps"]] == ["DataPull", "DataValid"]
