"""Promotion gates: does a candidate deserve a place in the Model Registry?

One pure function turns measured metrics into a verdict per gate. The evaluate job writes the
verdicts to evaluation.json; the pipeline definition has one condition per gate reading
`gates.<name>.passed` from it; the FailStep message is `failure_message(...)`. The gate names
come from `gate_names(config)`, so definition and job can never disagree on what is checked.

Every gate reports observed, threshold, the champion's value on the same data and delta, the
distance to the bar on the right side of it: observed - threshold for a floor (`min`),
threshold - observed for a ceiling (`max`, errors such as rmse); negative means short of the bar.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from pipelines.config import ModelConfig
from pipelines.gates import catalog

GateKind = Literal["metric", "champion", "segment", "edge_cases"]
Bound = Literal["min", "max"]
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
    bound: Bound = "min"

    @property
    def delta(self) -> float | None:
        if self.observed is None or self.threshold is None:
            return None
        distance = self.observed - self.threshold
        return round(distance if self.bound == "min" else -distance, 6)

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
    names = [f"{g.bound}_{g.metric}" for g in gates.metrics]
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
            _within(
                f"{gate.bound}_{gate.metric}",
                "metric",
                gate.metric,
                measured.candidate.get(gate.metric),
                gate.threshold,
                champion.get(gate.metric),
                bound=gate.bound,
            )
        )
    if gates.champion is not None:
        results.append(_champion_gate(config, measured))
    for segment in gates.segments:
        observed = (measured.segments or {}).get(segment.name, {})
        reference = (measured.champion_segments or {}).get(segment.name, {})
        support = int(observed.get("support", 0))
        result = _within(
            segment.name,
            "segment",
            segment.metric,
            observed.get(segment.metric),
            segment.threshold,
            reference.get(segment.metric),
            f"on {_where(segment)}",
            bound=segment.bound,
        )
        if support < segment.min_samples:
            binary_recall = segment.metric == "recall" and config.model.problem_type == "binary_classification"
            what = "positives" if binary_recall else "rows"
            result = replace(
                result,
                passed=False,
                detail=f"only {support} {what} in segment {_where(segment)}; at least "
                f"{segment.min_samples} needed to judge it",
            )
        results.append(result)
    if gates.edge_cases is not None:
        results.append(
            _within(
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
    bound = catalog.metric(config.model.problem_type, rule.metric).bound
    if measured.champion is None:
        detail = "no champion yet: nothing to compare against"
        return GateResult(name, "champion", rule.metric, observed, None, None, True, detail, bound)
    if reference is None:
        detail = f"champion's {rule.metric} is undefined on this test set"
        return GateResult(name, "champion", rule.metric, observed, None, None, False, detail, bound)
    better = 1 if bound == "min" else -1  # an error metric (rmse, ...) improves downwards
    threshold = reference + better * (rule.min_improvement if rule.min_improvement else -rule.max_regression)
    detail = "vs champion on the same test set"
    return _within(name, "champion", rule.metric, observed, round(threshold, 6), reference, detail, bound=bound)


def _within(
    name: str,
    kind: GateKind,
    metric: str,
    observed: float | None,
    threshold: float,
    champion: float | None,
    detail: str = "",
    *,
    bound: Bound = "min",
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
            bound,
        )
    passed = float(observed) >= threshold if bound == "min" else float(observed) <= threshold
    return GateResult(
        name,
        kind,
        metric,
        round(float(observed), 6),
        threshold,
        None if champion is None else round(float(champion), 6),
        passed,
        detail,
        bound,
    )


def _where(segment: Any) -> str:
    value = segment.where.value
    shown = f'"{value}"' if isinstance(value, str) else value
    return f"{segment.where.column} {segment.where.op} {shown}"


def describe(result: GateResult) -> str:
    if result.observed is None or result.threshold is None:
        return f"{result.name}: {result.detail}"
    short = "<" if result.bound == "min" else ">"
    text = (
        f"{result.name}: {result.metric} observed {result.observed:.4f} {short} threshold "
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
