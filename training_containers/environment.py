"""What a model was built with: Python, the job packages as installed, the job image, the code.
`differences` names what changed between two such records (`python -m pipelines reproduce`)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

LOCK_FILE = Path(__file__).with_name("requirements.lock")
MISSING = "not installed"


def locked_packages() -> list[str]:
    """The job image's packages, by name, from the lock file (`name==version` lines)."""
    if not LOCK_FILE.exists():
        return []
    lines = LOCK_FILE.read_text(encoding="utf-8").splitlines()
    return sorted({line.split("==")[0].strip() for line in lines if "==" in line and not line.startswith("#")})


def installed(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return MISSING


def environment() -> dict[str, Any]:
    lock = LOCK_FILE.read_bytes() if LOCK_FILE.exists() else b""
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),  # float results can differ in the last bit between architectures
        "packages_lock_sha256": hashlib.sha256(lock).hexdigest(),
        "packages": {name: installed(name) for name in locked_packages()},  # what ran, not what was asked for
        "image_uri": os.environ.get("JOB_IMAGE_URI", "unknown"),
        "code_version": os.environ.get("CODE_VERSION", "unknown"),
    }


def environment_hash(env: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(env, sort_keys=True).encode()).hexdigest()


def differences(recorded: dict[str, Any], today: dict[str, Any]) -> list[str]:
    """What differs between the environment a model was trained in and today's, one line each:
    the Python version, each package whose installed version differs (or that one side lacks)."""
    found = [
        f"{name} {recorded.get(name)} then, {today.get(name)} now"
        for name in ("python", "machine")
        if name in recorded and recorded.get(name) != today.get(name)
    ]
    then, now = recorded.get("packages"), today.get("packages", {})
    if then is None:
        found.append("the model's record names no package versions (trained before they were recorded)")
        return found
    for name in sorted(set(then) | set(now)):
        if then.get(name, MISSING) != now.get(name, MISSING):
            found.append(f"{name} {then.get(name, MISSING)} then, {now.get(name, MISSING)} now")
    return found
