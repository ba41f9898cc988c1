"""The model config: the example loads, and bad configs fail naming the field."""

from __future__ import annotations

import copy
import subprocess
import sys
from typing import Any

import pytest
import yaml

from pipelines.config import ModelConfig, load_config, parse_config
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
    ("model.problem_type", "ranking", "model.problem_type"),
    ("model.label", "del", "model.label: required field is missing"),
    ("model.features.0.type", "text", "model.features[0].type"),
    ("model.time_unit", "hours", "model.time_unit"),
    ("model.features.0.min", 10**6, "min (1000000.0) is greater than max"),
    ("data.window.strategy", "sliding", "data.window.strategy"),
    ("data.window.half_life_days", "del", "strategy 'weighted' needs half_life_days"),
    ("data.checks.label_rate", [0.5, 0.1], "data.checks.label_rate"),
    ("data.fresh.kind", "ftp", "data.fresh"),
    ("data.historical.engine", "redshift", "the 'redshift' section is missing"),
    ("training.estimator", "catboost", "training.estimator"),
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


def changed(raw: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for path, value in changes.items():
        raw = mutate(raw, path, value)
    return raw


FIELD_OF_MODEL_CHECK = [
    # (changes, the error's location and the start of its message)
    ({"drift.schedule": "rate(1 day)", "trigger.evaluation_periods": 8}, "trigger.evaluation_periods: drift alarm"),
    ({"trigger.retrain_on": [], "trigger.max_staleness_days": "del"}, "trigger.retrain_on: nothing would ever"),
    ({"gates.segments.0.where": 'country == "DE"'}, "gates.segments[0].where: gates.segments 'high_risk_recall'"),
    ({"trigger.datapoints_to_alarm": 5}, "trigger.datapoints_to_alarm: datapoints_to_alarm (5) cannot exceed"),
    ({"data.window.half_life_days": "del"}, "data.window.half_life_days: strategy 'weighted' needs"),
    ({"data.window.history_days": 7}, "data.window.history_days: history_days (7) must be at least"),
    (
        {"data.window.label_delay_days": 3},
        "drift.performance_window_hours: performance_window_hours (24) is shorter than data.window.label_delay_days "
        "(3 days): the performance SLO would judge only the labels that came early; make it at least 96",
    ),
    (
        {"data.window.label_delay_days": 14},
        "data.window.label_delay_days: label_delay_days (14) leaves no labelled row in the fresh window of 14 days",
    ),
    ({"training.max_wait_seconds": 60}, "training.max_wait_seconds: max_wait_seconds (60) must be >="),
    ({"training.hyperparameters.max_depthh": 3}, "training.hyperparameters: unknown hyperparameters"),
    ({"data.historical.engine": "redshift"}, "data.historical.redshift: engine is 'redshift' but"),
    ({"drift.schedule": "cron(0 * * * ? *)"}, "drift.period_seconds: period_seconds is required"),
    (
        {"gates.champion.min_improvement": 0.01, "gates.champion.max_regression": 0.02},
        "gates.champion.min_improvement:",
    ),
    ({"model.features.1.name": "amount"}, "model.features: feature names must be unique"),
    ({"model.features.0.min": 10**6}, "model.features[0].min (feature 'amount'): min (1000000.0) is greater"),
    ({"model.features.1.min": 0}, "model.features[1].min (feature 'merchant_category'): min/max apply"),
    ({"model.features.0.categories": ["a"]}, "model.features[0].categories (feature 'amount'): categories apply"),
]


@pytest.mark.parametrize(("changes", "expected"), FIELD_OF_MODEL_CHECK, ids=[e for _, e in FIELD_OF_MODEL_CHECK])
def test_checks_across_fields_name_the_field(raw: dict[str, Any], changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(changed(raw, changes))
    assert any(problem.startswith(expected) for problem in caught.value.problems), caught.value.problems
    assert not any("(top level)" in problem for problem in caught.value.problems)


def test_errors_inside_a_feature_name_the_feature(raw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(mutate(raw, "model.features.2.max_null_rate", 2))
    assert caught.value.problems[0].startswith("model.features[2].max_null_rate (feature 'hour_of_day'):")


def test_numeric_category_codes_are_labels_compared_as_text(raw: dict[str, Any]) -> None:
    config = parse_config(mutate(raw, "model.features.8.categories", [1, 2.0, 3.5, 1234567.0]))
    assert config.model.features[8].categories == ["1", "2", "3.5", "1234567"]
    with pytest.raises(ConfigError, match=r"model.features\[8\].categories\[1\] \(feature 'risk_band'\)"):
        parse_config(mutate(raw, "model.features.8.categories", [1, [2]]))


LATER_BREAKAGE = [
    # values that used to validate and broke a deploy, a synth or a function later
    ("trigger.cooldown_hours", 1e12, "trigger.cooldown_hours: Input should be less than or equal to 87600"),
    ("trigger.max_staleness_days", 10**9, "trigger.max_staleness_days: Input should be less than or equal to 3650"),
    ("data.window.fresh_days", 10**6, "data.window.fresh_days: Input should be less than or equal to 3650"),
    ("data.window.half_life_days", 1e9, "data.window.half_life_days: Input should be less than or equal to 3650"),
    ("promotion.shadow.min_duration_hours", 1e9, "promotion.shadow.min_duration_hours: Input should be less"),
    ("drift.psi_threshold", float("inf"), "drift.psi_threshold: Input should be a finite number"),
    ("gates.metrics.0.min", float("nan"), "gates.metrics[0].min: Input should be a finite number"),
    ("data.checks.label_rate", [0.0, float("inf")], "data.checks.label_rate[1]: Input should be a finite number"),
    ("promotion.deployment.max_latency_p99_ms", float("inf"), "max_latency_p99_ms: Input should be a finite"),
    ("training.hyperparameters.learning_rate", float("nan"), "training.hyperparameters.learning_rate"),
    ("training.instance_type", "ml.m5.gigantic", "training.instance_type: 'ml.m5.gigantic' is not a SageMaker"),
    ("pipeline.processing_instance_type", "ml.m5.gigantic", "pipeline.processing_instance_type: 'ml.m5.gigantic'"),
    ("promotion.instance_type", "ml.m5.gigantic", "promotion.instance_type: 'ml.m5.gigantic' is not"),
    ("registry.inference_instance_types", ["ml.m5.large", "ml.m5.gigantic"], "inference_instance_types[1]: 'ml.m5"),
    ("registry.inference_instance_types", ["ml.t2.medium"], "TransformInstanceType"),
    ("model.features.0.name", "f" * 256, "model.features[0].name (feature 'fff"),
    (
        "model.features.0.name",
        "größe",
        "(feature 'größe'): feature names are CloudWatch dimension values",
    ),
    ("data.checks.min_rows", True, "data.checks.min_rows: expected a number, got true"),
    ("drift.psi_threshold", False, "drift.psi_threshold: expected a number, got false"),
    ("model.positive_class", True, "model.positive_class: expected a number or text, got true"),
    ("data.checks.label_rate", [False, True], "data.checks.label_rate[0]: expected a number, got false"),
    ("gates.segments.0.where", {"column": "risk_band", "value": True}, "gates.segments[0].where.value: expected"),
]


@pytest.mark.parametrize(
    ("path", "value", "expected"), LATER_BREAKAGE, ids=[f"{p}={v!r:.20}" for p, v, _ in LATER_BREAKAGE]
)
def test_values_that_would_break_later_are_refused(raw: dict[str, Any], path: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(mutate(raw, path, value))
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems


def test_an_unknown_instance_type_error_lists_valid_ones_of_its_family(raw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(mutate(raw, "training.instance_type", "ml.m5.gigantic"))
    (problem,) = caught.value.problems
    assert "(botocore TrainingInstanceType)" in problem and "e.g. ml.m5.large, ml.m5.xlarge" in problem


def test_yaml_booleans_are_not_numbers(tmp_path: Any) -> None:
    text = EXAMPLE_CONFIG.read_text().replace("min_rows: 2000", "min_rows: yes")
    path = tmp_path / "yes.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"data.checks.min_rows: expected a number, got true"):
        load_config(path)


def test_bounds_hold_where_the_values_are_used(raw: dict[str, Any]) -> None:
    """The largest allowed durations still build the trigger policy (timedelta) and windows."""
    from pipelines.trigger import TriggerPolicy, retry_delay

    config = parse_config(changed(raw, {"trigger.cooldown_hours": 87_600, "trigger.max_staleness_days": 3650}))
    policy = TriggerPolicy.from_settings(
        cooldown_hours=config.trigger.cooldown_hours, max_staleness_days=config.trigger.max_staleness_days
    )
    assert retry_delay(policy, 30).days == 7 and policy.max_staleness is not None
    assert policy.max_staleness.days == 3650


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


@pytest.mark.parametrize("command", ["validate-config", "definition"])
def test_a_config_that_is_not_utf8_is_named(command: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from pipelines.cli import main

    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(EXAMPLE_CONFIG.read_bytes() + "# Größe\n".encode("latin-1"))
    assert main([command, str(latin1)]) == 2
    error = capsys.readouterr().err
    assert f"invalid model config {latin1}" in error and "not UTF-8 text" in error and "save it as UTF-8" in error
