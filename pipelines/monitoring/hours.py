"""Which captured hours a monitor run reads: the run's cost follows its window, not retention.

SageMaker data capture writes each endpoint variant's records under hour partitions,
`<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl` ("Capture data from real-time
endpoint", SageMaker Developer Guide:
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html), and
Model Monitor's ground truth is read from `<prefix>/yyyy/mm/dd/hh/` partitions of the hour the labels
arrived ("Ingest Ground Truth labels and merge them with predictions":
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-merge.html).

A run for window end E judges the capture hours before E's hour: `period` hours ending at
floor_hour(E). A record counts in the hour its partition names, the hour its capture file was
written, within minutes of the inference. Whole hours are the unit (the alarm period is a
whole number of hours, as Model Monitor's own schedules are hourly or daily), so each hour is
profiled once, stored, and reused by every later window that covers it.

Performance needs each prediction with its label: the predictions of the last
`performance_window_hours` hours (stored beside each hour's profile), joined with the labels
that arrived from the start of that span until the run (their partitions, including the hour
still running).

Standard library only: the launcher function imports it.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)
PARTITION = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/(\d{2})/")


class WindowNotWholeHours(ValueError):
    """The alarm period is not a whole number of hours."""


def floor_hour(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def window_hours(end: datetime, period_seconds: int) -> list[datetime]:
    """The capture hours a run ending at `end` judges, oldest first."""
    if period_seconds <= 0 or period_seconds % 3600:
        raise WindowNotWholeHours(
            f"the monitor judges whole capture hours; an alarm period of {period_seconds} s "
            "is not a whole number of hours"
        )
    last = floor_hour(end)
    return [last - HOUR * k for k in range(period_seconds // 3600, 0, -1)]


def lookback_hours(end: datetime, hours: float) -> list[datetime]:
    """The capture hours whose predictions count toward performance, oldest first."""
    last = floor_hour(end)
    return [last - HOUR * k for k in range(math.ceil(hours), 0, -1)]


def label_hours(end: datetime, hours: float) -> list[datetime]:
    """The ground-truth partitions that can hold labels of those predictions: from the first
    lookback hour to the hour the run is in."""
    return [*lookback_hours(end, hours), floor_hour(end)]


def partition(hour: datetime) -> str:
    """`yyyy/mm/dd/hh/`, as SageMaker names an hour's folder."""
    return f"{floor_hour(hour):%Y/%m/%d/%H}/"


def partition_of(key: str) -> datetime | None:
    """The hour a key's `yyyy/mm/dd/hh/` folder names (the last one in the key), or None."""
    found = PARTITION.findall(key)
    if not found:
        return None
    year, month, day, hour = (int(part) for part in found[-1])
    try:
        return datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError:
        return None


def object_key(relative: str) -> str:
    """A capture object's name from its hour folder on (`yyyy/mm/dd/hh/<file>`), however deep
    the job found it: SageMaker documents that a manifest's suffixes are appended to its prefix,
    not where below LocalPath the objects land, so the launcher and the job both name an object
    this way."""
    found = list(PARTITION.finditer(relative))
    return relative[found[-1].start(1) :] if found else relative


def stamp(hour: datetime) -> str:
    """An hour as ISO-8601 UTC text (`2026-03-01T10:00:00Z`)."""
    return floor_hour(hour).isoformat().replace("+00:00", "Z")
