"""The backtest as JSON and as one self-contained HTML page.

JSON (`run_backtest`'s document): `policies.<name>` holds `retrains`, `mean_metric`,
`worst_metric`, `worst_window`, `windows_below_slo`, `detection` (per known drift point),
`promotions`, `failed_runs`, `timeline` (one record per replayed window); `comparison` the
trigger policy against every-window and calendar; `sweep` (with --sweep) every grid point and the
frontier; `holdout` (with --holdout) the tuning part, its recommended point and its overrides, the
rest of the document being that point replayed on the held-out rows. The HTML page shows the same
numbers, the metric over time with each policy's retraining runs and promotions marked, and the
sweep's frontier (matplotlib PNGs embedded as data URIs).
"""

from __future__ import annotations

import base64
import html
import io
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pipelines.backtest.notes import counted

COLOURS = {"never": "#9e9e9e", "calendar": "#1f77b4", "trigger": "#d62728", "every_window": "#2ca02c"}
# the per-signal policies' (`--per-signal`), none of them a policy's above or the drift points' orange
SIGNAL_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#393b79", "#637939", "#7b4173")
DRIFT_POINT_COLOUR = "#ff9800"


def colours(names: Sequence[str]) -> dict[str, str]:
    """One colour per policy: the four policies' own, then the signal palette in order."""
    extra = [name for name in names if name not in COLOURS]
    return {**{n: COLOURS[n] for n in names if n in COLOURS}, **dict(zip(extra, itertools.cycle(SIGNAL_COLOURS)))}


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1200px; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
.good { color: #1b5e20; font-weight: 600; } .bad { color: #b00020; font-weight: 600; }
tr.frontier { background: #eef6ee; }
"""


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def metric_chart(document: Mapping[str, Any]) -> str:
    return _png(metric_figure(document))


def metric_figure(document: Mapping[str, Any]) -> Figure:
    """The metric per window for each policy; below it, each policy's runs (|) and promotions (●).
    The legend sits above the plot: inside it, it hid the lines of a long history."""
    policies: Mapping[str, Any] = document["policies"]
    figure = Figure(figsize=(11, 5.5))
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.2]})
    metric = document["metric"]
    colour = colours(list(policies))
    for name, summary in policies.items():
        windows = [r["window"] for r in summary["timeline"]]
        values = [r["metrics"].get(metric) for r in summary["timeline"]]
        plotted = [float("nan") if v is None else v for v in values]
        label = f"{name} ({summary['retrains']} runs, mean {_number(summary['mean_metric'])})"
        top.plot(windows, plotted, color=colour[name], linewidth=1.2, label=label)
    if document.get("slo"):
        top.axhline(document["slo"]["min"], color="#555", linestyle=":", linewidth=1, label="SLO")
    names = list(policies)
    for row, name in enumerate(names):
        summary = policies[name]
        runs, promoted = summary["retrain_windows"], summary["promotion_windows"]
        bottom.scatter(runs, [row] * len(runs), marker="|", s=120, color=colour[name])
        bottom.scatter(promoted, [row] * len(promoted), marker="o", s=14, color=colour[name])
    for axis in (top, bottom):
        for point in document.get("drift_points", []):
            axis.axvline(point["window"], color=DRIFT_POINT_COLOUR, linestyle="--", linewidth=1)
    bottom.set_yticks(range(len(names)), names)
    bottom.set_ylim(-0.7, len(names) - 0.3)
    bottom.set_xlabel("window (drift points dashed; | run started, ● promoted)")
    top.set_ylabel(metric)
    top.legend(loc="lower left", bbox_to_anchor=(0, 1.02), ncol=3, fontsize=8, frameon=False)
    top.grid(alpha=0.3)
    return figure


def frontier_chart(document: Mapping[str, Any]) -> str | None:
    sweep = document.get("sweep")
    if not sweep:
        return None
    points = [p for p in sweep["points"] if p["mean_metric"] is not None]
    figure = Figure(figsize=(8, 4.5))
    axis = figure.subplots()
    axis.scatter([p["retrains"] for p in points], [p["mean_metric"] for p in points], s=14, color="#bbb")
    line = sorted((p for p in points if p["on_frontier"]), key=lambda p: p["retrains"])
    axis.plot([p["retrains"] for p in line], [p["mean_metric"] for p in line], "o-", color="#d62728", label="frontier")
    for p in points:
        if p["configured"]:
            axis.scatter([p["retrains"]], [p["mean_metric"]], marker="*", s=160, color="#d62728", label="as configured")
    colour = colours(list(document["policies"]))
    for name, summary in document["policies"].items():
        if name != "trigger" and summary["mean_metric"] is not None:
            axis.scatter([summary["retrains"]], [summary["mean_metric"]], marker="s", color=colour[name], label=name)
    axis.set_xlabel("retraining runs")
    axis.set_ylabel(f"mean {document['metric']}")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    return _png(figure)


def _number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], classes: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{classes[index]}"' if index < len(classes) and classes[index] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{_number(v)}</td>" for v in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def policy_rows(document: Mapping[str, Any], policies: Mapping[str, Any] | None = None) -> list[list[Any]]:
    rows = []
    for name, s in (policies if policies is not None else document["policies"]).items():
        delay = _windows(s["mean_detection_delay_windows"])
        points = len(document.get("drift_points", []))
        detected = (
            f"{s['detected_drift_points']}/{points} run, {s['promoted_drift_points']} promoted" if points else None
        )
        shown = name if s.get("in_retrain_on", True) else f"{name} (not in retrain_on)"
        rows.append(
            [
                shown,
                s["retrains"],
                s["promotions"],
                sum(s["failed_runs"].values()),
                s["mean_metric"],
                s["worst_metric"],
                s["windows_below_slo"],
                detected,
                delay,
            ]
        )
    return rows


def _windows(mean: float | None) -> str | None:
    """A mean number of windows as a count reads: 2, 2.5, 1.33."""
    return None if mean is None else f"{round(mean, 2):g}"


POLICY_HEADER = (
    "policy",
    "runs",
    "promoted",
    "failed",
    "mean",
    "worst window",
    "windows < SLO",
    "drifts",
    "delay (win.)",
)


def windows_line(data: Mapping[str, Any]) -> str:
    """What was replayed: the rows in whole windows, the windows' size, and the tail left out."""
    sizes = data["rows_per_window"]
    if data["window_rows"] is not None:
        size = f"{data['window_rows']:,} rows"
    elif sizes["min"] == sizes["max"]:
        size = f"{data['window_span']} ({sizes['min']:,} rows each)"
    else:
        size = f"{data['window_span']} ({sizes['min']:,} to {sizes['max']:,} rows)"
    unused = data["unused_tail_rows"]
    return (
        f"{data['rows'] - unused:,} rows of {data['source']} in {data['windows']} windows "
        f"({data['warmup_windows']} warm-up, {data['replayed_windows']} replayed) of {size}, {data['first']} to "
        f"{data['last']}" + (f"; the last {unused:,} rows fill no whole window and are not replayed" if unused else "")
    )


def render(document: Mapping[str, Any]) -> str:
    data, metric = document["data"], document["metric"]
    parts = [
        f"<h1>Backtest: {html.escape(str(document['model']))}</h1>",
        f"<p>{html.escape(windows_line(data))}. Metric: <b>{html.escape(metric)}</b>"
        + (f", SLO {document['slo']['min']}" if document.get("slo") else "")
        + ".</p>",
        _holdout(document.get("holdout")),
        _table([*POLICY_HEADER[:4], f"mean {metric}", *POLICY_HEADER[5:]], policy_rows(document)),
        _comparison(document.get("comparison") or {}),
        f'<img alt="metric over time" src="{metric_chart(document)}">',
    ]
    frontier = frontier_chart(document)
    if frontier is not None:
        sweep = document["sweep"]
        points = sorted(sweep["points"], key=lambda p: (not p["on_frontier"], p["retrains"]))
        parts += [
            "<h2>Threshold sweep</h2>",
            f"<p>Recommended within {sweep['retrain_budget']} runs (a quarter of the replayed windows): "
            f"<b>{html.escape(str(sweep['recommended']))}</b></p>",
            f'<img alt="frontier" src="{frontier}">',
            _table(
                ["setting", "runs", f"mean {metric}", "worst", "delay (win.)", "as configured"],
                [
                    [p[key] for key in ("name", "retrains", "mean_metric", "worst_metric")]
                    + [_windows(p["mean_detection_delay_windows"]), p["configured"]]
                    for p in points
                ],
                ["frontier" if p["on_frontier"] else "" for p in points],
            ),
        ]
    trigger = document["policies"].get("trigger", {}).get("timeline", [])
    parts += [
        "<h2>Trigger policy, window by window</h2>",
        _table(
            [
                "window",
                "end",
                "model",
                metric,
                f"estimated {metric}",
                "drifted features",
                "run",
                "outcome",
                "reason / detail",
            ],
            [
                [
                    r["window"],
                    r["end"],
                    r["production"],
                    r["metrics"].get(metric),
                    r.get("estimated"),
                    ", ".join(r["drifted_features"] or []),
                    r["retrain"],
                    r["outcome"] or r["shadow"],
                    " | ".join(t for t in (r["reason"], r["detail"]) if t),
                ]
                for r in trigger
            ],
        ),
        "<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in document.get("notes", [])) + "</ul>",
        "<h2>Assumptions</h2><ul>"
        + "".join(f"<li>{html.escape(n)}</li>" for n in document.get("assumptions", []))
        + "</ul>",
    ]
    body = "\n".join(parts)
    head = (
        f"<meta charset='utf-8'><title>Backtest: {html.escape(str(document['model']))}</title><style>{_STYLE}</style>"
    )
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"


def _holdout(holdout: Mapping[str, Any] | None) -> str:
    """With --holdout: where the thresholds were tuned and what was chosen there."""
    if not holdout:
        return ""
    tuning = holdout["tuning"]
    return (
        f"<p><b>Held-out check.</b> The sweep ran on the first {tuning['rows']:,} rows "
        f"({html.escape(tuning['first'])} to {html.escape(tuning['last'])}) and recommended "
        f"<b>{html.escape(tuning['recommended'])}</b> ({tuning['in_sample']['retrains']} runs, mean "
        f"{_number(tuning['in_sample']['mean_metric'])} there; the config as written: "
        f"{tuning['as_configured']['retrains']} runs, {_number(tuning['as_configured']['mean_metric'])}). "
        f"Everything below replays that point on the {holdout['held_out']['rows']:,} rows that followed, "
        "which the sweep never saw.</p>"
    )


def _comparison(comparison: Mapping[str, Any]) -> str:
    if not comparison:
        return ""

    def verdict(ok: bool) -> str:
        return '<span class="good">met</span>' if ok else '<span class="bad">missed</span>'

    lines = [
        f"trigger / every window, mean metric: {_number(comparison['metric_ratio_vs_every_window'])} "
        f"(target ≥ {comparison['targets']['metric_ratio_at_least']}) {verdict(comparison['meets_metric_target'])}",
        f"trigger / every window, runs: {_number(comparison['retrain_ratio_vs_every_window'])} "
        f"(target ≤ {comparison['targets']['retrain_ratio_at_most']}) {verdict(comparison['meets_retrain_target'])}",
    ]
    if "beats_calendar" in comparison:
        lines.append(
            f"trigger − calendar ({counted(comparison['calendar_retrains'], 'run')}), mean metric: "
            f"{comparison['metric_delta_vs_calendar']:+.4f} {verdict(comparison['beats_calendar'])}"
        )
    phases = comparison.get("calendar_phases")
    if phases and len(phases["mean_metric"]) > 1:
        lines.append(
            f"calendar every {phases['every']} windows, averaged over its {len(phases['mean_metric'])} phases: "
            f"{_number(phases['average_mean_metric'])}; trigger beats {phases['trigger_beats']} of them"
        )
    return "<ul>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>"


def write_html(document: Mapping[str, Any], path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(document), encoding="utf-8")
    return target
