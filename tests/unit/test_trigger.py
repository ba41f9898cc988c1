"""Retrain trigger decisions, on the in-memory and SQLite stores with a fake runner (no AWS)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipelines.naming import DATA_WINDOW_END, TRIGGER_ALARM, TRIGGER_METRIC_VALUE, TRIGGER_REASON
from pipelines.trigger import (
    MAX_RETRY_DELAY,
    MalformedEvent,
    Outcome,
    RetrainTrigger,
    StartRequest,
    TriggerPolicy,
    TriggerState,
    TriggerStore,
    client_request_token,
    iso,
    retry_delay,
)
from pipelines.trigger.events import alarm_trigger, parse_gate_event
from pipelines.trigger.local import MemoryTriggerStore, SqliteTriggerStore
from tests.infra.sample_events import (
    alarm_state_change,
    documented,
    execution_status_change,
    scheduled_event,
)

PIPELINE = "fraud-detector-retraining"
ALARM = "fraud-detector-drift"
T0 = datetime(2026, 11, 20, 17, 5, tzinfo=UTC)


@dataclass
class FakeRunner:
    """Starts 'executions' and remembers every request; `fail` makes the next start raise."""

    requests: list[StartRequest] = field(default_factory=list)
    running: str | None = None
    fail: bool = False

    def start(self, request: StartRequest) -> str:
        if self.fail:
            self.fail = False
            raise RuntimeError("ThrottlingException: Rate exceeded")
        self.requests.append(request)
        return f"arn:aws:sagemaker:us-east-1:111122223333:pipeline/{PIPELINE}/execution/run{len(self.requests)}"

    def running_execution(self) -> str | None:
        return self.running


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TriggerStore:
    return MemoryTriggerStore() if request.param == "memory" else SqliteTriggerStore(tmp_path / "gate.sqlite")


GateFactory = Callable[..., tuple[RetrainTrigger, FakeRunner, Clock]]


@dataclass
class FakeAlarms:
    """Alarm states as CloudWatch would answer DescribeAlarms; remembers which alarms were read."""

    states: dict[str, str] = field(default_factory=dict)
    read: list[str] = field(default_factory=list)

    def state(self, alarm: str) -> str | None:
        self.read.append(alarm)
        return self.states.get(alarm)


@pytest.fixture
def make_gate(store: TriggerStore) -> GateFactory:
    def make(
        cooldown_hours: float = 24, max_staleness_days: float | None = None, alarms: FakeAlarms | None = None
    ) -> tuple[RetrainTrigger, FakeRunner, Clock]:
        runner, clock = FakeRunner(), Clock()
        policy = TriggerPolicy.from_settings(cooldown_hours=cooldown_hours, max_staleness_days=max_staleness_days)
        return RetrainTrigger(PIPELINE, store, runner, policy, clock=clock, alarms=alarms), runner, clock

    return make


def alarm(event_id: str, state: str = "ALARM", value: float = 0.31, at: datetime | None = None) -> dict[str, object]:
    """An alarm's state change; `at`: when the event is delivered (its state changed 20 s before,
    on the datapoint of that moment). Without it, the documented sample's time, 20 s before T0."""
    if at is None:
        return alarm_state_change(ALARM, state=state, event_id=event_id, value=value)
    changed = (at - timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return alarm_state_change(ALARM, state=state, event_id=event_id, value=value, timestamp=changed)


def ended(execution: str, event_id: str, status: str = "Succeeded") -> dict[str, object]:
    return execution_status_change(PIPELINE, execution, status=status, event_id=event_id)


def outcomes(store: TriggerStore) -> list[str]:
    return [d.outcome.value for d in store.decisions(PIPELINE)]


def test_an_alarm_starts_the_pipeline_with_its_context_as_parameters(make_gate: GateFactory) -> None:
    gate, runner, _ = make_gate()

    decisions = gate.handle(parse_gate_event(alarm("evt-1", value=0.31)), delivery_id="req-1")

    assert [d.outcome for d in decisions] == [Outcome.started]
    (request,) = runner.requests
    assert request.parameters == {
        TRIGGER_REASON: "alarm",
        TRIGGER_ALARM: ALARM,
        TRIGGER_METRIC_VALUE: "0.31",
        DATA_WINDOW_END: "2026-11-20T17:04:40Z",
    }
    assert request.token == client_request_token(PIPELINE, "evt-1")
    assert 32 <= len(request.token) <= 128
    assert decisions[0].execution_arn is not None and decisions[0].execution_arn.endswith("/execution/run1")


def test_fifty_duplicate_deliveries_start_exactly_one_execution(make_gate: GateFactory, store: TriggerStore) -> None:
    gate, runner, _ = make_gate()
    event = alarm("evt-dup")

    results = [gate.handle(parse_gate_event(event), delivery_id=f"req-{i}") for i in range(50)]

    assert len(runner.requests) == 1
    assert results[0][0].outcome is Outcome.started
    assert all(r[0].outcome is Outcome.duplicate for r in results[1:])
    assert outcomes(store).count("duplicate") == 49
    assert outcomes(store).count("started") == 1


def test_alarm_during_a_running_execution_is_deferred_then_started_when_it_ends(
    make_gate: GateFactory, store: TriggerStore
) -> None:
    gate, runner, clock = make_gate(cooldown_hours=1)
    gate.handle(parse_gate_event(alarm("evt-1")))
    clock.advance(hours=2)  # still running, and past the cooldown

    second = gate.handle(parse_gate_event(alarm("evt-2", value=0.5, at=clock.now)))
    assert [d.outcome for d in second] == [Outcome.deferred]
    assert len(runner.requests) == 1
    assert [t.event_id for t in store.load(PIPELINE).pending] == ["evt-2"]

    clock.advance(minutes=30)
    after_end = gate.handle(parse_gate_event(ended("run1", "end-1")))

    assert [d.outcome for d in after_end] == [Outcome.released, Outcome.started]
    assert len(runner.requests) == 2
    assert runner.requests[1].parameters[TRIGGER_METRIC_VALUE] == "0.5"
    assert runner.requests[1].token == client_request_token(PIPELINE, "evt-2")
    assert store.load(PIPELINE).pending == ()


def test_flapping_twenty_times_inside_the_cooldown_starts_one_execution(
    make_gate: GateFactory, store: TriggerStore
) -> None:
    gate, runner, clock = make_gate(cooldown_hours=24)
    for i in range(20):
        # The rule passes ALARM only; OK transitions never reach the gate. Each flap is a state
        # change of its own moment (the gate's policy here has no alarm period: it covers a flap on
        # the very data window end of the run only).
        gate.handle(parse_gate_event(alarm(f"flap-{i}", at=clock.now)))
        clock.advance(minutes=10)
        if i == 0:
            gate.handle(parse_gate_event(ended("run1", "end-1")))

    assert len(runner.requests) == 1
    assert outcomes(store).count("cooldown") == 19
    # Never dropped: they wait for the end of the cooldown, then start once, together.
    assert len(store.load(PIPELINE).pending) == 19
    clock.now = T0 + timedelta(hours=24, minutes=1)
    swept = gate.handle(parse_gate_event(scheduled_event("sweep", event_id="sweep-1", time="2026-11-21T17:06:00Z")))
    assert [d.outcome for d in swept] == [Outcome.started]
    assert len(swept[0].covers) == 19
    assert len(runner.requests) == 2


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e.pop("id"), "id"),
        (lambda e: e["detail"].pop("alarmName"), "detail.alarmName"),
        (lambda e: e["detail"]["state"].update(value="OK"), "detail.state.value"),
        (lambda e: e["detail"]["state"].update(timestamp="yesterday"), "detail.state.timestamp"),
        (
            lambda e: e["detail"]["state"].update(reasonData='{"recentDatapoints": ["n/a"]}'),
            "detail.state.reasonData",
        ),
        (lambda e: e.update({"detail-type": "EC2 Instance State-change Notification"}), "detail-type"),
    ],
)
def test_malformed_events_raise_a_clear_error_and_make_no_call(
    make_gate: GateFactory, store: TriggerStore, mutate: Callable[[dict[str, object]], object], field: str
) -> None:
    gate, runner, _ = make_gate()
    event = alarm("evt-bad")
    mutate(event)

    with pytest.raises(MalformedEvent) as raised:
        gate.handle(parse_gate_event(event))

    assert raised.value.field == field
    assert runner.requests == []
    assert store.decisions(PIPELINE) == []


def test_composite_alarm_event_is_a_trigger_without_metric_value() -> None:
    trigger = alarm_trigger(documented("alarm-state-change-composite"))
    assert trigger.event_id == "d3dfc86d-384d-24c8-0345-9f7986db0b80"
    assert trigger.alarm == "ServiceAggregatedAlarm"
    assert trigger.metric_value == "none"
    assert trigger.data_window_end == "2022-07-22T15:57:45Z"


def test_a_failed_start_keeps_the_trigger_and_the_sweep_retries_it_with_the_same_token(
    make_gate: GateFactory, store: TriggerStore
) -> None:
    gate, runner, clock = make_gate()
    runner.fail = True

    first = gate.handle(parse_gate_event(alarm("evt-1")))

    assert [d.outcome for d in first] == [Outcome.error]
    assert "ThrottlingException" in first[0].reason
    state = store.load(PIPELINE)
    assert state.running is None and state.last_started_at is None
    assert [t.event_id for t in state.pending] == ["evt-1"]

    clock.advance(minutes=60)
    gate.handle(parse_gate_event(scheduled_event("sweep", event_id="sweep-1", time="2026-11-20T18:05:00Z")))
    assert [r.token for r in runner.requests] == [client_request_token(PIPELINE, "evt-1")]


def test_an_execution_started_by_hand_holds_the_gate(make_gate: GateFactory, store: TriggerStore) -> None:
    gate, runner, _ = make_gate()
    runner.running = f"arn:aws:sagemaker:us-east-1:111122223333:pipeline/{PIPELINE}/execution/manual1"

    decisions = gate.handle(parse_gate_event(alarm("evt-1")))

    assert [d.outcome for d in decisions] == [Outcome.deferred]
    assert runner.requests == []
    runner.running = None
    after = gate.handle(parse_gate_event(ended("manual1", "end-manual")))
    assert [d.outcome for d in after] == [Outcome.released, Outcome.started]


def test_the_sweep_starts_a_run_when_the_model_is_stale(make_gate: GateFactory) -> None:
    gate, runner, clock = make_gate(cooldown_hours=24, max_staleness_days=60)
    sweep = scheduled_event("sweep", event_id="sweep-1", time="2026-11-20T17:05:00Z")

    first = gate.handle(parse_gate_event(sweep))
    assert [d.outcome for d in first] == [Outcome.started]
    assert runner.requests[0].parameters[TRIGGER_REASON] == "max_staleness"

    gate.handle(parse_gate_event(ended("run1", "end-1")))
    clock.advance(days=30)
    fresh = gate.handle(parse_gate_event(scheduled_event("sweep", event_id="sweep-2", time="2026-12-20T17:05:00Z")))
    assert [d.outcome for d in fresh] == [Outcome.fresh]
    assert len(runner.requests) == 1


def test_the_sweep_releases_an_execution_whose_end_event_was_lost(make_gate: GateFactory, store: TriggerStore) -> None:
    gate, runner, clock = make_gate(cooldown_hours=1)
    gate.handle(parse_gate_event(alarm("evt-1")))
    clock.advance(hours=3)
    gate.handle(parse_gate_event(alarm("evt-2", at=clock.now)))  # deferred behind run1

    swept = gate.handle(parse_gate_event(scheduled_event("sweep", event_id="sweep-1", time="2026-11-20T20:05:00Z")))

    assert [d.outcome for d in swept] == [Outcome.released, Outcome.started]
    assert len(runner.requests) == 2


def test_end_of_an_unrelated_execution_changes_nothing(make_gate: GateFactory, store: TriggerStore) -> None:
    gate, _, _ = make_gate()
    gate.handle(parse_gate_event(alarm("evt-1")))
    before = store.load(PIPELINE)

    decisions = gate.handle(parse_gate_event(ended("someone-else", "end-x")))

    assert [d.outcome for d in decisions] == [Outcome.idle]
    assert store.load(PIPELINE).running == before.running


def test_state_round_trips_through_json(make_gate: GateFactory, store: TriggerStore) -> None:
    gate, _, clock = make_gate(cooldown_hours=1)
    gate.handle(parse_gate_event(alarm("evt-1")))
    clock.advance(hours=2)
    gate.handle(parse_gate_event(alarm("evt-2", at=clock.now)))
    state = store.load(PIPELINE)
    assert TriggerState.from_json(state.to_json()) == state

    gate.handle(parse_gate_event(ended("run1", "end-1", status="Failed")))  # evt-2 starts as run2
    gate.handle(parse_gate_event(ended("run2", "end-2", status="Failed")))
    failed = store.load(PIPELINE)
    assert failed.retry is not None and failed.failed_runs == 1  # evt-2's run began a chain of its own
    assert TriggerState.from_json(failed.to_json()) == failed


def sweep_at(moment: datetime, event_id: str) -> dict[str, object]:
    return scheduled_event("sweep", event_id=event_id, time=iso(moment))


@dataclass
class FailedRun:
    """A gate (24-hour cooldown) right after the run an alarm started failed; the alarm is in ALARM."""

    gate: RetrainTrigger
    runner: FakeRunner
    clock: Clock
    alarms: FakeAlarms


def failed_alarm_run(make_gate: GateFactory) -> FailedRun:
    alarms = FakeAlarms({ALARM: "ALARM"})
    gate, runner, clock = make_gate(cooldown_hours=24, alarms=alarms)
    gate.handle(parse_gate_event(alarm("evt-1")))
    gate.handle(parse_gate_event(ended("run1", "end-1", status="Failed")))
    return FailedRun(gate, runner, clock, alarms)


def test_a_failed_alarm_run_is_retried_with_back_off_while_its_alarm_stays_in_alarm(
    make_gate: GateFactory, store: TriggerStore
) -> None:
    alarms = FakeAlarms({ALARM: "ALARM"})
    gate, runner, clock = make_gate(cooldown_hours=24, alarms=alarms)
    gate.handle(parse_gate_event(alarm("evt-1")))
    clock.advance(hours=3)
    failed = gate.handle(parse_gate_event(ended("run1", "end-1", status="Failed")))
    first_due = clock.now + timedelta(hours=24)
    assert f"retried at {iso(first_due)} if {ALARM} is still in ALARM" in failed[0].reason

    clock.advance(hours=23)
    early = gate.handle(parse_gate_event(sweep_at(clock.now, "sweep-1")))
    assert [d.outcome for d in early] == [Outcome.idle] and len(runner.requests) == 1
    assert alarms.read == []  # nothing due: CloudWatch is not asked

    clock.now = first_due
    retried = gate.handle(parse_gate_event(sweep_at(clock.now, "sweep-2")))
    assert [d.outcome for d in retried] == [Outcome.started]
    assert alarms.read == [ALARM]
    assert runner.requests[1].parameters == {
        TRIGGER_REASON: "retry",
        TRIGGER_ALARM: ALARM,
        TRIGGER_METRIC_VALUE: "0.31",
        DATA_WINDOW_END: iso(first_due),  # the retry trains on the data up to now
    }

    # The retry fails too: the next one waits twice as long.
    clock.advance(hours=2)
    gate.handle(parse_gate_event(ended("run2", "end-2", status="Failed")))
    second_due = clock.now + timedelta(hours=48)
    assert store.load(PIPELINE).retry is not None and store.load(PIPELINE).retry.due == iso(second_due)  # type: ignore[union-attr]
    clock.now = second_due - timedelta(hours=1)
    gate.handle(parse_gate_event(sweep_at(clock.now, "sweep-3")))
    assert len(runner.requests) == 2
    clock.now = second_due
    gate.handle(parse_gate_event(sweep_at(clock.now, "sweep-4")))
    assert len(runner.requests) == 3

    clock.advance(hours=2)
    gate.handle(parse_gate_event(ended("run3", "end-3", status="Succeeded")))
    after_success = store.load(PIPELINE)
    assert after_success.failed_runs == 0 and after_success.retry is None


def test_a_due_retry_is_dropped_once_its_alarm_left_alarm(make_gate: GateFactory, store: TriggerStore) -> None:
    failed = failed_alarm_run(make_gate)
    gate, runner, clock = failed.gate, failed.runner, failed.clock
    failed.alarms.states[ALARM] = "OK"  # the data moved back: nothing says retrain any more

    clock.advance(hours=24)
    decisions = gate.handle(parse_gate_event(sweep_at(clock.now, "sweep-1")))

    assert [d.outcome for d in decisions] == [Outcome.dropped]
    assert f"{ALARM} is OK now" in decisions[0].reason
    assert len(runner.requests) == 1 and store.load(PIPELINE).retry is None


def test_a_new_alarm_before_the_retry_is_due_replaces_it(make_gate: GateFactory, store: TriggerStore) -> None:
    gate, runner, clock = make_gate(cooldown_hours=1, alarms=FakeAlarms({ALARM: "ALARM"}))
    gate.handle(parse_gate_event(alarm("evt-1")))
    clock.advance(hours=2)
    gate.handle(parse_gate_event(ended("run1", "end-1", status="Failed")))
    assert store.load(PIPELINE).retry is not None

    started = gate.handle(parse_gate_event(alarm("evt-2", at=clock.now)))

    assert [d.outcome for d in started] == [Outcome.started]
    assert store.load(PIPELINE).retry is None and len(runner.requests) == 2


@pytest.mark.parametrize(
    ("first", "status"), [("alarm", "Stopped"), ("staleness", "Failed")], ids=["stopped-by-hand", "staleness-run"]
)
def test_a_stopped_run_or_a_failed_staleness_run_is_not_retried(
    make_gate: GateFactory, store: TriggerStore, first: str, status: str
) -> None:
    gate, runner, clock = make_gate(cooldown_hours=24, max_staleness_days=60, alarms=FakeAlarms({ALARM: "ALARM"}))
    event = alarm("evt-1") if first == "alarm" else sweep_at(clock.now, "sweep-0")
    gate.handle(parse_gate_event(event))
    gate.handle(parse_gate_event(ended("run1", "end-1", status=status)))

    clock.advance(days=3)
    gate.handle(parse_gate_event(sweep_at(clock.now, "sweep-1")))

    assert store.load(PIPELINE).retry is None and len(runner.requests) == 1
    assert store.load(PIPELINE).failed_runs == 0  # neither belongs to an alarm's chain of failures


def test_retry_delay_doubles_from_the_cooldown_up_to_a_week() -> None:
    policy = TriggerPolicy.from_settings(cooldown_hours=24, max_staleness_days=None)
    assert [retry_delay(policy, n) for n in (1, 2, 3)] == [timedelta(days=1), timedelta(days=2), timedelta(days=4)]
    assert retry_delay(policy, 4) == MAX_RETRY_DELAY == timedelta(days=7)
    assert retry_delay(policy, 30) == retry_delay(policy, 10_000) == MAX_RETRY_DELAY  # no overflow, ever
    # a zero cooldown still backs off: from an hour
    no_cooldown = TriggerPolicy.from_settings(cooldown_hours=0, max_staleness_days=None)
    assert [retry_delay(no_cooldown, n) for n in (1, 2, 3)] == [timedelta(hours=h) for h in (1, 2, 4)]


def test_a_late_end_event_after_the_sweep_released_the_run_still_schedules_the_retry(
    make_gate: GateFactory, store: TriggerStore
) -> None:
    gate, runner, clock = make_gate(cooldown_hours=24, alarms=FakeAlarms({ALARM: "ALARM"}))
    gate.handle(parse_gate_event(alarm("evt-1")))
    clock.advance(hours=3)
    released = gate.handle(parse_gate_event(sweep_at(clock.now, "sweep-1")))  # no longer listed as running
    assert [d.outcome for d in released] == [Outcome.released] and store.load(PIPELINE).running is None

    late = gate.handle(parse_gate_event(ended("run1", "end-1", status="Failed")))

    assert [d.outcome for d in late] == [Outcome.released] and late[0].reason.startswith("late end event")
    state = store.load(PIPELINE)
    assert state.retry is not None and state.missed_end is None and state.failed_runs == 1
    clock.advance(hours=24)
    gate.handle(parse_gate_event(sweep_at(clock.now, "sweep-2")))
    assert runner.requests[-1].parameters[TRIGGER_REASON] == "retry"


def test_a_retry_scheduled_before_retries_were_turned_off_is_dropped(
    make_gate: GateFactory, store: TriggerStore
) -> None:
    failed = failed_alarm_run(make_gate)
    gate, runner, clock = failed.gate, failed.runner, failed.clock
    gate.policy = TriggerPolicy.from_settings(cooldown_hours=24, max_staleness_days=None, retry_failed_runs=False)

    clock.advance(hours=24)
    decisions = gate.handle(parse_gate_event(sweep_at(clock.now, "sweep-1")))

    assert [d.outcome for d in decisions] == [Outcome.dropped] and "retries are off" in decisions[0].reason
    assert len(runner.requests) == 1 and store.load(PIPELINE).retry is None


def test_a_new_alarm_after_a_dropped_retry_starts_its_back_off_from_one_cooldown(
    make_gate: GateFactory, store: TriggerStore
) -> None:
    first = failed_alarm_run(make_gate)
    gate, clock, alarms = first.gate, first.clock, first.alarms
    clock.advance(hours=24)
    gate.handle(parse_gate_event(sweep_at(clock.now, "sweep-1")))  # retry run2
    gate.handle(parse_gate_event(ended("run2", "end-2", status="Failed")))
    assert store.load(PIPELINE).failed_runs == 2
    alarms.states[ALARM] = "OK"
    clock.advance(hours=48)
    gate.handle(parse_gate_event(sweep_at(clock.now, "sweep-2")))  # dropped: the chain ends
    assert store.load(PIPELINE).failed_runs == 0

    clock.advance(days=30)
    gate.handle(parse_gate_event(alarm("evt-2", at=clock.now)))  # a new drift
    failed = gate.handle(parse_gate_event(ended("run3", "end-3", status="Failed")))

    assert "failure 1 in a row" in failed[0].reason
    assert store.load(PIPELINE).retry.due == iso(clock.now + timedelta(hours=24))  # type: ignore[union-attr]


def test_with_retries_off_a_failed_run_waits_for_the_next_alarm(make_gate: GateFactory, store: TriggerStore) -> None:
    alarms = FakeAlarms({ALARM: "ALARM"})
    gate, runner, clock = make_gate(cooldown_hours=24, alarms=alarms)
    gate.policy = TriggerPolicy.from_settings(cooldown_hours=24, max_staleness_days=None, retry_failed_runs=False)
    gate.handle(parse_gate_event(alarm("evt-1")))
    failed = gate.handle(parse_gate_event(ended("run1", "end-1", status="Failed")))

    clock.advance(days=10)
    gate.handle(parse_gate_event(sweep_at(clock.now, "sweep-1")))

    assert failed[0].reason == "execution ended: Failed"
    assert len(runner.requests) == 1 and alarms.read == []
    assert store.load(PIPELINE).failed_runs == 1 and store.load(PIPELINE).retry is None
