"""Running the project's jobs again in this process: their container contract (/opt/ml under a
folder of ours, no SageMaker variables from the caller's shell, no S3 lookups: the objects were
fetched and verified), the output folder they write to, and whether their code changed since."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from pipelines.errors import PipelinesError

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


def require_empty(out: Path, force: bool, error: type[PipelinesError]) -> None:
    """Nothing is written over a folder that holds anything, unless asked (`force`)."""
    if out.exists() and any(out.iterdir()) and not force:
        raise error(f"{out} is not empty: choose another --out, or pass --force to write over it")


def code_change(recorded: str) -> str | None:
    """ "(then <recorded>, now <today>)" when the job code that ran differs from this checkout's,
    by content hash (`CodeVersion`); None when it is the same or was not recorded."""
    if recorded in ("", "unknown"):
        return None
    from pipelines.definition.builder import code_version

    today = code_version()
    return None if today == recorded else f"(then {recorded[:12]}, now {today[:12]})"
