"""One retraining run in-process: the pipeline's DataPull+Validate, Train and Evaluate job code,
then the same gate verdicts the pipeline's ConditionStep reads.

Nothing here re-implements a job: `validate`/`split` (DataPull), `baseline_profile`, `fit` (Train)
and `measure`/`measurements` (Evaluate) are the job functions, `evaluate_gates` the gate function.
The job containers read files; this calls the same functions on frames, which is what lets a
backtest run hundreds of retrainings in minutes.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.config import ModelConfig
from pipelines.gates.rules import GateResult, evaluate_gates, failure_message
from training_containers.data_pull import validate
from training_containers.evaluate import measure, measurements, score
from training_containers.profile import baseline_profile, with_predictions
from training_containers.script import ScriptError
from training_containers.train import fit, fit_script
from training_containers.validation import failure_message as data_failure_message
from training_containers.windowing import split


@dataclass(frozen=True)
class Candidate:
    """What one retraining run produced before the gates: a model and its held-out measurements,
    or the reason the run stopped (a failed data check, a training error)."""

    model_id: str
    window: int  # index of the window whose end is the data cut
    failure: str = ""  # empty when a model was trained
    estimator: Any = None
    profile: dict[str, Any] = field(default_factory=dict)  # DataPull's baseline profile (train split)
    test: pd.DataFrame | None = None
    measured: dict[str, Any] = field(default_factory=dict)  # measure() on its own test split
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def trained(self) -> bool:
        return not self.failure

    @property
    def offline_metrics(self) -> dict[str, float | None]:
        metrics: dict[str, float | None] = self.measured.get("metrics", {})
        return metrics


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    message: str
    results: tuple[GateResult, ...] = ()


def job_hyperparameters(config: ModelConfig) -> dict[str, Any]:
    """What the Train step receives (pipelines/definition/steps.py builds the same dict): a
    script gets its own hyperparameters only."""
    training = config.training
    if training.script is not None:
        return dict(training.hyperparameters)
    return {"estimator": training.estimator, "random_seed": training.random_seed, **training.hyperparameters}


def train_candidate(config: ModelConfig, train: pd.DataFrame, validation: pd.DataFrame) -> Any:
    """The Train job's model: a built-in estimator fitted here, or the team's script run in a
    subprocess (its model kept in a folder of its own for as long as the model is used)."""
    if config.training.script is None:
        return fit(config, job_hyperparameters(config), train, validation)[0]
    folder = Path(tempfile.mkdtemp(prefix="backtest-script-"))
    try:
        model, _ = fit_script(config, job_hyperparameters(config), train, validation, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    weakref.finalize(model, shutil.rmtree, folder, True)
    return model


def as_written(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as the next job reads it: DataPull writes Parquet and Train/Evaluate read it back,
    which settles column types (a split built from an empty history holds object columns)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    buffer.seek(0)
    return pd.read_parquet(buffer)


def pull_and_train(
    config: ModelConfig,
    seen: pd.DataFrame,
    window_end: datetime,
    window: int,
    edge_cases: pd.DataFrame | None,
    model_id: str | None = None,
) -> Candidate:
    """A run whose data cut is `window_end`: `seen` holds every row up to it (nothing later).
    The fresh source is the configured fresh window, history is what came before, as DataPull
    receives them from the config's sources."""
    model_id = model_id or f"w{window}"
    time = seen[config.model.time_column]
    fresh_start = pd.Timestamp(window_end.replace(tzinfo=None)) - pd.Timedelta(days=config.data.window.fresh_days)
    fresh, history = seen[time > fresh_start], seen[time <= fresh_start]
    results, _, fresh_rows, selected = validate(fresh, history, config, window_end.isoformat())
    if not results or not all(r.passed for r in results):
        return Candidate(model_id, window, failure=data_failure_message(results) or "DataValidation failed")
    train, validation, test = split(fresh_rows, selected, config)
    profile = baseline_profile(fresh_rows, config)  # DataPull's: the fresh window is the drift baseline
    train, validation, test = (as_written(frame) for frame in (train, validation, test))
    try:
        estimator = train_candidate(config, train, validation)
    except (ValueError, ScriptError) as exc:  # the Train job fails the same way (e.g. a single class)
        return Candidate(model_id, window, failure=f"Train failed: {exc}")
    measured = measure(score(estimator, test, config, edge_cases), test, config, edge_cases)
    return Candidate(
        model_id=model_id,
        window=window,
        estimator=estimator,
        profile=with_predictions(profile, measured["_predictions"], config, measured["_truth"]),  # as Evaluate does
        test=test,
        measured=measured,
        rows={"train": len(train), "validation": len(validation), "test": len(test)},
    )


def judge(config: ModelConfig, candidate: Candidate, champion_measured: dict[str, Any] | None) -> GateVerdict:
    """The Evaluate job's gate verdicts: `champion_measured` is `measure()` of the champion on the
    candidate's test split (None when there is no champion)."""
    if not candidate.trained:
        return GateVerdict(False, candidate.failure)
    results = evaluate_gates(config, measurements(candidate.measured, champion_measured))
    return GateVerdict(all(r.passed for r in results), failure_message(results), tuple(results))
