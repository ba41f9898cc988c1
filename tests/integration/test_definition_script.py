"""A script-mode definition is offline and byte-deterministic like the built-in one: the source
dir is shipped as a content-addressed archive whose bytes depend on the files' contents only."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import yaml

from pipelines.config import load_config
from pipelines.definition.builder import artifacts, definition_json
from tests.conftest import ROOT
from tests.problem_types import config_dict


def _config(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    shutil.copytree(ROOT / "models" / "tabular", source, ignore=shutil.ignore_patterns("__pycache__"))
    raw = config_dict("regression", "script", tmp_path)
    raw["training"]["script"]["source_dir"] = "source"  # relative to the config file
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_definition_does_not_change_when_only_file_times_do(tmp_path: Path) -> None:
    path = _config(tmp_path)
    first = definition_json(load_config(path))
    for file in (tmp_path / "source").rglob("*"):
        os.utime(file, (1_000_000_000, 1_000_000_000))
    (tmp_path / "source" / "__pycache__").mkdir()
    (tmp_path / "source" / "__pycache__" / "features.cpython-311.pyc").write_bytes(b"\0compiled")
    assert definition_json(load_config(path)) == first
    before = artifacts(load_config(path))["source"].uri
    (tmp_path / "source" / "features.py").write_text("# changed\n", encoding="utf-8")
    assert artifacts(load_config(path))["source"].uri != before  # a new content address, so a new definition


def test_the_train_step_gets_the_source_as_its_code_channel_and_the_scripts_arguments_only(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path))
    source = artifacts(config)["source"]
    assert source.uri.startswith(f"s3://{config.pipeline.bucket(config.model.name)}/{config.model.name}/source/")
    assert source.uri.endswith("/sourcedir.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(source.content)) as tar:
        assert sorted(tar.getnames()) == ["features.py", "inference.py", "train.py"]
        assert {m.mtime for m in tar.getmembers()} == {0}
    train = next(
        s for s in json.loads(definition_json(config))["Steps"][1]["Arguments"]["IfSteps"] if s["Name"] == "Train"
    )
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in train["Arguments"]["InputDataConfig"]
    }
    assert channels["code"] == source.uri
    assert train["Arguments"]["HyperParameters"] == {"task": '"regression"', "label": '"target"', "max_iter": "100"}
