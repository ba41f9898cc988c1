"""Tiny job entrypoints for local-runtime tests, run as `python3 -m tests.runtime_jobs ...` in a
processing step of a hand-built definition. Container paths under /opt/ml map onto OPT_ML_ROOT
as in the real job code."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def container(path: str) -> Path:
    return Path(os.environ["OPT_ML_ROOT"]) / path.removeprefix("/opt/ml").lstrip("/")


def main(argv: list[str]) -> int:
    command, *rest = argv
    if command == "write-json":  # write-json FILE JSON
        target = container(rest[0])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rest[1])
    elif command == "copy":  # copy SOURCE TARGET (files under the input / output dirs)
        target = container(rest[1])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(container(rest[0]).read_text())
    elif command == "sleep":  # sleep SECONDS FILE: record start/end times
        started = time.time()
        time.sleep(float(rest[0]))
        target = container(rest[1])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"started": started, "ended": time.time(), "env": os.environ.get("MARK")}))
    elif command == "fail":  # fail MESSAGE: as a processing job whose code raised, via its ExitMessage file
        failure = container("/opt/ml/output/message")
        failure.parent.mkdir(parents=True, exist_ok=True)
        failure.write_text(rest[0])
        return 1
    else:
        print(f"unknown command {command}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
