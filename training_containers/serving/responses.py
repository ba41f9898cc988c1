"""The answer to `/invocations`: the response type a request accepts, and the predictions as
`text/csv` (one per line, the default) or `{"predictions": [...]}` (`Accept: application/json`)."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import numpy as np

from training_containers.serving.requests import CSV, JSON, BadRequest, media_type


def accepted(header: str | None) -> str:
    """The response type: JSON when asked for first, else CSV (also for none, */* and text/*)."""
    if not header or not header.strip():
        return CSV
    for part in header.split(","):
        kind = media_type(part)
        if kind in (CSV, "text/*", "*/*"):
            return CSV
        if kind in (JSON, "application/*"):
            return JSON
    raise BadRequest(f"unsupported Accept {header!r}; ask for {CSV} or {JSON}", HTTPStatus.NOT_ACCEPTABLE)


def render(scores: np.ndarray, kind: str) -> bytes:
    """Predictions as CSV (one per line) or JSON: numbers (`repr` of a float reads back to the same
    float), or a multiclass model's classes as text."""
    values: list[Any] = [str(s) for s in scores] if scores.dtype == object else [float(s) for s in scores]
    if kind == JSON:
        return json.dumps({"predictions": values}).encode()
    return ("\n".join(v if isinstance(v, str) else repr(v) for v in values) + "\n").encode()
