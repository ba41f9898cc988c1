"""The demo's verdict at a glance: what drifted, when the alarm fired and why it lagged, what the
gates and the shadow decided on how much evidence, what retraining bought against never
retraining, and where production stands against its objective. Pure functions of summary.json."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Tone = Literal["good", "bad", "neutral"]


@dataclass(frozen=True)
class Headline:
    label: str
    text: str
    tone: Tone = "neutral"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)  # both "+00:00" and "Z" (the trigger's records)


def _day(at: str) -> str:
    return _at(at).strftime("%b %d")


def _days_between(start: str, end: str) -> float:
    return (_at(end) - _at(start)).total_seconds() / 86_400


def _within(at: str, start: str, end: str | None) -> bool:
    return _at(start) <= _at(at) and (end is None or _at(at) < _at(end))


def _short(alarm: str, model: str) -> str:
    return alarm.removeprefix(f"{model}-")


def _phase_end(document: dict[str, Any], phase: dict[str, Any]) -> str | None:
    later = [p["start"] for p in document["phases"] if _at(p["start"]) > _at(phase["start"])]
    return min(later, key=_at) if later else None


def _first_alarm(document: dict[str, Any], after: str, *, retraining: bool) -> dict[str, Any] | None:
    """The first signal alarm (not a per-feature one) to go to ALARM from `after`: a retraining
    alarm, or one that only watches."""
    kind = "retrain" if retraining else "watch"
    fired = [
        c
        for c in document["alarm_changes"]
        if c["state"] == "ALARM"
        and _at(c["at"]) >= _at(after)
        and c["alarm"].startswith(f"{document['model']}-{kind}-")
    ]
    return fired[0] if fired else None


def drift_and_alarm(document: dict[str, Any]) -> list[Headline]:
    """The first harmful drift, and the retraining alarm that answered it, with why it lagged."""
    harmful = [p for p in document["phases"] if p["hurts"]]
    if not harmful:
        return []
    phase, model, setup = harmful[0], document["model"], document["setup"]
    lines = [Headline("Drift began", f"{_day(phase['start'])}: {phase['title']}", "bad")]
    alarm = _first_alarm(document, phase["start"], retraining=True)
    if alarm is None:
        return [*lines, Headline("Alarm", "no retraining alarm fired", "bad")]
    lag = _days_between(phase["start"], alarm["at"])
    lines.append(
        Headline(
            "Alarm",
            f"{_short(alarm['alarm'], model)} fired {_day(alarm['at'])}, {lag:.0f} days after the drift began: "
            f"labels arrive {setup['label_delay_days']} day late, the SLO is judged on "
            f"{setup['performance_window_hours']:g} h of labels and the alarm needs {setup['alarm_rule']}",
            "neutral",
        )
    )
    return [*lines, *_estimate(document, phase)]


def _estimate(document: dict[str, Any], phase: dict[str, Any]) -> list[Headline]:
    """The estimate from scores alone against the day's labels while the first drift went unanswered."""
    end = _phase_end(document, phase)
    days = [
        d
        for d in document["daily"]
        if _within(d["day"], phase["start"], end)
        and not d.get("promoted_before")
        and d.get("estimated") is not None
        and d.get("served") is not None
    ]
    if not days:
        return []
    metric = document["setup"]["slo"]["metric"]
    low_estimate, low_served = min(d["estimated"] for d in days), min(d["served"] for d in days)
    missed = low_estimate - low_served > 0.1
    text = (
        f"{metric} estimated from the scores alone stayed at {low_estimate:.3f} or more while the labels measured "
        f"as low as {low_served:.3f}"
        + (
            ": the scores look as confident as before on fraud the model misses, which only labels reveal"
            if missed
            else ""
        )
    )
    return [Headline("Estimate before labels", text, "neutral")]


def retrain_and_shadow(document: dict[str, Any]) -> list[Headline]:
    """The first retrain that passed its gates, and the shadow verdict on it."""
    retrains = [s for name, s in document["executions"].items() if name != "initial training"]
    passed = [s for s in retrains if s["status"] == "Succeeded"]
    lines = []
    if passed:
        gates = passed[0]["gates"]
        champion = next((g for g in gates if g.get("kind") == "champion"), None)
        versus = (
            f"; {champion['metric']} {champion['observed']:.3f} against the champion's {champion['champion']:.3f} "
            f"on the same test set ({champion['observed'] - champion['champion']:+.3f})"
            if champion
            else ""
        )
        lines.append(Headline("Retrain", f"passed {len(gates)} of {len(gates)} gates{versus}", "good"))
    shadow = document.get("shadow")
    if shadow:
        tone: Tone = "good" if shadow["verdict"] == "promote" else "bad"
        lines.append(Headline("Shadow", f"{shadow['verdict']}: {shadow['reason']}", tone))
    return lines


def value(document: dict[str, Any]) -> list[Headline]:
    """What retraining bought: the served metric against the first champion alone, same days."""
    gain = document.get("counterfactual")
    if not gain:
        return []
    tone: Tone = "good" if gain["gain"] > 0 else "bad"
    return [
        Headline(
            "What retraining bought",
            f"{gain['metric']} {gain['served_mean']:.3f} a day as served against {gain['champion_only_mean']:.3f} had "
            f"the first champion served alone, over the {gain['days']} days since the promotion ({gain['gain']:+.3f})",
            tone,
        )
    ]


def benign_drift(document: dict[str, Any]) -> list[Headline]:
    """Drift that did not hurt: the watching alarm fired, no retrain started, the metric held."""
    lines = []
    metric, floor = document["setup"]["slo"]["metric"], document["setup"]["slo"]["min"]
    for phase in (p for p in document["phases"] if not p["hurts"]):
        end = _phase_end(document, phase)
        days = [d for d in document["daily"] if _within(d["day"], phase["start"], end) and d.get("served") is not None]
        watch = _first_alarm(document, phase["start"], retraining=False)
        decisions = document["trigger_decisions"]
        started = [d for d in decisions if d["outcome"] == "started" and _within(d["at"], phase["start"], end)]
        if not days:
            continue
        low = min(d["served"] for d in days)
        fired = f"{_short(watch['alarm'], document['model'])} fired {_day(watch['at'])}" if watch else "no alarm fired"
        text = (
            f"{_day(phase['start'])}: {phase['title']}. {fired}; {len(started)} retrains started; the served {metric} "
            f"stayed at {low:.3f} or more (SLO {floor:g})"
        )
        lines.append(Headline("Drift that did not hurt", text, "good" if not started and low >= floor else "bad"))
    return lines


def failure_and_now(document: dict[str, Any]) -> list[Headline]:
    """The failed retrain's alert, and production now against the objective."""
    lines = [Headline("Failed retrain", f"alert: {a['subject']}", "bad") for a in document["alerts"]]
    production = (document.get("status") or {}).get("production") or {}
    rollbacks = [h for h in document["history"] if h["action"] == "rollback"]
    slo = document["setup"]["slo"]
    last = next((d for d in reversed(document["daily"]) if d.get("served") is not None), None)
    if production:
        how = f" (rolled back {_day(rollbacks[-1]['at'])})" if rollbacks else ""
        measured = ""
        tone: Tone = "neutral"
        if last is not None:
            measured = (
                f"; on the last day {slo['metric']} {last['served']:.3f} as served by {last['served_by']}, "
                f"{last['champion_only']:.3f} for the first champion, against the SLO's {slo['min']:g}"
            )
            tone = "good" if last["served"] >= slo["min"] else "bad"
            if tone == "bad":
                measured += ": neither meets it; the retrain failed its gates, so a person decides what comes next"
        lines.append(Headline("Production now", f"{production['version']}{how}{measured}", tone))
    return lines


def headlines(document: dict[str, Any]) -> list[Headline]:
    return [
        *drift_and_alarm(document),
        *retrain_and_shadow(document),
        *value(document),
        *benign_drift(document),
        *failure_and_now(document),
    ]
