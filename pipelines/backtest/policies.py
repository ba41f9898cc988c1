"""When to retrain: the policies a backtest compares, each deciding at the end of every window.

- `never`: the first model serves the whole history.
- `calendar`: a retraining run every K windows, whatever the data does (a schedule).
- `trigger`: the product. The monitor's report becomes CloudWatch datapoints (`metric_data`), the
  retraining alarms of `alarm_specs(config)` are evaluated with CloudWatch's M-of-N rules
  (`evaluate_alarm`), every transition to ALARM is a `Trigger` for the real `RetrainTrigger`
  (memory store, cooldown, single flight, dedupe, and through a sweep at every window end: max
  staleness and the retry of a failed run while its alarm is still in ALARM), and a run starts
  exactly when the gate starts one, with the gate's `DataWindowEnd`. After each promotion the
  alarms are re-armed (set to INSUFFICIENT_DATA) as the promotion controller does: once the
  alarm's evaluation range (N + 2 periods) was all measured against the new champion; and after a shadow
  rejection, at once when the champion has settled so.
- `every_window`: a run after every window: the upper bound on freshness and on cost (with labels
  at once; with late labels it waits for each shadow's verdict).

One window is one monitor run and one alarm period; the gate's clock is the data's time, so
cooldown and staleness hours mean what they mean in production.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from pipelines import naming
from pipelines.backtest.history import Window
from pipelines.config import ModelConfig
from pipelines.drift.metrics import metric_data
from pipelines.monitoring.alarms import (
    REARMED_STATE,
    AlarmEvaluation,
    AlarmSpec,
    AlarmState,
    alarm_specs,
    evaluate_alarm,
    evaluation_range,
    rearm_after_rejection,
)
from pipelines.naming import DATA_WINDOW_END
from pipelines.trigger import (
    ExecutionEnded,
    Outcome,
    RetrainTrigger,
    StartRequest,
    Sweep,
    Trigger,
    TriggerDecision,
    TriggerKind,
    TriggerPolicy,
    iso,
)
from pipelines.trigger.local import MemoryTriggerStore

LABELLED_KINDS = ("performance_slo", "label_drift")  # alarms on what labels measure


@dataclass(frozen=True)
class Observation:
    window: Window
    position: int  # 0 for the first replayed window
    report: Mapping[str, Any] | None = None  # the monitor's report, for policies that need it
    # the window whose labels the report's performance and label drift measured (with a label
    # delay, an earlier one; None: none yet); the window itself when labels come at once
    labelled_window: int | None = None


@dataclass(frozen=True)
class Decision:
    start: bool
    reason: str
    data_window_end: str | None = None  # ISO-8601 data cut; None: this window's end


class Policy(Protocol):
    name: str
    needs_monitor: bool
    waits_for_shadow: bool  # starts no run while a candidate is in shadow (the schedules)

    def begin(self, first_model_at: datetime) -> None:
        """The replay starts; the first model's run started at `first_model_at`."""
        ...

    def decide(self, observation: Observation) -> Decision: ...

    def ended(self, observation: Observation, status: str) -> None:
        """The run started at this observation ended (Succeeded or Failed)."""
        ...

    def promoted(self, at: datetime) -> None:
        """A new champion serves from the next window."""
        ...

    def rejected(self, at: datetime) -> None:
        """The candidate in shadow was rejected: the champion serves on."""
        ...

    def facts(self) -> dict[str, Any]:
        """What the policy was and what it decided, for the report."""
        ...


# --------------------------------------------------------------------------- pure decisions


def calendar_due(position: int, every: int, phase: int = 0) -> bool:
    """A calendar run after every `every`-th replayed window: positions every-1, 2*every-1, ...;
    `phase` moves the schedule earlier by that many windows."""
    return (position + 1 + phase) % every == 0


def calendar_runs(windows: int, every: int) -> int:
    """How many runs a calendar makes over `windows` replayed windows (none after the last)."""
    return sum(calendar_due(position, every) for position in range(windows - 1))


def matched_calendar(windows: int, runs: int) -> int:
    """The period K whose calendar makes the number of runs closest to `runs` (ties: more runs,
    which favours the calendar in a comparison at equal cost)."""
    candidates = range(1, max(windows, 1) + 1)
    return min(
        candidates, key=lambda every: (abs(calendar_runs(windows, every) - runs), -calendar_runs(windows, every))
    )


def alarm_step(spec: AlarmSpec, values: Sequence[float | None], previous: AlarmState) -> AlarmEvaluation:
    """The alarm's state after a window: its evaluation range is the last N windows (one
    datapoint per window, None where the monitor published none), oldest first."""
    n = spec.evaluation_periods
    recent = list(values[-n:])
    return evaluate_alarm(spec, [None] * (n - len(recent)) + recent, previous)


def datapoint(spec: AlarmSpec, data: Sequence[Mapping[str, Any]]) -> float | None:
    """The alarm's metric in one report's MetricDatum list (one report gives one datapoint)."""
    dimensions = [{"Name": name, "Value": value} for name, value in spec.dimensions]
    found = [d["Value"] for d in data if d["MetricName"] == spec.metric_name and d["Dimensions"] == dimensions]
    return float(found[-1]) if found else None


# --------------------------------------------------------------------------- policies


class _Schedule:
    """A policy that looks at the clock only: no monitor, nothing to remember. It starts no run
    while a candidate is in shadow: with late labels, a candidate every window would replace each
    shadow before its labels come, and nothing would ever be promoted."""

    needs_monitor = False
    waits_for_shadow = True

    def begin(self, first_model_at: datetime) -> None:
        return None

    def ended(self, observation: Observation, status: str) -> None:
        return None

    def promoted(self, at: datetime) -> None:
        return None

    def rejected(self, at: datetime) -> None:
        return None


@dataclass
class Never(_Schedule):
    name: str = "never"

    def decide(self, observation: Observation) -> Decision:
        return Decision(False, "never retrains")

    def facts(self) -> dict[str, Any]:
        return {"description": "the first model serves every window"}


@dataclass
class Calendar(_Schedule):
    every: int = 1
    name: str = "calendar"
    phase: int = 0

    def decide(self, observation: Observation) -> Decision:
        if calendar_due(observation.position, self.every, self.phase):
            return Decision(True, f"calendar: every {self.every} windows")
        return Decision(False, "calendar: not due")

    def facts(self) -> dict[str, Any]:
        return {"description": f"a retraining run every {self.every} windows", "every": self.every}


@dataclass
class EveryWindow(_Schedule):
    name: str = "every_window"

    def decide(self, observation: Observation) -> Decision:
        return Decision(True, "every window")

    def facts(self) -> dict[str, Any]:
        return {"description": "a retraining run after every window (upper bound, with labels at once)"}


@dataclass
class _ReplayRunner:
    """The gate's `PipelineRunner`: a start is recorded; the backtest runs it and ends it."""

    requests: list[StartRequest] = field(default_factory=list)
    running: str | None = None

    def start(self, request: StartRequest) -> str:
        self.requests.append(request)
        self.running = f"execution-{len(self.requests)}"
        return self.running

    def running_execution(self) -> str | None:
        return self.running


def held_alarms(
    states: Mapping[str, AlarmState], *, retries: bool, rearm: bool = True, staleness_days: int | None = None
) -> str:
    """Why a window without a decision starts nothing: no retraining alarm in ALARM, or which stay
    there (CloudWatch sends an event on a change of state only, so a lasting breach starts one run)
    and what could start the next: a re-arm after a change of production, a failed run's retry,
    the max staleness."""
    held = sorted(name for name, state in states.items() if state == "ALARM")
    if not held:
        return "no alarm"
    ways = [
        *(["a re-arm (after a promotion or a shadow rejection)"] if rearm else []),
        *(["a failed run's retry"] if retries else []),
        *([f"the max staleness ({staleness_days} days since the last start)"] if staleness_days else []),
    ]
    off = "" if retries else "a failed run is not retried (trigger.retry_failed_runs is off)"
    if not ways:
        why = (
            f"only the alarm leaving ALARM and breaching again can start another run: {off}, alarms are not "
            "re-armed (--no-rearm) and trigger.max_staleness_days is not set"
        )
    else:
        why = f"another run needs {' or '.join(ways)}" + (f"; {off}" if off else "")
    return f"{', '.join(held)} still in ALARM: CloudWatch sends no new event; {why}"


class GatedTrigger:
    """The trigger policy: retraining alarms from the monitor's metrics into the retrain trigger."""

    needs_monitor = True
    waits_for_shadow = False  # as deployed: an alarm starts a run whatever is in shadow

    def __init__(self, config: ModelConfig, name: str = "trigger", *, rearm: bool = True) -> None:
        self._measured_on: dict[str, str] = {}  # trigger event id -> what its value measured, when not its window
        self.name = name
        self.config = config
        self.rearm = rearm
        self.specs = [spec for spec in alarm_specs(config) if spec.triggers_retraining]
        self.values: dict[str, list[float | None]] = {spec.name: [] for spec in self.specs}
        self.states: dict[str, AlarmState] = {spec.name: "INSUFFICIENT_DATA" for spec in self.specs}
        self.settled_after = evaluation_range(config.trigger.evaluation_periods)  # windows, as `rearm_time`
        self._changed_at: datetime | None = None  # the last promotion, while its re-arm is due
        self._measured_since = 0  # windows measured against the new champion since then
        self._rejections = 0  # shadow rejections since the last promotion
        self._rejection_rearm: datetime | None = None  # when the last one re-arms (back-off)
        self.runner = _ReplayRunner()
        self.store = MemoryTriggerStore()
        self.pipeline = naming.pipeline_name(config.model.name)
        self._now = datetime.fromtimestamp(0, UTC)
        self.gate = RetrainTrigger(
            pipeline=self.pipeline,
            store=self.store,
            runner=self.runner,
            policy=TriggerPolicy.from_settings(
                cooldown_hours=config.trigger.cooldown_hours,
                max_staleness_days=config.trigger.max_staleness_days,
                retry_failed_runs=config.trigger.retry_failed_runs,
            ),
            clock=lambda: self._now,
            alarms=self,
        )

    def begin(self, first_model_at: datetime) -> None:
        """The gate remembers the first model's run as its last start: the cooldown and the max
        staleness count from there (a fresh gate would start a staleness run at once)."""
        state = replace(self.store.load(self.pipeline), last_started_at=iso(first_model_at))
        self.store.commit(state, expected_version=state.version, decisions=(), event_id=None)

    def decide(self, observation: Observation) -> Decision:
        if observation.report is None:
            raise ValueError("the trigger policy needs the monitor's report")
        window = observation.window
        self._now = window.end
        data = metric_data(observation.report, self.config.model.name, window.end)
        decisions: list[TriggerDecision] = []
        self._rearm_when_settled(window)
        for spec in self.specs:
            self.values[spec.name].append(datapoint(spec, data))
            result = alarm_step(spec, self.values[spec.name], self.states[spec.name])
            if result.state == "ALARM" and self.states[spec.name] != "ALARM":
                fired = self._trigger(spec, window, result)
                if spec.kind in LABELLED_KINDS and observation.labelled_window not in (None, window.index):
                    self._measured_on[fired.event_id] = f"the labels of window {observation.labelled_window}"
                decisions += self.gate.handle(fired)
            self.states[spec.name] = result.state
        decisions += self.gate.handle(Sweep(event_id=f"sweep@{iso(window.end)}", at=iso(window.end)))
        started = [d for d in decisions if d.outcome is Outcome.started]
        if started:
            request = self.runner.requests[-1]
            return Decision(True, self._reason(started[-1]), request.parameters[DATA_WINDOW_END])
        told = "; ".join(self._reason(d) for d in decisions if d.outcome is not Outcome.idle)
        trigger = self.config.trigger
        held = held_alarms(
            self.states, retries=trigger.retry_failed_runs, rearm=self.rearm, staleness_days=trigger.max_staleness_days
        )
        return Decision(False, told or held)

    def state(self, alarm: str) -> str | None:
        """The gate's `AlarmStates`: a due retry starts only while its alarm is in ALARM."""
        return self.states.get(alarm)

    def _trigger(self, spec: AlarmSpec, window: Window, result: AlarmEvaluation) -> Trigger:
        value = self.values[spec.name][-1]
        return Trigger(
            event_id=f"{spec.name}@{iso(window.end)}",
            kind=TriggerKind.alarm,
            alarm=spec.name,
            metric_value="none" if value is None else repr(value),
            data_window_end=iso(window.end),
            detail=result.reason,
        )

    def ended(self, observation: Observation, status: str) -> None:
        arn = self.runner.running
        if arn is None:
            return
        self.runner.running = None
        self.gate.handle(ExecutionEnded(event_id=f"end@{arn}", execution_arn=arn, status=status))

    def promoted(self, at: datetime) -> None:
        """Deployed (`rearm`): once N + 2 periods were measured against the new champion, the
        promotion controller re-arms the retraining alarms (SetAlarmState), and the next
        evaluation alarms again, with a new event, when M of those N still breach. Without `rearm`
        (before re-arming was deployed) an alarm already in ALARM stays there, and a drift the new
        champion did not absorb never triggers again."""
        if self.rearm:
            self._changed_at, self._measured_since = at, 0
            self._rejections, self._rejection_rearm = 0, None

    def rejected(self, at: datetime) -> None:
        """The promotion controller re-arms after a shadow rejection once the champion settled
        (`Promotion.rearm_if_due`): at once after the first since the promotion, then with the
        retry back-off (`rearm_after_rejection`); before it settled, the promotion's re-arm is due."""
        if not self.rearm:
            return
        self._rejections += 1
        if self._changed_at is None:  # `_rearm_when_settled` does it when due: in this window's decision or later
            self._rejection_rearm = rearm_after_rejection(at, self._rejections, self.config)

    def _rearm_when_settled(self, window: Window) -> None:
        """Called with each window before its datapoint is evaluated: the window's datapoint is
        published, and the controller's scheduled re-arm runs when it is due."""
        if self._rejection_rearm is not None and window.end >= self._rejection_rearm:
            self._rearm_all()
            self._rejection_rearm = None
        if self._changed_at is None or window.end <= self._changed_at:
            return  # no re-arm due, or this window was still served by the previous champion
        self._measured_since += 1
        if self._measured_since >= self.settled_after:  # one window = one period: `rearm_time`'s rule
            self._rearm_all()
            self._changed_at = None

    def _rearm_all(self) -> None:
        """SetAlarmState(`REARMED_STATE`) on every retraining alarm, as the controller does."""
        self.states = dict.fromkeys(self.states, REARMED_STATE)

    def facts(self) -> dict[str, Any]:
        decisions = self.store.decisions(self.pipeline)
        described = "retraining alarms (M of N) into the retrain trigger (cooldown, single flight, staleness)"
        return {
            "description": described
            + ("; alarms re-armed after each promotion and shadow rejection" if self.rearm else "; never re-armed"),
            "alarms": [spec.name for spec in self.specs],
            "gate_decisions": dict(sorted(Counter(d.outcome.value for d in decisions).items())),
        }

    def _reason(self, decision: TriggerDecision) -> str:
        """The decision as the timeline says it: the alarm, its value, and what that value measured
        when it is not this window (a label-based alarm's, with late labels)."""
        trigger = decision.trigger
        what = ""
        if trigger is not None:
            on = self._measured_on.get(trigger.event_id)
            what = (
                f"{trigger.kind.value} {trigger.alarm} = {_shown(trigger.metric_value)}{f' (on {on})' if on else ''}: "
            )
        return f"{decision.outcome.value}: {what}{decision.reason}"


def _shown(value: str) -> str:
    """An alarm's value as a person reads it (4 significant digits); "none" and text as they are."""
    try:
        return f"{float(value):.4g}"
    except ValueError:
        return value
