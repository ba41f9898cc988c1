"""Train job.

Channels: train/, validation/ (Parquet from DataPull), config/model-config.json, and with
`training.script` code/sourcedir.tar.gz (the team's script, run by training_containers.script).
Hyperparameters: `estimator`, `random_seed` and the estimator's own, JSON-encoded strings; for a
script, the script's own only.
Model dir: model.joblib (an sklearn pipeline with its preprocessing), or whatever the script
wrote plus its code in code/; and model_metadata.json (problem type, parameters, validation
metrics, environment and its hash, and the input schema: `features` in order and
`feature_types`, so serving needs nothing but the model dir). Errors go to /opt/ml/output/failure,
which SageMaker reports as the job's FailureReason.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from pipelines import naming
from pipelines.config import ModelConfig, parse_config
from pipelines.gates.metrics import measure
from training_containers import contract
from training_containers.environment import environment, environment_hash
from training_containers.estimators import MODEL_STEP, build_estimator, features_frame, predictions, targets
from training_containers.files import read_json, read_tables, write_json
from training_containers.script import ScriptError, ScriptFolders, ScriptModel, run_entry_point, unpack_source
from training_containers.windowing import WEIGHT_COLUMN

MODEL_FILE = "model.joblib"
METADATA_FILE = "model_metadata.json"
RESERVED = {"estimator", "random_seed"}


def decode(hyperparameters: dict[str, str]) -> dict[str, Any]:
    """SageMaker passes every hyperparameter as a string; values were JSON-encoded on the way in."""
    decoded: dict[str, Any] = {}
    for name, text in hyperparameters.items():
        try:
            decoded[name] = json.loads(text)
        except json.JSONDecodeError:
            decoded[name] = text
    return decoded


def train(config: ModelConfig, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    train_rows = read_tables(contract.training_channel("train"))
    validation_rows = read_tables(contract.training_channel("validation"))
    if config.training.script is not None:
        return train_script(config, hyperparameters, train_rows, validation_rows)
    estimator, metadata = fit(config, hyperparameters, train_rows, validation_rows)
    out = contract.model_dir()
    joblib.dump(estimator, out / MODEL_FILE)
    write_json(out / METADATA_FILE, metadata)
    return metadata


def train_script(
    config: ModelConfig, hyperparameters: dict[str, Any], train_rows: pd.DataFrame, validation_rows: pd.DataFrame
) -> dict[str, Any]:
    """The team's script trains (training_containers.script); its model is then loaded and
    measured through its own model_fn and predict_fn, so a broken inference module fails here
    (and a multiclass one that answers with classes the label never holds)."""
    script = config.training.script
    assert script is not None
    with tempfile.TemporaryDirectory() as workdir:
        run_entry_point(script, unpack_source(Path(workdir)), hyperparameters)
    _, metadata = script_model(config, hyperparameters, contract.model_dir(), train_rows, validation_rows)
    return metadata


def fit_script(
    config: ModelConfig,
    hyperparameters: dict[str, Any],
    train_rows: pd.DataFrame,
    validation_rows: pd.DataFrame,
    folder: Path,
) -> tuple[ScriptModel, dict[str, Any]]:
    """The Train job of a script without its container: the splits written where the script
    reads them, the script run from a copy of its source dir, the model loaded from `folder`."""
    script = config.training.script
    assert script is not None
    folders = ScriptFolders(folder / "train", folder / "validation", folder / "model", folder / "output")
    for path, rows in ((folders.train, train_rows), (folders.validation, validation_rows)):
        path.mkdir(parents=True)
        rows.to_parquet(path / f"{path.name}.parquet", index=False)
    folders.model.mkdir()
    folders.output.mkdir()
    source = shutil.copytree(config.local_path(script.source_dir), folder / "source")
    run_entry_point(script, source, hyperparameters, folders)
    return script_model(config, hyperparameters, folders.model, train_rows, validation_rows)


def script_model(
    config: ModelConfig,
    hyperparameters: dict[str, Any],
    out: Path,
    train_rows: pd.DataFrame,
    validation_rows: pd.DataFrame,
) -> tuple[ScriptModel, dict[str, Any]]:
    """The model a script wrote to `out`, loaded and measured through its own model_fn and
    predict_fn; its metadata is written beside it."""
    script = config.training.script
    assert script is not None
    metadata = _metadata(config, {"inference": script.inference, "entry_point": script.entry_point})
    metadata["hyperparameters"] = hyperparameters
    model = ScriptModel(out, script.inference, config.model.problem_type)
    if len(validation_rows):
        predicted = predictions(model, features_frame(validation_rows, config), config.model.problem_type)
        if config.model.problem_type == "multiclass_classification":
            _known_classes(predicted, pd.concat([train_rows, validation_rows]), config, script.inference)
        metadata["validation_metrics"] = _measured(predicted, validation_rows, config)
    write_json(out / METADATA_FILE, metadata)
    return model, metadata


def _measured(predicted: Any, rows: pd.DataFrame, config: ModelConfig) -> dict[str, float | None]:
    """The problem type's metrics of `predicted`, the model's answers for `rows`."""
    threshold = config.gates.decision_threshold
    return measure(config.model.problem_type, targets(rows, config), predicted, decision_threshold=threshold)


def _known_classes(predicted: Any, labelled: pd.DataFrame, config: ModelConfig, inference: str) -> None:
    """A multiclass model answers with the label's own classes (as text): an index or a class
    spelt another way would be scored as wrong on every row."""
    classes = set(targets(labelled, config))
    answered = set(predicted)
    unknown = sorted(answered - classes)
    if unknown:
        raise ScriptError(
            f"{inference} predict_fn returned classes the label '{config.model.label}' never holds: "
            f"{unknown[:5]}; its classes are {sorted(classes)[:10]} (answer with the class itself, as text)"
        )


def _metadata(config: ModelConfig, how: dict[str, Any]) -> dict[str, Any]:
    """What serving and evaluation read besides the model: its schema, problem type and lineage."""
    env = environment()
    return {
        "model_name": config.model.name,
        **how,
        "problem_type": config.model.problem_type,
        "features": config.model.feature_names,
        "feature_types": {f.name: f.type.value for f in config.model.features},
        "positive_class": config.model.positive_class,
        "decision_threshold": config.gates.decision_threshold,
        "validation_metrics": None,
        "environment": env,
        "environment_hash": environment_hash(env),
    }


def fit(
    config: ModelConfig, hyperparameters: dict[str, Any], train_rows: pd.DataFrame, validation_rows: pd.DataFrame
) -> tuple[Any, dict[str, Any]]:
    """The Train job without its files: fit the configured estimator on the train split and
    measure it on the validation split. Returns the fitted pipeline and its metadata."""
    if hyperparameters.get("estimator", config.training.estimator) != config.training.estimator:
        raise ValueError(
            f"hyperparameter estimator={hyperparameters['estimator']!r} disagrees with the config "
            f"({config.training.estimator!r})"
        )
    seed = int(hyperparameters.get("random_seed", config.training.random_seed))
    params = {k: v for k, v in hyperparameters.items() if k not in RESERVED}
    if len(train_rows) == 0:
        raise ValueError("the train channel holds no rows")
    problem_type = config.model.problem_type
    y_train = targets(train_rows, config)
    if problem_type != "regression" and len(np.unique(y_train)) < 2:
        raise ValueError(f"the train channel holds a single class; a {problem_type} model needs at least two")

    estimator = build_estimator(config, params, seed)
    weights = train_rows[WEIGHT_COLUMN].to_numpy() if WEIGHT_COLUMN in train_rows else None
    estimator.fit(features_frame(train_rows, config), y_train, **{f"{MODEL_STEP}__sample_weight": weights})

    metadata = _metadata(config, {"estimator": config.training.estimator})
    metadata |= {
        "classes": [str(c) for c in getattr(estimator, "classes_", [])] if problem_type != "regression" else None,
        "hyperparameters": params,
        "random_seed": seed,
        "rows": {"train": len(train_rows), "validation": len(validation_rows)},
        "validation_metrics": (
            _measured(
                predictions(estimator, features_frame(validation_rows, config), problem_type), validation_rows, config
            )
            if len(validation_rows)
            else None
        ),
    }
    return estimator, metadata


def main() -> int:
    try:
        config = parse_config(read_json(contract.training_channel("config") / naming.CONFIG_FILE))
        metadata = train(config, decode(contract.hyperparameters()))
    except Exception as exc:
        failure = contract.failure_file()
        failure.parent.mkdir(parents=True, exist_ok=True)
        failure.write_text(f"{type(exc).__name__}: {exc}"[:1024])
        traceback.print_exc()
        return 1
    trained = metadata.get("estimator") or metadata.get("entry_point")
    print(f"trained {trained}; validation {metadata['validation_metrics']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
