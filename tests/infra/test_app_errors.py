"""`cdk synth` (python app.py) with an invalid config prints the errors and exits 2: no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CONFIG, ROOT


def synth(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"model_configs": str(config)}), "CDK_OUTDIR": str(cwd)}
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py")], capture_output=True, text=True, cwd=cwd, env=env, check=False
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (EXAMPLE_CONFIG.read_bytes().replace(b"min_rows: 2000", b"min_rows: -1"), "data.checks.min_rows:"),
        (EXAMPLE_CONFIG.read_bytes() + "# Größe\n".encode("latin-1"), "not UTF-8 text"),
        ((ROOT / "configs" / "elec2.yaml").read_bytes(), "purpose: this config is for the backtest only"),
    ],
    ids=["invalid value", "not UTF-8", "backtest config"],
)
def test_an_invalid_config_at_synth_is_printed_not_raised(content: bytes, expected: str, tmp_path: Path) -> None:
    config = tmp_path / "model.yaml"
    config.write_bytes(content)
    result = synth(config, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"invalid model config {config}" in result.stderr and expected in result.stderr
    assert "Traceback" not in result.stderr


def test_the_command_cdk_runs_finds_the_projects_python_without_an_activated_venv(tmp_path: Path) -> None:
    """`npx cdk deploy` runs cdk.json's "app" from the project folder in the user's shell: it must not
    need the venv on PATH. An invalid config makes the app stop right after its imports."""
    import shlex

    config = tmp_path / "model.yaml"
    config.write_bytes(EXAMPLE_CONFIG.read_bytes().replace(b"min_rows: 2000", b"min_rows: -1"))
    command = shlex.split(json.loads((ROOT / "cdk.json").read_text())["app"])
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "CDK_CONTEXT_JSON": json.dumps({"model_configs": str(config)}),
        "CDK_OUTDIR": str(tmp_path),
    }
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "data.checks.min_rows:" in result.stderr and "No module named" not in result.stderr
