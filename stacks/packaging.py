"""What goes into the Lambda code assets and the images' build contexts: a unit's entry modules
and the whole project packages they import (pipelines.bundles), staged as plain copies so that
asset hashes depend on content only (no Docker bundling at synth)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from pipelines.bundles import PROJECT_ROOT, reached_files
from pipelines.definition.builder import job_code_files


def _copy(files: Iterable[Path], root: Path, target: Path) -> Path:
    for source in files:
        destination = target / source.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    return target


def _fresh(target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    return target


def runtime_modules(concern: str) -> list[Path]:
    """The handler modules of `stacks/<concern>/runtime/`."""
    folder = PROJECT_ROOT / "stacks" / concern / "runtime"
    return sorted(p for p in folder.glob("*.py") if p.name != "__init__.py")


def stage_function(concern: str, staging: Path) -> Path:
    """A zip function's bundle: the handler modules of `stacks/<concern>/runtime/` at its root, with
    the project packages they import (standard library and boto3 only at run time)."""
    handlers = runtime_modules(concern)
    target = _copy(reached_files(handlers), PROJECT_ROOT, _fresh(staging / f"{concern}-function"))
    for handler in handlers:
        shutil.copyfile(handler, target / handler.name)
    return target


def stage_image(concern: str, staging: Path, recipe: Iterable[str]) -> Path:
    """An image function's build context: the `recipe` files of `stacks/<concern>/runtime/`
    (Dockerfile, lock) and its handler modules at the root, with the project packages they import."""
    folder = PROJECT_ROOT / "stacks" / concern / "runtime"
    handlers = runtime_modules(concern)
    target = _copy(reached_files(handlers), PROJECT_ROOT, _fresh(staging / f"{concern}-image"))
    for name in [*recipe, *(h.name for h in handlers)]:
        shutil.copyfile(folder / name, target / name)
    return target


def stage_job_image(staging: Path) -> Path:
    """The job image's build context: exactly the files `code_version()` hashes (the Dockerfile
    copies these and nothing else)."""
    return _copy(job_code_files(), PROJECT_ROOT, _fresh(staging / "job-image"))
