"""The stored, mergeable profile of a stretch of captured traffic (pipelines.drift.sketch).

A `WindowProfile` holds, for every feature with a baseline, the summary of its values laid on
the champion's baseline reference, the predictions' summary, the row count and the first and
last inference times. The monitor profiles each captured hour once and judges a window as the
merge of its hours; the verdicts are those of the window's values (see the sketch module for
which statistics are exact and the one bound).

A profile names the baseline it was laid on (`baseline`, the sha-256 of the baseline profile's
bytes, `baseline_key`); profiles of different baselines are never merged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pipelines.config import Feature
from pipelines.drift.reference import BaselineReference, FeatureReference, NumericReference
from pipelines.drift.sketch import (
    CategoricalSketch,
    NumericSketch,
    Sketch,
    SketchMismatch,
    merge_sketches,
    sketch_from_json,
)

PROFILE_FORMAT = 1
PREDICTION = "prediction"
TIME = "inference_time"


def baseline_key(profile_bytes: bytes) -> str:
    """The name of a baseline: the first 16 hex digits of its bytes' sha-256."""
    return hashlib.sha256(profile_bytes).hexdigest()[:16]


def _sketch(reference: Any, column: pd.Series | None, rows: int) -> Sketch:
    if isinstance(reference, NumericReference):
        return NumericSketch.empty(reference, rows) if column is None else NumericSketch.of(reference, column)
    return CategoricalSketch.empty(rows) if column is None else CategoricalSketch.of(column)


@dataclass(frozen=True)
class WindowProfile:
    baseline: str
    rows: int
    features: Mapping[str, Sketch]
    missing: Mapping[str, int] = field(default_factory=dict)  # rows without the feature's column
    prediction: Sketch | None = None
    first: str | None = None  # earliest inference time, ISO-8601 UTC
    last: str | None = None

    @classmethod
    def of(
        cls, reference: BaselineReference, frame: pd.DataFrame, features: Sequence[Feature], baseline: str
    ) -> WindowProfile:
        rows = len(frame)
        sketches: dict[str, Sketch] = {}
        missing: dict[str, int] = {}
        for feature in features:
            stored = reference.features.get(feature.name)
            if stored is None:
                continue
            column = frame[feature.name] if feature.name in frame.columns else None
            sketches[feature.name] = _sketch(stored, column, rows)
            if column is None:
                missing[feature.name] = rows
        prediction = None
        if reference.prediction is not None and PREDICTION in frame.columns:
            predicted = frame[PREDICTION]
            if not isinstance(reference.prediction, NumericReference):
                predicted = predicted.astype(object)
            prediction = _sketch(reference.prediction, predicted, rows)
        times = pd.to_datetime(frame[TIME], utc=True) if TIME in frame.columns and rows else None
        first = _iso(times.min()) if times is not None else None
        last = _iso(times.max()) if times is not None else None
        return cls(baseline, rows, sketches, missing, prediction, first, last)

    def merge(self, other: WindowProfile) -> WindowProfile:
        if other.baseline != self.baseline:
            raise SketchMismatch(f"profiles of baselines {self.baseline} and {other.baseline} cannot be merged")
        names = list(dict.fromkeys([*self.features, *other.features]))
        features = {
            name: (
                merge_sketches(self.features[name], other.features[name])
                if name in self.features and name in other.features
                else self.features.get(name) or other.features[name]
            )
            for name in names
        }
        missing = {name: self.missing.get(name, 0) + other.missing.get(name, 0) for name in names}
        prediction = self.prediction
        if other.prediction is not None:
            prediction = other.prediction if prediction is None else merge_sketches(prediction, other.prediction)
        return WindowProfile(
            self.baseline,
            self.rows + other.rows,
            features,
            {name: count for name, count in missing.items() if count},
            prediction,
            _earliest(self.first, other.first),
            _latest(self.last, other.last),
        )

    def as_baseline(self, grid: BaselineReference) -> BaselineReference:
        """This window as a baseline reference on `grid`'s bins and ECDF points: a champion's
        baseline and a window profile are the same summary (`NumericSketch.as_reference`), so a
        stretch of traffic, merged from its hours, can serve as the reference of later windows."""
        features: dict[str, FeatureReference] = {}
        for name, sketch in self.features.items():
            stored = grid.features.get(name)
            if isinstance(sketch, NumericSketch) and isinstance(stored, NumericReference):
                features[name] = sketch.as_reference(stored)
            elif isinstance(sketch, CategoricalSketch):
                features[name] = sketch.as_reference()
        prediction: FeatureReference | None = None
        if isinstance(self.prediction, NumericSketch) and isinstance(grid.prediction, NumericReference):
            prediction = self.prediction.as_reference(grid.prediction)
        elif isinstance(self.prediction, CategoricalSketch):
            prediction = self.prediction.as_reference()
        return BaselineReference(self.rows, features, prediction)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": PROFILE_FORMAT,
            "baseline": self.baseline,
            "rows": self.rows,
            "first": self.first,
            "last": self.last,
            "missing": dict(self.missing),
            "features": {name: sketch.to_json() for name, sketch in self.features.items()},
            "prediction": None if self.prediction is None else self.prediction.to_json(),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> WindowProfile:
        if document.get("format") != PROFILE_FORMAT:
            found = document.get("format")
            raise SketchMismatch(f"window profile format {found!r}; this release reads {PROFILE_FORMAT}")
        return cls(
            baseline=str(document["baseline"]),
            rows=int(document["rows"]),
            features={name: sketch_from_json(entry) for name, entry in document["features"].items()},
            missing={str(k): int(v) for k, v in document.get("missing", {}).items()},
            prediction=None if document.get("prediction") is None else sketch_from_json(document["prediction"]),
            first=document.get("first"),
            last=document.get("last"),
        )


def merge_all(profiles: Iterable[WindowProfile], baseline: str) -> WindowProfile:
    """The merge of `profiles` (an empty profile of `baseline` when there are none)."""
    merged = WindowProfile(baseline, 0, {})
    for profile in profiles:
        merged = merged.merge(profile)
    return merged


def _iso(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


def _earliest(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else min(a, b, key=pd.Timestamp)


def _latest(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else max(a, b, key=pd.Timestamp)
