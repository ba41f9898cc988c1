"""The backtest with labels that come late (`--label-delay`) and each retrain signal alone
(`--per-signal`): the realized-SLO trigger reacts exactly the delay later, the estimate, which
needs no labels, does not move, and the policy table carries each signal's row."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pipelines.backtest.command import text_table
from pipelines.backtest.history import BacktestInputError, prepare_history
from pipelines.backtest.run import BacktestSettings, run_backtest
from pipelines.backtest.streams import Segment
from pipelines.config import parse_config
from tests.integration.test_backtest import RAW_CONFIG, ROWS_PER_DAY, stream

DELAY = 3


@pytest.fixture(scope="module")
def runs() -> dict[int, dict[str, Any]]:
    """Five calm days, then a covariate shift that takes the model's ROC-AUC below 0.98, once with
    labels at once and once with labels three windows late."""
    raw = copy.deepcopy(RAW_CONFIG)
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
            BacktestSettings(window_rows=ROWS_PER_DAY, drift_times=tuple(points), label_delay=delay, per_signal=True),
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


def test_a_negative_delay_is_refused() -> None:
    config = parse_config(RAW_CONFIG)
    frame, _ = stream(Segment("none", 3))
    with pytest.raises(BacktestInputError, match="--label-delay must be 0 or more windows, got -1"):
        run_backtest(prepare_history(frame, config), BacktestSettings(window_rows=ROWS_PER_DAY, label_delay=-1))


def test_with_late_labels_a_schedule_waits_for_its_shadow_instead_of_replacing_it_unjudged(
    runs: dict[int, dict[str, Any]],
) -> None:
    """A shadow is judged once `promotion.shadow.min_labels` of its labels came. A run every window
    replaced each shadow with the next candidate before that, and with labels three windows late
    the every-window "upper bound" promoted nothing, the same as never retraining (a new user's
    trial). The schedules now wait for the verdict; the trigger, as deployed, does not."""
    late = runs[DELAY]["policies"]
    every = late["every_window"]
    assert every["promotions"] >= 1
    waiting = [r for r in every["timeline"] if r["reason"].startswith("waits for the shadow")]
    assert waiting and not any(r["retrain"] for r in waiting)
    assert every["mean_metric"] > late["never"]["mean_metric"]
