"""A model version's lifecycle, as a state machine.

    registered --approve--> approved --start_shadow--> shadow --promote--> production --retire--> retired
        |                      |  \\--deploy (no production yet)-------------^       ^                |
        \\--reject--> rejected <-/   \\--force_promote------------------------/       \\---restore------/
                          ^-------------------- shadow --reject

The stage lives in the model package's customer metadata (`PromotionStage`); the approval
status SageMaker shows follows from it (`approval_status`), and so does the package's own
lifecycle (`ModelLifeCycle`: Stage, StageStatus, StageDescription), which Studio and
ListModelPackages/Search show (`life_cycle`). Every other move is refused with a message that
says what the version is and what it could do instead.
"""

from __future__ import annotations

from enum import StrEnum

from pipelines.errors import PipelinesError

STAGE_KEY = "PromotionStage"


class Stage(StrEnum):
    REGISTERED = "registered"
    APPROVED = "approved"
    SHADOW = "shadow"
    PRODUCTION = "production"
    RETIRED = "retired"
    REJECTED = "rejected"


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    START_SHADOW = "start_shadow"
    DEPLOY = "deploy"
    PROMOTE = "promote"
    FORCE_PROMOTE = "force_promote"
    RETIRE = "retire"
    RESTORE = "restore"


TRANSITIONS: dict[tuple[Stage, Action], Stage] = {
    (Stage.REGISTERED, Action.APPROVE): Stage.APPROVED,
    (Stage.REGISTERED, Action.REJECT): Stage.REJECTED,
    (Stage.APPROVED, Action.REJECT): Stage.REJECTED,
    (Stage.APPROVED, Action.START_SHADOW): Stage.SHADOW,
    (Stage.APPROVED, Action.DEPLOY): Stage.PRODUCTION,
    (Stage.APPROVED, Action.FORCE_PROMOTE): Stage.PRODUCTION,
    (Stage.SHADOW, Action.PROMOTE): Stage.PRODUCTION,
    (Stage.SHADOW, Action.FORCE_PROMOTE): Stage.PRODUCTION,
    (Stage.SHADOW, Action.REJECT): Stage.REJECTED,
    (Stage.PRODUCTION, Action.RETIRE): Stage.RETIRED,
    (Stage.RETIRED, Action.RESTORE): Stage.PRODUCTION,
}

APPROVAL_STATUS = {
    Stage.REGISTERED: "PendingManualApproval",
    Stage.REJECTED: "Rejected",
}


# A stage as the Model Registry's own lifecycle shows it (CreateModelPackage and UpdateModelPackage,
# `ModelLifeCycle`: Stage and StageStatus are 1 to 63 letters, digits and hyphens, StageDescription
# up to 1024 characters; botocore's service model, checked in tests/unit/test_promotion.py). A
# retired version is the previous champion: any retired version can be restored (`restore`).
LIFE_CYCLE: dict[Stage, tuple[str, str]] = {
    Stage.REGISTERED: ("Candidate", "PendingApproval"),
    Stage.APPROVED: ("Candidate", "Approved"),
    Stage.SHADOW: ("Shadow", "InProgress"),
    Stage.PRODUCTION: ("Production", "Serving"),
    Stage.RETIRED: ("PreviousChampion", "Restorable"),
    Stage.REJECTED: ("Rejected", "Rejected"),
}
LIFE_CYCLE_DESCRIPTION_LIMIT = 1024


def life_cycle(stage: Stage, description: str) -> dict[str, str]:
    """The `ModelLifeCycle` of a version in `stage`; the description says why it got there."""
    name, status = LIFE_CYCLE[stage]
    return {"Stage": name, "StageStatus": status, "StageDescription": description[:LIFE_CYCLE_DESCRIPTION_LIMIT]}


class IllegalTransition(PipelinesError):
    """The requested move is not allowed from the version's current stage."""


def allowed(stage: Stage) -> list[Action]:
    return [action for (source, action) in TRANSITIONS if source is stage]


def next_stage(stage: Stage, action: Action, version: str = "this version") -> Stage:
    target = TRANSITIONS.get((stage, action))
    if target is None:
        options = ", ".join(a.value for a in allowed(stage)) or "nothing (final stage)"
        raise IllegalTransition(
            f"cannot {action.value} {version}: it is {stage.value}; from {stage.value} it can: {options}"
        )
    return target


def approval_status(stage: Stage) -> str:
    return APPROVAL_STATUS.get(stage, "Approved")


def stage_of(approval: str, metadata: dict[str, str]) -> Stage:
    """The stage of a package as the registry describes it. Studio only changes the approval
    status, so an Approved package without a recorded stage is `approved`, and a package
    rejected in Studio is `rejected` whatever its stage said."""
    if approval == "Rejected":
        return Stage.REJECTED
    recorded = metadata.get(STAGE_KEY)
    if recorded is not None and recorded in {s.value for s in Stage}:
        stage = Stage(recorded)
        if approval == "Approved" and stage is Stage.REGISTERED:
            return Stage.APPROVED
        return stage
    return Stage.APPROVED if approval == "Approved" else Stage.REGISTERED
