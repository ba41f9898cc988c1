"""The team's inference module, with the SageMaker inference toolkit's names: `model_fn` loads
what train.py wrote, `predict_fn` answers for a frame of the model's features. `input_fn` is for
a SageMaker framework image (training.script.framework_image), whose toolkit calls it on each
request; this project's own server parses requests itself and calls `predict_fn` with the frame."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from features import engineer

FEATURES = ["x1", "x2", "x3", "region"]  # the config's order: what each record of a request holds


def input_fn(body: str | bytes, content_type: str) -> pd.DataFrame:
    """text/csv records (one a line, no header) as the frame predict_fn takes."""
    if content_type != "text/csv":
        raise ValueError(f"unsupported content type {content_type}; send text/csv")
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    types = {"x1": "float64", "x2": "float64", "x3": "float64", "region": "str"}
    return pd.read_csv(io.StringIO(text), header=None, names=FEATURES, dtype=types)


def model_fn(model_dir: str) -> dict[str, Any]:
    loaded: dict[str, Any] = joblib.load(Path(model_dir) / "model.pkl")
    return loaded


def predict_fn(data: pd.DataFrame, model: dict[str, Any]) -> Any:
    """The value (regression), the positive class's probability (two classes) or the class."""
    estimator, features = model["model"], engineer(data)
    if model["task"] == "classification" and len(estimator.classes_) == 2:
        return estimator.predict_proba(features)[:, 1]
    return estimator.predict(features)
