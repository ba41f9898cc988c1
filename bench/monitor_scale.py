"""The drift monitor at production traffic: cost per run against traffic, retention and shards.

    .venv/bin/python bench/monitor_scale.py [--rows 4000000] [--files 16] [--peers-python PATH]

Data: one hour of data capture in SageMaker's format (JSON lines, CSV bodies, hour partitions
`yyyy/mm/dd/hh/`), `--rows` requests of the example fraud model's nine features spread over
`--files` objects, with covariate drift in two features; the champion's baseline profile is
built from 200,000 training rows. Retention is the hour partitions before it: 1 day or 90 days
(older hours are hard links of the same objects, so they cost no disk but are there to list).

Each run is what the deployed monitor does: the launcher's plan on the (local) S3 (it lists the
hours the window needs and writes manifests), then the job with that request
(pipelines.monitoring.local): inputs staged, capture parsed and profiled by hour, the hour store
updated, the window judged. Every run starts from an empty hour store in a fresh process, so
its peak memory is its own.

Columns: seconds per run, the median of `--repeat` runs (plan and job; with shards, the slowest
shard plus the judge, which is the wall time on that many instances running at once), bytes the
run read (the objects in its manifests), peak resident memory, the estimated performance (on how
many of the window's scores), and the verdict (drifted features). Peers (evidently's
DataDriftPreset, nannyml's univariate drift) judge the same hour's records, already parsed, in
their own interpreter (`--peers-python`, a venv with pandas 2, see requirements-bench.txt); a peer
that cannot run says why.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.config import FeatureType, ModelConfig, load_config  # noqa: E402
from pipelines.definition.builder import artifacts  # noqa: E402
from pipelines.local.storage import LocalS3  # noqa: E402
from pipelines.monitoring.job import monitor_inputs, monitor_job_request, monitor_launch  # noqa: E402
from pipelines.simulation.datagen import StreamSpec, generate  # noqa: E402

HOUR = datetime(2026, 6, 1, 10, tzinfo=UTC)
END = HOUR + timedelta(hours=1)
CONFIG = ROOT / "configs" / "fraud-detector.yaml"
PRE = '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"'
MID = '","encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv","mode":"OUTPUT","data":"'
POST = '","encoding":"CSV"}},"eventMetadata":{"eventId":"'
END_LINE = '},"eventVersion":"0"}'


def config() -> ModelConfig:
    return load_config(CONFIG)


def capture_lines(frame: pd.DataFrame, model: ModelConfig, seed: int, start: int) -> list[str]:
    features = model.model.features
    bodies = frame[[f.name for f in features]].to_csv(header=False, index=False, float_format="%.6g").splitlines()
    scores = np.random.default_rng(seed).random(len(frame))
    times = [f"{HOUR + timedelta(seconds=int(s)):%Y-%m-%dT%H:%M:%SZ}" for s in np.linspace(0, 3599, len(frame))]
    return [
        f'{PRE}{body}{MID}{score:.6f}{POST}r{start + i}","inferenceId":"r{start + i}","inferenceTime":"{t}"{END_LINE}'
        for i, (body, score, t) in enumerate(zip(bodies, scores, times, strict=True))
    ]


def put_baseline(s3: LocalS3, model: ModelConfig) -> None:
    """The champion's baseline as Evaluate writes it: the training window's profile, its test
    scores as the prediction baseline and their calibration (so every run also estimates the
    window's performance from its 4M scores)."""
    from training_containers.profile import baseline_profile, with_predictions

    train = generate(StreamSpec(rows=200_000, days=30, seed=1))
    scores = np.random.default_rng(0).random(len(train))
    truth = (train[model.model.label] == model.model.positive_class).to_numpy().astype(np.int64)
    profile = with_predictions(baseline_profile(train, model, predictions=scores), scores, model, truth)
    s3.put_bytes(monitor_inputs(model)["baseline"], json.dumps(profile).encode())


def build_data(folder: Path, rows: int, files: int) -> Path:
    """The S3 tree of one deployment: config, champion baseline, one hour of capture; cached."""
    marker = folder / f"ready-{rows}-{files}"
    model = config()
    artifact = artifacts(model)["config"]  # content-addressed: written again whenever the config changed
    if marker.exists():
        LocalS3(folder / "s3").put_bytes(artifact.uri, artifact.content)
        put_baseline(LocalS3(folder / "s3"), model)
        return folder / "s3"
    shutil.rmtree(folder, ignore_errors=True)
    s3 = LocalS3(folder / "s3")
    s3.put_bytes(artifact.uri, artifact.content)
    put_baseline(s3, model)
    capture = s3.path(monitor_inputs(model)["capture"]) / f"{HOUR:%Y/%m/%d/%H}"
    capture.mkdir(parents=True)
    per_file = rows // files
    for n in range(files):
        frame = generate(StreamSpec(rows=per_file, days=1, seed=100 + n))
        frame["amount"] *= 1.5  # the drift the verdict should find
        frame["distance_from_home_km"] += 20
        (capture / f"part-{n:03d}.jsonl").write_text("\n".join(capture_lines(frame, model, n, n * per_file)) + "\n")
        print(f"  generated {n + 1}/{files} objects", file=sys.stderr, flush=True)
    marker.touch()
    return folder / "s3"


def with_retention(source: Path, target: Path, days: int) -> LocalS3:
    """A copy of the tree (hard links) with `days` of older hour partitions beside the hour."""
    shutil.copytree(source, target, copy_function=os.link)
    s3 = LocalS3(target)
    model = config()
    hour = s3.path(monitor_inputs(model)["capture"]) / f"{HOUR:%Y/%m/%d/%H}"
    objects = sorted(hour.iterdir())
    for back in range(1, days * 24):
        older = s3.path(monitor_inputs(model)["capture"]) / f"{HOUR - timedelta(hours=back):%Y/%m/%d/%H}"
        older.mkdir(parents=True, exist_ok=True)
        for path in objects:
            os.link(path, older / path.name)
    return s3


def one_run(s3_root: str, work: str, shards: int) -> dict[str, Any]:
    """Worker: one monitor run in this process (`--worker`)."""
    from pipelines.local.jobs import JobContext, run_instance
    from pipelines.monitoring.launch import plan_judge, plan_run
    from pipelines.monitoring.local import completion_event, run_in_process

    model = config()
    s3 = LocalS3(Path(s3_root))
    request = monitor_job_request(model, image_uri="local", role_arn="local", key_arn="local")
    launch = monitor_launch(model, request, END.isoformat())
    if shards > 1:
        size = sum(size for _, size in s3.listing(monitor_inputs(model)["capture"] + f"{HOUR:%Y/%m/%d/%H}/"))
        launch |= {"instance_capture_mb": size / 1e6 / shards * 1.0001, "max_instances": shards}
    started = time.perf_counter()
    run = plan_run(launch, s3)
    planned = time.perf_counter() - started
    assert run.request is not None, run.skipped
    read = _manifest_bytes(s3, run.request)
    slowest = 0.0
    request = run.request
    if shards > 1:
        count = request["ProcessingResources"]["ClusterConfig"]["InstanceCount"]
        assert count == shards, (count, shards)
        name = request["ProcessingJobName"]
        for index in range(shards):  # each instance in a process of its own, as on its own machine
            shard_started = time.perf_counter()
            run_instance(request, JobContext(name, "arn", Path(work) / name, s3), index, shards)
            slowest = max(slowest, time.perf_counter() - shard_started)
        judge = plan_judge(launch, completion_event(request), s3)
        assert judge is not None and judge.request is not None
        request = judge.request
        read += _manifest_bytes(s3, request) + _folder_bytes(s3.path(_uri(request, "shards")))
    judge_started = time.perf_counter()
    report = run_in_process(request, s3, Path(work), None)
    judged = time.perf_counter() - judge_started
    estimated = report["estimated_performance"]
    return {
        "seconds": planned + slowest + judged,
        "read_bytes": read,
        "peak_mb": max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        / 1024,  # the largest of this process and its shard processes
        "drifted": report["summary"]["drifted_features"],
        "rows": report["window"]["rows"],
        "estimated": f"{estimated['status']} on {estimated['predictions']:,}",
        "statistics": {n: [f.get("psi"), f.get("ks"), f.get("wasserstein")] for n, f in report["features"].items()},
    }


def _uri(request: dict[str, Any], name: str) -> str:
    (item,) = [i for i in request["ProcessingInputs"] if i["InputName"] == name]
    return str(item["S3Input"]["S3Uri"])


def _manifest_bytes(s3: LocalS3, request: dict[str, Any]) -> int:
    total = 0
    for item in request["ProcessingInputs"]:
        source = item["S3Input"]
        if source["S3DataType"] == "ManifestFile":
            total += sum(path.stat().st_size for _, path in s3.manifest_objects(source["S3Uri"]))
        else:
            total += sum(path.stat().st_size for _, path in s3.keys(source["S3Uri"]))
    return total


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _measure(s3_root: Path, work: Path, shards: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--worker", str(s3_root), str(work), str(shards)],
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            parsed: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
            return parsed
    raise RuntimeError(done.stderr[-3000:])


PEER_CODE = r"""
import json, resource, sys, time
import pandas as pd
window = pd.read_parquet(sys.argv[2]); reference = pd.read_parquet(sys.argv[3])
numeric, categorical = json.loads(sys.argv[4]), json.loads(sys.argv[5])
started = time.perf_counter()
if sys.argv[1] == "evidently":
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    result = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(window, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    ).dict()
    drifted = []
    for metric in result["metrics"]:  # as bench/drift.py reads evidently 0.7's snapshot
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            value, threshold = float(metric["value"]), float(config["threshold"])
            method = config["method"].lower()
            if (value >= threshold) if ("distance" in method or "divergence" in method) else (value < threshold):
                drifted.append(config["column"])
    drifted.sort()
else:
    import nannyml as nml
    calc = nml.UnivariateDriftCalculator(
        column_names=numeric + categorical, continuous_methods=["kolmogorov_smirnov", "jensen_shannon"],
        categorical_methods=["jensen_shannon"], chunk_size=20_000,
    )
    calc.fit(reference)  # thresholds from the spread between the reference's own chunks
    frame = calc.calculate(window).filter(period="analysis").to_df()
    drifted = sorted({c[0] for c in frame.columns if c[-1] == "alert" and frame[c].mean() > 0.5})
print("RESULT " + json.dumps({"seconds": time.perf_counter() - started, "drifted": drifted,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def ours(folder: Path) -> dict[str, Any]:
    """This engine on the same parsed records against a profile of the same reference rows, in a
    process of its own (like the peers): the drift statistics alone, no capture parsing."""
    code = (
        "import json, resource, sys, time\n"
        "import pandas as pd\n"
        "from pipelines.config import load_config\n"
        "from pipelines.drift import BaselineReference, drift_report\n"
        "from training_containers.profile import baseline_profile\n"
        f"config = load_config({str(CONFIG)!r})\n"
        "window = pd.read_parquet(sys.argv[1]); reference = pd.read_parquet(sys.argv[2])\n"
        "reference[config.model.label] = 0\n"
        "profile = BaselineReference.from_profile(baseline_profile(reference, config))\n"
        "started = time.perf_counter()\n"
        "report = drift_report(profile, window, config.model.features, config.drift, model=None, label=None,\n"
        "                      positive_class=1, decision_threshold=0.5)\n"
        "print('RESULT ' + json.dumps({'seconds': time.perf_counter() - started,\n"
        "    'drifted': report['summary']['drifted_features'],\n"
        "    'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder / "window.parquet"), str(folder / "reference.parquet")],
        capture_output=True, text=True, check=False, env=os.environ | {"PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    found = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if not found:
        raise RuntimeError(done.stderr[-2000:])
    result: dict[str, Any] = json.loads(found[0].removeprefix("RESULT "))
    return result


def peers(s3_root: Path, python: str | None, folder: Path) -> dict[str, dict[str, Any] | str]:
    from training_containers.capture import read_capture

    model = config()
    window, _ = read_capture(LocalS3(s3_root).path(monitor_inputs(model)["capture"]), model)
    names = model.model.feature_names
    window[names].to_parquet(folder / "window.parquet")
    generate(StreamSpec(rows=200_000, days=30, seed=1))[names].to_parquet(folder / "reference.parquet")
    numeric = [f.name for f in model.model.features if f.type is FeatureType.numeric]
    categorical = [f.name for f in model.model.features if f.type is FeatureType.categorical]
    results: dict[str, dict[str, Any] | str] = {"this engine": ours(folder)}
    for peer in ("evidently", "nannyml"):
        if python is None:
            results[peer] = "no --peers-python given (a venv with pandas 2, see requirements-bench.txt)"
            continue
        done = subprocess.run(
            [python, "-c", PEER_CODE, peer, str(folder / "window.parquet"), str(folder / "reference.parquet"),
             json.dumps(numeric), json.dumps(categorical)],
            capture_output=True, text=True, check=False, timeout=3600,
        )  # fmt: skip
        found = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        results[peer] = (
            json.loads(found[0].removeprefix("RESULT "))
            if found
            else (done.stderr.strip().splitlines() or ["no output"])[-1][:160]
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--retention-days", type=int, nargs="+", default=[1, 90])
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the table shows the median seconds")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "monitor-scale")
    parser.add_argument("--peers-python", default=os.environ.get("PEERS_PYTHON"))
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        s3_root, work, shards = args.worker
        print("RESULT " + json.dumps(one_run(s3_root, work, int(shards))))
        return 0

    print(f"generating {args.rows:,} captured requests in {args.files} objects ...", file=sys.stderr)
    source = build_data(args.data / "source", args.rows, args.files)
    header = (
        f"{'rows/hour':>10} {'retained':>8} {'shards':>6} {'s/run':>7} {'MB read':>8} {'peak MB':>8}  "
        "estimated performance  drifted features"
    )
    print(header)
    print("-" * len(header))
    verdicts = {}
    for shards in args.shards:
        # The retentions' runs alternate, so a change of this machine's speed during the row's
        # runs (it varies up to 2x) touches both alike; each row shows its median run.
        runs: dict[int, list[dict[str, Any]]] = {days: [] for days in args.retention_days}
        for _ in range(args.repeat):
            for days in args.retention_days:  # each from an empty hour store, in a fresh process
                with tempfile.TemporaryDirectory(dir=args.data) as scratch:
                    s3 = with_retention(source, Path(scratch) / "s3", days)
                    runs[days].append(_measure(s3.root, Path(scratch) / "jobs", shards))
        for days in args.retention_days:
            result = sorted(runs[days], key=lambda run: run["seconds"])[len(runs[days]) // 2]
            verdicts[(days, shards)] = (result["drifted"], result["statistics"])
            print(
                f"{result['rows']:>10,} {days:>7}d {shards:>6} {result['seconds']:>7.1f} "
                f"{result['read_bytes'] / 1e6:>8,.0f} {result['peak_mb']:>8,.0f}  {result['estimated']:<21}  "
                f"{', '.join(result['drifted'])}",
                flush=True,
            )
    first = next(iter(verdicts.values()))
    same = all(v[0] == first[0] for v in verdicts.values())
    close = all(
        np.allclose(np.asarray(v[1][n], dtype=float), np.asarray(first[1][n], dtype=float), rtol=1e-9, equal_nan=True)
        for v in verdicts.values()
        for n in first[1]
    )
    print(f"\nverdicts identical across shards and retention: {same}; statistics equal to 1e-9: {close}")
    print("\nthe same hour's records already parsed, the statistics alone (the reference: 200,000 training rows):")
    with tempfile.TemporaryDirectory(dir=args.data) as scratch:
        for peer, outcome in peers(source, args.peers_python, Path(scratch)).items():
            if isinstance(outcome, str):
                print(f"  {peer:<11} could not run: {outcome}")
            else:
                print(
                    f"  {peer:<11} {outcome['seconds']:>7.2f} s  peak {outcome['peak_mb']:>7,.0f} MB  "
                    f"drifted: {', '.join(outcome['drifted'])}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
