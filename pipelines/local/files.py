"""Writing a file so that a reader sees the old one or the whole new one, never half of it: the
local runtime's store and records, and the reports the CLI and the backtest write."""

from __future__ import annotations

import json
import os
import stat
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def atomic_write(path: Path, content: bytes) -> None:
    """`content` to `path` through a temporary file in the same folder, renamed over it. A new
    file gets the permissions a plain write gives (0666 less the umask, applied by the kernel);
    a rewritten one keeps its own. (`tempfile.mkstemp` creates 0600 files, which left a user's
    reports readable by them alone; reading the umask to undo that is a race between threads.)"""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".tmp-{path.name}-{uuid.uuid4().hex}"
    handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        if path.exists():
            os.chmod(temp, stat.S_IMODE(path.stat().st_mode))
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_json(document: Mapping[str, Any], path: str | Path) -> Path:
    """`document` as JSON (no NaN: JSON has none), written atomically."""
    target = Path(path)
    atomic_write(target, (json.dumps(document, indent=2, allow_nan=False) + "\n").encode())
    return target
