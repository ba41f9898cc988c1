"""The local loop's retrain trigger with real pipeline runs: a failed alarm-started run is retried by
the sweep, with back-off, while its alarm stays in ALARM, and the retry is dropped once it is OK.

The workspace holds no data, so every run fails in DataPull within a second: what is under test
is the wiring of alarm states, sweep events and execution-ended events around the gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipelines.config import ModelConfig
from pipelines.local.workspace import Workspace
from pipelines.monitoring.alarms import alarm_specs
from pipelines.simulation.loop import LocalLoop, SimClock, alarm_event

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


def test_the_first_days_after_deploy_skip_the_monitor_until_it_has_a_baseline_and_capture(
    config: ModelConfig, tmp_path: Path
) -> None:
    """As the launcher decides on AWS (pipelines.monitoring.launch): nothing to judge is a skipped
    run that publishes nothing, not a failed job; capture without labels still publishes drift."""
    import json
    import uuid

    from pipelines.naming import capture_prefix, champion_prefix
    from pipelines.simulation.datagen import StreamSpec, generate
    from training_containers.profile import baseline_profile

    workspace = Workspace(config, tmp_path / "w")
    workspace.deploy()
    clock = SimClock(START)
    loop = LocalLoop(workspace, clock, echo=lambda _: None)
    hour = (START, START + timedelta(hours=1))

    assert "no champion baseline yet" in loop.monitor(*hour)["skipped"]
    reference = generate(StreamSpec(rows=5000, seed=5))
    workspace.s3.put_bytes(
        champion_prefix(config) + "baseline_profile.json", json.dumps(baseline_profile(reference, config)).encode()
    )
    assert "no capture yet" in loop.monitor(*hour)["skipped"]
    assert (
        loop.metrics.datapoints(config.drift.metric_namespace, "DriftedFeatureCount", {"Model": config.model.name})
        == []
    )

    traffic = generate(StreamSpec(rows=600, seed=6, scenario="covariate"))
    rows = traffic[config.model.feature_names].to_csv(header=False, index=False).splitlines()
    lines = [
        json.dumps(
            {
                "captureData": {
                    "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": r, "encoding": "CSV"},
                    "endpointOutput": {
                        "observedContentType": "text/csv",
                        "mode": "OUTPUT",
                        "data": "0.1",
                        "encoding": "CSV",
                    },
                },
                "eventMetadata": {
                    "eventId": str(uuid.uuid4()),
                    "inferenceId": f"i{k}",
                    "inferenceTime": "2026-05-01T00:30:00Z",
                },
                "eventVersion": "0",
            }
        )
        for k, r in enumerate(rows)
    ]
    endpoint = config.promotion.endpoint(config.model.name)
    uri = f"{capture_prefix(config)}/{endpoint}/production/2026/05/01/00/capture.jsonl"
    workspace.s3.put_bytes(uri, "\n".join(lines).encode())
    report = loop.monitor(*hour)
    assert "skipped" not in report and report["window"]["rows"] == 600
    assert report["performance"]["status"] != "ok"  # no labels yet
    drifted = loop.metrics.datapoints(
        config.drift.metric_namespace, "DriftedFeatureCount", {"Model": config.model.name}
    )
    assert drifted == [(hour[1] - timedelta(seconds=1), float(report["summary"]["drifted_feature_count"]))]
    assert report["summary"]["drifted_feature_count"] >= 2
