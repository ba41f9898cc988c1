"""The demo's HTML report: drift, the pipeline graphs with step outcomes, gate tables with deltas,
shadow versus production, and a timeline of every decision. Figures are PNG files beside it."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

COLOURS = {"Succeeded": "#2e7d32", "Failed": "#c62828"}
MARKS = {"alarm": "#ef6c00", "retrain": "#6a1b9a", "shadow": "#2e7d32", "alert": "#c62828", "rollback": "#000"}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.fail { color: #c62828; font-weight: 600; } .pass { color: #2e7d32; }
img { max-width: 100%; } pre { background: #f6f6f6; padding: 0.8rem; white-space: pre-wrap; }
.grid { display: flex; flex-wrap: wrap; gap: 1rem; } .grid figure { margin: 0; width: 340px; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return f"<td class={'pass' if value else 'fail'}>{'pass' if value else 'FAIL'}</td>"
    if isinstance(value, float):
        return f"<td class=num>{value:+.4f}</td>" if value < 0 else f"<td class=num>{value:.4f}</td>"
    return f"<td>{'–' if value is None else _e(value)}</td>"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(src: str, caption: str) -> str:
    return f"<figure><img alt='{_e(caption)}' src='{src}'><figcaption>{_e(caption)}</figcaption></figure>"


def pipeline_graph(summary: dict[str, Any], path: Path) -> Path:
    """The executed steps left to right, coloured by outcome, with the condition outcomes."""
    steps = summary["steps"]
    figure, axes = plt.subplots(figsize=(1.9 * max(len(steps), 3), 1.6))
    for index, step in enumerate(steps):
        colour = COLOURS.get(step["status"], "#1565c0")
        axes.add_patch(FancyBboxPatch((index * 2, 0), 1.6, 1, boxstyle="round,pad=0.05", color=colour, alpha=0.85))
        label = step["name"] + (f"\n-> {step['outcome']}" if "outcome" in step else f"\n{step['seconds']:.1f} s")
        axes.text(index * 2 + 0.8, 0.5, label, ha="center", va="center", color="white", fontsize=8)
        if index:
            axes.annotate("", (index * 2, 0.5), (index * 2 - 0.4, 0.5), arrowprops={"arrowstyle": "->"})
    axes.set_xlim(-0.2, len(steps) * 2)
    axes.set_ylim(-0.2, 1.2)
    axes.axis("off")
    axes.set_title(f"execution {summary['execution_id']}: {summary['status']}", fontsize=9)
    figure.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(figure)
    return path


def daily_chart(daily: list[dict[str, Any]], timeline: list[dict[str, Any]], path: Path) -> Path:
    days = [d["day"][:10] for d in daily]
    positions = list(range(len(days)))
    figure, left = plt.subplots(figsize=(10, 3.2))
    left.bar(positions, [d["drifted_features"] for d in daily], color="#90caf9")
    left.set_ylabel("drifted features (bars)")
    right = left.twinx()

    def line(key: str) -> list[float]:
        return [d[key] if d.get(key) is not None else float("nan") for d in daily]

    # Each day's own labels: what was served, what the first champion alone would have served, and
    # the estimate the monitor made from the scores before those labels came.
    right.plot(positions, line("served"), color="#c62828", marker="o", label="served (the day's labels)")
    right.plot(positions, line("champion_only"), color="#616161", linestyle="--", label="first champion alone")
    right.plot(positions, line("estimated"), color="#1565c0", linestyle=":", marker=".", label="estimated, no labels")
    right.set_ylabel("pr_auc (lines)")
    right.set_ylim(0, 1)
    right.legend(loc="lower left", fontsize=7)
    for event in timeline:
        day = event["at"][:10]
        if event["kind"] == "alarm" and not event["text"].endswith("-> ALARM"):
            continue
        if event["kind"] in MARKS and day in days:
            left.axvline(days.index(day), color=MARKS[event["kind"]], linestyle="--", linewidth=1)
            left.text(days.index(day), left.get_ylim()[1] * 0.95, event["kind"], rotation=90, fontsize=7, va="top")
    left.set_xticks(positions, [d[5:] for d in days], rotation=70, fontsize=7)
    left.set_title("drift and live performance per day, with alarms, retrains and verdicts")
    figure.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(figure)
    return path


def _drift_section(out: Path, report: dict[str, Any]) -> str:
    from pipelines.drift.report import chart, write_html

    write_html(report, out / "drift-report.html")
    cards = []
    for name, result in report["features"].items():
        uri = chart(name, result)
        if uri is None:
            continue
        png = out / "figures" / f"drift-{name}.png"
        png.write_bytes(base64.b64decode(uri.split(",", 1)[1]))
        cards.append(_figure(f"figures/{png.name}", f"{name}: {'drifted' if result.get('drifted') else 'not drifted'}"))
    return (
        "<h2>Baseline vs current on the day the alarm fired</h2>"
        "<p>Every statistic: <a href='drift-report.html'>drift-report.html</a></p>"
        f"<div class=grid>{''.join(cards)}</div>"
    )


def _execution_section(out: Path, name: str, summary: dict[str, Any]) -> str:
    png = pipeline_graph(summary, out / "figures" / f"pipeline-{summary['execution_id']}.png")
    parameters = summary["parameters"]
    gates = [
        [g["name"], g.get("observed"), g.get("threshold"), g.get("delta"), g.get("champion"), bool(g.get("passed"))]
        for g in summary["gates"]
    ]
    parts = [
        f"<h3>{_e(name)}: {_e(summary['status'])}</h3>",
        f"<p>TriggerReason {_e(parameters.get('TriggerReason'))}, TriggerAlarm {_e(parameters.get('TriggerAlarm'))}, "
        f"TriggerMetricValue {_e(parameters.get('TriggerMetricValue'))}</p>",
        f"<img alt='pipeline graph' src='figures/{png.name}'>",
        table(["gate", "observed", "threshold", "delta", "champion", "result"], gates)
        if gates
        else "<p>no gates ran</p>",
    ]
    if summary.get("failure_reason"):
        parts.append(f"<pre>{_e(summary['failure_reason'])}</pre>")
    return "".join(parts)


def _timeline(document: dict[str, Any]) -> str:
    events = [(e["at"], e["kind"], e["text"]) for e in document["timeline"]]
    events += [
        (d.get("at", ""), f"retrain trigger: {d.get('outcome')}", d.get("reason", ""))
        for d in document["trigger_decisions"]
    ]
    events += [
        (h["at"], f"promotion: {h['action']}", f"{h['version'] or ''} {h['outcome']}: {h['reason']}")
        for h in document["history"]
    ]
    events += [(c["at"], "alarm", f"{c['alarm']}: {c['previous']} -> {c['state']}") for c in document["alarm_changes"]]
    rows = [[str(at)[:19], what, detail] for at, what, detail in sorted(events, key=lambda e: str(e[0]))]
    return "<h2>Timeline of decisions</h2>" + table(["time", "what", "detail"], rows)


def write_report(out: Path, document: dict[str, Any], model: str) -> Path:
    (out / "figures").mkdir(parents=True, exist_ok=True)
    parts = [
        f"<h1>Drift-triggered retraining: {_e(model)}</h1>",
        f"<p>{len(document['daily'])} simulated days in {document['seconds']} s. Every step ran the code that runs on "
        "AWS: the pipeline definition in the local runtime, the monitor's statistics, CloudWatch's alarm rules, the "
        "retrain trigger, the promotion controller.</p>",
    ]
    if document["daily"]:
        daily_chart(document["daily"], document["timeline"], out / "figures" / "daily.png")
        parts.append("<h2>Drift and performance</h2>" + _figure("figures/daily.png", "per day"))
    if document.get("alarm_report"):
        parts.append(_drift_section(out, document["alarm_report"]))
    parts.append("<h2>Pipeline executions</h2>")
    parts += [_execution_section(out, name, summary) for name, summary in document["executions"].items()]
    shadow = document.get("shadow")
    if shadow:
        checks = [[c["name"], c["observed"], c["threshold"], c["delta"], bool(c["passed"])] for c in shadow["checks"]]
        parts.append(
            f"<h2>Shadow vs production</h2><p>verdict <b>{_e(shadow['verdict'])}</b>: {_e(shadow['reason'])}</p>"
            + table(["check", "observed", "threshold", "delta", "result"], checks)
        )
    parts += [f"<h2>Alert</h2><pre>{_e(a['subject'])}\n\n{_e(a['text'])}</pre>" for a in document["alerts"]]
    parts.append(_timeline(document))
    page = out / "report.html"
    head = f"<meta charset=utf-8><title>Retraining loop: {_e(model)}</title><style>{STYLE}</style>"
    page.write_text(f"<!doctype html><html lang=en><head>{head}</head><body>{''.join(parts)}</body></html>\n")
    return page
