"""Configs a SageMaker pipeline cannot read are refused before anything is built: validate-config
names the field, and a backtest-only config (`purpose: backtest`) is refused by definition,
run-local and the CDK app while the backtest keeps reading it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.client import BaseClient

from pipelines.cli import main
from pipelines.config import load_config
from pipelines.errors import ConfigError
from tests.conftest import EXAMPLE_CONFIG, ROOT

ELEC2 = ROOT / "configs" / "elec2.yaml"


@pytest.fixture(autouse=True)
def no_aws(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Building from these configs must not reach AWS (the SDK would upload a local path to S3)."""
    calls: list[str] = []

    def refuse(self: BaseClient, operation: str, params: dict[str, Any]) -> None:
        calls.append(operation)
        raise AssertionError(f"AWS call {operation}")

    monkeypatch.setattr(BaseClient, "_make_api_call", refuse)
    return calls


def local_fresh(tmp_path: Path) -> Path:
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    raw["data"]["fresh"]["uri"] = "data/labelled.parquet"
    raw["gates"]["edge_cases"]["uri"] = str(EXAMPLE_CONFIG.parent / raw["gates"]["edge_cases"]["uri"])
    path = tmp_path / "local.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize("command", ["validate-config", "definition"])
def test_a_local_data_uri_is_refused_naming_the_field(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, str(local_fresh(tmp_path))]) == 2
    error = capsys.readouterr().err
    assert "data.fresh.uri: a SageMaker pipeline reads data from S3 only, got 'data/labelled.parquet'" in error
    assert "purpose: backtest" in error


def test_a_backtest_config_validates_and_says_what_it_is_for(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-config", str(ELEC2)]) == 0
    printed = capsys.readouterr()
    assert '"purpose": "backtest"' in printed.out
    assert "purpose: backtest" in printed.err and "definition, run-local and the CDK app refuse it" in printed.err


@pytest.mark.parametrize("command", [["definition"], ["run-local", "--workdir", "WORK"]])
def test_definition_and_run_local_refuse_a_backtest_config(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], no_aws: list[str]
) -> None:
    name, *rest = command
    argv = [name, str(ELEC2), *[str(tmp_path / "w") if a == "WORK" else a for a in rest]]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "purpose: this config is for the backtest only (purpose: backtest)" in error
    assert no_aws == [] and not (tmp_path / "w").exists()


def test_the_cdk_app_refuses_a_backtest_config(tmp_path: Path) -> None:
    from stacks.app import build_app

    with pytest.raises(ConfigError, match=r"purpose: this config is for the backtest only"):
        build_app(staging=tmp_path, configs=[ELEC2], outdir=str(tmp_path / "cdk.out"))


def test_the_backtest_still_reads_a_backtest_config() -> None:
    config = load_config(ELEC2)
    assert config.purpose == "backtest" and config.model.name == "elec2"
