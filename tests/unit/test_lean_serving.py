"""The server's lean path (training_containers.serving.lean) answers what the fitted pipeline
answers: every built-in estimator on every problem type it supports, on a fresh test split sent
as a CSV request, with missing numbers, missing and unseen categories; and a record alone gets
the score it gets in a batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import KBinsDiscretizer

from pipelines.config import ESTIMATOR_PROBLEM_TYPES, ModelConfig, parse_config
from tests.problem_types import config_dict, rows
from training_containers.estimators import features_frame, predictions
from training_containers.scoring import records
from training_containers.serving.lean import lean_model
from training_containers.serving.model import LEAN_PATH_ENV, LoadedModel, load
from training_containers.serving.requests import CSV, parse
from training_containers.serving.schema import schema
from training_containers.train import fit

QUICK = {"gradient_boosting": {"max_iter": 40}, "logistic_regression": {}}


def fitted(
    estimator: str, problem_type: str, folder: Path, missing_in_training: bool = True
) -> tuple[ModelConfig, Any, dict[str, Any]]:
    raw = config_dict(problem_type, "gradient_boosting", folder)
    raw["training"] = {
        "estimator": estimator,
        "random_seed": 3,
        "hyperparameters": QUICK.get(estimator, {"n_estimators": 30}),
    }
    config = parse_config(raw)
    frame = rows(problem_type, count=1500)
    if missing_in_training:  # else a missing value at serving time is an unknown category
        frame.loc[frame.index[:60], "x3"] = np.nan
        frame.loc[frame.index[60:90], "region"] = np.nan
    model, metadata = fit(config, {}, frame.iloc[:1000], frame.iloc[1000:])
    return config, model, metadata


def awkward_test_split(problem_type: str) -> pd.DataFrame:
    test = rows(problem_type, count=400, seed=11)
    test.loc[test.index[0:20], "x1"] = np.nan
    test.loc[test.index[20:40], "region"] = np.nan
    test.loc[test.index[40:60], "region"] = "west"  # never seen in training
    test.loc[test.index[60:70], ["x1", "x2", "x3"]] = np.nan
    return test


def csv_request(frame: pd.DataFrame, config: ModelConfig) -> bytes:
    """The rows as an endpoint takes them (the writer of an image model's scoring rows)."""
    return records([frame], config).encode()


@pytest.mark.parametrize(
    ("estimator", "problem_type", "missing_in_training"),
    [(e, p, True) for e, types in ESTIMATOR_PROBLEM_TYPES.items() for p in types]
    + [(e, "binary_classification", False) for e in ESTIMATOR_PROBLEM_TYPES],
)
def test_the_lean_path_answers_what_the_pipeline_answers(
    estimator: str, problem_type: str, missing_in_training: bool, tmp_path: Path
) -> None:
    config, model, metadata = fitted(estimator, problem_type, tmp_path, missing_in_training)
    test = awkward_test_split(problem_type)
    records = parse(csv_request(test, config), CSV, schema(model, metadata))
    lean = lean_model(model, problem_type)
    assert lean is not None, f"{estimator} has no lean path"
    # the estimator sees the very matrix the pipeline's preprocessing gives it
    prepared = model.named_steps["prepare"].transform(features_frame(test, config))
    prepared = prepared.toarray() if hasattr(prepared, "toarray") else prepared
    np.testing.assert_array_equal(lean.matrix(records.columns, records.count), prepared)

    got = lean.score(records.columns, records.count)
    want = predictions(model, features_frame(test, config), problem_type)

    if problem_type == "multiclass_classification":
        assert got.tolist() == want.tolist()
        # and the probabilities behind the classes
        probabilities = lean.estimator.predict_proba(lean.matrix(records.columns, records.count))
        expected = model.predict_proba(features_frame(test, config))
        np.testing.assert_allclose(
            probabilities, expected, rtol=0, atol=1e-12 if estimator == "logistic_regression" else 0
        )
        want = expected[:, 0]
    elif estimator == "logistic_regression":  # one-hot columns: a dense product where the pipeline's is sparse
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    else:  # the same matrix reaches the same trees: bit for bit
        np.testing.assert_array_equal(got, want)
    assert len(set(np.asarray(want).tolist())) > 3  # the rows are told apart: the comparison means something
    for row in (0, 20, 40, 60, 100):  # one record alone, as real-time traffic sends it
        alone = parse(csv_request(test.iloc[[row]], config), CSV, schema(model, metadata))
        single = lean.score(alone.columns, 1)
        if problem_type == "multiclass_classification":
            assert single.tolist() == [got[row]]
        else:
            assert single[0] == pytest.approx(want[row], abs=1e-12)


def test_columns_given_by_position_are_served_through_the_pipeline() -> None:
    frame = rows("regression", count=200)
    by_position = Pipeline(
        [
            ("prepare", ColumnTransformer([("numeric", "passthrough", [2, 3])])),
            ("model", RandomForestRegressor(n_estimators=5, random_state=0)),
        ]
    ).fit(frame, frame["target"])
    assert lean_model(by_position, "regression") is None


def test_a_preprocessing_the_lean_path_does_not_know_is_served_through_the_pipeline(tmp_path: Path) -> None:
    _, model, _ = fitted("random_forest", "regression", tmp_path)
    frame = rows("regression", count=200)
    binned = Pipeline(
        [
            ("prepare", ColumnTransformer([("numeric", KBinsDiscretizer(n_bins=3, encode="ordinal"), ["x1", "x2"])])),
            ("model", RandomForestRegressor(n_estimators=5, random_state=0)),
        ]
    ).fit(frame, frame["target"])
    assert lean_model(binned, "regression") is None
    assert lean_model(model.named_steps["model"], "regression") is None  # not a pipeline at all
    assert lean_model(model, "regression") is not None


def test_the_lean_path_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import joblib

    from training_containers.files import write_json
    from training_containers.train import METADATA_FILE, MODEL_FILE

    config, model, metadata = fitted("gradient_boosting", "binary_classification", tmp_path)
    joblib.dump(model, tmp_path / MODEL_FILE)
    write_json(tmp_path / METADATA_FILE, metadata)
    assert load(tmp_path).lean is not None
    monkeypatch.setenv(LEAN_PATH_ENV, "off")
    through_pipeline: LoadedModel = load(tmp_path)
    assert through_pipeline.lean is None
    test = awkward_test_split("binary_classification").iloc[:50]
    records = parse(csv_request(test, config), CSV, through_pipeline.features)
    np.testing.assert_array_equal(
        through_pipeline.score(records), predictions(model, features_frame(test, config), "binary_classification")
    )
