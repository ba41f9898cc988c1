"""The team's inference module, with the SageMaker inference toolkit's names: `model_fn` loads
what train.py wrote, `predict_fn` answers for a frame of the model's features."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from features import engineer


def model_fn(model_dir: str) -> dict[str, Any]:
    loaded: dict[str, Any] = joblib.load(Path(model_dir) / "model.pkl")
    return loaded


def predict_fn(data: pd.DataFrame, model: dict[str, Any]) -> Any:
    """The value (regression), the positive class's probability (two classes) or the class."""
    estimator, features = model["model"], engineer(data)
    if model["task"] == "classification" and len(estimator.classes_) == 2:
        return estimator.predict_proba(features)[:, 1]
    return estimator.predict(features)
