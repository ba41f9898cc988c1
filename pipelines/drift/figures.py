"""Drift figures people read: cumulative shares for numeric features (the largest gap is what KS
measures, drawn against its threshold), side-by-side bars for categorical and yes/no features,
features ranked by how far past their threshold they are, and drift per feature over time.

Every figure is built from a drift report's JSON (histograms over the baseline's quantile edges,
bins closed on the left as `numpy.histogram` and the monitor count them) and returned as a
matplotlib Figure; callers save or embed it."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from pipelines.drift.verdict import THRESHOLD_FIELDS, severity

BASELINE, CURRENT, DRIFTED = "#78909c", "#e53935", "#b71c1c"


def _threshold(thresholds: Mapping[str, Any], statistic: str) -> float | None:
    value = thresholds.get(THRESHOLD_FIELDS[statistic])
    return None if value is None else float(value)


def _title(name: str, result: Mapping[str, Any], thresholds: Mapping[str, Any], statistic: str) -> str:
    value, limit = result.get(statistic), _threshold(thresholds, statistic)
    shown = "n/a" if value is None else f"{value:.2f}"
    bound = "" if limit is None else f" (threshold {limit:g})"
    verdict = "drifted" if result.get("drifted") else "not drifted"
    return f"{name}: {verdict}\n{statistic.upper()} {shown}{bound}"


def _set_title(axes: Any, name: str, result: Mapping[str, Any], thresholds: Mapping[str, Any], statistic: str) -> None:
    colour = DRIFTED if result.get("drifted") else "#212121"
    axes.set_title(_title(name, result, thresholds, statistic), fontsize=10, color=colour)


def is_yes_no(histogram: Mapping[str, Any]) -> bool:
    """A numeric feature whose only values are 0 and 1 (bins (-inf, 0), [0, 1), [1, inf))."""
    edges = histogram.get("edges") or []
    return [e for e in edges if e is not None] == [0.0, 1.0]


def feature_figure(name: str, result: Mapping[str, Any], thresholds: Mapping[str, Any]) -> Figure | None:
    """The feature's baseline against its current window, or None when the report holds no histogram."""
    histogram = result.get("histogram")
    if not histogram:
        return None
    worst = severity(result, thresholds)  # the title names the statistic furthest past its threshold
    if histogram.get("categories"):
        return _bars(name, list(histogram["categories"]), histogram, result, thresholds, worst[1] if worst else "psi")
    if is_yes_no(histogram):
        yes_no = {**histogram, "baseline": histogram["baseline"][1:], "current": histogram["current"][1:]}
        return _bars(name, ["0 (no)", "1 (yes)"], yes_no, result, thresholds, worst[1] if worst else "psi")
    return _cumulative(name, histogram, result, thresholds, worst[1] if worst else "ks")


def _bars(
    name: str,
    labels: list[str],
    histogram: Mapping[str, Any],
    result: Mapping[str, Any],
    thresholds: Mapping[str, Any],
    statistic: str,
) -> Figure:
    figure = Figure(figsize=(4.6, 0.42 * len(labels) + 1.3))
    axes = figure.add_subplot()
    positions = np.arange(len(labels))
    axes.barh(positions + 0.2, histogram["baseline"], height=0.4, color=BASELINE, label="baseline")
    axes.barh(positions - 0.2, histogram["current"], height=0.4, color=CURRENT, label="current")
    axes.set_yticks(positions, labels, fontsize=9)
    axes.invert_yaxis()
    axes.set_xlabel("share of rows", fontsize=9)
    axes.legend(fontsize=8, loc="best")
    _set_title(axes, name, result, thresholds, statistic)
    return figure


def cumulative_shares(histogram: Mapping[str, Any]) -> tuple[list[float], list[float], list[float]]:
    """At each finite edge x, the share of baseline and of current values below x."""
    edges = histogram["edges"]
    xs, base, current = [], [], []
    for index, edge in enumerate(edges):
        if edge is None:
            continue
        xs.append(float(edge))
        base.append(float(sum(histogram["baseline"][:index])))
        current.append(float(sum(histogram["current"][:index])))
    return xs, base, current


def _cumulative(
    name: str, histogram: Mapping[str, Any], result: Mapping[str, Any], thresholds: Mapping[str, Any], statistic: str
) -> Figure:
    xs, base, current = cumulative_shares(histogram)
    figure = Figure(figsize=(4.6, 3.0))
    axes = figure.add_subplot()
    axes.plot(xs, base, color=BASELINE, marker="o", markersize=3, label="baseline")
    axes.plot(xs, current, color=CURRENT, marker="o", markersize=3, label="current")
    gaps = [abs(c - b) for b, c in zip(base, current, strict=True)]
    if gaps:
        at = int(np.argmax(gaps))
        axes.vlines(xs[at], min(base[at], current[at]), max(base[at], current[at]), color="#212121", linewidth=2)
        axes.annotate(
            f"largest gap {gaps[at]:.2f}\n(KS, on the bins)", (xs[at], (base[at] + current[at]) / 2), xytext=(6, 0),
            textcoords="offset points", fontsize=8, va="center",
        )  # fmt: skip
    if xs and min(xs) > 0 and max(xs) / min(xs) > 50:
        axes.set_xscale("log")
    axes.set_ylim(0, 1)
    axes.set_xlabel(f"{name} (baseline quantile edges)", fontsize=9)
    axes.set_ylabel("share of rows below", fontsize=9)
    axes.legend(fontsize=8, loc="lower right")
    _set_title(axes, name, result, thresholds, statistic)
    return figure


def ranked(report: Mapping[str, Any]) -> list[tuple[str, float, str]]:
    """(feature, severity, worst statistic), most drifted first; features not judged are left out."""
    found = [(name, severity(result, report["thresholds"])) for name, result in report["features"].items()]
    rows = [(name, value[0], value[1]) for name, value in found if value is not None]
    return sorted(rows, key=lambda row: -row[1])


def ranking_figure(report: Mapping[str, Any]) -> Figure:
    rows = ranked(report)
    figure = Figure(figsize=(6.0, 0.36 * len(rows) + 1.2))
    axes = figure.add_subplot()
    positions = np.arange(len(rows))
    values = [value for _, value, _ in rows]
    axes.barh(positions, values, color=[DRIFTED if v >= 1 else BASELINE for v in values])
    axes.set_yticks(positions, [name for name, _, _ in rows], fontsize=9)
    axes.invert_yaxis()
    for position, (_, value, statistic) in enumerate(rows):
        axes.text(value, position, f" {statistic}", va="center", fontsize=8)
    axes.axvline(1.0, color="#212121", linestyle="--", linewidth=1)
    axes.set_xlim(0, max([*values, 1.0]) * 1.25)
    axes.set_xlabel("worst statistic / its threshold (dashed: 1, the threshold; red: drifted)", fontsize=9)
    axes.set_title("features ranked by drift", fontsize=10)
    figure.tight_layout()
    return figure


def over_time_figure(days: Sequence[str], features: Sequence[str], values: Sequence[Sequence[float | None]]) -> Figure:
    """Drift per feature per day: `values[f][d]` is feature f's severity on day d (None: not judged)."""
    matrix = np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)
    figure = Figure(figsize=(10.0, 0.34 * len(features) + 1.6))
    axes = figure.add_subplot()
    if matrix.size == 0:
        axes.text(0.5, 0.5, "no feature was judged on any day", ha="center", va="center", transform=axes.transAxes)
        axes.axis("off")
        return figure
    norm = TwoSlopeNorm(vmin=0.0, vcenter=1.0, vmax=3.0)  # 3 times the threshold and more: the darkest red
    colours = matplotlib.colormaps["RdBu_r"].with_extremes(bad="#bdbdbd")  # grey: not judged that day
    image = axes.imshow(np.clip(matrix, 0.0, 3.0), aspect="auto", cmap=colours, norm=norm, interpolation="nearest")
    axes.set_yticks(range(len(features)), list(features), fontsize=9)
    step = max(1, len(days) // 15)
    axes.set_xticks(range(0, len(days), step), [days[i] for i in range(0, len(days), step)], fontsize=8, rotation=60)
    for row, column in itertools.product(range(len(features)), range(len(days))):
        if matrix[row, column] >= 1:
            axes.text(column, row, "●", ha="center", va="center", fontsize=6, color="white")
    colourbar = figure.colorbar(image, ax=axes, fraction=0.03, pad=0.01, extend="max")
    colourbar.set_label("worst statistic / threshold", fontsize=8)
    axes.set_title("drift per feature per day (● drifted: at or over its threshold)", fontsize=10)
    figure.tight_layout()
    return figure
