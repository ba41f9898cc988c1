"""Estimators named in the config, as scikit-learn pipelines that carry their own preprocessing:
a classifier or a regressor by the model's problem type, and the predictions every job and the
server make with them (`predictions`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import LabelEncoder, OneHotEncoder, OrdinalEncoder, StandardScaler

from pipelines.config import FeatureType, ModelConfig
from pipelines.gates.catalog import ProblemType
from pipelines.gates.metrics import as_classes

MODEL_STEP = "model"  # the pipeline's last step: fit parameters go to it as model__<name>

_TREES = {
    ("gradient_boosting", False): HistGradientBoostingClassifier,
    ("gradient_boosting", True): HistGradientBoostingRegressor,
    ("random_forest", False): RandomForestClassifier,
    ("random_forest", True): RandomForestRegressor,
}


def _ordinal(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    """Numbers as they are (trees take NaN), categories as codes (unknown -1, missing -2)."""
    codes = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2)
    return ColumnTransformer(
        [("numeric", "passthrough", numeric), ("categorical", codes, categorical)], verbose_feature_names_out=False
    )


def _scaled(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    """Imputed and standardised numbers, one-hot categories: what a linear model needs."""
    return ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"), OneHotEncoder(handle_unknown="ignore")
                ),
                categorical,
            ),
        ]
    )


class EncodedLabels(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A classifier that learns class indices 0..k-1 (XGBoost's) fitted on any labels: the labels
    are encoded on the way in and decoded on the way out."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, rows: Any, labels: Any, sample_weight: Any = None) -> EncodedLabels:
        self.encoder_ = LabelEncoder().fit(labels)
        self.classes_ = self.encoder_.classes_
        self.estimator.fit(rows, self.encoder_.transform(labels), sample_weight=sample_weight)
        return self

    def predict(self, rows: Any) -> np.ndarray:
        decoded: np.ndarray = self.encoder_.inverse_transform(np.asarray(self.estimator.predict(rows), dtype=int))
        return decoded

    def predict_proba(self, rows: Any) -> np.ndarray:
        probabilities: np.ndarray = self.estimator.predict_proba(rows)
        return probabilities


def _boosting(estimator: str, regression: bool, seed: int, hyperparameters: dict[str, Any]) -> Any:
    """XGBoost or LightGBM through their scikit-learn interfaces, with the config's hyperparameters
    (imported here: only a model that uses them needs them)."""
    if estimator == "xgboost":
        import xgboost

        model = (xgboost.XGBRegressor if regression else xgboost.XGBClassifier)(random_state=seed, n_jobs=1)
        model.set_params(**hyperparameters)
        return model if regression else EncodedLabels(model)
    import lightgbm

    model = (lightgbm.LGBMRegressor if regression else lightgbm.LGBMClassifier)(random_state=seed, n_jobs=1, verbose=-1)
    return model.set_params(**hyperparameters)


def build_estimator(config: ModelConfig, hyperparameters: dict[str, Any], seed: int) -> Pipeline:
    """The configured estimator for the model's problem type; an unknown hyperparameter is refused
    by the estimator itself (scikit-learn's set_params names it)."""
    numeric = [f.name for f in config.model.features if f.type is FeatureType.numeric]
    categorical = [f.name for f in config.model.features if f.type is FeatureType.categorical]
    regression = config.model.problem_type == "regression"
    estimator = config.training.estimator
    model: Any
    if estimator == "gradient_boosting":
        prepare = _ordinal(numeric, categorical)
        is_categorical = [False] * len(numeric) + [True] * len(categorical)
        model = _TREES[estimator, regression](categorical_features=is_categorical, random_state=seed)
    elif estimator == "random_forest":
        prepare, model = _ordinal(numeric, categorical), _TREES[estimator, regression](random_state=seed)
    elif estimator in ("xgboost", "lightgbm"):
        model = _boosting(estimator, regression, seed, hyperparameters)
        return Pipeline([("prepare", _ordinal(numeric, categorical)), (MODEL_STEP, model)])
    elif regression:
        raise ValueError(f"training.estimator {estimator} does not support regression")
    else:
        prepare, model = _scaled(numeric, categorical), LogisticRegression(random_state=seed)
    model.set_params(**hyperparameters)
    return Pipeline([("prepare", prepare), (MODEL_STEP, model)])


def targets(frame: Any, config: ModelConfig) -> np.ndarray:
    """The label column as the estimator learns it: 0/1 for a binary classifier (1 the positive
    class), class labels as text for a multiclass one, numbers for a regression."""
    labels = frame[config.model.label]
    problem_type: ProblemType = config.model.problem_type
    if problem_type == "binary_classification":
        return np.asarray((labels == config.model.positive_class).astype(int).to_numpy())
    if problem_type == "multiclass_classification":
        return as_classes(labels.to_numpy())
    return np.asarray(labels.to_numpy(dtype="float64"))


def predictions(model: Any, rows: Any, problem_type: ProblemType) -> np.ndarray:
    """What the model says of each row: the positive class's score (binary), the predicted class
    as text (multiclass), the predicted value (regression)."""
    if problem_type == "binary_classification":
        return np.asarray(model.predict_proba(rows)[:, 1], dtype="float64")
    if problem_type == "multiclass_classification":
        return as_classes(model.predict(rows))
    return np.asarray(model.predict(rows), dtype="float64")


def features_frame(frame: Any, config: ModelConfig) -> Any:
    """The model's input columns, categoricals as strings (how the encoders were fitted)."""
    columns = frame[config.model.feature_names].copy()
    for feature in config.model.features:
        if feature.type is FeatureType.categorical:
            values = columns[feature.name]
            columns[feature.name] = values.where(values.isna(), values.astype(str)).astype(object)
    return columns
