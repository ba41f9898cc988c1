"""Generated histories with known drift points, for the benchmark and the tests.

A stream is a sequence of segments, each drawn by `pipelines.simulation.datagen.generate` with its own
scenario over its own days; wherever the scenario changes from one segment to the next is a drift
point (a return to `none` is one too: the data moved back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from pipelines.simulation.datagen import Scenario, StreamSpec, generate


@dataclass(frozen=True)
class Segment:
    scenario: Scenario
    days: float


def drifting_stream(
    segments: Sequence[Segment],
    *,
    rows_per_day: int,
    start: str = "2026-01-01",
    seed: int = 7,
    fraud_rate: float = 0.02,
) -> tuple[pd.DataFrame, list[datetime]]:
    """The concatenated segments in time order, and the drift points between them."""
    frames, drift_points = [], []
    moment = pd.Timestamp(start)
    for number, segment in enumerate(segments):
        if number and segment.scenario != segments[number - 1].scenario:
            drift_points.append(moment.to_pydatetime().replace(tzinfo=UTC))
        spec = StreamSpec(
            rows=int(rows_per_day * segment.days),
            start=moment.isoformat(),
            days=segment.days,
            seed=seed + number,
            fraud_rate=fraud_rate,
            scenario=segment.scenario,
        )
        frames.append(generate(spec))
        moment += pd.Timedelta(days=segment.days)
    return pd.concat(frames, ignore_index=True), drift_points
