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


# ---- every field of every kind of gate result (values chosen to be exact in binary)


def _gated(tmp_path: object, problem_type: str = "binary_classification") -> ModelConfig:
    from pathlib import Path

    from pipelines.config import parse_config
    from tests.problem_types import config_dict

    raw = config_dict(problem_type, "gradient_boosting", Path(str(tmp_path)))
    if problem_type == "binary_classification":
        raw["gates"] |= {
            "metrics": [{"metric": "roc_auc", "min": 0.5}],
            "champion": {"metric": "pr_auc", "max_regression": 0.25},
            "segments": [{"name": "south_recall", "where": 'region == "south"', "metric": "recall", "min": 0.5}],
        }
        raw["gates"]["edge_cases"]["min_pass_rate"] = 0.5
    return parse_config(raw)


def _row(name: str, kind: str, metric: str, observed: object, threshold: object, champion: object, passed: bool,
         detail: str, delta: object) -> dict[str, object]:  # fmt: skip
    return {
        "name": name, "kind": kind, "metric": metric, "observed": observed, "threshold": threshold,
        "champion": champion, "passed": passed, "detail": detail, "bound": "min", "delta": delta,
    }  # fmt: skip


def test_without_a_champion_each_result_holds_its_kind_metric_values_and_detail(tmp_path: object) -> None:
    measured = Measurements(
        candidate={"roc_auc": 0.75, "pr_auc": 0.625},
        segments={"south_recall": {"recall": 0.75, "support": 30}},  # exactly min_samples: judged
        edge_case_pass_rate=1.0,
    )
    results = [r.to_json() for r in evaluate_gates(_gated(tmp_path), measured)]
    assert results == [
        _row("min_roc_auc", "metric", "roc_auc", 0.75, 0.5, None, True, "", 0.25),
        _row("champion_pr_auc", "champion", "pr_auc", 0.625, None, None, True,
             "no champion yet: nothing to compare against", None),
        _row("south_recall", "segment", "recall", 0.75, 0.5, None, True, 'on region == "south"', 0.25),
        _row("edge_cases", "edge_cases", "pass_rate", 1.0, 0.5, None, True, "", 0.5),
    ]  # fmt: skip


def test_an_undefined_champion_metric_and_a_thin_segment_fail_with_their_reasons(tmp_path: object) -> None:
    measured = Measurements(
        candidate={"roc_auc": 0.75, "pr_auc": 0.625},
        champion={"roc_auc": 0.5, "pr_auc": None},
        segments={"south_recall": {"recall": 0.75, "support": 29}},  # one below min_samples
        champion_segments={"south_recall": {"recall": 0.5}},
        edge_case_pass_rate=1.0,
        champion_edge_case_pass_rate=0.5,
    )
    results = [r.to_json() for r in evaluate_gates(_gated(tmp_path), measured)]
    assert results == [
        _row("min_roc_auc", "metric", "roc_auc", 0.75, 0.5, 0.5, True, "", 0.25),
        _row("champion_pr_auc", "champion", "pr_auc", 0.625, None, None, False,
             "champion's pr_auc is undefined on this test set", None),
        _row("south_recall", "segment", "recall", 0.75, 0.5, 0.5, False,
             'only 29 positives in segment region == "south"; at least 30 needed to judge it', 0.25),
        _row("edge_cases", "edge_cases", "pass_rate", 1.0, 0.5, 0.5, True, "", 0.5),
    ]  # fmt: skip


def test_a_segment_never_measured_has_no_support_and_a_multiclass_one_counts_rows(tmp_path: object) -> None:
    binary = evaluate_gates(_gated(tmp_path), Measurements(candidate={"roc_auc": 0.75, "pr_auc": 0.5}))
    (segment,) = [r for r in binary if r.kind == "segment"]
    assert (segment.passed, segment.detail) == (
        False,
        'only 0 positives in segment region == "south"; at least 30 needed to judge it',
    )
    multiclass = _gated(tmp_path, "multiclass_classification")
    measured = Measurements(
        candidate={"accuracy": 0.75, "macro_f1": 0.75}, segments={"gold_recall": {"recall": 0.75, "support": 10}}
    )
    (segment,) = [r for r in evaluate_gates(multiclass, measured) if r.kind == "segment"]
    assert segment.detail == 'only 10 rows in segment target == "gold"; at least 50 needed to judge it'


def _regression(tmp_path: object) -> ModelConfig:
    from pathlib import Path

    from pipelines.config import parse_config
    from tests.problem_types import config_dict

    raw = config_dict("regression", "gradient_boosting", Path(str(tmp_path)))
    raw["gates"] = {
        "metrics": [{"metric": "rmse", "max": 1.5}],
        "champion": {"metric": "rmse", "max_regression": 0.25},
        "segments": [{"name": "wide_mae", "where": "x2 > 5", "metric": "mae", "max": 1.0, "min_samples": 1}],
    }
    return parse_config(raw)


def _max_row(name: str, kind: str, metric: str, observed: object, threshold: object, champion: object, passed: bool,
             detail: str, delta: object) -> dict[str, object]:  # fmt: skip
    return _row(name, kind, metric, observed, threshold, champion, passed, detail, delta) | {"bound": "max"}


def test_ceilings_pass_at_the_ceiling_and_keep_their_bound_in_every_result(tmp_path: object) -> None:
    config = _regression(tmp_path)
    alone = Measurements(candidate={"rmse": 1.5}, segments={"wide_mae": {"mae": None, "support": 3}})
    assert [r.to_json() for r in evaluate_gates(config, alone)] == [
        _max_row("max_rmse", "metric", "rmse", 1.5, 1.5, None, True, "", 0.0),  # exactly at the ceiling: a pass
        _max_row("champion_rmse", "champion", "rmse", 1.5, None, None, True,
                 "no champion yet: nothing to compare against", None),
        _max_row("wide_mae", "segment", "mae", None, 1.0, None, False,
                 "mae is undefined on this data (a single class?)", None),
    ]  # fmt: skip
    undefined = Measurements(candidate={"rmse": 1.5}, champion={"rmse": None}, segments={"wide_mae": {"mae": 0.5}})
    (champion,) = [r.to_json() for r in evaluate_gates(config, undefined) if r.kind == "champion"]
    assert champion == _max_row("champion_rmse", "champion", "rmse", 1.5, None, None, False,
                                "champion's rmse is undefined on this test set", None)  # fmt: skip


def test_against_a_champion_the_threshold_and_values_are_rounded_to_six_places(tmp_path: object) -> None:
    config = _regression(tmp_path)
    measured = Measurements(
        candidate={"rmse": 1.12345678}, champion={"rmse": 1.00000012}, segments={"wide_mae": {"mae": 0.5, "support": 9}}
    )
    results = {r.name: r.to_json() for r in evaluate_gates(config, measured)}
    assert results["champion_rmse"] == _max_row(
        "champion_rmse", "champion", "rmse", 1.123457, 1.25, 1.0, True, "vs champion on the same test set", 0.126543
    )
    assert results["wide_mae"]["detail"] == "on x2 > 5"  # a number is not quoted


def test_the_failure_message_describes_each_failed_gate_exactly(tmp_path: object) -> None:
    from pipelines.gates.rules import GateResult, describe

    results = evaluate_gates(_gated(tmp_path), Measurements(candidate={"roc_auc": 0.25, "pr_auc": 0.5}))
    exact = failure_message(results)
    assert exact.split(": ", 1)[0] == f"QualityGates failed ({sum(not r.passed for r in results)} of {len(results)})"
    assert "; ".join(describe(r) for r in results if not r.passed) == exact.split(": ", 1)[1]
    assert describe(results[0]) == "min_roc_auc: roc_auc observed 0.2500 < threshold 0.5000 (delta -0.2500)"
    # a metric gate's detail is not repeated in its description; other kinds' are
    metric = GateResult("m", "metric", "roc_auc", 0.25, 0.5, None, False, "noted", "min")
    assert describe(metric) == "m: roc_auc observed 0.2500 < threshold 0.5000 (delta -0.2500)"
    segment = GateResult("s", "segment", "recall", 0.25, 0.5, 0.75, False, "on x", "min")
    assert describe(segment) == "s: recall observed 0.2500 < threshold 0.5000 (delta -0.2500, champion 0.7500) on x"


def test_an_undefined_candidate_value_still_shows_the_champions(tmp_path: object) -> None:
    measured = Measurements(
        candidate={"rmse": 1.0},
        champion={"rmse": 1.0},
        segments={"wide_mae": {"mae": None, "support": 3}},
        champion_segments={"wide_mae": {"mae": 0.25}},
    )
    (segment,) = [r for r in evaluate_gates(_regression(tmp_path), measured) if r.kind == "segment"]
    assert (segment.observed, segment.champion, segment.passed) == (None, 0.25, False)
