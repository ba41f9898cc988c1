"""The dataset manifest: every object a run read, so the exact training data can be rebuilt.

Inside a SageMaker processing container, /opt/ml/config/processingjobconfig.json says which S3
URI each input came from; each file's S3 object and version id follow from that. Locally the
file's own path is recorded. Size and sha256 are always measured from the bytes read.

The manifest (format 2) also records the window argument and each split's rows and content hash
(`describe_split`), so `python -m pipelines reconstruct` can rebuild the splits from the objects
and prove them equal (pipelines.lineage).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.naming import split_uri
from training_containers.contract import opt_ml
from training_containers.files import list_tables, read_json, sha256_of

VersionLookup = Callable[[str, str], str | None]
MANIFEST_FORMAT = 2  # 1: inputs only (no splits, no window argument, no config)
SPLIT_HASH = "arrow-schema+pandas-row-hashes"  # how `table_sha256` hashes a split: the manifest says which


def _job_config() -> dict[str, Any]:
    """The processing job's own request (/opt/ml/config/processingjobconfig.json), or {} by hand."""
    path = opt_ml() / "config" / "processingjobconfig.json"
    found: dict[str, Any] = read_json(path) if path.exists() else {}
    return found


def input_origins() -> dict[str, dict[str, Any]]:
    """Input name -> {local_path, s3_uri, dataset_definition} from the job's own config file."""
    origins = {}
    for item in _job_config().get("ProcessingInputs", []):
        s3 = item.get("S3Input") or {}
        dataset = item.get("DatasetDefinition") or {}
        origins[item["InputName"]] = {
            "local_path": s3.get("LocalPath") or dataset.get("LocalPath"),
            "s3_uri": s3.get("S3Uri"),
            "dataset_definition": dataset or None,
        }
    return origins


def output_destination(name: str) -> str | None:
    """The S3 URI a processing output is uploaded to, from the job's own config file."""
    for item in _job_config().get("ProcessingOutputConfig", {}).get("Outputs", []):
        if item.get("OutputName") == name:
            return str((item.get("S3Output") or {}).get("S3Uri") or "") or None
    return None


def snapshot(
    entries: list[dict[str, Any]],
    inputs: dict[str, Path],
    folder: Path,
    destination: str,
    kept: Callable[[str], bool] | None = None,
) -> int:
    """Each object read, named by its sha256, in `folder` (uploaded to `destination`), unless
    `kept(uri)` says that content is there already: the same bytes are one object however many
    runs read them, and a run uploads only what no run kept before. Each entry names its copy.
    Returns how many were added."""
    folder.mkdir(parents=True, exist_ok=True)
    added = 0
    for entry in entries:
        uri = destination.rstrip("/") + "/" + entry["sha256"]
        entry["snapshot"] = uri
        target = folder / entry["sha256"]
        if target.exists() or (kept is not None and kept(uri)):
            continue
        source = inputs[entry["input"]]
        path = source if source.is_file() else source / entry["path"]
        try:
            os.link(path, target)  # the same volume: no second copy on the job's disk
        except OSError:
            shutil.copyfile(path, target)
        added += 1
    return added


def s3_object_exists(client: Any) -> Callable[[str], bool]:
    """HeadObject: whether a lineage copy is there already (404: it is not)."""

    def exists(uri: str) -> bool:
        bucket, key = split_uri(uri)
        try:
            client.head_object(Bucket=bucket, Key=key)
        except Exception as error:
            if getattr(error, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    return exists


def s3_version_lookup(client: Any) -> VersionLookup:
    """Version ids through HeadObject; None when the bucket is unversioned."""

    def lookup(bucket: str, key: str) -> str | None:
        version = client.head_object(Bucket=bucket, Key=key).get("VersionId")
        return None if version in (None, "null") else str(version)

    return lookup


def describe_inputs(
    inputs: dict[str, Path],
    origins: dict[str, dict[str, Any]],
    versions: VersionLookup | None,
    files: dict[str, list[Path]] | None = None,
) -> list[dict[str, Any]]:
    """One entry per file read: the tables of each input (what was read; a stray file fails the
    data checks), or the files `files` names for an input that holds no table (the config)."""
    entries = []
    for name, folder in sorted(inputs.items()):
        origin = origins.get(name, {})
        for path in (files or {}).get(name) or list_tables(folder).tables:
            relative = path.relative_to(folder).as_posix() if folder.is_dir() else path.name
            entry: dict[str, Any] = {
                "input": name,
                "path": relative,
                "size": path.stat().st_size,
                "sha256": sha256_of(path),
            }
            s3_uri = origin.get("s3_uri")
            if s3_uri and str(s3_uri).startswith("s3://"):
                # An input naming one object (the content-addressed config) holds it under its own
                # name; an input naming a prefix holds each object under its key below the prefix.
                exact = str(s3_uri).rstrip("/").endswith("/" + relative)
                uri = str(s3_uri) if exact else str(s3_uri).rstrip("/") + "/" + relative
                entry["uri"] = uri
                bucket, _, key = uri.removeprefix("s3://").partition("/")
                entry["version_id"] = versions(bucket, key) if versions else None
            else:
                entry["uri"] = str(path.resolve())
            if origin.get("dataset_definition"):
                entry["dataset_definition"] = origin["dataset_definition"]
            entries.append(entry)
    return entries


def table_sha256(table: pa.Table) -> str:
    """A table's content, whatever file holds it and whichever pandas reads it: sha256 over its
    Arrow schema (column names and types) and pandas' hash of every row, in order (the same rows
    in another order differ; a text value hashes alike as object or string dtype)."""
    digest = hashlib.sha256(json.dumps([[field.name, str(field.type)] for field in table.schema]).encode())
    digest.update(pd.util.hash_pandas_object(table.to_pandas(), index=False).to_numpy().tobytes())
    return digest.hexdigest()


def describe_split(path: Path) -> dict[str, Any]:
    """A split as DataPull wrote it: rows, content hash (read back from the file) and file hash."""
    table = pq.read_table(path)
    return {"file": path.name, "rows": table.num_rows, "sha256": table_sha256(table), "file_sha256": sha256_of(path)}
