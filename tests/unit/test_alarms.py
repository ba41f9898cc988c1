"""Alarm specs from config, and the evaluator's M-of-N and missing-data rules against hand-computed
expectations (the M = N = 3 rows are the CloudWatch user guide's own example table)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipelines import naming
from pipelines.backtest.sweep import configured
from pipelines.config import ModelConfig
from pipelines.drift.metrics import DRIFTED_FEATURE_COUNT, model_dimensions
from pipelines.errors import ConfigError
from pipelines.monitoring.alarms import (
    AlarmSpec,
    alarm_specs,
    evaluate_alarm,
    evaluate_alarms,
    evaluation_range,
    monitor_silent_spec,
    period_values,
    rearm_time,
    retraining_alarm_names,
    retraining_alarm_prefix,
)
from pipelines.monitoring.metrics_store import MetricsStore
from tests.conftest import ROOT

X, G, _ = 2.0, 0.0, None  # breaching, good (not breaching), missing; the threshold is >= 1


def spec(n: int, m: int, treat: str, comparison: str = "GreaterThanOrEqualToThreshold") -> AlarmSpec:
    return AlarmSpec(
        name="m-retrain-test",
        description="test",
        namespace="DriftRetraining",
        metric_name="DriftedFeatureCount",
        dimensions=(("Model", "m"),),
        statistic="Maximum",
        period_seconds=3600,
        comparison=comparison,
        threshold=1.0,
        evaluation_periods=n,
        datapoints_to_alarm=m,
        treat_missing_data=treat,
        kind="drifted_feature_count",
        triggers_retraining=True,
    )


KEEP = "keep"  # the previous state is kept
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")
# The CloudWatch user guide's tables ("Configuring how CloudWatch alarms treat missing data", in
# AlarmThatSendsEmail.md of awsdocs/amazon-cloudwatch-user-guide): an evaluation range of 5 periods,
# 3 evaluation periods, 3 or 2 datapoints to alarm. Rows marked "older guide" come from its earlier
# revision, whose last 2-of-3 row the current one replaced with the premature-alarm example.
CASES = [
    # (N, M, datapoints oldest first, expected state per treatment in TREATMENTS order)
    (3, 3, [G, _, X, _, X], ("OK", "OK", "OK", "OK")),
    (3, 3, [G, _, _, _, _], ("OK", "OK", "OK", "OK")),
    (3, 3, [_, _, _, _, _], ("INSUFFICIENT_DATA", KEEP, "ALARM", "OK")),
    (3, 3, [G, X, X, _, X], ("ALARM", "ALARM", "ALARM", "ALARM")),
    (3, 3, [_, _, X, _, _], ("ALARM", KEEP, "ALARM", "OK")),  # premature alarm: X is 3 periods old
    (3, 3, [_, _, _, _, X], ("INSUFFICIENT_DATA", KEEP, "ALARM", "OK")),  # older guide
    (3, 2, [G, _, X, _, X], ("ALARM", "ALARM", "ALARM", "ALARM")),
    (3, 2, [G, G, X, G, X], ("ALARM", "ALARM", "ALARM", "ALARM")),
    (3, 2, [G, _, X, _, _], ("OK", "OK", "ALARM", "OK")),
    (3, 2, [_, _, _, _, G], ("OK", "OK", "ALARM", "OK")),
    (3, 2, [_, _, _, X, _], ("ALARM", KEEP, "ALARM", "OK")),  # premature alarm: X is 2 periods old
    (3, 2, [_, _, _, _, X], ("INSUFFICIENT_DATA", KEEP, "ALARM", "OK")),  # older guide
    # the same rules on a range of exactly N periods, as the backtest evaluates
    (3, 2, [X, _, _], ("ALARM", KEEP, "ALARM", "OK")),
    (3, 2, [X, G, _], ("OK", "OK", "ALARM", "OK")),
    (3, 2, [X, X, G], ("ALARM", "ALARM", "ALARM", "ALARM")),
    (3, 2, [G, X, G], ("OK", "OK", "OK", "OK")),
    (3, 2, [X, G, X], ("ALARM", "ALARM", "ALARM", "ALARM")),
    (1, 1, [G], ("OK", "OK", "OK", "OK")),
    (1, 1, [X], ("ALARM", "ALARM", "ALARM", "ALARM")),
]


@pytest.mark.parametrize(("n", "m", "points", "expected"), CASES)
@pytest.mark.parametrize("previous", ["OK", "ALARM"])
def test_m_of_n_with_each_missing_data_treatment(
    n: int, m: int, points: list[float | None], expected: tuple[str, ...], previous: str
) -> None:
    for treat, want in zip(TREATMENTS, expected, strict=True):
        result = evaluate_alarm(spec(n, m, treat), points, previous_state=previous)  # type: ignore[arg-type]
        assert result.state == (previous if want == KEEP else want), (treat, points)


def test_the_most_recent_real_datapoints_decide_when_there_are_enough() -> None:
    # Five real datapoints with gaps: the last three real ones (X, X, G) decide, 2 of 3 -> ALARM.
    result = evaluate_alarm(spec(3, 2, "notBreaching"), [G, G, _, X, X, _, G])
    assert result.state == "ALARM" and result.breaching == 2 and result.real_datapoints == 3


def test_less_than_comparison_for_performance_slo() -> None:
    slo = spec(2, 2, "missing", comparison="LessThanThreshold")
    assert evaluate_alarm(slo, [0.5, 0.9]).state == "ALARM"
    assert evaluate_alarm(slo, [0.5, 1.0]).state == "OK"  # 1.0 is not below 1.0


def test_labels_pending_after_a_promotion_do_not_refire_the_slo_alarm_on_the_old_champion(config: ModelConfig) -> None:
    """After a promotion the monitor publishes no realized performance until the new champion's
    labels come (the hour store keeps predictions per champion baseline), and the old champion's
    datapoints age out of the range. Under CloudWatch's own default, `missing`, that turned the
    SLO alarm OK ([X, G, -]) and then ALARM again ([X, -, -]: the guide's premature alarm), a new
    ALARM event on evidence about a model no longer serving and a retrain nobody needs (a backtest
    started one: bench/label_delay.py, seed 9). The default, `ignore`, keeps the state where
    `missing` would alarm prematurely: the alarm settles OK and stays there."""
    slo = next(s for s in alarm_specs(config) if s.kind == "performance_slo")
    breach, good = slo.threshold - 0.1, slo.threshold + 0.01
    ranges = [[breach, good, breach], [good, breach, None], [breach, None, None], [None, None, None]]

    def states(treat: str) -> list[str]:
        spec, state, found = replace(slo, treat_missing_data=treat), "ALARM", []
        for datapoints in ranges:  # the day of the promotion, then each day while labels are pending
            state = evaluate_alarm(spec, datapoints, previous_state=state).state  # type: ignore[arg-type]
            found.append(state)
        return found

    assert slo.treat_missing_data == "ignore"
    assert states("ignore") == ["ALARM", "OK", "OK", "OK"]
    assert states("missing") == ["ALARM", "OK", "ALARM", "INSUFFICIENT_DATA"]  # the re-fire


def test_a_rearm_is_due_once_the_guides_evaluation_range_holds_no_period_of_the_old_champion(
    config: ModelConfig,
) -> None:
    """CloudWatch evaluates more periods than N: 5 for N = 3 in the user guide's example, and "any
    real data points in the evaluation range, no matter when they were reported, are included"
    (AlarmThatSendsEmail.md, "How alarm state is evaluated when data is missing"). Re-armed N
    periods after a promotion, with the new champion's labels still to come, the SLO alarm's range
    still held the old champion's last breaching datapoints, and under `ignore` (fewer than N real
    ones, M of them breaching) they put it back in ALARM: a retrain on a model no longer serving."""
    slo = next(s for s in alarm_specs(config) if s.kind == "performance_slo")
    n, breach = slo.evaluation_periods, slo.threshold - 0.1
    assert (n, slo.datapoints_to_alarm, evaluation_range(n)) == (3, 2, 5)  # the guide's example range
    changed = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    period = timedelta(seconds=slo.period_seconds)
    old = [(changed - period * k + period / 2, breach) for k in (3, 2, 1)]  # the old champion's last periods

    at_n = period_values(slo, old, changed + period * n, evaluation_range(n))
    assert at_n == [breach, breach, None, None, None]
    assert evaluate_alarm(slo, at_n, "INSUFFICIENT_DATA").state == "ALARM"  # what a re-arm then would start

    due = rearm_time(changed, config)
    assert due == changed + period * evaluation_range(n)
    at_due = period_values(slo, old, due, evaluation_range(n))
    assert at_due == [None] * 5
    assert evaluate_alarm(slo, at_due, "INSUFFICIENT_DATA").state == "INSUFFICIENT_DATA"


def test_period_values_aggregate_by_statistic_in_aligned_periods() -> None:
    alarm = spec(3, 2, "missing")
    t = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    points = [
        (t.replace(hour=7, minute=5), 1.0),
        (t.replace(hour=7, minute=50), 4.0),
        (t.replace(hour=9, minute=0), 2.0),
        (t.replace(hour=10, minute=0), 9.0),  # the period that starts at `end` is not complete
    ]
    assert period_values(alarm, points, t.replace(minute=30), 3) == [4.0, None, 2.0]


def test_alarm_specs_follow_the_config(config: ModelConfig) -> None:
    specs = alarm_specs(config)
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    assert all(name.startswith(f"{config.model.name}-") for name in names)

    features = [s for s in specs if s.kind == "feature_drift"]
    numeric = sum(f.type.value == "numeric" for f in config.model.features)
    categorical = len(config.model.features) - numeric
    assert len(features) == numeric * 6 + categorical * 5
    psi = next(s for s in features if s.feature == "amount" and s.drift_statistic == "psi")
    assert psi.name == "fraud-detector-drift-amount-psi"
    assert (psi.metric_name, psi.dimensions_map) == ("PSI", {"Model": "fraud-detector", "Feature": "amount"})
    assert (psi.threshold, psi.comparison, psi.statistic) == (0.2, "GreaterThanOrEqualToThreshold", "Maximum")
    assert (psi.evaluation_periods, psi.datapoints_to_alarm, psi.period_seconds) == (3, 2, 3600)
    assert psi.treat_missing_data == "ignore" and not psi.triggers_retraining
    cramers = next(s for s in features if s.feature == "risk_band" and s.drift_statistic == "cramers_v")
    assert cramers.metric_name == "CramersV" and cramers.threshold == config.drift.cramers_v_threshold

    retrain = [s for s in specs if s.triggers_retraining]
    assert {s.kind for s in retrain} == {"drifted_feature_count", "performance_slo"}
    assert all(s.name.startswith(retraining_alarm_prefix(config)) for s in retrain)
    count = next(s for s in retrain if s.kind == "drifted_feature_count")
    assert (count.metric_name, count.threshold, count.dimensions_map) == (
        "DriftedFeatureCount",
        2.0,
        {"Model": "fraud-detector"},
    )
    slo = next(s for s in retrain if s.kind == "performance_slo")
    assert (slo.metric_name, slo.comparison, slo.threshold, slo.statistic) == (
        "PRAUC",
        "LessThanThreshold",
        0.45,
        "Minimum",
    )


def test_no_performance_alarm_without_an_slo(config: ModelConfig) -> None:
    drift = config.drift.model_copy(update={"performance_slo": None})
    without = config.model_copy(update={"drift": drift})
    assert all(s.kind != "performance_slo" for s in alarm_specs(without))


def test_retrain_on_picks_the_alarms_that_start_a_retrain(config: ModelConfig) -> None:
    labels_only = configured(config, {"trigger.retrain_on": ["performance_slo"]})
    kinds = {s.kind: s for s in alarm_specs(labels_only) if s.kind != "feature_drift"}
    count, slo = kinds["drifted_feature_count"], kinds["performance_slo"]
    assert (count.name, count.triggers_retraining) == ("fraud-detector-watch-drifted-features", False)
    assert (slo.name, slo.triggers_retraining) == ("fraud-detector-retrain-performance-slo", True)
    assert retraining_alarm_names(labels_only) == ["fraud-detector-retrain-performance-slo"]
    assert retraining_alarm_names(config) == [
        "fraud-detector-retrain-drifted-features",
        "fraud-detector-retrain-performance-slo",
    ]


def test_a_config_in_which_nothing_starts_a_retrain_is_refused(config: ModelConfig) -> None:
    with pytest.raises(ConfigError, match=r"nothing would ever start a retrain: trigger.retrain_on \[\]"):
        configured(config, {"trigger.retrain_on": [], "trigger.max_staleness_days": None})
    no_slo = {"drift.performance_slo": None, "trigger.max_staleness_days": None}
    with pytest.raises(ConfigError, match=r"performance_slo needs drift\.performance_slo"):
        configured(config, {**no_slo, "trigger.retrain_on": ["performance_slo"]})
    staleness_only = configured(config, {"trigger.retrain_on": [], "trigger.max_staleness_days": 30})
    assert retraining_alarm_names(staleness_only) == []
    with pytest.raises(ConfigError, match=r"trigger\.retrain_on"):
        configured(config, {"trigger.retrain_on": ["calendar"]})


def test_put_metric_alarm_request_carries_every_setting(config: ModelConfig) -> None:
    request = alarm_specs(config)[0].put_metric_alarm_request()
    assert request["AlarmName"] == "fraud-detector-drift-amount-psi"
    assert request["Dimensions"] == [
        {"Name": "Model", "Value": "fraud-detector"},
        {"Name": "Feature", "Value": "amount"},
    ]
    assert (request["EvaluationPeriods"], request["DatapointsToAlarm"], request["TreatMissingData"]) == (
        3,
        2,
        "ignore",
    )


def test_alarm_specs_load_without_the_numeric_stack() -> None:
    # The CDK app imports this module at synth: it must not pull pandas, scipy or scikit-learn.
    import subprocess
    import sys

    code = (
        "import sys, pipelines.monitoring.alarms; "
        "print(sorted(m for m in ('pandas', 'scipy', 'sklearn') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"


def test_the_longest_feature_name_the_config_allows_fits_cloudwatch(config: ModelConfig) -> None:
    from pipelines.monitoring.alarms import MAX_ALARM_DESCRIPTION, MAX_ALARM_NAME, alarm_specs

    longest = "f" * 255
    features = [config.model.features[0].model_copy(update={"name": longest}), *config.model.features[1:]]
    specs = alarm_specs(config.model_copy(update={"model": config.model.model_copy(update={"features": features})}))
    mine = [s for s in specs if s.feature == longest]
    assert mine and all(len(s.name) <= MAX_ALARM_NAME for s in specs)
    assert all(len(s.description) <= MAX_ALARM_DESCRIPTION for s in specs)
    assert all(len(value) <= 255 for s in mine for _, value in s.dimensions)


def test_the_silent_monitor_alarm_fires_once_no_window_was_judged_for_the_alarms_evaluation_periods(
    config: ModelConfig, tmp_path: Path
) -> None:
    """Under `ignore` a retraining alarm keeps its state while the monitor publishes nothing (a
    stopped schedule, no captured traffic): one in ALARM stays there, failed runs are retried for
    as long, and nobody learns that the loop is blind. The silent-monitor alarm treats a period
    without a judged window as breaching (CloudWatch's `breaching`: "Missing data points are treated
    as breaching the threshold", CDK TreatMissingData), so N such periods in a row are an ALARM."""
    silent = monitor_silent_spec(config)
    assert silent.name == naming.monitor_silent_alarm(config.model.name)
    assert (silent.metric_name, silent.statistic, silent.treat_missing_data) == (
        DRIFTED_FEATURE_COUNT,
        "SampleCount",
        "breaching",
    )
    assert silent.evaluation_periods == silent.datapoints_to_alarm == config.trigger.evaluation_periods
    # what on-call reads: the periods it actually waited (the whole range), not N
    wide = evaluation_range(silent.evaluation_periods)
    assert f"judged no window in the last {wide} periods of {config.drift.alarm_period_seconds} s" in silent.description
    assert not silent.triggers_retraining and silent not in alarm_specs(config)
    store = MetricsStore(tmp_path / "metrics.sqlite")
    day = timedelta(seconds=config.drift.alarm_period_seconds)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    dimensions = [{"Name": k, "Value": v} for k, v in model_dimensions(config.model.name).items()]
    for judged in range(3):  # the monitor judges the first three days' windows, then stops
        datum = {"MetricName": DRIFTED_FEATURE_COUNT, "Dimensions": dimensions, "Value": 0.0}
        store.put_metric_data(
            Namespace=silent.namespace,
            MetricData=[datum | {"Timestamp": start + day * (judged + 1) - timedelta(seconds=1)}],
        )

    n = silent.evaluation_periods

    def state(periods: int, range_periods: int = n) -> str:
        return evaluate_alarms([silent], store, start + day * periods, range_periods=range_periods)[silent.name].state

    assert state(3) == "OK"
    assert [state(3 + blind) for blind in range(1, n + 1)] == ["OK"] * (n - 1) + ["ALARM"]
    # CloudWatch counts every real datapoint of its evaluation range (N + 2 periods here): one
    # judged window in it keeps the alarm OK, so it fires once the whole range is blind
    wide = evaluation_range(n)
    assert [state(3 + blind, wide) for blind in range(1, wide + 1)] == ["OK"] * (wide - 1) + ["ALARM"]


def test_the_silent_monitor_alarm_has_its_own_periods(config: ModelConfig) -> None:
    """An hourly monitor on traffic with quiet nights would page every night after N + 2 hours
    without a judged window; `drift.monitor_silent_periods` gives the alarm its own N."""
    quiet = configured(config, {"drift.monitor_silent_periods": 24})
    silent = monitor_silent_spec(quiet)
    assert silent.evaluation_periods == silent.datapoints_to_alarm == 24
    assert quiet.trigger.evaluation_periods == config.trigger.evaluation_periods != 24
    # PutMetricAlarm takes Period x EvaluationPeriods up to 7 days (1 day under an hour's period):
    # a longer one was valid here and failed at `cdk deploy`
    period = config.drift.alarm_period_seconds
    most = (86_400 if period < 3600 else 604_800) // period
    assert monitor_silent_spec(configured(config, {"drift.monitor_silent_periods": most})).evaluation_periods == most
    for field in ("drift.monitor_silent_periods", "trigger.evaluation_periods"):
        with pytest.raises(ConfigError, match=rf"{field}.*exceeds CloudWatch's limit"):
            configured(config, {field: most + 1, "trigger.datapoints_to_alarm": 1})
