"""The retrain signals besides drifted features and the SLOs: label drift, the share of inputs
outside the training ranges, and a team's own CloudWatch alarms: each its own alarm with the same
M-of-N, fed by a metric the monitor publishes, or by the team."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from pipelines.backtest.sweep import configured
from pipelines.config import ModelConfig, load_config
from pipelines.drift import run_monitor
from pipelines.drift.metrics import metric_data
from pipelines.errors import ConfigError
from pipelines.monitoring.alarms import alarm_specs, retraining_alarm_names
from pipelines.simulation.datagen import StreamSpec, generate
from training_containers.profile import baseline_profile

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 6, 1, tzinfo=UTC)


def spec_of(config: ModelConfig, kind: str):  # type: ignore[no-untyped-def]
    (found,) = [s for s in alarm_specs(config) if s.kind == kind]
    return found


def test_label_drift_is_a_binary_classifiers_alarm_on_cohens_h(config: ModelConfig) -> None:
    watching = spec_of(config, "label_drift")
    assert watching.name == "fraud-detector-watch-label-drift" and not watching.triggers_retraining
    retraining = spec_of(configured(config, {"trigger.retrain_on": ["label_drift"]}), "label_drift")
    assert retraining.name in retraining_alarm_names(configured(config, {"trigger.retrain_on": ["label_drift"]}))
    request = retraining.put_metric_alarm_request()
    assert (request["MetricName"], request["Threshold"]) == ("LabelShift", config.drift.label_shift_threshold)
    assert {"Name": "Signal", "Value": "label"} in request["Dimensions"]
    regression = load_config(ROOT / "configs" / "tabular-regression.yaml")
    assert not [s for s in alarm_specs(regression) if s.kind == "label_drift"]
    with pytest.raises(ConfigError, match="label_drift is a binary classifier's positive rate moving"):
        configured(regression, {"trigger.retrain_on": ["label_drift"]})


def test_the_ood_signal_is_the_largest_share_of_a_feature_outside_training(config: ModelConfig) -> None:
    with pytest.raises(ConfigError, match=r"ood_share needs drift\.max_ood_share"):
        configured(config, {"trigger.retrain_on": ["ood_share"]})
    ood = configured(config, {"drift.max_ood_share": 0.15, "trigger.retrain_on": ["ood_share"]})
    alarm = spec_of(ood, "ood_share")
    assert alarm.name == "fraud-detector-retrain-ood-share" and alarm.threshold == 0.15

    reference = generate(StreamSpec(rows=20_000, seed=1))
    profile = baseline_profile(reference, ood, predictions=np.full(len(reference), 0.1))
    window = generate(StreamSpec(rows=3000, seed=2))
    beyond = window["amount"].max() * 10
    window.loc[window.index[:600], "amount"] = beyond  # 20 % of amounts beyond anything trained on
    report = run_monitor(ood, profile, window.assign(prediction=0.1))
    shares = {name: r["ood_share"] for name, r in report["features"].items() if r.get("status") == "ok"}
    assert shares["amount"] == pytest.approx(0.2, abs=0.01) and max(shares, key=shares.get) == "amount"
    (datum,) = [
        d for d in metric_data(report, ood.model.name, AT)
        if {"Name": "Signal", "Value": "inputs"} in d["Dimensions"]
    ]  # fmt: skip
    assert datum["MetricName"] == "OutOfDistributionShare" and datum["Value"] == max(shares.values())
    assert alarm.is_breaching(datum["Value"])


def test_external_alarms_start_a_retrain_and_count_as_something_that_can(config: ModelConfig) -> None:
    nothing = {"trigger.retrain_on": [], "trigger.max_staleness_days": None}
    with pytest.raises(ConfigError, match=r"trigger\.external_alarms names none"):
        configured(config, nothing)
    team = configured(config, {**nothing, "trigger.external_alarms": ["checkout-conversion-drop"]})
    assert team.trigger.external_alarms == ("checkout-conversion-drop",)
    assert "checkout-conversion-drop" not in retraining_alarm_names(team)  # the team's: never re-armed by us
    refused = {
        "x" * 256: "not a CloudWatch alarm name",
        " ": "not a CloudWatch alarm name",
        "a\nb": "no control characters",
        "checkout-*": "no control characters, \\* or \\?",
    }
    for name, reason in refused.items():
        with pytest.raises(ConfigError, match=reason):
            configured(config, {"trigger.external_alarms": [name]})
    with pytest.raises(ConfigError, match="named more than once"):
        configured(config, {"trigger.external_alarms": ["a", "a"]})
    with pytest.raises(ConfigError, match="are this project's own alarms"):
        configured(config, {"trigger.external_alarms": ["fraud-detector-retrain-drifted-features"]})
    # the silent-monitor alarm says the loop is blind; a retrain would not make it see
    with pytest.raises(ConfigError, match="are this project's own alarms"):
        configured(config, {"trigger.external_alarms": ["fraud-detector-monitor-silent"]})
    with pytest.raises(ConfigError, match="would not fit the retrain trigger's event pattern"):
        configured(config, {"trigger.external_alarms": [f"team-alarm-{i:03d}-" + "x" * 100 for i in range(20)]})
