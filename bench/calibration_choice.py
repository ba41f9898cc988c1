"""Benchmark: how far each calibration puts a model's estimated ROC-AUC from its realized one,
per model, when the calibration is fitted on a test split of the size the backtest's retrained
models have.

    .venv/bin/python bench/calibration_choice.py [--seeds 10] [--first-seed 7]

Models: the backtest tests' small logistic regression (`tests/integration/test_backtest.py`),
trained as a retraining run trains it (`pipelines/backtest/retrain.py`: fresh window, train,
validation and test split; the test split is about 900 rows with 70 to 120 positives) on generated
transactions (`pipelines/backtest/streams.py`, 1,500 a day, fraud rate 10 %), once on calm traffic
(trained on days 0-1, judged on days 2-7) and once after a covariate shift (trained on days 0-2 of
shifted traffic, judged on days 15-29). Each model's scores are calibrated on its own test split by
isotonic regression, by the spline map, kept as they are (identity), and by `calibrate`, which
chooses (`already_calibrated`, then held-out Brier score); each calibration estimates every judged
day's ROC-AUC (`estimate`, no draws), and the table gives the mean over models of the absolute
mean error per model (the error a model carries while it serves), the largest such error, and
the mean error over all days. A second table does the same on scores whose log odds are a
multiple (`slope`) of the truth's: 1 is calibrated, above 1 too sure, below too unsure.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.backtest.retrain import pull_and_train  # noqa: E402
from pipelines.backtest.streams import Segment, drifting_stream  # noqa: E402
from pipelines.config import parse_config  # noqa: E402
from pipelines.drift.estimation import (  # noqa: E402
    Calibration,
    _isotonic,
    _monotone_spline,
    _spline_knots,
    calibrate,
    estimate,
    held_out_choice,
)
from pipelines.gates.metrics import binary  # noqa: E402
from tests.integration.test_backtest import RAW_CONFIG, ROWS_PER_DAY  # noqa: E402
from training_containers.estimators import targets  # noqa: E402
from training_containers.evaluate import score  # noqa: E402

CONFIG = parse_config(copy.deepcopy(RAW_CONFIG))
# traffic, days trained on, days judged
SETTINGS = {"calm": ("none", 2, range(2, 8)), "after the shift": ("covariate", 3, range(15, 30))}
CALIBRATIONS = ("isotonic", "spline", "identity", "chosen")


def calibrations(scores: np.ndarray, truth: np.ndarray) -> dict[str, Calibration]:
    rows, rate = scores.size, float(truth.mean())
    isotonic = _isotonic().fit(scores, truth)
    return {
        "isotonic": Calibration(tuple(isotonic.X_thresholds_), tuple(isotonic.y_thresholds_), rows, rate),
        "spline": Calibration(*_spline_knots(_monotone_spline(scores, truth)), rows, rate, "spline"),
        "identity": Calibration((0.0, 1.0), (0.0, 1.0), rows, rate, "identity"),
        "chosen": calibrate(scores, truth),
    }


def model_errors(seed: int, traffic: str, trained_days: int, judged: range) -> tuple[dict[str, float], str]:
    """Each calibration's mean error over the judged days for one model, and the chosen method."""
    last = judged[-1] + 1
    frame, _ = drifting_stream([Segment(traffic, last)], rows_per_day=ROWS_PER_DAY, seed=seed, fraud_rate=0.1)
    time_column = CONFIG.model.time_column
    start = frame[time_column].min().normalize()
    end = start + pd.Timedelta(days=trained_days)
    candidate = pull_and_train(CONFIG, frame[frame[time_column] < end], end.to_pydatetime(), trained_days, None)
    found = calibrations(candidate.measured["_predictions"], candidate.measured["_truth"])
    errors: dict[str, list[float]] = {name: [] for name in CALIBRATIONS}
    threshold = CONFIG.gates.decision_threshold
    for day in judged:
        day_start = start + pd.Timedelta(days=day)
        rows = frame[(frame[time_column] >= day_start) & (frame[time_column] < day_start + pd.Timedelta(days=1))]
        scores = score(candidate.estimator, rows, CONFIG, None).test  # as Evaluate scores the test split
        truth = targets(rows, CONFIG)
        realized = binary(truth, scores, threshold)["roc_auc"]
        for name, calibration in found.items():
            estimated = estimate(scores, calibration, decision_threshold=threshold, min_predictions=1, draws=0)
            errors[name].append(estimated["metrics"]["roc_auc"]["value"] - realized)
    return {name: statistics.mean(e) for name, e in errors.items()}, found["chosen"].method


def too_sure(rows: int, rng: np.random.Generator, slope: float) -> tuple[np.ndarray, np.ndarray]:
    """Scores whose log odds are `slope` times the truth's (log odds N(-3, 2)), and labels drawn by the truth."""
    log_odds = rng.normal(-3, 2, rows)
    truth = (rng.random(rows) < 1 / (1 + np.exp(-log_odds))).astype(int)
    return 1 / (1 + np.exp(-slope * log_odds)), truth


def slope_errors(slope: float, rows: int, splits: int) -> dict[str, float]:
    """Scores whose log odds are `slope` times the truth's (log odds N(-3, 2)): the mean absolute
    error of the estimated ROC-AUC on a 20,000-row window when a map is always fitted (the held-out
    choice of isotonic or spline), when the scores are kept, and when `calibrate` chooses."""
    errors: dict[str, list[float]] = {"fitted": [], "identity": [], "chosen": []}
    for seed in range(splits):
        rng = np.random.default_rng(seed)
        scores, truth = too_sure(rows, rng, slope)
        window, labels = too_sure(20_000, rng, slope)
        realized = binary(labels, window, 0.5)["roc_auc"]
        found = calibrations(scores, truth)
        found["fitted"] = found["spline"] if held_out_choice(scores, truth) == "spline" else found["isotonic"]
        for name in errors:
            estimated = estimate(window, found[name], decision_threshold=0.5, min_predictions=1, draws=0)
            errors[name].append(abs(estimated["metrics"]["roc_auc"]["value"] - realized))
    return {name: statistics.mean(e) for name, e in errors.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=7)
    parser.add_argument("--rows", type=int, default=900, help="test rows of the slope table")
    parser.add_argument("--splits", type=int, default=20, help="test splits per slope")
    args = parser.parse_args()
    started = time.perf_counter()
    print("| traffic | calibration | mean abs error per model | largest | mean error | chosen per model |")
    print("|---|---|---|---|---|---|")
    for setting, (traffic, trained_days, judged) in SETTINGS.items():
        per_model, chosen = [], []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            print(f"{setting}, seed {seed} ...", file=sys.stderr, flush=True)
            errors, method = model_errors(seed, traffic, trained_days, judged)
            per_model.append(errors)
            chosen.append(method)
        methods = ", ".join(f"{m} {chosen.count(m)}" for m in sorted(set(chosen)))
        for name in CALIBRATIONS:
            values = [abs(e[name]) for e in per_model]
            print(
                f"| {setting} | {name} | {statistics.mean(values):.4f} | {max(values):.4f} | "
                f"{statistics.mean(e[name] for e in per_model):+.4f} | {methods if name == 'chosen' else ''} |"
            )
    print(f"\nscores whose log odds are a multiple of the truth's, {args.rows} test rows, {args.splits} splits:\n")
    print("| slope | map always fitted | kept as they are | chosen |")
    print("|---|---|---|---|")
    for slope in (0.8, 0.9, 1.0, 1.1, 1.2, 1.3):
        print(f"slope {slope} ...", file=sys.stderr, flush=True)
        found = slope_errors(slope, args.rows, args.splits)
        print(f"| {slope:g} | {found['fitted']:.4f} | {found['identity']:.4f} | {found['chosen']:.4f} |")
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
