"""The demo's HTML report, verdict first: what happened and what it bought (`story`), the daily
chart with every decision marked, drift figures people read, the pipeline graphs with gate
tables, shadow versus production, and the timeline folded to decisions (alarm state changes and
routine sweeps collapsed). Figures are PNG files beside the page."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from pipelines.drift.figures import feature_figure, over_time_figure, ranked, ranking_figure
from pipelines.simulation.figures import daily_chart, pipeline_graph
from pipelines.simulation.story import day_label, headlines
from pipelines.trigger.policy import parse_time

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.fail { color: #c62828; font-weight: 600; } .pass { color: #2e7d32; }
img { max-width: 100%; } pre { background: #f6f6f6; padding: 0.8rem; white-space: pre-wrap; }
.grid { display: flex; flex-wrap: wrap; gap: 1rem; } .grid figure { margin: 0; width: 340px; }
#verdict { border: 2px solid #37474f; border-radius: 6px; padding: 0.6rem 1rem; background: #fafafa; }
#verdict dl { display: grid; grid-template-columns: 13rem 1fr; gap: 0.35rem 1rem; margin: 0; }
#verdict dt { font-weight: 600; } #verdict dd { margin: 0; }
#verdict .good { border-left: 4px solid #2e7d32; padding-left: 0.5rem; }
#verdict .bad { border-left: 4px solid #c62828; padding-left: 0.5rem; }
#verdict .neutral { border-left: 4px solid #90a4ae; padding-left: 0.5rem; }
details { margin: 0.5rem 0; } summary { cursor: pointer; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return f"<td class={'pass' if value else 'fail'}>{'pass' if value else 'FAIL'}</td>"
    if isinstance(value, float):
        return f"<td class=num>{value:+.4f}</td>" if value < 0 else f"<td class=num>{value:.4f}</td>"
    if isinstance(value, str) and value[:1] in "+-" and value[1:2].isdigit():  # a signed delta
        return f"<td class=num>{_e(value)}</td>"
    return f"<td>{'–' if value is None else _e(value)}</td>"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _signed(delta: float | None) -> str | None:
    """A delta with its sign, as the narrative and the alert print it."""
    return None if delta is None else f"{delta:+.4f}"


def _rounded(value: Any) -> Any:
    """A pipeline parameter (a string) shown to four decimals when it is a number."""
    try:
        return f"{float(value):.4f}"
    except (TypeError, ValueError):
        return value


def _figure(src: str, caption: str, *, shown: bool = True) -> str:
    """A figure; its caption also read aloud (alt), and shown below unless the image's own title says it."""
    below = f"<figcaption>{_e(caption)}</figcaption>" if shown else ""
    return f"<figure><img alt='{_e(caption)}' src='{src}'>{below}</figure>"


def _save(figure: Figure, path: Path) -> str:
    figure.savefig(path, dpi=90, bbox_inches="tight")
    return f"figures/{path.name}"


def _verdict(document: dict[str, Any]) -> str:
    rows = "".join(
        f"<dt class={line.tone}>{_e(line.label)}</dt><dd>{_e(line.text)}</dd>" for line in headlines(document)
    )
    return f"<section id=verdict><h2>Verdict</h2><dl>{rows}</dl></section>"


def _drift_section(out: Path, document: dict[str, Any]) -> str:
    from pipelines.drift.report import write_html

    # a skipped monitor run (too few rows, no baseline) has no features to draw
    alarms = [a for a in document.get("alarm_reports") or [] if "features" in a["report"]]
    report = document.get("drift_report") or (alarms[0]["report"] if alarms else None)
    if not report:
        return ""
    figures = out / "figures"
    write_html(report, out / "drift-report.html")
    day = day_label(report["window"]["start"])
    which = "drifted-features" if document.get("drift_report") else "first retraining"
    parts = [
        f"<h2>Drift in {day}'s traffic, at whose end the {which} alarm fired</h2>",
        "<p>Each feature's worst statistic over its threshold; the figures below compare the champion's baseline "
        "with that day's traffic. Every statistic: <a href='drift-report.html'>drift-report.html</a></p>",
        _figure(_save(ranking_figure(report), figures / "drift-ranking.png"), "features ranked by drift"),
    ]
    if alarms:
        parts.append(_alarm_rankings(document["model"], alarms, figures))
    cards = []
    for name, _, _ in ranked(report):
        figure = feature_figure(name, report["features"][name], report["thresholds"])
        if figure is not None:
            src = _save(figure, figures / f"drift-{name}.png")
            cards.append(_figure(src, f"{name}: baseline and current", shown=False))
    parts.append(f"<div class=grid>{''.join(cards)}</div>")
    days = [d for d in document["daily"] if d.get("feature_drift")]
    if days:
        features = [name for name, _, _ in ranked(report)]
        values = [[d["feature_drift"].get(name) for d in days] for name in features]
        labels = [day_label(d["day"]) for d in days]
        heatmap = _save(over_time_figure(labels, features, values), figures / "drift-over-time.png")
        parts.append("<h3>Drift over time</h3>" + _figure(heatmap, "drift per feature per day"))
    return "".join(parts)


def _alarm_rankings(model: str, alarms: list[dict[str, Any]], figures: Path) -> str:
    """The features ranked on each day a retraining alarm fired: drift that hurt need not move the
    inputs, and inputs that moved need not hurt."""
    cards = []
    for number, entry in enumerate(alarms):
        day = day_label(entry["report"]["window"]["start"])
        drifted = entry["report"]["summary"]["drifted_feature_count"]
        src = _save(ranking_figure(entry["report"]), figures / f"drift-ranking-alarm-{number}.png")
        alarm = entry["alarm"].removeprefix(model + "-")
        caption = f"{day}'s traffic: {drifted} features drifted; {alarm} fired at its end ({day_label(entry['at'])})"
        cards.append(_figure(src, caption))
    return "<h3>The same ranking on each day a retraining alarm fired</h3><div class=grid>" + "".join(cards) + "</div>"


def _execution_section(out: Path, name: str, summary: dict[str, Any]) -> str:
    png = pipeline_graph(summary, out / "figures" / f"pipeline-{summary['execution_id']}.png")
    parameters = summary["parameters"]
    gates = [
        [
            g["name"],
            g.get("observed"),
            g.get("threshold"),
            _signed(g.get("delta")),
            g.get("champion"),
            bool(g["passed"]),
        ]
        for g in summary["gates"]
    ]
    parts = [
        f"<h3>{_e(name)}: {_e(summary['status'])}</h3>",
        f"<p>TriggerReason {_e(parameters.get('TriggerReason'))}, TriggerAlarm {_e(parameters.get('TriggerAlarm'))}, "
        f"TriggerMetricValue {_e(_rounded(parameters.get('TriggerMetricValue')))}</p>",
        f"<img alt='pipeline graph' src='figures/{png.name}'>",
        table(["gate", "observed", "threshold", "delta", "champion", "result"], gates)
        if gates
        else "<p>no gates ran</p>",
    ]
    if summary.get("failure_reason"):
        parts.append(f"<pre>{_e(summary['failure_reason'])}</pre>")
    return "".join(parts)


def _shadow_section(shadow: dict[str, Any] | None) -> str:
    if not shadow:
        return ""
    checks = [
        [c["name"], c["observed"], c["threshold"], _signed(c["delta"]), bool(c["passed"])] for c in shadow["checks"]
    ]
    return (
        f"<h2>Shadow vs production</h2><p>verdict <b>{_e(shadow['verdict'])}</b>: {_e(shadow['reason'])}</p>"
        + table(["check", "observed", "threshold", "delta", "result"], checks)
    )


def _routine(history: dict[str, Any]) -> bool:
    return bool(history["action"] == "shadow_verdict" and history["outcome"] == "wait")


# Within one timestamp, cause before effect: an alarm, the trigger's decision, the run, the
# trigger's release when it ended, its alert, what the promotion controller did.
ORDER = {"alarm": 0, "trigger": 1, "retrain": 2, "released": 3, "alert": 4, "promotion": 5}


def _timeline(document: dict[str, Any]) -> str:
    """Decisions in a table: signal alarms, the trigger's decisions, runs, the promotion
    controller's records and alerts, each once; per-feature alarm changes and the routine checks
    that changed nothing folded away."""
    events = [
        ("alarm", c["at"], f"alarm: {c['alarm']}", f"{c['previous']} -> {c['state']}")
        for c in document["alarm_changes"]
        if c.get("signal", True) and (c["previous"], c["state"]) != ("INSUFFICIENT_DATA", "OK")
    ]
    events += [
        (e["kind"], e["at"], e["kind"], e["text"]) for e in document["timeline"] if e["kind"] in ("retrain", "alert")
    ]
    sweeps = [d for d in document["trigger_decisions"] if d["outcome"] == "fresh"]
    events += [
        (
            "released" if d["outcome"] == "released" else "trigger",
            d.get("at", ""),
            f"retrain trigger: {d['outcome']}",
            d.get("reason", ""),
        )
        for d in document["trigger_decisions"]
        if d["outcome"] != "fresh"
    ]
    waits = [h for h in document["history"] if _routine(h)]
    events += [
        ("promotion", h["at"], f"promotion: {h['action']}", f"{h['version'] or ''} {h['outcome']}: {h['reason']}")
        for h in document["history"]
        if not _routine(h)
    ]
    ordered = sorted(enumerate(events), key=lambda e: (_stamp(e[1][1]), ORDER[e[1][0]], e[0]))
    rows = [[_stamp(at), what, detail] for _, (_, at, what, detail) in ordered]
    changes = document["alarm_changes"]
    counts = Counter(f"{c['previous']} -> {c['state']}" for c in changes)
    summary = ", ".join(f"{n} {transition}" for transition, n in counts.most_common())
    alarm_rows = [[_stamp(c["at"]), c["alarm"], f"{c['previous']} -> {c['state']}"] for c in changes]
    routine = [[_stamp(d["at"]), "retrain trigger: fresh", d.get("reason", "")] for d in sweeps]
    routine += [[_stamp(h["at"]), "shadow verdict: wait", h["reason"]] for h in waits]
    return (
        "<h2>Timeline of decisions</h2>"
        + table(["time", "what", "detail"], rows)
        + f"<details><summary>{len(changes)} alarm state changes ({_e(summary)})</summary>"
        + table(["time", "alarm", "change"], alarm_rows)
        + "</details>"
        + f"<details><summary>{len(routine)} routine checks that changed nothing (trigger sweeps, shadow waits)"
        "</summary>" + table(["time", "what", "detail"], sorted(routine, key=lambda r: r[0])) + "</details>"
    )


def _stamp(at: str) -> str:
    return parse_time(at).strftime("%Y-%m-%d %H:%M") if at else ""


def write_report(out: Path, document: dict[str, Any], model: str) -> Path:
    (out / "figures").mkdir(parents=True, exist_ok=True)
    parts = [
        f"<h1>Drift-triggered retraining: {_e(model)}</h1>",
        f"<p>{len(document['daily'])} simulated days in {document['seconds']} s. Every step ran the code that runs on "
        "AWS: the pipeline definition in the local runtime, the monitor's statistics, CloudWatch's alarm rules, the "
        "retrain trigger, the promotion controller.</p>",
        _verdict(document),
    ]
    if document["daily"]:
        daily_chart(document, out / "figures" / "daily.png")
        metric, window = document["setup"]["slo"]["metric"], document["setup"]["performance_window_hours"]
        caption = (
            f"Shaded: the version serving production. Each day's {metric} on its own labels as served (red) and "
            f"had the first champion served alone (grey, dashed); the estimate from the scores before labels (blue, "
            f"with its 95 % band); what the monitor measured over {window:g} h of late labels (orange). Dashed "
            "verticals: every alarm, retrain, promotion and rollback."
        )
        parts.append("<h2>Performance and decisions, day by day</h2>" + _figure("figures/daily.png", caption))
    parts.append(_drift_section(out, document))
    parts.append("<h2>Pipeline executions</h2>")
    parts += [_execution_section(out, name, summary) for name, summary in document["executions"].items()]
    parts.append(_shadow_section(document.get("shadow")))
    parts += [f"<h2>Alert</h2><pre>{_e(a['subject'])}\n\n{_e(a['text'])}</pre>" for a in document["alerts"]]
    parts.append(_timeline(document))
    page = out / "report.html"
    head = f"<meta charset=utf-8><title>Retraining loop: {_e(model)}</title><style>{STYLE}</style>"
    page.write_text(f"<!doctype html><html lang=en><head>{head}</head><body>{''.join(parts)}</body></html>\n")
    return page
