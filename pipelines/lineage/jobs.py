"""A job's container contract in this process: /opt/ml under a folder of ours, no SageMaker
variables from the caller's shell, no S3 lookups (the objects were fetched and verified)."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

_ONE_JOB = threading.Lock()  # the environment is the process's: two jobs at once would share it


@contextlib.contextmanager
def job_environment(opt_ml: Path) -> Iterator[None]:
    with _ONE_JOB, _contract(opt_ml):
        yield


@contextlib.contextmanager
def _contract(opt_ml: Path) -> Iterator[None]:
    saved = dict(os.environ)
    for name in [n for n in os.environ if n.startswith("SM_")]:
        del os.environ[name]
    os.environ["OPT_ML_ROOT"], os.environ["SM_LOCAL_RUNTIME"] = str(opt_ml), "1"
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
