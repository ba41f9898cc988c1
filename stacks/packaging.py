"""What goes into the Lambda code assets and the job image's build context, staged as plain copies
of listed files so that the asset hashes depend on their content only (no Docker bundling at
synth, no walk over the repository)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from pipelines.definition import PROJECT_ROOT, job_code_files

RUNTIME_DOMAIN = {
    "trigger": ("__init__.py", "clients.py", "errors.py", "trigger.py", "trigger_events.py", "trigger_adapters.py"),
    "alerts": ("__init__.py", "clients.py", "errors.py", "events.py", "alert_message.py", "alert_sources.py"),
    "monitoring": ("__init__.py", "clients.py", "monitor_launch.py"),
}


def _copy(files: Iterable[Path], root: Path, target: Path) -> Path:
    for source in files:
        destination = target / source.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    return target


def stage_function(concern: str, staging: Path) -> Path:
    """The handler modules of `stacks/<concern>/runtime/` at the bundle's root, with the domain
    modules they import under `pipelines/` (standard library and boto3 only)."""
    target = staging / f"{concern}-function"
    if target.exists():
        shutil.rmtree(target)
    _copy([PROJECT_ROOT / "pipelines" / name for name in RUNTIME_DOMAIN[concern]], PROJECT_ROOT, target)
    for handler in sorted((PROJECT_ROOT / "stacks" / concern / "runtime").glob("*.py")):
        if handler.name != "__init__.py":
            shutil.copyfile(handler, target / handler.name)
    return target


def stage_job_image(staging: Path) -> Path:
    """The job image's build context: exactly the files `code_version()` hashes (the Dockerfile
    copies these and nothing else)."""
    target = staging / "job-image"
    if target.exists():
        shutil.rmtree(target)
    return _copy(job_code_files(), PROJECT_ROOT, target)
