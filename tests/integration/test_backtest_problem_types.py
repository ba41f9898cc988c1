"""The backtest replays a regression and a multiclass model like a binary classifier, and a team's
own script like a built-in estimator: on a stream whose x1 shifts after five calm days the drift
trigger retrains after the shift and never before, and retraining beats never retraining on the
problem type's headline metric (r2, macro_f1)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from pipelines.backtest.history import prepare_history
from pipelines.backtest.run import BacktestSettings, run_backtest
from pipelines.config import parse_config
from pipelines.simulation.tabular import tabular
from tests.conftest import ROOT
from tests.problem_types import FEATURES

ROWS_PER_DAY = 1_000
GATES: dict[str, dict[str, Any]] = {
    "regression": {"metrics": [{"metric": "rmse", "max": 3.0}], "champion": {"metric": "rmse", "max_regression": 0.5}},
    "multiclass_classification": {
        "metrics": [{"metric": "macro_f1", "min": 0.5}],
        "champion": {"metric": "macro_f1", "max_regression": 0.05},
    },
}
SHADOW = {"regression": "rmse", "multiclass_classification": "macro_f1"}


def _stream(problem_type: str) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Five calm days, then five days in which x1 moves up by 2 (out of the range trees learnt)."""
    calm = tabular(problem_type, rows=5 * ROWS_PER_DAY, days=5, seed=1)  # type: ignore[arg-type]
    shifted = tabular(problem_type, rows=5 * ROWS_PER_DAY, days=5, seed=2, start="2026-01-06")  # type: ignore[arg-type]
    shifted["x1"] = shifted["x1"] + 2.0
    if problem_type == "regression":
        shifted["target"] = shifted["target"] + 6.0  # the label follows x1 (3 x1)
    else:  # the class boundaries stay where they were: more gold
        shifted.loc[shifted["x1"] > 2.5, "target"] = "gold"
    shifted["row_id"] += len(calm)
    return pd.concat([calm, shifted], ignore_index=True), pd.Timestamp("2026-01-06", tz="UTC")


SCRIPT = {  # the team's own script of models/tabular, run as the Train job runs it
    "script": {"source_dir": str(ROOT / "models" / "tabular")},
    "hyperparameters": {"task": "regression", "label": "target", "max_iter": 50},
}


@pytest.mark.parametrize(
    ("problem_type", "trainer"),
    [("regression", "estimator"), ("multiclass_classification", "estimator"), ("regression", "script")],
)
def test_the_trigger_retrains_after_the_shift_and_beats_never_retraining(problem_type: str, trainer: str) -> None:
    training = (
        SCRIPT if trainer == "script" else {"estimator": "gradient_boosting", "hyperparameters": {"max_iter": 50}}
    )
    config = parse_config(
        {
            "purpose": "backtest",
            "model": {
                "name": "tabular-backtest",
                "problem_type": problem_type,
                "label": "target",
                "id_column": "row_id",
                "time_column": "event_time",
                "features": FEATURES,
            },
            "data": {
                "fresh": {"kind": "files", "uri": "history.parquet"},
                "window": {"strategy": "rolling", "fresh_days": 2, "history_days": 2},
                "checks": {"min_rows": 500},
            },
            "training": training,
            "gates": GATES[problem_type],
            "registry": {"model_package_group": "tabular-backtest", "approval": "auto"},
            "drift": {"min_drifted_features": 1, "min_labels_for_performance": 200, "schedule": "rate(1 day)"},
            "trigger": {"cooldown_hours": 0, "evaluation_periods": 1, "datapoints_to_alarm": 1},
            "promotion": {
                "shadow": {
                    "metric": SHADOW[problem_type],
                    "min_labels": 200,
                    "min_duration_hours": 1,
                    "offline_tolerance": 5.0 if problem_type == "regression" else 0.5,
                    "champion_margin": 5.0 if problem_type == "regression" else 0.5,
                }
            },
        }
    )
    frame, shift = _stream(problem_type)
    document = run_backtest(
        prepare_history(frame, config), BacktestSettings(window=ROWS_PER_DAY, drift_times=(shift.to_pydatetime(),))
    )
    trigger, never = document["policies"]["trigger"], document["policies"]["never"]
    assert document["metric"] == ("r2" if problem_type == "regression" else "macro_f1")
    assert trigger["retrains"] >= 1 and trigger["retrains_before_first_drift"] == 0
    assert trigger["mean_metric"] > never["mean_metric"]
    first = trigger["timeline"][0]["metrics"]
    expected = {"rmse", "mae", "mse", "r2"} if problem_type == "regression" else {"accuracy", "macro_f1"}
    assert expected <= set(first)
