"""The drift report as one self-contained HTML page: a summary, a table of every feature's
statistics (values at or over their thresholds marked), and a baseline-versus-current chart per
feature (matplotlib PNGs embedded as data URIs, so the page can be stored and opened anywhere)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pipelines.drift.figures import feature_figure
from pipelines.drift.verdict import THRESHOLD_FIELDS

COLUMNS = (
    ("psi", "PSI"),
    ("ks", "KS"),
    ("wasserstein", "Wasserstein (σ)"),
    ("js", "JS distance"),
    ("cramers_v", "Cramér's V"),
    ("ood_share", "Out of range / unseen"),
    ("null_rate_increase", "Null rate Δ"),
)
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
td.breach { background: #fde2e1; font-weight: 600; }
.drifted { color: #b00020; font-weight: 600; }
.ok { color: #1b5e20; }
.features { display: flex; flex-wrap: wrap; gap: 1rem; }
.features figure { margin: 0; }
figcaption { font-size: 0.85rem; }
"""


def _escape(value: Any) -> str:
    return html.escape(str(value))


def _number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return _escape(value)


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def chart(name: str, result: Mapping[str, Any], thresholds: Mapping[str, Any] | None = None) -> str | None:
    """The feature's baseline against current (`pipelines.drift.figures`) as a PNG data URI, or None
    without a histogram."""
    figure = feature_figure(name, result, thresholds or {})
    return None if figure is None else _png(figure)


def _feature_row(name: str, result: Mapping[str, Any], thresholds: Mapping[str, Any]) -> str:
    cells = [f"<td>{_escape(name)}</td>", f"<td class=text>{_escape(result.get('type'))}</td>"]
    cells.append(f"<td class=text>{_escape(result.get('status'))}</td>")
    cells.append(f"<td>{_number(result.get('rows'))}</td>")
    breached = set(result.get("breaches", []))
    for key, _ in COLUMNS:
        marked = " class=breach" if key in breached else ""
        title = f" title='threshold {thresholds.get(THRESHOLD_FIELDS[key])}'"
        cells.append(f"<td{marked}{title}>{_number(result.get(key))}</td>")
    verdict = "<span class=drifted>drifted</span>" if result.get("drifted") else "<span class=ok>no</span>"
    cells.append(f"<td class=text>{verdict}</td>")
    return "<tr>" + "".join(cells) + "</tr>"


def _summary(report: Mapping[str, Any]) -> str:
    summary = report["summary"]
    window = report["window"]
    verdict = (
        f"<span class=drifted>drift detected: {summary['drifted_feature_count']} features drifted "
        f"(alarm at {summary['min_drifted_features']})</span>"
        if summary["drift_detected"]
        else f"<span class=ok>no drift alarm: {summary['drifted_feature_count']} of {summary['features']} "
        f"features drifted (alarm at {summary['min_drifted_features']})</span>"
    )
    span = f"{window['start']} – {window['end']}, " if window.get("start") and window.get("end") else ""
    items = [
        f"<li>{verdict}</li>",
        f"<li>window: {_escape(span)}{window['rows']:,} rows, {window['labelled_rows']:,} labelled</li>",
    ]
    if summary["drifted_features"]:
        items.append(f"<li>drifted: {_escape(', '.join(summary['drifted_features']))}</li>")
    for problem in report.get("schema_problems", []):
        items.append(f"<li class=drifted>schema: {_escape(problem['feature'])}: {_escape(problem['problem'])}</li>")
    prediction = report.get("prediction") or {}
    items.append(
        f"<li>prediction drift: {_escape(prediction.get('status'))}, drifted {_number(prediction.get('drifted'))}</li>"
    )
    label = report.get("label") or {}
    items.append(
        f"<li>label: positive rate {_number(label.get('positive_rate'))} vs baseline "
        f"{_number(label.get('baseline_positive_rate'))} (Cohen's h {_number(label.get('cohens_h'))}), "
        f"drifted {_number(label.get('drifted'))}</li>"
    )
    performance = report.get("performance") or {}
    if performance.get("status") == "ok":
        items.append(f"<li>{_escape(performance_text(performance))}</li>")
    elif performance.get("status") == "insufficient_labels":
        items.append(
            f"<li>performance: not yet ({performance.get('labels', 0):,} labelled predictions of "
            f"{performance.get('min_labels', 0):,} needed)</li>"
        )
    else:
        items.append(f"<li>performance: {_escape(performance.get('status'))}</li>")
    items.append(_estimated_item(report.get("estimated_performance") or {}))
    beside = beside_labels_text(report.get("estimated_performance") or {})
    if beside is not None:
        broken = (report["estimated_performance"]["labelled"] or {}).get("realized_within_bounds") is False
        items.append(f"<li{' class=drifted' if broken else ''}>{_escape(beside)}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def console_lines(report: Mapping[str, Any], written: str) -> list[str]:
    """What the `drift` command prints: the verdict and the files `written`, the columns that are
    not features, the label's drift, what the labels measured and the estimate beside them."""
    summary = report["summary"]
    drifted = ", ".join(summary["drifted_features"]) or "none"
    count = f"{summary['drifted_feature_count']} of {summary['features']}"
    lines = [f"{count} features drifted ({drifted}); wrote {written}"]
    skipped = report.get("skipped_columns") or {}
    if skipped:
        lines.append("not features: " + ", ".join(f"{name} ({why})" for name, why in sorted(skipped.items())))
    label = report.get("label") or {}
    if label.get("status") == "ok":
        lines.append(
            f"label: positive rate {label['positive_rate']:.4f} against {label['baseline_positive_rate']:.4f} "
            f"(Cohen's h {label['cohens_h']:.3f}, {'drifted' if label['drifted'] else 'not drifted'})"
        )
    performance = report.get("performance") or {}
    if performance.get("status") == "ok":
        lines.append(performance_text(performance))
    beside = beside_labels_text(report.get("estimated_performance") or {})
    return lines if beside is None else [*lines, beside]


def performance_text(performance: Mapping[str, Any]) -> str:
    """What the labels measured, and the SLO's verdict on it."""
    metrics = ", ".join(f"{k} {_number(v)}" for k, v in performance["metrics"].items())
    slo = performance.get("slo")
    slo_text = ""
    if slo:
        bound = f"≥ {slo['min']}" if "min" in slo else f"≤ {slo['max']}"
        slo_text = f"; SLO {slo['metric']} {bound}: {'met' if slo['met'] else 'MISSED'}"
    return f"performance on {performance['labels']:,} labels: {metrics}{slo_text}"


def beside_labels_text(estimated: Mapping[str, Any]) -> str | None:
    """The estimate on the labelled predictions beside what their labels measured, and whether the
    realized value lies within the estimate's bounds; None where labels did not come or there is no
    estimate."""
    labelled = estimated.get("labelled") or {}
    within = labelled.get("realized_within_bounds")
    if within is None:
        return None
    metric = labelled["judged_metric"]
    low, high = labelled["bounds"][metric]
    verdict = (
        "within the estimate's bounds"
        if within
        else "outside the estimate's 95 % bounds: the scores' relation to outcomes may have changed (concept "
        "drift; or, on a large window, the calibration's own error shows), and the realized metric, not the "
        "estimate, tells this model's performance"
    )
    estimate, realized = _number(labelled["estimated"][metric]), _number(labelled["realized"][metric])
    return (
        f"on the {labelled['rows']:,} labelled predictions: estimated {metric} {estimate} "
        f"[{_number(low)}, {_number(high)}], realized {realized}: {verdict}"
    )


def _estimated_item(estimated: Mapping[str, Any]) -> str:
    """The performance the scores estimate before labels come, with its bounds and its objective,
    or why there is no estimate."""
    if estimated.get("status") != "ok":
        reason = estimated.get("reason") or estimated.get("status") or "not computed"
        return f"<li>estimated performance: none ({_escape(reason)})</li>"
    metrics = ", ".join(
        f"{name} {_number(entry['value'])} [{_number(entry['lower'])}, {_number(entry['upper'])}]"
        for name, entry in estimated["metrics"].items()
    )
    slo = estimated.get("slo")
    slo_text = "" if not slo else f"; objective {slo['metric']}: {'met' if slo['met'] else 'MISSED'}"
    return (
        f"<li>estimated performance on {estimated['predictions']:,} predictions, before labels (95 % bounds): "
        f"{_escape(metrics)}{_escape(slo_text)}</li>"
    )


def render_html(report: Mapping[str, Any]) -> str:
    thresholds = report.get("thresholds", {})
    header = "".join(
        f"<th>{_escape(label)}</th>" for label in ("feature", "type", "status", "rows", *dict(COLUMNS).values())
    )
    rows = "".join(_feature_row(name, result, thresholds) for name, result in report["features"].items())
    figures = []
    charted = dict(report["features"])
    if (report.get("prediction") or {}).get("histogram"):
        charted["prediction (score)"] = report["prediction"]
    for name, result in charted.items():
        uri = chart(name, result, thresholds)
        if uri is not None:
            state = "drifted" if result.get("drifted") else "not drifted"
            figures.append(
                f"<figure><img alt='{_escape(name)}: baseline and current shares' src='{uri}'>"
                f"<figcaption>{_escape(name)}: {state}</figcaption></figure>"
            )
    title = f"Drift report: {_escape(report.get('model') or 'reference vs current')}"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{title}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{title}</h1>{_summary(report)}"
        f"<h2>Features</h2><table><tr>{header}<th>drifted</th></tr>{rows}</table>"
        f"<h2>Baseline vs current</h2><div class=features>{''.join(figures)}</div>"
        "</body></html>\n"
    )


def write_html(report: Mapping[str, Any], path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(report), encoding="utf-8")
    return target
