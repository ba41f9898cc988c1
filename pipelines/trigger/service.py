"""The retrain trigger: what to do with a reason to retrain.

EventBridge delivers at least once, alarms flap, and a retraining run takes hours. The gate turns
that into at most one pipeline execution at a time, at most one start per cooldown, and no lost
trigger:

- a trigger whose event id was seen before is a `duplicate` (nothing else happens);
- another monitor alarm that changed state on the datapoint an alarm started the last execution on
  (within 15 minutes of it: alarms on one monitor run change state minutes apart) is `covered`
  once that execution succeeded: it trained on the alarm's data, and a second run on the same data
  would only replace its candidate. While it runs the alarm waits; if it fails, the alarm starts a
  run of its own. An alarm back in ALARM after a re-arm, a team's external alarm, and any alarm
  after a staleness, retry or manual run are never covered;
- a trigger that arrives while an execution runs is `deferred`: it waits in `pending`;
- a trigger that arrives inside the cooldown after the last start waits in `pending` (`cooldown`);
- pending triggers are started, as one execution with the newest trigger's context, as soon as
  nothing runs and the cooldown is over: when the running execution ends, or on the next sweep;
- the sweep also starts a run when the newest model is older than the max staleness;
- a run an alarm started that fails (bad data, a failed gate, a job error) is retried with
  back-off (the cooldown, at least an hour, doubled after each failed retry, at most
  `MAX_RETRY_DELAY`) by the sweep, as long as its alarm is still in ALARM: the alarm fires only
  on a change of state, so without a retry a drift that outlasts one failed run would never
  start another.

Every decision is a `TriggerDecision`, written to the audit trail by the store in the same
atomic write as the state change it explains. The decision functions are pure; `RetrainTrigger`
wires them to a `TriggerStore` (DynamoDB, SQLite or memory) and a `PipelineRunner` (SageMaker
or the local runtime). This module needs only the standard library: it runs in Lambda as is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from pipelines.trigger.model import (
    DuplicateEvent,
    ExecutionEnded,
    Outcome,
    StartRequest,
    StateConflict,
    Sweep,
    Transition,
    Trigger,
    TriggerDecision,
    TriggerEvent,
    TriggerPolicy,
    TriggerState,
)
from pipelines.trigger.policy import (
    after_start,
    after_start_failed,
    iso,
    on_execution_ended,
    on_sweep,
    on_trigger,
    parse_time,
)

# --------------------------------------------------------------------------- ports and the gate


class TriggerStore(Protocol):
    """Gate state, seen event ids and the audit trail of one or more pipelines."""

    def load(self, pipeline: str) -> TriggerState: ...

    def seen(self, pipeline: str, event_id: str) -> bool: ...

    def commit(
        self,
        state: TriggerState,
        *,
        expected_version: int,
        decisions: Sequence[TriggerDecision],
        event_id: str | None,
    ) -> TriggerState:
        """Write `state` as version `expected_version + 1`, mark `event_id` seen and append
        `decisions`, all or nothing. Raises DuplicateEvent if the event id was seen before and
        StateConflict if the stored version is not `expected_version`."""
        ...

    def record(self, decision: TriggerDecision) -> None:
        """Append one audit record on its own (a duplicate changes no state)."""
        ...

    def decisions(self, pipeline: str) -> list[TriggerDecision]: ...


class PipelineRunner(Protocol):
    def start(self, request: StartRequest) -> str:
        """Start an execution; returns its ARN (or the local runtime's execution id)."""
        ...

    def running_execution(self) -> str | None:
        """An execution of the pipeline running now, if any, including ones started by hand."""
        ...


class AlarmStates(Protocol):
    def state(self, alarm: str) -> str | None:
        """The alarm's state now (OK, ALARM or INSUFFICIENT_DATA); None when it cannot be read."""
        ...


@dataclass
class RetrainTrigger:
    """Applies the decisions to a store and a runner. Safe under concurrent invocations: every
    state change is a conditional write on the state's version, retried on conflict."""

    pipeline: str
    store: TriggerStore
    runner: PipelineRunner
    policy: TriggerPolicy
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    max_attempts: int = 8
    alarms: AlarmStates | None = None  # read when a retry is due; None: retried without checking

    def handle(self, event: TriggerEvent, delivery_id: str = "") -> list[TriggerDecision]:
        """Decide on one event and act on it; returns the decisions recorded."""
        if self.store.seen(self.pipeline, event.event_id):
            return [self._duplicate(event, delivery_id)]
        observed = self.runner.running_execution()
        for _ in range(self.max_attempts):
            now = self.clock()
            state = self.store.load(self.pipeline)
            alarm_state = self._retry_alarm_state(state, event, now)
            transition = self._decide(state, event, now, delivery_id, observed, alarm_state)
            try:
                stored = self.store.commit(
                    transition.state,
                    expected_version=state.version,
                    decisions=transition.decisions,
                    event_id=event.event_id,
                )
            except DuplicateEvent:
                return [self._duplicate(event, delivery_id)]
            except StateConflict:
                continue
            return [*transition.decisions, *self._start(stored, transition)]
        raise StateConflict(f"{self.pipeline}: the gate state kept changing for {self.max_attempts} attempts")

    def _decide(
        self,
        state: TriggerState,
        event: TriggerEvent,
        now: datetime,
        delivery_id: str,
        observed: str | None,
        retry_alarm_state: str | None,
    ) -> Transition:
        if isinstance(event, Trigger):
            return on_trigger(state, event, self.policy, now, delivery_id, observed)
        if isinstance(event, ExecutionEnded):
            return on_execution_ended(state, event, self.policy, now, delivery_id, observed)
        return on_sweep(state, event, self.policy, now, delivery_id, observed, retry_alarm_state)

    def _retry_alarm_state(self, state: TriggerState, event: TriggerEvent, now: datetime) -> str | None:
        retry = state.retry
        if not isinstance(event, Sweep) or retry is None or self.alarms is None or now < parse_time(retry.due):
            return None
        return self.alarms.state(retry.trigger.alarm)

    def _duplicate(self, event: TriggerEvent, delivery_id: str) -> TriggerDecision:
        reason = "event id already decided on (EventBridge delivers at least once)"
        duplicate = TriggerDecision(
            self.pipeline, event.event_id, Outcome.duplicate, reason, iso(self.clock()), delivery_id
        )
        self.store.record(duplicate)
        return duplicate

    def _start(self, stored: TriggerState, transition: Transition) -> list[TriggerDecision]:
        request, started = transition.start, transition.started
        if request is None or started is None:
            return []
        try:
            arn = self.runner.start(request)
        except Exception as exc:  # whatever failed, the trigger is kept and the sweep retries it
            failed = replace(
                started, outcome=Outcome.error, reason=f"StartPipelineExecution failed: {type(exc).__name__}: {exc}"
            )
            self._follow_up(stored, lambda s: after_start_failed(s, request.token), failed)
            return [failed]
        done = replace(started, execution_arn=arn)
        self._follow_up(stored, lambda s: after_start(s, request.token, arn), done)
        return [done]

    def _follow_up(
        self, state: TriggerState, change: Callable[[TriggerState], TriggerState], decision: TriggerDecision
    ) -> None:
        for _ in range(self.max_attempts):
            try:
                self.store.commit(change(state), expected_version=state.version, decisions=[decision], event_id=None)
                return
            except StateConflict:
                state = self.store.load(self.pipeline)
        raise StateConflict(f"{self.pipeline}: could not record the outcome of the start")


def decisions_json(decisions: Sequence[TriggerDecision]) -> str:
    return json.dumps([d.to_json() for d in decisions], sort_keys=True)
