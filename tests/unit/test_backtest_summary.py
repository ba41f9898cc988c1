"""Backtest summaries, comparison, sweep grid and frontier, and the HTML page: pure functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex

from pipelines.backtest.command import text_table
from pipelines.backtest.history import Window
from pipelines.backtest.report import POLICY_HEADER, metric_figure, policy_rows, render
from pipelines.backtest.runner import PolicyRun, WindowRecord, window_at
from pipelines.backtest.summary import DriftPoint, compare, detection_delays, locate, summarize
from pipelines.backtest.sweep import configured, frontier, grid, is_configured
from pipelines.config import ModelConfig
from pipelines.errors import ConfigError
from pipelines.trigger import iso

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def windows(count: int) -> list[Window]:
    return [
        Window(i, i * 10, (i + 1) * 10, T0 + timedelta(days=i), T0 + timedelta(days=i + 1) - timedelta(seconds=1))
        for i in range(count)
    ]


def run(values: list[float], retrains: set[int], promoted: set[int] = frozenset()) -> PolicyRun:  # type: ignore[assignment]
    records = tuple(
        WindowRecord(
            window=i + 1,
            start=iso(w.start),
            end=iso(w.end),
            production="w0",
            metrics={"accuracy": v},
            retrain=i + 1 in retrains,
            outcome="shadow" if i + 1 in retrains else "",
            promoted="w9" if i + 1 in promoted else "",
        )
        for i, (w, v) in enumerate(zip(windows(len(values) + 1)[1:], values, strict=True))
    )
    return PolicyRun("trigger", records, {"description": "test"})


def test_drift_points_fall_in_the_window_that_holds_them() -> None:
    points = locate([T0 + timedelta(days=2, hours=5), T0 + timedelta(days=30)], windows(5))
    assert points == [DriftPoint("2026-01-03T05:00:00Z", 2)]  # the second is after the last window


def test_detection_delay_is_the_first_run_after_the_drift_and_before_the_next() -> None:
    ends = {w.index: iso(w.end) for w in windows(10)}
    points = [DriftPoint(iso(T0 + timedelta(days=2, hours=12)), 2), DriftPoint(iso(T0 + timedelta(days=6)), 6)]
    delays = detection_delays([1, 4, 9], points, last_window=9, ends=ends)
    assert [d["delay_windows"] for d in delays] == [2, 3]
    assert delays[0]["retrain_window"] == 4 and delays[0]["delay_hours"] == pytest.approx(60.0, abs=0.01)
    missed = detection_delays([1], points, last_window=9, ends=ends)
    assert [d["retrain_window"] for d in missed] == [None, None]


def test_summary_counts_runs_quality_and_slo_breaches() -> None:
    summary = summarize(
        run([0.9, 0.7, 0.8, 0.6], retrains={2}, promoted={3}), "accuracy", 0.75, [DriftPoint(iso(T0), 2)]
    )
    assert summary["retrains"] == 1 and summary["promotions"] == 1
    assert summary["mean_metric"] == pytest.approx(0.75)
    assert (summary["worst_metric"], summary["worst_window"]) == (0.6, 4)
    assert summary["windows_below_slo"] == 2
    assert summary["retrains_before_first_drift"] == 0
    assert summary["mean_detection_delay_windows"] == 0


def test_a_drift_counts_as_promoted_only_when_a_model_trained_after_it_serves_before_the_next() -> None:
    """A new user read "drifts caught 2/2" as both drifts answered; one run had failed its gates
    and the old model served on. A run after a drift point detects it; a promotion answers it."""
    points = [DriftPoint(iso(T0 + timedelta(days=1)), 2), DriftPoint(iso(T0 + timedelta(days=5)), 6)]
    summary = summarize(run([0.9] * 9, retrains={2, 3, 7}, promoted={4, 6}), "accuracy", 0.75, points)
    assert summary["detected_drift_points"] == 2
    # the promotion at 6 is in the second drift's window, but of a run started before that drift's first (7)
    assert [d["promotion_window"] for d in summary["detection"]] == [4, None]
    assert summary["promoted_drift_points"] == 1
    assert policy_rows({"drift_points": points}, {"trigger": summary})[0][7] == "2/2 run, 1 promoted"
    # a promotion in the window of the drift's first run is an earlier run's candidate: a candidate
    # shadows from the window after its run, and the runner judges shadows before starting runs
    same_window = summarize(run([0.9] * 5, retrains={1, 2}, promoted={2}), "accuracy", 0.75, points[:1])
    assert same_window["detection"][0]["promotion_window"] is None


def test_comparison_checks_the_targets() -> None:
    policies = {
        "trigger": {"mean_metric": 0.76, "retrains": 20},
        "every_window": {"mean_metric": 0.78, "retrains": 100},
        "calendar": {"mean_metric": 0.74, "retrains": 20},
    }
    result = compare(policies)
    assert result["metric_ratio_vs_every_window"] == pytest.approx(0.76 / 0.78)
    assert result["meets_metric_target"] and result["meets_retrain_target"] and result["beats_calendar"]
    policies["trigger"] = {"mean_metric": 0.70, "retrains": 30}
    result = compare(policies)
    assert not result["meets_metric_target"] and not result["meets_retrain_target"] and not result["beats_calendar"]


def test_frontier_keeps_points_no_cheaper_point_beats() -> None:
    points = [
        {"name": "a", "retrains": 2, "mean_metric": 0.70},
        {"name": "b", "retrains": 5, "mean_metric": 0.68},
        {"name": "c", "retrains": 5, "mean_metric": 0.74},
        {"name": "d", "retrains": 9, "mean_metric": 0.74},
        {"name": "e", "retrains": 12, "mean_metric": 0.75},
        {"name": "f", "retrains": 1, "mean_metric": None},
    ]
    assert frontier(points) == ["a", "c", "e"]


def test_grid_points_are_valid_configs_and_include_the_configured_one(config: ModelConfig) -> None:
    points = grid(config)
    variants = [configured(config, p.overrides) for p in points]
    assert len(variants) == len({p.name for p in points})
    assert sum(is_configured(config, p) for p in points) == 1
    # a new user's retrain_on listed the signals in another order: their point was not recognised
    reordered = configured(config, {"trigger.retrain_on": list(reversed(config.trigger.retrain_on))})
    assert reordered.trigger.retrain_on != config.trigger.retrain_on
    assert sum(is_configured(reordered, p) for p in grid(reordered)) == 1
    assert all(v.training == config.training and v.gates == config.gates for v in variants)
    signals = {v.trigger.retrain_on for v in variants}
    assert signals == {(), ("drifted_features",), ("performance_slo",), ("drifted_features", "performance_slo")}
    assert {(v.trigger.datapoints_to_alarm, v.trigger.evaluation_periods) for v in variants} == {(2, 3), (1, 1)}
    slo_floors = {v.drift.performance_slo.min for v in variants if v.drift.performance_slo is not None}
    assert config.drift.performance_slo is not None and config.drift.performance_slo.min in slo_floors
    assert len(slo_floors) == 5


def test_an_invalid_override_fails_validation(config: ModelConfig) -> None:
    with pytest.raises(ConfigError, match="datapoints_to_alarm"):
        configured(config, {"trigger.datapoints_to_alarm": 9})


def test_window_at_maps_a_data_cut_to_its_window() -> None:
    all_windows = windows(5)
    assert window_at(all_windows, iso(all_windows[2].end), default=4) == 2
    assert window_at(all_windows, None, default=4) == 4


def page_document() -> dict[str, Any]:
    summary = summarize(run([0.9, 0.7], retrains={1}), "accuracy", 0.75, [])
    summary["timeline"] = [r.to_json() for r in run([0.9, 0.7], retrains={1}).records]
    return {
        "model": "m",
        "data": {
            "source": "h.csv",
            "rows": 35,
            "unused_tail_rows": 5,
            "windows": 3,
            "window_rows": 10,
            "window_span": None,
            "rows_per_window": {"min": 10, "max": 10},
            "warmup_windows": 1,
            "replayed_windows": 2,
            "first": "a",
            "last": "b",
        },
        "metric": "accuracy",
        "slo": {"metric": "accuracy", "min": 0.75},
        "drift_points": [],
        "policies": {"trigger": summary},
        "comparison": {},
        "notes": ["a note"],
    }


def test_the_detection_delay_reads_as_windows_not_as_a_metric() -> None:
    """A new user's table printed a delay of 4 windows as "4.0000", like the metrics beside it."""
    document = page_document()
    rows = {2.0: "2", 2.5: "2.5", 4 / 3: "1.33", None: None}
    for mean, shown in rows.items():
        document["policies"]["trigger"]["mean_detection_delay_windows"] = mean
        assert policy_rows(document)[0][-1] == shown


def test_html_has_the_policy_table_and_the_metric_chart() -> None:
    page = render(page_document())
    assert page.count("data:image/png;base64,") == 1
    assert "<td>trigger</td><td>1</td>" in page and "a note" in page


def test_the_page_counts_the_rows_it_replays_not_the_tail_no_window_holds() -> None:
    """A new user's header said 35 rows in 3 windows of 10: the 5 after the last window were
    counted as replayed."""
    page = render(page_document())
    assert "30 rows of h.csv in 3 windows (1 warm-up, 2 replayed) of 10 rows, a to b; the last 5 rows fill no " in page
    document = page_document()
    document["data"] |= {"window_rows": None, "window_span": "1 day", "rows_per_window": {"min": 8, "max": 12}}
    assert "replayed) of 1 day (8 to 12 rows), a to b" in render(document)


def test_the_charts_legend_sits_outside_the_lines_it_names() -> None:
    """A new user's elec2 chart had its legend drawn over the lines in the lower left."""
    figure = metric_figure(page_document())
    FigureCanvasAgg(figure).draw()
    top = figure.axes[0]
    legend = top.get_legend()
    assert legend is not None and len(legend.get_texts()) == 2  # the trigger and the SLO
    assert legend.get_window_extent().y0 >= top.get_window_extent().y1  # above the plotting area


def test_every_policy_has_its_own_colour_in_the_line_and_the_lanes() -> None:
    """A new user's --per-signal chart drew two policies in green and two in blue, and a signal's
    line in one colour with its run marks in another."""
    document = page_document()
    trigger = document["policies"]["trigger"]
    document["policies"] |= {f"trigger:{s}": trigger for s in ("drifted_features", "performance_slo", "label_drift")}
    document["policies"] |= {name: trigger for name in ("never", "calendar", "every_window")}
    figure = metric_figure(document)
    lines = {line.get_label().split(" (")[0]: line.get_color() for line in figure.axes[0].get_lines()}
    lines.pop("SLO")
    assert len(set(lines.values())) == len(lines) == 7
    lanes = figure.axes[1]
    names = [t.get_text() for t in lanes.get_yticklabels()]
    marked = [c for c in lanes.collections if len(c.get_offsets())]
    assert marked
    for collection in marked:
        row = int(collection.get_offsets()[0][1])
        colours = collection.get_facecolor() if len(collection.get_facecolor()) else collection.get_edgecolor()
        assert to_hex(colours[0]) == to_hex(lines[names[row]])


def test_the_policy_table_counts_the_runs_that_failed() -> None:
    """A new user's calendar made 128 runs and promoted none: every run failed its data check, and
    the table had no column to say so (the docs said it had)."""
    failing = run([0.9, 0.8, 0.7], retrains={1, 2, 3})
    records = tuple(replace(r, outcome="data_validation_failed") if r.window in (1, 3) else r for r in failing.records)
    summary = summarize(PolicyRun("calendar", records, failing.facts), "accuracy", None, [])
    assert summary["failed_runs"] == {"data_validation_failed": 2}
    assert policy_rows({"drift_points": []}, {"calendar": summary})[0][1:4] == [3, 0, 2]
    assert POLICY_HEADER[3] == "failed"


def test_the_console_gives_the_recommended_points_runs_and_mean_and_says_a_holdout_part() -> None:
    """A new user's console named the recommended point without what it scored, and a held-out
    replay's first line read as the whole file."""
    document = page_document()
    document["sweep"] = {
        "retrain_budget": 2,
        "recommended": "p1",
        "points": [{"name": "p1", "retrains": 2, "mean_metric": 0.81}],
    }
    table = text_table(document)
    assert "sweep: recommended within 2 runs (a quarter of the 2 replayed windows): p1 (2 runs, mean 0.8100)" in table
    assert table.startswith("30 rows of h.csv")
    tuning = {"rows": 10, "first": "a", "last": "b", "recommended": "p1", "overrides": {}}
    tuning |= {"in_sample": {"retrains": 2, "mean_metric": 0.8}, "as_configured": {"retrains": 1, "mean_metric": 0.7}}
    document["holdout"] = {"fraction": 0.5, "tuning": tuning, "held_out": {"rows": 30, "first": "c", "last": "d"}}
    assert "held out: 30 rows of h.csv" in text_table(document)
