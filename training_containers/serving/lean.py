"""A built-in model's own fitted encoders and estimator applied to typed arrays.

The sklearn pipeline spends most of a single record's time outside the model: building and
validating a DataFrame, ColumnTransformer's column selection and per-call checks (about 7 ms for
one row, against about 2 ms for the classifier alone). `lean_model` reads the fitted parameters of
the two preprocessing shapes `build_estimator` makes (numbers passed through and categories as
ordinal codes; imputed, standardised numbers and one-hot categories) and applies the very same
arithmetic to the request's columns, then calls the fitted final estimator on the matrix. The
answers equal the pipeline's (`tests/unit/test_lean_serving.py` compares them on the test
split, for every built-in estimator and problem type). Anything else (a script's model, a
preprocessing it does not know) returns None: that model is served through its own pipeline.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from pipelines.gates.catalog import ProblemType
from training_containers.estimators import MODEL_STEP, predictions

Columns = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Block:
    """Some of the matrix's columns, from the request's columns: `fill(columns, out)` writes
    `width` columns of `out` (rows x width)."""

    width: int
    fill: Callable[[Columns, np.ndarray], None]


@dataclass(frozen=True)
class LeanModel:
    blocks: tuple[Block, ...]
    estimator: Any
    problem_type: ProblemType

    @property
    def width(self) -> int:
        return sum(block.width for block in self.blocks)

    def matrix(self, columns: Columns, rows: int) -> np.ndarray:
        """What the pipeline's preprocessing gives the estimator for these rows."""
        matrix = np.empty((rows, self.width), dtype=np.float64)
        start = 0
        for block in self.blocks:
            block.fill(columns, matrix[:, start : start + block.width])
            start += block.width
        return matrix

    def score(self, columns: Columns, rows: int) -> np.ndarray:
        """What the pipeline would answer for these rows (see `predictions`)."""
        matrix = self.matrix(columns, rows)
        # The request was checked already: values are finite numbers, NaN or text.
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return predictions(self.estimator, matrix, self.problem_type)


def lean_model(model: Any, problem_type: ProblemType) -> LeanModel | None:
    """The lean form of a built-in pipeline, or None when it holds anything else."""
    if not isinstance(model, Pipeline) or [name for name, _ in model.steps] != ["prepare", MODEL_STEP]:
        return None
    prepare, estimator = model.named_steps["prepare"], model.named_steps[MODEL_STEP]
    if not isinstance(prepare, ColumnTransformer) or hasattr(estimator, "feature_names_in_"):
        return None  # an estimator fitted on named columns wants a frame
    blocks = []
    for _, transformer, columns in prepare.transformers_:
        if transformer == "drop" or len(columns) == 0:
            continue
        if not all(isinstance(column, str) for column in columns):
            return None  # columns by position or mask: only named features map to a request's columns
        block = _block(transformer, list(columns))
        if block is None:
            return None
        blocks.append(block)
    return LeanModel(tuple(blocks), _estimator(estimator), problem_type)


def _estimator(estimator: Any) -> Any:
    """The fitted estimator to call on the matrix. A HistGradientBoosting model with categorical
    features remaps them once more inside (a ColumnTransformer of its own, `_preprocessor`: an
    OrdinalEncoder over the codes it was fitted on, categorical columns first), which costs a
    single record more than its trees do; a copy of it gets that step compiled like the others.
    scikit-learn's own code does the rest (trees, link function, classes). Any other estimator
    is called as it is."""
    inner = getattr(estimator, "_preprocessor", None)
    if not isinstance(estimator, HistGradientBoostingClassifier | HistGradientBoostingRegressor) or inner is None:
        return estimator
    remap = _hgb_remap(inner)
    if remap is None:
        return estimator
    lean = copy.copy(estimator)
    vars(lean)["_preprocess_X"] = lambda X, *, reset: remap(X)
    return lean


def _hgb_remap(inner: ColumnTransformer) -> Callable[[np.ndarray], np.ndarray] | None:
    """HistGradientBoosting's `_preprocessor.transform` on a float matrix: each categorical
    column's value replaced by its index among the categories seen in fit (NaN if unknown or
    missing), categorical columns first, then the numeric ones as they are."""
    parts = {
        name: (transformer, np.flatnonzero(np.asarray(columns))) for name, transformer, columns in inner.transformers_
    }
    if set(parts) - {"encoder", "numerical", "remainder"} or "encoder" not in parts:
        return None
    encoder, categorical = parts["encoder"]
    numeric = parts["numerical"][1] if "numerical" in parts else np.array([], dtype=int)
    remainder = parts.get("remainder")
    if (
        not isinstance(encoder, OrdinalEncoder)
        or not (math.isnan(encoder.unknown_value) and math.isnan(encoder.encoded_missing_value))
        or (remainder is not None and len(remainder[1]) > 0)
        or any(c.dtype.kind != "f" for c in encoder.categories_)
    ):
        return None
    known = [c[~np.isnan(c)] for c in encoder.categories_]  # sorted, NaN (if seen) last

    def remap(matrix: np.ndarray) -> np.ndarray:
        out = np.empty((matrix.shape[0], len(categorical) + len(numeric)), dtype=np.float64)
        for position, (column, categories) in enumerate(zip(categorical, known, strict=True)):
            values = matrix[:, column]
            index = np.minimum(np.searchsorted(categories, values), max(len(categories) - 1, 0))
            found = categories[index] == values if len(categories) else np.zeros(len(values), dtype=bool)
            out[:, position] = np.where(found, index, np.nan)
        out[:, len(categorical) :] = matrix[:, numeric]
        return out

    return remap


def _block(transformer: Any, names: Sequence[str]) -> Block | None:
    steps = [transformer] if not isinstance(transformer, Pipeline) else [step for _, step in transformer.steps]
    if transformer == "passthrough" or (isinstance(transformer, FunctionTransformer) and transformer.func is None):
        return _passthrough(names)  # a fitted ColumnTransformer holds "passthrough" as an identity FunctionTransformer
    if len(steps) == 1 and isinstance(steps[0], OrdinalEncoder):
        return _ordinal(steps[0], names)
    if len(steps) == 2 and isinstance(steps[0], SimpleImputer) and isinstance(steps[1], StandardScaler):
        return _standardised(steps[0], steps[1], names)
    if len(steps) == 2 and isinstance(steps[0], SimpleImputer) and isinstance(steps[1], OneHotEncoder):
        return _one_hot(steps[0], steps[1], names)
    return None


def _passthrough(names: Sequence[str]) -> Block:
    def fill(columns: Columns, out: np.ndarray) -> None:
        for position, name in enumerate(names):
            out[:, position] = columns[name]

    return Block(len(names), fill)


def _is_missing(value: Any) -> bool:
    """A categorical value the request left out (requests give text, or NaN when missing)."""
    return not isinstance(value, str) and (value is None or (isinstance(value, float) and math.isnan(value)))


def _codes(categories: np.ndarray) -> dict[str, int]:
    return {str(c): i for i, c in enumerate(categories) if isinstance(c, str)}


def _ordinal(encoder: OrdinalEncoder, names: Sequence[str]) -> Block | None:
    """OrdinalEncoder.transform: a category's index among the fitted categories, the configured
    code for an unknown; a missing value gets `encoded_missing_value` where training saw missing
    values (NaN is then one of the fitted categories), else it is an unknown like any other."""
    if (
        encoder.handle_unknown != "use_encoded_value"
        or getattr(encoder, "_infrequent_enabled", False)
        or any(c.dtype != object for c in encoder.categories_)
    ):
        return None
    lookups = [_codes(c) for c in encoder.categories_]
    unknown = float(encoder.unknown_value)
    missing = [
        float(encoder.encoded_missing_value) if any(_is_missing(c) for c in categories) else unknown
        for categories in encoder.categories_
    ]

    def fill(columns: Columns, out: np.ndarray) -> None:
        for position, (name, codes) in enumerate(zip(names, lookups, strict=True)):
            absent = missing[position]
            out[:, position] = [absent if _is_missing(v) else codes.get(v, unknown) for v in columns[name]]

    return Block(len(names), fill)


def _standardised(imputer: SimpleImputer, scaler: StandardScaler, names: Sequence[str]) -> Block | None:
    """SimpleImputer (NaN -> its statistic) then StandardScaler ((x - mean) / scale)."""
    statistics = np.asarray(imputer.statistics_, dtype=np.float64)
    if (
        not (isinstance(imputer.missing_values, float) and math.isnan(imputer.missing_values))
        or np.isnan(statistics).any()  # a column the imputer dropped
        or getattr(imputer, "add_indicator", False)
        or len(statistics) != len(names)
    ):
        return None
    mean = scaler.mean_ if scaler.with_mean else None
    scale = scaler.scale_ if scaler.with_std else None

    def fill(columns: Columns, out: np.ndarray) -> None:
        for position, name in enumerate(names):
            out[:, position] = columns[name]
        np.copyto(out, statistics, where=np.isnan(out))
        if mean is not None:
            out -= mean
        if scale is not None:
            out /= scale

    return Block(len(names), fill)


def _one_hot(imputer: SimpleImputer, encoder: OneHotEncoder, names: Sequence[str]) -> Block | None:
    """SimpleImputer (missing -> its fill value) then OneHotEncoder(handle_unknown='ignore'):
    a 1 in the column of the value's category, none for a category never seen."""
    if (
        imputer.strategy != "constant"
        or encoder.handle_unknown != "ignore"
        or encoder.drop is not None
        or getattr(encoder, "_infrequent_enabled", False)
    ):
        return None
    fill_value = str(imputer.fill_value)
    lookups, offsets, width = [], [], 0
    for categories in encoder.categories_:
        lookups.append(_codes(categories))
        offsets.append(width)
        width += len(categories)

    def fill(columns: Columns, out: np.ndarray) -> None:
        out[:] = 0.0
        rows = np.arange(out.shape[0])
        for name, codes, offset in zip(names, lookups, offsets, strict=True):
            hits = [codes.get(fill_value if _is_missing(v) else v, -1) for v in columns[name]]
            found = np.asarray(hits) >= 0
            out[rows[found], offset + np.asarray(hits)[found]] = 1.0

    return Block(width, fill)
