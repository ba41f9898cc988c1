"""The dataset manifest records S3 version ids on SageMaker (moto stands in for S3)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pandas as pd
import pytest
from moto import mock_aws

from training_containers.files import sha256_of
from training_containers.manifest import describe_inputs, input_origins, s3_version_lookup


@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPT_ML_ROOT", str(tmp_path))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "processingjobconfig.json").write_text(
        json.dumps(
            {
                "ProcessingInputs": [
                    {
                        "InputName": "fresh",
                        "S3Input": {"S3Uri": "s3://data/labelled/", "LocalPath": "/opt/ml/processing/input/fresh"},
                    },
                ]
            }
        )
    )
    return tmp_path


def test_manifest_has_version_ids_sizes_and_hashes(job: Path) -> None:
    local = job / "processing" / "input" / "fresh" / "day=1"
    local.mkdir(parents=True)
    (local / "part-0.csv").write_text("a,b\n1,2\n")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="data")
        s3.put_bucket_versioning(Bucket="data", VersioningConfiguration={"Status": "Enabled"})
        s3.put_object(Bucket="data", Key="labelled/day=1/part-0.csv", Body=b"old")
        latest = s3.put_object(Bucket="data", Key="labelled/day=1/part-0.csv", Body=b"a,b\n1,2\n")["VersionId"]

        origins = input_origins()
        entries = describe_inputs({"fresh": job / "processing" / "input" / "fresh"}, origins, s3_version_lookup(s3))

    assert origins["fresh"]["s3_uri"] == "s3://data/labelled/"
    (entry,) = entries
    assert entry["uri"] == "s3://data/labelled/day=1/part-0.csv"
    assert entry["version_id"] == latest
    assert entry["size"] == 8 and entry["sha256"] == sha256_of(local / "part-0.csv")


def test_local_inputs_record_their_path(tmp_path: Path) -> None:
    folder = tmp_path / "fresh"
    folder.mkdir()
    (folder / "x.parquet").write_bytes(b"PAR1")
    (entry,) = describe_inputs({"fresh": folder}, {}, None)
    assert entry["uri"] == str((folder / "x.parquet").resolve()) and "version_id" not in entry


def test_a_tables_content_hash_follows_its_rows_their_order_and_types_not_its_file(tmp_path: Path) -> None:
    from training_containers.manifest import describe_split, frame_sha256

    frame = pd.DataFrame({"x": [1.0, 2.0, float("nan")], "region": ["north", None, "east"], "w": [1, 1, 2]})
    frame.to_parquet(tmp_path / "a.parquet", index=False)
    frame.to_parquet(tmp_path / "b.parquet", index=False, compression="gzip")  # other bytes, same rows
    a, b = describe_split(tmp_path / "a.parquet"), describe_split(tmp_path / "b.parquet")
    assert a["sha256"] == b["sha256"] == frame_sha256(pd.read_parquet(tmp_path / "a.parquet"))
    assert a["file_sha256"] != b["file_sha256"] and a["rows"] == 3
    assert frame_sha256(frame.iloc[::-1]) != frame_sha256(frame)  # the order is part of the content
    assert frame_sha256(frame.assign(w=[1, 1, 3])) != frame_sha256(frame)  # and every weight
    assert frame_sha256(frame.astype({"w": "float64"})) != frame_sha256(frame)  # and the types
