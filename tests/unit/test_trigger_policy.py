"""The trigger's pure decisions, transition by transition: each test states the whole expected
`Transition` (state, audit records with their reasons, start request) worked out from the
policy's rules, so a change to any field of any decision fails a test. Boundaries are tested at,
one second before and after each limit (cooldown, max staleness, retry due, unconfirmed start)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipelines.config import ModelConfig, config_to_json
from pipelines.naming import DATA_WINDOW_END, TRIGGER_ALARM, TRIGGER_METRIC_VALUE, TRIGGER_REASON
from pipelines.trigger.model import (
    MAX_DESCRIPTION_LENGTH,
    SAME_DATAPOINT,
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
from pipelines.trigger.policy import (
    MAX_RETRY_DELAY,
    UNCONFIRMED_START_RETRY,
    after_start,
    after_start_failed,
    client_request_token,
    iso,
    on_execution_ended,
    on_sweep,
    on_trigger,
    parse_time,
    retry_delay,
    start_request,
)

PIPELINE = "fraud-retraining"
ALARM = "fraud-drift"
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
POLICY = TriggerPolicy(cooldown=timedelta(hours=24), same_datapoint=SAME_DATAPOINT, external_alarms=frozenset({"kpi"}))
RUN = "arn:aws:sagemaker:us-east-1:111122223333:pipeline/fraud-retraining/execution/run1"
OTHER = "arn:aws:sagemaker:us-east-1:111122223333:pipeline/fraud-retraining/execution/by-hand"


def at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def alarm_trigger(event_id: str, window_end: datetime = T0, kind: TriggerKind = TriggerKind.alarm) -> Trigger:
    return Trigger(event_id, kind, ALARM, "0.31", at(window_end), f"drift seen by {event_id}")


def token(event_id: str) -> str:
    """The documented token: sha256 of pipeline and event id; the same trigger, the same token."""
    return hashlib.sha256(f"{PIPELINE}\0{event_id}".encode()).hexdigest()


def running(trigger: Trigger, started: datetime = T0, arn: str | None = RUN, covers: int = 1) -> Execution:
    ids = tuple(f"{trigger.event_id}" if i == 0 else f"earlier-{i}" for i in range(covers))[::-1]
    return Execution(token(trigger.event_id), at(started), arn, trigger, ids)


def decision(event_id: str, outcome: Outcome, reason: str, now: datetime, **extra: object) -> TriggerDecision:
    return TriggerDecision(PIPELINE, event_id, outcome, reason, at(now), "delivery-1", **extra)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- small functions


def test_the_idempotency_token_is_the_sha256_of_pipeline_and_event_id() -> None:
    assert client_request_token(PIPELINE, "evt-1") == token("evt-1")
    assert len(token("evt-1")) == 64  # StartPipelineExecution: ClientRequestToken is 32-128 characters
    assert client_request_token(PIPELINE, "evt-1") != client_request_token("other", "evt-1")


def test_times_are_written_in_utc_whatever_the_machines_timezone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert iso(datetime(2026, 11, 20, 12, 30, 5, tzinfo=UTC)) == "2026-11-20T12:30:05Z"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_times_are_written_in_utc_with_z_and_read_back_naive_or_offset() -> None:
    assert iso(datetime(2026, 11, 20, 13, 30, 5, tzinfo=timezone(timedelta(hours=1)))) == "2026-11-20T12:30:05Z"
    assert parse_time("2026-11-20T12:30:05Z") == datetime(2026, 11, 20, 12, 30, 5, tzinfo=UTC)
    assert parse_time("2026-11-20T12:30:05") == datetime(2026, 11, 20, 12, 30, 5, tzinfo=UTC)
    assert parse_time("2026-11-20T13:30:05+01:00") == datetime(2026, 11, 20, 12, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cooldown_hours", "failures", "hours"),
    [(24, 0, 24), (24, 1, 24), (24, 2, 48), (24, 3, 96), (24, 4, 168), (0.5, 1, 1), (0.5, 2, 2), (2, 1, 2)],
)
def test_retry_delay_backs_off_from_the_cooldown_or_an_hour(cooldown_hours: float, failures: int, hours: int) -> None:
    policy = TriggerPolicy.from_settings(cooldown_hours=cooldown_hours, max_staleness_days=None)
    assert retry_delay(policy, failures) == timedelta(hours=hours)


def test_retry_delay_stops_at_a_week_for_any_number_of_failures() -> None:
    policy = TriggerPolicy(cooldown=timedelta(minutes=1))
    assert [retry_delay(policy, n) for n in (9, 10, 17, 18, 10**6)] == [MAX_RETRY_DELAY] * 5
    assert retry_delay(policy, 8) == timedelta(hours=128)  # an hour doubled 7 times: under a week


def test_the_start_request_names_the_kind_the_token_and_the_triggers_it_covers() -> None:
    staleness = alarm_trigger("sweep-9", kind=TriggerKind.max_staleness)
    one = start_request(PIPELINE, staleness)
    assert one == StartRequest(
        token=token("sweep-9"),
        display_name=f"max-staleness-{token('sweep-9')[:12]}",
        description=f"max_staleness: {ALARM}: drift seen by sweep-9",
        parameters={
            TRIGGER_REASON: "max_staleness",
            TRIGGER_ALARM: ALARM,
            TRIGGER_METRIC_VALUE: "0.31",
            DATA_WINDOW_END: at(T0),
        },
    )
    three = start_request(PIPELINE, alarm_trigger("evt-3"), covered=3)
    assert three.description == f"alarm: {ALARM} (and 2 earlier triggers): drift seen by evt-3"
    assert start_request(PIPELINE, alarm_trigger("evt-3"), covered=2).description.startswith(
        f"alarm: {ALARM} (and 1 earlier triggers): "
    )


def test_a_long_alarm_reason_is_cut_to_the_description_limit() -> None:
    long = replace(alarm_trigger("evt-1"), detail="x" * 5000)
    description = start_request(PIPELINE, long).description
    assert len(description) == MAX_DESCRIPTION_LENGTH
    assert description == (f"alarm: {ALARM}: " + "x" * 5000)[:MAX_DESCRIPTION_LENGTH]


# --------------------------------------------------------------------------- on_trigger


def started_transition(
    state: TriggerState, newest: Trigger, now: datetime, covers: tuple[str, ...], reason: str
) -> Transition:
    """What starting `newest` for the triggers `covers` looks like, from the rules."""
    request = start_request(PIPELINE, newest, len(covers))
    execution = Execution(token(newest.event_id), at(now), None, newest, covers)
    return Transition(
        replace(
            state,
            running=execution,
            last_started_at=at(now),
            last_data_window_end=newest.data_window_end if newest.kind is TriggerKind.alarm else None,
            last_alarms=tuple(sorted({t.alarm for t in (*state.pending, newest) if t.kind is TriggerKind.alarm}))
            if newest.kind is TriggerKind.alarm
            else (),
            pending=(),
            retry=None,
        ),
        (),
        request,
        decision(newest.event_id, Outcome.started, reason, now, trigger=newest, covers=covers),
    )


def test_a_first_trigger_starts_at_once() -> None:
    trigger = alarm_trigger("evt-1")
    got = on_trigger(TriggerState(PIPELINE), trigger, POLICY, T0, "delivery-1")
    assert got == started_transition(TriggerState(PIPELINE), trigger, T0, ("evt-1",), "nothing running and no cooldown")


def test_a_decision_without_a_delivery_id_records_an_empty_one() -> None:
    got = on_trigger(TriggerState(PIPELINE), alarm_trigger("evt-1"), POLICY, T0)
    assert got.started is not None and got.started.delivery_id == ""


@pytest.mark.parametrize(("offset", "starts"), [(-SECOND, False), (timedelta(0), True), (SECOND, True)])
def test_the_cooldown_holds_a_trigger_until_exactly_its_end(offset: timedelta, starts: bool) -> None:
    last = T0 - POLICY.cooldown
    state = TriggerState(PIPELINE, last_started_at=at(last))
    now = T0 + offset
    trigger = alarm_trigger("evt-2", now)
    got = on_trigger(state, trigger, POLICY, now, "delivery-1")
    if starts:
        assert got == started_transition(state, trigger, now, ("evt-2",), "nothing running and no cooldown")
    else:
        reason = f"cooldown until {at(T0)} (last start {at(last)})"
        queued = replace(state, pending=(trigger,))
        assert got == Transition(queued, (decision("evt-2", Outcome.cooldown, reason, now, trigger=trigger),))


@pytest.mark.parametrize(("arn", "named"), [(RUN, RUN), (None, f"token {token('evt-1')[:12]}")])
def test_a_trigger_while_a_run_is_going_waits_for_its_end(arn: str | None, named: str) -> None:
    state = TriggerState(PIPELINE, running=running(alarm_trigger("evt-1"), arn=arn), last_started_at=at(T0 - DAY * 2))
    trigger = alarm_trigger("evt-2", T0 + DAY)  # the next day's datapoint: data the run does not have
    got = on_trigger(state, trigger, POLICY, T0, "delivery-1")
    reason = f"execution {named} is running; starts when it ends"
    assert got == Transition(
        replace(state, pending=(trigger,)), (decision("evt-2", Outcome.deferred, reason, T0, trigger=trigger),)
    )


@pytest.mark.parametrize("later", [-timedelta(minutes=1), timedelta(0), timedelta(minutes=3), SAME_DATAPOINT])
def test_a_second_alarm_on_the_datapoint_of_a_run_that_succeeds_is_covered_by_it(later: timedelta) -> None:
    """A new user's realized-SLO and estimate alarms went to ALARM on the same monitor run: the
    first started a run, the second waited out the cooldown and started another on the same data,
    which replaced the first's candidate in shadow. Alarms on one datapoint change state minutes
    apart; the next datapoint comes a period (a day) later."""
    first = alarm_trigger("evt-1")
    state = TriggerState(
        PIPELINE,
        running=running(first),
        last_started_at=at(T0),
        last_data_window_end=first.data_window_end,
        last_alarms=(ALARM,),
    )
    second = replace(alarm_trigger("evt-2", T0 + later), alarm="fraud-estimated-performance")
    got = on_trigger(state, second, POLICY, T0 + later, "delivery-1")
    waiting = (
        f"execution {RUN} is running on this alarm's datapoint: it covers this alarm if it succeeds; otherwise "
        "this starts when it ends"
    )
    queued = replace(state, pending=(second,))
    assert got == Transition(queued, (decision("evt-2", Outcome.deferred, waiting, T0 + later, trigger=second),))

    now = T0 + DAY
    done = on_execution_ended(queued, ended("Succeeded"), POLICY, now, "delivery-1")
    reason = (
        f"covered by execution {RUN}, which succeeded, started on the data up to {at(T0)}: "
        "fraud-estimated-performance changed state on the same monitor datapoint (within 0:15:00 of it)"
    )
    released = decision("end-1", Outcome.released, "execution ended: Succeeded", now, execution_arn=RUN)
    covered = decision("evt-2", Outcome.covered, reason, now, trigger=second)
    answered = replace(state, running=None, last_alarms=("fraud-drift", "fraud-estimated-performance"))
    assert done == Transition(answered, (released, covered))


def test_a_second_alarm_on_the_datapoint_of_a_run_that_fails_starts_a_run_of_its_own() -> None:
    """Nothing is lost: the failed run answered neither alarm."""
    first = alarm_trigger("evt-1")
    second = replace(alarm_trigger("evt-2", T0 + timedelta(minutes=3)), alarm="fraud-performance-slo")
    state = TriggerState(
        PIPELINE, running=running(first), last_started_at=at(T0), last_data_window_end=first.data_window_end,
        pending=(second,),
    )  # fmt: skip
    done = on_execution_ended(state, ended("Failed"), POLICY, T0 + DAY, "delivery-1")
    assert done.started is not None and done.started.event_id == "evt-2"
    assert done.state.last_data_window_end == second.data_window_end
    later = on_trigger(replace(state, running=None, pending=(), last_data_window_end=None), second, POLICY, T0 + DAY)
    assert later.started is not None  # after a failure, an alarm on its datapoint is not covered


def test_an_alarm_on_the_datapoint_of_a_run_that_ended_is_covered_not_started_after_the_cooldown() -> None:
    first = alarm_trigger("evt-1")
    state = TriggerState(
        PIPELINE, last_started_at=at(T0), last_data_window_end=first.data_window_end, last_alarms=(ALARM,)
    )
    second = replace(alarm_trigger("evt-2", T0 + timedelta(minutes=2)), alarm="fraud-performance-slo")
    got = on_trigger(state, second, POLICY, T0 + timedelta(hours=2), "delivery-1")
    assert got.state == replace(state, last_alarms=(ALARM, "fraud-performance-slo")) and got.start is None
    assert [d.outcome for d in got.decisions] == [Outcome.covered]
    assert got.decisions[0].reason.startswith(
        f"covered by the last execution, which succeeded, started on the data up to {at(T0)}"
    )


@pytest.mark.parametrize("kind", [TriggerKind.manual, TriggerKind.max_staleness, TriggerKind.retry])
def test_only_an_alarm_is_covered_by_a_run_on_its_datapoint(kind: TriggerKind) -> None:
    state = TriggerState(PIPELINE, last_started_at=at(T0 - DAY * 2), last_data_window_end=at(T0))
    trigger = alarm_trigger("evt-2", T0, kind)
    got = on_trigger(state, trigger, POLICY, T0, "delivery-1")
    assert got.started is not None and got.started.event_id == "evt-2"


def test_without_a_datapoint_span_only_the_same_data_window_end_is_covered() -> None:
    """The backtest's windows are not alarm periods: there the data window end is the window's."""
    exact = TriggerPolicy(cooldown=timedelta(hours=24))
    state = TriggerState(PIPELINE, last_started_at=at(T0 - DAY * 2), last_data_window_end=at(T0))
    assert [d.outcome for d in on_trigger(state, alarm_trigger("evt-2", T0), exact, T0).decisions] == [Outcome.covered]
    assert on_trigger(state, alarm_trigger("evt-3", T0 + SECOND), exact, T0 + SECOND).started is not None


def test_a_run_started_by_hand_is_adopted_and_holds_the_trigger() -> None:
    trigger = alarm_trigger("evt-1")
    got = on_trigger(TriggerState(PIPELINE), trigger, POLICY, T0, "delivery-1", observed_running=OTHER)
    adopted = Execution(token="external", started_at=at(T0), arn=OTHER)
    reason = f"execution {OTHER} is running; starts when it ends"
    assert got == Transition(
        TriggerState(PIPELINE, running=adopted, pending=(trigger,)),
        (decision("evt-1", Outcome.deferred, reason, T0, trigger=trigger),),
    )


def test_a_run_the_gate_knows_is_not_replaced_by_the_observed_one() -> None:
    own = running(alarm_trigger("evt-1"))
    state = TriggerState(PIPELINE, running=own, last_started_at=at(T0))
    got = on_trigger(state, alarm_trigger("evt-2"), POLICY, T0 + SECOND, "delivery-1", observed_running=OTHER)
    assert got.state.running == own


def test_coalesced_triggers_start_one_run_with_the_newest_data_window_whatever_their_order() -> None:
    # pending in arrival order; the newest window is neither the first nor the last to arrive
    middle, newest, oldest = (alarm_trigger(f"evt-{h}", T0 + timedelta(hours=h)) for h in (2, 5, 1))
    state = TriggerState(PIPELINE, last_started_at=at(T0 - DAY), pending=(middle, newest))
    now = T0 + timedelta(hours=6)
    got = on_trigger(state, oldest, POLICY, now, "delivery-1")
    covers = ("evt-2", "evt-5", "evt-1")
    assert got == started_transition(state, newest, now, covers, "nothing running and no cooldown; covers 3 triggers")
    assert got.start is not None and got.start.parameters[DATA_WINDOW_END] == at(T0 + timedelta(hours=5))
    assert got.start.description.startswith(f"alarm: {ALARM} (and 2 earlier triggers)")


def test_coalesced_triggers_with_the_same_window_take_the_greatest_event_id() -> None:
    first, second = alarm_trigger("evt-b"), alarm_trigger("evt-a")
    state = TriggerState(PIPELINE, last_started_at=at(T0 - DAY * 2), pending=(first,))
    got = on_trigger(state, second, POLICY, T0, "delivery-1")
    assert got.started is not None and got.started.trigger == first and got.started.event_id == "evt-b"
    assert got.started.reason == "nothing running and no cooldown; covers 2 triggers"


def test_a_start_clears_a_scheduled_retry_a_new_alarm_replaces_it() -> None:
    retry = Retry(alarm_trigger("evt-1"), at(T0 + DAY))
    state = TriggerState(PIPELINE, last_started_at=at(T0 - DAY), retry=retry, failed_runs=1)
    got = on_trigger(state, alarm_trigger("evt-2"), POLICY, T0, "delivery-1")
    assert got.state.retry is None and got.state.failed_runs == 1  # the count goes on until a success


# --------------------------------------------------------------------------- on_execution_ended


def ended(status: str, arn: str = RUN) -> ExecutionEnded:
    return ExecutionEnded("end-1", arn, status)


def test_a_success_releases_the_gate_and_ends_the_chain_of_failures() -> None:
    own = running(alarm_trigger("evt-1"))
    state = TriggerState(PIPELINE, running=own, last_started_at=at(T0), failed_runs=2, retry=None)
    now = T0 + timedelta(hours=3)
    got = on_execution_ended(state, ended("Succeeded"), POLICY, now, "delivery-1")
    released = decision("end-1", Outcome.released, "execution ended: Succeeded", now, execution_arn=RUN)
    assert got == Transition(replace(state, running=None, failed_runs=0), (released,))


def test_a_successful_run_started_by_hand_ends_the_chain_and_its_retry() -> None:
    state = replace(
        TriggerState(PIPELINE, running=Execution("external", at(T0), OTHER), last_started_at=at(T0 - DAY)),
        retry=Retry(alarm_trigger("evt-1"), at(T0 + DAY)),
        failed_runs=2,
    )
    got = on_execution_ended(state, ended("Succeeded", OTHER), POLICY, T0)
    released = TriggerDecision(
        PIPELINE, "end-1", Outcome.released, "execution ended: Succeeded", at(T0), "", execution_arn=OTHER
    )
    assert got == Transition(TriggerState(PIPELINE, last_started_at=at(T0 - DAY)), (released,))


def test_an_unconfirmed_run_is_released_by_its_end_event() -> None:
    state = TriggerState(PIPELINE, running=running(alarm_trigger("evt-1"), arn=None), last_started_at=at(T0))
    got = on_execution_ended(state, ended("Succeeded"), POLICY, T0 + SECOND, "delivery-1")
    assert got.state.running is None and [d.outcome for d in got.decisions] == [Outcome.released]


def test_the_end_starts_the_pending_triggers_once_the_cooldown_is_over() -> None:
    pending = alarm_trigger("evt-2", T0 + timedelta(hours=1))
    state = TriggerState(PIPELINE, running=running(alarm_trigger("evt-1")), last_started_at=at(T0), pending=(pending,))
    now = T0 + POLICY.cooldown
    got = on_execution_ended(state, ended("Succeeded"), POLICY, now, "delivery-1")
    start = started_transition(
        replace(state, running=None), pending, now, ("evt-2",), "nothing running and no cooldown"
    )
    released = decision("end-1", Outcome.released, "execution ended: Succeeded", now, execution_arn=RUN)
    assert got == Transition(start.state, (released,), start.start, start.started)


def test_an_end_inside_the_cooldown_leaves_the_triggers_pending() -> None:
    pending = alarm_trigger("evt-2")
    state = TriggerState(PIPELINE, running=running(alarm_trigger("evt-1")), last_started_at=at(T0), pending=(pending,))
    now = T0 + POLICY.cooldown - SECOND
    got = on_execution_ended(state, ended("Succeeded"), POLICY, now, "delivery-1")
    assert got.start is None and got.state == replace(state, running=None)


@pytest.mark.parametrize(
    ("listed", "adopted"), [(RUN, None), (None, None), (OTHER, Execution("external", at(T0 + DAY * 2), OTHER))]
)
def test_after_an_end_only_another_listed_execution_holds_the_gate(
    listed: str | None, adopted: Execution | None
) -> None:
    """The ended execution may still be listed as running for a moment: it holds nothing."""
    pending = alarm_trigger("evt-2")
    state = TriggerState(PIPELINE, running=running(alarm_trigger("evt-1")), last_started_at=at(T0), pending=(pending,))
    now = T0 + DAY * 2
    got = on_execution_ended(state, ended("Succeeded"), POLICY, now, "delivery-1", observed_running=listed)
    if adopted is None:
        assert got.start is not None and got.state.running is not None and got.state.running.trigger == pending
    else:
        assert got.start is None and got.state == replace(state, running=adopted)


@pytest.mark.parametrize("known", [None, RUN], ids=["nothing-running", "another-running"])
def test_the_end_of_an_execution_the_gate_does_not_wait_for_changes_nothing(known: str | None) -> None:
    state = TriggerState(PIPELINE, last_started_at=at(T0))
    if known is not None:
        state = replace(state, running=running(alarm_trigger("evt-1"), arn=OTHER))
    got = on_execution_ended(state, ended("Failed", RUN), POLICY, T0 + SECOND, "delivery-1", observed_running=OTHER)
    reason = f"execution {RUN} (Failed) is not the one the gate waits for"
    assert got == Transition(state, (decision("end-1", Outcome.idle, reason, T0 + SECOND, execution_arn=RUN),))


@pytest.mark.parametrize(
    ("kind", "failed_before", "failures", "delay"),
    [
        (TriggerKind.alarm, 0, 1, timedelta(hours=24)),
        (TriggerKind.alarm, 3, 1, timedelta(hours=24)),  # a new alarm's run starts a new chain
        (TriggerKind.retry, 1, 2, timedelta(hours=48)),
        (TriggerKind.retry, 2, 3, timedelta(hours=96)),
    ],
)
def test_a_failed_alarm_or_retry_run_schedules_a_retry_after_the_back_off(
    kind: TriggerKind, failed_before: int, failures: int, delay: timedelta
) -> None:
    trigger = alarm_trigger("evt-1", kind=kind)
    state = TriggerState(PIPELINE, running=running(trigger), last_started_at=at(T0), failed_runs=failed_before)
    now = T0 + timedelta(hours=3)
    got = on_execution_ended(state, ended("Failed"), POLICY, now, "delivery-1")
    due = at(now + delay)
    reason = f"execution ended: Failed; failure {failures} in a row: retried at {due} if {ALARM} is still in ALARM"
    assert got == Transition(
        replace(state, running=None, failed_runs=failures, retry=Retry(trigger, due)),
        (decision("end-1", Outcome.released, reason, now, execution_arn=RUN),),
    )


def test_with_retries_off_a_failure_is_counted_but_not_retried() -> None:
    trigger = alarm_trigger("evt-1", kind=TriggerKind.retry)
    state = TriggerState(PIPELINE, running=running(trigger), last_started_at=at(T0), failed_runs=1)
    got = on_execution_ended(state, ended("Failed"), replace(POLICY, retry_failed_runs=False), T0, "delivery-1")
    released = decision("end-1", Outcome.released, "execution ended: Failed", T0, execution_arn=RUN)
    assert got == Transition(replace(state, running=None, failed_runs=2), (released,))


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (TriggerKind.alarm, "Stopped"),
        (TriggerKind.retry, "Stopped"),
        (TriggerKind.max_staleness, "Failed"),
        (TriggerKind.manual, "Failed"),
        (None, "Failed"),  # an execution started by hand
    ],
)
def test_a_stopped_run_or_one_outside_an_alarms_chain_is_not_retried(kind: TriggerKind | None, status: str) -> None:
    own = running(alarm_trigger("evt-1", kind=kind)) if kind else Execution("external", at(T0), RUN)
    state = TriggerState(PIPELINE, running=own, last_started_at=at(T0), failed_runs=1)
    got = on_execution_ended(state, ended(status), POLICY, T0, "delivery-1")
    released = decision("end-1", Outcome.released, f"execution ended: {status}", T0, execution_arn=RUN)
    assert got == Transition(replace(state, running=None), (released,))


def test_a_late_end_event_of_a_run_the_sweep_released_still_counts() -> None:
    trigger = alarm_trigger("evt-1")
    missed = running(trigger)
    pending = alarm_trigger("evt-2")
    state = TriggerState(PIPELINE, last_started_at=at(T0), missed_end=missed, pending=(pending,))
    now = T0 + timedelta(hours=5)
    got = on_execution_ended(state, ended("Failed"), POLICY, now, "delivery-1")
    due = at(now + POLICY.cooldown)
    reason = (
        f"late end event; execution ended: Failed; failure 1 in a row: retried at {due} if {ALARM} is still in ALARM"
    )
    assert got == Transition(
        replace(state, missed_end=None, failed_runs=1, retry=Retry(trigger, due)),
        (decision("end-1", Outcome.released, reason, now, execution_arn=RUN),),
    )


def test_an_end_event_of_another_execution_leaves_the_missed_one_waiting() -> None:
    state = TriggerState(PIPELINE, last_started_at=at(T0), missed_end=running(alarm_trigger("evt-1")))
    got = on_execution_ended(state, ended("Failed", OTHER), POLICY, T0, "delivery-1")
    assert got.state == state and [d.outcome for d in got.decisions] == [Outcome.idle]


# --------------------------------------------------------------------------- on_sweep


def sweep(now: datetime, event_id: str = "sweep-1") -> Sweep:
    return Sweep(event_id, at(now))


@pytest.mark.parametrize(
    ("age", "retried"), [(UNCONFIRMED_START_RETRY - SECOND, False), (UNCONFIRMED_START_RETRY, True)]
)
def test_a_start_never_confirmed_is_retried_with_the_same_token_after_ten_minutes(
    age: timedelta, retried: bool
) -> None:
    trigger = alarm_trigger("evt-3")
    own = running(trigger, arn=None, covers=3)
    state = TriggerState(PIPELINE, running=own, last_started_at=at(T0))
    now = T0 + age
    got = on_sweep(state, sweep(now), POLICY, now, "delivery-1", observed_running=None)
    if retried:
        reason = "retrying an unconfirmed start with the same token"
        again = decision("evt-3", Outcome.started, reason, now, trigger=trigger, covers=own.trigger_ids)
        assert got == Transition(state, (), start_request(PIPELINE, trigger, 3), again)
        assert got.start is not None and got.start.token == token("evt-3")
    else:
        idle = decision("sweep-1", Outcome.idle, f"0 pending; running: token {token('evt-3')[:12]}", now)
        assert got == Transition(state, (idle,))


def test_the_sweep_releases_a_run_whose_end_event_was_lost_and_starts_what_waits() -> None:
    own = running(alarm_trigger("evt-1"))
    pending = alarm_trigger("evt-2")  # on the run's datapoint: whether the run answered it is unknown
    state = TriggerState(PIPELINE, running=own, last_started_at=at(T0), last_data_window_end=at(T0), pending=(pending,))
    now = T0 + DAY
    got = on_sweep(state, sweep(now), POLICY, now, "delivery-1", observed_running=None)
    released = decision(
        "sweep-1", Outcome.released, "no execution is running any more (end event missed)", now, execution_arn=RUN
    )
    start = started_transition(
        replace(state, running=None, missed_end=own, last_data_window_end=None),
        pending,
        now,
        ("evt-2",),
        "nothing running and no cooldown",
    )
    assert got == Transition(start.state, (released,), start.start, start.started)


def test_the_sweep_keeps_a_run_that_is_still_listed() -> None:
    own = running(alarm_trigger("evt-1"))
    state = TriggerState(PIPELINE, running=own, last_started_at=at(T0))
    now = T0 + DAY * 400
    policy = replace(POLICY, max_staleness=DAY)
    got = on_sweep(state, sweep(now), policy, now, "delivery-1", observed_running=RUN)
    assert got == Transition(state, (decision("sweep-1", Outcome.idle, f"0 pending; running: {RUN}", now),))


def test_the_sweep_adopts_a_run_started_by_hand() -> None:
    state = TriggerState(PIPELINE, last_started_at=at(T0), pending=(alarm_trigger("evt-1"),))
    now = T0 + DAY
    got = on_sweep(state, sweep(now), POLICY, now, "delivery-1", observed_running=OTHER)
    adopted = Execution("external", at(now), OTHER)
    reason = f"1 pending; running: {OTHER}"
    assert got == Transition(replace(state, running=adopted), (decision("sweep-1", Outcome.idle, reason, now),))


def test_the_sweep_starts_pending_triggers_once_the_cooldown_is_over() -> None:
    pending = alarm_trigger("evt-1")
    state = TriggerState(PIPELINE, last_started_at=at(T0 - DAY), pending=(pending,))
    got = on_sweep(state, sweep(T0), POLICY, T0, "delivery-1")
    assert got == started_transition(state, pending, T0, ("evt-1",), "nothing running and no cooldown")
    held = on_sweep(state, sweep(T0 - SECOND), POLICY, T0 - SECOND, "delivery-1")
    assert held == Transition(state, (decision("sweep-1", Outcome.idle, "1 pending; running: none", T0 - SECOND),))


@pytest.mark.parametrize(("offset", "stale"), [(-SECOND, False), (timedelta(0), True), (SECOND, True)])
def test_the_sweep_starts_a_run_exactly_at_max_staleness(offset: timedelta, stale: bool) -> None:
    policy = TriggerPolicy(cooldown=timedelta(hours=24), max_staleness=timedelta(days=60))
    last = at(T0)
    state = TriggerState(PIPELINE, last_started_at=last)
    now = T0 + policy.max_staleness + offset  # type: ignore[operator]
    got = on_sweep(state, sweep(now), policy, now, "delivery-1")
    if stale:
        trigger = Trigger(
            "sweep-1",
            TriggerKind.max_staleness,
            "none",
            "none",
            at(now),
            f"no start since {last}; max staleness 60 days, 0:00:00",
        )
        assert got == started_transition(state, trigger, now, ("sweep-1",), "nothing running and no cooldown")
    else:
        reason = f"last start {last} is within the max staleness 60 days, 0:00:00"
        assert got == Transition(state, (decision("sweep-1", Outcome.fresh, reason, now),))


def test_a_gate_that_never_started_is_stale_at_its_first_sweep() -> None:
    policy = TriggerPolicy(cooldown=timedelta(hours=24), max_staleness=timedelta(days=60))
    got = on_sweep(TriggerState(PIPELINE), sweep(T0), policy, T0, "delivery-1")
    assert got.started is not None and got.started.trigger is not None
    assert got.started.trigger.detail == "no start since the gate was created; max staleness 60 days, 0:00:00"
    assert got.start is not None and got.start.parameters[TRIGGER_REASON] == "max_staleness"


def test_staleness_waits_while_triggers_are_pending() -> None:
    policy = TriggerPolicy(cooldown=timedelta(days=90), max_staleness=timedelta(days=60))
    state = TriggerState(PIPELINE, last_started_at=at(T0 - DAY * 80), pending=(alarm_trigger("evt-1"),))
    got = on_sweep(state, sweep(T0), policy, T0, "delivery-1")
    assert got == Transition(state, (decision("sweep-1", Outcome.idle, "1 pending; running: none", T0),))


def test_without_max_staleness_an_idle_sweep_records_idle() -> None:
    state = TriggerState(PIPELINE, last_started_at=at(T0 - DAY * 900))
    got = on_sweep(state, sweep(T0), POLICY, T0)
    idle = TriggerDecision(PIPELINE, "sweep-1", Outcome.idle, "0 pending; running: none", at(T0), "")
    assert got == Transition(state, (idle,))


# --------------------------------------------------------------------------- retries, on the sweep


def failed_chain(due: datetime, failures: int = 1, **changes: object) -> TriggerState:
    """A chain of `failures` failed runs whose retry is due at `due`; the last start two days before."""
    chain = TriggerState(
        PIPELINE, last_started_at=at(due - DAY * 2), retry=Retry(alarm_trigger("evt-1"), at(due)), failed_runs=failures
    )
    return replace(chain, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(("alarm_state", "known"), [("ALARM", "is still in ALARM"), (None, "state could not be read")])
def test_a_due_retry_starts_a_retry_run_on_the_data_up_to_now(alarm_state: str | None, known: str) -> None:
    state = failed_chain(T0, failures=2)
    got = on_sweep(state, sweep(T0), POLICY, T0, "delivery-1", retry_alarm_state=alarm_state)
    retry = Trigger(
        "sweep-1#retry",
        TriggerKind.retry,
        ALARM,
        "0.31",
        at(T0),
        f"retry after 2 failed run(s) in a row; {ALARM} {known}",
    )
    expected = started_transition(
        replace(state, retry=None), retry, T0, ("sweep-1#retry",), "nothing running and no cooldown"
    )
    assert got == expected
    assert got.state.failed_runs == 2  # the chain goes on until a success or a drop


def test_a_retry_one_second_before_it_is_due_waits() -> None:
    state = failed_chain(T0 + SECOND)
    got = on_sweep(state, sweep(T0), POLICY, T0, "delivery-1", retry_alarm_state="ALARM")
    assert got == Transition(state, (decision("sweep-1", Outcome.idle, "0 pending; running: none", T0),))


@pytest.mark.parametrize("hold", ["running", "pending"])
def test_a_due_retry_waits_for_what_runs_and_gives_way_to_what_is_pending(hold: str) -> None:
    if hold == "running":
        state = failed_chain(T0, running=Execution("external", at(T0), OTHER))
        got = on_sweep(state, sweep(T0), POLICY, T0, "delivery-1", observed_running=OTHER, retry_alarm_state="ALARM")
        assert got.start is None and got.state.retry == state.retry
    else:
        pending = alarm_trigger("evt-2")
        state = failed_chain(T0, pending=(pending,))
        got = on_sweep(state, sweep(T0), POLICY, T0, "delivery-1", retry_alarm_state="ALARM")
        assert got.started is not None and got.started.trigger == pending and got.state.retry is None


@pytest.mark.parametrize(
    ("alarm_state", "retries", "why"),
    [
        ("OK", True, f"{ALARM} is OK now"),
        ("INSUFFICIENT_DATA", True, f"{ALARM} is INSUFFICIENT_DATA now"),
        ("ALARM", False, "retries are off"),
        (None, False, "retries are off"),
    ],
)
def test_a_due_retry_is_dropped_when_its_alarm_left_alarm_or_retries_are_off(
    alarm_state: str | None, retries: bool, why: str
) -> None:
    state = failed_chain(T0, failures=3)
    policy = replace(POLICY, retry_failed_runs=retries)
    got = on_sweep(state, sweep(T0), policy, T0, "delivery-1", retry_alarm_state=alarm_state)
    dropped = decision(
        "sweep-1", Outcome.dropped, f"retry after failure 3 dropped: {why}", T0, trigger=alarm_trigger("evt-1")
    )
    assert got == Transition(replace(state, retry=None, failed_runs=0), (dropped,))


def test_a_dropped_retry_is_followed_by_the_staleness_check() -> None:
    policy = replace(POLICY, max_staleness=timedelta(days=1))
    state = failed_chain(T0)  # last start two days ago: stale
    got = on_sweep(state, sweep(T0), policy, T0, "delivery-1", retry_alarm_state="OK")
    assert [d.outcome for d in got.decisions] == [Outcome.dropped]
    assert got.started is not None and got.started.trigger is not None
    assert got.started.trigger.kind is TriggerKind.max_staleness
    fresh = on_sweep(
        replace(state, last_started_at=at(T0)), sweep(T0), policy, T0, "delivery-1", retry_alarm_state="OK"
    )
    assert [d.outcome for d in fresh.decisions] == [Outcome.dropped, Outcome.fresh] and fresh.start is None


def test_a_retry_due_when_a_lost_end_is_repaired_keeps_both_records() -> None:
    """A run started by hand held the due retry; its end event was lost: the sweep releases it
    and starts the retry, and both decisions are recorded."""
    state = failed_chain(T0, running=Execution("external", at(T0 - DAY), OTHER))
    got = on_sweep(state, sweep(T0), POLICY, T0, "delivery-1", observed_running=None, retry_alarm_state="ALARM")
    reason = "no execution is running any more (end event missed)"
    assert got.decisions == (decision("sweep-1", Outcome.released, reason, T0, execution_arn=OTHER),)
    assert got.started is not None and got.started.event_id == "sweep-1#retry"
    assert got.state.missed_end == state.running


def test_a_retry_held_by_the_cooldown_is_queued_with_its_reason() -> None:
    """The back-off is never shorter than the cooldown; a start by hand in between can still hold it."""
    state = failed_chain(T0, last_started_at=at(T0 - timedelta(hours=1)))
    got = on_sweep(state, sweep(T0), POLICY, T0, "delivery-1", retry_alarm_state="ALARM")
    assert got.start is None and [d.outcome for d in got.decisions] == [Outcome.cooldown]
    assert got.state.pending[0].event_id == "sweep-1#retry" and got.state.retry is None


# --------------------------------------------------------------------------- answers of the start call


def test_after_start_records_the_arn_of_its_own_start_only() -> None:
    own = running(alarm_trigger("evt-1"), arn=None)
    state = TriggerState(PIPELINE, running=own, last_started_at=at(T0))
    assert after_start(state, own.token, RUN) == replace(state, running=replace(own, arn=RUN))
    assert after_start(state, "another-token", RUN) == state
    assert after_start(TriggerState(PIPELINE), own.token, RUN) == TriggerState(PIPELINE)


def test_a_failed_start_puts_its_trigger_back_once_and_does_not_count_for_the_cooldown() -> None:
    trigger = alarm_trigger("evt-1")
    own = running(trigger, arn=None)
    state = TriggerState(
        PIPELINE, running=own, last_started_at=at(T0), last_data_window_end=at(T0), pending=(alarm_trigger("evt-2"),)
    )
    back = after_start_failed(state, own.token)  # a start that failed covers no datapoint either
    assert back == TriggerState(PIPELINE, pending=(alarm_trigger("evt-2"), trigger))
    already = replace(state, pending=(trigger,))
    assert after_start_failed(already, own.token) == TriggerState(PIPELINE, pending=(trigger,))
    assert after_start_failed(state, "another-token") == state
    assert after_start_failed(TriggerState(PIPELINE), own.token) == TriggerState(PIPELINE)
    external = TriggerState(PIPELINE, running=Execution(own.token, at(T0), None))
    assert after_start_failed(external, own.token) == external


def test_the_deployed_policy_takes_its_external_alarms_and_the_same_datapoint_span(config: ModelConfig) -> None:
    raw = json.loads(config_to_json(config))["trigger"] | {"external_alarms": ["team-kpi"]}
    policy = TriggerPolicy.from_config(raw)
    assert policy.same_datapoint == timedelta(minutes=15) and policy.external_alarms == frozenset({"team-kpi"})
    assert TriggerPolicy.from_settings(cooldown_hours=1, max_staleness_days=None).same_datapoint == timedelta(0)


@pytest.mark.parametrize(
    ("case", "state", "trigger"),
    [
        (
            "the starter back in ALARM after a re-arm",
            TriggerState(PIPELINE, last_started_at=at(T0 - DAY * 2), last_data_window_end=at(T0), last_alarms=(ALARM,)),
            alarm_trigger("evt-2", T0 + timedelta(minutes=5)),
        ),
        (
            "an alarm after a staleness run",
            TriggerState(PIPELINE, last_started_at=at(T0 - DAY * 2)),
            replace(alarm_trigger("evt-2", T0 + timedelta(minutes=5)), alarm="fraud-performance-slo"),
        ),
        (
            "a team's external alarm",
            TriggerState(PIPELINE, last_started_at=at(T0 - DAY * 2), last_data_window_end=at(T0), last_alarms=(ALARM,)),
            replace(alarm_trigger("evt-2", T0 + timedelta(minutes=5)), alarm="kpi"),
        ),
        (
            "the next datapoint's alarm",
            TriggerState(PIPELINE, last_started_at=at(T0 - DAY * 2), last_data_window_end=at(T0), last_alarms=(ALARM,)),
            replace(alarm_trigger("evt-2", T0 + SAME_DATAPOINT + SECOND), alarm="fraud-performance-slo"),
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_what_no_run_covers_starts_a_run(case: str, state: TriggerState, trigger: Trigger) -> None:
    """A reviewer's cases: an alarm re-armed after a shadow rejection came back within the old
    half-period span and was swallowed; so were an alarm after a staleness run (whose data window
    end is the clock's) and a team's KPI alarm."""
    got = on_trigger(state, trigger, POLICY, T0 + timedelta(minutes=6), "delivery-1")
    assert got.started is not None and got.started.event_id == "evt-2", case


def test_a_staleness_run_records_no_datapoint() -> None:
    trigger = alarm_trigger("sweep-1", T0, TriggerKind.max_staleness)
    got = on_trigger(TriggerState(PIPELINE), trigger, POLICY, T0)
    assert got.state.last_data_window_end is None and got.state.last_alarms == ()
