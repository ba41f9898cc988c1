"""Backtest policies: calendar arithmetic, alarm steps and the trigger policy on the real gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipelines.backtest.history import Window
from pipelines.backtest.policies import (
    Calendar,
    EveryWindow,
    GatedTrigger,
    Never,
    Observation,
    alarm_step,
    calendar_due,
    calendar_runs,
    datapoint,
    held_alarms,
    matched_calendar,
)
from pipelines.backtest.sweep import configured, grid
from pipelines.config import ModelConfig
from pipelines.drift.metrics import metric_data

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def report(drifted: int, pr_auc: float = 0.9) -> dict[str, Any]:
    """The parts of a monitor report that `metric_data` reads (see pipelines/drift/run.py)."""
    return {
        "thresholds": {"min_window_rows": 100},
        "features": {"amount": {"type": "numeric", "status": "ok", "rows": 1000}},
        "summary": {"drifted_feature_count": drifted, "schema_problem_count": 0},
        "window": {"rows": 1000, "labelled_rows": 1000},
        "performance": {
            "status": "ok",
            "metrics": {
                "accuracy": 0.98,
                "precision": 0.8,
                "recall": 0.8,
                "f1": 0.8,
                "roc_auc": 0.95,
                "pr_auc": pr_auc,
            },
        },
    }


def window(index: int, days: float = 1.0) -> Window:
    end = T0 + timedelta(days=days * (index + 1))
    return Window(index, index * 1000, (index + 1) * 1000, end - timedelta(days=days), end)


def observe(policy: Any, index: int, drifted: int, pr_auc: float = 0.9, days: float = 1.0) -> bool:
    observation = Observation(window(index, days), index, report(drifted, pr_auc))
    decision = policy.decide(observation)
    if decision.start:
        policy.ended(observation, "Succeeded")
    return bool(decision.start)


@pytest.fixture
def trigger_config(config: ModelConfig) -> ModelConfig:
    """The example config with a 1-of-1 alarm, so each breaching window is its own datapoint."""
    return configured(
        config,
        {"trigger.evaluation_periods": 1, "trigger.datapoints_to_alarm": 1, "trigger.max_staleness_days": None},
    )


def test_calendar_runs_after_every_kth_window() -> None:
    assert [p for p in range(10) if calendar_due(p, 3)] == [2, 5, 8]
    assert calendar_runs(10, 3) == 3  # none after the last window (position 9)
    assert calendar_runs(10, 1) == 9


def test_matched_calendar_makes_as_many_runs_as_asked() -> None:
    assert matched_calendar(20, 4) == 4
    assert calendar_runs(20, matched_calendar(20, 4)) == 4
    assert calendar_runs(40, matched_calendar(40, 0)) == 0


def test_simple_policies_decide_as_named() -> None:
    decisions = [Calendar(every=4).decide(Observation(window(i), i)).start for i in range(8)]
    assert decisions == [False, False, False, True, False, False, False, True]
    assert not Never().decide(Observation(window(0), 0)).start
    assert EveryWindow().decide(Observation(window(0), 0)).start


def test_alarm_step_follows_m_of_n(config: ModelConfig) -> None:
    spec = next(s for s in GatedTrigger(config).specs if s.kind == "drifted_feature_count")
    assert (spec.datapoints_to_alarm, spec.evaluation_periods) == (2, 3)
    # 'ignore' (the default): one breaching datapoint of the 2 needed, the rest missing, keeps the state
    assert alarm_step(spec, [3.0], "INSUFFICIENT_DATA").state == "INSUFFICIENT_DATA"
    assert alarm_step(spec, [3.0, 3.0], "OK").state == "ALARM"  # 2 real breaches decide
    assert alarm_step(spec, [0.0, 0.0], "ALARM").state == "OK"  # real datapoints within the threshold
    assert alarm_step(spec, [3.0, 0.0, 3.0], "OK").state == "ALARM"
    assert alarm_step(spec, [3.0, 3.0, 0.0, 0.0, 3.0], "ALARM").state == "OK"  # only the last 3 count


def test_datapoint_reads_the_alarm_metric_from_the_report(config: ModelConfig) -> None:
    specs = {s.kind: s for s in GatedTrigger(config).specs}
    data = metric_data(report(drifted=3, pr_auc=0.4), config.model.name, T0)
    assert datapoint(specs["drifted_feature_count"], data) == 3.0
    assert datapoint(specs["performance_slo"], data) == pytest.approx(0.4)
    assert datapoint(specs["performance_slo"], []) is None


def test_trigger_starts_on_alarm_and_not_while_quiet(trigger_config: ModelConfig) -> None:
    policy = GatedTrigger(trigger_config)
    started = [observe(policy, i, drifted=3 if i == 4 else 0) for i in range(8)]
    assert started == [False, False, False, False, True, False, False, False]
    assert policy.facts()["gate_decisions"]["started"] == 1


def test_trigger_does_not_restart_while_the_alarm_stays_in_alarm(trigger_config: ModelConfig) -> None:
    # CloudWatch emits a state change only on a transition: a lasting drift is one trigger.
    policy = GatedTrigger(trigger_config)
    started = [observe(policy, i, drifted=3 if i >= 2 else 0) for i in range(8)]
    assert sum(started) == 1 and started[2]


def test_a_window_that_starts_nothing_says_which_alarm_is_still_in_alarm(trigger_config: ModelConfig) -> None:
    """A new user's table said "no alarm" for 8 windows far under the SLO: the alarm was in ALARM
    since a run that failed its gates, and with retries off nothing could start another."""
    policy = GatedTrigger(configured(trigger_config, {"trigger.retry_failed_runs": False}))
    reasons = []
    for index in range(4):
        observation = Observation(window(index), index, report(3 if index >= 1 else 0))
        decision = policy.decide(observation)
        if decision.start:
            policy.ended(observation, "Failed")
        reasons.append(decision.reason)
    assert reasons[0] == "no alarm"
    drift_alarm = next(s.name for s in policy.specs if s.kind == "drifted_feature_count")
    held = {drift_alarm: "ALARM"}
    assert held_alarms(held, retries=True, rearm=True, staleness_days=None).endswith(
        "another run needs a re-arm (after a promotion or a shadow rejection) or a failed run's retry"
    )
    # replayed without re-arming (--no-rearm) only a retry or the max staleness can start one
    assert held_alarms(held, retries=False, rearm=False, staleness_days=30).endswith(
        "another run needs the max staleness (30 days since the last start); a failed run is not retried "
        "(trigger.retry_failed_runs is off)"
    )
    assert held_alarms(held, retries=False, rearm=False, staleness_days=None).endswith(
        "only the alarm leaving ALARM and breaching again can start another run: a failed run is not retried "
        "(trigger.retry_failed_runs is off), alarms are not re-armed (--no-rearm) and trigger.max_staleness_days "
        "is not set"
    )
    assert (
        reasons[2]
        == reasons[3]
        == (
            f"{drift_alarm} still in ALARM: CloudWatch sends no new event; another run needs a re-arm (after a "
            "promotion or a shadow rejection); a failed run is not retried (trigger.retry_failed_runs is off)"
        )
    )


def test_trigger_respects_the_cooldown(trigger_config: ModelConfig) -> None:
    # GIVEN a 3-day cooldown and an alarm that breaches every other day (a new ALARM each time)
    policy = GatedTrigger(configured(trigger_config, {"trigger.cooldown_hours": 72}))
    # WHEN ten daily windows are replayed
    started = [i for i in range(12) if observe(policy, i, drifted=3 if i % 2 == 0 else 0)]
    # THEN runs start at least 3 days apart, a waiting trigger starts when the cooldown ends
    assert started == [0, 3, 6, 9]
    decisions = policy.facts()["gate_decisions"]
    assert decisions["cooldown"] >= 3 and decisions["started"] == 4


def test_trigger_starts_on_the_performance_slo(trigger_config: ModelConfig) -> None:
    policy = GatedTrigger(trigger_config)
    slo = trigger_config.drift.performance_slo
    assert slo is not None
    started = [observe(policy, i, drifted=0, pr_auc=slo.min - 0.1 if i == 3 else 0.9) for i in range(6)]
    assert started == [False, False, False, True, False, False]


def test_a_run_reason_shows_the_alarm_value_rounded(trigger_config: ModelConfig) -> None:
    """A new user's table read "= 0.5765071311248801"; the JSON's trigger keeps the full value."""
    policy = GatedTrigger(trigger_config)
    observe(policy, 0, drifted=0)
    decision = policy.decide(Observation(window(1), 1, report(0, pr_auc=0.123456789)))
    assert decision.start and "performance-slo = 0.1235: " in decision.reason


def test_max_staleness_starts_a_run_without_any_alarm(trigger_config: ModelConfig) -> None:
    policy = GatedTrigger(configured(trigger_config, {"trigger.max_staleness_days": 5}))
    started = [i for i in range(12) if observe(policy, i, drifted=0)]
    assert started == [0, 5, 10]  # the first sweep finds no start yet; then every 5 days


def test_max_staleness_counts_from_the_first_model(trigger_config: ModelConfig) -> None:
    policy = GatedTrigger(configured(trigger_config, {"trigger.max_staleness_days": 5}))
    policy.begin(T0)
    started = [i for i in range(12) if observe(policy, i, drifted=0)]
    assert started == [4, 9]  # window 4 ends 5 days after the first model's run


@pytest.mark.parametrize(("rearm", "expected"), [(False, [2]), (True, [2, 7])])
def test_only_rearmed_alarms_trigger_again_after_a_promotion(
    trigger_config: ModelConfig, rearm: bool, expected: list[int]
) -> None:
    # GIVEN a drift that lasts, and a new champion promoted at the end of window 4 that did not
    # absorb it (the runner reports the promotion before the window's own decision)
    policy = GatedTrigger(trigger_config, rearm=rearm)
    started = []
    for i in range(8):
        if i == 4:
            policy.promoted(window(i).end)
        if observe(policy, i, drifted=3 if i >= 2 else 0):
            started.append(i)
    # THEN an alarm never re-armed stays in ALARM (one run); a re-armed one (deployed) alarms
    # again on window 7, once its evaluation range (N + 2 = 3 windows: 5, 6, 7) saw only the new
    # champion, not on window 4
    assert started == expected


def test_rearm_waits_until_the_alarms_evaluation_range_saw_only_the_new_champion(config: ModelConfig) -> None:
    # GIVEN the example config's 2-of-3 alarm, a drift from window 2 on, a promotion at window 4
    policy = GatedTrigger(configured(config, {"trigger.max_staleness_days": None, "trigger.cooldown_hours": 0}))
    assert policy.settled_after == 5  # windows: the evaluation range of N = 3
    started = []
    for i in range(10):
        if i == 4:
            policy.promoted(window(i).end)
        if observe(policy, i, drifted=3 if i >= 2 else 0):
            started.append(i)
    # THEN windows 2-4 (old champion) start one run; the re-arm comes after windows 5 to 9 (the
    # evaluation range of N + 2 periods), so the next run starts at window 9, not on the old
    # champion's datapoints
    assert started == [3, 9]


@pytest.mark.parametrize(
    ("promoted_at", "rejected_at", "expected"),
    [(None, (), [3]), (None, (5,), [3, 5]), (3, (4,), [3, 8]), (None, (5, 6), [3, 5, 7])],
)
def test_a_shadow_rejection_rearms_the_alarms_as_the_promotion_controller_does(
    config: ModelConfig, promoted_at: int | None, rejected_at: tuple[int, ...], expected: list[int]
) -> None:
    # GIVEN a drift that lasts from window 2, and a 2-of-3 alarm
    policy = GatedTrigger(configured(config, {"trigger.max_staleness_days": None, "trigger.cooldown_hours": 0}))
    started = []
    for i in range(10):
        if i == promoted_at:
            policy.promoted(window(i).end)
        if i in rejected_at:
            policy.rejected(window(i).end)  # the run's candidate lost its shadow
        if observe(policy, i, drifted=3 if i >= 2 else 0):
            started.append(i)
    # THEN without a rejection the alarm stays in ALARM (one run); a rejection re-arms it, and the
    # breach that lasts alarms again at once. A rejection before the new champion's datapoints
    # fill the alarm's range leaves it to that champion's re-arm (due after windows 4 to 8):
    # re-armed at window 4, the old champion's datapoints would start a run at once. A second
    # rejection re-arms after the retry back-off (here an hour: the next window), not at once
    assert started == expected


def test_no_rearm_after_a_promotion_whose_drift_the_new_champion_absorbed(config: ModelConfig) -> None:
    policy = GatedTrigger(configured(config, {"trigger.max_staleness_days": None, "trigger.cooldown_hours": 0}))
    started = []
    for i in range(10):
        if i == 4:
            policy.promoted(window(i).end)
        if observe(policy, i, drifted=3 if 2 <= i <= 4 else 0):
            started.append(i)
    assert started == [3]


def test_the_sweep_keeps_the_retrain_signals_it_does_not_vary(config: ModelConfig) -> None:
    """The sweep varies the drifted-features alarm and the performance SLO. A new user's
    `estimated_performance` was left out of every point, and the recommendation quietly dropped
    the signal the docs had told them to add; the signals it does not vary stay as configured."""
    estimating = configured(
        config,
        {
            "drift.estimated_slo": {"metric": "pr_auc", "min": 0.5},
            "trigger.retrain_on": ["drifted_features", "performance_slo", "estimated_performance", "label_drift"],
        },
    )
    points = grid(estimating)
    assert points and all(
        p.overrides["trigger.retrain_on"][-2:] == ["estimated_performance", "label_drift"] for p in points
    )
    assert {tuple(p.overrides["trigger.retrain_on"][:-2]) for p in points} == {
        (),
        ("drifted_features",),
        ("performance_slo",),
        ("drifted_features", "performance_slo"),
    }
    for point in points:  # every point is a valid config
        configured(estimating, point.overrides)


def test_the_sweep_tries_retries_on_where_the_config_turns_them_off(config: ModelConfig) -> None:
    """elec2's config had retries off; the sweep on the first half of its history chose 2 of 3,
    whose alarm stayed in ALARM after one failed gate on the second half (12 runs, 0.6464 against
    the calendar's 0.7085). A sweep that kept retries as configured could not see the way out."""
    no_retries = configured(config, {"trigger.retry_failed_runs": False})
    points = grid(no_retries)
    retries = {p.name: configured(no_retries, p.overrides).trigger.retry_failed_runs for p in points}
    assert set(retries.values()) == {False, True}
    assert len(retries) == len(points) == 2 * len(grid(config))  # each point once with, once without
    assert all(("retries off" in name) != on for name, on in retries.items())
    # equal points resolve to the first (the frontier's sort and the recommendation's max are
    # stable): retries on, which cannot stick, comes first
    names = [p.name for p in points]
    assert all(names.index(n.replace("retries off", "retries on")) < names.index(n) for n in names if "off" in n[-12:])
    # with retries on, as by default, the grid keeps them on and its names as they were
    assert {configured(config, p.overrides).trigger.retry_failed_runs for p in grid(config)} == {True}
    assert not any("retries" in p.name for p in grid(config))
