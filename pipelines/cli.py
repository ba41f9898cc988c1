"""Command line: `python -m pipelines COMMAND ...`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipelines.errors import ConfigError, InputError, PipelinesError

EXIT_INVALID = 2


def _validate_config(args: argparse.Namespace) -> int:
    from pipelines.config import load_config, require_deployable

    config = load_config(args.config)
    if config.purpose == "deploy":
        from pipelines.definition.builder import artifacts
        from pipelines.local.workspace import require_local_command

        require_deployable(config)
        artifacts(config)  # the local files it names (edge cases, a script's source) exist
        require_local_command(config)
    print(json.dumps(config.model_dump(mode="json"), indent=2))
    if config.purpose == "backtest":
        print(
            f"{args.config}: valid for the backtest (purpose: backtest); definition, run-local and the CDK app "
            "refuse it",
            file=sys.stderr,
        )
    return 0


def _window_size(text: str) -> int | timedelta:
    """`--window`: a number of rows, or a span of time as pandas reads one (1D, 6h, 30min, 1W)."""
    if text.strip().isdigit():
        return int(text)
    import warnings

    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' deprecation of "d" and "H" for "D" and "h": both still read
        try:
            span = pd.Timedelta(text)
        except ValueError:
            span = None
    if span is None or pd.isna(span) or span <= pd.Timedelta(0):
        months = any(unit in text for unit in ("M", "Y", "y", "month", "year"))
        raise argparse.ArgumentTypeError(
            f"--window takes rows (1000) or a span of time (1D, 6h, 30min), got {text!r}"
            + ("; months and years vary in length: give days (30D)" if months else "")
        )
    return span.to_pytimedelta()


def _class(text: str | None) -> int | str | None:
    """A class given on the command line: a whole number as a number (labels 0/1), else text."""
    if text is None:
        return None
    return int(text) if text.strip().lstrip("-").isdigit() else text


def _write(text: str, out: str | None) -> int:
    """`text` to the file `out`, or to stdout without one."""
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text, encoding="utf-8")
        print(f"wrote {out} ({len(text):,} characters)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _definition(args: argparse.Namespace) -> int:
    from pipelines.config import load_config
    from pipelines.definition.builder import definition_json

    return _write(definition_json(load_config(args.config)), args.out)


def _config_reference(args: argparse.Namespace) -> int:
    from pipelines.reference import reference

    return _write(reference(), args.out)


def _generate_data(args: argparse.Namespace) -> int:
    from pipelines.simulation.datagen import StreamSpec, generate, scenario_parts
    from pipelines.simulation.tabular import DATASETS, tabular

    if args.dataset != "fraud":
        frame = tabular(DATASETS[args.dataset], rows=args.rows, days=args.days, seed=args.seed, start=args.start)
        return _write_table(frame, Path(args.out), f"{args.dataset}")
    try:
        scenario_parts(tuple(args.scenario))
    except ValueError as problem:
        print(f"generate-data: {problem}", file=sys.stderr)
        return 2
    spec = StreamSpec(
        rows=args.rows,
        start=args.start,
        days=args.days,
        seed=args.seed,
        fraud_rate=args.fraud_rate,
        scenario=tuple(args.scenario),
        drift_start=args.drift_start,
    )
    frame = generate(spec)
    return _write_table(frame, Path(args.out), f"fraud rate {frame['is_fraud'].mean():.4f}")


def _write_table(frame: Any, out: Path, what: str) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
    print(f"wrote {len(frame):,} rows to {out} ({what})", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from pipelines.simulation.demo import DemoSize
    from pipelines.simulation.demo import main as demo

    return demo(Path(args.out), DemoSize(history_rows=args.history_rows, daily_requests=args.daily_requests))


def _run_local(args: argparse.Namespace) -> int:
    from pipelines.config import load_config, require_deployable
    from pipelines.local import record
    from pipelines.local.parameters import parse_overrides
    from pipelines.local.workspace import Workspace

    config = load_config(args.config)
    require_deployable(config)
    workspace = Workspace(config, Path(args.workdir or f"out/local/{config.model.name}"))
    definition = json.loads(Path(args.definition).read_text(encoding="utf-8")) if args.definition else None
    print(f"running {config.model.name} locally in {workspace.root}", file=sys.stderr)
    execution = workspace.run(parse_overrides(args.param), definition, echo=lambda line: print(line, file=sys.stderr))
    document = record.summary(execution)
    print(record.render(document))
    print(f"execution record: {execution.folder}", file=sys.stderr)
    if execution.failure_reason and "No S3 objects found" in execution.failure_reason:
        print(
            "hint: put the data the config names into the local S3 first: "
            f"python -m pipelines local-put FILE S3_URI --workdir {workspace.root}",
            file=sys.stderr,
        )
    return 0 if execution.status == "Succeeded" else 1


def _local_put(args: argparse.Namespace) -> int:
    from pipelines.local.storage import LocalS3

    s3 = LocalS3(Path(args.workdir) / "s3")
    source = Path(args.source)
    if source.is_dir():
        count = s3.upload(source, args.uri)
    else:
        s3.put_file(source, args.uri.rstrip("/") + "/" + source.name if args.uri.endswith("/") else args.uri)
        count = 1
    print(f"stored {count} object(s) under {args.uri} in {s3.root}", file=sys.stderr)
    return 0


def _drift(args: argparse.Namespace) -> int:
    from pipelines.config import load_config
    from pipelines.drift import compare_frames
    from pipelines.drift.files import read_frame
    from pipelines.drift.report import console_lines, write_html
    from pipelines.local.files import write_json

    config = load_config(args.config) if args.config else None
    report = compare_frames(
        read_frame(args.reference),
        read_frame(args.current),
        config,
        exact=args.exact,
        score_column=args.score_column,
        label_column=args.label_column,
        positive_class=_class(args.positive_class),
    )
    write_json(report, args.json)
    if args.html:
        write_html(report, args.html)
    written = f"{args.json} and {args.html}" if args.html else str(args.json)
    print("\n".join(console_lines(report, written)))
    for problem in report["schema_problems"]:
        print(f"schema problem: {problem['feature']}: {problem['problem']}", file=sys.stderr)
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from pipelines.backtest.command import BacktestRequest, backtest_command

    request = BacktestRequest(
        config=args.config,
        data=args.data,
        window=args.window,
        warmup=args.warmup,
        calendar_every=args.calendar_every,
        drift_points=args.drift_point,
        row_interval=args.row_interval,
        start=args.start,
        json=args.json,
        html=args.html,
        sweep=args.sweep,
        rearm=not args.no_rearm,
        holdout=args.holdout,
        label_delay=args.label_delay,
        per_signal=args.per_signal,
    )
    return backtest_command(request)


def parser() -> argparse.ArgumentParser:
    from pipelines.simulation.datagen import SCENARIOS

    root = argparse.ArgumentParser(prog="python -m pipelines", description="Drift-triggered retraining on SageMaker.")
    commands = root.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate-config", help="parse a model config and print it, or its errors")
    validate.add_argument("config")
    validate.set_defaults(handler=_validate_config)

    definition = commands.add_parser("definition", help="write the SageMaker pipeline definition JSON")
    definition.add_argument("config")
    definition.add_argument("--out", help="file to write (default: stdout)")
    definition.set_defaults(handler=_definition)

    config_reference = commands.add_parser(
        "config-reference", help="write the configuration reference (docs/configuration.md) from the schema"
    )
    config_reference.add_argument("--out", help="file to write (default: stdout)")
    config_reference.set_defaults(handler=_config_reference)

    generate = commands.add_parser(
        "generate-data", help="write synthetic fraud-like transactions, or the tabular examples' data"
    )
    generate.add_argument("--out", required=True, help=".parquet or .csv file")
    generate.add_argument(
        "--dataset",
        choices=["fraud", "tabular-regression", "tabular-multiclass", "tabular-binary"],
        default="fraud",
        help="fraud (the demo's transactions) or an example of another problem type (configs/tabular-*.yaml)",
    )
    generate.add_argument("--rows", type=int, default=100_000)
    generate.add_argument("--start", default="2026-01-01")
    generate.add_argument("--days", type=float, default=120.0)
    generate.add_argument("--seed", type=int, default=7)
    generate.add_argument("--fraud-rate", type=float, default=0.02)
    generate.add_argument(
        "--scenario",
        nargs="+",
        choices=SCENARIOS,
        default=["none"],
        help="one or more, applied together (concept or mixed, and card_testing, exclude each other)",
    )
    generate.add_argument("--drift-start", default=None, help="timestamp where the scenario begins")
    generate.set_defaults(handler=_generate_data)
    demo = commands.add_parser("demo", help="the whole loop on generated data, in simulated time, with a report")
    demo.add_argument("--out", default="out/demo")
    demo.add_argument("--history-rows", type=int, default=60_000, help="transactions before production starts")
    demo.add_argument("--daily-requests", type=int, default=1_200, help="production requests per simulated day")
    demo.set_defaults(handler=_demo)
    run_local = commands.add_parser(
        "run-local", help="execute the pipeline definition on this machine (no AWS, no Docker)"
    )
    run_local.add_argument("config")
    run_local.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="pipeline parameter")
    run_local.add_argument("--workdir", help="local S3, registry and execution records (default out/local/MODEL)")
    run_local.add_argument("--definition", help="definition JSON to run (default: built from the config)")
    run_local.set_defaults(handler=_run_local)

    put = commands.add_parser("local-put", help="copy a file or folder into the local runtime's S3")
    put.add_argument("source")
    put.add_argument("uri", help="s3://bucket/key (a trailing / keeps the file name)")
    put.add_argument("--workdir", required=True)
    put.set_defaults(handler=_local_put)

    from pipelines.promotion.cli import add_commands as add_promotion_commands

    add_promotion_commands(commands)
    from pipelines.lineage.cli import add_commands as add_lineage_commands

    add_lineage_commands(commands)
    drift = commands.add_parser("drift", help="per-feature drift of a current table against a reference table")
    drift.add_argument("--reference", required=True, help="reference Parquet (any name) or .csv")
    drift.add_argument("--current", required=True, help="current Parquet (any name) or .csv")
    drift.add_argument("--config", help="model config: features, types and thresholds (default: inferred, defaults)")
    drift.add_argument("--json", required=True, help="report JSON to write (features.<name>.<statistic>, .drifted)")
    drift.add_argument("--html", help="HTML report to write")
    drift.add_argument("--exact", action="store_true", help="keep every reference value (default: as a profile)")
    drift.add_argument(
        "--score-column",
        help="the model's positive-class score (default: 'prediction', refused when it holds only 0/1)",
    )
    drift.add_argument("--label-column", help="ground truth, for label drift and performance (default: model.label)")
    drift.add_argument(
        "--positive-class",
        help="the label's positive value, e.g. yes or 1 (default: model.positive_class, else 1)",
    )
    drift.set_defaults(handler=_drift)

    backtest = commands.add_parser(
        "backtest", help="replay labelled history through never / calendar / trigger / every-window retraining"
    )
    backtest.add_argument("config")
    backtest.add_argument("--data", required=True, help="time-ordered labelled history (.parquet or .csv)")
    backtest.add_argument(
        "--window",
        type=_window_size,
        default=1000,
        help="rows per window, or a span of time (1D: one window per calendar day in UTC, 6h, 30min); one window "
        "is one monitor run (default: %(default)s rows)",
    )
    backtest.add_argument(
        "--warmup",
        type=int,
        help="windows that train the first model (default: the windows that span data.window.fresh_days, at most "
        "half of them)",
    )
    backtest.add_argument(
        "--calendar-every", type=int, help="calendar period in windows (default: as many runs as trigger)"
    )
    backtest.add_argument("--drift-point", action="append", default=[], metavar="TIME", help="known drift time")
    backtest.add_argument("--row-interval", help="derive the time column from row order, e.g. 30min")
    backtest.add_argument("--start", default="2000-01-01", help="time of the first row with --row-interval")
    backtest.add_argument("--json", help="backtest JSON to write (policies.<name>.retrains, .mean_metric, ...)")
    backtest.add_argument("--html", help="HTML report to write (metric over time, retraining marks)")
    backtest.add_argument("--sweep", action="store_true", help="also search trigger thresholds (frontier)")
    backtest.add_argument(
        "--holdout",
        type=float,
        metavar="FRACTION",
        help="sweep on the earlier rows, then replay the recommended point on this last share of them",
    )
    backtest.add_argument(
        "--label-delay",
        type=int,
        default=0,
        metavar="WINDOWS",
        help="labels come this many windows after their predictions (performance and label drift see them late)",
    )
    backtest.add_argument(
        "--per-signal",
        action="store_true",
        help="also replay the trigger with each retrain signal alone (drifted features, SLO, estimate, ...), "
        "those not in trigger.retrain_on too, marked so",
    )
    backtest.add_argument(
        "--no-rearm",
        action="store_true",
        help="replay the trigger without re-arming its alarms after a promotion or a shadow rejection "
        "(the behaviour before re-arming)",
    )
    backtest.set_defaults(handler=_backtest)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except PipelinesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
