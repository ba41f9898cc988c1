"""What a model was built with: Python, the locked job packages, the job image, the code."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

LOCK_FILE = Path(__file__).with_name("requirements.lock")


def environment() -> dict[str, Any]:
    lock = LOCK_FILE.read_bytes() if LOCK_FILE.exists() else b""
    return {
        "python": platform.python_version(),
        "packages_lock_sha256": hashlib.sha256(lock).hexdigest(),
        "image_uri": os.environ.get("JOB_IMAGE_URI", "unknown"),
        "code_version": os.environ.get("CODE_VERSION", "unknown"),
    }


def environment_hash(env: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(env, sort_keys=True).encode()).hexdigest()
