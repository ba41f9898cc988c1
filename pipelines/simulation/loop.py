"""The whole closed loop on this machine, wired from the same parts AWS runs.

Endpoint with data capture -> drift monitor (the monitoring job's functions) -> metrics store
-> alarms (CloudWatch semantics) -> "CloudWatch Alarm State Change" events -> retrain trigger ->
pipeline in the local runtime -> "Pipeline Execution Status Change" events -> the gate again and,
on failure, the alert text -> approval -> shadow -> shadow verdict -> promotion / rollback.

Time is simulated: `clock.now` is what every part reads, so a demo or a test can replay days of
traffic in seconds. Events are built in the shapes AWS documents and parsed by the same code as
the Lambda functions.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.local.runtime import Execution
from pipelines.local.workspace import Workspace, local_uri
from pipelines.monitoring.alarms import REARMED_STATE, AlarmSpec, alarm_specs, evaluate_alarms
from pipelines.monitoring.metrics_store import MetricsStore
from pipelines.trigger import Outcome, RetrainTrigger, StartRequest, TriggerDecision, TriggerPolicy
from pipelines.trigger.events import parse_gate_event
from pipelines.trigger.local import SqliteTriggerStore

Echo = Callable[[str], None]


@dataclass
class SimClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


@dataclass
class LocalPipelineRunner:
    """StartPipelineExecution for the retrain trigger: runs the definition in the local runtime.
    The same client request token returns the same execution, as SageMaker's does."""

    workspace: Workspace
    echo: Echo
    announce: Callable[[StartRequest], None] | None = None
    executions: list[Execution] = field(default_factory=list)
    by_token: dict[str, str] = field(default_factory=dict)
    ended: list[Execution] = field(default_factory=list)

    def start(self, request: StartRequest) -> str:
        if request.token in self.by_token:
            return self.by_token[request.token]
        if self.announce is not None:
            self.announce(request)
        else:
            self.echo(f"  pipeline started: {request.description or request.display_name}")
        execution = self.workspace.run(request.parameters, echo=self.echo)
        self.executions.append(execution)
        self.ended.append(execution)
        self.by_token[request.token] = execution.arn
        return execution.arn

    def running_execution(self) -> str | None:
        return None  # executions run to the end inside start()


def eventbridge_event(
    key: str,
    detail_type: str,
    source: str,
    at: datetime,
    resources: list[str],
    detail: dict[str, Any],
    *,
    account: str,
    region: str,
) -> dict[str, Any]:
    """The envelope EventBridge wraps every event in; the id is derived from `key`, so a
    redelivery of the same event carries the same id."""
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": resources,
        "detail": detail,
    }


def alarm_event(
    spec: AlarmSpec,
    state: str,
    previous: str,
    reason: str,
    value: float | None,
    at: datetime,
    account: str,
    region: str,
) -> dict[str, Any]:
    """A "CloudWatch Alarm State Change" event as EventBridge delivers it (single-metric alarm)."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    reason_data = {
        "version": "1.0",
        "statistic": spec.statistic,
        "period": spec.period_seconds,
        "threshold": spec.threshold,
    }
    if value is not None:
        reason_data["recentDatapoints"] = [value]
    return eventbridge_event(
        f"{spec.name}/{stamp}/{state}",
        "CloudWatch Alarm State Change",
        "aws.cloudwatch",
        at,
        [f"arn:aws:cloudwatch:{region}:{account}:alarm:{spec.name}"],
        {
            "alarmName": spec.name,
            "configuration": {
                "description": spec.description,
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "dimensions": spec.dimensions_map,
                                "name": spec.metric_name,
                                "namespace": spec.namespace,
                            },
                            "period": spec.period_seconds,
                            "stat": spec.statistic,
                        },
                        "returnData": True,
                    }
                ],
            },
            "previousState": {"reason": "", "timestamp": stamp, "value": previous},
            "state": {"reason": reason, "reasonData": json.dumps(reason_data), "timestamp": stamp, "value": state},
        },
        account=account,
        region=region,
    )


def execution_event(execution: Execution, account: str, region: str) -> dict[str, Any]:
    """A "SageMaker Model Building Pipeline Execution Status Change" event for an ended execution."""
    ended = execution.ended or execution.started
    return eventbridge_event(
        f"{execution.arn}/{execution.status}",
        "SageMaker Model Building Pipeline Execution Status Change",
        "aws.sagemaker",
        ended,
        [execution.pipeline_arn, execution.arn],
        {
            "currentPipelineExecutionStatus": execution.status,
            "previousPipelineExecutionStatus": "Executing",
            "executionStartTime": execution.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "executionEndTime": ended.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "pipelineArn": execution.pipeline_arn,
            "pipelineExecutionArn": execution.arn,
        },
        account=account,
        region=region,
    )


QUIET_OUTCOMES = (Outcome.fresh, Outcome.idle)  # a sweep that found nothing to do: recorded, not echoed


def sweep_event(at: datetime, rule: str, account: str, region: str) -> dict[str, Any]:
    """The gate's sweep schedule firing: a "Scheduled Event" as EventBridge delivers it."""
    resources = [f"arn:aws:events:{region}:{account}:rule/{rule}"]
    return eventbridge_event(
        f"{rule}/{at.isoformat()}", "Scheduled Event", "aws.events", at, resources, {}, account=account, region=region
    )


@dataclass
class AlarmChange:
    alarm: str
    at: datetime
    previous: str
    state: str
    reason: str
    triggers_retraining: bool
    signal: bool = True  # a retrain signal's alarm (retraining or watching), not a per-feature one


@dataclass
class LocalLoop:
    workspace: Workspace
    clock: SimClock
    echo: Echo = print

    def __post_init__(self) -> None:
        from pipelines.definition.builder import pipeline_name
        from pipelines.promotion.local import local_promotion

        config, root = self.workspace.config, self.workspace.root
        self.promotion, self.endpoint = local_promotion(self.workspace, clock=self.clock)
        self.promotion.alarms = self  # SetAlarmState once the alarms saw a new champion alone
        self.metrics = MetricsStore(root / "metrics.db")
        self.specs = alarm_specs(config)
        self.alarm_states: dict[str, str] = {}
        self.alarm_changes: list[AlarmChange] = []
        self.decisions: list[TriggerDecision] = []
        self.alerts: list[dict[str, Any]] = []
        self.runner = LocalPipelineRunner(self.workspace, self.echo)
        self.gate = RetrainTrigger(
            pipeline=pipeline_name(config),
            store=SqliteTriggerStore(root / "trigger.db"),
            runner=self.runner,
            policy=TriggerPolicy.from_config(
                config.trigger.model_dump(mode="json")
            ),  # as the deployed function reads it
            clock=self.clock,
            alarms=self,  # a failed run's retry reads its alarm's state
        )

    @property
    def config(self) -> Any:
        return self.workspace.config

    # ---- traffic and labels

    def serve(self, requests: pd.DataFrame) -> Any:
        return self.endpoint.invoke(requests, now=self.clock.now)

    def deliver_labels(self, labelled: pd.DataFrame) -> None:
        """Ground truth for earlier requests: Model Monitor's ground-truth JSONL (the monitor and
        the shadow verdict read it), and the labelled rows added to the training sources the way an
        upstream ETL keeps them: the fresh prefix holds the last `fresh_days - 1` days, older rows
        move to the history table (the margin keeps every fresh row inside the window a trigger
        opens later the same day)."""
        from pipelines.promotion.local import write_ground_truth

        config, s3 = self.config, self.workspace.s3
        model = config.model
        truth = labelled[[model.id_column, model.label]].rename(
            columns={model.id_column: "inference_id", model.label: "label"}
        )
        write_ground_truth(s3, config, truth, self.clock.now)
        fresh_folder = s3.path(config.data.fresh.uri)
        history_folder = s3.path(local_uri(config.data.historical))
        fresh = pd.concat([read_folder(fresh_folder), labelled], ignore_index=True)
        cut = pd.Timestamp(self.clock.now).tz_convert("UTC").tz_localize(None) - pd.Timedelta(
            days=config.data.window.fresh_days - 1
        )
        older = fresh[model.time_column] <= cut
        if older.any():
            history = pd.concat([read_folder(history_folder), fresh[older]], ignore_index=True)
            write_folder(history_folder, history)
        write_folder(fresh_folder, fresh[~older])

    # ---- monitor, alarms, trigger

    def monitor(self, start: datetime, end: datetime) -> dict[str, Any]:
        """The monitoring job's work for the period ending at `end` (its capture hours; `start` is
        the period's start, for the skip record): the launcher's plan on the local S3, then the
        job with that request (pipelines.monitoring.local). As on AWS, with no capture in the
        window's hours or no champion baseline yet the run is skipped (`{"skipped": reason}`),
        publishing nothing."""
        from pipelines.monitoring.job import monitor_job_request, monitor_launch
        from pipelines.monitoring.local import run_monitor

        config = self.config
        request = monitor_job_request(config, image_uri="local", role_arn="local", key_arn="local")
        launch = monitor_launch(config, request, end.isoformat())
        run, report = run_monitor(launch, self.workspace.s3, self.workspace.root / "monitor-jobs", self.metrics)
        if report is None:
            return {"skipped": run.skipped, "window": {"start": start.isoformat(), "end": end.isoformat()}}
        return report

    def evaluate_alarms(self) -> list[AlarmChange]:
        """CloudWatch's evaluation at `clock.now`; each change becomes an EventBridge event and
        ALARMs of retraining alarms go to the retrain trigger."""
        pipeline = self.config.pipeline
        results = evaluate_alarms(self.specs, self.metrics, self.clock.now, self.alarm_states)  # type: ignore[arg-type]
        changes = []
        for spec in self.specs:
            result = results[spec.name]
            previous = self.alarm_states.get(spec.name, "INSUFFICIENT_DATA")
            if result.state == previous:
                continue
            self.alarm_states[spec.name] = result.state
            change = AlarmChange(
                spec.name,
                self.clock.now,
                previous,
                result.state,
                result.reason,
                spec.triggers_retraining,
                signal=spec.kind != "feature_drift",
            )
            changes.append(change)
            self.alarm_changes.append(change)
            if spec.triggers_retraining:
                self.echo(f"  alarm {spec.name}: {previous} -> {result.state} at {self.clock.now:%b %d %H:%M}")
            if result.state == "ALARM" and spec.triggers_retraining:
                value = self._latest(spec)
                event = alarm_event(
                    spec, "ALARM", previous, result.reason, value, self.clock.now, pipeline.account, pipeline.region
                )
                self.deliver(event)
        return changes

    def state(self, alarm: str) -> str | None:
        """DescribeAlarms for the gate: the alarm's state now."""
        return self.alarm_states.get(alarm)

    def sweep(self) -> None:
        """The gate's sweep schedule: due pending triggers, the retry of a failed run while its
        alarm is still in ALARM, the max-staleness check."""
        pipeline = self.config.pipeline
        self.deliver(sweep_event(self.clock.now, f"{self.gate.pipeline}-sweep", pipeline.account, pipeline.region))

    def rearm(self, alarm_names: Sequence[str], reason: str) -> None:
        """SetAlarmState(`REARMED_STATE`) as CloudWatch does it: the state changes now (a change
        that starts nothing) and the next evaluation decides again from the metrics."""
        retraining = {spec.name: spec.triggers_retraining for spec in self.specs}
        for name in alarm_names:
            previous = self.alarm_states.get(name, "INSUFFICIENT_DATA")
            if previous == REARMED_STATE:
                continue
            self.alarm_states[name] = REARMED_STATE
            self.alarm_changes.append(
                AlarmChange(name, self.clock.now, previous, REARMED_STATE, reason, retraining.get(name, False))
            )
            self.echo(f"  alarm {name}: {previous} -> {REARMED_STATE} at {self.clock.now:%b %d %H:%M} ({reason})")

    def _latest(self, spec: AlarmSpec) -> float | None:
        points = self.metrics.datapoints(spec.namespace, spec.metric_name, spec.dimensions_map, None, self.clock.now)
        return points[-1][1] if points else None

    def deliver(self, event: dict[str, Any]) -> None:
        """EventBridge delivering `event` to the gate function; ended executions go back to it."""
        decisions = self.gate.handle(parse_gate_event(event), delivery_id=f"local-{uuid.uuid4().hex[:8]}")
        self.decisions += decisions
        for decision in decisions:
            if decision.outcome not in QUIET_OUTCOMES:
                self.echo(f"  retrain trigger: {decision.outcome.value} ({decision.reason})")
        while self.runner.ended:
            execution = self.runner.ended.pop(0)
            if execution.status == "Failed":
                self._alert(execution)
            self.deliver(execution_event(execution, self.config.pipeline.account, self.config.pipeline.region))

    def _alert(self, execution: Execution) -> None:
        """What the alert function publishes to SNS, built from the execution record."""
        from pipelines.alerts.message import build_alert, failed_steps
        from pipelines.definition.builder import pipeline_name
        from pipelines.local import record

        files = execution.scope.property_files if execution.scope else {}
        alert = build_alert(
            model=self.config.model.name,
            pipeline=pipeline_name(self.config),
            execution_arn=execution.arn,
            failures=failed_steps(record.list_steps(execution)["PipelineExecutionSteps"]),
            evaluation=files.get(record.EVALUATION_REPORT),
            validation=files.get(record.VALIDATION_REPORT),
        )
        self.alerts.append({"at": self.clock.now.isoformat(), "subject": alert.subject, "text": alert.text})
        outbox = self.workspace.root / "alerts"
        outbox.mkdir(parents=True, exist_ok=True)
        (outbox / f"{execution.execution_id}.txt").write_text(f"{alert.subject}\n\n{alert.text}\n")

    # ---- reading back

    def packages(self) -> list[dict[str, Any]]:
        return self.workspace.runtime(echo=lambda _: None).registry.list_model_packages(
            self.config.registry.model_package_group
        )


def read_folder(folder: Path) -> pd.DataFrame:
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else pd.DataFrame()


def write_folder(folder: Path, frame: pd.DataFrame) -> None:
    """Replace the folder's content with one Parquet file (written before the old ones go)."""
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / ".part-0.parquet.tmp"
    frame.to_parquet(temporary, index=False)
    for old in folder.glob("*.parquet"):
        old.unlink()
    temporary.replace(folder / "part-0.parquet")
