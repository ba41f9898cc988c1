"""CloudWatch alarm specs from the model config, and a local evaluator with CloudWatch's rules.

One source: `alarm_specs(config)` lists every alarm on the model; the CDK monitoring construct turns each
spec into a `cloudwatch.Alarm` (`put_metric_alarm_request()` is the same alarm as a PutMetricAlarm
request), and `evaluate_alarms` runs the same specs over the local metrics store.

Kinds:
- `feature_drift`, one per feature and voting statistic (`<model>-drift-<feature>-<statistic>`):
  the statistic reaches the threshold the verdict uses. They show which feature moved and how;
  they do not start retraining.
- `drifted_feature_count` (`<model>-retrain-drifted-features`): at least
  `drift.min_drifted_features` features drifted.
- `performance_slo` (`<model>-retrain-performance-slo`, when `drift.performance_slo` is set):
  the SLO metric fell below its minimum on a window with enough labels.
- `estimated_performance` (`<model>-retrain-estimated-performance`, when `drift.estimated_slo` is
  set): the metric as a binary classifier's calibrated scores estimate it, on windows with enough
  predictions (pipelines.drift.estimation), fell below its minimum.
- `label_drift` (`<model>-retrain-label-drift`, binary classifiers): the labelled positive rate
  moved from the baseline's by Cohen's h >= `drift.label_shift_threshold`.
- `ood_share` (`<model>-retrain-ood-share`, when `drift.max_ood_share` is set): a feature has more
  than that share of the window's values outside the training range or in unseen categories.
These carry `triggers_retraining` when `trigger.retrain_on` lists them (the first two by default);
one left out is named `<model>-watch-...` and starts nothing. The `retrain` alarms share the
name prefix `retraining_alarm_prefix(config)`. All use `trigger.datapoints_to_alarm` of
`trigger.evaluation_periods`, the period `drift.alarm_period_seconds` and
`drift.treat_missing_data`.
Besides these alarms, `monitor_silent_spec` (`<model>-monitor-silent`) alarms, to the alert topic, when
the monitor judged no window in its whole evaluation range: the retraining alarms are then blind.

Evaluation follows the CloudWatch user guide ("Configuring how CloudWatch alarms treat missing
data"), for N = evaluation periods and M = datapoints to alarm, over the datapoints of the
evaluation range (one aggregated value per period, None when missing):
1. at least N real datapoints: the most recent N real ones decide (ALARM when >= M breach);
   the missing-data setting plays no part;
2. no real datapoint: `missing` -> INSUFFICIENT_DATA, `ignore` -> the current state,
   `breaching` -> ALARM, `notBreaching` -> OK;
3. some but fewer than N: `breaching` fills the missing slots with breaching datapoints and
   `notBreaching` with good ones, and all real datapoints count. `missing` and `ignore` judge the
   real datapoints alone: ALARM when M of them breach, OK when fewer breach and one of them is
   within the threshold; when every real one breaches but fewer than M, the alarm waits
   (`missing` -> INSUFFICIENT_DATA, `ignore` keeps the state) unless the oldest of them is at
   least M periods old and nothing newer is good, the guide's "premature alarm state", where
   `missing` goes to ALARM and `ignore` keeps the state.
The guide's tables (5 periods, 3 evaluation periods, 3 or 2 datapoints to alarm) are cases of
tests/unit/test_alarms.py. CloudWatch retrieves more periods than N for an evaluation (5 for N = 3
in the guide's example, by an undocumented rule for other periods: `evaluation_range` takes N + 2);
`evaluate_alarms` takes the range as `range_periods` (default N) and the backtest evaluates N. The
re-arm after a change of production waits for the whole range (`rearm_time`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pipelines import naming
from pipelines.config import FeatureType, ModelConfig, PerformanceSlo
from pipelines.drift.metrics import (
    DRIFTED_FEATURE_COUNT,
    FEATURE_METRICS,
    INPUTS_SIGNAL,
    LABEL_SHIFT,
    LABEL_SIGNAL,
    PERFORMANCE_METRICS,
    estimated_dimensions,
    feature_dimensions,
    model_dimensions,
    signal_dimensions,
)
from pipelines.drift.verdict import statistics_for, threshold
from pipelines.monitoring.metrics_store import MetricsStore
from pipelines.trigger import TriggerPolicy, retry_delay

AlarmKind = Literal[
    "feature_drift",
    "drifted_feature_count",
    "performance_slo",
    "estimated_performance",
    "label_drift",
    "ood_share",
    "monitor_silent",
]
AlarmState = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
# What a re-arm sets the retraining alarms to after a change of production: not judged since
# (SetAlarmState's StateValue is OK, ALARM or INSUFFICIENT_DATA: CloudWatch API Reference, and
# botocore's cloudwatch model, which the promotion function tests' Stubber validates against).
# Under `ignore` (the default) a range still without data keeps that state, so an alarm whose new
# champion has no datapoint yet shows INSUFFICIENT_DATA, never a green OK; the next evaluation
# with data decides, and a transition from it to ALARM starts a retrain. That evaluation comes at
# once: "Metric alarms return to their actual state quickly, often within seconds" (SetAlarmState,
# CloudWatch API Reference), so an alarm whose datapoints still breach goes back to ALARM, and the
# change announces it (the EventBridge rule matches a change to ALARM from any state).
REARMED_STATE: AlarmState = "INSUFFICIENT_DATA"
# PutMetricAlarm (Amazon CloudWatch API Reference, and botocore's cloudwatch model): AlarmName 1-255
# characters, AlarmDescription at most 1024. Longer names are cut with a hash (`naming.alarm_name`); a
# description holds a feature name, which the config keeps to 255 characters.
MAX_ALARM_NAME = 255
MAX_ALARM_DESCRIPTION = 1024

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
_STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "Maximum": max,
    "Minimum": min,
    "Sum": sum,
    "Average": lambda values: sum(values) / len(values),
    "SampleCount": lambda values: float(len(values)),
}


@dataclass(frozen=True)
class AlarmSpec:
    name: str
    description: str
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
    period_seconds: int
    comparison: str
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str
    kind: AlarmKind
    triggers_retraining: bool
    feature: str | None = None
    drift_statistic: str | None = None

    @property
    def dimensions_map(self) -> dict[str, str]:
        return dict(self.dimensions)

    def is_breaching(self, value: float) -> bool:
        return COMPARISONS[self.comparison](value, self.threshold)

    def put_metric_alarm_request(self) -> dict[str, Any]:
        """The PutMetricAlarm request for this alarm (no actions: EventBridge routes state changes)."""
        return {
            "AlarmName": self.name,
            "AlarmDescription": self.description,
            "Namespace": self.namespace,
            "MetricName": self.metric_name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions],
            "Statistic": self.statistic,
            "Period": self.period_seconds,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.datapoints_to_alarm,
            "Threshold": self.threshold,
            "ComparisonOperator": self.comparison,
            "TreatMissingData": self.treat_missing_data,
        }


def retraining_alarm_prefix(config: ModelConfig) -> str:
    return naming.alarm_name(config.model.name, "retrain", "")


def retraining_alarm_names(config: ModelConfig) -> list[str]:
    """The alarms whose transition to ALARM starts a retrain (the promotion controller re-arms them)."""
    return [spec.name for spec in alarm_specs(config) if spec.triggers_retraining]


# CloudWatch evaluates an alarm on more periods than N, its evaluation range, and counts "any real
# data points in the evaluation range, no matter when they were reported" when fewer than N are real
# (CloudWatch user guide, AlarmThatSendsEmail.md, "How alarm state is evaluated when data is
# missing"). The guide's example retrieves 5 periods for N = 3 and gives no rule for other periods
# ("depends on the length of the alarm period"); this project takes N + 2.
EXTRA_RANGE_PERIODS = 2


def evaluation_range(evaluation_periods: int) -> int:
    """The periods CloudWatch retrieves to evaluate an alarm of N evaluation periods (see above)."""
    return evaluation_periods + EXTRA_RANGE_PERIODS


def rearm_time(changed_at: datetime, config: ModelConfig) -> datetime:
    """When the retraining alarms are re-armed after production changed at `changed_at`: once
    their whole evaluation range (`evaluation_range`) was measured against the new champion.
    CloudWatch re-evaluates a re-armed alarm at once on the datapoints the range holds; re-armed
    earlier, the old champion's breaching datapoints would start another retrain the new model may
    not need (while the new one's labels are still to come, nothing outweighs them)."""
    periods = evaluation_range(config.trigger.evaluation_periods)
    return changed_at + timedelta(seconds=config.drift.alarm_period_seconds * periods)


def rearm_after_rejection(rejected_at: datetime, rejections: int, config: ModelConfig) -> datetime:
    """When the retraining alarms are re-armed after the `rejections`-th shadow rejection since
    production last changed: at once after the first; after each further one, with the back-off of
    a failed run's retry (`pipelines.trigger.retry_delay`: one cooldown, then 2, 4, ... up to 7
    days), so a breach that no candidate fixes retrains ever less often instead of once a shadow."""
    if rejections <= 1:
        return rejected_at
    trigger = config.trigger
    policy = TriggerPolicy.from_settings(cooldown_hours=trigger.cooldown_hours, max_staleness_days=None)
    return rejected_at + retry_delay(policy, rejections - 1)


def monitor_silent_spec(config: ModelConfig) -> AlarmSpec:
    """The alarm that says the loop is blind: no window judged (no drifted-feature count published)
    in any period of its evaluation range (N + 2 periods: CloudWatch counts every real datapoint of
    the range, and one judged window keeps it OK; N is `drift.monitor_silent_periods`, by default
    the retraining alarms' N). A stopped schedule, a failing launcher, captured
    traffic that stopped or fell under `drift.min_window_rows` all look alike to the retraining
    alarms: under `ignore` they keep their state, one in ALARM stays there and its failed runs
    are retried. A period without a datapoint is missing, not a SampleCount of 0 ("the result is an
    empty period (rather than a zero value)": AWS re:Post knowledge center,
    cloudwatch-alarm-insufficient-data-state), and missing periods breach ("Missing data points are
    treated as breaching the threshold", CDK TreatMissingData.BREACHING; CloudWatch user guide,
    "Configuring how CloudWatch alarms treat missing data": with none real in the range, ALARM).
    It starts nothing: its ALARM and OK go to the alert topic. Not in
    `alarm_specs`: it watches the monitor, not the model."""
    model, n = config.model.name, config.drift.monitor_silent_periods or config.trigger.evaluation_periods
    return AlarmSpec(
        name=naming.monitor_silent_alarm(model),
        description=(
            f"{model}: the drift monitor judged no window in the last {evaluation_range(n)} periods of "
            f"{config.drift.alarm_period_seconds} s; the retraining alarms see nothing (check the monitor schedule, "
            "its launcher's log and the endpoint's data capture)"
        ),
        namespace=config.drift.metric_namespace,
        metric_name=DRIFTED_FEATURE_COUNT,
        dimensions=tuple(model_dimensions(model).items()),
        statistic="SampleCount",
        period_seconds=config.drift.alarm_period_seconds,
        comparison="LessThanThreshold",
        threshold=1.0,
        evaluation_periods=n,
        datapoints_to_alarm=n,
        treat_missing_data="breaching",
        kind="monitor_silent",
        triggers_retraining=False,
    )


def _signal_alarm_name(config: ModelConfig, signal: str) -> str:
    """`<model>-retrain-<signal>` when the alarm starts retraining (`trigger.retrain_on`), else
    `<model>-watch-<signal>`: the name says what an ALARM does."""
    kind = "retrain" if signal in config.retrain_signals else "watch"
    return naming.alarm_name(config.model.name, kind, signal.replace("_", "-"))


def _objective_spec(
    config: ModelConfig,
    signal: str,
    slo: PerformanceSlo,
    dimensions: Mapping[str, str],
    judged: str,
    common: Mapping[str, Any],
    m_of_n: str,
) -> AlarmSpec:
    """The alarm of a performance objective: the metric below its floor (or above its ceiling)."""
    floor = slo.bound == "min"
    return AlarmSpec(
        name=_signal_alarm_name(config, signal),
        description=(
            f"{config.model.name}: {slo.metric} {'below' if floor else 'above'} {slo.threshold:g} {judged} {m_of_n}"
        ),
        metric_name=PERFORMANCE_METRICS[slo.metric],
        dimensions=tuple(dimensions.items()),
        statistic="Minimum" if floor else "Maximum",
        comparison="LessThanThreshold" if floor else "GreaterThanThreshold",
        threshold=slo.threshold,
        kind=signal,  # type: ignore[arg-type]  # a signal's kind is its name
        triggers_retraining=signal in config.retrain_signals,
        **common,
    )


def alarm_specs(config: ModelConfig) -> list[AlarmSpec]:
    model = config.model.name
    drift = config.drift
    common: dict[str, Any] = {
        "namespace": drift.metric_namespace,
        "period_seconds": drift.alarm_period_seconds,
        "evaluation_periods": config.trigger.evaluation_periods,
        "datapoints_to_alarm": config.trigger.datapoints_to_alarm,
        "treat_missing_data": drift.treat_missing_data,
    }
    m_of_n = f"in {config.trigger.datapoints_to_alarm} of {config.trigger.evaluation_periods} periods"
    specs = []
    for feature in config.model.features:
        kind = "numeric" if feature.type is FeatureType.numeric else "categorical"
        for statistic in statistics_for(kind):
            limit = threshold(drift, statistic)
            specs.append(
                AlarmSpec(
                    name=naming.alarm_name(model, "drift", feature.name, statistic.replace("_", "-")),
                    description=f"{model}: {statistic} of feature '{feature.name}' >= {limit:g} {m_of_n}",
                    metric_name=FEATURE_METRICS[statistic],
                    dimensions=tuple(feature_dimensions(model, feature.name).items()),
                    statistic="Maximum",
                    comparison="GreaterThanOrEqualToThreshold",
                    threshold=limit,
                    kind="feature_drift",
                    triggers_retraining=False,
                    feature=feature.name,
                    drift_statistic=statistic,
                    **common,
                )
            )
    retraining = config.retrain_signals
    specs.append(
        AlarmSpec(
            name=_signal_alarm_name(config, "drifted_features"),
            description=f"{model}: at least {drift.min_drifted_features} features drifted {m_of_n}",
            metric_name=DRIFTED_FEATURE_COUNT,
            dimensions=tuple(model_dimensions(model).items()),
            statistic="Maximum",
            comparison="GreaterThanOrEqualToThreshold",
            threshold=float(drift.min_drifted_features),
            kind="drifted_feature_count",
            triggers_retraining="drifted_features" in retraining,
            **common,
        )
    )
    for signal, slo, dimensions, judged in (
        ("performance_slo", drift.performance_slo, model_dimensions(model), "on labelled windows"),
        (
            "estimated_performance",
            drift.estimated_slo,
            estimated_dimensions(model),
            f"as the scores estimate it before labels come, on windows of at least "
            f"{drift.min_predictions_for_estimate} predictions",
        ),
    ):
        if slo is not None:
            specs.append(_objective_spec(config, signal, slo, dimensions, judged, common, m_of_n))
    if config.model.problem_type == "binary_classification":
        specs.append(
            AlarmSpec(
                name=_signal_alarm_name(config, "label_drift"),
                description=(
                    f"{model}: the labelled positive rate moved from the baseline's by Cohen's h >= "
                    f"{drift.label_shift_threshold:g} on windows with enough labels {m_of_n}"
                ),
                metric_name=LABEL_SHIFT,
                dimensions=tuple(signal_dimensions(model, LABEL_SIGNAL).items()),
                statistic="Maximum",
                comparison="GreaterThanOrEqualToThreshold",
                threshold=drift.label_shift_threshold,
                kind="label_drift",
                triggers_retraining="label_drift" in retraining,
                **common,
            )
        )
    if drift.max_ood_share is not None:
        specs.append(
            AlarmSpec(
                name=_signal_alarm_name(config, "ood_share"),
                description=(
                    f"{model}: a feature has more than {drift.max_ood_share:g} of a window's values outside the "
                    f"training range or in unseen categories {m_of_n}"
                ),
                metric_name=FEATURE_METRICS["ood_share"],
                dimensions=tuple(signal_dimensions(model, INPUTS_SIGNAL).items()),
                statistic="Maximum",
                comparison="GreaterThanThreshold",
                threshold=drift.max_ood_share,
                kind="ood_share",
                triggers_retraining="ood_share" in retraining,
                **common,
            )
        )
    names = [s.name for s in specs]
    if len(set(names)) != len(names):  # only reachable through features whose names collide when cut
        raise ValueError(f"alarm names are not unique: {sorted({n for n in names if names.count(n) > 1})}")
    return specs


@dataclass(frozen=True)
class AlarmEvaluation:
    state: AlarmState
    reason: str
    breaching: int
    real_datapoints: int


def evaluate_alarm(
    spec: AlarmSpec, datapoints: Sequence[float | None], previous_state: AlarmState = "INSUFFICIENT_DATA"
) -> AlarmEvaluation:
    """The alarm's state after evaluating `datapoints` (the evaluation range, oldest first, one
    aggregated value per period, None for a missing period). Rules in the module docstring."""
    n, m = spec.evaluation_periods, spec.datapoints_to_alarm
    real = [v for v in datapoints if v is not None]
    if len(real) >= n:
        recent = real[-n:]
        count = sum(spec.is_breaching(v) for v in recent)
        return _decided(spec, count >= m, count, n, f"{count} of the last {n} datapoints breach")

    if not real:
        treat = spec.treat_missing_data
        if treat == "breaching":
            return AlarmEvaluation("ALARM", "no data: treated as breaching", n, 0)
        if treat == "notBreaching":
            return AlarmEvaluation("OK", "no data: treated as not breaching", 0, 0)
        if treat == "ignore":
            return AlarmEvaluation(previous_state, "no data: state kept (ignore)", 0, 0)
        return AlarmEvaluation("INSUFFICIENT_DATA", "no data in the evaluation range", 0, 0)

    count = sum(spec.is_breaching(v) for v in real)
    fill = n - len(real)
    detail = f"{count} of {len(real)} real datapoints breach, {fill} missing"
    treat = spec.treat_missing_data
    if treat == "breaching":
        return _decided(spec, count + fill >= m, count + fill, len(real), detail + " (treated as breaching)")
    if treat == "notBreaching":
        return _decided(spec, count >= m, count, len(real), detail + " (treated as not breaching)")
    if count >= m:
        return _decided(spec, True, count, len(real), detail)
    if count < len(real):  # a real datapoint within the threshold: fewer than M breach
        return _decided(spec, False, count, len(real), detail)
    # every real datapoint breaches, fewer than M of them
    oldest = len(datapoints) - next(i for i, v in enumerate(datapoints) if v is not None)  # periods ago
    if oldest >= m:  # the guide's "premature alarm state": missing alarms, ignore keeps the state
        premature = f"{detail}; the oldest breaching datapoint is {oldest} periods old (premature alarm)"
        if treat == "missing":
            return AlarmEvaluation("ALARM", premature, count, len(real))
        return AlarmEvaluation(previous_state, premature + ": state kept (ignore)", count, len(real))
    wait = f"{detail}; too recent to decide"
    if treat == "missing":
        return AlarmEvaluation("INSUFFICIENT_DATA", wait, count, len(real))
    return AlarmEvaluation(previous_state, wait + ": state kept (ignore)", count, len(real))


def _decided(spec: AlarmSpec, alarm: bool, count: int, real: int, detail: str) -> AlarmEvaluation:
    needed = f"{spec.datapoints_to_alarm} needed, threshold {spec.comparison} {spec.threshold:g}"
    return AlarmEvaluation("ALARM" if alarm else "OK", f"{detail}; {needed}", count, real)


def period_values(
    spec: AlarmSpec, points: Sequence[tuple[datetime, float]], end: datetime, periods: int
) -> list[float | None]:
    """Aggregate raw datapoints into the `periods` whole periods that end at or before `end`
    (aligned to multiples of the period since the epoch, as CloudWatch aligns them), oldest first."""
    length = spec.period_seconds
    last_end = int(end.timestamp()) // length * length
    first_start = last_end - periods * length
    buckets: list[list[float]] = [[] for _ in range(periods)]
    for moment, value in points:
        offset = int(moment.timestamp()) - first_start
        if 0 <= offset < periods * length:
            buckets[offset // length].append(value)
    aggregate = _STATISTICS[spec.statistic]
    return [aggregate(bucket) if bucket else None for bucket in buckets]


def evaluate_alarms(
    specs: Sequence[AlarmSpec],
    store: MetricsStore,
    at: datetime,
    previous: Mapping[str, AlarmState] | None = None,
    *,
    range_periods: int | None = None,
) -> dict[str, AlarmEvaluation]:
    """Every alarm's state at time `at` from the local metrics store. The evaluation range is
    `range_periods` periods (default: the alarm's evaluation periods)."""
    previous = previous or {}
    results = {}
    for spec in specs:
        periods = max(range_periods or spec.evaluation_periods, spec.evaluation_periods)
        start = at - timedelta(seconds=spec.period_seconds * (periods + 1))
        points = store.datapoints(spec.namespace, spec.metric_name, spec.dimensions_map, start, at)
        values = period_values(spec, points, at, periods)
        results[spec.name] = evaluate_alarm(spec, values, previous.get(spec.name, "INSUFFICIENT_DATA"))
    return results


@dataclass(frozen=True)
class StateChange:
    """A local "CloudWatch Alarm State Change": what EventBridge would deliver to the retrain trigger."""

    alarm: str
    time: datetime
    previous: AlarmState
    state: AlarmState
    reason: str


def replay_alarms(specs: Sequence[AlarmSpec], store: MetricsStore, start: datetime, end: datetime) -> list[StateChange]:
    """Evaluate every alarm at the end of each period from `start` to `end` and return the state
    changes in time order, as CloudWatch would have emitted them."""
    changes: list[StateChange] = []
    for spec in specs:
        state: AlarmState = "INSUFFICIENT_DATA"
        step = timedelta(seconds=spec.period_seconds)
        moment = datetime.fromtimestamp((int(start.timestamp()) // spec.period_seconds + 1) * spec.period_seconds, UTC)
        while moment <= end:
            result = evaluate_alarms([spec], store, moment, {spec.name: state})[spec.name]
            if result.state != state:
                changes.append(StateChange(spec.name, moment, state, result.state, result.reason))
                state = result.state
            moment += step
    return sorted(changes, key=lambda change: (change.time, change.alarm))
