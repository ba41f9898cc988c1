"""A trained model from its model dir, whichever way it was trained: a built-in estimator's
`model.joblib`, or a team's script's model behind its own `model_fn` and `predict_fn`
(training_containers.script). Evaluate, the server and the champion comparison all load this way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib

from training_containers.files import read_json
from training_containers.script import ScriptModel
from training_containers.train import METADATA_FILE, MODEL_FILE


class ModelDirError(ValueError):
    """The folder holds no model this project can load."""


def load(folder: Path) -> tuple[Any, dict[str, Any]]:
    """(the model, its metadata) from an unpacked model dir."""
    metadata_path = folder / METADATA_FILE
    metadata: dict[str, Any] = read_json(metadata_path) if metadata_path.is_file() else {}
    if metadata.get("inference"):
        return ScriptModel(
            folder, metadata["inference"], metadata.get("problem_type", "binary_classification")
        ), metadata
    path = folder / MODEL_FILE
    if not path.is_file():
        raise ModelDirError(f"no {MODEL_FILE} in {folder}: the model archive was not unpacked there")
    return joblib.load(path), metadata
