"""The dataset manifest: every object a run read, so the exact training data can be rebuilt.

Inside a SageMaker processing container, /opt/ml/config/processingjobconfig.json says which S3
URI each input came from; each file's S3 object and version id follow from that. Locally the
file's own path is recorded. Size and sha256 are always measured from the bytes read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from training_containers.contract import opt_ml
from training_containers.files import list_tables, read_json, sha256_of

VersionLookup = Callable[[str, str], str | None]


def input_origins() -> dict[str, dict[str, Any]]:
    """Input name -> {local_path, s3_uri, dataset_definition} from the job's own config file."""
    path = opt_ml() / "config" / "processingjobconfig.json"
    if not path.exists():
        return {}
    origins = {}
    for item in read_json(path).get("ProcessingInputs", []):
        s3 = item.get("S3Input") or {}
        dataset = item.get("DatasetDefinition") or {}
        origins[item["InputName"]] = {
            "local_path": s3.get("LocalPath") or dataset.get("LocalPath"),
            "s3_uri": s3.get("S3Uri"),
            "dataset_definition": dataset or None,
        }
    return origins


def s3_version_lookup(client: Any) -> VersionLookup:
    """Version ids through HeadObject; None when the bucket is unversioned."""

    def lookup(bucket: str, key: str) -> str | None:
        version = client.head_object(Bucket=bucket, Key=key).get("VersionId")
        return None if version in (None, "null") else str(version)

    return lookup


def describe_inputs(
    inputs: dict[str, Path], origins: dict[str, dict[str, Any]], versions: VersionLookup | None
) -> list[dict[str, Any]]:
    entries = []
    for name, folder in sorted(inputs.items()):
        origin = origins.get(name, {})
        for path in list_tables(folder).tables:  # what was read; a stray file fails the data checks
            relative = path.relative_to(folder).as_posix() if folder.is_dir() else path.name
            entry: dict[str, Any] = {
                "input": name,
                "path": relative,
                "size": path.stat().st_size,
                "sha256": sha256_of(path),
            }
            s3_uri = origin.get("s3_uri")
            if s3_uri and str(s3_uri).startswith("s3://"):
                uri = str(s3_uri).rstrip("/") + "/" + relative
                entry["uri"] = uri
                bucket, _, key = uri.removeprefix("s3://").partition("/")
                entry["version_id"] = versions(bucket, key) if versions else None
            else:
                entry["uri"] = str(path.resolve())
            if origin.get("dataset_definition"):
                entry["dataset_definition"] = origin["dataset_definition"]
            entries.append(entry)
    return entries
