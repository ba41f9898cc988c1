"""Every rule's pattern against AWS-documented sample events (tests/infra/events/): this model's
events match, other alarms, states, pipelines and groups do not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.events.models import EventPattern

from tests.infra.conftest import EXTERNAL_ALARM, resources
from tests.infra.sample_events import (
    alarm_state_change,
    documented,
    execution_status_change,
    model_package_state_change,
)

PIPELINE = "fraud-detector-retraining"
RETRAIN_ALARMS = ["fraud-detector-retrain-drifted-features", "fraud-detector-retrain-performance-slo"]


def _pattern(template: dict[str, Any], rule_prefix: str) -> EventPattern:
    (rule,) = [r for k, r in resources(template, "AWS::Events::Rule").items() if k.startswith(rule_prefix)]
    return EventPattern.load(json.dumps(rule["Properties"]["EventPattern"]))


@pytest.mark.parametrize("alarm", RETRAIN_ALARMS)
@pytest.mark.parametrize("composite", [False, True])
def test_alarm_rule_matches_this_models_retraining_alarms_in_alarm(
    template: dict[str, Any], alarm: str, composite: bool
) -> None:
    pattern = _pattern(template, "TriggerAlarmRule")
    assert pattern.matches_event(alarm_state_change(alarm, composite=composite))


@pytest.mark.parametrize(
    "alarm",
    [
        "fraud-detector-full-retrain-estimated-performance",
        "fraud-detector-full-retrain-label-drift",
        "fraud-detector-full-retrain-ood-share",
        EXTERNAL_ALARM,  # the team's own, named in trigger.external_alarms
    ],
)
def test_every_signal_and_a_named_external_alarm_start_a_retrain(full_template: dict[str, Any], alarm: str) -> None:
    pattern = _pattern(full_template, "TriggerAlarmRule")
    assert pattern.matches_event(alarm_state_change(alarm))
    assert not pattern.matches_event(alarm_state_change(alarm, state="OK"))
    assert not pattern.matches_event(alarm_state_change("fraud-detector-full-drift-amount-psi"))  # one feature's


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(alarm_state_change(RETRAIN_ALARMS[0], state="OK"), id="ok-state"),
        pytest.param(alarm_state_change(RETRAIN_ALARMS[0], state="INSUFFICIENT_DATA"), id="insufficient-data"),
        pytest.param(alarm_state_change("fraud-detector-drift-amount-psi"), id="feature-alarm-does-not-retrain"),
        pytest.param(alarm_state_change("other-model-retrain-drifted-features"), id="another-models-alarm"),
        pytest.param(alarm_state_change(RETRAIN_ALARMS[0], account="999999999999"), id="another-account"),
        pytest.param(documented("alarm-state-change-single-metric"), id="documented-ServerCpuTooHigh"),
        pytest.param(documented("alarm-state-change-composite"), id="documented-composite"),
        pytest.param(execution_status_change(PIPELINE, "abc"), id="pipeline-event"),
    ],
)
def test_alarm_rule_ignores_other_events(template: dict[str, Any], event: dict[str, Any]) -> None:
    assert not _pattern(template, "TriggerAlarmRule").matches_event(event)


@pytest.mark.parametrize("status", ["Succeeded", "Failed", "Stopped"])
def test_execution_ended_rule_matches_terminal_statuses_of_this_pipeline(template: dict[str, Any], status: str) -> None:
    assert _pattern(template, "TriggerExecutionEndedRule").matches_event(
        execution_status_change(PIPELINE, "p4jn9xou8a8s", status=status)
    )


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(execution_status_change(PIPELINE, "x", status="Executing"), id="executing"),
        pytest.param(execution_status_change(PIPELINE, "x", status="Stopping"), id="stopping"),
        pytest.param(execution_status_change("other-pipeline", "x"), id="another-pipeline"),
        pytest.param(documented("pipeline-execution-status-change"), id="documented-myPipeline-123"),
    ],
)
def test_execution_ended_rule_ignores_other_events(template: dict[str, Any], event: dict[str, Any]) -> None:
    assert not _pattern(template, "TriggerExecutionEndedRule").matches_event(event)


def test_failure_rule_matches_failed_executions_of_this_pipeline_only(template: dict[str, Any]) -> None:
    pattern = _pattern(template, "AlertsExecutionFailedRule")
    assert pattern.matches_event(execution_status_change(PIPELINE, "p4jn9xou8a8s", status="Failed"))
    assert not pattern.matches_event(execution_status_change(PIPELINE, "p4jn9xou8a8s", status="Succeeded"))
    assert not pattern.matches_event(execution_status_change(PIPELINE, "p4jn9xou8a8s", status="Stopped"))
    assert not pattern.matches_event(execution_status_change("other-pipeline", "x", status="Failed"))


def test_approval_rule_matches_pending_versions_of_this_group_only(template: dict[str, Any]) -> None:
    pattern = _pattern(template, "AlertsAwaitingApprovalRule")
    assert pattern.matches_event(model_package_state_change("fraud-detector", 3))
    assert not pattern.matches_event(model_package_state_change("fraud-detector", 3, approval="Approved"))
    assert not pattern.matches_event(model_package_state_change("other-group", 3))
    assert not pattern.matches_event(documented("model-package-state-change"))
