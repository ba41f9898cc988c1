"""A model version as the promotion controller sees it: a registry package with its lifecycle
stage and the metadata the controller keeps on it, and the reading of a group's versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pipelines import naming
from pipelines.config import ModelConfig
from pipelines.naming import PROGRAM_ENVIRONMENT
from pipelines.promotion.endpoint import Version
from pipelines.promotion.lifecycle import IllegalTransition, Stage, stage_of

SHADOW_STARTED = "ShadowStartedAt"
RETIRED_BY = "RetiredBy"
CHANGED_AT = "StageChangedAt"
CHANGE_SEQUENCE = "StageChangeSequence"  # orders two moves within the same second of StageChangedAt
RESTORED_BY = "RestoredBy"  # on a version restored to production: "rollback" or "guardrails"
ROLLBACK_OF = "RollbackOf"  # on a version restored by rollback: the version it replaced
UPDATE_REQUESTED = "EndpointUpdateRequestedAt"  # on a promoted version, once its UpdateEndpoint was sent
# What a version was made from (the Register step writes them): the dataset manifest, the training
# environment's hash, the job code's content hash, a script's content-addressed source archive, the
# image, and the execution that trained it. `reconstruct` and `reproduce` start from them.
LINEAGE = ("PipelineExecutionArn", "DatasetManifest", "EnvironmentHash", "CodeVersion", "SourceArchive", "ImageUri")


class Registry(Protocol):
    def describe_model_package(self, arn: str) -> dict[str, Any]: ...

    def list_model_packages(self, group: str, approval_status: str | None = None) -> list[dict[str, Any]]: ...

    def update_model_package(
        self,
        arn: str,
        *,
        approval_status: str | None = None,
        approval_description: str | None = None,
        metadata: dict[str, str] | None = None,
        actor: str = "user",
        life_cycle: dict[str, str] | None = None,
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ModelVersion:
    version: Version
    stage: Stage
    metadata: dict[str, str]
    created: str
    image_digest: str = ""  # SageMaker's, of the registered container's image (not set locally)

    @property
    def arn(self) -> str:
        return self.version.package_arn

    @property
    def label(self) -> str:
        return f"v{self.version.number}"

    @property
    def lineage(self) -> dict[str, str]:
        found = {name: self.metadata[name] for name in LINEAGE if name in self.metadata}
        return found | ({"ImageDigest": self.image_digest} if self.image_digest else {})


def model_version(described: dict[str, Any]) -> ModelVersion:
    container = described.get("InferenceSpecification", {}).get("Containers", [{}])[0]
    metadata = dict(described.get("CustomerMetadataProperties", {}))
    return ModelVersion(
        version=Version(
            package_arn=described["ModelPackageArn"],
            number=int(described["ModelPackageVersion"]),
            model_data=str(container.get("ModelDataUrl", "")),
            image=str(container.get("Image", "")),
            baseline=metadata.get("BaselineProfile", ""),
            program=tuple(
                (name, str(value))
                for name, value in sorted(container.get("Environment", {}).items())
                if name in PROGRAM_ENVIRONMENT
            ),
        ),
        stage=stage_of(str(described.get("ModelApprovalStatus")), metadata),
        metadata=metadata,
        created=str(described.get("CreationTime", "")),
        image_digest=str(container.get("ImageDigest", "")),
    )


def update_requested(version: ModelVersion) -> bool:
    """An UpdateEndpoint serving `version` was sent while it is production: the marker is newer than
    the version's last stage change (a marker from an earlier time in production is stale)."""
    return version.metadata.get(UPDATE_REQUESTED, "") >= version.metadata.get(CHANGED_AT, "\uffff")


def changed(version: ModelVersion) -> tuple[str, int]:
    """When the version last changed stage, finer than StageChangedAt's seconds."""
    return version.metadata.get(CHANGED_AT, ""), int(version.metadata.get(CHANGE_SEQUENCE, "0"))


class VersionReading:
    """The registry's versions of the model, by stage (a mixin of the controller)."""

    config: ModelConfig
    registry: Registry
    location: str  # where the registry is, for messages ("the local workspace /path")

    def versions(self) -> list[ModelVersion]:
        """Newest first."""
        group = naming.registry_group(self.config, self.config.serving_account)
        return [model_version(p) for p in self.registry.list_model_packages(group)]

    def find(self, ref: str | int) -> ModelVersion:
        text = str(ref).removeprefix("v")
        if text.startswith("arn:"):
            # One DescribeModelPackage instead of describing the whole group, and consistent with
            # the approval event that named it (a listing may lag a change just made).
            try:
                return model_version(self.registry.describe_model_package(text))
            except Exception as error:  # SageMaker answers an unknown package with a ValidationException
                code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
                if code != "ValidationException" and not str(error).startswith("ValidationException"):
                    raise
                raise IllegalTransition(
                    f"no model version {ref!r} in group {self.config.registry.model_package_group}"
                ) from None
        for version in self.versions():
            if text in (version.arn, str(version.version.number)):
                return version
        where = f" in {self.location}" if self.location else ""
        raise IllegalTransition(f"no model version {ref!r} in group {self.config.registry.model_package_group}{where}")

    # Each reader takes an optional snapshot of `versions()`: on AWS a listing describes every
    # package of the group, so a caller that needs several answers lists once.

    def in_stage(self, stage: Stage, among: list[ModelVersion] | None = None) -> list[ModelVersion]:
        return [v for v in (self.versions() if among is None else among) if v.stage is stage]

    def production(self, among: list[ModelVersion] | None = None) -> ModelVersion | None:
        found = self.in_stage(Stage.PRODUCTION, among)
        return found[0] if found else None

    def shadow(self, among: list[ModelVersion] | None = None) -> ModelVersion | None:
        found = self.in_stage(Stage.SHADOW, among)
        return found[0] if found else None

    def previous_champion(self, among: list[ModelVersion] | None = None) -> ModelVersion | None:
        """The most recently superseded production version (a rolled-back one never counts)."""
        superseded = [v for v in self.in_stage(Stage.RETIRED, among) if v.metadata.get(RETIRED_BY) == "promotion"]
        return max(superseded, key=changed, default=None)
