"""The model config: the example loads, and bad configs fail naming the field."""

from __future__ import annotations

import copy
import subprocess
import sys
from typing import Any

import pytest
import yaml

from pipelines.config import ModelConfig, parse_config
from pipelines.errors import ConfigError
from tests.conftest import EXAMPLE_CONFIG, ROOT


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    return loaded


def test_example_config_loads_with_every_section(config: ModelConfig) -> None:
    assert config.model.name == "fraud-detector"
    assert config.model.label == "is_fraud"
    assert len(config.model.features) == 9
    assert config.data.window.strategy == "weighted"
    assert config.data.historical is not None and config.data.historical.kind == "sql"
    assert config.training.use_spot and config.training.max_wait_seconds == 7200
    segment = config.gates.segments[0]
    assert (segment.where.column, segment.where.op, segment.where.value) == ("risk_band", "==", "high")
    assert config.registry.approval_status == "PendingManualApproval"
    assert config.trigger.datapoints_to_alarm == 2


def mutate(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Copy of `raw` with the dotted `path` set to `value` (a `del` value removes the key)."""
    doc = copy.deepcopy(raw)
    node: Any = doc
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if value == "del":
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return doc


INVALID = [
    # (path, value, text the error must contain)
    ("model.name", "Fraud Detector!", "model.name"),
    ("model.problem_type", "regression", "model.problem_type"),
    ("model.label", "del", "model.label: required field is missing"),
    ("model.features.0.type", "text", "model.features[0].type"),
    ("model.time_unit", "hours", "model.time_unit"),
    ("model.features.0.min", 10**6, "min (1000000.0) is greater than max"),
    ("data.window.strategy", "sliding", "data.window.strategy"),
    ("data.window.half_life_days", "del", "strategy 'weighted' needs half_life_days"),
    ("data.checks.label_rate", [0.5, 0.1], "data.checks.label_rate"),
    ("data.fresh.kind", "ftp", "data.fresh"),
    ("data.historical.engine", "redshift", "the 'redshift' section is missing"),
    ("training.estimator", "xgboost", "training.estimator"),
    ("training.hyperparameters.max_depthh", 3, "unknown hyperparameters ['max_depthh']"),
    ("training.max_wait_seconds", 60, "max_wait_seconds (60) must be >= max_runtime_seconds"),
    ("training.instance_type", "m5.xlarge", "training.instance_type"),
    ("gates.metrics.0.metric", "auc", "gates.metrics[0].metric"),
    ("gates.metrics.0.min", 1.5, "gates.metrics[0].min"),
    ("gates.segments.0.where", "risk_band ~ high", "where must look like"),
    ("gates.segments.0.where", 'country == "DE"', "filters on unknown column 'country'"),
    ("registry.approval", "sometimes", "registry.approval"),
    ("alerts.email", ["not-an-address"], "alerts.email[0]"),
    ("drift.schedule", "every hour", "drift.schedule"),
    ("trigger.datapoints_to_alarm", 5, "datapoints_to_alarm (5) cannot exceed evaluation_periods (3)"),
    ("pipeline.account", "12345", "pipeline.account"),
    ("registry.colour", "blue", "registry.colour: unknown field"),
]


@pytest.mark.parametrize(("path", "value", "expected"), INVALID, ids=[f"{p}={v}" for p, v, _ in INVALID])
def test_invalid_config_names_the_field(raw: dict[str, Any], path: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(mutate(raw, path, value))
    assert expected in str(caught.value)


def test_every_problem_is_reported_at_once(raw: dict[str, Any]) -> None:
    doc = mutate(mutate(raw, "registry.approval", "x"), "training.estimator", "y")
    with pytest.raises(ConfigError) as caught:
        parse_config(doc)
    fields = " ".join(caught.value.problems)
    assert "registry.approval" in fields and "training.estimator" in fields


def test_non_mapping_config_is_rejected() -> None:
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_config(["model"])


def test_validate_config_cli_prints_config_or_errors(tmp_path: Any, raw: dict[str, Any]) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "pipelines", "validate-config", str(EXAMPLE_CONFIG)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert '"model_package_group": "fraud-detector"' in ok.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(mutate(raw, "gates.metrics.0.min", 2)))
    failed = subprocess.run(
        [sys.executable, "-m", "pipelines", "validate-config", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert failed.returncode == 2
    assert "gates.metrics[0].min" in failed.stderr and str(bad) in failed.stderr

    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed")
    unreadable = subprocess.run(
        [sys.executable, "-m", "pipelines", "validate-config", str(broken)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert unreadable.returncode == 2 and "not valid YAML" in unreadable.stderr
