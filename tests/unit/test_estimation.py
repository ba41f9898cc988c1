"""Estimated performance (pipelines.drift.estimation): the sums that estimate every metric give
scikit-learn's realized metrics when the weights are labels; on traffic whose calibrated
probabilities are right the estimate lands where the labels do, inside its bounds about as often as
their confidence says; bad input is a finding with its reason, never a number."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from pipelines.config import PerformanceSlo
from pipelines.drift.estimation import (
    ESTIMATED_METRICS,
    Calibration,
    Ranking,
    Uncalibratable,
    already_calibrated,
    calibrate,
    calibration_profile,
    estimate,
    metrics_of,
)
from pipelines.gates.metrics import binary


def stream(rows: int, seed: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Scores of a model whose calibration is known (positive with probability score**1.5), on
    traffic whose score distribution moves with `shift` (covariate shift: P(y|x) unchanged)."""
    rng = np.random.default_rng(seed)
    scores = np.clip(rng.beta(2 + 3 * shift, 5 - 3 * shift, rows), 0, 1)
    truth = (rng.random(rows) < scores**1.5).astype(np.int64)
    return np.round(scores, 3), truth  # rounded: ties, as a tree's scores have


@pytest.mark.parametrize("threshold", [0.1, 0.35, 0.5, 0.9])
def test_with_labels_as_weights_every_metric_is_scikit_learns(threshold: float) -> None:
    scores, truth = stream(3000, seed=int(threshold * 100))
    realized = metrics_of(Ranking.of(scores, threshold), truth.astype(np.float64))
    expected = binary(truth, scores, threshold)
    assert realized == pytest.approx(expected, abs=1e-12)


def test_drawn_labels_in_a_batch_are_each_scikit_learns() -> None:
    scores, _ = stream(500, seed=3)
    draws = (np.random.default_rng(0).random((4, scores.size)) < scores).astype(np.float64)
    batch = metrics_of(Ranking.of(scores, 0.5), draws)
    for row, labels in enumerate(draws):
        single = binary(labels.astype(np.int64), scores, 0.5)
        assert {name: float(batch[name][row]) for name in ESTIMATED_METRICS} == pytest.approx(single, abs=1e-12)


def test_a_step_in_the_calibration_is_kept_by_isotonic_regression_as_scikit_learn_fits_it() -> None:
    """Positives jump from 10 % to 90 % at a score of 0.5: no smooth map holds out as well, so the
    held-out choice is isotonic, and its map is scikit-learn's."""
    rng = np.random.default_rng(5)
    scores = np.round(rng.random(3000), 3)
    truth = (rng.random(3000) < np.where(scores < 0.5, 0.1, 0.9)).astype(np.int64)
    calibration = calibrate(scores, truth)
    assert calibration.method == "isotonic"
    fitted = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(scores, truth)
    probe = np.linspace(-0.1, 1.1, 301)
    assert calibration(probe) == pytest.approx(fitted.predict(probe), abs=1e-12)
    assert Calibration.from_json(calibration.to_json()) == calibration


def test_a_smooth_calibration_is_fitted_smooth_and_close_to_the_truth() -> None:
    """Positives with probability score**1.5: the spline map holds out better than isotonic steps,
    is non-decreasing, and lies within 0.03 of the true probability where scores are dense."""
    scores, truth = stream(20_000, seed=5)
    calibration = calibrate(scores, truth)
    assert calibration.method == "spline"
    assert list(calibration.probabilities) == sorted(calibration.probabilities)
    probe = np.linspace(0.1, 0.6, 51)  # Beta(2, 5) scores: most of them
    assert np.abs(calibration(probe) - probe**1.5).max() < 0.03
    isotonic = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(scores, truth)
    assert np.abs(calibration(probe) - probe**1.5).mean() < np.abs(isotonic.predict(probe) - probe**1.5).mean()
    assert Calibration.from_json(calibration.to_json()) == calibration


def separated(rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A well-separated classifier's scores, as a fraud model's: 10 % positives, log odds N(3, 2.5)
    for them and N(-6, 3.5) for the rest, so the lowest scores reach 1e-8 with no positive near."""
    truth = (rng.random(rows) < 0.1).astype(np.int64)
    log_odds = np.where(truth == 1, rng.normal(3, 2.5, rows), rng.normal(-6, 3.5, rows))
    return 1 / (1 + np.exp(-log_odds)), truth


def test_a_spline_bent_up_where_no_positive_lies_does_not_lift_the_lowest_scores() -> None:
    """On a small test split the cubic spline can bend up beyond its lowest data (seen in a
    backtest: 0.021 at the lowest score of a fraud model). Made non-decreasing by a running maximum,
    that bend became a floor under every low score, and on 1,300 negatives a floor of 0.02 pulled
    the estimated ROC-AUC from 0.986 to 0.90. Projected onto non-decreasing maps where the scores
    lie, the lowest scores keep a probability near their rate (none positive) and the estimate
    stays unbiased."""
    lifted, errors = [], []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        scores, truth = separated(900, rng)
        calibration = calibrate(scores, truth)
        lowest = np.sort(scores)[: scores.size // 2]  # no positive among them in any of the seeds
        lifted.append(float(calibration(lowest).mean()))
        window, labels = separated(1500, rng)
        found = estimate(window, calibration, decision_threshold=0.5, min_predictions=200, draws=0)
        errors.append(found["metrics"]["roc_auc"]["value"] - binary(labels, window, 0.5)["roc_auc"])
    assert max(lifted) < 5e-4, lifted
    assert abs(float(np.mean(errors))) < 0.002, errors
    assert max(abs(e) for e in errors) < 0.015, errors


def probabilities(rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Scores that are probabilities (log odds N(-4, 3): about 12 % positives) and labels drawn by them."""
    scores = 1 / (1 + np.exp(-rng.normal(-4, 3, rows)))
    return scores, (rng.random(rows) < scores).astype(np.int64)


def test_scores_that_are_probabilities_already_are_kept_as_they_are() -> None:
    """A model whose scores are probabilities already (a well-specified logistic regression, like
    the backtest's small model) needs no map. A map fitted anyway on a 900-row test split with
    about 100 positives adds its own error, which lasts as long as the model serves: the fitted
    maps put ROC-AUC up to 0.02 off, and in a backtest one such model's estimate ran 0.013 under
    its realized ROC-AUC on calm traffic and retrained for nothing. Scores that likelihood-ratio
    tests at 5 % do not find miscalibrated are kept as they are: all but about one in twenty."""
    errors, kept = [], 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        calibration = calibrate(*probabilities(900, rng))
        if calibration.method != "identity":
            continue
        kept += 1
        probe = np.linspace(0, 1, 101)
        assert calibration(probe) == pytest.approx(probe, abs=1e-12)
        window, labels = probabilities(20_000, rng)
        found = estimate(window, calibration, decision_threshold=0.5, min_predictions=200, draws=0)
        errors.append(found["metrics"]["roc_auc"]["value"] - binary(labels, window, 0.5)["roc_auc"])
    assert kept >= 9
    assert max(abs(e) for e in errors) < 0.005, errors


def too_sure(rows: int, rng: np.random.Generator, slope: float) -> tuple[np.ndarray, np.ndarray]:
    """Scores whose log odds are `slope` times the truth's (log odds N(-3, 2)), and labels drawn by the truth."""
    log_odds = rng.normal(-3, 2, rows)
    truth = (rng.random(rows) < 1 / (1 + np.exp(-log_odds))).astype(np.int64)
    return 1 / (1 + np.exp(-slope * log_odds)), truth


def test_scores_too_sure_or_too_unsure_of_themselves_are_recalibrated() -> None:
    """A reviewer found the first test (the spline map's likelihood gain only, fitted by lbfgs to
    its default tolerance) keeping 9 of 40 test splits of scores 1.3 times as sure as the truth,
    whose kept estimates then missed ROC-AUC by 0.03 to 0.05: the fit stopped short of its maximum
    likelihood and the spline's tail knots added nothing, so the test rejected far less than its 5 %.
    Fitted to convergence, with a calibration-slope test beside it, it finds them."""
    kept = [
        sum(already_calibrated(*too_sure(900, np.random.default_rng(seed), slope)) for seed in range(20))
        for slope in (1.3, 0.7, 2.0)
    ]
    assert kept[0] <= 2 and kept[1] == 0 and kept[2] == 0, kept


def test_under_covariate_shift_the_estimate_finds_the_realized_metric_within_its_bounds() -> None:
    """Calibrated on a reference, estimated on shifted traffic: P(y|score) holds, so the estimate
    follows the realized metrics as the score distribution moves."""
    reference_scores, reference_truth = stream(20_000, seed=11)
    calibration = calibrate(reference_scores, reference_truth)
    covered, close, windows = {name: 0 for name in ESTIMATED_METRICS}, 0, 60
    for seed in range(windows):
        scores, truth = stream(2000, seed=100 + seed, shift=0.5 * seed / windows)
        found = estimate(scores, calibration, decision_threshold=0.5, min_predictions=500, draws=200, seed=seed)
        realized = binary(truth, scores, 0.5)
        for name in ESTIMATED_METRICS:
            entry = found["metrics"][name]
            covered[name] += entry["lower"] <= realized[name] <= entry["upper"]
        close += abs(found["metrics"]["roc_auc"]["value"] - realized["roc_auc"]) <= 0.03
    # 95 % bounds: over 60 windows each metric is covered about 57 times (sampling and the fitted
    # calibration's own error take a few); ROC-AUC within 0.03 on at least 90 % of the windows.
    assert min(covered.values()) >= 0.85 * windows, covered
    assert close >= 0.9 * windows


def test_the_estimate_judges_its_objective() -> None:
    scores, truth = stream(5000, seed=2)
    calibration = calibrate(scores, truth)
    floor = PerformanceSlo(metric="roc_auc", min=0.99)
    found = estimate(scores, calibration, decision_threshold=0.5, min_predictions=500, slo=floor)
    assert found["slo"]["met"] is False and found["slo"]["estimated"] == found["metrics"]["roc_auc"]["value"]
    easy = PerformanceSlo(metric="roc_auc", min=0.5)
    assert estimate(scores, calibration, decision_threshold=0.5, min_predictions=500, slo=easy)["slo"]["met"]


@pytest.mark.parametrize(
    ("scores", "truth", "reason"),
    [
        (np.full(500, 0.3), np.r_[np.zeros(250), np.ones(250)], "every score is 0.3: a constant model ranks nothing"),
        (np.linspace(0, 1, 500), np.zeros(500), "every label is 0: calibration needs both classes"),
        (np.linspace(-2, 2, 500), np.r_[np.zeros(250), np.ones(250)], "375 scores are outside [0, 1]"),
        (np.linspace(0, 1, 50), np.r_[np.zeros(25), np.ones(25)], "50 labelled scores; calibration needs at least"),
        (np.r_[np.nan, np.linspace(0, 1, 499)], np.r_[np.zeros(250), np.ones(250)], "1 scores are missing"),
    ],
)
def test_scores_that_cannot_be_calibrated_say_why(scores: np.ndarray, truth: np.ndarray, reason: str) -> None:
    with pytest.raises(Uncalibratable, match=reason.replace("[", r"\[").replace("]", r"\]")):
        calibrate(scores, truth)
    found = calibration_profile(scores, truth)
    assert found["status"] == "uncalibratable" and reason in found["reason"]


def test_no_estimate_without_what_it_needs() -> None:
    scores, truth = stream(2000, seed=9)
    calibration = calibrate(scores, truth)
    few = estimate(scores[:499], calibration, decision_threshold=0.5, min_predictions=500)
    assert (few["status"], few["metrics"]) == ("insufficient_predictions", None)
    assert "499 predictions in the window; an estimate needs 500" in few["reason"]
    margins = estimate(scores * 4 - 2, calibration, decision_threshold=0.5, min_predictions=500)
    assert margins["status"] == "invalid_scores" and "outside [0, 1]" in margins["reason"]
    uncalibrated = estimate(scores, None, decision_threshold=0.5, min_predictions=500)
    assert uncalibrated["status"] == "uncalibrated" and uncalibrated["metrics"] is None
    stored = {"status": "uncalibratable", "reason": "every label is 0: calibration needs both classes"}
    assert estimate(scores, stored, decision_threshold=0.5, min_predictions=500)["reason"] == stored["reason"]


def test_the_value_is_the_metrics_expectation_not_a_ratio_of_expected_counts() -> None:
    """On a small window with few positives, average precision's expectation over label sets drawn
    from the probabilities is well above the AP of expected counts (NannyML's estimate); the
    reported value is the expectation."""
    rng = np.random.default_rng(4)
    scores = np.round(rng.beta(1, 30, 500), 4)
    probabilities = np.clip(scores * 1.2, 0, 1)
    calibration = Calibration(
        tuple(np.linspace(0, 1, 101)), tuple(np.clip(np.linspace(0, 1.2, 101), 0, 1)), 10_000, 0.02
    )
    found = estimate(scores, calibration, decision_threshold=0.5, min_predictions=100, draws=400)["metrics"]["pr_auc"]
    ratio = metrics_of(Ranking.of(scores, 0.5), probabilities)["pr_auc"]
    realized = [
        binary((rng.random(scores.size) < probabilities).astype(int), scores, 0.5)["pr_auc"] for _ in range(400)
    ]
    mean = float(np.mean([r for r in realized if r is not None]))
    assert abs(found["value"] - mean) < 0.01 < mean - ratio


def test_a_large_window_is_drawn_on_a_subset_and_its_bounds_narrow_with_its_size() -> None:
    scores, truth = stream(20_000, seed=12)
    calibration = calibrate(scores, truth)
    big, _ = stream(400_000, seed=13)
    found = estimate(big, calibration, decision_threshold=0.5, min_predictions=500)["metrics"]["roc_auc"]
    expected = metrics_of(Ranking.of(big, 0.5), calibration(big))["roc_auc"]
    subset = estimate(big[:100_000], calibration, decision_threshold=0.5, min_predictions=500)["metrics"]["roc_auc"]
    assert found["value"] == expected and found["lower"] < expected < found["upper"]
    width, subset_width = found["upper"] - found["lower"], subset["upper"] - subset["lower"]
    assert width == pytest.approx(subset_width / 2, rel=0.25)  # sqrt(100k / 400k)


def test_a_rare_class_with_too_few_rows_is_not_calibrated() -> None:
    scores = np.linspace(0, 1, 1000)
    truth = np.r_[np.zeros(980), np.ones(20)]
    with pytest.raises(Uncalibratable, match="20 labelled scores of the rarer class; calibration needs at least 30"):
        calibrate(scores, truth)
