"""EventBridge events the retrain trigger receives, read into its typed events.

- "CloudWatch Alarm State Change" to ALARM (single-metric or composite alarm) -> `Trigger`
- "SageMaker Model Building Pipeline Execution Status Change" to a terminal status -> `ExecutionEnded`
- "Scheduled Event" (the gate's sweep schedule) -> `Sweep`

Shapes follow the examples in the CloudWatch and SageMaker documentation (kept as JSON under
tests/infra/events/). Anything else raises `MalformedEvent` naming the field, before any call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pipelines.trigger import (
    NONE,
    ExecutionEnded,
    MalformedEvent,
    Sweep,
    Trigger,
    TriggerEvent,
    TriggerKind,
    iso,
    parse_time,
)

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
PIPELINE_STATUS_CHANGE = "SageMaker Model Building Pipeline Execution Status Change"
SCHEDULED_EVENT = "Scheduled Event"
TERMINAL_STATUSES = ("Succeeded", "Failed", "Stopped")


def _field(raw: Mapping[str, Any], path: str) -> Any:
    node: Any = raw
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise MalformedEvent(path, "missing")
        node = node[part]
    return node


def _text(raw: Mapping[str, Any], path: str) -> str:
    value = _field(raw, path)
    if not isinstance(value, str) or not value.strip():
        raise MalformedEvent(path, f"expected a non-empty string, got {value!r}")
    return value


def _time(raw: Mapping[str, Any], path: str) -> str:
    value = _text(raw, path)
    try:
        # CloudWatch writes "2019-10-02T17:04:40.989+0000"; fromisoformat wants "+00:00".
        normalised = value[:-5] + value[-5:-2] + ":" + value[-2:] if value[-5] in "+-" else value
        return iso(parse_time(normalised))
    except (ValueError, IndexError):
        raise MalformedEvent(path, f"not an ISO-8601 time: {value!r}") from None


def _newest_datapoint(reason_data: Any) -> str:
    """The newest datapoint behind a metric alarm's state, from `state.reasonData`."""
    if not isinstance(reason_data, str):
        return NONE
    try:
        data = json.loads(reason_data)
    except json.JSONDecodeError:
        return NONE
    points = data.get("recentDatapoints") if isinstance(data, dict) else None
    if not isinstance(points, list) or not points:
        return NONE
    try:
        return repr(float(points[-1]))
    except (TypeError, ValueError):
        raise MalformedEvent(
            "detail.state.reasonData", f"recentDatapoints ends in {points[-1]!r}, not a number"
        ) from None


def alarm_trigger(raw: Mapping[str, Any]) -> Trigger:
    state = _text(raw, "detail.state.value")
    if state != "ALARM":
        raise MalformedEvent("detail.state.value", f"the gate acts on ALARM only, got {state!r}")
    return Trigger(
        event_id=_text(raw, "id"),
        kind=TriggerKind.alarm,
        alarm=_text(raw, "detail.alarmName"),
        metric_value=_newest_datapoint(_field(raw, "detail.state").get("reasonData")),
        data_window_end=_time(raw, "detail.state.timestamp"),
        detail=str(_field(raw, "detail.state").get("reason", "")),
    )


def execution_ended(raw: Mapping[str, Any]) -> ExecutionEnded:
    status = _text(raw, "detail.currentPipelineExecutionStatus")
    if status not in TERMINAL_STATUSES:
        raise MalformedEvent(
            "detail.currentPipelineExecutionStatus", f"expected one of {TERMINAL_STATUSES}, got {status!r}"
        )
    return ExecutionEnded(
        event_id=_text(raw, "id"), execution_arn=_text(raw, "detail.pipelineExecutionArn"), status=status
    )


def parse_gate_event(raw: Any) -> TriggerEvent:
    if not isinstance(raw, Mapping):
        raise MalformedEvent("(event)", f"expected a JSON object, got {type(raw).__name__}")
    kind = _text(raw, "detail-type")
    if kind == ALARM_STATE_CHANGE:
        return alarm_trigger(raw)
    if kind == PIPELINE_STATUS_CHANGE:
        return execution_ended(raw)
    if kind == SCHEDULED_EVENT:
        return Sweep(event_id=_text(raw, "id"), at=_time(raw, "time"))
    raise MalformedEvent("detail-type", f"not an event the gate handles: {kind!r}")
