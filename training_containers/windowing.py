"""Which rows train the candidate: the fresh window, history by strategy, and the splits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipelines.config import ModelConfig
from training_containers.validation import Window

WEIGHT_COLUMN = "sample_weight"


def resolve_window(fresh: pd.DataFrame, config: ModelConfig, window_end: str) -> Window | None:
    """The window ends at `window_end` (the DataWindowEnd parameter) or, when it is "latest" or
    empty, at the newest fresh row, so a re-run over the same data selects the same rows."""
    if window_end.strip() and window_end.strip().lower() != "latest":
        end = pd.Timestamp(window_end)
        end = end.tz_convert("UTC").tz_localize(None) if end.tzinfo else end
    elif len(fresh):
        end = pd.Timestamp(fresh[config.model.time_column].max())
    else:
        return None
    spec = config.data.window
    return Window(
        start=end - pd.Timedelta(days=spec.fresh_days),
        end=end,
        labels_until=end - pd.Timedelta(days=spec.label_delay_days),
    )


def select_history(history: pd.DataFrame, config: ModelConfig, window: Window) -> pd.DataFrame:
    """History before the fresh window, limited and weighted by the configured strategy."""
    if len(history) == 0:
        return history.assign(**{WEIGHT_COLUMN: pd.Series(dtype="float64")})
    spec = config.data.window
    time = history[config.model.time_column]
    keep = time <= window.start
    if spec.strategy == "rolling":
        assert spec.history_days is not None  # enforced by the config
        keep &= time > window.end - pd.Timedelta(days=spec.history_days)
    selected = history.loc[keep]
    return selected.assign(**{WEIGHT_COLUMN: weights(selected[config.model.time_column], config, window)})


def weights(times: pd.Series, config: ModelConfig, window: Window) -> np.ndarray:
    spec = config.data.window
    if spec.strategy != "weighted":
        return np.ones(len(times))
    assert spec.half_life_days is not None  # enforced by the config
    age_days = (window.end - times).dt.total_seconds().to_numpy() / 86_400.0
    weights: np.ndarray = np.power(0.5, age_days / spec.half_life_days)
    return weights


def split(
    fresh: pd.DataFrame, history: pd.DataFrame, config: ModelConfig
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Test is the newest `test_fraction` of the fresh window (what the model will face next);
    validation is a seeded random share of the rest; train is what remains."""
    time_column = config.model.time_column
    fresh = fresh.sort_values([time_column, config.model.id_column], kind="stable")
    fresh = fresh.assign(**{WEIGHT_COLUMN: 1.0})
    n_test = math.ceil(len(fresh) * config.data.split.test_fraction)
    test = fresh.iloc[len(fresh) - n_test :]
    rest = pd.concat([history, fresh.iloc[: len(fresh) - n_test]], ignore_index=True)
    rng = np.random.default_rng(config.training.random_seed)
    is_validation = rng.random(len(rest)) < config.data.split.validation_fraction
    return (
        rest.loc[~is_validation].reset_index(drop=True),
        rest.loc[is_validation].reset_index(drop=True),
        test.reset_index(drop=True),
    )
