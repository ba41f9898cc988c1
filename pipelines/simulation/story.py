"""The demo's verdict at a glance, drift by drift: when it began, when the alarm fired and why it
lagged, what the estimate from scores alone saw, what the gates and the shadow decided on how much
evidence, what retraining bought against the first champion alone, and where production stands against
its objective. Pure functions of summary.json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pipelines.naming import DATA_WINDOW_END
from pipelines.trigger.policy import parse_time

Tone = Literal["good", "bad", "neutral"]


@dataclass(frozen=True)
class Headline:
    label: str
    text: str
    tone: Tone = "neutral"


def day_label(at: str) -> str:
    """A summary time ("+00:00", or "Z" in the trigger's records) as the report shows a day: "May 07"."""
    return parse_time(at).strftime("%b %d")


def _days_between(start: str, end: str) -> float:
    return (parse_time(end) - parse_time(start)).total_seconds() / 86_400


def _within(at: str, start: str, end: str | None, *, closed: bool = False) -> bool:
    """`at` in [start, end), or [start, end] when `closed` (a promotion ends the drift it answered
    at the very moment the next one is said to begin)."""
    moment = parse_time(at)
    if moment < parse_time(start):
        return False
    return end is None or moment < parse_time(end) or (closed and moment == parse_time(end))


def _short(alarm: str, model: str) -> str:
    return alarm.removeprefix(f"{model}-")


def _phase_end(document: dict[str, Any], phase: dict[str, Any]) -> str | None:
    later = [p["start"] for p in document["phases"] if parse_time(p["start"]) > parse_time(phase["start"])]
    return min(later, key=parse_time) if later else None


def _first_alarm(document: dict[str, Any], phase: dict[str, Any], *, retraining: bool) -> dict[str, Any] | None:
    """The first signal alarm (not a per-feature one) to go to ALARM within the phase: a retraining
    alarm, or one that only watches."""
    end = _phase_end(document, phase)
    fired = [
        c
        for c in document["alarm_changes"]
        if c["state"] == "ALARM"
        and _within(c["at"], phase["start"], end)
        and c.get("signal", True)
        and c["triggers_retraining"] == retraining
    ]
    return fired[0] if fired else None


def _retrains(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs an alarm started, in order (every execution but the first champion's)."""
    return [s for name, s in document["executions"].items() if name != "initial training"]


def _runs(document: dict[str, Any], phase: dict[str, Any]) -> list[dict[str, Any]]:
    """The retrains an alarm started within the phase, by the data window they were started with."""
    end = _phase_end(document, phase)
    return [s for s in _retrains(document) if _within(s["parameters"][DATA_WINDOW_END], phase["start"], end)]


def drift_and_alarm(document: dict[str, Any], phase: dict[str, Any]) -> list[Headline]:
    """A harmful drift, and the retraining alarm that answered it, with why it lagged."""
    model, setup = document["model"], document["setup"]
    lines = [Headline("Drift that hurt", f"began {day_label(phase['start'])}: {phase['title']}", "bad")]
    alarm = _first_alarm(document, phase, retraining=True)
    if alarm is None:
        return [*lines, Headline("Alarm", "no retraining alarm fired", "bad")]
    lag = _days_between(phase["start"], alarm["at"])
    lines.append(
        Headline(
            "Alarm",
            f"{_short(alarm['alarm'], model)} fired {day_label(alarm['at'])}, {lag:.0f} days after the drift began: "
            f"labels arrive {setup['label_delay_days']} day late, the SLO is judged on "
            f"{setup['performance_window_hours']:g} h of labels and the alarm needs {setup['alarm_rule']}",
            "neutral",
        )
    )
    return [*lines, *_estimate(document, phase, before=alarm["at"])]


def _estimate(document: dict[str, Any], phase: dict[str, Any], before: str) -> list[Headline]:
    """The estimate from scores alone against the day's labels until the alarm fired."""
    days = [
        d
        for d in document["daily"]
        if _within(d["day"], phase["start"], before) and d.get("estimated") is not None and d.get("served") is not None
    ]
    if not days:
        return []
    metric = document["setup"]["slo"]["metric"]
    low_estimate, low_served = min(d["estimated"] for d in days), min(d["served"] for d in days)
    why = ": the scores look as confident as before on fraud the model misses, which only labels reveal"
    text = (
        f"{metric} estimated from the scores alone stayed at {low_estimate:.3f} or more while the labels measured "
        f"as low as {low_served:.3f}" + (why if low_estimate - low_served > 0.1 else "")
    )
    return [Headline("Estimate before labels", text, "neutral")]


def _gates(run: dict[str, Any]) -> Headline:
    gates = run["gates"]
    passed = [g for g in gates if g.get("passed")]
    if run["status"] == "Succeeded":
        champion = next((g for g in gates if g.get("kind") == "champion" and g.get("champion") is not None), None)
        versus = (
            f"; {champion['metric']} {champion['observed']:.3f} against the champion's {champion['champion']:.3f} "
            f"on the same test set ({champion['observed'] - champion['champion']:+.3f})"
            if champion
            else ""
        )
        return Headline("Retrain", f"passed {len(passed)} of {len(gates)} gates{versus}", "good")
    failed = [
        f"{g['name']} {g['observed']:.3f} against {g['threshold']:.3f} ({g['observed'] - g['threshold']:+.3f})"
        for g in gates
        if not g.get("passed") and g.get("observed") is not None and g.get("threshold") is not None
    ]
    if not failed:  # it failed before the gates (data checks, a job): its failure reason says where
        return Headline("Failed retrain", f"{run.get('failure_reason') or run['status']}; an alert went out", "bad")
    text = f"failed {len(gates) - len(passed)} of {len(gates)} gates: {'; '.join(failed)}; an alert went out"
    return Headline("Failed retrain", text, "bad")


def answer(document: dict[str, Any], phase: dict[str, Any]) -> list[Headline]:
    """What the loop did about a harmful drift: the retrain's gates, the shadow, what it bought."""
    runs = _runs(document, phase)
    if not runs:
        return [Headline("Retrain", "no retrain started", "bad")]
    lines = [_gates(runs[0])]
    if runs[0]["status"] != "Succeeded":
        return lines
    end = _phase_end(document, phase)
    verdicts = [
        h for h in document["history"] if _shadow_verdict(h) and _within(h["at"], phase["start"], end, closed=True)
    ]
    if verdicts:
        verdict = verdicts[0]
        promoted = verdict["action"] == "promote"
        what = f"{'promoted' if promoted else 'rejected'} {verdict['version']} {day_label(verdict['at'])}"
        lines.append(Headline("Shadow", f"{what}: {verdict['reason']}", _good(promoted)))
    first_promotion = next((h for h in document["history"] if h["action"] == "promote"), None)
    gain = document.get("counterfactual")
    if gain and first_promotion is not None and _within(first_promotion["at"], phase["start"], end, closed=True):
        text = (
            f"{gain['metric']} {gain['served_mean']:.3f} a day as served against {gain['champion_only_mean']:.3f} had "
            f"the first champion served alone, over the {gain['days']} days since the promotion ({gain['gain']:+.3f})"
        )
        lines.append(Headline("What retraining bought", text, _good(gain["gain"] > 0)))
    return lines


def _shadow_verdict(record: dict[str, Any]) -> bool:
    """A promotion record of a shadow verdict that decided: promoted, or rejected."""
    return bool(
        record["action"] == "promote" or (record["action"] == "shadow_verdict" and record["outcome"] == "rejected")
    )


def _good(condition: bool) -> Tone:
    return "good" if condition else "bad"


def benign_drift(document: dict[str, Any], phase: dict[str, Any]) -> list[Headline]:
    """Drift that did not hurt: the watching alarm fired, no retrain started, the metric held."""
    setup = document["setup"]
    metric, floor = setup["slo"]["metric"], setup["slo"]["min"]
    end = _phase_end(document, phase)
    days = [d for d in document["daily"] if _within(d["day"], phase["start"], end) and d.get("served") is not None]
    if not days:
        return []
    watch = _first_alarm(document, phase, retraining=False)
    decisions = document["trigger_decisions"]
    started = [d for d in decisions if d["outcome"] == "started" and _within(d["at"], phase["start"], end)]
    low = min(d["served"] for d in days)
    fired = f"{_short(watch['alarm'], document['model'])} fired {day_label(watch['at'])}" if watch else "no alarm fired"
    why = (
        ""
        if "drifted_features" in setup.get("retrain_on", [])
        else " (drifted features only watch: retraining follows performance)"
    )
    text = (
        f"began {day_label(phase['start'])}: {phase['title']}. {fired}; {len(started)} retrains started{why}; "
        f"the served {metric} stayed at {low:.3f} or more (SLO {floor:g})"
    )
    return [Headline("Drift that did not hurt", text, _good(not started and low >= floor))]


def production_now(document: dict[str, Any]) -> Headline:
    """The version serving now, and its metric on the last day against the objective."""
    production = (document.get("status") or {}).get("production") or {}
    if not production:
        return Headline("Production now", "no version serves production", "bad")
    version = production["version"]
    rollbacks = [h for h in document["history"] if h["action"] == "rollback"]
    how = f" (rolled back {day_label(rollbacks[-1]['at'])})" if rollbacks else ""
    slo = document["setup"]["slo"]
    last = next((d for d in reversed(document["daily"]) if d.get("served") is not None), None)
    if last is None:
        return Headline("Production now", f"{version}{how}", "neutral")
    value = last["served"] if version == last["served_by"] else last["champion_only"] if version == "v1" else None
    if value is None:
        return Headline("Production now", f"{version}{how}; not measured on the last day", "neutral")
    text = f"{version}{how}: {slo['metric']} {value:.3f} on the last day, against the SLO's {slo['min']:g}"
    runs = _retrains(document)
    if value < slo["min"] and runs and runs[-1]["status"] != "Succeeded":
        text += "; below it, and the last retrain failed: a person decides what comes next"
    return Headline("Production now", text, _good(value >= slo["min"]))


def headlines(document: dict[str, Any]) -> list[Headline]:
    lines = []
    for phase in document["phases"]:
        if phase["hurts"]:
            lines += [*drift_and_alarm(document, phase), *answer(document, phase)]
        else:
            lines += benign_drift(document, phase)
    return [*lines, production_now(document)]
