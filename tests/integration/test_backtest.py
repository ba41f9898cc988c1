"""The backtest end to end on small generated streams: policies, JSON, HTML and the CLI.

A small config (logistic regression, one-day windows of 1,500 rows, 10% positives) keeps each
replay to a few seconds; the code path is the one `python -m pipelines backtest` runs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from pipelines.backtest.history import BacktestInputError, prepare_history
from pipelines.backtest.run import POLICY_ORDER, BacktestSettings, run_backtest, run_holdout
from pipelines.backtest.streams import Segment, drifting_stream
from pipelines.backtest.sweep import configured
from pipelines.cli import main
from pipelines.config import ModelConfig, parse_config
from pipelines.monitoring.alarms import alarm_specs

ROWS_PER_DAY = 1_500
FEATURES = [
    {"name": "amount", "type": "numeric", "min": 0},
    {"name": "merchant_category", "type": "categorical"},
    {"name": "hour_of_day", "type": "numeric", "min": 0, "max": 23},
    {"name": "account_age_days", "type": "numeric", "min": 0},
    {"name": "distance_from_home_km", "type": "numeric", "min": 0},
    {"name": "txn_count_24h", "type": "numeric", "min": 0},
    {"name": "card_present", "type": "numeric", "min": 0, "max": 1},
    {"name": "device_trust", "type": "numeric", "min": 0, "max": 1},
    {"name": "risk_band", "type": "categorical"},
]
RAW_CONFIG: dict[str, Any] = {
    "model": {
        "name": "small-fraud",
        "problem_type": "binary_classification",
        "label": "is_fraud",
        "positive_class": 1,
        "id_column": "transaction_id",
        "time_column": "event_time",
        "features": FEATURES,
    },
    "data": {
        "fresh": {"kind": "files", "uri": "history.parquet", "format": "parquet"},
        "window": {"strategy": "rolling", "fresh_days": 2, "history_days": 4},
        "checks": {"min_rows": 500, "label_rate": [0.01, 0.5]},
    },
    "training": {"estimator": "logistic_regression", "hyperparameters": {"max_iter": 300}},
    "gates": {
        "metrics": [{"metric": "roc_auc", "min": 0.6}],
        "champion": {"metric": "roc_auc", "max_regression": 0.05},
    },
    "registry": {"model_package_group": "small-fraud", "approval": "auto"},
    "drift": {
        "min_drifted_features": 3,  # two features cross a threshold by chance on a calm stream (window 8)
        "min_labels_for_performance": 200,
        "performance_slo": {"metric": "roc_auc", "min": 0.8},
        "schedule": "rate(1 day)",
    },
    "trigger": {"cooldown_hours": 0, "evaluation_periods": 1, "datapoints_to_alarm": 1},
    "promotion": {
        "shadow": {
            "metric": "roc_auc",
            "min_labels": 200,
            "min_duration_hours": 1,
            "offline_tolerance": 0.1,
            "champion_margin": 0.05,
        }
    },
}


@pytest.fixture(scope="module")
def small_config() -> ModelConfig:
    return parse_config(RAW_CONFIG)


def stream(*segments: Segment) -> tuple[pd.DataFrame, list[datetime]]:
    return drifting_stream(segments, rows_per_day=ROWS_PER_DAY, fraud_rate=0.1)


@pytest.fixture(scope="module")
def drifted(small_config: ModelConfig) -> dict[str, Any]:
    """Five calm days, then a covariate shift for five days (drift point at the start of day 6)."""
    frame, points = stream(Segment("none", 5), Segment("covariate", 5))
    settings = BacktestSettings(window=ROWS_PER_DAY, drift_times=tuple(points))
    return run_backtest(prepare_history(frame, small_config), settings)


@pytest.fixture(scope="module")
def calm(small_config: ModelConfig) -> dict[str, Any]:
    frame, _ = stream(Segment("none", 12))
    return run_backtest(prepare_history(frame, small_config), BacktestSettings(window=ROWS_PER_DAY, calendar_every=3))


def test_trigger_retrains_after_the_drift_point_and_not_before(drifted: dict[str, Any]) -> None:
    trigger = drifted["policies"]["trigger"]
    drift_window = drifted["drift_points"][0]["window"]
    assert drift_window == 5
    assert trigger["retrains"] >= 1
    assert min(trigger["retrain_windows"]) >= drift_window
    assert trigger["retrains_before_first_drift"] == 0
    assert trigger["detection"][0]["delay_windows"] == 0  # a run at the end of the drifted window
    assert trigger["gate_decisions"]["started"] == trigger["retrains"]


def test_retrained_model_serves_after_its_shadow_window(drifted: dict[str, Any]) -> None:
    timeline = drifted["policies"]["trigger"]["timeline"]
    by_window = {r["window"]: r for r in timeline}
    first_run = drifted["policies"]["trigger"]["retrain_windows"][0]
    assert by_window[first_run]["outcome"] == "shadow"
    assert by_window[first_run + 1]["shadow"] == "promote"
    assert by_window[first_run + 1]["production"] == timeline[0]["production"]  # the first model still serves
    assert by_window[first_run + 2]["production"] == f"w{first_run}"


def test_retraining_after_the_drift_beats_never_retraining(drifted: dict[str, Any]) -> None:
    policies = drifted["policies"]
    assert policies["never"]["retrains"] == 0
    assert policies["every_window"]["retrains"] == drifted["data"]["replayed_windows"] - 1
    assert policies["trigger"]["mean_metric"] > policies["never"]["mean_metric"]
    assert policies["every_window"]["mean_metric"] >= policies["never"]["mean_metric"]


def test_trigger_never_retrains_on_a_stream_without_drift(calm: dict[str, Any]) -> None:
    assert calm["policies"]["trigger"]["retrains"] == 0
    assert calm["policies"]["trigger"]["gate_decisions"].get("started", 0) == 0


def test_calendar_retrains_exactly_every_k_windows(calm: dict[str, Any]) -> None:
    calendar = calm["policies"]["calendar"]
    replayed = [r["window"] for r in calendar["timeline"]]
    assert calendar["every"] == 3
    assert calendar["retrain_windows"] == [replayed[2], replayed[5], replayed[8]]  # not after the last (9)
    phases = calm["comparison"]["calendar_phases"]
    assert phases["every"] == 3 and phases["retrains"] == [3, 3, 3]  # the same schedule, started 0, 1, 2 earlier
    assert phases["trigger_beats"] is not None and len(phases["mean_metric"]) == 3


def test_document_holds_every_policy_with_its_numbers(drifted: dict[str, Any]) -> None:
    assert tuple(drifted["policies"]) == POLICY_ORDER
    for summary in drifted["policies"].values():
        assert isinstance(summary["retrains"], int)
        assert 0.5 < summary["mean_metric"] <= 1.0
        assert summary["worst_metric"] <= summary["mean_metric"]
        assert len(summary["timeline"]) == drifted["data"]["replayed_windows"]
    assert drifted["metric"] == "roc_auc"
    assert drifted["comparison"]["calendar_retrains"] == drifted["policies"]["calendar"]["retrains"]
    json.dumps(drifted, allow_nan=False)


def test_alarms_are_rearmed_by_default_and_no_rearm_replays_the_old_behaviour(
    drifted: dict[str, Any], small_config: ModelConfig
) -> None:
    frame, points = stream(Segment("none", 5), Segment("covariate", 5))
    settings = BacktestSettings(window=ROWS_PER_DAY, drift_times=tuple(points), rearm=False)
    never_rearmed = run_backtest(prepare_history(frame, small_config), settings)["policies"]["trigger"]
    rearmed = drifted["policies"]["trigger"]
    assert "re-armed after each promotion and shadow rejection" in rearmed["description"]
    assert "never re-armed" in never_rearmed["description"]
    assert rearmed["retrains"] >= never_rearmed["retrains"]
    assert min(rearmed["retrain_windows"]) >= drifted["drift_points"][0]["window"]
    assert "proposal" not in drifted


# --------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("backtest")
    frame, _ = stream(Segment("none", 3), Segment("covariate", 3))
    (folder / "config.yaml").write_text(yaml.safe_dump(RAW_CONFIG))
    frame.to_parquet(folder / "history.parquet", index=False)
    frame.drop(columns="is_fraud").to_csv(folder / "no-label.csv", index=False)
    frame.iloc[::-1].to_parquet(folder / "reversed.parquet", index=False)
    return {"folder": folder, "config": folder / "config.yaml", "history": folder / "history.parquet"}


def test_cli_writes_json_and_html(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out = files["folder"]
    code = main(
        [
            "backtest",
            str(files["config"]),
            "--data",
            str(files["history"]),
            "--window",
            str(ROWS_PER_DAY),
            "--drift-point",
            "2026-01-04T00:00:00Z",
            "--json",
            str(out / "report.json"),
            "--html",
            str(out / "report.html"),
            "--label-delay",
            "1",
            "--per-signal",
        ]
    )
    assert code == 0
    document = json.loads((out / "report.json").read_text())
    for name in ("never", "calendar", "trigger", "every_window", "trigger:drifted_features"):
        assert {"retrains", "mean_metric"} <= set(document["policies"][name])
    assert document["label_delay_windows"] == 1
    assert document["drift_points"] == [{"time": "2026-01-04T00:00:00Z", "window": 3}]
    assert "data:image/png;base64," in (out / "report.html").read_text()
    printed = capsys.readouterr().out
    assert "every_window" in printed and "trigger vs every window" in printed


@pytest.mark.parametrize(
    ("data", "window", "message"),
    [
        ("no-label.csv", ROWS_PER_DAY, "label column 'is_fraud' (model.label) is missing"),
        ("reversed.parquet", ROWS_PER_DAY, "rows are not in time order"),
        ("history.parquet", 5_000, "too few for 1 warm-up window(s) and one window to replay"),
        ("absent.parquet", ROWS_PER_DAY, "no such file"),
    ],
)
def test_cli_refuses_bad_input_with_exit_2(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], data: str, window: int, message: str
) -> None:
    history = files["folder"] / data
    code = main(["backtest", str(files["config"]), "--data", str(history), "--window", str(window)])
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("point", "where"), [("2027-01-05T00:00:00Z", "after"), ("2025-12-01T00:00:00Z", "before")])
def test_a_drift_point_outside_the_replay_is_refused_not_dropped(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], point: str, where: str
) -> None:
    """A new user typed the wrong year: the point was left out and "drifts caught 0/0" said
    nothing about it."""
    args = ["backtest", str(files["config"]), "--data", str(files["history"]), "--window", str(ROWS_PER_DAY)]
    assert main([*args, "--drift-point", point]) == 2
    error = capsys.readouterr().err
    assert f"--drift-point {point} is {where} the history (2026-01-01" in error  # and the range to use


def test_windows_of_a_day_follow_the_calendar_when_the_daily_volume_varies(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A new user's traffic was a third as heavy at weekends, and a daily monitor stands for a
    day whatever its volume: with `--window 1D` each window is one calendar day."""
    frame = pd.read_parquet(files["history"])
    day = pd.to_datetime(frame["event_time"]).dt.floor("D")
    quiet = frame[(day.dt.day_of_week < 5) | (frame.index % 3 == 0)]
    quiet = quiet[day[quiet.index] != day.iloc[0] + pd.Timedelta(days=4)].reset_index(drop=True)  # a day without any
    history, out = files["folder"] / "weekends.parquet", files["folder"] / "weekends.json"
    quiet.to_parquet(history, index=False)
    args = ["backtest", str(files["config"]), "--data", str(history), "--window", "1D", "--json", str(out)]
    assert main(args) == 0
    document = json.loads(out.read_text())
    days = pd.to_datetime(quiet["event_time"]).dt.floor("D").value_counts().sort_index()
    assert document["data"]["window_span"] == "1 day" and document["data"]["window_rows"] is None
    assert document["data"]["windows"] == len(days) and document["data"]["unused_tail_rows"] == 0
    timeline = document["policies"]["never"]["timeline"]
    replayed = days.index[document["data"]["warmup_windows"] :]
    assert [r["start"][:10] for r in timeline] == [d.strftime("%Y-%m-%d") for d in replayed]
    assert all(r["start"][:10] == r["end"][:10] for r in timeline)
    console = capsys.readouterr().out
    assert f"replayed) of 1 day ({days.min():,} to {days.max():,} rows)" in console
    assert "note: 1 span of 1 day between the first window and the last held no row" in console


@pytest.mark.parametrize("window", ["1M", "fortnight", "0D", "2 rows"])
def test_a_window_that_is_neither_rows_nor_a_span_of_time_is_refused(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], window: str
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["backtest", str(files["config"]), "--data", str(files["history"]), "--window", window])
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert f"--window takes rows (1000) or a span of time (1D, 6h, 30min), got {window!r}" in error


def test_the_backtests_help_gives_the_window_and_warmup_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    """A new user could not tell from `backtest --help` how many rows a window had, nor how many
    windows trained the first model."""
    with pytest.raises(SystemExit):
        main(["backtest", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "rows per window, or a span of time (1D: one window per calendar day in UTC, 6h, 30min)" in text
    assert "one window is one monitor run (default: 1000 rows)" in text
    assert "default: the windows that span data.window.fresh_days, at most half of them" in text


def test_rows_the_replay_leaves_out_or_cannot_score_are_said_on_the_console(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A new user's last 600 rows fell in no whole window and their newest labels were empty; the
    console said neither (the JSON's `unused_tail_rows` alone did), and a drift point in those rows
    was refused as "after the history"."""
    frame = pd.read_parquet(files["history"])
    frame = frame.assign(is_fraud=frame["is_fraud"].astype("float64"))
    frame.loc[frame.index[-(ROWS_PER_DAY + 300) : -ROWS_PER_DAY], "is_fraud"] = float("nan")
    extra = frame.tail(ROWS_PER_DAY // 2)  # half a window more: a tail no window holds
    history = files["folder"] / "tail.parquet"
    pd.concat([frame, extra.assign(event_time=extra["event_time"] + pd.Timedelta(days=1))]).to_parquet(history)
    out = files["folder"] / "tail.json"
    args = ["backtest", str(files["config"]), "--data", str(history), "--window", str(ROWS_PER_DAY)]
    assert main([*args, "--json", str(out)]) == 0
    console = capsys.readouterr().out
    tail = ROWS_PER_DAY // 2
    assert f"note: the last {tail:,} rows" in console and "fill no whole window" in console
    assert "note: 300 rows (" in console and "have no label" in console
    document = json.loads(out.read_text())
    assert any(n.startswith(f"the last {tail:,} rows") for n in document["notes"])
    # the method's fixed assumptions are in the report, not repeated on the console of every run
    assert "shadow latency and error rate are not simulated (taken as 0)" in document["assumptions"]
    assert "not simulated" not in console and "one window = one monitor run" not in console


def test_a_holdout_whose_tuning_rows_start_no_run_says_its_recommendation_is_no_choice(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A new user's only drift fell in the held-out half: the recommended point made 0 runs on the
    tuning half, as every alarm-only point did, and was "recommended" without a word. The tuning
    rows' own notes (here half a window at their end that no window replays) were dropped too."""
    frame, _ = stream(Segment("none", 6), Segment("covariate", 4))
    history = files["folder"] / "late-drift.parquet"
    frame.to_parquet(history, index=False)
    args = ["backtest", str(files["config"]), "--data", str(history), "--window", str(ROWS_PER_DAY)]
    assert main([*args, "--holdout", "0.35"]) == 0  # the tuning rows: 6 windows and 750 rows
    console = capsys.readouterr().out
    assert (
        "note: warning: the recommended point started no run on the tuning rows: there it did what never "
        "retraining does" in console
    )
    assert "note: on the tuning rows: the last 750 rows (from 2026-01-07T00:00:46Z) fill no whole window" in console
    assert "windows < SLO count against the tuned point's objective" in console


def test_a_drift_point_in_the_warm_up_is_counted_and_said(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A new user's drift point in the warm-up was counted from the first replayed window without
    a word; the first model had trained on both sides of it."""
    args = ["backtest", str(files["config"]), "--data", str(files["history"]), "--window", str(ROWS_PER_DAY)]
    assert main([*args, "--warmup", "2", "--drift-point", "2026-01-01T12:00:00Z"]) == 0
    assert (
        "note: --drift-point 2026-01-01T12:00:00Z falls in the warm-up (windows 0 to 1): the first model may have "
        "trained on rows after it, and it counts for the first replayed window (2)"
    ) in capsys.readouterr().out


def test_cli_reports_a_bad_config_field(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    bad = files["folder"] / "bad.yaml"
    bad.write_text(yaml.safe_dump({**RAW_CONFIG, "trigger": {"cooldown_hours": -1}}))
    assert main(["backtest", str(bad), "--data", str(files["history"])]) == 2
    assert "trigger.cooldown_hours" in capsys.readouterr().err


def test_holdout_tunes_on_the_earlier_rows_and_replays_the_recommended_point_on_the_rest(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = files["folder"] / "holdout.json"
    frame, _ = stream(Segment("none", 4), Segment("covariate", 2), Segment("none", 2), Segment("covariate", 4))
    history = files["folder"] / "long.parquet"
    frame.to_parquet(history, index=False)
    args = ["backtest", str(files["config"]), "--data", str(history), "--window", str(ROWS_PER_DAY), "--json", str(out)]
    args += ["--drift-point", "2026-01-05T00:00:00Z", "--drift-point", "2026-01-09T00:00:00Z"]
    page = files["folder"] / "holdout.html"

    assert main([*args, "--holdout", "0.5", "--html", str(page)]) == 0

    document = json.loads(out.read_text())
    holdout, tuning = document["holdout"], document["holdout"]["tuning"]
    assert tuning["rows"] == len(frame) // 2 and document["data"]["rows"] == len(frame) - len(frame) // 2
    assert tuning["last"] < document["data"]["first"]  # the sweep never saw a held-out row
    assert "sweep" not in document and holdout["held_out"]["rows"] == document["data"]["rows"]
    # the tuning part's sweep is kept whole (a new user found only its recommendation)
    assert tuning["sweep"]["recommended"] == tuning["recommended"] and len(tuning["sweep"]["points"]) > 1
    assert holdout["held_out"]["last"] == document["data"]["last"]
    assert [p["time"] for p in document["drift_points"]] == ["2026-01-09T00:00:00Z"]  # the tuning half's stays there
    # the held-out trigger policy is the recommended point, not the config as written
    chosen = configured(parse_config(RAW_CONFIG), tuning["overrides"])
    expected = [spec.name for spec in alarm_specs(chosen) if spec.triggers_retraining]
    assert document["policies"]["trigger"]["alarms"] == expected
    assert set(document["policies"]) == set(POLICY_ORDER)
    assert f"tuned on the first {tuning['rows']:,} rows" in capsys.readouterr().out
    assert f"The sweep ran on the first {tuning['rows']:,} rows" in page.read_text()

    assert main([*args, "--holdout", "1.5"]) == 2
    assert "--holdout must be a fraction between 0 and 1" in capsys.readouterr().err


def test_a_holdout_over_spans_of_time_cuts_at_a_span_boundary(files: dict[str, Path]) -> None:
    """A reviewer's `--window 1D --holdout 0.45` cut a day in two: the tuning part's last half-day
    was replayed in neither part, and the held-out part began with a half-day window."""
    frame, _ = stream(Segment("none", 5), Segment("covariate", 5))
    history = prepare_history(frame, parse_config(RAW_CONFIG))
    settings = BacktestSettings(window=timedelta(days=1))
    document = run_holdout(history, settings, 0.45)
    tuning = document["holdout"]["tuning"]
    first_held_out = pd.Timestamp(document["data"]["first"])
    assert first_held_out.floor("D") == pd.Timestamp(tuning["last"]).floor("D") + pd.Timedelta(days=1)
    assert document["data"]["rows_per_window"]["min"] > ROWS_PER_DAY * 0.9  # no half-day window
    assert not any("fill no whole window" in note for note in document["notes"])
    assert tuning["rows"] == int(
        (pd.to_datetime(frame["event_time"]) < first_held_out.tz_localize(None).floor("D")).sum()
    )


def test_a_drift_point_the_tuning_rows_cannot_replay_is_refused_naming_them() -> None:
    """A new user's drift point fell in the tuning part's last, partial window; the error said it
    was "after the history" and gave the tuning part's range as if it were the file's."""
    frame, _ = stream(Segment("none", 6), Segment("covariate", 4))
    history = prepare_history(frame, parse_config(RAW_CONFIG))
    point = datetime(2026, 1, 7, 6, tzinfo=UTC)  # in the tuning rows' last half day, which no window holds
    settings = BacktestSettings(window=ROWS_PER_DAY, drift_times=(point,))
    with pytest.raises(
        BacktestInputError, match=r"^on the tuning rows \(the first 9,750 of 15,000, before 2026-01-07T"
    ):
        run_holdout(history, settings, 0.35)


def test_an_error_on_the_held_out_rows_names_them() -> None:
    frame, _ = stream(Segment("none", 8), Segment("covariate", 2))
    history = prepare_history(frame, parse_config(RAW_CONFIG))
    with pytest.raises(BacktestInputError, match=r"^on the held-out rows \(the last 3,000 of 15,000, from 2026-01-09T"):
        run_holdout(history, BacktestSettings(window=ROWS_PER_DAY, warmup=2), 0.2)
