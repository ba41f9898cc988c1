"""Gate verdicts from measured metrics: thresholds, champion comparison, segments, edge cases."""

from __future__ import annotations

import pytest

from pipelines.config import ModelConfig
from pipelines.gates.rules import Measurements, evaluate_gates, failure_message, gate_names

GOOD = {"roc_auc": 0.97, "pr_auc": 0.80, "recall": 0.85}
SEGMENTS = {"high_risk_recall": {"recall": 0.95, "support": 80}}


def by_name(config: ModelConfig, measured: Measurements) -> dict[str, object]:
    return {r.name: r for r in evaluate_gates(config, measured)}


def test_gate_names_follow_the_config(config: ModelConfig) -> None:
    assert gate_names(config) == [
        "min_roc_auc",
        "min_pr_auc",
        "min_recall",
        "champion_pr_auc",
        "high_risk_recall",
        "edge_cases",
    ]


def test_all_gates_pass_without_a_champion(config: ModelConfig) -> None:
    results = evaluate_gates(config, Measurements(GOOD, segments=SEGMENTS, edge_case_pass_rate=1.0))
    assert [r.passed for r in results] == [True] * 6
    champion = next(r for r in results if r.kind == "champion")
    assert champion.threshold is None and "no champion" in champion.detail
    assert failure_message(results) == ""


def test_champion_gate_allows_configured_regression_only(config: ModelConfig) -> None:
    # max_regression is 0.02: 0.80 vs champion 0.815 passes (threshold 0.795), vs 0.83 fails.
    near = by_name(config, Measurements(GOOD, champion={"pr_auc": 0.815}, segments=SEGMENTS, edge_case_pass_rate=1))
    far = by_name(config, Measurements(GOOD, champion={"pr_auc": 0.83}, segments=SEGMENTS, edge_case_pass_rate=1))
    assert near["champion_pr_auc"].passed and near["champion_pr_auc"].threshold == pytest.approx(0.795)
    result = far["champion_pr_auc"]
    assert not result.passed
    assert result.threshold == pytest.approx(0.81) and result.delta == pytest.approx(-0.01)
    assert result.champion == pytest.approx(0.83)


def test_min_improvement_rule(config: ModelConfig) -> None:
    rule = config.gates.champion.model_copy(update={"max_regression": 0.0, "min_improvement": 0.05})
    strict = config.model_copy(update={"gates": config.gates.model_copy(update={"champion": rule})})
    result = by_name(strict, Measurements(GOOD, champion={"pr_auc": 0.76}, segments=SEGMENTS, edge_case_pass_rate=1))
    assert not result["champion_pr_auc"].passed
    assert result["champion_pr_auc"].threshold == pytest.approx(0.81)


def test_segment_needs_enough_support(config: ModelConfig) -> None:
    thin = {"high_risk_recall": {"recall": 1.0, "support": 12}}
    result = by_name(config, Measurements(GOOD, segments=thin, edge_case_pass_rate=1))["high_risk_recall"]
    assert not result.passed and "only 12 positives" in result.detail


def test_failure_message_lists_every_failed_gate_with_numbers(config: ModelConfig) -> None:
    weak = {"roc_auc": 0.85, "pr_auc": 0.80, "recall": 0.85}
    results = evaluate_gates(
        config,
        Measurements(
            weak,
            champion={"pr_auc": 0.82, "roc_auc": 0.9},
            segments={"high_risk_recall": {"recall": 0.812, "support": 60}},
            champion_segments={"high_risk_recall": {"recall": 0.93}},
            edge_case_pass_rate=0.7,
        ),
    )
    message = failure_message(results)
    assert message.startswith("QualityGates failed (3 of 6): ")
    assert "min_roc_auc: roc_auc observed 0.8500 < threshold 0.9000 (delta -0.0500, champion 0.9000)" in message
    assert "high_risk_recall: recall observed 0.8120 < threshold 0.9000 (delta -0.0880, champion 0.9300)" in message
    assert 'on risk_band == "high"' in message
    assert "edge_cases: pass_rate observed 0.7000 < threshold 0.9000 (delta -0.2000)" in message
    assert "min_pr_auc" not in message


def test_undefined_metric_fails_rather_than_passes(config: ModelConfig) -> None:
    single_class = {"roc_auc": None, "pr_auc": None, "recall": 0.0}
    results = by_name(config, Measurements(single_class, segments=SEGMENTS, edge_case_pass_rate=1))
    assert not results["min_roc_auc"].passed and "undefined" in results["min_roc_auc"].detail
