"""The local model registry: versions, metadata merges, events, and two writers at once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from pipelines.registry.local import LocalRegistry, RegistryError


def request(group: str = "fraud", reason: str = "drift") -> dict[str, object]:
    return {
        "ModelPackageGroupName": group,
        "ModelApprovalStatus": "PendingManualApproval",
        "CustomerMetadataProperties": {"TriggerReason": reason, "CodeVersion": "abc"},
        "InferenceSpecification": {"Containers": [{"Image": "img", "ModelDataUrl": "s3://b/m.tar.gz"}]},
    }


def test_versions_are_numbered_per_group_and_fields_kept(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "r.db", "eu-west-1", "123456789012")
    registry.create_model_package_group("fraud")
    registry.create_model_package_group("churn")
    first = registry.create_model_package(request())
    second = registry.create_model_package(request(reason="sla"))
    other = registry.create_model_package(request("churn"))
    assert first == "arn:aws:sagemaker:eu-west-1:123456789012:model-package/fraud/1"
    assert second.endswith("fraud/2") and other.endswith("churn/1")
    described = registry.describe_model_package(second)
    assert described["ModelPackageVersion"] == 2
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["CustomerMetadataProperties"] == {"TriggerReason": "sla", "CodeVersion": "abc"}
    assert described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == "s3://b/m.tar.gz"
    assert [p["ModelPackageVersion"] for p in registry.list_model_packages("fraud")] == [2, 1]


def test_updates_merge_metadata_and_keep_an_event_trail(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "r.db")
    registry.create_model_package_group("fraud")
    arn = registry.create_model_package(request())
    registry.update_model_package(arn, approval_status="Approved", approval_description="looks good", actor="alice")
    described = registry.update_model_package(arn, metadata={"Stage": "shadow"}, actor="promotion")
    assert described["CustomerMetadataProperties"] == {
        "TriggerReason": "drift",
        "CodeVersion": "abc",
        "Stage": "shadow",
    }
    assert described["ModelApprovalStatus"] == "Approved" and described["ApprovalDescription"] == "looks good"
    changes = [(e["change"], e["actor"]) for e in registry.events(arn)]
    assert changes == [
        ("registered PendingManualApproval", "pipeline"),
        ("PendingManualApproval -> Approved", "alice"),
        ("metadata Stage", "promotion"),
    ]
    assert [p["ModelPackageArn"] for p in registry.list_model_packages("fraud", "Approved")] == [arn]


def test_bad_requests_are_refused_with_the_reason(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "r.db")
    with pytest.raises(RegistryError, match="Model Package Group 'fraud' does not exist"):
        registry.create_model_package(request())
    registry.create_model_package_group("fraud")
    with pytest.raises(RegistryError, match="'Maybe' is not one of"):
        registry.create_model_package({**request(), "ModelApprovalStatus": "Maybe"})
    with pytest.raises(RegistryError, match="does not exist"):
        registry.update_model_package("arn:aws:sagemaker:us-east-1:1:model-package/fraud/9", approval_status="Approved")


def _register_many(path: str, count: int) -> None:
    registry = LocalRegistry(Path(path))
    for _ in range(count):
        registry.create_model_package(request())


def test_concurrent_writers_never_share_or_lose_a_version(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    LocalRegistry(path).create_model_package_group("fraud")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_register_many, args=(str(path), 15)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    versions = sorted(p["ModelPackageVersion"] for p in LocalRegistry(path).list_model_packages("fraud"))
    assert versions == list(range(1, 46))
