"""The model the server scores with: loaded once from the model dir, with its input schema and,
for a built-in model, its lean path (`lean`). Script models answer through their `predict_fn`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.gates.catalog import ProblemType
from training_containers import models
from training_containers.estimators import predictions
from training_containers.script import ScriptError
from training_containers.serving.lean import LeanModel, lean_model
from training_containers.serving.requests import Records
from training_containers.serving.schema import Feature, ModelLoadError, schema
from training_containers.train import MODEL_FILE

LEAN_PATH_ENV = "MODEL_SERVER_LEAN_PATH"  # "off": score through the pipeline itself (a diagnosis switch)


@dataclass(frozen=True)
class LoadedModel:
    model: Any
    features: tuple[Feature, ...]
    metadata: dict[str, Any]
    lean: LeanModel | None = None

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def problem_type(self) -> ProblemType:
        """From the model's metadata; a model written before problem types is a binary classifier."""
        found: ProblemType = self.metadata.get("problem_type", "binary_classification")
        return found

    def score(self, records: Records) -> np.ndarray:
        """What the model says of each record: the positive class's score (binary), the predicted
        class (multiclass), the predicted value (regression)."""
        if self.lean is not None:
            return self.lean.score(records.columns, records.count)
        return predictions(self.model, records.frame(), self.problem_type)


def load(folder: Path) -> LoadedModel:
    """The model and its input schema, from the model dir alone."""
    try:
        model, metadata = models.load(folder)
    except (models.ModelDirError, ScriptError) as error:
        raise ModelLoadError(str(error)) from error
    problem_type = metadata.get("problem_type", "binary_classification")
    needed = "predict_proba" if problem_type == "binary_classification" else "predict"
    if not hasattr(model, needed):
        raise ModelLoadError(f"{MODEL_FILE} holds a {type(model).__name__}, which has no {needed}")
    lean = None if os.environ.get(LEAN_PATH_ENV, "").lower() == "off" else lean_model(model, problem_type)
    return LoadedModel(model, schema(model, metadata), metadata, lean)
