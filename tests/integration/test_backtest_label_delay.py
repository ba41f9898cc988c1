"""The backtest with labels that come late (`--label-delay`) and each retrain signal alone
(`--per-signal`): the realized-SLO trigger reacts exactly the delay later, the estimate, which
needs no labels, does not move, and the policy table carries each signal's row."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from pipelines.backtest.command import text_table
from pipelines.backtest.history import BacktestInputError, cut_windows, prepare_history
from pipelines.backtest.lab import Lab
from pipelines.backtest.run import BacktestSettings, run_backtest
from pipelines.backtest.streams import Segment, drifting_stream
from pipelines.config import parse_config
from tests.integration.test_backtest import RAW_CONFIG, ROWS_PER_DAY, stream

DELAY = 3


@pytest.fixture(scope="module")
def runs() -> dict[int, dict[str, Any]]:
    """Five calm days, then a covariate shift that takes the model's ROC-AUC below 0.98, once with
    labels at once and once with labels three windows late."""
    raw = copy.deepcopy(RAW_CONFIG)
    # a fresh window that reaches back past the delay: its oldest window's labels have come
    raw["data"]["window"] |= {"fresh_days": DELAY + 2, "history_days": DELAY + 4}
    raw["drift"] |= {
        "performance_slo": {"metric": "roc_auc", "min": 0.98},
        "estimated_slo": {"metric": "roc_auc", "min": 0.98},
        "min_predictions_for_estimate": 200,
    }
    config = parse_config(raw)
    frame, points = stream(Segment("none", 5), Segment("covariate", 6))
    history = prepare_history(frame, config)
    return {
        delay: run_backtest(
            history,
            BacktestSettings(window=ROWS_PER_DAY, drift_times=tuple(points), label_delay=delay, per_signal=True),
        )
        for delay in (0, DELAY)
    }


def first_retrain(document: dict[str, Any], policy: str) -> int:
    return int(document["policies"][policy]["retrain_windows"][0])


def test_the_realized_slo_reacts_the_label_delay_later_and_the_estimate_does_not_wait(
    runs: dict[int, dict[str, Any]],
) -> None:
    at_once, late = runs[0], runs[DELAY]
    slo = "trigger:performance_slo"
    estimated = "trigger:estimated_performance"
    assert first_retrain(late, slo) == first_retrain(at_once, slo) + DELAY
    assert first_retrain(late, estimated) == first_retrain(at_once, estimated)
    assert first_retrain(late, slo) - first_retrain(late, estimated) >= DELAY
    # the realized signal alone: no run before the labels of a breaching window came
    drift_window = late["drift_points"][0]["window"]
    assert first_retrain(late, slo) >= drift_window + DELAY


def test_a_shadow_is_judged_on_the_labels_that_have_come(runs: dict[int, dict[str, Any]]) -> None:
    """The shadow starts the window after its run; its first labels come DELAY windows later, so
    it cannot be promoted before then (at once, it is promoted on its first window)."""
    estimated = "trigger:estimated_performance"
    for delay, document in runs.items():
        shadow_starts = first_retrain(document, estimated) + 1
        assert document["policies"][estimated]["promotion_windows"][0] == shadow_starts + delay


def test_each_signal_has_its_row_with_its_cost_and_accuracy(runs: dict[int, dict[str, Any]]) -> None:
    late = runs[DELAY]
    assert {"trigger:drifted_features", "trigger:performance_slo", "trigger:estimated_performance"} <= set(
        late["policies"]
    )
    assert late["label_delay_windows"] == DELAY
    table = text_table(late)
    assert f"labels come {DELAY} windows after their predictions" in table
    # a new user asked why a row for a signal their config does not retrain on was there: it says so
    row = next(line for line in table.splitlines() if line.startswith("trigger:estimated_performance"))
    assert row.startswith("trigger:estimated_performance (not in retrain_on) ")
    summary = late["policies"]["trigger:estimated_performance"]
    assert row.split()[4] == str(summary["retrains"]) and f"{summary['mean_metric']:.4f}" in row
    assert next(line for line in table.splitlines() if line.startswith("trigger:performance_slo ")).split()[1] == str(
        late["policies"]["trigger:performance_slo"]["retrains"]
    )


def test_a_retraining_run_trains_only_on_labels_that_have_come() -> None:
    """A new user's trial: with labels 9 windows late, a run one window after the drift scored
    0.76 offline, as a model trained on post-drift labels does; those labels had not come. A run
    whose data cut ends window w has the labels of windows up to w - delay only (the training
    sources hold only rows whose label has come, as DataPull's null-rate check asks); the first
    model's warm-up is labelled history."""
    raw = copy.deepcopy(RAW_CONFIG)
    raw["data"]["window"] |= {"fresh_days": 4, "history_days": 6}
    history = prepare_history(stream(Segment("none", 10))[0], parse_config(raw))
    windows = cut_windows(history.times, ROWS_PER_DAY)
    at_once, late = (Lab(history, windows, warmup=2, label_delay=delay) for delay in (0, DELAY))
    time = history.config.model.time_column
    for window in (5, 8):
        trained = late.candidate(window)
        assert trained.trained, trained.failure
        newest = trained.test[time].max().tz_localize("UTC")  # the test split: the fresh window's newest rows
        assert windows[window - DELAY - 1].end < newest <= windows[window - DELAY].end
        assert at_once.candidate(window).test[time].max().tz_localize("UTC") > windows[window - 1].end
    assert late.initial().test[time].max().tz_localize("UTC") > windows[0].end  # the warm-up's labels are known
    # a run a cooldown held until 2 windows after its cut has the labels come by then, up to its cut
    held = late.candidate(5, started=7)
    assert held.model_id == "w5+2" and held is not late.candidate(5)
    assert windows[3].end < held.test[time].max().tz_localize("UTC") <= windows[4].end
    assert late.candidate(5, started=9).test[time].max().tz_localize("UTC") > windows[4].end  # all of its rows
    assert late.model("w5+2") is held
    # a fresh window that ends before the labels come holds none: the run fails its data check, as it would deployed
    short = Lab(replace(history, config=parse_config(RAW_CONFIG)), windows, warmup=2, label_delay=DELAY)
    failure = short.candidate(6).failure
    assert failure.startswith("DataValidation failed: row_count: fresh window holds 0 rows")
    assert f"labels come {DELAY} windows late: data.window.fresh_days (2) must reach back past them" in failure


def test_the_report_says_when_labels_come_and_when_no_run_can_have_them(runs: dict[int, dict[str, Any]]) -> None:
    """The new user's report never said its replay had late labels; nor did anything say that a
    fresh window shorter than the delay leaves every run without a labelled row."""
    assert any(a.startswith(f"labels come {DELAY} windows after their window") for a in runs[DELAY]["assumptions"])
    assert "labels are known at the end of their window (--label-delay 0)" in runs[0]["assumptions"]
    assert not any("reach back past the delay" in n for n in runs[DELAY]["notes"])
    frame, _ = stream(Segment("none", 6))
    short = run_backtest(
        prepare_history(frame, parse_config(RAW_CONFIG)), BacktestSettings(window=ROWS_PER_DAY, label_delay=DELAY)
    )
    warning = (
        f"warning: labels come {DELAY} windows (about 3.0 days) late and the fresh window (data.window.fresh_days) "
        "is 2 days: at a run it holds no labelled row, fewer than data.checks.min_rows (500)"
    )
    assert warning in " ".join(short["notes"])
    assert short["policies"]["every_window"]["promotions"] == 0


def test_the_timeline_gives_each_windows_estimate_beside_what_its_labels_measured(
    runs: dict[int, dict[str, Any]],
) -> None:
    """A new user could not tune drift.estimated_slo: the estimate appeared only as an alarm value
    when it fired. Each window of the trigger's timeline now carries it, and it follows the
    realized ROC-AUC of the model that served the window."""
    timeline = runs[0]["policies"]["trigger"]["timeline"]
    pairs = [(r["estimated"], r["metrics"]["roc_auc"]) for r in timeline]
    assert all(estimated is not None for estimated, _ in pairs)
    # issue 21's target: within 0.03 on at least 90 % of the windows (1,500 predictions each)
    assert sum(abs(estimated - realized) <= 0.03 for estimated, realized in pairs) >= 0.9 * len(pairs), pairs
    assert len({round(estimated, 4) for estimated, _ in pairs}) > 1


def test_a_negative_delay_is_refused() -> None:
    config = parse_config(RAW_CONFIG)
    frame, _ = stream(Segment("none", 3))
    with pytest.raises(BacktestInputError, match="--label-delay must be 0 or more windows, got -1"):
        run_backtest(prepare_history(frame, config), BacktestSettings(window=ROWS_PER_DAY, label_delay=-1))


def test_with_late_labels_a_schedule_waits_for_its_shadow_instead_of_replacing_it_unjudged(
    runs: dict[int, dict[str, Any]],
) -> None:
    """A shadow is judged once `promotion.shadow.min_labels` of its labels came. A run every window
    replaced each shadow with the next candidate before that, and with labels three windows late
    the every-window "upper bound" promoted nothing, the same as never retraining (a new user's
    trial). The schedules now wait for the verdict; the trigger, as deployed, does not. (What the
    promotions serve is no better than never retraining here: a run has the labels of windows 3
    before it only, and the shift's first labels come after most of it.)"""
    late = runs[DELAY]["policies"]
    every = late["every_window"]
    assert every["promotions"] >= 1
    waiting = [r for r in every["timeline"] if r["reason"].startswith("waits for the shadow")]
    assert waiting and not any(r["retrain"] for r in waiting)
    # so it is no upper bound, and the report says so beside the targets that compare with it
    replayed = runs[DELAY]["data"]["replayed_windows"]
    assert every["retrains"] < replayed - 1
    assert (
        f"with labels {DELAY} windows late the every-window policy waits for each shadow's verdict "
        "(promotion.shadow.min_duration_hours and min_labels), so it ran "
        f"{every['retrains']} times in {replayed} windows" in " ".join(runs[DELAY]["notes"])
    )


def test_the_sweeps_budget_is_a_quarter_of_the_windows_whatever_the_label_delay() -> None:
    """With labels 3 windows late the every-window policy waits for each shadow, so it ran a few
    times only, and the sweep, whose budget was a quarter of those runs, could recommend only points
    that (almost) never retrain."""
    raw = copy.deepcopy(RAW_CONFIG)
    raw["data"]["window"] |= {"fresh_days": DELAY + 2, "history_days": DELAY + 4}
    frame, points = stream(Segment("none", 6), Segment("covariate", 10))
    settings = BacktestSettings(window=ROWS_PER_DAY, drift_times=tuple(points), label_delay=DELAY, sweep=True)
    document = run_backtest(prepare_history(frame, parse_config(raw)), settings)
    replayed = document["data"]["replayed_windows"]
    every = document["policies"]["every_window"]["retrains"]
    assert every // 4 < replayed // 4  # the old budget was smaller
    assert document["sweep"]["retrain_budget"] == replayed // 4
    assert f"sweep: recommended within {replayed // 4} runs (a quarter of the {replayed} replayed windows)" in (
        text_table(document)
    )


def test_a_config_whose_labels_settle_late_is_replayed_with_a_hint_to_match_the_delay() -> None:
    """A config with data.window.label_delay_days: its runs leave out their newest rows, as the
    deployed DataPull does, but a replay without --label-delay gave the monitor and the shadow
    every label at once, and nothing said so."""
    raw = copy.deepcopy(RAW_CONFIG)
    raw["data"]["window"] |= {"fresh_days": 4, "history_days": 6, "label_delay_days": 1.5}
    raw["drift"] |= {"performance_window_hours": 60}
    frame, _ = stream(Segment("none", 7))
    document = run_backtest(prepare_history(frame, parse_config(raw)), BacktestSettings(window=ROWS_PER_DAY))
    hint = (
        "data.window.label_delay_days is 1.5 days: retraining runs leave out their newest 1.5 days, as deployed, "
        "but this replay gives the monitor and the shadow their labels at once; pass --label-delay 2"
    )
    assert hint in " ".join(document["notes"])
    runs = [r for r in document["policies"]["every_window"]["timeline"] if r["retrain"]]
    assert runs and all(r["outcome"] != "data_validation_failed" for r in runs)
    late = run_backtest(prepare_history(frame, parse_config(raw)), BacktestSettings(window=ROWS_PER_DAY, label_delay=2))
    assert "label_delay_days" not in " ".join(late["notes"])


def test_windows_too_small_to_estimate_and_an_every_window_policy_held_by_its_shadows_are_said() -> None:
    """A new user's estimated-performance signal made 0 runs over windows of 336 rows, under
    drift.min_predictions_for_estimate (500), and nothing said why; and their every-window policy,
    held by a shadow's 24-hour minimum with labels at once, was still called the upper bound."""
    raw = copy.deepcopy(RAW_CONFIG)
    raw["drift"] |= {"estimated_slo": {"metric": "roc_auc", "min": 0.98}, "min_predictions_for_estimate": 500}
    raw["promotion"]["shadow"] |= {"min_duration_hours": 24}
    frame, _ = stream(Segment("none", 3))
    document = run_backtest(prepare_history(frame, parse_config(raw)), BacktestSettings(window=450, warmup=4))
    notes = " ".join(document["notes"])
    assert (
        "warning: windows of 450 rows are below drift.min_predictions_for_estimate (500): no performance is "
        "estimated, and the estimated-performance alarm cannot fire" in notes
    )
    replayed, every = document["data"]["replayed_windows"], document["policies"]["every_window"]["retrains"]
    assert every < replayed
    assert (
        "the every-window policy waits for each shadow's verdict (promotion.shadow.min_duration_hours and min_labels), "
        f"so it ran {every} times in {replayed} windows" in notes
    )
    assert "with labels" not in notes


def test_a_label_based_alarms_value_says_which_windows_labels_it_measured(runs: dict[int, dict[str, Any]]) -> None:
    """A new user's window 20 read "started: alarm ...performance-slo = 0.6941" beside a ROC-AUC of
    0.7648: the alarm's value was window 17's, whose labels had come, and nothing said so."""
    late = runs[DELAY]["policies"]["trigger:performance_slo"]["timeline"]
    started = next(r for r in late if r["retrain"])
    assert "performance-slo = " in started["reason"]
    assert f"(on the labels of window {started['window'] - DELAY}): " in started["reason"]
    at_once = runs[0]["policies"]["trigger:performance_slo"]["timeline"]
    assert not any("(on the labels of window" in r["reason"] for r in at_once)
    estimated = runs[DELAY]["policies"]["trigger:estimated_performance"]["timeline"]
    assert not any("(on the labels of window" in r["reason"] for r in estimated)  # no labels in it


def test_the_suggested_label_delay_counts_whole_spans() -> None:
    """A new user's weekly windows with labels settling in 21 days were told to pass --label-delay
    4, and with 3 the note stayed: windows measured from first to last row are shorter than a week."""
    raw = copy.deepcopy(RAW_CONFIG)
    raw["data"]["window"] |= {"fresh_days": 28, "history_days": 35, "label_delay_days": 21}
    raw["drift"] |= {"performance_window_hours": 22 * 24}
    frame, _ = drifting_stream([Segment("none", 70)], rows_per_day=200, fraud_rate=0.1)
    history = prepare_history(frame, parse_config(raw))
    weekly = BacktestSettings(window=timedelta(days=7), warmup=4)
    assert "pass --label-delay 3 (a window is about 7 days)" in " ".join(run_backtest(history, weekly)["notes"])
    matched = run_backtest(history, replace(weekly, label_delay=3))
    assert not any("label_delay_days" in note for note in matched["notes"])


def test_policies_whose_shadows_never_reached_a_verdict_are_named() -> None:
    """A new user's trigger made 8 runs with labels 21 windows late and promoted none: every shadow
    was replaced before its labels came, while the page marked its targets met."""
    raw = copy.deepcopy(RAW_CONFIG)
    raw["data"]["window"] |= {"fresh_days": 7, "history_days": 9}
    frame, _ = stream(Segment("none", 10))
    document = run_backtest(
        prepare_history(frame, parse_config(raw)), BacktestSettings(window=ROWS_PER_DAY, warmup=5, label_delay=4)
    )
    every = document["policies"]["every_window"]
    assert every["promotions"] == 0 and any(r["outcome"] == "shadow" for r in every["timeline"])
    assert any(
        n.startswith("every_window: none of its") and "in shadow reached a verdict, with labels 4 windows late" in n
        for n in document["notes"]
    )
    assert not any(n.startswith("never:") for n in document["notes"])
