"""The shared, cached work of a backtest: retraining runs, predictions and monitor reports.

Every policy (and every point of a threshold sweep) replays the same history, and a retraining
run depends only on the data cut and the training config, a model's predictions on a window only
on the model, a monitor report on the model, the window and the drift thresholds. So each is
computed once and shared; a model's id is the window whose end was its data cut ("w12").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from pipelines.backtest.history import BacktestInputError, History, Window
from pipelines.backtest.retrain import Candidate, GateVerdict, judge, pull_and_train
from pipelines.config import DriftSection, ModelConfig
from pipelines.drift import PREDICTION_COLUMN, run_monitor
from pipelines.gates.metrics import as_classes
from pipelines.gates.metrics import measure as measure_metrics
from pipelines.promotion.evidence import variant_evidence
from pipelines.promotion.shadow import VariantEvidence
from training_containers.estimators import features_frame, predictions
from training_containers.evaluate import measure, score

Progress = Callable[[str], None]

# A backtest serves nothing: the shadow's latency and error-rate criteria are met by construction.
SIMULATED_LATENCY_P99_MS = 0.0
SIMULATED_ERROR_RATE = 0.0


def load_edge_cases(config: ModelConfig) -> pd.DataFrame | None:
    """The edge-case CSV of `gates.edge_cases`, read from a local path (a backtest has no S3)."""
    edge = config.gates.edge_cases
    if edge is None:
        return None
    if "://" in edge.uri:
        raise BacktestInputError(f"gates.edge_cases.uri {edge.uri} is not a local file; a backtest reads local files")
    path = config.local_path(edge.uri)
    if not path.exists():
        raise BacktestInputError(f"gates.edge_cases.uri: {path} does not exist")
    return pd.read_csv(path)


class Lab:
    def __init__(
        self,
        history: History,
        windows: list[Window],
        *,
        warmup: int = 1,
        label_delay: int = 0,
        progress: Progress | None = None,
    ) -> None:
        self.history = history
        self.config = history.config
        self.windows = windows
        self.warmup = warmup
        self.label_delay = label_delay
        self.edge_cases = load_edge_cases(self.config)
        self._progress = progress
        self._candidates: dict[str, Candidate] = {}  # by model id
        self._scores: dict[tuple[str, int], np.ndarray] = {}
        self._reports: dict[tuple[str, int, str, Labelled | None], dict[str, Any]] = {}
        self._champion_measures: dict[tuple[str, str], dict[str, Any]] = {}
        self._metrics: dict[tuple[str, int], dict[str, float | None]] = {}
        self._evidence: dict[tuple[str, int, int, int], VariantEvidence] = {}
        self.trainings = 0

    # ------------------------------------------------------------------ data

    def rows(self, window: Window) -> pd.DataFrame:
        return self.history.frame.iloc[window.start_row : window.stop_row]

    def truth(self, window: Window) -> np.ndarray:
        """The window's labels: numbers (0/1 for a binary classifier) with NaN where unknown, or a
        multiclass model's classes as text with None where unknown."""
        labels = self.rows(window)[self.config.model.label]
        if self.config.model.problem_type == "multiclass_classification":
            return np.asarray([None if pd.isna(v) else c for v, c in zip(labels, as_classes(labels), strict=True)])
        known: np.ndarray = labels.to_numpy(dtype=np.float64)
        return known

    # ------------------------------------------------------------------ models

    def candidate(self, window: int, started: int | None = None) -> Candidate:
        """The retraining run whose data cut is the end of window `window`, started at the end of
        window `started` (default: the cut's; later for a run a cooldown held). Its training
        sources hold the rows whose labels have come by its start: those of windows up to
        `label_delay` before it (DataPull's null-rate check asks for sources so joined), no later
        than the cut, and the warm-up's, the labelled history the first model trained on. Its
        fresh window still ends at the cut, so one that does not reach back past the delay holds
        no rows and fails its data check, as deployed. A run with the default labels is "w<cut>";
        one started later, with more of them, "w<cut>+<windows later>"."""
        at = window if started is None else max(started, window)
        labelled = max(min(window, at - self.label_delay), self.warmup - 1, 0)
        usual = max(window - self.label_delay, self.warmup - 1, 0)
        model_id = f"w{window}" if labelled == usual else f"w{window}+{at - window}"
        if model_id not in self._candidates:
            end = self.windows[window]
            seen = self.history.frame.iloc[: min(self.windows[labelled].stop_row, end.stop_row)]
            found = pull_and_train(self.config, seen, end.end, window, self.edge_cases, model_id)
            if labelled < window and "fresh window holds" in found.failure:
                found = replace(
                    found,
                    failure=f"{found.failure}; labels come {self.label_delay} windows late: data.window.fresh_days "
                    f"({self.config.data.window.fresh_days:g}) must reach back past them",
                )
            self._candidates[model_id] = found
            self.trainings += 1
            if self._progress is not None:
                self._progress(f"trained {model_id}" if found.trained else f"{model_id}: {found.failure}")
        return self._candidates[model_id]

    def model(self, model_id: str) -> Candidate:
        return self._candidates[model_id]

    def initial(self) -> Candidate:
        """The first production model: a retraining run at the end of the warm-up."""
        first = self.candidate(self.warmup - 1)
        if not first.trained:
            advice = (
                "fix the training script (its output is above)"
                if first.failure.startswith("Train failed") and self.config.training.script is not None
                else "use a larger --window or --warmup, or relax data.checks"
            )
            raise BacktestInputError(
                f"the warm-up ({self.warmup} window(s)) cannot train a first model: {first.failure}; {advice}"
            )
        return first

    def gate(self, candidate: Candidate, champion: Candidate | None) -> GateVerdict:
        champion_measured = None
        if champion is not None and candidate.test is not None:
            key = (champion.model_id, candidate.model_id)
            if key not in self._champion_measures:
                self._champion_measures[key] = measure(
                    score(champion.estimator, candidate.test, self.config, self.edge_cases),
                    candidate.test,
                    self.config,
                    self.edge_cases,
                )
            champion_measured = self._champion_measures[key]
        return judge(self.config, candidate, champion_measured)

    # ------------------------------------------------------------------ predictions and metrics

    def scores(self, model_id: str, window: Window) -> np.ndarray:
        key = (model_id, window.index)
        if key not in self._scores:
            model = self.model(model_id)
            frame = features_frame(self.rows(window), self.config)
            self._scores[key] = predictions(model.estimator, frame, self.config.model.problem_type)
        return self._scores[key]

    def metrics(self, model_id: str, window: Window) -> dict[str, float | None]:
        """Every metric of the problem type, of the model's predictions on the window's labelled rows."""
        key = (model_id, window.index)
        if key not in self._metrics:
            truth = self.truth(window)
            known = pd.notna(truth)
            predicted = self.scores(model_id, window)[known]
            threshold = self.config.gates.decision_threshold
            problem_type = self.config.model.problem_type
            labels = truth[known].astype(int) if problem_type == "binary_classification" else truth[known]
            self._metrics[key] = measure_metrics(problem_type, labels, predicted, decision_threshold=threshold)
        return self._metrics[key]

    def evidence(self, model_id: str, first: int, last: int, labelled_through: int | None = None) -> VariantEvidence:
        """The promotion stage's live evidence of a model over windows first..last: its
        captured predictions joined with the ground truth by inference id, whose labels have come
        for windows up to `labelled_through` only (default: all of them)."""
        through = last if labelled_through is None else labelled_through
        key = (model_id, first, last, through)
        if key not in self._evidence:
            seen = self.windows[first : last + 1]
            truth = np.concatenate([self.truth(w) if w.index <= through else self._unknown(w) for w in seen])
            ids = np.arange(truth.size)
            known = pd.notna(truth)
            problem_type = self.config.model.problem_type
            label = truth[known].astype(np.int64) if problem_type == "binary_classification" else truth[known]
            labels = pd.DataFrame({"inference_id": ids[known], "label": label})
            scores = np.concatenate([self.scores(model_id, w) for w in seen])
            captured = pd.DataFrame({"inference_id": ids, "prediction": scores})
            threshold = self.config.gates.decision_threshold
            self._evidence[key] = variant_evidence(
                captured, labels, threshold, SIMULATED_LATENCY_P99_MS, SIMULATED_ERROR_RATE, problem_type
            )
        return self._evidence[key]

    def _unknown(self, window: Window) -> np.ndarray:
        """Labels not come yet: as `truth` gives an unknown label."""
        rows = window.stop_row - window.start_row
        if self.config.model.problem_type == "multiclass_classification":
            return np.full(rows, None, dtype=object)
        return np.full(rows, np.nan)

    def monitor(
        self, model_id: str, window: Window, config: ModelConfig, labelled: Labelled | None = None
    ) -> dict[str, Any]:
        """The drift monitor's report on the window against the model's baseline profile, with
        `config`'s drift thresholds (a sweep varies them). Labels come with the window unless
        `labelled` says otherwise: with a label delay, the labelled predictions the monitor has at
        this window's end are an earlier window's, as the model that served it scored them (or none
        yet, `Labelled.none()`)."""
        key = (model_id, window.index, _drift_key(config.drift), labelled)
        if key not in self._reports:
            captured = self.rows(window).assign(**{PREDICTION_COLUMN: self.scores(model_id, window)})
            judged = None
            if labelled is not None:
                label = config.model.label
                if labelled.window is None:
                    judged = captured.iloc[:0]
                else:
                    then = self.windows[labelled.window]
                    judged = self.rows(then).assign(**{PREDICTION_COLUMN: self.scores(labelled.model_id, then)})
                captured = captured.drop(columns=[label])
            self._reports[key] = run_monitor(
                config,
                self.model(model_id).profile,
                captured,
                labelled_window=judged,
                window_start=window.start.isoformat(),
                window_end=window.end.isoformat(),
                workers=1,
            )
        return self._reports[key]


@dataclass(frozen=True)
class Labelled:
    """Which labelled predictions a delayed monitor run has: window `window` as `model_id` served
    it, or none yet (`window` None)."""

    model_id: str
    window: int | None

    @classmethod
    def none(cls) -> Labelled:
        return cls("", None)


def _drift_key(drift: DriftSection) -> str:
    return json.dumps(drift.model_dump(mode="json"), sort_keys=True)
