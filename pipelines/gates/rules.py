"""Promotion gates: does a candidate deserve a place in the Model Registry?

One pure function turns measured metrics into a verdict per gate. The evaluate job writes the
verdicts to evaluation.json; the pipeline definition has one condition per gate reading
`gates.<name>.passed` from it; the FailStep message is `failure_message(...)`. The gate names
come from `gate_names(config)`, so definition and job can never disagree on what is checked.

Every gate reports observed, threshold, the champion's value on the same data and
delta = observed - threshold (negative means short of the bar).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from pipelines.config import ModelConfig

GateKind = Literal["metric", "champion", "segment", "edge_cases"]
Metrics = dict[str, Any]
EDGE_CASES = "edge_cases"


@dataclass(frozen=True)
class GateResult:
    name: str
    kind: GateKind
    metric: str
    observed: float | None
    threshold: float | None
    champion: float | None
    passed: bool
    detail: str = ""

    @property
    def delta(self) -> float | None:
        if self.observed is None or self.threshold is None:
            return None
        return round(self.observed - self.threshold, 6)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"delta": self.delta}


@dataclass(frozen=True)
class Measurements:
    """What the evaluate job measured for the candidate and, when there is one, the champion."""

    candidate: Metrics
    champion: Metrics | None = None
    segments: dict[str, Metrics] | None = None  # name -> metrics (with "support") of the candidate
    champion_segments: dict[str, Metrics] | None = None
    edge_case_pass_rate: float | None = None
    champion_edge_case_pass_rate: float | None = None


def gate_names(config: ModelConfig) -> list[str]:
    gates = config.gates
    names = [f"min_{g.metric}" for g in gates.metrics]
    if gates.champion is not None:
        names.append(f"champion_{gates.champion.metric}")
    names += [s.name for s in gates.segments]
    if gates.edge_cases is not None:
        names.append(EDGE_CASES)
    return names


def evaluate_gates(config: ModelConfig, measured: Measurements) -> list[GateResult]:
    gates = config.gates
    champion = measured.champion or {}
    results = []
    for gate in gates.metrics:
        results.append(
            _at_least(
                f"min_{gate.metric}",
                "metric",
                gate.metric,
                measured.candidate.get(gate.metric),
                gate.min,
                champion.get(gate.metric),
            )
        )
    if gates.champion is not None:
        results.append(_champion_gate(config, measured))
    for segment in gates.segments:
        observed = (measured.segments or {}).get(segment.name, {})
        reference = (measured.champion_segments or {}).get(segment.name, {})
        support = int(observed.get("support", 0))
        result = _at_least(
            segment.name,
            "segment",
            segment.metric,
            observed.get(segment.metric),
            segment.min,
            reference.get(segment.metric),
            f"on {_where(segment)}",
        )
        if support < segment.min_samples:
            what = "positives" if segment.metric == "recall" else "rows"
            result = replace(
                result,
                passed=False,
                detail=f"only {support} {what} in segment {_where(segment)}; at least "
                f"{segment.min_samples} needed to judge it",
            )
        results.append(result)
    if gates.edge_cases is not None:
        results.append(
            _at_least(
                EDGE_CASES,
                "edge_cases",
                "pass_rate",
                measured.edge_case_pass_rate,
                gates.edge_cases.min_pass_rate,
                measured.champion_edge_case_pass_rate,
            )
        )
    return results


def _champion_gate(config: ModelConfig, measured: Measurements) -> GateResult:
    rule = config.gates.champion
    assert rule is not None
    name = f"champion_{rule.metric}"
    observed = measured.candidate.get(rule.metric)
    reference = (measured.champion or {}).get(rule.metric)
    if measured.champion is None:
        return GateResult(
            name, "champion", rule.metric, observed, None, None, True, "no champion yet: nothing to compare against"
        )
    if reference is None:
        return GateResult(
            name,
            "champion",
            rule.metric,
            observed,
            None,
            None,
            False,
            f"champion's {rule.metric} is undefined on this test set",
        )
    threshold = reference + rule.min_improvement if rule.min_improvement else reference - rule.max_regression
    return _at_least(
        name, "champion", rule.metric, observed, round(threshold, 6), reference, "vs champion on the same test set"
    )


def _at_least(
    name: str,
    kind: GateKind,
    metric: str,
    observed: float | None,
    threshold: float,
    champion: float | None,
    detail: str = "",
) -> GateResult:
    if observed is None:
        return GateResult(
            name,
            kind,
            metric,
            None,
            threshold,
            champion,
            False,
            f"{metric} is undefined on this data (a single class?)",
        )
    return GateResult(
        name,
        kind,
        metric,
        round(float(observed), 6),
        threshold,
        None if champion is None else round(float(champion), 6),
        float(observed) >= threshold,
        detail,
    )


def _where(segment: Any) -> str:
    value = segment.where.value
    shown = f'"{value}"' if isinstance(value, str) else value
    return f"{segment.where.column} {segment.where.op} {shown}"


def describe(result: GateResult) -> str:
    if result.observed is None or result.threshold is None:
        return f"{result.name}: {result.detail}"
    text = (
        f"{result.name}: {result.metric} observed {result.observed:.4f} < threshold "
        f"{result.threshold:.4f} (delta {result.delta:+.4f}"
    )
    if result.champion is not None:
        text += f", champion {result.champion:.4f}"
    text += ")"
    return text + (f" {result.detail}" if result.detail and result.kind != "metric" else "")


def failure_message(results: list[GateResult]) -> str:
    failed = [r for r in results if not r.passed]
    if not failed:
        return ""
    return f"QualityGates failed ({len(failed)} of {len(results)}): " + "; ".join(describe(r) for r in failed)
