"""Prequential replay of one policy: predict, monitor, decide, retrain, shadow, promote.

At the end of every replayed window, in the order production would see it:
1. the production model has predicted the window (prequential: before any of its labels are
   used); its metrics on the window's labels are the policy's score for that window;
2. the monitor compares the window with the production model's baseline profile (when the
   policy needs it);
3. a candidate in shadow since an earlier window is decided by `pipelines.promotion.shadow.decide`
   on the windows it shadowed: promoted, rejected, or kept waiting;
4. the policy decides; a started run goes through DataPull+Validate, Train, Evaluate and the
   gates with the production model as champion. A candidate that passes (approval is assumed)
   shadows the next window; a newer candidate replaces one still waiting. A schedule (calendar,
   every window) starts no run while a candidate is in shadow (`waits_for_shadow`); the trigger
   policy, as deployed, does.
No run starts after the last window: it could not serve anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipelines.backtest.history import Window
from pipelines.backtest.lab import Lab, Labelled
from pipelines.backtest.policies import Observation, Policy
from pipelines.config import ModelConfig
from pipelines.gates.catalog import higher_is_better
from pipelines.promotion.shadow import ShadowDecision, ShadowEvidence, decide
from pipelines.trigger import iso

HEADLINE = {"binary_classification": "accuracy", "multiclass_classification": "macro_f1", "regression": "r2"}


def headline_metric(config: ModelConfig) -> str:
    """The metric a backtest compares policies on, one where higher is better (the summary and the
    sweep rank on it): the performance SLO's when it is such a metric, else the problem type's
    (accuracy, macro_f1, r2)."""
    slo = config.drift.performance_slo
    if slo is not None and higher_is_better(slo.metric):
        return slo.metric
    return HEADLINE[config.model.problem_type]


@dataclass(frozen=True)
class WindowRecord:
    window: int
    start: str
    end: str
    production: str  # the model that served the window
    metrics: dict[str, float | None]
    retrain: bool = False  # a run started at the window's end
    reason: str = ""
    data_window: int | None = None  # its data cut
    outcome: str = ""  # shadow | data_validation_failed | train_failed | gates_failed
    detail: str = ""
    shadow: str = ""  # verdict on a shadow at this window's end: promote | reject | wait
    promoted: str = ""  # the model promoted at this window's end
    drifted_features: tuple[str, ...] | None = None
    # the monitor's estimate of the headline metric from the window's scores (a binary
    # classifier's, when the champion is calibrated), beside `metrics`, what its labels measured
    estimated: float | None = None

    def to_json(self) -> dict[str, Any]:
        document = dict(self.__dict__)
        document["drifted_features"] = None if self.drifted_features is None else list(self.drifted_features)
        return document


def estimated_value(report: Mapping[str, Any] | None, metric: str) -> float | None:
    """The monitor report's estimate of `metric`, or None where it made none."""
    estimated = (report or {}).get("estimated_performance") or {}
    entry = (estimated.get("metrics") or {}).get(metric) if estimated.get("status") == "ok" else None
    return None if entry is None else entry["value"]


@dataclass(frozen=True)
class PolicyRun:
    name: str
    records: tuple[WindowRecord, ...]
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Shadow:
    model_id: str
    started_at: datetime
    first_window: int


def window_at(windows: list[Window], data_window_end: str | None, default: int) -> int:
    """The window whose end is the data cut `data_window_end` (ISO-8601), or `default`."""
    if data_window_end is None:
        return default
    ends = [w.index for w in windows if iso(w.end) <= data_window_end]
    return ends[-1] if ends else default


def replay(
    lab: Lab,
    policy: Policy,
    *,
    monitor_config: ModelConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> PolicyRun:
    """With `lab.label_delay`, labels come that many windows after their predictions, so the
    monitor at a window's end judges performance and label drift on the window that many before it
    (as the model that served it scored it), and on nothing before then. 0: with the window itself."""
    config = lab.config
    label_delay = lab.label_delay
    headline = headline_metric(config)
    replayed = lab.windows[lab.warmup :]
    production = lab.initial().model_id
    policy.begin(lab.windows[lab.warmup - 1].end)
    shadow: _Shadow | None = None
    records: list[WindowRecord] = []
    for position, window in enumerate(replayed):
        if progress is not None:
            progress(f"{policy.name}: window {position + 1}/{len(replayed)}")
        labelled = None
        if label_delay:
            # As deployed: the hour store keeps predictions per champion baseline, so labels of
            # what a previous champion served no longer meet the current champion's lookback.
            earlier = position - label_delay
            served = earlier >= 0 and records[earlier].production == production
            labelled = Labelled(production, replayed[earlier].index) if served else Labelled.none()
        report = lab.monitor(production, window, monitor_config or config, labelled) if policy.needs_monitor else None
        record = WindowRecord(
            window=window.index,
            start=iso(window.start),
            end=iso(window.end),
            production=production,
            metrics=lab.metrics(production, window),
            drifted_features=None if report is None else tuple(report["summary"]["drifted_features"]),
            estimated=estimated_value(report, headline),
        )
        if shadow is not None and shadow.first_window <= window.index:
            verdict = shadow_verdict(lab, shadow, production, window)
            record = _with(record, shadow=verdict.verdict, detail=verdict.reason)
            if verdict.verdict == "promote":
                production = shadow.model_id
                record = _with(record, promoted=production)
                policy.promoted(window.end)
            elif verdict.verdict == "reject":
                policy.rejected(window.end)
            if verdict.verdict != "wait":
                shadow = None
        if position < len(replayed) - 1 and shadow is not None and policy.waits_for_shadow:
            record = _with(record, reason=f"waits for the shadow of {shadow.model_id}")
        elif position < len(replayed) - 1:
            measured = window.index if labelled is None else labelled.window
            observation = Observation(window=window, position=position, report=report, labelled_window=measured)
            decision = policy.decide(observation)
            record = _with(record, reason=decision.reason)
            if decision.start:
                data_window = window_at(lab.windows, decision.data_window_end, window.index)
                candidate = lab.candidate(data_window, started=window.index)
                gates = lab.gate(candidate, lab.model(production))
                outcome = "shadow" if gates.passed else _failure_kind(gates.message)
                if gates.passed:
                    shadow = _Shadow(candidate.model_id, window.end, window.index + 1)
                policy.ended(observation, "Succeeded" if gates.passed else "Failed")
                detail = " | ".join(text for text in (record.detail, gates.message) if text)
                record = _with(record, retrain=True, data_window=data_window, outcome=outcome, detail=detail)
        records.append(record)
    return PolicyRun(policy.name, tuple(records), policy.facts())


def shadow_verdict(lab: Lab, shadow: _Shadow, production: str, window: Window) -> ShadowDecision:
    """The promotion stage's verdict on everything the shadow saw so far (both variants answered
    the same requests: the windows since it started), with the labels that have come by now."""
    through = window.index - lab.label_delay
    return decide(
        ShadowEvidence(
            shadow=lab.evidence(shadow.model_id, shadow.first_window, window.index, through),
            production=lab.evidence(production, shadow.first_window, window.index, through),
            offline=lab.model(shadow.model_id).offline_metrics,
            started_at=shadow.started_at,
            now=window.end,
        ),
        lab.config.promotion.shadow,
    )


def _failure_kind(message: str) -> str:
    if message.startswith("DataValidation"):
        return "data_validation_failed"
    if message.startswith("Train failed"):
        return "train_failed"
    return "gates_failed"


def _with(record: WindowRecord, **changes: Any) -> WindowRecord:
    return WindowRecord(**{**record.__dict__, **changes})
