"""A binary classifier's performance estimated from its scores alone, while labels are still to
come: confidence-based performance estimation (CBPE, as NannyML names it).

The candidate's scores are calibrated once, on the held-out test split Evaluate judges it on (rows
the model never trained on). Scores that are probabilities already are kept as they are ("identity"):
those a likelihood-ratio test there does not find miscalibrated at 5 % (`already_calibrated`).
Others are mapped by whichever of two calibrators predicts held-out labels better in a
deterministic 5-fold cross-validation there (Brier score; isotonic on a tie): isotonic regression
(a monotone, piecewise-constant map from score to the probability that the row is positive;
NannyML's) or a smooth one, a logistic regression on a cubic spline of the score's log odds (5
knots, constant beyond the test split's range, projected onto non-decreasing maps). Isotonic
steps fitted on a finite split are coarse where few test rows lie; when drifted traffic crowds
there, the smooth map estimates closer (bench/estimated_performance.py: ROC-AUC within 0.03 on 53
of 58 windows under severe drift against 46 with isotonic alone). On a window of captured traffic
each score's calibrated probability is its expected label, so every metric the gates and the monitor
measure has an expected value:
- at the decision threshold, the expected confusion matrix is the sum of the probabilities (and of
  their complements) of the rows predicted positive and negative: accuracy, precision, recall, f1;
- ranked by score, the expected true and false positives at each distinct score give the expected
  ROC curve (ROC-AUC, the trapezoid under it) and average precision (PR-AUC, sklearn's step sum).
With 0/1 labels in place of probabilities the same sums are the realized metrics, equal to
scikit-learn's (tests/unit/test_estimation.py). These sums of expected counts are NannyML CBPE's
estimates (for ROC-AUC, the same to 1e-4 where NannyML calibrates and scores are not tied:
bench/estimated_performance.py); NannyML, too, keeps scores it judges calibrated as they are (by
held-out ECE, where this asks for significant evidence), and does not group tied scores in average
precision, where this follows scikit-learn.

The reported value is the metric's expectation, and the bounds its spread, if the calibrated
probabilities are right. Both come from labels drawn as Bernoulli(probability) 200 times: the
value is the draws' mean, the bounds their central 95 %. The draws' mean is used because a ratio
of expected counts sits below the expected average precision on small or imbalanced windows. The
bounds carry the window's sampling error, not the calibration's own (fitted on a finite test
split). A model whose calibration no longer holds (concept drift) is what the realized
performance, once labels come, exposes.

Bad input is a finding with its reason, never an estimate: fewer than 100 test rows or 30 of
either class, or a constant score, to calibrate on; scores outside [0, 1]; a window with fewer
than `drift.min_predictions_for_estimate` predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from pipelines.config import PerformanceSlo
from pipelines.drift.statistics import chi2_p_value

ESTIMATED_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc")
MIN_CALIBRATION_ROWS = 100
MIN_CALIBRATION_CLASS_ROWS = 30  # of each class: fewer, and isotonic steps are too coarse to estimate with
CONFIDENCE = 0.95
DRAWS = 200
MAX_DRAWN_ROWS = 100_000  # label draws use at most this many of a window's predictions
ELEMENT_BUDGET = 2_500_000  # draws x rows at a time: 20 MB a float64 array


class Uncalibratable(ValueError):
    """The scores cannot be calibrated: the reason is the message."""


@dataclass(frozen=True)
class Calibration:
    """A monotone map from score to probability as knots: `scores` ascending, `probabilities`
    non-decreasing; between knots linear, outside them the end values (sklearn's IsotonicRegression,
    out_of_bounds="clip"). `method` says which calibrator the knots come from: "isotonic" steps,
    the "spline" map sampled densely in log odds, or "identity" (the scores as they are)."""

    scores: tuple[float, ...]
    probabilities: tuple[float, ...]
    rows: int
    positive_rate: float
    method: str = "isotonic"

    def __call__(self, scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return np.interp(np.asarray(scores, dtype=np.float64), self.scores, self.probabilities)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "scores": list(self.scores),
            "probabilities": list(self.probabilities),
            "rows": self.rows,
            "positive_rate": self.positive_rate,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Calibration:
        return cls(
            tuple(map(float, document["scores"])),
            tuple(map(float, document["probabilities"])),
            int(document["rows"]),
            float(document["positive_rate"]),
            str(document.get("method", "isotonic")),
        )


def _checked_scores(scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
    values = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(values).all():
        raise Uncalibratable(f"{int((~np.isfinite(values)).sum())} scores are missing or not finite")
    outside = int(((values < 0) | (values > 1)).sum())
    if outside:
        raise Uncalibratable(
            f"{outside} scores are outside [0, 1] (e.g. {values[(values < 0) | (values > 1)][0]:g}): "
            "a probability of the positive class is estimated from, not a margin or a class"
        )
    return values


def calibrate(scores: npt.ArrayLike, truth: npt.ArrayLike) -> Calibration:
    """The calibration of `scores` (positive-class scores) by `truth` (0/1), or Uncalibratable."""
    values = _checked_scores(scores)
    labels = np.asarray(truth).astype(np.int64)
    if values.size < MIN_CALIBRATION_ROWS:
        raise Uncalibratable(f"{values.size} labelled scores; calibration needs at least {MIN_CALIBRATION_ROWS}")
    if np.unique(labels).size < 2:
        raise Uncalibratable(f"every label is {labels[0]}: calibration needs both classes")
    fewest = int(min((labels == 1).sum(), (labels == 0).sum()))
    if fewest < MIN_CALIBRATION_CLASS_ROWS:
        raise Uncalibratable(
            f"{fewest} labelled scores of the rarer class; calibration needs at least {MIN_CALIBRATION_CLASS_ROWS} "
            "of each (a larger test split, or a longer data window)"
        )
    if np.unique(values).size < 2:
        raise Uncalibratable(f"every score is {values[0]:g}: a constant model ranks nothing")
    rows, rate = int(values.size), float(labels.mean())
    if already_calibrated(values, labels):
        return Calibration((0.0, 1.0), (0.0, 1.0), rows, rate, "identity")
    if held_out_choice(values, labels) == "spline":
        return Calibration(*_spline_knots(_monotone_spline(values, labels)), rows, rate, "spline")
    fitted = _isotonic().fit(values, labels)
    return Calibration(
        tuple(float(x) for x in fitted.X_thresholds_), tuple(float(y) for y in fitted.y_thresholds_), rows, rate
    )


CV_FOLDS = 5
ProbabilityMap = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]  # scores to probabilities
SPLINE_KNOTS = 5
# The spline's basis functions (knots + degree - 1) sum to 1 everywhere, so with the logistic
# regression's intercept the map has this many free parameters.
SPLINE_DEGREES_OF_FREEDOM = SPLINE_KNOTS + 3 - 1
PROBABILITY_FLOOR = 1e-9  # scores of 0 and 1 are read as this far from them (log odds of about -20.7 and 20.7)
KEPT_SIGNIFICANCE = 0.05  # scores are recalibrated only when miscalibration is this unlikely to be chance
LOG_ODDS_KNOTS = np.linspace(-14.0, 14.0, 561)  # where the smooth map is sampled, 0.05 apart in log odds


def _isotonic() -> Any:
    from sklearn.isotonic import IsotonicRegression

    return IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")


def _spline_basis() -> Any:
    from sklearn.preprocessing import SplineTransformer

    return SplineTransformer(n_knots=SPLINE_KNOTS, degree=3, extrapolation="constant")


def _spline() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(_spline_basis(), LogisticRegression(C=1e4, max_iter=2000))


def _log_odds(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    clipped = _probabilities(values)
    return np.asarray(np.log(clipped / (1 - clipped))).reshape(-1, 1)


def _monotone_spline(values: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]) -> ProbabilityMap:
    """The spline map fitted on `values` and `labels`, projected onto non-decreasing maps by
    isotonic regression of its own values at `values` (least squares, weighted by where the scores
    lie). A cubic spline can bend up beyond its lowest data, where no positive lies: a running
    maximum turned that bend into a floor under every low score, which lifted a fraud model's 1,300
    negatives to 0.02 each: its ROC-AUC was estimated at 0.90 against a realized 0.986. The
    projection pools the bend with the few scores under it instead."""
    log_odds = _log_odds(values)
    fitted = _spline().fit(log_odds, labels)
    projected = _isotonic().fit(values, fitted.predict_proba(log_odds)[:, 1])
    return cast(ProbabilityMap, projected.predict)


def _spline_knots(smooth: ProbabilityMap) -> tuple[tuple[float, ...], tuple[float, ...]]:
    knots = np.concatenate(([0.0], 1 / (1 + np.exp(-LOG_ODDS_KNOTS)), [1.0]))
    return tuple(float(x) for x in knots), tuple(float(y) for y in smooth(knots))


def already_calibrated(values: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]) -> bool:
    """Whether the test split leaves the scores as probabilities already: neither a calibration
    intercept and slope (Cox's test: a logistic regression on the score's log odds) nor the
    spline map gains more likelihood over the scores as they are than chance gives at
    `KEPT_SIGNIFICANCE` (likelihood-ratio tests, chi-square with 2 and the spline's degrees of
    freedom; fitted to convergence, as the chi-square law assumes). The slope test finds a model
    too sure or too unsure of itself, the most common miscalibration, with fewer rows than the
    spline's shape test needs. NannyML, too, calibrates only scores that need it
    (`needs_calibration`); a map fitted on a few hundred rows to scores that need none only adds
    its own error, persistent for as long as the model serves (bench/calibration_choice.py)."""
    log_odds = _log_odds(values)
    as_scored = _log_likelihood(_probabilities(values), labels)
    for features, freedom in ((log_odds, 2), (_spline_basis().fit_transform(log_odds), SPLINE_DEGREES_OF_FREEDOM)):
        fitted = _converged().fit(features, labels).predict_proba(features)[:, 1]
        gain = 2 * (_log_likelihood(_probabilities(fitted), labels) - as_scored)
        if chi2_p_value(max(gain, 0.0), freedom) < KEPT_SIGNIFICANCE:
            return False
    return True


def _converged() -> Any:
    """A logistic regression fitted to its maximum likelihood (Newton steps, a tight tolerance):
    lbfgs at its default tolerance stops short, and the likelihood ratio comes out too small."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1e4, solver="newton-cholesky", tol=1e-10, max_iter=100)


def _probabilities(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.clip(values, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)


def _log_likelihood(probabilities: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]) -> float:
    return float(np.sum(labels * np.log(probabilities) + (1 - labels) * np.log1p(-probabilities)))


def held_out_choice(values: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]) -> str:
    """ "isotonic" or "spline": the calibrator whose Brier score on held-out folds (a deterministic
    stratified 5-fold split) is lower; isotonic on a tie."""
    from sklearn.model_selection import StratifiedKFold

    losses = {"isotonic": 0.0, "spline": 0.0}
    for train, test in StratifiedKFold(CV_FOLDS, shuffle=True, random_state=0).split(values, labels):
        isotonic = _isotonic().fit(values[train], labels[train]).predict(values[test])
        smooth = _monotone_spline(values[train], labels[train])(values[test])
        losses["isotonic"] += float(np.mean((isotonic - labels[test]) ** 2))
        losses["spline"] += float(np.mean((smooth - labels[test]) ** 2))
    return "spline" if losses["spline"] < losses["isotonic"] else "isotonic"


def calibration_profile(scores: npt.ArrayLike, truth: npt.ArrayLike) -> dict[str, Any]:
    """What the baseline profile keeps: the calibration, or why there is none."""
    try:
        return {"status": "ok", **calibrate(scores, truth).to_json()}
    except Uncalibratable as reason:
        return {"status": "uncalibratable", "reason": str(reason)}


# ---- metrics from weights: expected labels (probabilities) or realized ones (0/1)


@dataclass(frozen=True)
class Ranking:
    """The window's scores, ranked once: descending order, the last row of each distinct score,
    and which rows the decision threshold predicts positive."""

    order: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    predicted: npt.NDArray[np.bool_]

    @classmethod
    def of(cls, scores: npt.NDArray[np.float64], decision_threshold: float) -> Ranking:
        order = np.argsort(-scores, kind="stable")
        ranked = scores[order]
        ends = np.r_[np.flatnonzero(np.diff(ranked)), ranked.size - 1]
        return cls(order, ends, scores >= decision_threshold)


def metrics_of(ranking: Ranking, weights: npt.NDArray[np.float64]) -> dict[str, Any]:
    """Every metric of the window, each row counting `weights` positive and 1 - `weights` negative.
    Rows are the last axis: a 2-D `weights` gives one value per row of it (the draws)."""
    w = np.atleast_2d(weights)
    positives = w.sum(axis=1)
    negatives = w.shape[1] - positives
    tp = (w * ranking.predicted).sum(axis=1)
    predicted_positive = float(ranking.predicted.sum())
    fp = predicted_positive - tp
    tn = negatives - fp
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted_positive > 0, tp / predicted_positive, 0.0)
        recall = np.where(positives > 0, tp / positives, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        cumulative = np.cumsum(w[:, ranking.order], axis=1)[:, ranking.ends]
        counted = (ranking.ends + 1).astype(np.float64)
        false_cumulative = counted - cumulative
        tpr = cumulative / positives[:, None]
        fpr = false_cumulative / negatives[:, None]
        zero = np.zeros((w.shape[0], 1))
        roc_auc = np.trapezoid(np.hstack([zero, tpr]), np.hstack([zero, fpr]), axis=1)
        recall_steps = np.diff(np.hstack([zero, tpr]), axis=1)
        pr_auc = (recall_steps * (cumulative / counted)).sum(axis=1)
    defined = (positives > 0) & (negatives > 0)
    values = {
        "accuracy": (tp + tn) / w.shape[1],
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": np.where(defined, roc_auc, np.nan),
        "pr_auc": np.where(defined, pr_auc, np.nan),
    }
    if weights.ndim == 1:
        return {name: (None if np.isnan(v[0]) else float(v[0])) for name, v in values.items()}
    return values  # arrays, one value a draw


def estimate(
    scores: npt.ArrayLike,
    calibration: Calibration | Mapping[str, Any] | None,
    *,
    decision_threshold: float,
    min_predictions: int,
    slo: PerformanceSlo | None = None,
    draws: int = DRAWS,
    seed: int = 0,
) -> dict[str, Any]:
    """The window's estimated metrics with their bounds, the estimate's verdict on `slo`, or a
    finding (`status` and `reason`) and no estimate."""
    values = np.asarray(scores, dtype=np.float64)
    values = values[~np.isnan(values)]
    found: dict[str, Any] = {"predictions": int(values.size), "min_predictions": min_predictions, "metrics": None}
    if isinstance(calibration, Mapping):
        if calibration.get("status", "ok") != "ok":
            return found | {"status": "uncalibrated", "reason": calibration.get("reason")}
        calibration = Calibration.from_json(calibration)
    if calibration is None:
        return found | {"status": "uncalibrated", "reason": "the champion's baseline holds no calibration"}
    if values.size < min_predictions:
        return found | {
            "status": "insufficient_predictions",
            "reason": f"{values.size} predictions in the window; an estimate needs {min_predictions}",
        }
    try:
        _checked_scores(values)
    except Uncalibratable as reason:
        return found | {"status": "invalid_scores", "reason": str(reason)}
    probabilities = calibration(values)
    expected = metrics_of(Ranking.of(values, decision_threshold), probabilities)
    if draws:
        value, low, high = _drawn(values, probabilities, decision_threshold, expected, draws, seed)
    else:
        value, low, high = expected, dict.fromkeys(ESTIMATED_METRICS), dict.fromkeys(ESTIMATED_METRICS)
    measured = {name: {"value": value[name], "lower": low[name], "upper": high[name]} for name in ESTIMATED_METRICS}
    result = found | {
        "status": "ok",
        "metrics": measured,
        "expected_positive_rate": float(probabilities.mean()),
        "confidence": CONFIDENCE,
        "slo": None,
    }
    if slo is not None:
        observed = value[slo.metric]
        result["slo"] = {
            "metric": slo.metric,
            slo.bound: slo.threshold,
            "estimated": observed,
            "met": slo.met(observed),
        }
    return result


def _drawn(
    scores: npt.NDArray[np.float64],
    probabilities: npt.NDArray[np.float64],
    decision_threshold: float,
    expected: Mapping[str, float | None],
    draws: int,
    seed: int,
) -> tuple[dict[str, float | None], dict[str, float | None], dict[str, float | None]]:
    """Each metric's value and bounds from `draws` label draws: the value is the draws' mean (the
    metric's expectation: a ratio of expected counts, as `expected` is, sits below it for average
    precision on small or imbalanced windows), the bounds their central interval. Beyond
    `MAX_DRAWN_ROWS` predictions the draws use a random subset of that many, whose spread is
    narrowed by sqrt(subset / window) around `expected` (sampling error shrinks as 1/sqrt(n); at
    that size the ratio's bias is negligible), so a window of millions costs what one of 100,000 does."""
    rng = np.random.default_rng(seed)
    scale = 1.0
    if scores.size > MAX_DRAWN_ROWS:
        kept = rng.choice(scores.size, MAX_DRAWN_ROWS, replace=False)
        scale = float(np.sqrt(MAX_DRAWN_ROWS / scores.size))
        scores, probabilities = scores[kept], probabilities[kept]
    ranking = Ranking.of(scores, decision_threshold)
    chunk = max(1, ELEMENT_BUDGET // scores.size)
    collected: dict[str, list[npt.NDArray[np.float64]]] = {name: [] for name in ESTIMATED_METRICS}
    for start in range(0, draws, chunk):
        labels = (rng.random((min(chunk, draws - start), scores.size)) < probabilities).astype(np.float64)
        for name, drawn in metrics_of(ranking, labels).items():
            collected[name].append(np.asarray(drawn))
    tail = (1 - CONFIDENCE) / 2 * 100
    value: dict[str, float | None] = {}
    low: dict[str, float | None] = {}
    high: dict[str, float | None] = {}
    for name, parts in collected.items():
        spread = np.concatenate(parts)
        spread = spread[~np.isnan(spread)]
        centre = expected[name]
        if not spread.size or centre is None:
            value[name] = low[name] = high[name] = None
            continue
        if scale == 1.0:
            value[name] = float(spread.mean())
            low[name], high[name] = (float(v) for v in np.percentile(spread, [tail, 100 - tail]))
        else:
            value[name] = centre
            deviation = np.percentile(spread - spread.mean(), [tail, 100 - tail]) * scale
            low[name], high[name] = float(centre + deviation[0]), float(centre + deviation[1])
    return value, low, high
