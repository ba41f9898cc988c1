"""The README's first command, reduced: the demo's two rounds end where they should."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    assert "outcome: Register" in result.stdout
    assert "outcome: DataValidationFailed" in result.stdout
    assert "null_rate: null rate too high: fresh.distance_from_home_km" in result.stdout

    definition = json.loads((out / "pipeline.json").read_text())
    assert [s["Name"] for s in definition["Steps"]] == ["DataPull", "DataValid"]
    evaluation = json.loads(
        (out / "round-1" / "evaluate" / "processing" / "output" / "evaluation" / "evaluation.json").read_text()
    )
    assert evaluation["summary"]["passed"] is True
    assert evaluation["gates"]["high_risk_recall"]["observed"] >= 0.9
    assert not (out / "round-2" / "train").exists()
