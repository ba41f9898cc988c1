"""Problem types: the metric catalog against scikit-learn, the config's checks that every metric
and estimator fits the model's problem type, and gates with ceilings as well as floors."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as sk

from pipelines.config import ESTIMATOR_PROBLEM_TYPES, ModelConfig, parse_config
from pipelines.errors import ConfigError
from pipelines.gates import catalog, metrics
from pipelines.gates.rules import Measurements, evaluate_gates, failure_message
from tests.problem_types import config_dict


@pytest.fixture
def regression(tmp_path: Path) -> dict[str, Any]:
    return config_dict("regression", "gradient_boosting", tmp_path)


@pytest.fixture
def multiclass(tmp_path: Path) -> dict[str, Any]:
    return config_dict("multiclass_classification", "random_forest", tmp_path)


def _error(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return str(caught.value)


# ---- metrics against scikit-learn


def test_regression_metrics_are_scikit_learns() -> None:
    rng = np.random.default_rng(1)
    truth = rng.normal(10, 3, 500)
    predicted = truth + rng.normal(0.5, 1, 500)
    measured = metrics.regression(truth, predicted)
    assert measured["mse"] == pytest.approx(sk.mean_squared_error(truth, predicted), rel=1e-12)
    assert measured["rmse"] == pytest.approx(sk.root_mean_squared_error(truth, predicted), rel=1e-12)
    assert measured["mae"] == pytest.approx(sk.mean_absolute_error(truth, predicted), rel=1e-12)
    assert measured["r2"] == pytest.approx(sk.r2_score(truth, predicted), rel=1e-12)
    assert metrics.regression([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])["r2"] is None  # constant truth: undefined


def test_multiclass_metrics_are_scikit_learns_and_class_recall_is_that_classs() -> None:
    rng = np.random.default_rng(2)
    truth = rng.choice(["a", "b", "c"], 400, p=[0.6, 0.3, 0.1])
    predicted = np.where(rng.uniform(size=400) < 0.7, truth, rng.choice(["a", "b", "c"], 400))
    measured = metrics.multiclass(truth, predicted, of_class="c")
    for average in ("macro", "weighted"):
        assert measured[f"{average}_f1"] == pytest.approx(sk.f1_score(truth, predicted, average=average))
        assert measured[f"{average}_recall"] == pytest.approx(sk.recall_score(truth, predicted, average=average))
        assert measured[f"{average}_precision"] == pytest.approx(sk.precision_score(truth, predicted, average=average))
    assert measured["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted))
    per_class = sk.recall_score(truth, predicted, labels=["a", "b", "c"], average=None)
    assert measured["recall"] == pytest.approx(per_class[2])
    assert measured["recall"] != pytest.approx(per_class[0])


def test_classes_read_as_floats_match_the_models_text_labels() -> None:
    assert metrics.as_classes(np.array([1.0, 2.0, 2.5])).tolist() == ["1", "2", "2.5"]
    assert metrics.multiclass(np.array([1.0, 2.0]), np.array(["1", "2"]))["accuracy"] == 1.0


# ---- the config


def test_a_regression_and_a_multiclass_config_load_with_their_default_shadow_metric(
    regression: dict[str, Any], multiclass: dict[str, Any]
) -> None:
    assert parse_config(regression).promotion.shadow.metric == "rmse"
    assert parse_config(multiclass).promotion.shadow.metric == "macro_f1"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r["gates"]["metrics"].append({"metric": "roc_auc", "min": 0.8}), "gates.metrics[2].metric"),
        (lambda r: r["gates"]["metrics"].append({"metric": "rmse"}), "set min or max"),
        (lambda r: r["gates"]["metrics"].append({"metric": "rmse", "min": 0, "max": 1}), "set min or max"),
        (lambda r: r["training"].update(estimator="logistic_regression"), "does not support regression"),
        (
            lambda r: r["training"].update(hyperparameters={"class_weight": "balanced"}),
            "scale_pos_weight are for classifiers",
        ),
        (lambda r: r["gates"]["edge_cases"].pop("tolerance"), "needs a tolerance"),
        (
            lambda r: r["drift"].update(performance_slo={"metric": "roc_auc", "min": 0.5}),
            "drift.performance_slo.metric",
        ),
        (lambda r: r["promotion"]["shadow"].update(metric="accuracy"), "promotion.shadow.metric"),
    ],
    ids=["binary-metric", "no-bound", "two-bounds", "estimator", "class-weight", "tolerance", "slo", "shadow"],
)
def test_a_regression_config_that_does_not_fit_names_the_field(
    regression: dict[str, Any], change: Any, expected: str
) -> None:
    raw = copy.deepcopy(regression)
    change(raw)
    assert expected in _error(raw)


def test_multiclass_recall_must_name_a_class(multiclass: dict[str, Any]) -> None:
    raw = copy.deepcopy(multiclass)
    raw["gates"]["metrics"].append({"metric": "recall", "min": 0.5})
    assert "recall of a multiclass model is one class's" in _error(raw)
    raw = copy.deepcopy(multiclass)
    raw["gates"]["segments"][0]["where"] = 'region == "north"'
    assert "gates.segments[0].metric" in _error(raw)


def test_a_unit_interval_metric_bound_outside_it_is_refused(multiclass: dict[str, Any]) -> None:
    multiclass["gates"]["metrics"][0]["min"] = 1.5
    assert "accuracy lies in [0, 1]" in _error(multiclass)


def test_edge_cases_of_a_classifier_take_no_tolerance(multiclass: dict[str, Any]) -> None:
    multiclass["gates"]["edge_cases"]["tolerance"] = 0.5
    assert "takes no tolerance" in _error(multiclass)


def test_every_estimators_parameters_are_its_own() -> None:
    """The names the config accepts are the scikit-learn estimators' own (get_params)."""
    from pipelines.config import CLASSIFIER_ONLY_PARAMETERS, ESTIMATOR_PARAMETERS
    from training_containers.estimators import MODEL_STEP, EncodedLabels, build_estimator

    base = config_dict("regression", "gradient_boosting", Path("/tmp/unused-edge-cases"))
    for estimator, problem_types in ESTIMATOR_PROBLEM_TYPES.items():
        for problem_type in problem_types:
            raw = copy.deepcopy(base)
            raw["model"]["problem_type"] = problem_type
            raw["training"]["estimator"] = estimator
            raw["gates"] = {}
            raw["promotion"]["shadow"].pop("metric", None)
            config = parse_config(raw)
            step = build_estimator(config, {}, 0).named_steps[MODEL_STEP]
            own = set((step.estimator if isinstance(step, EncodedLabels) else step).get_params())
            accepted = ESTIMATOR_PARAMETERS[estimator] - (
                CLASSIFIER_ONLY_PARAMETERS if problem_type == "regression" else set()
            )
            assert accepted <= own, (estimator, problem_type, accepted - own)


# ---- gates with ceilings


def _config(raw: dict[str, Any]) -> ModelConfig:
    return parse_config(raw)


def test_an_error_metric_passes_below_its_ceiling_and_fails_above(regression: dict[str, Any]) -> None:
    config = _config(regression)
    measured = {"rmse": 1.2, "mae": 1.0, "mse": 1.44, "r2": 0.9}
    results = {r.name: r for r in evaluate_gates(config, Measurements(candidate=measured))}
    assert results["max_rmse"].passed and results["max_rmse"].delta == pytest.approx(0.3)
    worse = {r.name: r for r in evaluate_gates(config, Measurements(candidate=measured | {"rmse": 1.6}))}
    assert not worse["max_rmse"].passed and worse["max_rmse"].delta == pytest.approx(-0.1)
    message = failure_message(list(worse.values()))
    assert "max_rmse: rmse observed 1.6000 > threshold 1.5000 (delta -0.1000)" in message


def test_the_champion_gate_on_an_error_metric_allows_a_regression_upwards(regression: dict[str, Any]) -> None:
    config = _config(regression)  # champion: rmse, max_regression 0.2
    candidate = {"rmse": 1.25, "mae": 1.0, "mse": 1.5, "r2": 0.9}
    champion = {"rmse": 1.1, "mae": 1.0, "mse": 1.2, "r2": 0.9}
    (gate,) = [r for r in evaluate_gates(config, Measurements(candidate, champion)) if r.kind == "champion"]
    assert gate.threshold == pytest.approx(1.3) and gate.bound == "max" and gate.passed
    (gate,) = [
        r for r in evaluate_gates(config, Measurements(candidate | {"rmse": 1.35}, champion)) if r.kind == "champion"
    ]
    assert not gate.passed


def test_catalog_directions() -> None:
    assert catalog.metric("regression", "rmse").bound == "max"
    assert catalog.metric("regression", "r2").bound == "min"
    with pytest.raises(catalog.UnknownMetric, match="not a metric of regression"):
        catalog.metric("regression", "roc_auc")


def test_the_backtest_refuses_an_image_it_cannot_retrain_here(tmp_path: Path) -> None:
    import io

    import yaml

    from pipelines.backtest.command import BacktestRequest, backtest_command

    raw = config_dict("regression", "image", tmp_path)
    raw["purpose"] = "backtest"
    path = tmp_path / "regression.yaml"
    path.write_text(yaml.safe_dump(raw))
    stderr = io.StringIO()
    assert backtest_command(BacktestRequest(config=str(path), data=str(tmp_path / "none.csv")), stderr) == 2
    assert "training.image is not replayed" in stderr.getvalue()


@pytest.mark.parametrize(
    ("estimator", "problem_type"),
    [(e, p) for e, types in ESTIMATOR_PROBLEM_TYPES.items() for p in types],
)
def test_every_estimator_fits_every_problem_type_it_supports(estimator: str, problem_type: str, tmp_path: Path) -> None:
    """Train's fit on generated rows: the validation metrics are scikit-learn's on the model's own
    predictions, and the model has learnt something (better than a constant)."""
    from tests.problem_types import rows
    from training_containers.estimators import features_frame, predictions, targets
    from training_containers.train import fit

    raw = config_dict(problem_type, "gradient_boosting", tmp_path)
    small = {"gradient_boosting": {"max_iter": 40}, "logistic_regression": {}}  # quick fits, still learning
    raw["training"] = {
        "estimator": estimator,
        "random_seed": 3,
        "hyperparameters": small.get(estimator, {"n_estimators": 40}),
    }
    config = parse_config(raw)
    frame = rows(problem_type, count=1500)
    model, metadata = fit(config, {}, frame.iloc[:1000], frame.iloc[1000:])
    validation = frame.iloc[1000:]
    predicted = predictions(model, features_frame(validation, config), config.model.problem_type)
    truth = targets(validation, config)
    measured = metadata["validation_metrics"]
    if problem_type == "regression":
        assert measured["r2"] == pytest.approx(sk.r2_score(truth, predicted)) and measured["r2"] > 0.8
    elif problem_type == "binary_classification":
        assert measured["roc_auc"] == pytest.approx(sk.roc_auc_score(truth, predicted)) and measured["roc_auc"] > 0.9
    else:
        assert set(predicted) <= {"bronze", "silver", "gold"}
        assert measured["macro_f1"] == pytest.approx(sk.f1_score(truth, predicted, average="macro"))
        assert measured["macro_f1"] > 0.6
    assert metadata["problem_type"] == problem_type and metadata["estimator"] == estimator


# ---- the live side: alarms and the shadow verdict follow the metric's direction


def test_an_error_slo_alarms_above_its_ceiling(regression: dict[str, Any]) -> None:
    from pipelines.monitoring.alarms import alarm_specs

    regression["drift"]["performance_slo"] = {"metric": "rmse", "max": 1.2}
    (spec,) = [s for s in alarm_specs(parse_config(regression)) if s.kind == "performance_slo"]
    assert (spec.metric_name, spec.statistic, spec.comparison, spec.threshold) == (
        "RMSE",
        "Maximum",
        "GreaterThanThreshold",
        1.2,
    )
    assert spec.is_breaching(1.3) and not spec.is_breaching(1.1)
    assert "rmse above 1.2" in spec.description


def test_a_shadow_judged_on_rmse_is_rejected_when_its_error_rises(regression: dict[str, Any]) -> None:
    from datetime import UTC, datetime, timedelta

    from pipelines.promotion.shadow import ShadowEvidence, VariantEvidence, decide

    criteria = parse_config(regression).promotion.shadow.model_copy(
        update={"min_labels": 10, "offline_tolerance": 0.2, "champion_margin": 0.05, "min_duration_hours": 1}
    )
    start = datetime(2026, 6, 1, tzinfo=UTC)

    def evidence(live: float, champion: float) -> ShadowEvidence:
        def variant(rmse: float) -> VariantEvidence:
            return VariantEvidence(100, 100, {"rmse": rmse}, latency_p99_ms=10.0, error_rate=0.0)

        return ShadowEvidence(start, start + timedelta(hours=2), variant(live), variant(champion), {"rmse": 1.0})

    assert decide(evidence(1.1, 1.08), criteria).verdict == "promote"  # within 0.2 of offline, 0.05 of champion
    worse = decide(evidence(1.1, 1.0), criteria)
    assert worse.verdict == "reject" and "live_rmse_vs_champion" in worse.reason
    assert decide(evidence(1.25, 1.3), criteria).verdict == "reject"  # 0.25 above its offline 1.0


@pytest.mark.parametrize(
    ("where", "bound", "message"),
    [
        (
            "gates.metrics",
            {"metric": "rmse", "min": 1.0},
            "rmse: lower is better, so it takes max: (a ceiling), not min:",
        ),
        ("gates.metrics", {"metric": "r2", "max": 0.9}, "r2: higher is better, so it takes min: (a floor), not max:"),
        ("drift.performance_slo", {"metric": "rmse", "min": 1.2}, "drift.performance_slo.min: rmse: lower is better"),
    ],
)
def test_a_bound_on_the_wrong_side_of_a_metric_is_refused(
    regression: dict[str, Any], where: str, bound: dict[str, Any], message: str
) -> None:
    """An rmse floor fails every good model, and an rmse floor as an SLO alarms whenever the model is good."""
    if where == "gates.metrics":
        regression["gates"]["metrics"] = [bound]
    else:
        regression["drift"]["performance_slo"] = bound
    assert message in _error(regression)
