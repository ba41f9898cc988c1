"""Benchmark: does drift-triggered retraining beat the calendar, and at what cost?

    python bench/backtest.py [--out out/bench/backtest] [--skip-elec2] [--skip-holdout]
                             [--skip-generated] [--seeds 5] [--jobs 2] [--sweep]

Each history is replayed by `python -m pipelines backtest`'s code with four policies (never,
calendar with as many runs as the trigger policy, trigger, every window):
- elec2: ../shared/data/elec2.csv through configs/elec2.yaml (skipped when the file is absent);
  its config was chosen with --sweep on all of it, so `elec2-holdout` also checks the choice on
  unseen data: the sweep runs on the first half, its recommended point replays the second half;
- generated: fraud-like transactions from pipelines/simulation/datagen.py through the example config
  configs/fraud-detector.yaml as it is (nothing tuned on these streams), one stream per seed.
  Known drift points: 90 stationary days (the first 60 train the first model, as the history a
  deployment starts with), a covariate shift for 40 days, back to normal for 30, then card testing
  for 40 (a new fraud pattern that a retrained model can learn and the old one misses).
  One stream is a sample: per-window PR-AUC on about 60 frauds moves by several points, so the
  verdict is the mean over `--seeds` streams, with every stream's row shown.
Targets (issue 8): the trigger policy reaches >= 95% of the every-window policy's mean metric with
<= 25% of its runs, and beats the calendar policy with the same number of runs. The table says
which target each history meets; JSON and HTML reports go to --out.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.backtest.command import text_table, throttled  # noqa: E402
from pipelines.backtest.history import History, load_history, prepare_history  # noqa: E402
from pipelines.backtest.report import write_html  # noqa: E402
from pipelines.backtest.run import BacktestSettings, run_backtest, run_holdout  # noqa: E402
from pipelines.backtest.streams import Segment, drifting_stream  # noqa: E402
from pipelines.config import FilesSource, load_config  # noqa: E402
from pipelines.local.files import write_json  # noqa: E402

ELEC2_CONFIG = ROOT / "configs" / "elec2.yaml"
FRAUD_CONFIG = ROOT / "configs" / "fraud-detector.yaml"
ELEC2_START = "1996-05-07"  # the first half-hour of the Elec2 stream
ELEC2_WINDOW = 336  # one week of half-hours
GENERATED_SEGMENTS = (
    Segment("none", 90),
    Segment("covariate", 40),
    Segment("none", 30),
    Segment("card_testing", 40),
)
GENERATED_ROWS_PER_DAY = 1_000
GENERATED_WINDOW = 3_000  # three days
GENERATED_WARMUP = 20  # windows (60 days) that train the first model
GENERATED_SEEDS = (7, 11, 23, 37, 51, 64, 78, 91)
HOLDOUT = 0.5  # elec2-holdout: the share of the rows held out from the sweep


def elec2_path() -> Path:
    config = load_config(ELEC2_CONFIG)
    assert isinstance(config.data.fresh, FilesSource)
    return config.local_path(config.data.fresh.uri)


def elec2() -> tuple[History, BacktestSettings]:
    history = load_history(elec2_path(), load_config(ELEC2_CONFIG), row_interval="30min", start=ELEC2_START)
    return history, BacktestSettings(window=ELEC2_WINDOW)


def generated(seed: int) -> tuple[History, BacktestSettings]:
    frame, drift_points = drifting_stream(GENERATED_SEGMENTS, rows_per_day=GENERATED_ROWS_PER_DAY, seed=seed)
    history = prepare_history(frame, load_config(FRAUD_CONFIG), source=f"generated (datagen, seed {seed})")
    settings = BacktestSettings(window=GENERATED_WINDOW, warmup=GENERATED_WARMUP, drift_times=tuple(drift_points))
    return history, settings


def targets(document: dict[str, Any]) -> str:
    comparison = document["comparison"]
    checks = [
        ("metric >= 95% of every-window", comparison["meets_metric_target"]),
        ("runs <= 25% of every-window", comparison["meets_retrain_target"]),
        ("beats calendar at equal runs", comparison.get("beats_calendar", False)),
    ]
    return "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in checks)


def replay_case(name: str, seed: int | None, sweep: bool, out: Path) -> tuple[str, dict[str, Any], float]:
    """One history replayed and reported (runs in a worker process)."""
    history, settings = elec2() if seed is None else generated(seed)
    started = time.monotonic()
    progress = throttled(sys.stderr, every_seconds=20, prefix=name)
    if name.endswith("-holdout"):
        document = run_holdout(history, settings, HOLDOUT, progress=progress)
    else:
        document = run_backtest(history, replace(settings, sweep=sweep), progress=progress)
    write_json(document, out / f"{name}.json")
    write_html(document, out / f"{name}.html")
    return name, document, time.monotonic() - started


def show(name: str, document: dict[str, Any], seconds: float) -> None:
    data = document["data"]
    print(
        f"\n== {name}: {data['rows']:,} rows, {data['replayed_windows']} windows of {data['window_rows']} rows, "
        f"metric {document['metric']} ({seconds:.0f} s, {document['runtime']['trainings']} trainings)"
    )
    print(text_table(document))
    print(f"targets: {targets(document)}")


def across_seeds(documents: dict[str, dict[str, Any]]) -> str:
    """One row per generated stream and their mean: the trigger against the matched calendar (and
    the average of its phases) and against every window."""
    header = ("stream", "trigger runs", "trigger", "calendar", "phases avg", "every window", "vs every", "beats cal")
    rows: list[tuple[str, ...]] = [header]
    values: list[tuple[float, float, float, float, float]] = []
    for name, document in documents.items():
        policies, comparison = document["policies"], document["comparison"]
        phases = comparison["calendar_phases"]["average_mean_metric"]
        trigger, calendar, every = (policies[p]["mean_metric"] for p in ("trigger", "calendar", "every_window"))
        values.append((policies["trigger"]["retrains"], trigger, calendar, phases, every))
        rows.append(_row(name, values[-1]))
    mean = tuple(statistics.fmean(column) for column in zip(*values, strict=True))
    rows.append(_row(f"mean of {len(values)}", mean))  # type: ignore[arg-type]
    wins = sum(v[1] > v[2] for v in values)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    table = "\n".join("  ".join(c.rjust(widths[i]) if i else c.ljust(widths[i]) for i, c in enumerate(r)) for r in rows)
    ratio = mean[1] / mean[4]
    runs = statistics.fmean(v[0] for v in values) / statistics.fmean(
        d["policies"]["every_window"]["retrains"] for d in documents.values()
    )
    return (
        f"{table}\ntrigger beats the matched calendar on {wins} of {len(values)} streams; over the streams: "
        f"{ratio:.4f} of the every-window mean with {runs:.4f} of its runs, {mean[1] - mean[2]:+.4f} vs the "
        f"calendar, {mean[1] - mean[3]:+.4f} vs its phases' average"
    )


def _row(name: str, value: tuple[float, float, float, float, float]) -> tuple[str, ...]:
    runs, trigger, calendar, phases, every = value
    return (
        name,
        f"{runs:g}",
        f"{trigger:.4f}",
        f"{calendar:.4f}",
        f"{phases:.4f}",
        f"{every:.4f}",
        f"{trigger / every:.4f}",
        "yes" if trigger > calendar else "no",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "out" / "bench" / "backtest"))
    parser.add_argument("--skip-elec2", action="store_true")
    parser.add_argument("--skip-holdout", action="store_true", help="skip elec2's held-out check of its thresholds")
    parser.add_argument("--skip-generated", action="store_true")
    parser.add_argument("--seeds", type=int, default=5, help=f"generated streams (at most {len(GENERATED_SEEDS)})")
    parser.add_argument("--jobs", type=int, default=2, help="histories replayed at once (one process each)")
    parser.add_argument("--sweep", action="store_true", help="also sweep the trigger thresholds (slower)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    cases: list[tuple[str, int | None]] = []
    if not args.skip_elec2 and not elec2_path().exists():
        print(f"elec2: skipped ({elec2_path()} not found)", file=sys.stderr)
    elif not args.skip_elec2:
        cases.append(("elec2", None))
        if not args.skip_holdout:
            cases.append(("elec2-holdout", None))
    if not args.skip_generated:
        cases += [(f"generated-seed{seed}", seed) for seed in GENERATED_SEEDS[: max(args.seeds, 1)]]
    with ProcessPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        futures = [pool.submit(replay_case, name, seed, args.sweep, out) for name, seed in cases]
        results = [future.result() for future in futures]
    for name, document, seconds in results:
        show(name, document, seconds)
    streams = {name: document for name, document, _ in results if name.startswith("generated")}
    if streams:
        print(f"\n== generated streams, {GENERATED_SEGMENTS}\n{across_seeds(streams)}")
    print(f"\nreports in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
