"""The shadow verdict, field by field: each criterion exactly at its limit, one step either side,
undefined values, both metric directions, and the exact reasons a person reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipelines.config import ShadowCriteria
from pipelines.promotion.shadow import ShadowEvidence, VariantEvidence, decide

START = datetime(2026, 6, 1, tzinfo=UTC)


def criteria(metric: str = "roc_auc") -> ShadowCriteria:
    return ShadowCriteria(
        metric=metric,
        min_labels=100,
        min_duration_hours=24,
        offline_tolerance=0.25,
        champion_margin=0.125,
        max_latency_p99_ms=200,
        max_error_rate=0.25,
    )


def evidence(
    hours: float = 24,
    requests: int = 500,
    labelled: int = 100,
    live: float | None = 0.75,
    champion: float | None = 0.75,
    offline: float | None = 0.75,
    latency: float | None = 200.0,
    errors: float | None = 0.25,
    metric: str = "roc_auc",
) -> ShadowEvidence:
    return ShadowEvidence(
        started_at=START,
        now=START + timedelta(hours=hours),
        shadow=VariantEvidence(requests, labelled, {metric: live}, latency, errors),
        production=VariantEvidence(requests, labelled, {metric: champion}, 50.0, 0.0),
        offline={metric: offline},
    )


def test_every_limit_reached_exactly_promotes_with_every_check_shown() -> None:
    decision = decide(evidence(live=0.625, champion=0.75, offline=0.875, labelled=137), criteria())
    assert decision.to_json() == {
        "verdict": "promote",
        "reason": "live roc_auc 0.6250 (champion 0.7500, offline 0.8750) on 137 labelled predictions",
        "labelled": 137,
        "checks": [
            {"name": "latency_p99_ms", "observed": 200.0, "threshold": 200, "passed": True,
             "detail": "latency_p99_ms: observed 200 ms, limit 200 ms", "delta": 0.0},
            {"name": "error_rate", "observed": 0.25, "threshold": 0.25, "passed": True,
             "detail": "error_rate: observed 0.25, limit 0.25", "delta": 0.0},
            {"name": "live_roc_auc_vs_offline", "observed": 0.625, "threshold": 0.625, "passed": True,
             "detail": "live_roc_auc_vs_offline: observed 0.6250 >= offline minus tolerance 0.6250 (delta +0.0000)",
             "delta": 0.0},
            {"name": "live_roc_auc_vs_champion", "observed": 0.625, "threshold": 0.625, "passed": True,
             "detail": "live_roc_auc_vs_champion: observed 0.6250 >= champion minus margin 0.6250 (delta +0.0000)",
             "delta": 0.0},
        ],
    }  # fmt: skip


def test_too_early_no_traffic_and_too_few_labels_wait_with_the_reason() -> None:
    assert decide(evidence(hours=23.5), criteria()).reason == "shadow ran 23.5 h of the 24 h minimum"
    assert decide(evidence(hours=23.5), criteria()).verdict == "wait"
    assert decide(evidence(hours=24.0), criteria()).verdict == "promote"  # exactly the minimum duration
    assert decide(evidence(requests=0), criteria()).reason == "the shadow has received no traffic yet"
    assert decide(evidence(latency=None), criteria()).reason == "the shadow has received no traffic yet"
    few = decide(evidence(labelled=99), criteria())
    assert (few.verdict, few.reason) == ("wait", "99 labelled predictions of the 100 needed")
    assert [c.name for c in few.checks] == ["latency_p99_ms", "error_rate"]
    for undefined in (evidence(live=None), evidence(champion=None)):
        late = decide(undefined, criteria())
        assert (late.verdict, late.reason) == ("wait", "live roc_auc is undefined yet (labels hold one class)")


@pytest.mark.parametrize(
    ("shadow", "reason"),
    [
        (evidence(latency=200.5), "latency_p99_ms: observed 200.5 ms, limit 200 ms"),
        (evidence(errors=0.5), "error_rate: observed 0.5, limit 0.25"),
        (evidence(errors=None), "error_rate: observed n/a, limit 0.25"),
        (evidence(latency=300.0, errors=0.5),
         "latency_p99_ms: observed 300 ms, limit 200 ms; error_rate: observed 0.5, limit 0.25"),
        (evidence(offline=None), "the evaluation report has no offline roc_auc to compare the live one with"),
        (evidence(live=0.5, offline=0.875, champion=0.5),
         "live_roc_auc_vs_offline: observed 0.5000 < offline minus tolerance 0.6250 (delta -0.1250)"
         " (on 100 labelled predictions)"),
        (evidence(live=0.5, offline=0.5, champion=0.75),
         "live_roc_auc_vs_champion: observed 0.5000 < champion minus margin 0.6250 (delta -0.1250)"
         " (on 100 labelled predictions)"),
    ],
)  # fmt: skip
def test_a_shadow_that_breaks_a_limit_is_rejected_naming_it(shadow: ShadowEvidence, reason: str) -> None:
    decision = decide(shadow, criteria())
    assert (decision.verdict, decision.reason) == ("reject", reason)


def test_an_error_metric_is_held_to_ceilings_at_the_ceiling_and_above() -> None:
    at = decide(evidence(metric="rmse", live=1.125, offline=0.875, champion=1.0), criteria("rmse"))
    assert at.verdict == "promote"
    assert [(c.name, c.threshold, c.passed) for c in at.checks[2:]] == [
        ("live_rmse_vs_offline", 1.125, True),
        ("live_rmse_vs_champion", 1.125, True),
    ]
    above = decide(evidence(metric="rmse", live=1.25, offline=0.875, champion=1.0), criteria("rmse"))
    assert (above.verdict, above.reason) == (
        "reject",
        "live_rmse_vs_offline: observed 1.25, limit 1.125; live_rmse_vs_champion: observed 1.25, limit 1.125"
        " (on 100 labelled predictions)",
    )


def test_each_verdict_keeps_the_checks_it_made() -> None:
    serving = ["latency_p99_ms", "error_rate"]
    for shadow in (evidence(latency=300.0), evidence(live=None), evidence(offline=None)):
        assert [c.name for c in decide(shadow, criteria()).checks] == serving
    rejected = decide(evidence(live=0.5, offline=0.5, champion=0.75), criteria())
    assert [c.name for c in rejected.checks] == [*serving, "live_roc_auc_vs_offline", "live_roc_auc_vs_champion"]


def test_a_floor_without_an_observation_fails_and_says_so() -> None:
    from pipelines.promotion.shadow import _at_least

    check = _at_least("live_x", None, 0.5, "floor")
    assert (check.passed, check.detail, check.delta) == (False, "live_x: observed n/a < floor 0.5000", None)
