"""Generated tabular data for the examples of other problem types (configs/tabular-*.yaml, the
script in models/tabular): three numeric features and a categorical one, and a label that is a
noisy function of them.

    value = 3 x1 + 0.8 x2 - 0.5 x3 + region effect (north 0, south 1.5, east -1) + N(0, 0.5)
    x1 ~ N(0, 1), x2 ~ U(0, 10), x3 ~ Exp(mean 2), region north/south/east with p 0.5/0.3/0.2

The regression label is `value`; the multiclass label is its tercile (bronze, silver, gold); the
binary label is whether it lies in the top 30 %.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.gates.catalog import ProblemType

CLASSES = ("bronze", "silver", "gold")
DATASETS: dict[str, ProblemType] = {
    "tabular-regression": "regression",
    "tabular-multiclass": "multiclass_classification",
    "tabular-binary": "binary_classification",
}


def tabular(
    problem_type: ProblemType, rows: int = 3000, days: float = 30, seed: int = 7, start: str = "2026-01-01"
) -> pd.DataFrame:
    """`rows` rows spread over `days` from `start`, with `row_id`, `event_time`, the features and
    `target`."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(0, 1, rows), rng.uniform(0, 10, rows)
    x3 = rng.exponential(2.0, rows)
    region = rng.choice(["north", "south", "east"], rows, p=[0.5, 0.3, 0.2])
    effect = pd.Series(region).map({"north": 0.0, "south": 1.5, "east": -1.0}).to_numpy()
    value = 3.0 * x1 + 0.8 * x2 - 0.5 * x3 + effect + rng.normal(0, 0.5, rows)
    seconds = np.floor(np.sort(rng.uniform(0, days * 86_400, rows)))  # whole seconds, as event logs hold them
    frame = pd.DataFrame(
        {
            "row_id": np.arange(rows),
            "event_time": pd.Timestamp(start) + pd.to_timedelta(seconds, unit="s"),
            "x1": x1,
            "x2": x2,
            "x3": x3,
            "region": region,
        }
    )
    if problem_type == "regression":
        frame["target"] = value
    elif problem_type == "binary_classification":
        frame["target"] = (value > np.quantile(value, 0.7)).astype(int)
    else:
        cuts = np.quantile(value, [1 / 3, 2 / 3])
        frame["target"] = np.asarray(CLASSES, dtype=object)[np.searchsorted(cuts, value)]
    return frame
