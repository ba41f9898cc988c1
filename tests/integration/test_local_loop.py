"""The local loop's trigger gate with real pipeline runs: a failed alarm-started run is retried by
the sweep, with back-off, while its alarm stays in ALARM, and the retry is dropped once it is OK.

The workspace holds no data, so every run fails in DataPull within a second: what is under test
is the wiring of alarm states, sweep events and execution-ended events around the gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipelines.alarms import alarm_specs
from pipelines.config import ModelConfig
from pipelines.local.workspace import Workspace
from pipelines.loop import LocalLoop, SimClock, alarm_event

START = datetime(2026, 5, 1, tzinfo=UTC)


def test_a_failed_run_is_retried_while_its_alarm_stays_in_alarm(config: ModelConfig, tmp_path: Path) -> None:
    clock = SimClock(START)
    loop = LocalLoop(Workspace(config, tmp_path / "w"), clock, echo=lambda _: None)
    loop.runner.echo = lambda _: None
    spec = next(s for s in alarm_specs(config) if s.triggers_retraining)
    pipeline = config.pipeline

    loop.alarm_states[spec.name] = "ALARM"
    loop.deliver(alarm_event(spec, "ALARM", "OK", "drifted", 4.0, clock.now, pipeline.account, pipeline.region))
    assert [e.status for e in loop.runner.executions] == ["Failed"]
    assert len(loop.alerts) == 1  # on-call hears about the failure at once

    clock.advance(timedelta(hours=config.trigger.cooldown_hours - 1))
    loop.sweep()
    assert len(loop.runner.executions) == 1  # not due yet

    clock.advance(timedelta(hours=1))
    loop.sweep()
    retried = loop.runner.executions[1]
    assert retried.parameters["TriggerReason"] == "retry"
    assert retried.parameters["TriggerAlarm"] == spec.name
    assert retried.parameters["DataWindowEnd"] == "2026-05-02T00:00:00Z"

    # Failed again: the next retry waits twice the cooldown; by then the data moved back.
    loop.alarm_states[spec.name] = "OK"
    clock.advance(timedelta(hours=2 * config.trigger.cooldown_hours))
    loop.sweep()
    assert len(loop.runner.executions) == 2
    dropped = [d for d in loop.decisions if d.outcome.value == "dropped"]
    assert len(dropped) == 1 and f"{spec.name} is OK now" in dropped[0].reason
