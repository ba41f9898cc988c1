"""`python -m pipelines reconstruct` and `reproduce`: a version trained by the local runtime is
rebuilt from its dataset manifest, its splits proven equal to the ones it was trained on, then
retrained here with metrics equal to the registered ones; every way the recorded data can be gone
or changed, and another environment, is an error naming it; nothing is written over an output
folder without --force."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from moto import mock_aws

from pipelines.cli import main
from pipelines.lineage.objects import LocalObjects, MissingObject, S3Objects
from pipelines.lineage.reconstruct import ReconstructError, reconstruct
from pipelines.local.workspace import Workspace
from pipelines.promotion.versions import ModelVersion, model_version
from tests.problem_types import config_dict, seeded


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A workspace whose first run registered v1 (a regression, the quickest example)."""
    folder = tmp_path_factory.mktemp("reconstruct")
    workspace = seeded(config_dict("regression", "gradient_boosting", folder), folder)
    execution = workspace.run(echo=lambda _: None)
    assert execution.status == "Succeeded", execution.failure_reason
    return workspace


def copy_of(workspace: Workspace, folder: Path) -> Workspace:
    """A workspace to damage without touching the module's."""
    shutil.copytree(workspace.root, folder / "workspace")
    return Workspace(workspace.config, folder / "workspace")


def v1(workspace: Workspace) -> tuple[str, dict[str, str]]:
    (package,) = workspace.runtime().registry.list_model_packages(workspace.config.registry.model_package_group)
    version = model_version(package)
    return version.label, version.metadata


def manifest(workspace: Workspace) -> dict[str, object]:
    document: dict[str, object] = workspace.s3.read_json(v1(workspace)[1]["DatasetManifest"])
    return document


def test_the_cli_rebuilds_the_splits_a_version_was_trained_on(
    trained: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = trained.root.parent / "config.yaml"
    out = tmp_path / "v1"
    assert main(["reconstruct", str(config_file), "v1", "--out", str(out), "--workdir", str(trained.root)]) == 0

    recorded = manifest(trained)["splits"]
    report = json.loads((out / "reconstruction.json").read_text())
    for name in ("train", "validation", "test"):
        rebuilt = pd.read_parquet(out / f"{name}.parquet")
        assert len(rebuilt) == recorded[name]["rows"] > 0  # type: ignore[index]
        assert report["splits"][name]["sha256"] == recorded[name]["sha256"]  # type: ignore[index]
        assert report["splits"][name]["file_sha256_equal"] is True  # same writer, same bytes
    # the very rows the Train job read: its train channel is DataPull's output
    execution = next((trained.root / "executions").iterdir()).name
    trained_on = next(trained.root.rglob(f"*{execution}*/DataPull/output/train/train.parquet"), None) or next(
        trained.s3.root.rglob("train/train.parquet")
    )
    pd.testing.assert_frame_equal(pd.read_parquet(out / "train.parquet"), pd.read_parquet(trained_on))
    printed = capsys.readouterr().out
    assert "v1: 2 objects read and verified by size and sha256\n" in printed  # none from a lineage copy
    assert report["objects"] == len(manifest(trained)["inputs"]) >= 2  # type: ignore[arg-type]  # config and data


def test_the_manifest_records_the_config_as_its_content_addressed_object(trained: Workspace) -> None:
    entries = {entry["input"]: entry for entry in manifest(trained)["inputs"]}  # type: ignore[union-attr,index]
    config = entries["config"]
    assert config["uri"].endswith("/model-config.json") and "/config/" in config["uri"]
    assert trained.s3.path(config["uri"]).is_file()  # the object itself, not a prefix of it
    assert entries["fresh"]["uri"].startswith("s3://") and entries["fresh"]["uri"].endswith("part-0.parquet")


def test_every_object_read_is_kept_once_by_content_in_the_lineage_prefix(trained: Workspace) -> None:
    for entry in manifest(trained)["inputs"]:  # type: ignore[attr-defined]
        kept = trained.s3.path(entry["snapshot"])
        assert entry["snapshot"].endswith(f"/lineage/objects/{entry['sha256']}")
        assert kept.read_bytes() == trained.s3.path(entry["uri"]).read_bytes()


def fresh_entry(workspace: Workspace) -> dict[str, str]:
    found: dict[str, str] = next(e for e in manifest(workspace)["inputs"] if e["input"] == "fresh")  # type: ignore[attr-defined]
    return found


def test_an_overwritten_input_is_read_from_its_snapshot_and_named_when_that_is_gone_too(
    trained: Workspace, tmp_path: Path
) -> None:
    workspace = copy_of(trained, tmp_path)
    fresh = fresh_entry(workspace)
    path = workspace.s3.path(fresh["uri"])
    frame = pd.read_parquet(path)
    frame.loc[0, "x1"] += 1.0  # one value changed in place
    frame.to_parquet(path, index=False)
    label, metadata = v1(workspace)

    done = reconstruct(label, metadata, LocalObjects(workspace.s3), tmp_path / "out")
    assert done.from_snapshots == [fresh["uri"]]
    assert done.splits["train"]["sha256"] == manifest(trained)["splits"]["train"]["sha256"]  # type: ignore[index]

    workspace.s3.path(fresh["snapshot"]).unlink()
    with pytest.raises(ReconstructError) as error:
        reconstruct(label, metadata, LocalObjects(workspace.s3), tmp_path / "again")
    message = str(error.value)
    assert f"fresh object {fresh['uri']} has sha256 " in message and f"{fresh['sha256']} was read" in message
    assert f"its lineage snapshot {fresh['snapshot']} cannot be read: " in message and "no such object" in message


def test_a_deleted_input_is_read_from_its_snapshot_and_named_when_that_is_gone_too(
    trained: Workspace, tmp_path: Path
) -> None:
    workspace = copy_of(trained, tmp_path)
    fresh = fresh_entry(workspace)
    workspace.s3.path(fresh["uri"]).unlink()
    label, metadata = v1(workspace)
    assert reconstruct(label, metadata, LocalObjects(workspace.s3), tmp_path / "out").from_snapshots == [fresh["uri"]]
    workspace.s3.path(fresh["snapshot"]).unlink()
    with pytest.raises(ReconstructError, match=r"fresh object .*part-0\.parquet cannot be read: .*no such object"):
        reconstruct(label, metadata, LocalObjects(workspace.s3), tmp_path / "again")


def test_a_version_registered_before_manifests_recorded_splits_is_refused(trained: Workspace, tmp_path: Path) -> None:
    workspace = copy_of(trained, tmp_path)
    label, metadata = v1(workspace)
    old = {"inputs": manifest(workspace)["inputs"]}  # what DataPull wrote before format 2
    workspace.s3.put_bytes(metadata["DatasetManifest"], json.dumps(old).encode())
    older = {k: v for k, v in metadata.items() if k != "DatasetManifestSha256"}  # registered before it was recorded
    with pytest.raises(ReconstructError, match="manifest format 1"):
        reconstruct(label, older, LocalObjects(workspace.s3), tmp_path / "out")
    other_hash = {k: v for k, v in manifest(trained).items() if k != "split_hash"}  # splits hashed another way
    workspace.s3.put_bytes(metadata["DatasetManifest"], json.dumps(other_hash).encode())
    with pytest.raises(ReconstructError, match=r"hashes splits as an earlier version did; .* use the release"):
        reconstruct(label, older, LocalObjects(workspace.s3), tmp_path / "out")
    with pytest.raises(ReconstructError, match=r"its dataset manifest .* has sha256 \w+; the registry recorded \w+"):
        reconstruct(label, metadata, LocalObjects(workspace.s3), tmp_path / "out")  # changed after registration
    without = {k: v for k, v in metadata.items() if k != "DatasetManifest"}
    with pytest.raises(ReconstructError, match="v1 has no DatasetManifest"):
        reconstruct(label, without, LocalObjects(workspace.s3), tmp_path / "out")


def test_rebuilt_splits_that_differ_are_an_error(
    trained: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training_containers import data_pull

    original = data_pull.split

    def reversed_test(*args: object, **kwargs: object) -> tuple[pd.DataFrame, ...]:
        train, validation, test = original(*args, **kwargs)  # type: ignore[arg-type]
        return train, validation, test.iloc[::-1]  # the same rows in another order

    monkeypatch.setattr(data_pull, "split", reversed_test)  # as if DataPull's code had changed since
    label, metadata = v1(trained)
    with pytest.raises(ReconstructError, match=r"the rebuilt test split \(\d+ rows, sha256 \w+\) differs"):
        reconstruct(label, metadata, LocalObjects(trained.s3), tmp_path / "out")


def test_nothing_is_written_over_an_output_folder_without_force(trained: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    label, metadata = v1(trained)
    with pytest.raises(ReconstructError, match=r"is not empty: .*--force"):
        reconstruct(label, metadata, LocalObjects(trained.s3), out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    reconstruct(label, metadata, LocalObjects(trained.s3), out, force=True)
    assert (out / "train.parquet").is_file() and (out / "notes.txt").read_text() == "mine"


def test_on_s3_the_recorded_version_is_read_even_after_an_overwrite(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="data")
        s3.put_bucket_versioning(Bucket="data", VersioningConfiguration={"Status": "Enabled"})
        first = s3.put_object(Bucket="data", Key="fresh/part-0.csv", Body=b"a,b\n1,2\n")["VersionId"]
        s3.put_object(Bucket="data", Key="fresh/part-0.csv", Body=b"a,b\n9,9\n")  # overwritten since
        objects = S3Objects(s3)
        assert objects.read("s3://data/fresh/part-0.csv", first) == b"a,b\n1,2\n"
        assert objects.read("s3://data/fresh/part-0.csv") == b"a,b\n9,9\n"
        s3.delete_object(Bucket="data", Key="fresh/part-0.csv", VersionId=first)  # expired by a lifecycle rule
        with pytest.raises(MissingObject, match=rf"s3://data/fresh/part-0\.csv version {first}: NoSuchVersion"):
            objects.read("s3://data/fresh/part-0.csv", first)
        with pytest.raises(MissingObject, match="NoSuchKey"):
            objects.read("s3://data/other.csv")


def rewrite_environment(archive: Path, folder: Path, change: dict[str, Any]) -> dict[str, Any]:
    """The model archive with its environment record changed (`change` merged into it, a
    "packages" entry into the packages); returns the new record."""
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    metadata = json.loads((folder / "model_metadata.json").read_text())
    packages = metadata["environment"]["packages"] | change.pop("packages", {})
    metadata["environment"] |= change | {"packages": packages}
    (folder / "model_metadata.json").write_text(json.dumps(metadata))
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=path.name)
    record: dict[str, Any] = metadata["environment"]
    return record


def test_the_cli_reproduces_a_version_with_every_metric_equal(
    trained: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = trained.root.parent / "config.yaml"
    out = tmp_path / "v1"
    assert main(["reproduce", str(config_file), "1", "--out", str(out), "--workdir", str(trained.root)]) == 0

    report = json.loads((out / "reproduction.json").read_text())
    evaluation = trained.s3.read_json(v1(trained)[1]["EvaluationReport"])
    for name in ("rmse", "r2", "mae"):
        pair = report["metrics"][f"test {name}"]
        assert pair["registered"] == pair["reproduced"] == evaluation["metrics"][name]  # bit for bit
    assert any(name.startswith("validation ") for name in report["metrics"])
    assert report["model_files_identical"] == {"model.joblib": True}  # the same bytes: a deterministic fit
    printed = capsys.readouterr().out
    assert "reproduced: every metric equal" in printed and "model.joblib: sha256 identical" in printed


def test_another_environment_is_refused_naming_each_difference(trained: Workspace, tmp_path: Path) -> None:
    from pipelines.lineage.reproduce import ReproduceError, reproduce
    from pipelines.promotion.versions import model_version

    workspace = copy_of(trained, tmp_path)
    (package,) = workspace.runtime().registry.list_model_packages(workspace.config.registry.model_package_group)
    version = model_version(package)
    archive = workspace.s3.path(version.version.model_data)
    record = rewrite_environment(
        archive, tmp_path / "model", {"python": "3.10.1", "packages": {"scikit-learn": "1.5.0"}}
    )
    # the registry entry of a model trained in that environment
    from training_containers.environment import environment_hash

    anchored = {
        "ModelSha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
        "EnvironmentHash": environment_hash(record),
    }
    version = replace(version, metadata=version.metadata | anchored)

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(ReproduceError, match=r"is not empty: .*--force"):
        reproduce(version, LocalObjects(workspace.s3), tmp_path / "out")
    with pytest.raises(ReproduceError) as error:
        reproduce(version, LocalObjects(workspace.s3), tmp_path / "out", force=True)
    message = str(error.value)
    assert "v1 was trained in another environment" in message
    assert "scikit-learn 1.5.0 then, " in message and "python 3.10.1 then, " in message


def test_a_script_model_is_reproduced_from_its_registered_source_archive(tmp_path: Path) -> None:
    from pipelines.lineage.reproduce import reproduce

    workspace = seeded(config_dict("regression", "script", tmp_path), tmp_path)
    assert workspace.run(echo=lambda _: None).status == "Succeeded"
    (package,) = workspace.runtime().registry.list_model_packages(workspace.config.registry.model_package_group)
    version = model_version(package)
    source = version.metadata["SourceArchive"]
    assert source.endswith("/sourcedir.tar.gz") and workspace.s3.path(source).is_file()

    done = reproduce(version, LocalObjects(workspace.s3), tmp_path / "out")

    evaluation = workspace.s3.read_json(version.metadata["EvaluationReport"])
    assert done.metrics["test rmse"] == {
        "registered": evaluation["metrics"]["rmse"],
        "reproduced": evaluation["metrics"]["rmse"],
    }
    assert (tmp_path / "out" / "model" / "code").is_dir()  # the script's inference code, from the archive


def test_status_and_history_name_what_each_version_was_made_from(
    trained: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = copy_of(trained, tmp_path)
    config_file, where = str(trained.root.parent / "config.yaml"), ["--workdir", str(workspace.root)]
    assert main(["approve", config_file, "v1", *where, "--reason", "reviewed"]) == 0
    capsys.readouterr()
    _, metadata = v1(workspace)
    expected = {k: metadata[k] for k in ("PipelineExecutionArn", "DatasetManifest", "EnvironmentHash", "CodeVersion")}

    assert main(["status", config_file, *where, "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)["versions"]
    assert expected.items() <= listed["lineage"].items() and listed["lineage"]["ImageUri"]
    assert main(["history", config_file, *where, "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (approval,) = [r for r in records if r["action"] == "approve"]
    assert approval["version"] == "v1" and expected.items() <= approval["lineage"].items()
    assert all(r["lineage"] == {} for r in records if not r["version"])  # decisions about no version
    assert main(["history", config_file, *where]) == 0
    execution = metadata["PipelineExecutionArn"].rsplit("/", 1)[-1]
    assert f"trained by execution {execution} on {metadata['DatasetManifest']}" in capsys.readouterr().out


def test_the_image_digest_sagemaker_records_is_part_of_the_lineage(trained: Workspace) -> None:
    (package,) = trained.runtime().registry.list_model_packages(trained.config.registry.model_package_group)
    assert "ImageDigest" not in model_version(package).lineage  # the local registry computes none
    container = package["InferenceSpecification"]["Containers"][0]
    described = package | {"InferenceSpecification": {"Containers": [container | {"ImageDigest": "sha256:ab12"}]}}
    assert model_version(described).lineage["ImageDigest"] == "sha256:ab12"


def registered_version(workspace: Workspace) -> ModelVersion:
    (package,) = workspace.runtime().registry.list_model_packages(workspace.config.registry.model_package_group)
    return model_version(package)


def test_a_model_archive_changed_after_registration_is_refused(trained: Workspace, tmp_path: Path) -> None:
    from pipelines.lineage.reproduce import ReproduceError, reproduce

    workspace = copy_of(trained, tmp_path)
    version = registered_version(workspace)
    archive = workspace.s3.path(version.version.model_data)
    archive.write_bytes(archive.read_bytes() + b"\0")  # one byte more
    with pytest.raises(ReproduceError, match=r"its model archive .* has sha256 \w+; the registry recorded \w+"):
        reproduce(version, LocalObjects(workspace.s3), tmp_path / "out")


def test_an_environment_record_the_registry_does_not_vouch_for_is_refused(trained: Workspace, tmp_path: Path) -> None:
    from pipelines.lineage.reproduce import ReproduceError, reproduce

    workspace = copy_of(trained, tmp_path)
    version = registered_version(workspace)
    archive = workspace.s3.path(version.version.model_data)
    rewrite_environment(archive, tmp_path / "model", {"image_uri": "elsewhere"})
    version = replace(
        version, metadata=version.metadata | {"ModelSha256": hashlib.sha256(archive.read_bytes()).hexdigest()}
    )
    with pytest.raises(ReproduceError, match=r"not to the registry's EnvironmentHash .*changed after registration"):
        reproduce(version, LocalObjects(workspace.s3), tmp_path / "out")


def test_an_image_model_is_refused_before_anything_is_fetched(trained: Workspace, tmp_path: Path) -> None:
    from pipelines.lineage.reproduce import ReproduceError, reproduce

    workspace = copy_of(trained, tmp_path)
    version = registered_version(workspace)
    report = workspace.s3.read_json(version.metadata["EvaluationReport"])
    report["lineage"]["image"] = "111122223333.dkr.ecr.us-east-1.amazonaws.com/team/scorer:7"
    workspace.s3.put_bytes(version.metadata["EvaluationReport"], json.dumps(report).encode())
    with pytest.raises(ReproduceError, match=r"trained by the team's image .*team/scorer:7: run that image"):
        reproduce(version, LocalObjects(workspace.s3), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_stated_tolerance_accepts_what_the_same_bits_do_not(trained: Workspace, tmp_path: Path) -> None:
    from pipelines.lineage.reproduce import ReproduceError, reproduce

    workspace = copy_of(trained, tmp_path)
    version = registered_version(workspace)
    report = workspace.s3.read_json(version.metadata["EvaluationReport"])
    report["metrics"]["rmse"] += 1e-9  # as a script that is not deterministic would give
    workspace.s3.put_bytes(version.metadata["EvaluationReport"], json.dumps(report).encode())
    with pytest.raises(ReproduceError, match=r"other results \(asked for the same bits\): test rmse: "):
        reproduce(version, LocalObjects(workspace.s3), tmp_path / "out")
    done = reproduce(version, LocalObjects(workspace.s3), tmp_path / "out", force=True, tolerance=1e-6)
    assert done.tolerance == 1e-6 and done.metrics["test rmse"]["registered"] == report["metrics"]["rmse"]


class DeniedBucket:
    """S3 as it answers a caller without s3:ListBucket on the data bucket: AccessDenied."""

    def __init__(self, s3: Any, denied: str) -> None:
        self.s3, self.denied = s3, denied

    def get_object(self, **request: Any) -> Any:
        from botocore.exceptions import ClientError

        if request["Bucket"] == self.denied:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject")
        return self.s3.get_object(**request)


def test_a_source_object_s3_will_not_give_is_read_from_its_lineage_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in ("data", "artifacts"):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket="artifacts", Key="m/lineage/objects/abc", Body=b"a,b\n1,2\n")
        objects = S3Objects(DeniedBucket(s3, "data"))
        with pytest.raises(MissingObject, match=r"s3://data/fresh/part-0\.csv: AccessDenied \(Access Denied\)"):
            objects.read("s3://data/fresh/part-0.csv")
        with pytest.raises(MissingObject, match="NoSuchBucket"):
            S3Objects(s3).read("s3://nowhere/x.csv")
        entry = {
            "input": "fresh",
            "path": "part-0.csv",
            "uri": "s3://data/fresh/part-0.csv",
            "size": 8,
            "sha256": hashlib.sha256(b"a,b\n1,2\n").hexdigest(),
            "snapshot": "s3://artifacts/m/lineage/objects/abc",
        }
        from pipelines.lineage.reconstruct import _stage

        with tempfile.TemporaryDirectory() as folder:
            assert _stage(entry, objects, Path(folder)) == "lineage snapshot"
            assert (Path(folder) / "part-0.csv").read_bytes() == b"a,b\n1,2\n"
