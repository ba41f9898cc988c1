"""The shadow verdict: promote, reject or wait, from live evidence and the config's criteria.

Order matters and is the same every time: nothing is decided before the minimum duration; then
latency and error rate (they need no labels) can reject; then the shadow waits for the minimum
number of labelled predictions; then its live metric must hold up against its own offline value
(`offline_tolerance`, one-sided: a model doing better live than offline is not a defect) and
against the champion's live value on the same requests (`champion_margin`). For an error metric
(rmse, mae, mse) "holding up" is not rising above them by more than the tolerance and margin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pipelines.config import ShadowCriteria
from pipelines.gates.catalog import higher_is_better

Verdict = Literal["promote", "reject", "wait"]


@dataclass(frozen=True)
class VariantEvidence:
    requests: int
    labelled: int
    metrics: dict[str, float | None]
    latency_p99_ms: float | None
    error_rate: float | None


@dataclass(frozen=True)
class ShadowEvidence:
    started_at: datetime
    now: datetime
    shadow: VariantEvidence
    production: VariantEvidence
    offline: dict[str, float | None]

    @property
    def hours(self) -> float:
        return (self.now - self.started_at).total_seconds() / 3600


@dataclass(frozen=True)
class Check:
    name: str
    observed: float | None
    threshold: float
    passed: bool
    detail: str

    @property
    def delta(self) -> float | None:
        return None if self.observed is None else self.observed - self.threshold

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "delta": self.delta}


@dataclass(frozen=True)
class ShadowDecision:
    verdict: Verdict
    reason: str
    checks: list[Check] = field(default_factory=list)
    labelled: int | None = None  # the labelled shadow predictions a quality verdict was judged on

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "checks": [c.to_json() for c in self.checks],
            "labelled": self.labelled,
        }


def _at_most(name: str, observed: float | None, limit: float, unit: str) -> Check:
    passed = observed is not None and observed <= limit
    shown = "n/a" if observed is None else f"{observed:.4g}{unit}"
    return Check(name, observed, limit, passed, f"{name}: observed {shown}, limit {limit:.4g}{unit}")


def _at_least(name: str, observed: float | None, floor: float, what: str) -> Check:
    passed = observed is not None and observed >= floor
    shown = "n/a" if observed is None else f"{observed:.4f}"
    delta = "" if observed is None else f" (delta {observed - floor:+.4f})"
    return Check(
        name,
        observed,
        floor,
        passed,
        f"{name}: observed {shown} < {what} {floor:.4f}{delta}"
        if not passed
        else f"{name}: observed {shown} >= {what} {floor:.4f}{delta}",
    )


def decide(evidence: ShadowEvidence, criteria: ShadowCriteria) -> ShadowDecision:
    if evidence.hours < criteria.min_duration_hours:
        return ShadowDecision(
            "wait", f"shadow ran {evidence.hours:.1f} h of the {criteria.min_duration_hours:g} h minimum"
        )
    if evidence.shadow.requests == 0 or evidence.shadow.latency_p99_ms is None:
        return ShadowDecision("wait", "the shadow has received no traffic yet")
    serving = [
        _at_most("latency_p99_ms", evidence.shadow.latency_p99_ms, criteria.max_latency_p99_ms, " ms"),
        _at_most("error_rate", evidence.shadow.error_rate, criteria.max_error_rate, ""),
    ]
    failed = [c for c in serving if not c.passed]
    if failed:
        return ShadowDecision("reject", "; ".join(c.detail for c in failed), serving)
    if evidence.shadow.labelled < criteria.min_labels:
        return ShadowDecision(
            "wait", f"{evidence.shadow.labelled} labelled predictions of the {criteria.min_labels} needed", serving
        )
    metric = criteria.metric
    assert metric is not None, "ModelConfig sets the problem type's default shadow metric"
    live, champion, offline = (
        evidence.shadow.metrics.get(metric),
        evidence.production.metrics.get(metric),
        evidence.offline.get(metric),
    )
    if live is None or champion is None:
        return ShadowDecision("wait", f"live {metric} is undefined yet (labels hold one class)", serving)
    if offline is None:
        return ShadowDecision(
            "reject", f"the evaluation report has no offline {metric} to compare the live one with", serving
        )
    if higher_is_better(metric):
        quality = [
            _at_least(
                f"live_{metric}_vs_offline", live, offline - criteria.offline_tolerance, "offline minus tolerance"
            ),
            _at_least(f"live_{metric}_vs_champion", live, champion - criteria.champion_margin, "champion minus margin"),
        ]
    else:
        quality = [
            _at_most(f"live_{metric}_vs_offline", live, offline + criteria.offline_tolerance, ""),
            _at_most(f"live_{metric}_vs_champion", live, champion + criteria.champion_margin, ""),
        ]
    checks = serving + quality
    labelled = evidence.shadow.labelled
    failed = [c for c in quality if not c.passed]
    if failed:
        reason = "; ".join(c.detail for c in failed) + f" (on {labelled} labelled predictions)"
        return ShadowDecision("reject", reason, checks, labelled)
    return ShadowDecision(
        "promote",
        f"live {metric} {live:.4f} (champion {champion:.4f}, offline {offline:.4f}) on {labelled} labelled predictions",
        checks,
        labelled,
    )
