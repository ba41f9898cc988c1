"""Estimators named in the config, as sklearn pipelines that carry their own preprocessing."""

from __future__ import annotations

from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from pipelines.config import FeatureType, ModelConfig


def build_estimator(config: ModelConfig, hyperparameters: dict[str, Any], seed: int) -> Pipeline:
    numeric = [f.name for f in config.model.features if f.type is FeatureType.numeric]
    categorical = [f.name for f in config.model.features if f.type is FeatureType.categorical]
    if config.training.estimator == "gradient_boosting":
        prepare = ColumnTransformer(
            [
                ("numeric", "passthrough", numeric),
                (
                    "categorical",
                    OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2),
                    categorical,
                ),
            ],
            verbose_feature_names_out=False,
        )
        is_categorical = [False] * len(numeric) + [True] * len(categorical)
        model: Any = HistGradientBoostingClassifier(categorical_features=is_categorical, random_state=seed)
    else:
        prepare = ColumnTransformer(
            [
                ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
                (
                    "categorical",
                    make_pipeline(
                        SimpleImputer(strategy="constant", fill_value="missing"),
                        OneHotEncoder(handle_unknown="ignore"),
                    ),
                    categorical,
                ),
            ]
        )
        model = LogisticRegression(random_state=seed)
    model.set_params(**hyperparameters)
    return Pipeline([("prepare", prepare), ("classifier", model)])


def features_frame(frame: Any, config: ModelConfig) -> Any:
    """The model's input columns, categoricals as strings (how the encoders were fitted)."""
    columns = frame[config.model.feature_names].copy()
    for feature in config.model.features:
        if feature.type is FeatureType.categorical:
            values = columns[feature.name]
            columns[feature.name] = values.where(values.isna(), values.astype(str)).astype(object)
    return columns
