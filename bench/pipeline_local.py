"""Wall time of the example pipeline in the local runtime, per step and in total.

    .venv/bin/python bench/pipeline_local.py [--rows 100000 1000000]

For each size: generate the fraud-like stream, put it in a fresh work dir's local S3, execute
the definition built from configs/fraud-detector.yaml, and print one row per step. The rows
are generated rows (fresh + historical sources); the table shows how DataPull split them.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.config import load_config  # noqa: E402
from pipelines.local.workspace import Workspace  # noqa: E402
from pipelines.simulation.datagen import StreamSpec, generate  # noqa: E402
from pipelines.simulation.demo import put_data  # noqa: E402


def run(rows: int, workdir: Path) -> tuple[dict[str, float], float, str, dict[str, int]]:
    config = load_config(ROOT / "configs" / "fraud-detector.yaml")
    stream = generate(StreamSpec(rows=rows, days=120, seed=11))
    cut = stream["event_time"].max() - pd.Timedelta(days=config.data.window.fresh_days)
    workspace = Workspace(config, workdir)
    newer = stream["event_time"] > cut
    put_data(workspace, stream[newer], stream[~newer])
    started = time.perf_counter()
    execution = workspace.run(echo=lambda _: None)
    total = time.perf_counter() - started
    pulled = workspace.s3.read_json(
        f"s3://{config.pipeline.bucket(config.model.name)}/{config.model.name}/executions/"
        f"{execution.execution_id}/DataPull/report/validation_report.json"
    )
    return {r.name: r.seconds for r in execution.steps}, total, execution.status, dict(pulled["rows"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    results = {}
    for rows in args.rows:
        with tempfile.TemporaryDirectory() as workdir:
            print(f"running {rows:,} rows ...", file=sys.stderr)
            results[rows] = run(rows, Path(workdir))
    steps = list(next(iter(results.values()))[0])
    header = f"{'step':<22}" + "".join(f"{f'{rows:,} rows':>16}" for rows in results)
    print(header)
    print("-" * len(header))
    for step in steps:
        print(f"{step:<22}" + "".join(f"{r[0].get(step, float('nan')):>14.1f} s" for r in results.values()))
    print(f"{'total (incl. build)':<22}" + "".join(f"{r[1]:>14.1f} s" for r in results.values()))
    for part in ("fresh", "historical", "train", "validation", "test"):
        print(f"{part + ' rows':<22}" + "".join(f"{r[3].get(part, 0):>16,}" for r in results.values()))
    print(f"{'status':<22}" + "".join(f"{r[2]:>16}" for r in results.values()))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS of the largest job process: {peak:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
