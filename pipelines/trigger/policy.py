"""The retrain trigger's pure decisions: what a trigger, an ended execution or a sweep does to
the state, and the decisions that say so. No I/O: `gate` applies them."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.trigger.model import (
    MAX_DESCRIPTION_LENGTH,
    NONE,
    Execution,
    ExecutionEnded,
    Outcome,
    Retry,
    StartRequest,
    Sweep,
    Transition,
    Trigger,
    TriggerDecision,
    TriggerKind,
    TriggerPolicy,
    TriggerState,
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
    """ISO 8601, with Z or an offset (Python 3.11+ reads both); a time without one is UTC."""
    moment = datetime.fromisoformat(value)
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
    state: TriggerState, event_id: str, outcome: Outcome, reason: str, now: datetime, delivery_id: str, **extra: Any
) -> TriggerDecision:
    return TriggerDecision(state.pipeline, event_id, outcome, reason, iso(now), delivery_id, **extra)


def _named(execution: Execution) -> str:
    """An execution in a reason: its ARN, or its token while the start is unconfirmed."""
    return execution.arn or f"token {execution.token[:12]}"


def _cooldown_ends(state: TriggerState, policy: TriggerPolicy) -> datetime | None:
    if state.last_started_at is None:
        return None
    return parse_time(state.last_started_at) + policy.cooldown


def _adopt(state: TriggerState, observed_running: str | None, now: datetime) -> TriggerState:
    """Single flight against the truth: an execution the gate did not start (one started by hand)
    holds the gate like its own."""
    if state.running is not None or observed_running is None:
        return state
    return replace(state, running=Execution(token="external", started_at=iso(now), arn=observed_running))


def _start_pending(state: TriggerState, policy: TriggerPolicy, now: datetime, delivery_id: str) -> Transition | None:
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
    new_state = replace(
        state,
        running=running,
        last_started_at=iso(now),
        last_data_window_end=newest.data_window_end if newest.kind is TriggerKind.alarm else None,
        last_alarms=_alarms(state.pending) if newest.kind is TriggerKind.alarm else (),
        pending=(),
        retry=None,
    )
    return Transition(new_state, (), request, started)


def _alarms(triggers: tuple[Trigger, ...]) -> tuple[str, ...]:
    return tuple(sorted({t.alarm for t in triggers if t.kind is TriggerKind.alarm}))


def _on_last_datapoint(state: TriggerState, trigger: Trigger, policy: TriggerPolicy) -> bool:
    """Whether `trigger` is another monitor alarm on the datapoint an alarm started the last
    execution on, so that execution trains on its data: its state changed at most
    `policy.same_datapoint` after (or before) that execution's DataWindowEnd. Never an alarm that
    execution already answers (one back in ALARM is a re-arm: the drift outlived its run), a
    team's external alarm (another metric, another period), or after a run that a staleness, a
    retry or a person started (its DataWindowEnd is the clock's, not a datapoint's), or one that did
    not succeed (`last_data_window_end` is cleared: nothing covers)."""
    last = state.last_data_window_end
    if (
        trigger.kind is not TriggerKind.alarm
        or last is None
        or trigger.alarm in state.last_alarms
        or trigger.alarm in policy.external_alarms
    ):
        return False
    after = parse_time(trigger.data_window_end) - parse_time(last)
    return after <= policy.same_datapoint


def _covered_reason(state: TriggerState, trigger: Trigger, policy: TriggerPolicy, who: str) -> str:
    within = f" (within {policy.same_datapoint} of it)" if policy.same_datapoint else ""
    return (
        f"covered by {who}, started on the data up to {state.last_data_window_end}: {trigger.alarm} changed state "
        f"on the same monitor datapoint{within}"
    )


def _drop_covered(
    state: TriggerState, policy: TriggerPolicy, now: datetime, delivery_id: str, ended: Execution
) -> tuple[TriggerState, tuple[TriggerDecision, ...]]:
    """After a success: the pending alarms on its datapoint are answered by it, not run again."""
    covered = [t for t in state.pending if _on_last_datapoint(state, t, policy)]
    if not covered:
        return state, ()
    who = f"execution {_named(ended)}, which succeeded"
    decisions = tuple(
        _decision(
            state, t.event_id, Outcome.covered, _covered_reason(state, t, policy, who), now, delivery_id, trigger=t
        )
        for t in covered
    )
    answered = tuple(sorted({*state.last_alarms, *(t.alarm for t in covered)}))
    return replace(state, pending=tuple(t for t in state.pending if t not in covered), last_alarms=answered), decisions


def on_trigger(
    state: TriggerState,
    trigger: Trigger,
    policy: TriggerPolicy,
    now: datetime,
    delivery_id: str = "",
    observed_running: str | None = None,
) -> Transition:
    state = _adopt(state, observed_running, now)
    same_datapoint = _on_last_datapoint(state, trigger, policy)
    if same_datapoint and state.running is None:  # the last execution succeeded on this datapoint
        reason = _covered_reason(state, trigger, policy, "the last execution, which succeeded")
        state = replace(state, last_alarms=tuple(sorted({*state.last_alarms, trigger.alarm})))
        return Transition(
            state, (_decision(state, trigger.event_id, Outcome.covered, reason, now, delivery_id, trigger=trigger),)
        )
    queued = replace(state, pending=(*state.pending, trigger))
    started = _start_pending(queued, policy, now, delivery_id)
    if started is not None:
        return started
    if state.running is not None and same_datapoint:
        outcome, reason = (
            Outcome.deferred,
            (
                f"execution {_named(state.running)} is running on this alarm's datapoint: it covers this alarm if it "
                "succeeds; otherwise this starts when it ends"
            ),
        )
    elif state.running is not None:
        outcome, reason = Outcome.deferred, f"execution {_named(state.running)} is running; starts when it ends"
    else:
        ends = _cooldown_ends(state, policy)
        assert ends is not None  # neither started nor running: only the cooldown holds it
        outcome, reason = Outcome.cooldown, f"cooldown until {iso(ends)} (last start {state.last_started_at})"
    return Transition(queued, (_decision(state, trigger.event_id, outcome, reason, now, delivery_id, trigger=trigger),))


def on_execution_ended(
    state: TriggerState,
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
    released, covered = _drop_covered(released, policy, now, delivery_id, running)
    # The ended execution may still be listed as running for a moment: it holds nothing.
    still_running = None if observed_running == ended.execution_arn else observed_running
    started = _start_pending(_adopt(released, still_running, now), policy, now, delivery_id)
    if started is None:
        return Transition(_adopt(released, still_running, now), (decision, *covered))
    return Transition(started.state, (decision, *covered), started.start, started.started)


def _after_run(
    state: TriggerState, ended: Execution, status: str, policy: TriggerPolicy, now: datetime
) -> tuple[TriggerState, str]:
    """The gate once `ended` finished with `status`, and the reason to record: a success ends the
    chain of failures; a failed alarm-started run (or retry) is scheduled for a retry. A stopped
    run was stopped on purpose, and a staleness, manual or external run belongs to no chain:
    neither is retried, nor is anything with `retry_failed_runs` off."""
    reason = f"execution ended: {status}"
    if status == "Succeeded":
        return replace(state, failed_runs=0, retry=None), reason
    state = replace(state, last_data_window_end=None, last_alarms=())  # a run that did not succeed answers nothing
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
    state: TriggerState, sweep: Sweep, policy: TriggerPolicy, now: datetime, delivery_id: str, alarm_state: str | None
) -> tuple[TriggerState, Trigger | TriggerDecision] | None:
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
    state: TriggerState,
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
        # its outcome is unknown until the late end event: it covers no datapoint meanwhile
        state = replace(state, running=None, missed_end=running, last_data_window_end=None, last_alarms=())
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
        reason = f"{len(state.pending)} pending; running: {_named(state.running) if state.running else 'none'}"
        decisions.append(_decision(state, sweep.event_id, Outcome.idle, reason, now, delivery_id))
    return Transition(state, tuple(decisions))


def after_start(state: TriggerState, token: str, arn: str) -> TriggerState:
    if state.running is None or state.running.token != token:
        return state
    return replace(state, running=replace(state.running, arn=arn))


def after_start_failed(state: TriggerState, token: str) -> TriggerState:
    """The start call failed: its triggers go back to pending (the sweep retries them, with the
    same token) and the failed start does not count for the cooldown."""
    running = state.running
    if running is None or running.token != token or running.trigger is None:
        return state
    back = (running.trigger,) if running.trigger.event_id not in {t.event_id for t in state.pending} else ()
    return replace(
        state,
        running=None,
        last_started_at=None,
        last_data_window_end=None,
        last_alarms=(),
        pending=(*state.pending, *back),
    )
