"""The promotion commands on a local workspace: a workspace that is not there is named, not
created; an unknown version is reported with the workspace that was searched."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.config import ModelConfig
from pipelines.local.workspace import Workspace
from tests.conftest import EXAMPLE_CONFIG


@pytest.mark.parametrize("command", [["approve", "1"], ["status"], ["shadow-evaluate"], ["history"]])
def test_a_missing_workspace_is_named_and_nothing_is_created(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    name, *rest = command
    assert main([name, str(EXAMPLE_CONFIG), *rest, "--workdir", str(missing)]) == 1
    error = capsys.readouterr().err
    assert f"no local workspace at {missing}" in error and "run-local" in error and "--aws" in error
    assert not missing.exists()


def test_the_default_workspace_is_named_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["approve", str(EXAMPLE_CONFIG), "1"]) == 1
    assert f"no local workspace at {tmp_path / 'out' / 'local' / 'fraud-detector'}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_version_names_the_workspace_searched(
    config: ModelConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = Workspace(config, tmp_path / "w")
    workspace.deploy()
    assert main(["approve", str(EXAMPLE_CONFIG), "7", "--workdir", str(workspace.root)]) == 1
    error = capsys.readouterr().err
    assert f"no model version '7' in group fraud-detector in the local workspace {workspace.root}" in error
