"""The trigger gate: what to do with a reason to retrain.

EventBridge delivers at least once, alarms flap, and a retraining run takes hours. The gate turns
that into at most one pipeline execution at a time, at most one start per cooldown, and no lost
trigger:

- a trigger whose event id was seen before is a `duplicate` (nothing else happens);
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
atomic write as the state change it explains. The decision functions are pure; `TriggerGate`
wires them to a `TriggerStore` (DynamoDB, SQLite or memory) and a `PipelineRunner` (SageMaker
or the local runtime). This module needs only the standard library: it runs in Lambda as is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from pipelines.errors import PipelinesError

# Pipeline parameter names (the same constants as pipelines.definition.builder, which imports the
# sagemaker SDK and so cannot be imported here).
TRIGGER_REASON = "TriggerReason"
TRIGGER_ALARM = "TriggerAlarm"
TRIGGER_METRIC_VALUE = "TriggerMetricValue"
DATA_WINDOW_END = "DataWindowEnd"

NONE = "none"  # the definition's default for absent context: parameter values may not be empty
MAX_PARAMETER_LENGTH = 1024  # StartPipelineExecution: PipelineParameter.Value
MAX_DESCRIPTION_LENGTH = 3072  # StartPipelineExecution: PipelineExecutionDescription


class Outcome(StrEnum):
    started = "started"
    duplicate = "duplicate"
    deferred = "deferred"  # an execution is running; started when it ends
    cooldown = "cooldown"  # inside the cooldown; started when it is over
    released = "released"  # the running execution ended
    fresh = "fresh"  # staleness check: the last start is recent enough
    idle = "idle"  # sweep: nothing to do
    dropped = "dropped"  # a due retry whose alarm is no longer in ALARM
    error = "error"


class TriggerKind(StrEnum):
    alarm = "alarm"
    max_staleness = "max_staleness"
    manual = "manual"
    retry = "retry"  # a failed alarm-started run again, its alarm still in ALARM


class GateError(PipelinesError):
    """Base of the trigger gate's errors."""


class MalformedEvent(GateError):
    """An event the gate cannot read; `field` names what is missing or wrong. No call is made."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"malformed event: {field}: {problem}")


class StateConflict(GateError):
    """Another invocation changed the gate state first; load again and decide again."""


class DuplicateEvent(GateError):
    """This event id was already decided on."""


@dataclass(frozen=True)
class Trigger:
    """One reason to retrain, with the context the pipeline receives as parameters."""

    event_id: str
    kind: TriggerKind
    alarm: str  # alarm name, or "none"
    metric_value: str  # newest datapoint that crossed the threshold, or "none"
    data_window_end: str  # ISO-8601 UTC; the alarm's state change time
    detail: str = ""  # the alarm's state reason: goes to the execution description

    def parameters(self) -> dict[str, str]:
        values = {
            TRIGGER_REASON: self.kind.value,
            TRIGGER_ALARM: self.alarm,
            TRIGGER_METRIC_VALUE: self.metric_value,
            DATA_WINDOW_END: self.data_window_end,
        }
        return {name: (value or NONE)[:MAX_PARAMETER_LENGTH] for name, value in values.items()}


@dataclass(frozen=True)
class ExecutionEnded:
    """A pipeline execution reached a terminal status (Succeeded, Failed or Stopped)."""

    event_id: str
    execution_arn: str
    status: str


@dataclass(frozen=True)
class Sweep:
    """The periodic check: start due pending triggers, repair a lost end event, staleness."""

    event_id: str
    at: str  # ISO-8601 UTC time of the scheduled event


GateEvent = Trigger | ExecutionEnded | Sweep


@dataclass(frozen=True)
class Execution:
    """The execution the gate started (or found running). `arn` is None until StartPipelineExecution
    answered; `token` makes a repeated start of the same run idempotent."""

    token: str
    started_at: str
    arn: str | None = None
    trigger: Trigger | None = None  # the trigger whose context the execution received
    trigger_ids: tuple[str, ...] = ()

    @property
    def external(self) -> bool:
        return self.trigger is None


@dataclass(frozen=True)
class Retry:
    """A failed alarm-started run to start again at `due` if `trigger.alarm` is still in ALARM."""

    trigger: Trigger  # the trigger of the failed run
    due: str  # ISO-8601 UTC


@dataclass(frozen=True)
class GateState:
    pipeline: str
    version: int = 0
    running: Execution | None = None
    last_started_at: str | None = None
    pending: tuple[Trigger, ...] = ()
    retry: Retry | None = None
    # Failed runs in a row of the current chain: an alarm's run and the retries after it. A new
    # alarm's run starts a chain; a success or a dropped retry ends it.
    failed_runs: int = 0
    missed_end: Execution | None = None  # released by the sweep without its end event, which may come late

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> GateState:
        return cls(
            pipeline=raw["pipeline"],
            version=int(raw.get("version", 0)),
            running=_execution(raw.get("running")),
            last_started_at=raw.get("last_started_at"),
            pending=tuple(t for t in (_trigger(raw_t) for raw_t in raw.get("pending", ())) if t is not None),
            retry=_retry(raw.get("retry")),
            failed_runs=int(raw.get("failed_runs", 0)),
            missed_end=_execution(raw.get("missed_end")),
        )


def _execution(raw: Mapping[str, Any] | None) -> Execution | None:
    if raw is None:
        return None
    return Execution(
        token=raw["token"],
        started_at=raw["started_at"],
        arn=raw.get("arn"),
        trigger=_trigger(raw.get("trigger")),
        trigger_ids=tuple(raw.get("trigger_ids", ())),
    )


def _retry(raw: Mapping[str, Any] | None) -> Retry | None:
    if raw is None:
        return None
    trigger = _trigger(raw["trigger"])
    assert trigger is not None
    return Retry(trigger=trigger, due=raw["due"])


def _trigger(raw: Mapping[str, Any] | None) -> Trigger | None:
    return None if raw is None else Trigger(**{**raw, "kind": TriggerKind(raw["kind"])})


@dataclass(frozen=True)
class TriggerDecision:
    """One audit record: what was decided about which event, and why."""

    pipeline: str
    event_id: str
    outcome: Outcome
    reason: str
    at: str
    delivery_id: str = ""
    trigger: Trigger | None = None
    execution_arn: str | None = None
    covers: tuple[str, ...] = ()  # event ids of the triggers a started execution serves

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["outcome"] = self.outcome.value
        return document

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> TriggerDecision:
        return cls(
            **{
                **raw,
                "outcome": Outcome(raw["outcome"]),
                "trigger": _trigger(raw.get("trigger")),
                "covers": tuple(raw.get("covers", ())),
            }
        )

    @property
    def sort_key(self) -> str:
        return f"{self.at}#{self.event_id}#{self.outcome.value}#{self.delivery_id}"


@dataclass(frozen=True)
class StartRequest:
    """What StartPipelineExecution receives."""

    token: str
    display_name: str
    description: str
    parameters: dict[str, str]


@dataclass(frozen=True)
class Transition:
    """The new state and the decisions that explain it. When `start` is set, `started` is the
    decision to record once StartPipelineExecution answered (with the execution ARN)."""

    state: GateState
    decisions: tuple[TriggerDecision, ...]
    start: StartRequest | None = None
    started: TriggerDecision | None = None


@dataclass(frozen=True)
class TriggerPolicy:
    cooldown: timedelta
    max_staleness: timedelta | None = None
    retry_failed_runs: bool = True

    @classmethod
    def from_settings(
        cls, *, cooldown_hours: float, max_staleness_days: float | None, retry_failed_runs: bool = True
    ) -> TriggerPolicy:
        return cls(
            cooldown=timedelta(hours=cooldown_hours),
            max_staleness=None if max_staleness_days is None else timedelta(days=max_staleness_days),
            retry_failed_runs=retry_failed_runs,
        )


# --------------------------------------------------------------------------- pure decisions

UNCONFIRMED_START_RETRY = timedelta(minutes=10)
MIN_RETRY_DELAY = timedelta(hours=1)  # the first retry's delay when the cooldown is shorter
MAX_RETRY_DELAY = timedelta(days=7)
RETRIED_KINDS = (TriggerKind.alarm, TriggerKind.retry)  # a staleness or manual run is not retried


def retry_delay(policy: TriggerPolicy, failures: int) -> timedelta:
    """How long after its `failures`-th consecutive failure a run is retried: the cooldown (at
    least `MIN_RETRY_DELAY`), doubled for each failure before it, at most `MAX_RETRY_DELAY`."""
    doublings = min(max(failures - 1, 0), 16)  # 2**16 hours is past the cap already
    delay: timedelta = max(policy.cooldown, MIN_RETRY_DELAY) * 2**doublings
    return min(delay, MAX_RETRY_DELAY)


def client_request_token(pipeline: str, event_id: str) -> str:
    """StartPipelineExecution's idempotency token (32-128 characters): the same trigger always
    gives the same token, so a retried start returns the same execution instead of a second one."""
    return hashlib.sha256(f"{pipeline}\0{event_id}".encode()).hexdigest()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def start_request(pipeline: str, trigger: Trigger, covered: int = 1) -> StartRequest:
    token = client_request_token(pipeline, trigger.event_id)
    more = f" (and {covered - 1} earlier triggers)" if covered > 1 else ""
    return StartRequest(
        token=token,
        display_name=f"{trigger.kind.value.replace('_', '-')}-{token[:12]}",
        description=f"{trigger.kind.value}: {trigger.alarm}{more}: {trigger.detail}"[:MAX_DESCRIPTION_LENGTH],
        parameters=trigger.parameters(),
    )


def _decision(
    state: GateState, event_id: str, outcome: Outcome, reason: str, now: datetime, delivery_id: str, **extra: Any
) -> TriggerDecision:
    return TriggerDecision(state.pipeline, event_id, outcome, reason, iso(now), delivery_id, **extra)


def _cooldown_ends(state: GateState, policy: TriggerPolicy) -> datetime | None:
    if state.last_started_at is None:
        return None
    return parse_time(state.last_started_at) + policy.cooldown


def _adopt(state: GateState, observed_running: str | None, now: datetime) -> GateState:
    """Single flight against the truth: an execution the gate did not start (one started by hand)
    holds the gate like its own."""
    if state.running is not None or observed_running is None:
        return state
    return replace(state, running=Execution(token="external", started_at=iso(now), arn=observed_running))


def _start_pending(state: GateState, policy: TriggerPolicy, now: datetime, delivery_id: str) -> Transition | None:
    """One execution for every pending trigger, with the newest one's context, when nothing runs
    and the cooldown is over; None otherwise."""
    if not state.pending or state.running is not None:
        return None
    ends = _cooldown_ends(state, policy)
    if ends is not None and now < ends:
        return None
    newest = max(state.pending, key=lambda t: (t.data_window_end, t.event_id))
    covered = tuple(t.event_id for t in state.pending)
    request = start_request(state.pipeline, newest, len(covered))
    running = Execution(token=request.token, started_at=iso(now), trigger=newest, trigger_ids=covered)
    started = _decision(
        state,
        newest.event_id,
        Outcome.started,
        "nothing running and no cooldown" + (f"; covers {len(covered)} triggers" if len(covered) > 1 else ""),
        now,
        delivery_id,
        trigger=newest,
        covers=covered,
    )
    new_state = replace(state, running=running, last_started_at=iso(now), pending=(), retry=None)
    return Transition(new_state, (), request, started)


def on_trigger(
    state: GateState,
    trigger: Trigger,
    policy: TriggerPolicy,
    now: datetime,
    delivery_id: str = "",
    observed_running: str | None = None,
) -> Transition:
    state = _adopt(state, observed_running, now)
    queued = replace(state, pending=(*state.pending, trigger))
    started = _start_pending(queued, policy, now, delivery_id)
    if started is not None:
        return started
    if state.running is not None:
        running = state.running.arn or f"token {state.running.token[:12]}"
        outcome, reason = Outcome.deferred, f"execution {running} is running; starts when it ends"
    else:
        ends = _cooldown_ends(state, policy)
        assert ends is not None  # neither started nor running: only the cooldown holds it
        outcome, reason = Outcome.cooldown, f"cooldown until {iso(ends)} (last start {state.last_started_at})"
    return Transition(queued, (_decision(state, trigger.event_id, outcome, reason, now, delivery_id, trigger=trigger),))


def on_execution_ended(
    state: GateState,
    ended: ExecutionEnded,
    policy: TriggerPolicy,
    now: datetime,
    delivery_id: str = "",
    observed_running: str | None = None,
) -> Transition:
    running = state.running
    missed = state.missed_end
    if missed is not None and missed.arn == ended.execution_arn:
        # The sweep released it before this end event came: its outcome still counts.
        late, reason = _after_run(replace(state, missed_end=None), missed, ended.status, policy, now)
        late_reason = f"late end event; {reason}"
        decision = _decision(
            state, ended.event_id, Outcome.released, late_reason, now, delivery_id, execution_arn=ended.execution_arn
        )
        return Transition(late, (decision,))
    if running is None or (running.arn is not None and running.arn != ended.execution_arn):
        reason = f"execution {ended.execution_arn} ({ended.status}) is not the one the gate waits for"
        decision = _decision(
            state, ended.event_id, Outcome.idle, reason, now, delivery_id, execution_arn=ended.execution_arn
        )
        return Transition(state, (decision,))
    released, reason = _after_run(replace(state, running=None), running, ended.status, policy, now)
    decision = _decision(
        state, ended.event_id, Outcome.released, reason, now, delivery_id, execution_arn=ended.execution_arn
    )
    # The ended execution may still be listed as running for a moment: it holds nothing.
    still_running = None if observed_running == ended.execution_arn else observed_running
    started = _start_pending(_adopt(released, still_running, now), policy, now, delivery_id)
    if started is None:
        return Transition(_adopt(released, still_running, now), (decision,))
    return Transition(started.state, (decision,), started.start, started.started)


def _after_run(
    state: GateState, ended: Execution, status: str, policy: TriggerPolicy, now: datetime
) -> tuple[GateState, str]:
    """The gate once `ended` finished with `status`, and the reason to record: a success ends the
    chain of failures; a failed alarm-started run (or retry) is scheduled for a retry. A stopped
    run was stopped on purpose, and a staleness, manual or external run belongs to no chain:
    neither is retried, nor is anything with `retry_failed_runs` off."""
    reason = f"execution ended: {status}"
    if status == "Succeeded":
        return replace(state, failed_runs=0, retry=None), reason
    trigger = ended.trigger
    if status != "Failed" or trigger is None or trigger.kind not in RETRIED_KINDS:
        return state, reason
    failures = state.failed_runs + 1 if trigger.kind is TriggerKind.retry else 1
    if not policy.retry_failed_runs:
        return replace(state, failed_runs=failures), reason
    due = iso(now + retry_delay(policy, failures))
    retry = Retry(trigger=trigger, due=due)
    return replace(state, failed_runs=failures, retry=retry), (
        f"{reason}; failure {failures} in a row: retried at {due} if {trigger.alarm} is still in ALARM"
    )


def _due_retry(
    state: GateState, sweep: Sweep, policy: TriggerPolicy, now: datetime, delivery_id: str, alarm_state: str | None
) -> tuple[GateState, Trigger | TriggerDecision] | None:
    """A due retry, when nothing else runs or waits: the trigger that starts it (its alarm is in
    ALARM, or its state could not be read), or the decision that drops it (the alarm left ALARM:
    the data no longer says retrain; or retries were turned off since). None when none is due."""
    retry = state.retry
    if retry is None or now < parse_time(retry.due) or state.running is not None or state.pending:
        return None
    original = retry.trigger
    if not policy.retry_failed_runs or (alarm_state is not None and alarm_state != "ALARM"):
        why = f"{original.alarm} is {alarm_state} now" if policy.retry_failed_runs else "retries are off"
        reason = f"retry after failure {state.failed_runs} dropped: {why}"
        state = replace(state, retry=None, failed_runs=0)
        return state, _decision(state, sweep.event_id, Outcome.dropped, reason, now, delivery_id, trigger=original)
    state = replace(state, retry=None)
    known = "is still in ALARM" if alarm_state else "state could not be read"
    return state, Trigger(
        event_id=f"{sweep.event_id}#retry",
        kind=TriggerKind.retry,
        alarm=original.alarm,
        metric_value=original.metric_value,
        data_window_end=iso(now),
        detail=f"retry after {state.failed_runs} failed run(s) in a row; {original.alarm} {known}",
    )


def on_sweep(
    state: GateState,
    sweep: Sweep,
    policy: TriggerPolicy,
    now: datetime,
    delivery_id: str = "",
    observed_running: str | None = None,
    retry_alarm_state: str | None = None,
) -> Transition:
    """`retry_alarm_state`: the state of the alarm of a due retry (None: unknown)."""
    decisions: list[TriggerDecision] = []
    running = state.running
    if running is not None and running.arn is None and now - parse_time(running.started_at) >= UNCONFIRMED_START_RETRY:
        # A start whose answer was never recorded (the function stopped after calling it): start
        # again with the same token; SageMaker answers with the execution it may already have.
        assert running.trigger is not None
        request = start_request(state.pipeline, running.trigger, len(running.trigger_ids))
        reason = "retrying an unconfirmed start with the same token"
        retried = _decision(
            state,
            running.trigger.event_id,
            Outcome.started,
            reason,
            now,
            delivery_id,
            trigger=running.trigger,
            covers=running.trigger_ids,
        )
        return Transition(state, (), request, retried)
    if running is not None and running.arn is not None and observed_running is None:
        # Its end event was lost: nothing runs any more.
        reason = "no execution is running any more (end event missed)"
        decisions.append(
            _decision(state, sweep.event_id, Outcome.released, reason, now, delivery_id, execution_arn=running.arn)
        )
        state = replace(state, running=None, missed_end=running)
    state = _adopt(state, observed_running, now)
    started = _start_pending(state, policy, now, delivery_id)
    if started is not None:
        return Transition(started.state, tuple(decisions), started.start, started.started)
    due = _due_retry(state, sweep, policy, now, delivery_id, retry_alarm_state)
    if due is not None:
        state, outcome = due
        if isinstance(outcome, TriggerDecision):
            decisions.append(outcome)
        else:
            triggered = on_trigger(state, outcome, policy, now, delivery_id)
            return replace(triggered, decisions=(*decisions, *triggered.decisions))
    if policy.max_staleness is not None and state.running is None and not state.pending:
        last = None if state.last_started_at is None else parse_time(state.last_started_at)
        if last is None or now - last >= policy.max_staleness:
            trigger = Trigger(
                event_id=sweep.event_id,
                kind=TriggerKind.max_staleness,
                alarm=NONE,
                metric_value=NONE,
                data_window_end=iso(now),
                detail=f"no start since {state.last_started_at or 'the gate was created'}; "
                f"max staleness {policy.max_staleness}",
            )
            triggered = on_trigger(state, trigger, policy, now, delivery_id)
            return replace(triggered, decisions=(*decisions, *triggered.decisions))
        reason = f"last start {state.last_started_at} is within the max staleness {policy.max_staleness}"
        decisions.append(_decision(state, sweep.event_id, Outcome.fresh, reason, now, delivery_id))
        return Transition(state, tuple(decisions))
    if not decisions:
        reason = f"{len(state.pending)} pending; running: {state.running.arn if state.running else 'none'}"
        decisions.append(_decision(state, sweep.event_id, Outcome.idle, reason, now, delivery_id))
    return Transition(state, tuple(decisions))


def after_start(state: GateState, token: str, arn: str) -> GateState:
    if state.running is None or state.running.token != token:
        return state
    return replace(state, running=replace(state.running, arn=arn))


def after_start_failed(state: GateState, token: str) -> GateState:
    """The start call failed: its triggers go back to pending (the sweep retries them, with the
    same token) and the failed start does not count for the cooldown."""
    running = state.running
    if running is None or running.token != token or running.trigger is None:
        return state
    back = (running.trigger,) if running.trigger.event_id not in {t.event_id for t in state.pending} else ()
    return replace(state, running=None, last_started_at=None, pending=(*state.pending, *back))


# --------------------------------------------------------------------------- ports and the gate


class TriggerStore(Protocol):
    """Gate state, seen event ids and the audit trail of one or more pipelines."""

    def load(self, pipeline: str) -> GateState: ...

    def seen(self, pipeline: str, event_id: str) -> bool: ...

    def commit(
        self,
        state: GateState,
        *,
        expected_version: int,
        decisions: Sequence[TriggerDecision],
        event_id: str | None,
    ) -> GateState:
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
class TriggerGate:
    """Applies the decisions to a store and a runner. Safe under concurrent invocations: every
    state change is a conditional write on the state's version, retried on conflict."""

    pipeline: str
    store: TriggerStore
    runner: PipelineRunner
    policy: TriggerPolicy
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    max_attempts: int = 8
    alarms: AlarmStates | None = None  # read when a retry is due; None: retried without checking

    def handle(self, event: GateEvent, delivery_id: str = "") -> list[TriggerDecision]:
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
        state: GateState,
        event: GateEvent,
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

    def _retry_alarm_state(self, state: GateState, event: GateEvent, now: datetime) -> str | None:
        retry = state.retry
        if not isinstance(event, Sweep) or retry is None or self.alarms is None or now < parse_time(retry.due):
            return None
        return self.alarms.state(retry.trigger.alarm)

    def _duplicate(self, event: GateEvent, delivery_id: str) -> TriggerDecision:
        reason = "event id already decided on (EventBridge delivers at least once)"
        duplicate = TriggerDecision(
            self.pipeline, event.event_id, Outcome.duplicate, reason, iso(self.clock()), delivery_id
        )
        self.store.record(duplicate)
        return duplicate

    def _start(self, stored: GateState, transition: Transition) -> list[TriggerDecision]:
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

    def _follow_up(self, state: GateState, change: Callable[[GateState], GateState], decision: TriggerDecision) -> None:
        for _ in range(self.max_attempts):
            try:
                self.store.commit(change(state), expected_version=state.version, decisions=[decision], event_id=None)
                return
            except StateConflict:
                state = self.store.load(self.pipeline)
        raise StateConflict(f"{self.pipeline}: could not record the outcome of the start")


def decisions_json(decisions: Sequence[TriggerDecision]) -> str:
    return json.dumps([d.to_json() for d in decisions], sort_keys=True)
