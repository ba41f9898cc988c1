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
    import pyarrow as pa

    from training_containers.manifest import describe_split, table_sha256

    def content(frame: pd.DataFrame) -> str:
        return table_sha256(pa.Table.from_pandas(frame, preserve_index=False))

    frame = pd.DataFrame({"x": [1.0, 2.0, float("nan")], "region": ["north", None, "east"], "w": [1, 1, 2]})
    frame.to_parquet(tmp_path / "a.parquet", index=False)
    frame.to_parquet(tmp_path / "b.parquet", index=False, compression="gzip")  # other bytes, same rows
    a, b = describe_split(tmp_path / "a.parquet"), describe_split(tmp_path / "b.parquet")
    assert a["sha256"] == b["sha256"] == content(frame)
    assert a["file_sha256"] != b["file_sha256"] and a["rows"] == 3
    with pd.option_context("future.infer_string", False):  # how pandas 2 reads text: object dtype
        assert describe_split(tmp_path / "a.parquet")["sha256"] == a["sha256"]
    assert content(frame.iloc[::-1]) != content(frame)  # the order is part of the content
    assert content(frame.assign(w=[1, 1, 3])) != content(frame)  # and every weight
    assert content(frame.astype({"w": "float64"})) != content(frame)  # and the types


def test_a_run_keeps_only_the_objects_no_run_kept_before_linked_not_copied(tmp_path: Path) -> None:
    from training_containers.manifest import snapshot

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "a.csv").write_text("a\n1\n")
    (fresh / "b.csv").write_text("a\n2\n")
    entries = describe_inputs({"fresh": fresh}, {}, None)
    kept_before = {f"s3://art/m/lineage/objects/{entries[0]['sha256']}"}
    out = tmp_path / "snapshot"

    added = snapshot(entries, {"fresh": fresh}, out, "s3://art/m/lineage/objects/", kept_before.__contains__)

    assert added == 1 and sorted(p.name for p in out.iterdir()) == [entries[1]["sha256"]]
    assert (out / entries[1]["sha256"]).stat().st_ino == (fresh / "b.csv").stat().st_ino  # a link, no second copy
    assert [e["snapshot"] for e in entries] == [f"s3://art/m/lineage/objects/{e['sha256']}" for e in entries]


def test_head_object_says_whether_a_lineage_copy_is_kept(job: Path) -> None:
    from training_containers.manifest import s3_object_exists

    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="art")
        s3.put_object(Bucket="art", Key="m/lineage/objects/abc", Body=b"x")
        exists = s3_object_exists(s3)
        assert exists("s3://art/m/lineage/objects/abc") is True
        assert exists("s3://art/m/lineage/objects/def") is False
