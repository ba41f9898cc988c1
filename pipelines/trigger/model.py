"""The retrain trigger's value types: the triggers and events it receives, its state, its
decisions, and its settings (`TriggerPolicy`). Standard library only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from pipelines.errors import PipelinesError
from pipelines.naming import DATA_WINDOW_END, TRIGGER_ALARM, TRIGGER_METRIC_VALUE, TRIGGER_REASON

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
    covered = "covered"  # an alarm on the datapoint of an execution that succeeded: it was answered
    error = "error"


class TriggerKind(StrEnum):
    alarm = "alarm"
    max_staleness = "max_staleness"
    manual = "manual"
    retry = "retry"  # a failed alarm-started run again, its alarm still in ALARM


class TriggerError(PipelinesError):
    """Base of the retrain trigger's errors."""


class MalformedEvent(TriggerError):
    """An event the gate cannot read; `field` names what is missing or wrong. No call is made."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"malformed event: {field}: {problem}")


class StateConflict(TriggerError):
    """Another invocation changed the gate state first; load again and decide again."""


class DuplicateEvent(TriggerError):
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


TriggerEvent = Trigger | ExecutionEnded | Sweep


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
class TriggerState:
    pipeline: str
    version: int = 0
    running: Execution | None = None
    last_started_at: str | None = None
    # The DataWindowEnd of the last execution when an alarm started it, and the alarms it answers
    # (the starter, those coalesced with it and those it covered); cleared when it does not succeed.
    last_data_window_end: str | None = None
    last_alarms: tuple[str, ...] = ()
    pending: tuple[Trigger, ...] = ()
    retry: Retry | None = None
    # Failed runs in a row of the current chain: an alarm's run and the retries after it. A new
    # alarm's run starts a chain; a success or a dropped retry ends it.
    failed_runs: int = 0
    missed_end: Execution | None = None  # released by the sweep without its end event, which may come late

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> TriggerState:
        return cls(
            pipeline=raw["pipeline"],
            version=int(raw.get("version", 0)),
            running=_execution(raw.get("running")),
            last_started_at=raw.get("last_started_at"),
            last_data_window_end=raw.get("last_data_window_end"),
            last_alarms=tuple(raw.get("last_alarms", ())),
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

    state: TriggerState
    decisions: tuple[TriggerDecision, ...]
    start: StartRequest | None = None
    started: TriggerDecision | None = None


@dataclass(frozen=True)
class TriggerPolicy:
    cooldown: timedelta
    max_staleness: timedelta | None = None
    retry_failed_runs: bool = True
    # Another monitor alarm whose state changed this soon after the one that started the last run
    # was evaluating the same datapoint (`policy._on_last_datapoint`). 0: the same time only.
    same_datapoint: timedelta = timedelta(0)
    external_alarms: frozenset[str] = frozenset()  # a team's own alarms: never on a monitor datapoint

    @classmethod
    def from_config(cls, trigger: Mapping[str, Any]) -> TriggerPolicy:
        """From the config's `trigger` section as JSON (what the deployed function reads)."""
        return cls.from_settings(
            cooldown_hours=float(trigger["cooldown_hours"]),
            max_staleness_days=trigger.get("max_staleness_days"),
            retry_failed_runs=bool(trigger.get("retry_failed_runs", True)),
            same_datapoint=SAME_DATAPOINT,
            external_alarms=tuple(trigger.get("external_alarms", ())),
        )

    @classmethod
    def from_settings(
        cls,
        *,
        cooldown_hours: float,
        max_staleness_days: float | None,
        retry_failed_runs: bool = True,
        same_datapoint: timedelta = timedelta(0),
        external_alarms: Sequence[str] = (),
    ) -> TriggerPolicy:
        return cls(
            cooldown=timedelta(hours=cooldown_hours),
            max_staleness=None if max_staleness_days is None else timedelta(days=max_staleness_days),
            retry_failed_runs=retry_failed_runs,
            same_datapoint=same_datapoint,
            external_alarms=frozenset(external_alarms),
        )


# The monitor publishes a run's metrics in one go, and CloudWatch evaluates an alarm of a period of
# a minute or more every minute ("Using Amazon CloudWatch alarms",
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html): alarms on
# one run's datapoints change state within minutes of each other. 15 minutes is far less than an
# alarm period (an hour at least: the monitor judges whole hours) and than any shadow before a
# re-arm, so a later datapoint's alarm or a re-armed one is never taken for the same datapoint.
SAME_DATAPOINT = timedelta(minutes=15)
