"""The model's input schema (feature names in order and their types), from the model dir alone:
`features` and `feature_types` in model_metadata.json, or, for a model written before the types
were recorded, the column lists of the pipeline's own ColumnTransformer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from training_containers.train import METADATA_FILE

NUMERIC, CATEGORICAL = "numeric", "categorical"


class ModelLoadError(Exception):
    """The model dir does not hold a model this server can load."""


@dataclass(frozen=True)
class Feature:
    name: str
    type: str  # numeric | categorical


def schema(pipeline: Any, metadata: dict[str, Any]) -> tuple[Feature, ...]:
    """Feature names in order and their types: recorded by Train, else read from the pipeline."""
    names = metadata.get("features") or list(getattr(pipeline, "feature_names_in_", []))
    types = metadata.get("feature_types") or _pipeline_types(pipeline)
    missing = [name for name in names if types.get(name) not in (NUMERIC, CATEGORICAL)]
    if not names or missing:
        raise ModelLoadError(
            f"{METADATA_FILE} and the pipeline do not give the input schema "
            f"(features: {names or 'none'}; without a type: {missing})"
        )
    return tuple(Feature(str(name), types[name]) for name in names)


def _pipeline_types(pipeline: Any) -> dict[str, str]:
    """Column kinds from the ColumnTransformer `build_estimator` puts first ("numeric", "categorical")."""
    steps = getattr(pipeline, "named_steps", {})
    prepare = steps.get("prepare") if hasattr(steps, "get") else None
    types: dict[str, str] = {}
    for name, _, columns in getattr(prepare, "transformers_", []):
        if name in (NUMERIC, CATEGORICAL):
            types |= {str(column): name for column in columns}
    return types
