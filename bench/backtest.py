"""Benchmark: does drift-triggered retraining beat the calendar, and at what cost?

    python bench/backtest.py [--out out/bench/backtest] [--skip-elec2] [--skip-generated] [--sweep]

Two histories, each replayed by `python -m pipelines backtest`'s code with four policies (never,
calendar with as many runs as the trigger policy, trigger, every window):
- elec2: ../shared/data/elec2.csv through configs/elec2.yaml (skipped when the file is absent);
- generated: fraud-like transactions from pipelines/datagen.py through configs/fraud-detector.yaml,
  with known drift points (covariate shift, back to normal, then concept drift).
Targets (issue 8): the trigger policy reaches >= 95% of the every-window policy's mean metric with
<= 25% of its runs, and beats the calendar policy with the same number of runs. The table says
which target each history meets; JSON and HTML reports go to --out.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.backtest.command import text_table, throttled  # noqa: E402
from pipelines.backtest.history import History, load_history, prepare_history  # noqa: E402
from pipelines.backtest.report import write_html, write_json  # noqa: E402
from pipelines.backtest.run import BacktestSettings, run_backtest  # noqa: E402
from pipelines.backtest.streams import Segment, drifting_stream  # noqa: E402
from pipelines.config import FilesSource, load_config  # noqa: E402

ELEC2_CONFIG = ROOT / "configs" / "elec2.yaml"
FRAUD_CONFIG = ROOT / "configs" / "fraud-detector.yaml"
ELEC2_START = "1996-05-07"  # the first half-hour of the Elec2 stream
ELEC2_WINDOW = 336  # one week of half-hours
GENERATED_SEGMENTS = (Segment("none", 60), Segment("covariate", 40), Segment("none", 30), Segment("concept", 40))
GENERATED_ROWS_PER_DAY = 1_000
GENERATED_WINDOW = 3_000  # three days


def elec2() -> tuple[History, BacktestSettings] | None:
    config = load_config(ELEC2_CONFIG)
    assert isinstance(config.data.fresh, FilesSource)
    path = config.local_path(config.data.fresh.uri)
    if not path.exists():
        print(f"elec2: skipped ({path} not found)", file=sys.stderr)
        return None
    history = load_history(path, config, row_interval="30min", start=ELEC2_START)
    return history, BacktestSettings(window_rows=ELEC2_WINDOW)


def generated() -> tuple[History, BacktestSettings]:
    frame, drift_points = drifting_stream(GENERATED_SEGMENTS, rows_per_day=GENERATED_ROWS_PER_DAY)
    history = prepare_history(frame, load_config(FRAUD_CONFIG), source="generated (datagen)")
    return history, BacktestSettings(window_rows=GENERATED_WINDOW, drift_times=tuple(drift_points))


def targets(document: dict[str, Any]) -> str:
    comparison = document["comparison"]
    checks = [
        ("metric >= 95% of every-window", comparison["meets_metric_target"]),
        ("runs <= 25% of every-window", comparison["meets_retrain_target"]),
        ("beats calendar at equal runs", comparison.get("beats_calendar", False)),
    ]
    return "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "out" / "bench" / "backtest"))
    parser.add_argument("--skip-elec2", action="store_true")
    parser.add_argument("--skip-generated", action="store_true")
    parser.add_argument("--sweep", action="store_true", help="also sweep the trigger thresholds (slower)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    cases = {}
    if not args.skip_elec2 and (found := elec2()) is not None:
        cases["elec2"] = found
    if not args.skip_generated:
        cases["generated"] = generated()
    for name, (history, settings) in cases.items():
        settings = replace(settings, sweep=args.sweep)
        started = time.monotonic()
        document = run_backtest(history, settings, progress=throttled(sys.stderr, every_seconds=10))
        write_json(document, out / f"{name}.json")
        write_html(document, out / f"{name}.html")
        data = document["data"]
        seconds, trainings = time.monotonic() - started, document["runtime"]["trainings"]
        print(
            f"\n== {name}: {data['rows']:,} rows, {data['replayed_windows']} windows of {data['window_rows']} rows, "
            f"metric {document['metric']} ({seconds:.0f} s, {trainings} trainings)"
        )
        print(text_table(document))
        print(f"targets: {targets(document)}")
    print(f"\nreports in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
