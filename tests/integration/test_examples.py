"""The example configs of other problem types run exactly as their headers say: generate the
data, put it where the config reads it, run the pipeline locally to a registered version."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines.config import load_config
from pipelines.local.workspace import Workspace
from tests.conftest import ROOT


def _documented(config: Path) -> list[list[str]]:
    """The commands in the config's header comment."""
    lines = [
        line.removeprefix("#").strip() for line in config.read_text().splitlines() if line.startswith("#   python")
    ]
    return [line.split()[1:] for line in lines]  # without "python"


@pytest.mark.parametrize("example", ["tabular-regression", "tabular-multiclass"])
def test_an_example_runs_to_a_registered_version_as_documented(example: str, tmp_path: Path) -> None:
    path = ROOT / "configs" / f"{example}.yaml"
    commands = _documented(path)
    assert [c[2] for c in commands] == ["generate-data", "local-put", "run-local"]
    for command in commands:
        moved = [str(tmp_path / part) if part.startswith("out/") else part for part in command]
        done = subprocess.run(
            [sys.executable, *moved], cwd=ROOT, capture_output=True, text=True, check=False, timeout=600
        )
        assert done.returncode == 0, (command, done.stderr[-2000:])
    assert f"model-package/{example}/1" in done.stdout
    config = load_config(path)
    workspace = Workspace(config, tmp_path / "out" / "local" / example)
    (package,) = workspace.runtime().registry.list_model_packages(config.registry.model_package_group)
    evaluation = workspace.s3.read_json(package["CustomerMetadataProperties"]["EvaluationReport"])
    assert evaluation["summary"]["passed"] is True
    gates = yaml.safe_load(path.read_text())["gates"]["metrics"]
    for gate in gates:
        observed = evaluation["metrics"][gate["metric"]]
        assert observed >= gate["min"] if "min" in gate else observed <= gate["max"]
