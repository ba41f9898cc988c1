"""Captured hours as stored profiles: each capture object is profiled once, per hour, per baseline.

An `HourEntry` is what the monitor keeps of one capture hour: the hour's `WindowProfile` (laid on
one baseline, pipelines.drift.window), its predictions (`inference_id`, `prediction`,
`inference_time`, for performance once labels arrive), the capture objects it covers and what
could not be read. The store holds one entry per hour and baseline:

    <hours prefix>/yyyy/mm/dd/hh/<baseline>/profile.json       the profile, objects, capture stats
    <hours prefix>/yyyy/mm/dd/hh/<baseline>/predictions.parquet

A run profiles only capture objects no stored entry covers and writes the merged entry back;
merging refuses an object twice (the later copy is dropped and the drop reported), so a
retried run, an hour profiled twice or an overlapping shard never counts a record twice.

An object's hour is the `yyyy/mm/dd/hh/` folder in its key; an object without one (a flat table,
a file put there by hand) is split by each record's inference time, and records without either
are reported and left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from pipelines.config import ModelConfig
from pipelines.drift import INFERENCE_ID_COLUMN, INFERENCE_TIME_COLUMN, PREDICTION_COLUMN, BaselineReference
from pipelines.drift.window import WindowProfile, merge_all
from pipelines.monitoring.hours import floor_hour, object_key, partition, partition_of, stamp
from pipelines.naming import HOUR_OBJECTS, HOUR_PREDICTIONS, HOUR_PROFILE
from training_containers.capture import CaptureStats, capture_files, merge_stats

ENTRY_FORMAT = 1
PREDICTION_COLUMNS = (INFERENCE_ID_COLUMN, PREDICTION_COLUMN, INFERENCE_TIME_COLUMN)


class EntryUnreadable(ValueError):
    """A stored hour entry is not one this release reads."""


@dataclass(frozen=True)
class HourEntry:
    hour: datetime
    profile: WindowProfile
    objects: tuple[str, ...]  # capture objects covered, relative to the variant's capture prefix
    predictions: pd.DataFrame
    capture: CaptureStats

    def merge(self, other: HourEntry) -> tuple[HourEntry, list[str]]:
        """Both entries' records, and the problems found; `other` is dropped whole when it covers
        an object this one covers already (its records would be counted twice)."""
        twice = sorted(set(self.objects) & set(other.objects))
        if twice:
            return self, [
                f"hour {stamp(self.hour)}: {len(twice)} capture object(s) profiled twice (first {twice[0]}); "
                "counted once, the later profile was dropped"
            ]
        merged = HourEntry(
            hour=self.hour,
            profile=self.profile.merge(other.profile),
            objects=tuple(sorted((*self.objects, *other.objects))),
            predictions=_concat([self.predictions, other.predictions]),
            capture=merge_stats([self.capture, other.capture]),
        )
        return merged, []

    # ---- storage

    def write(self, folder: Path) -> Path:
        """Write the entry under `folder/yyyy/mm/dd/hh/<baseline>/`; returns that folder."""
        target = folder / partition(self.hour) / self.profile.baseline
        target.mkdir(parents=True, exist_ok=True)
        document = {
            "format": ENTRY_FORMAT,
            "hour": stamp(self.hour),
            "objects": list(self.objects),
            "capture": self.capture.as_dict(),
            "profile": self.profile.to_json(),
        }
        self.predictions.to_parquet(target / HOUR_PREDICTIONS, index=False)
        (target / HOUR_PROFILE).write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
        # what the launcher reads to find the capture objects the hour does not cover yet
        (target / HOUR_OBJECTS).write_text(json.dumps({"objects": list(self.objects)}), encoding="utf-8")
        return target

    @classmethod
    def read(cls, profile_file: Path) -> HourEntry:
        try:
            document = json.loads(profile_file.read_text(encoding="utf-8"))
            if document.get("format") != ENTRY_FORMAT:
                raise EntryUnreadable(f"entry format {document.get('format')!r}; this release reads {ENTRY_FORMAT}")
            stats = document["capture"]
            predictions_file = profile_file.with_name(HOUR_PREDICTIONS)
            return cls(
                hour=floor_hour(datetime.fromisoformat(document["hour"].replace("Z", "+00:00"))),
                profile=WindowProfile.from_json(document["profile"]),
                objects=tuple(document["objects"]),
                predictions=read_predictions(predictions_file) if predictions_file.is_file() else _no_predictions(),
                capture=CaptureStats.from_dict(stats),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise EntryUnreadable(f"{profile_file}: {type(error).__name__}: {error}") from error


def read_predictions(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    missing = [c for c in PREDICTION_COLUMNS if c not in frame.columns]
    if missing:
        raise EntryUnreadable(f"{path}: no column(s) {missing}")
    return frame[list(PREDICTION_COLUMNS)]


def _no_predictions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            INFERENCE_ID_COLUMN: pd.Series(dtype="object"),
            PREDICTION_COLUMN: pd.Series(dtype="float64"),
            INFERENCE_TIME_COLUMN: pd.Series(dtype="datetime64[ns, UTC]"),
        }
    )


def _concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    kept = [frame for frame in frames if len(frame)]
    return pd.concat(kept, ignore_index=True) if kept else _no_predictions()


def _predictions(frame: pd.DataFrame) -> pd.DataFrame:
    """Every record's score, with its inference id (labels join by it) and time where the capture
    has them: a record without an id is kept for the window's estimated performance."""
    if PREDICTION_COLUMN not in frame.columns:
        return _no_predictions()
    ids = (
        frame[INFERENCE_ID_COLUMN].astype(str).where(frame[INFERENCE_ID_COLUMN].notna(), None)
        if INFERENCE_ID_COLUMN in frame.columns
        else pd.Series(None, index=frame.index, dtype="object")
    )
    times = (
        pd.to_datetime(frame[INFERENCE_TIME_COLUMN], utc=True)
        if INFERENCE_TIME_COLUMN in frame.columns
        else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    )
    # Columns as they are (a tz-aware time column to numpy is an object array, one Timestamp a row).
    return pd.DataFrame(
        {
            INFERENCE_ID_COLUMN: ids,
            PREDICTION_COLUMN: frame[PREDICTION_COLUMN],
            INFERENCE_TIME_COLUMN: times,
        }
    ).reset_index(drop=True)


def _by_hour(
    key: str, frame: pd.DataFrame, stats: CaptureStats
) -> Iterator[tuple[datetime, pd.DataFrame, CaptureStats]]:
    """The records of one capture object by hour: its folder's, else each record's inference hour."""
    folder_hour = partition_of(key)
    if folder_hour is not None:
        yield folder_hour, frame, stats
        return
    if INFERENCE_TIME_COLUMN not in frame.columns or not len(frame):
        if len(frame):
            stats.skip(len(frame), f"{key}: {len(frame)} records with neither an hour folder nor an inference time")
        return
    hours = pd.to_datetime(frame[INFERENCE_TIME_COLUMN], utc=True).dt.floor("h")
    untimed = int(hours.isna().sum())
    stats.skip(untimed, f"{key}: {untimed} records with neither an hour folder nor an inference time")
    first = True
    for hour, part in frame[hours.notna()].groupby(hours[hours.notna()], sort=True):
        # The file's counts go with its first hour, so they are counted once.
        yield pd.Timestamp(hour).to_pydatetime(), part, stats if first else CaptureStats()
        first = False


def profile_capture(
    folder: Path,
    config: ModelConfig,
    reference: BaselineReference,
    baseline: str,
    covered: Mapping[datetime, HourEntry] | None = None,
) -> tuple[dict[datetime, HourEntry], CaptureStats]:
    """Every capture object below `folder` profiled, by hour, except those `covered` (stored
    entries) already hold; and what belongs to no hour (files that are not capture, records with
    neither an hour folder nor a time)."""
    entries: dict[datetime, HourEntry] = {}
    unplaced: list[CaptureStats] = []
    held = {key for entry in (covered or {}).values() for key in entry.objects}
    again: list[str] = []

    def unseen(path: str) -> bool:  # an object a stored hour holds is not read again: counted once
        if object_key(path) in held:
            again.append(object_key(path))
            return False
        return True

    for path_key, frame, stats in capture_files(folder, config, unseen):
        key = object_key(path_key)
        parts = list(_by_hour(key, frame, stats))
        if not parts:
            unplaced.append(stats)
        for hour, part, part_stats in parts:
            entry = HourEntry(
                hour=hour,
                profile=WindowProfile.of(reference, part, config.model.features, baseline),
                objects=(key,),
                predictions=_predictions(part),
                capture=part_stats,  # a file's counts go with its first hour only (_by_hour)
            )
            entries[hour] = entries[hour].merge(entry)[0] if hour in entries else entry
    if again:
        unplaced.append(
            CaptureStats(
                problems=[
                    f"{len(again)} capture object(s) already profiled in a stored hour (first {again[0]}): counted once"
                ]
            )
        )
    return entries, merge_stats(unplaced)


def read_entries(folder: Path, baseline: str) -> tuple[dict[datetime, HourEntry], pd.DataFrame, list[str]]:
    """Stored entries below `folder`: this baseline's by hour, every predictions file found (any
    baseline's: predictions do not depend on it), and the problems met."""
    entries: dict[datetime, HourEntry] = {}
    problems: list[str] = []
    for profile_file in sorted(folder.rglob(HOUR_PROFILE)) if folder.exists() else []:
        try:
            entry = HourEntry.read(profile_file)
        except EntryUnreadable as error:
            problems.append(str(error))
            continue
        if entry.profile.baseline != baseline:
            continue
        if entry.hour in entries:
            entries[entry.hour], found = entries[entry.hour].merge(entry)
            problems += found
        else:
            entries[entry.hour] = entry
    predictions = []
    for predictions_file in sorted(folder.rglob(HOUR_PREDICTIONS)) if folder.exists() else []:
        try:
            predictions.append(read_predictions(predictions_file))
        except (OSError, ValueError) as error:
            problems.append(f"{predictions_file}: {error}")
    return entries, _concat(predictions), problems


def merge_entries(
    groups: Iterable[Mapping[datetime, HourEntry]],
) -> tuple[dict[datetime, HourEntry], list[str]]:
    """Entries of the same hours from several sources, merged hour by hour."""
    merged: dict[datetime, HourEntry] = {}
    problems: list[str] = []
    for group in groups:
        for hour, entry in group.items():
            if hour in merged:
                merged[hour], found = merged[hour].merge(entry)
                problems += found
            else:
                merged[hour] = entry
    return merged, problems


def window_profile(entries: Mapping[datetime, HourEntry], hours: Sequence[datetime], baseline: str) -> WindowProfile:
    return merge_all((entries[hour].profile for hour in hours if hour in entries), baseline)


def window_stats(entries: Mapping[datetime, HourEntry], hours: Sequence[datetime]) -> CaptureStats:
    return merge_stats(entries[hour].capture for hour in hours if hour in entries)


def unique_predictions(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Predictions of several sources for the label join: each inference id once (the first seen);
    records without an id cannot meet a label and are left out."""
    combined = _concat(frames)
    identified = combined[combined[INFERENCE_ID_COLUMN].notna()]
    return identified.drop_duplicates(INFERENCE_ID_COLUMN, keep="first").reset_index(drop=True)


def window_scores(entries: Mapping[datetime, HourEntry], hours: Sequence[datetime]) -> pd.Series:
    """Every score captured in the window's hours, with or without an id or a time: what the
    window's performance is estimated from."""
    frames = [entries[hour].predictions[PREDICTION_COLUMN] for hour in hours if hour in entries]
    kept = [frame for frame in frames if len(frame)]
    return pd.concat(kept, ignore_index=True) if kept else pd.Series(dtype="float64")
