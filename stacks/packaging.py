"""What goes into the Lambda code assets and the images' build contexts: a unit's entry modules
and the whole project packages they import (pipelines.bundles), staged as plain copies so that
asset hashes depend on content only (no Docker bundling at synth)."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from pipelines.bundles import PROJECT_ROOT, reached_files, third_party
from pipelines.definition.builder import job_code_files


def _copy(files: Iterable[Path], root: Path, target: Path) -> Path:
    for source in files:
        destination = target / source.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    return target


def fresh_folder(target: Path) -> Path:
    """`target`, emptied (created when missing)."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    return target


def runtime_modules(concern: str) -> list[Path]:
    """The handler modules of `stacks/<concern>/runtime/`."""
    folder = PROJECT_ROOT / "stacks" / concern / "runtime"
    return sorted(p for p in folder.glob("*.py") if p.name != "__init__.py")


# What the Lambda Python runtime provides: its AWS SDK for Python and the SDK's dependencies
# ("Lambda runtimes": the Python runtimes include the AWS SDK for Python (Boto3)). Everything else a
# zip function imports is vendored into its bundle from this environment, at its pinned version.
LAMBDA_RUNTIME = {"boto3", "botocore", "jmespath", "s3transfer", "urllib3", "python-dateutil", "six"}


class PackagingError(RuntimeError):
    """A function's bundle cannot be made as asked."""


def _distribution_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def vendored_files(modules: Iterable[str]) -> list[tuple[Path, Path]]:
    """(installed file, path in the bundle) of the distributions providing `modules` and of what
    they require, except what the Lambda runtime provides."""
    providers = importlib.metadata.packages_distributions()
    wanted = {_distribution_name(d) for m in modules for d in providers.get(m, [])} - LAMBDA_RUNTIME
    files: list[tuple[Path, Path]] = []
    seen: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name in seen:
            continue
        seen.add(name)
        dist = importlib.metadata.distribution(name)
        if "Root-Is-Purelib: true" not in (dist.read_text("WHEEL") or ""):
            raise PackagingError(
                f"{name} {dist.version} is not pure Python: its compiled code was built for this machine, not "
                "for the zip functions' Lambda runtime (stacks.functions: arm64). Keep it out of the zip "
                "handlers' imports, or run the function from an image (stacks/promotion does)."
            )
        for requirement in dist.requires or []:
            if "extra ==" not in requirement:
                wanted.add(_distribution_name(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0]))
        wanted -= LAMBDA_RUNTIME
        for file in dist.files or []:
            parts = file.parts
            if ".." in parts or any(p.endswith((".dist-info", "__pycache__")) for p in parts) or file.suffix == ".pyc":
                continue
            files.append((Path(str(dist.locate_file(file))), Path(*parts)))
    return sorted(files)


def stage_function(concern: str, staging: Path) -> Path:
    """A zip function's bundle: the handler modules of `stacks/<concern>/runtime/` at its root, with
    the project packages they import and the third-party packages they need beyond the runtime's."""
    handlers = runtime_modules(concern)
    project = reached_files(handlers)
    target = _copy(project, PROJECT_ROOT, fresh_folder(staging / f"{concern}-function"))
    for source, relative in vendored_files(third_party([*handlers, *project])):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    for handler in handlers:
        shutil.copyfile(handler, target / handler.name)
    return target


def stage_image(concern: str, staging: Path, recipe: Iterable[str]) -> Path:
    """An image function's build context: the `recipe` files of `stacks/<concern>/runtime/`
    (Dockerfile, lock) and its handler modules at the root, with the project packages they import."""
    folder = PROJECT_ROOT / "stacks" / concern / "runtime"
    handlers = runtime_modules(concern)
    target = _copy(reached_files(handlers), PROJECT_ROOT, fresh_folder(staging / f"{concern}-image"))
    for name in [*recipe, *(h.name for h in handlers)]:
        shutil.copyfile(folder / name, target / name)
    return target


def stage_job_image(staging: Path) -> Path:
    """The job image's build context: exactly the files `code_version()` hashes (the Dockerfile
    copies these and nothing else)."""
    return _copy(job_code_files(), PROJECT_ROOT, fresh_folder(staging / "job-image"))
