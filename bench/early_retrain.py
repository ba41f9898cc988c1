"""Benchmark: what can a retraining run gain when it starts at the first alarm after a drift, before
any label from after the drift has come?

    .venv/bin/python bench/early_retrain.py [--seeds 10] [--first-seed 7]

This is the question behind issue 21's run-count target. The estimated-performance signal fires a
window after the drift (bench/label_delay.py); with labels 5 windows late its run has only labels
from before the drift. Unless that run can use the drifted inputs without their labels, its model
is the champion again, and the signal fires once more when the labels come: one run more than the
realized signal, which starts once they have.

The peer is the textbook remedy for covariate shift without labels, importance weighting
(Shimodaira 2000; Sugiyama et al. 2007): the labelled rows from before the drift are weighted by
p(after | inputs) / p(before | inputs), as a domain classifier (scikit-learn's gradient boosting)
tells the captured inputs after the drift from the rows before it. Each row's probability comes
from the folds it was not fitted on (5-fold `cross_val_predict`), the weights are cut at their 99th
percentile and scaled to a mean of 1, and their effective sample size, (sum w)^2 / sum w^2, says how
many rows the weighted fit really has. The remedy assumes P(fraud | inputs) stays what it was.

Models, all the backtest tests' small logistic regression (`tests/integration/test_backtest.py`)
fitted by the Train job's `fit`, judged by ROC-AUC on the drifted traffic after the first three
days after the drift:
- champion: 6 calm days (9,000 labelled rows);
- weighted: the same rows, weighted towards the first day after the drift (1,500 inputs, no labels);
- the realized signal's run: 4 calm days and the first 2 days after the drift, labelled;
- drifted labels only: the first 2 days after the drift.

Streams (`pipelines/simulation/datagen.py`, 1,500 rows a day):
- `covariate`: the generator's scenario (fraud rate 10 %; 22,500 test rows). Amounts and
  distances are scaled and the merchant mix redrawn for both classes alike, so P(fraud | inputs)
  changes with the inputs: what an amount of 100 says about fraud is not what it said before.
- `selection`: calm traffic (fraud rate 10 %) kept with a probability that rises with amount and
  distance, so the inputs move and P(fraud | inputs) is exactly what it was: pure covariate
  shift. Selection raises the fraud rate to about 29 % and keeps about 19,000 test rows.

Columns: mean ROC-AUC over the seeds; each model's gain over the champion with its standard error
over the seeds (the seeds' spread / sqrt(seeds)); the weights' effective sample size.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_val_predict  # noqa: E402

from pipelines.backtest.retrain import job_hyperparameters  # noqa: E402
from pipelines.config import parse_config  # noqa: E402
from pipelines.simulation.datagen import StreamSpec, generate  # noqa: E402
from tests.integration.test_backtest import RAW_CONFIG, ROWS_PER_DAY  # noqa: E402
from training_containers.estimators import features_frame  # noqa: E402
from training_containers.train import fit  # noqa: E402
from training_containers.windowing import WEIGHT_COLUMN  # noqa: E402

CONFIG = parse_config(copy.deepcopy(RAW_CONFIG))
MODELS = ("champion", "weighted", "realized signal's run", "drifted labels only")
CALM_DAYS, CAPTURED_DAYS, LABELLED_DRIFT_DAYS, TEST_DAYS = 6, 1, 2, 15


def days(scenario: str, count: int, seed: int) -> pd.DataFrame:
    rows = ROWS_PER_DAY * count
    spec = StreamSpec(rows=rows, start="2026-01-01", days=count, seed=seed, fraud_rate=0.1, scenario=scenario)  # type: ignore[arg-type]
    return generate(spec)


def selected(count: int, seed: int) -> pd.DataFrame:
    """Calm rows kept with a probability rising with amount and distance: P(fraud | inputs) kept."""
    pool = days("none", count * 4, seed)
    lean = 2.0 * np.log(pool["amount"] / 80) + 1.5 * np.log(pool["distance_from_home_km"] / 20)
    kept = np.random.default_rng(seed).random(len(pool)) < 1 / (1 + np.exp(-lean))
    return pool[kept].head(ROWS_PER_DAY * count).reset_index(drop=True)


DRIFTED: dict[str, Callable[[int, int], pd.DataFrame]] = {
    "covariate": lambda count, seed: days("covariate", count, seed),
    "selection": selected,
}


def encoded(frame: pd.DataFrame) -> pd.DataFrame:
    inputs = features_frame(frame, CONFIG)
    return pd.get_dummies(inputs, columns=["merchant_category", "risk_band"], dtype=float)


def importance(before: pd.DataFrame, after: pd.DataFrame, seed: int) -> np.ndarray:
    """p(after | x) / p(before | x) for each row of `before`, by a domain classifier whose
    probability for a row comes from the folds it was not fitted on."""
    inputs = encoded(pd.concat([before, after], ignore_index=True))
    domain = np.r_[np.zeros(len(before)), np.ones(len(after))]
    classifier = HistGradientBoostingClassifier(max_iter=200, random_state=seed)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    held_out = cross_val_predict(classifier, inputs, domain, cv=folds, method="predict_proba")[:, 1]
    p = np.clip(held_out[: len(before)], 1e-3, 1 - 1e-3)
    weights = p / (1 - p) * len(before) / len(after)
    weights = np.minimum(weights, np.quantile(weights, 0.99))
    scaled: np.ndarray = weights / weights.mean()
    return scaled


def effective_rows(weights: np.ndarray) -> float:
    """Kish's effective sample size of a weighted fit."""
    return float(weights.sum() ** 2 / (weights**2).sum())


def roc_auc(rows: pd.DataFrame, test: pd.DataFrame) -> float:
    model, _ = fit(CONFIG, job_hyperparameters(CONFIG), rows, rows.iloc[:0])
    return float(roc_auc_score(test[CONFIG.model.label], model.predict_proba(features_frame(test, CONFIG))[:, 1]))


def measure(scenario: str, seed: int) -> dict[str, float]:
    """Each model's ROC-AUC on the test traffic, and the weights' effective rows."""
    calm = days("none", CALM_DAYS, seed)
    drifted = DRIFTED[scenario](CAPTURED_DAYS + LABELLED_DRIFT_DAYS + TEST_DAYS, seed + 1000)
    captured = drifted.head(ROWS_PER_DAY * CAPTURED_DAYS)
    labelled = drifted.iloc[: ROWS_PER_DAY * LABELLED_DRIFT_DAYS]
    test = drifted.iloc[ROWS_PER_DAY * (CAPTURED_DAYS + LABELLED_DRIFT_DAYS) :]
    recent_calm = calm.tail(ROWS_PER_DAY * (CALM_DAYS - LABELLED_DRIFT_DAYS))
    weights = importance(calm, captured, seed)
    return {
        "effective rows": effective_rows(weights),
        "champion": roc_auc(calm, test),
        "weighted": roc_auc(calm.assign(**{WEIGHT_COLUMN: weights}), test),
        "realized signal's run": roc_auc(pd.concat([recent_calm, labelled], ignore_index=True), test),
        "drifted labels only": roc_auc(labelled, test),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=7)
    args = parser.parse_args()
    started = time.perf_counter()
    gained = MODELS[1:]
    print(f"| stream | champion | {' | '.join(f'{name} (gain)' for name in gained)} | weights' effective rows |")
    print(f"|---|---|{'---|' * len(gained)}---|")
    for scenario in DRIFTED:
        found: dict[str, list[float]] = {}
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            print(f"{scenario}, seed {seed} ...", file=sys.stderr, flush=True)
            for name, value in measure(scenario, seed).items():
                found.setdefault(name, []).append(value)
        cells = [f"{statistics.mean(found['champion']):.4f}"]
        for name in gained:
            gains = [v - c for v, c in zip(found[name], found["champion"], strict=True)]
            error = statistics.stdev(gains) / len(gains) ** 0.5 if len(gains) > 1 else float("nan")
            cells.append(f"{statistics.mean(found[name]):.4f} ({statistics.mean(gains):+.4f} ± {error:.4f})")
        effective = statistics.mean(found["effective rows"])
        print(f"| {scenario} | {' | '.join(cells)} | {effective:,.0f} of {ROWS_PER_DAY * CALM_DAYS:,} |")
    print(f"\n{args.seeds} seeds from {args.first_seed}, {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
