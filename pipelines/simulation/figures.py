"""The demo report's figures: the executed pipeline graph, and the daily chart (who served each
day, what was served against what the first champion alone would have served, the estimate against the
labels, drifted features, and every decision marked where it happened)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from pipelines.simulation.story import day_label
from pipelines.trigger.policy import parse_time

COLOURS = {"Succeeded": "#2e7d32", "Failed": "#c62828"}
VERSION_SHADES = ("#eceff1", "#e3f2fd", "#fff3e0", "#f3e5f5")
MARKS = {
    "deploy": "#37474f",
    "alarm": "#ef6c00",
    "watch": "#9e9e9e",
    "retrain": "#6a1b9a",
    "failed": "#c62828",
    "promote": "#2e7d32",
    "rollback": "#000000",
}


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


@dataclass(frozen=True)
class Mark:
    at: str
    kind: str
    label: str


def decisions(document: dict[str, Any]) -> list[Mark]:
    """Every decision the chart marks: deploy, alarms to ALARM, retrains and their outcome,
    promotion and rollback."""
    model = document["model"]
    marks = []
    for event in document["timeline"]:
        kind, text = event["kind"], event["text"]
        if kind in ("alarm", "watch") and text.endswith("-> ALARM"):
            signal = text.split(":")[0].removeprefix(f"{model}-").removeprefix("watch-").removeprefix("retrain-")
            marks.append(Mark(event["at"], kind, f"{kind}: {signal}"))
        elif kind == "retrain":
            failed = text.endswith("Failed")
            marks.append(
                Mark(event["at"], "failed" if failed else "retrain", "retrain failed" if failed else "retrain")
            )
    for record in document["history"]:
        if record["action"] in ("deploy", "promote", "rollback"):
            marks.append(Mark(record["at"], record["action"], f"{record['action']} {record['version']}"))
    return sorted(marks, key=lambda mark: parse_time(mark.at))


def levels(positions: list[float], gap: float, rows: int | None = None) -> list[int]:
    """A text row for each label at `positions` (sorted) so no two labels within `gap` share a row;
    with `rows`, at most that many (the row whose last label is furthest back is reused)."""
    last: dict[int, float] = {}
    chosen = []
    for x in positions:
        free = [r for r in range(len(positions) + 1) if r not in last or x - last[r] >= gap]
        row = free[0] if rows is None or free[0] < rows else min(range(rows), key=lambda r: last[r])
        last[row] = x
        chosen.append(row)
    return chosen


def _served_spans(daily: list[dict[str, Any]], positions: list[float]) -> list[tuple[float, float, str]]:
    """(first day, last day, version) for each run of days one version served (days without a
    record are not shaded)."""
    spans: list[tuple[float, float, str]] = []
    for x, day in zip(positions, daily, strict=True):
        version = day.get("served_by")
        if version is None:
            continue
        if spans and spans[-1][2] == version and x - spans[-1][1] <= 1:
            spans[-1] = (spans[-1][0], x, version)
        else:
            spans.append((x, x, version))
    return spans


def _line(daily: list[dict[str, Any]], key: str) -> list[float]:
    return [d[key] if d.get(key) is not None else float("nan") for d in daily]


def daily_chart(document: dict[str, Any], path: Path) -> Path:
    daily, setup = document["daily"], document["setup"]
    metric, floor = setup["slo"]["metric"], setup["slo"]["min"]
    first = parse_time(daily[0]["day"])
    # days and decisions on one axis of days since the first (a day the monitor skipped has no point)
    positions = [(parse_time(d["day"]) - first).total_seconds() / 86_400 for d in daily]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(13, 6.2), sharex=True, gridspec_kw={"height_ratios": [3.2, 1]})
    versions = sorted({d["served_by"] for d in daily if d.get("served_by")}, key=lambda v: (len(v), v))
    for start, end, version in _served_spans(daily, positions):
        shade = VERSION_SHADES[versions.index(version) % len(VERSION_SHADES)]
        top.axvspan(start - 0.5, end + 0.5, color=shade, zorder=0)
        top.text((start + end) / 2, 0.03, f"{version} serves", ha="center", fontsize=9, color="#455a64")
    top.plot(positions, _line(daily, "served"), color="#c62828", marker="o", markersize=4, label="served model")
    top.plot(positions, _line(daily, "champion_only"), color="#616161", linestyle="--", label="first champion alone")
    bounds = [d.get("estimated_bounds") or [float("nan")] * 2 for d in daily]
    top.fill_between(positions, [b[0] for b in bounds], [b[1] for b in bounds], color="#1565c0", alpha=0.12)
    top.plot(
        positions,
        _line(daily, "estimated"),
        color="#1565c0",
        linestyle=":",
        marker=".",
        label="estimated (no labels), 95 % band",
    )
    top.plot(
        positions,
        _line(daily, metric),
        color="#ef6c00",
        linewidth=1,
        label=f"monitor: {setup['performance_window_hours']:g} h of late labels",
    )
    top.axhline(floor, color="#212121", linestyle="-.", linewidth=1)
    top.text(positions[-1] + 0.6, floor, f" SLO {floor:g}", va="center", fontsize=8)
    top.set_ylim(0, 1.32)
    top.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    top.set_ylabel(f"{metric}, each day's own labels", fontsize=9)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, framealpha=0.9)
    bottom.bar(positions, [d["drifted_features"] for d in daily], color="#90caf9")
    bottom.set_ylabel("drifted\nfeatures", fontsize=9)
    marks = decisions(document)
    xs = [(parse_time(m.at) - first).total_seconds() / 86_400 - 0.5 for m in marks]
    right = max(positions[-1] + 0.5, max(xs, default=0) + 0.5)
    for mark, x, row in zip(marks, xs, levels(xs, gap=3.2, rows=4), strict=True):
        for axes in (top, bottom):
            axes.axvline(x, color=MARKS[mark.kind], linestyle="--", linewidth=1)
        near_end = x > right - 3  # labels near the right edge grow leftwards, inside the axes
        top.text(
            x, 1.28 - 0.075 * row, mark.label, fontsize=8, color=MARKS[mark.kind], ha="right" if near_end else "left",
            va="top", bbox={"facecolor": "white", "edgecolor": "none", "pad": 1, "alpha": 0.85},
        )  # fmt: skip
    bottom.set_xticks(positions, [day_label(d["day"]) for d in daily])
    top.set_ylabel(f"{metric}", fontsize=9)
    bottom.tick_params(axis="x", labelsize=8, rotation=60)
    bottom.set_xlim(-0.6, right + 0.1)
    top.set_title(f"{metric} per day: served, the first champion alone, estimated before labels; every decision marked")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
