"""The report's verdict lines, from a summary a person can check by hand."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from pipelines.simulation.figures import decisions, levels
from pipelines.simulation.story import headlines

MODEL = "fraud-detector"


def day(date: str, served: float, alone: float, by: str, promoted: bool, estimated: float | None = 0.8) -> dict:
    return {
        "day": f"2026-05-{date}T00:00:00+00:00",
        "served": served,
        "champion_only": alone,
        "served_by": by,
        "promoted_before": promoted,
        "estimated": estimated,
        "drifted_features": 0,
    }


def change(at: str, alarm: str, state: str = "ALARM", retraining: bool = False) -> dict:
    return {"at": f"2026-05-{at}T00:00:00+00:00", "alarm": f"{MODEL}-{alarm}", "previous": "OK", "state": state,
            "triggers_retraining": retraining, "signal": not alarm.startswith("drift-")}  # fmt: skip


def document(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": MODEL,
        "setup": {
            "slo": {"metric": "pr_auc", "min": 0.45},
            "label_delay_days": 1,
            "performance_window_hours": 96.0,
            "alarm_rule": "2 of 3 daily periods",
            "retrain_on": ["performance_slo", "estimated_performance"],
        },
        "phases": [
            {"start": "2026-05-03T00:00:00+00:00", "title": "card testing", "hurts": True},
            {"start": "2026-05-08T00:00:00+00:00", "title": "a holiday season", "hurts": False},
        ],
        "daily": [
            day("03", 0.30, 0.30, "v1", False),
            day("04", 0.20, 0.20, "v1", False, estimated=0.75),
            day("08", 0.95, 0.50, "v2", True),
            day("09", 0.90, 0.40, "v2", True),
        ],
        "alarm_changes": [
            change("05", "drift-amount-psi"),  # a per-feature alarm: never a signal
            change("06", "retrain-performance-slo", retraining=True),
            change("09", "drift-card_present-psi"),
            change("10", "watch-drifted-features"),
        ],
        "trigger_decisions": [{"at": "2026-05-06T00:00:00Z", "outcome": "started"}],
        "executions": {
            "initial training": {"status": "Succeeded", "gates": [], "parameters": {}},
            "retrain 1": {
                "status": "Succeeded",
                "parameters": {"DataWindowEnd": "2026-05-06T00:00:00Z"},
                "gates": [
                    {"name": "min_pr_auc", "kind": "metric", "observed": 0.9, "passed": True},
                    {
                        "name": "champion_pr_auc",
                        "kind": "champion",
                        "metric": "pr_auc",
                        "observed": 0.9,
                        "champion": 0.3,
                        "passed": True,
                    },
                ],
            },
        },
        "shadow": {"verdict": "promote", "reason": "live pr_auc 0.9 on 2400 labelled predictions"},
        "counterfactual": {
            "metric": "pr_auc",
            "days": 2,
            "served_mean": 0.925,
            "champion_only_mean": 0.45,
            "gain": 0.475,
        },
        "alerts": [],
        "history": [
            {
                "at": "2026-05-07T00:00:00+00:00",
                "action": "shadow_verdict",
                "outcome": "wait",
                "version": "v2",
                "reason": "0 labelled predictions of the 2000 needed",
            },
            {
                "at": "2026-05-08T00:00:00+00:00",  # the instant the next drift begins, as in the demo
                "action": "promote",
                "outcome": "updating",
                "version": "v2",
                "reason": "live pr_auc 0.9 on 2400 labelled predictions",
            },
        ],
        "status": {"production": {"version": "v2"}},
        "timeline": [],
    }
    return base | overrides


def lines(doc: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {line.label: (line.text, line.tone) for line in headlines(doc)}


def test_the_alarm_line_says_how_late_it_fired_and_why() -> None:
    text, _ = lines(document())["Alarm"]
    assert text.startswith("retrain-performance-slo fired May 06, 3 days after the drift began")
    assert "labels arrive 1 day late" in text and "96 h of labels" in text and "2 of 3 daily periods" in text


def test_the_estimate_line_shows_what_scores_alone_could_not_see() -> None:
    text, _ = lines(document())["Estimate before labels"]
    # days served by v1 in the harmful phase: estimates 0.8 and 0.75, labels 0.30 and 0.20
    assert text.startswith("pr_auc estimated from the scores alone stayed at 0.750 or more")
    assert "as low as 0.200" in text and "only labels reveal" in text


def test_retrain_shadow_and_value_lines_carry_the_numbers() -> None:
    found = lines(document())
    assert found["Retrain"] == (
        "passed 2 of 2 gates; pr_auc 0.900 against the champion's 0.300 on the same test set (+0.600)",
        "good",
    )
    assert found["Shadow"] == ("promoted v2 May 08: live pr_auc 0.9 on 2400 labelled predictions", "good")
    text, tone = found["What retraining bought"]
    assert "0.925 a day as served against 0.450" in text and "(+0.475)" in text and tone == "good"


def test_benign_drift_names_the_watching_alarm_not_a_feature_alarm() -> None:
    text, tone = lines(document())["Drift that did not hurt"]
    assert "watch-drifted-features fired May 10; 0 retrains started (drifted features only watch" in text
    assert "stayed at 0.900 or more (SLO 0.45)" in text and tone == "good"


def test_benign_drift_that_started_a_retrain_is_marked_bad() -> None:
    doc = document(trigger_decisions=[{"at": "2026-05-09T00:00:00Z", "outcome": "started"}])
    text, tone = lines(doc)["Drift that did not hurt"]
    assert "1 retrains started" in text and tone == "bad"


def test_production_below_its_objective_after_a_failed_retrain_asks_a_person() -> None:
    late = [*document()["daily"], day("10", 0.05, 0.04, "v2", True)]
    failed = {"status": "Failed", "gates": [], "parameters": {"DataWindowEnd": "2026-05-10T00:00:00Z"}}
    executions = {**document()["executions"], "retrain 2": failed}
    text, tone = lines(document(daily=late, executions=executions))["Production now"]
    assert text == (
        "v2: pr_auc 0.050 on the last day, against the SLO's 0.45; below it, and the last retrain failed: a "
        "person decides what comes next"
    )
    assert tone == "bad"
    # below the objective with the last retrain a success: nothing claims a failure
    assert (
        lines(document(daily=late))["Production now"][0] == "v2: pr_auc 0.050 on the last day, against the SLO's 0.45"
    )
    assert lines(document())["Production now"] == ("v2: pr_auc 0.900 on the last day, against the SLO's 0.45", "good")


def test_after_a_rollback_to_the_first_champion_its_own_score_is_the_one_judged() -> None:
    doc = document(
        status={"production": {"version": "v1"}},
        history=[{"at": "2026-05-09T12:00:00+00:00", "action": "rollback", "version": "v1"}],
    )
    assert lines(doc)["Production now"] == (
        "v1 (rolled back May 09): pr_auc 0.400 on the last day, against the SLO's 0.45",
        "bad",
    )
    assert lines(document(status={}))["Production now"] == ("no version serves production", "bad")


def test_a_failed_retrain_names_its_failed_gates_with_deltas() -> None:
    failed = {
        "status": "Failed",
        "parameters": {"DataWindowEnd": "2026-05-06T00:00:00Z"},
        "gates": [
            {"name": "min_pr_auc", "observed": 0.04, "threshold": 0.5, "passed": False},
            {"name": "champion_pr_auc", "kind": "champion", "observed": 0.04, "threshold": 0.02, "champion": 0.04,
             "passed": True},
        ],
    }  # fmt: skip
    found = lines(document(executions={"retrain 1": failed}))
    assert found["Failed retrain"] == (
        "failed 1 of 2 gates: min_pr_auc 0.040 against 0.500 (-0.460); an alert went out",
        "bad",
    )
    assert "Shadow" not in found
    # one that failed before the gates says where, from its failure reason
    early = {**failed, "gates": [], "failure_reason": "DataValid failed: 1200 rows of the 2000 needed"}
    assert lines(document(executions={"retrain 1": early}))["Failed retrain"] == (
        "DataValid failed: 1200 rows of the 2000 needed; an alert went out",
        "bad",
    )


def test_an_alarm_in_a_later_drift_is_not_pinned_on_an_earlier_one() -> None:
    doc = document(alarm_changes=[change("12", "retrain-performance-slo", retraining=True)])
    assert lines(doc)["Alarm"] == ("no retraining alarm fired", "bad")


def test_decisions_mark_signal_alarms_retrains_and_version_changes_in_time_order() -> None:
    slo = f"{MODEL}-retrain-performance-slo"
    doc = document(
        timeline=[
            {"at": "2026-05-06T00:00:00+00:00", "kind": "alarm", "text": f"{slo}: OK -> ALARM"},
            {"at": "2026-05-06T00:00:00+00:00", "kind": "alarm", "text": f"{slo}: ALARM -> OK"},
            {"at": "2026-05-06T01:00:00+00:00", "kind": "retrain", "text": "execution x: Failed"},
            {"at": "2026-05-05T00:00:00+00:00", "kind": "watch", "text": f"{MODEL}-watch-label-drift: OK -> ALARM"},
        ],
        history=[{"at": "2026-05-07T12:00:00+00:00", "action": "promote", "version": "v2"},
                 {"at": "2026-05-08T00:00:00+00:00", "action": "shadow_verdict", "version": "v2"}],
    )  # fmt: skip
    assert [(m.kind, m.label) for m in decisions(doc)] == [
        ("watch", "watch: label-drift"),
        ("alarm", "alarm: performance-slo"),
        ("failed", "retrain failed"),
        ("promote", "promote v2"),
    ]


@pytest.mark.parametrize("gap", [1.0, 3.2])
def test_labels_closer_than_the_gap_never_share_a_row(gap: float) -> None:
    positions = [0.0, 0.5, 1.0, 2.9, 3.0, 7.0, 7.1, 7.2, 20.0]
    rows = levels(positions, gap)
    for i, j in itertools.combinations(range(len(positions)), 2):
        if positions[j] - positions[i] < gap:
            assert rows[i] != rows[j], (positions[i], positions[j])
    assert rows[0] == 0 and rows[-1] == 0  # far apart labels go back to the top row


def test_with_a_row_limit_crowded_labels_reuse_the_row_whose_last_label_is_furthest_back() -> None:
    rows = levels([0.0, 0.1, 0.2, 0.3, 0.4], gap=3.0, rows=3)
    assert rows == [0, 1, 2, 0, 1]
