"""Promotion: the lifecycle state machine, the shadow verdict, and the controller driving a
SageMaker endpoint (a botocore-validated fake) through approval, shadow, promotion, rollback
and interruptions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber
from sklearn.metrics import roc_auc_score

from pipelines import naming
from pipelines.config import ModelConfig, ShadowCriteria, load_config
from pipelines.monitoring.alarms import retraining_alarm_names
from pipelines.promotion.audit import SqliteAudit
from pipelines.promotion.aws import SageMakerRegistry
from pipelines.promotion.controller import ModelVersion, Promotion
from pipelines.promotion.endpoint import (
    EndpointNeedsAttention,
    SageMakerEndpoint,
    Version,
    deployment_config,
    guardrail_alarm_names,
)
from pipelines.promotion.evidence import variant_evidence
from pipelines.promotion.lease import LEASE_SECONDS, PromotionBusy, SqliteLease
from pipelines.promotion.lifecycle import (
    STAGE_KEY,
    TRANSITIONS,
    Action,
    IllegalTransition,
    Stage,
    next_stage,
    stage_of,
)
from pipelines.promotion.shadow import ShadowEvidence, VariantEvidence, decide
from pipelines.registry.local import LocalRegistry
from tests.conftest import EXAMPLE_CONFIG
from tests.fake_sagemaker import Crash, FakeSageMaker

ROLE = "arn:aws:iam::111122223333:role/fraud-detector-endpoint"
T0 = datetime(2026, 6, 1, tzinfo=UTC)

# ---- lifecycle


@pytest.mark.parametrize(("move", "target"), list(TRANSITIONS.items()), ids=lambda v: str(v))
def test_every_legal_transition(move: tuple[Stage, Action], target: Stage) -> None:
    assert next_stage(*move) is target


@pytest.mark.parametrize(
    ("stage", "action", "message"),
    [
        (Stage.REJECTED, Action.APPROVE, "cannot approve v3: it is rejected; from rejected it can: nothing"),
        (
            Stage.REGISTERED,
            Action.PROMOTE,
            "cannot promote v3: it is registered; from registered it can: approve, reject",
        ),
        (Stage.APPROVED, Action.PROMOTE, "from approved it can: reject, start_shadow, deploy, force_promote"),
        (Stage.PRODUCTION, Action.RESTORE, "cannot restore v3: it is production"),
        (Stage.RETIRED, Action.START_SHADOW, "from retired it can: restore"),
    ],
)
def test_illegal_transitions_are_refused_with_what_is_allowed(stage: Stage, action: Action, message: str) -> None:
    with pytest.raises(IllegalTransition, match=message):
        next_stage(stage, action, "v3")


def test_stage_follows_studio_approval_status() -> None:
    assert stage_of("PendingManualApproval", {}) is Stage.REGISTERED
    assert stage_of("Approved", {}) is Stage.APPROVED
    assert stage_of("Approved", {"PromotionStage": "registered"}) is Stage.APPROVED
    assert stage_of("Rejected", {"PromotionStage": "shadow"}) is Stage.REJECTED
    assert stage_of("Approved", {"PromotionStage": "production"}) is Stage.PRODUCTION


# ---- shadow verdict

CRITERIA = ShadowCriteria(
    metric="roc_auc",
    min_labels=500,
    min_duration_hours=24,
    offline_tolerance=0.05,
    champion_margin=0.01,
    max_latency_p99_ms=200,
    max_error_rate=0.01,
)


def evidence(
    live: float = 0.95, champion: float = 0.94, offline: float = 0.96, labelled: int = 800, hours: float = 30,
    latency: float = 40.0, errors: float = 0.0, metric: str = "roc_auc",
) -> ShadowEvidence:  # fmt: skip
    return ShadowEvidence(
        started_at=T0,
        now=T0 + timedelta(hours=hours),
        shadow=VariantEvidence(max(1000, labelled), labelled, {metric: live}, latency, errors),
        production=VariantEvidence(max(1000, labelled), labelled, {metric: champion}, 30.0, 0.0),
        offline={metric: offline},
    )


def test_shadow_promotes_when_every_check_holds() -> None:
    decision = decide(evidence(), CRITERIA)
    assert decision.verdict == "promote"
    checks = {c.name: c for c in decision.checks}
    assert checks["live_roc_auc_vs_champion"].threshold == pytest.approx(0.93)
    assert checks["live_roc_auc_vs_offline"].delta == pytest.approx(0.95 - 0.91)


def test_shadow_rejected_on_accuracy_against_champion_and_offline() -> None:
    worse = decide(evidence(live=0.90, champion=0.94, offline=0.92), CRITERIA)
    assert worse.verdict == "reject"
    assert "live_roc_auc_vs_champion: observed 0.9000 < champion minus margin 0.9300 (delta -0.0300)" in worse.reason
    drifted = decide(evidence(live=0.90, champion=0.88, offline=0.97), CRITERIA)
    assert drifted.verdict == "reject" and "live_roc_auc_vs_offline" in drifted.reason
    assert "vs_champion" not in drifted.reason


def test_shadow_rejected_on_latency_or_errors_before_labels_arrive() -> None:
    slow = decide(evidence(latency=250.0, labelled=10), CRITERIA)
    assert slow.verdict == "reject" and "latency_p99_ms: observed 250 ms, limit 200 ms" in slow.reason
    failing = decide(evidence(errors=0.05), CRITERIA)
    assert failing.verdict == "reject" and "error_rate" in failing.reason


def test_shadow_waits_for_labels_and_duration() -> None:
    few = decide(evidence(labelled=120), CRITERIA)
    assert few.verdict == "wait" and few.reason == "120 labelled predictions of the 500 needed"
    early = decide(evidence(hours=5, latency=999.0), CRITERIA)
    assert early.verdict == "wait" and early.reason.startswith("shadow ran 5.0 h of the 24 h minimum")


def test_variant_evidence_joins_labels_by_inference_id() -> None:
    rng = np.random.default_rng(5)
    ids = [f"r{i}" for i in range(2000)]
    labels = rng.integers(0, 2, 2000)
    scores = np.clip(labels * 0.3 + rng.random(2000) * 0.7, 0, 1)
    captured = pd.DataFrame({"inference_id": ids, "prediction": scores})
    truth = pd.DataFrame({"inference_id": ids[:1500][::-1], "label": labels[:1500][::-1]})
    result = variant_evidence(captured, truth, 0.5, 12.0, 0.0)
    assert result.requests == 2000 and result.labelled == 1500
    assert result.metrics["roc_auc"] == pytest.approx(roc_auc_score(labels[:1500], scores[:1500]), abs=1e-12)


@pytest.mark.parametrize("labels_arrived", [False, True], ids=["no labels", "labels"])
def test_local_evidence_without_captured_traffic_waits(
    config: ModelConfig, tmp_path: Path, labels_arrived: bool
) -> None:
    """Right after approval nothing is captured yet: the verdict is to wait, not a crash."""
    from pipelines.local.storage import LocalS3
    from pipelines.promotion.local import local_evidence, write_ground_truth
    from pipelines.promotion.local_endpoint import LocalEndpoint

    s3 = LocalS3(tmp_path / "s3")
    if labels_arrived:
        write_ground_truth(s3, config, pd.DataFrame({"inference_id": ["a", "b"], "label": [1, 0]}), T0)
    endpoint = LocalEndpoint(config, tmp_path, s3)
    build = local_evidence(config, endpoint, s3, now=lambda: T0 + timedelta(hours=30))

    def version(number: int) -> ModelVersion:
        deployed = Version(f"arn:aws:sagemaker:us-east-1:111122223333:model-package/g/{number}", number, "m", "i")
        return ModelVersion(deployed, Stage.SHADOW if number == 2 else Stage.PRODUCTION, {}, "")

    evidence = build(version(2), version(1), T0)

    assert (evidence.shadow.requests, evidence.shadow.labelled) == (0, 0)
    assert (evidence.production.requests, evidence.production.labelled) == (0, 0)
    decision = decide(evidence, config.promotion.shadow)
    assert decision.verdict == "wait" and decision.reason == "the shadow has received no traffic yet"


# ---- controller against a SageMaker endpoint


class RecordingChampion:
    def __init__(self) -> None:
        self.published: list[int | None] = []

    def publish(self, version: Version | None) -> None:
        self.published.append(None if version is None else version.number)


class RecordingAlarms:
    def __init__(self) -> None:
        self.rearmed: list[tuple[tuple[str, ...], str]] = []

    def rearm(self, alarm_names: Sequence[str], reason: str) -> None:
        self.rearmed.append((tuple(alarm_names), reason))


class RefusingAlarms:
    """SetAlarmState failing (a throttle, a missing alarm)."""

    def rearm(self, alarm_names: Sequence[str], reason: str) -> None:
        raise RuntimeError("ResourceNotFound: no such alarm")


class StepClock:
    """A minute passes at every reading; `skip` jumps ahead."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now

    def skip(self, delta: timedelta) -> None:
        self.now += delta


# The example config's retraining alarms evaluate 3 periods of an hour, in a range of 5
# (`evaluation_range`): re-armed 5 h after a change.
SETTLED = timedelta(hours=5)


def register(registry: LocalRegistry, number: int) -> str:
    return registry.create_model_package(
        {
            "ModelPackageGroupName": "fraud-detector",
            "ModelApprovalStatus": "PendingManualApproval",
            "CustomerMetadataProperties": {"TriggerReason": "drift", "CodeVersion": f"c{number}"},
            "InferenceSpecification": {
                "Containers": [{"Image": "img", "ModelDataUrl": f"s3://b/v{number}/model.tar.gz"}]
            },
        }
    )


@pytest.fixture
def world(config: ModelConfig, tmp_path: Path) -> tuple[Promotion, FakeSageMaker, RecordingChampion]:
    registry = LocalRegistry(tmp_path / "registry.db")
    registry.create_model_package_group("fraud-detector")
    for number in (1, 2, 3):
        register(registry, number)
    fake = FakeSageMaker()
    champion = RecordingChampion()
    promotion = Promotion(
        config=config,
        registry=registry,
        endpoint=SageMakerEndpoint(config, fake, ROLE),
        audit=SqliteAudit(tmp_path / "audit.db"),
        champion=champion,
        clock=StepClock(),
        alarms=RecordingAlarms(),
    )
    return promotion, fake, champion


def promote_evidence(shadow: ModelVersion, production: ModelVersion, started: datetime) -> ShadowEvidence:
    """Evidence that earns promotion under the example config's shadow criteria."""
    criteria = load_config(EXAMPLE_CONFIG).promotion.shadow
    assert criteria.metric is not None
    return evidence(hours=48, labelled=criteria.min_labels, metric=criteria.metric)


def stages(promotion: Promotion) -> dict[str, str]:
    return {v.label: v.stage.value for v in promotion.versions()}


ENDPOINT = "fraud-detector-endpoint"
ARN = "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-detector/{}"


def test_first_approval_deploys_then_the_next_runs_in_shadow(world: Any) -> None:
    promotion, fake, champion = world
    promotion.approve(1, actor="alice")
    assert stages(promotion)["v1"] == "production"
    assert fake.serving(ENDPOINT) == (ARN.format(1), None)
    assert champion.published == [1]
    assert fake.models[naming.model_name("fraud-detector", 1)]["Containers"] == [{"ModelPackageName": ARN.format(1)}]

    promotion.approve(2, actor="bob")
    assert stages(promotion) == {"v3": "registered", "v2": "shadow", "v1": "production"}
    assert fake.serving(ENDPOINT) == (ARN.format(1), ARN.format(2))
    name, update = fake.calls[-1]
    assert name == "update_endpoint"
    assert "DeploymentConfig" not in update  # adding a shadow moves no production traffic
    shadow_config = fake.configs[fake.endpoints[ENDPOINT]["EndpointConfigName"]]
    assert shadow_config["ShadowProductionVariants"][0]["VariantName"] == "shadow"
    assert shadow_config["DataCaptureConfig"]["EnableCapture"] is True


def test_shadow_start_and_stop_are_plain_updates_and_only_the_production_swap_is_guarded(world: Any) -> None:
    """Guardrails need the same variant names in the old and new config (AWS "Exclusions" of
    deployment guardrails); the fake refuses anything else, as SageMaker does."""
    promotion, fake, _ = world
    promotion.approve(1)
    promotion.approve(2)
    fake.finish_updates = False
    calls = len(fake.calls)
    promotion.evaluate_shadow(promote_evidence)
    assert stages(promotion)["v2"] == "production"
    assert [r.outcome for r in promotion.audit.records("fraud-detector") if r.action == "promote"] == ["staged"]
    (first,) = [p for c, p in fake.calls[calls:] if c == "update_endpoint"]
    assert "DeploymentConfig" not in first and fake.serving(ENDPOINT) == (ARN.format(1), None)
    assert promotion.reconcile() == "busy"
    fake.finish()
    calls = len(fake.calls)
    assert promotion.reconcile() == "updating"
    (swap,) = [p for c, p in fake.calls[calls:] if c == "update_endpoint"]
    assert swap["DeploymentConfig"] == deployment_config(promotion.config)
    alarms = [a["AlarmName"] for a in swap["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]]
    assert alarms == guardrail_alarm_names(promotion.config)
    assert fake.serving(ENDPOINT) == (ARN.format(2), None)
    fake.finish()
    assert promotion.reconcile() == "unchanged"
    assert "EndpointUpdateRequestedAt" in promotion.find(2).metadata


@pytest.mark.parametrize(
    ("instances", "percent", "routing"),
    [
        (1, 10, {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}),
        (1, 50, {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}),
        (2, 10, {"Type": "CANARY", "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1}, "WaitIntervalInSeconds": 300}),
        (3, 50, {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}),
        (4, 50, {"Type": "CANARY", "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 2}, "WaitIntervalInSeconds": 300}),
        (
            20,
            10,
            {"Type": "CANARY", "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 2}, "WaitIntervalInSeconds": 300},
        ),
    ],
)
def test_a_canary_is_at_most_half_the_fleet_else_the_rollout_is_all_at_once(
    config: ModelConfig, tmp_path: Path, instances: int, percent: int, routing: dict[str, Any]
) -> None:
    """TrafficRoutingConfig.CanarySize must be at most 50% of the variant's instance count; the
    fake refuses a promotion that breaks it, as SageMaker does."""
    promotion_section = config.promotion.model_copy(
        update={
            "instance_count": instances,
            "deployment": config.promotion.deployment.model_copy(update={"canary_percent": percent}),
        }
    )
    sized = config.model_copy(update={"promotion": promotion_section})
    assert deployment_config(sized)["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == routing
    registry = LocalRegistry(tmp_path / "registry.db")
    registry.create_model_package_group("fraud-detector")
    for number in (1, 2):
        register(registry, number)
    fake = FakeSageMaker()
    promotion = Promotion(
        sized, registry, SageMakerEndpoint(sized, fake, ROLE), SqliteAudit(tmp_path / "a.db"), RecordingChampion()
    )
    promotion.approve(1)
    promotion.approve(2)
    promotion.evaluate_shadow(promote_evidence)
    promotion.reconcile()
    assert fake.serving(ENDPOINT) == (ARN.format(2), None)
    assert [c for c, p in fake.calls if c == "update_endpoint" and "DeploymentConfig" in p] == ["update_endpoint"]


def test_duplicate_approval_event_changes_nothing(world: Any) -> None:
    promotion, fake, _ = world
    promotion.approve(1)
    promotion.approve(2)
    calls = len(fake.calls)
    promotion.on_approved(ARN.format(2), event_id="evt-1")
    promotion.on_approved(ARN.format(2), event_id="evt-1")
    assert not [c for c, _ in fake.calls[calls:] if c.startswith(("create", "update"))]
    assert [r.outcome for r in promotion.audit.records("fraud-detector")][-2:] == ["duplicate", "duplicate"]


def test_shadow_verdict_promotes_and_rollback_restores_in_one_command(world: Any) -> None:
    promotion, fake, champion = world
    promotion.approve(1)
    promotion.approve(2)
    decision = promotion.evaluate_shadow(promote_evidence)
    assert decision is not None and decision.verdict == "promote"
    assert stages(promotion) == {"v3": "registered", "v2": "production", "v1": "retired"}
    assert fake.serving(ENDPOINT) == (ARN.format(2), None)
    assert promotion.previous_champion() is not None and promotion.previous_champion().label == "v1"  # type: ignore[union-attr]

    restored = promotion.rollback(actor="oncall", reason="conversion dropped")
    assert restored.label == "v1" and stages(promotion)["v2"] == "retired"
    assert fake.serving(ENDPOINT) == (ARN.format(1), None)
    assert "DeploymentConfig" not in fake.calls[-1][1]  # rollback switches at once
    assert champion.published == [1, 2, 1]
    with pytest.raises(IllegalTransition, match="cannot roll back v1: there is no previous champion to restore"):
        promotion.rollback()
    actions = [(r.action, r.version) for r in promotion.audit.records("fraud-detector")]
    assert actions[-4:] == [("promote", "v2"), ("rearm_alarms", "v2"), ("rollback", "v1"), ("rearm_alarms", "v1")]


def test_every_change_of_production_rearms_the_retraining_alarms_once_they_saw_only_it(
    world: Any, config: ModelConfig
) -> None:
    promotion, _, _ = world
    alarms: RecordingAlarms = promotion.alarms
    names = tuple(retraining_alarm_names(config))
    assert len(names) == 2 and all(n.startswith("fraud-detector-retrain-") for n in names)
    promotion.approve(1)  # first deploy: re-arm scheduled, not done (the alarms still hold no v1 data)
    promotion.approve(2)  # shadow: production unchanged
    assert alarms.rearmed == [] and not promotion.rearm_if_due()
    promotion.clock.skip(SETTLED)
    assert promotion.rearm_if_due() and alarms.rearmed == [(names, "re-armed: production is now v1")]
    assert not promotion.rearm_if_due()  # once per change of production

    promotion.evaluate_shadow(promote_evidence)  # v2 promoted
    promotion.clock.skip(SETTLED - timedelta(minutes=10))
    promotion.tick(promote_evidence)  # not due yet: the alarms' oldest period still saw v1
    assert alarms.rearmed[1:] == []
    promotion.clock.skip(timedelta(minutes=10))
    promotion.tick(promote_evidence)
    assert alarms.rearmed[1:] == [(names, "re-armed: production is now v2")]

    promotion.rollback(actor="oncall", reason="conversion dropped")
    promotion.clock.skip(SETTLED)
    promotion.tick(promote_evidence)
    promotion.tick(promote_evidence)
    assert alarms.rearmed[2:] == [(names, "re-armed: production is now v1")]

    rearms = [r for r in promotion.audit.records("fraud-detector") if r.action == "rearm_alarms"]
    assert [(r.version, r.outcome, r.actor) for r in rearms] == [
        ("v1", "scheduled", "user"),
        ("v1", "re-armed", "shadow-evaluation"),
        ("v2", "scheduled", "shadow-evaluation"),
        ("v2", "re-armed", "shadow-evaluation"),
        ("v1", "scheduled", "oncall"),
        ("v1", "re-armed", "shadow-evaluation"),
    ]
    assert rearms[-1].details["alarms"] == list(names)
    changed = promotion.production().metadata["StageChangedAt"]  # type: ignore[union-attr]
    assert datetime.fromisoformat(rearms[-2].details["due"]) - datetime.fromisoformat(changed) == SETTLED


def test_a_change_of_production_before_the_rearm_was_due_rearms_only_for_the_newest(world: Any) -> None:
    promotion, _, _ = world
    promotion.approve(1)
    promotion.approve(2)
    promotion.evaluate_shadow(promote_evidence)
    promotion.rollback(actor="oncall", reason="conversion dropped")
    promotion.clock.skip(SETTLED)
    assert promotion.rearm_if_due() and not promotion.rearm_if_due()
    assert [reason for _, reason in promotion.alarms.rearmed] == ["re-armed: production is now v1"]


def test_a_failed_rearm_is_audited_and_tried_again_on_the_next_run(world: Any) -> None:
    promotion, fake, _ = world

    promotion.approve(1)
    promotion.approve(2)
    promotion.evaluate_shadow(promote_evidence)
    recording, promotion.alarms = promotion.alarms, RefusingAlarms()
    promotion.clock.skip(SETTLED)
    assert not promotion.rearm_if_due()
    assert stages(promotion)["v2"] == "production" and fake.serving(ENDPOINT) == (ARN.format(2), None)
    last = promotion.audit.records("fraud-detector")[-1]
    assert (last.action, last.outcome, last.version) == ("rearm_alarms", "failed", "v2")
    assert "no such alarm" in last.details["error"]
    promotion.alarms = recording
    assert promotion.rearm_if_due() and recording.rearmed[-1][1] == "re-armed: production is now v2"


def test_promotion_without_shadow_evidence_is_refused(world: Any) -> None:
    promotion, _, _ = world
    promotion.approve(1)
    with pytest.raises(IllegalTransition, match="cannot promote v3: it is registered, not in shadow"):
        promotion.promote(3, evidence=promote_evidence)
    promotion.approve(2)
    with pytest.raises(IllegalTransition, match="cannot promote v2 without shadow evidence"):
        promotion.promote(2)
    with pytest.raises(IllegalTransition, match="the shadow verdict is wait: 10 labelled"):
        promotion.promote(2, evidence=lambda *_: evidence(labelled=10))
    forced = promotion.promote(2, force=True, actor="oncall")
    assert forced.stage is Stage.PRODUCTION
    assert promotion.audit.records("fraud-detector")[-2].reason == "forced by operator"  # then the re-arm


def test_shadow_rejected_on_latency_leaves_the_champion_serving(world: Any) -> None:
    promotion, fake, _ = world
    promotion.approve(1)
    promotion.approve(2)
    decision = promotion.evaluate_shadow(lambda *_: evidence(latency=900.0))
    assert decision is not None and decision.verdict == "reject"
    described = promotion.registry.describe_model_package(ARN.format(2))
    assert described["ModelApprovalStatus"] == "Rejected"
    assert "latency_p99_ms" in described["ApprovalDescription"]
    assert fake.serving(ENDPOINT) == (ARN.format(1), None)
    with pytest.raises(IllegalTransition, match="cannot approve v2: it is rejected"):
        promotion.approve(2)


def test_a_shadow_rejection_rearms_the_retraining_alarms_once_the_champion_settled(
    world: Any, config: ModelConfig
) -> None:
    """A rejected candidate leaves the champion serving and its alarm in ALARM: CloudWatch announces
    only changes, so without a re-arm a breach that lasts would never start another run."""
    promotion, _, _ = world
    names = tuple(retraining_alarm_names(config))
    promotion.approve(1)
    promotion.clock.skip(SETTLED)
    assert promotion.rearm_if_due()  # v1's own re-arm
    promotion.approve(2)
    promotion.evaluate_shadow(lambda *_: evidence(latency=900.0))
    assert promotion.alarms.rearmed[1:] == [(names, "re-armed: shadow v2 rejected, v1 still serves")]
    last = promotion.audit.records("fraud-detector")[-1]
    assert (last.action, last.outcome, last.version, last.actor) == (
        "rearm_alarms",
        "re-armed",
        "v1",
        "shadow-evaluation",
    )
    assert not promotion.rearm_if_due()  # nothing else is due


def test_a_shadow_rejection_interrupted_and_finished_by_reconcile_still_rearms(world: Any) -> None:
    """The run dies after the registry move, while the endpoint drops the shadow: `reconcile`
    finishes the move and records the rejection "completed"; that rejection re-arms too."""
    promotion, fake, _ = world
    promotion.approve(1)
    promotion.clock.skip(SETTLED)
    promotion.tick(promote_evidence)  # v1's own re-arm
    promotion.approve(2)
    fake.crash_after = len(fake.calls) + 1
    with pytest.raises(Crash):
        promotion.evaluate_shadow(lambda *_: evidence(latency=900.0))
    promotion.tick(promote_evidence)
    assert stages(promotion)["v2"] == "rejected"
    verdict = [r for r in promotion.audit.records("fraud-detector") if r.action == "shadow_verdict"]
    assert [(r.version, r.outcome) for r in verdict] == [("v2", "completed")]
    assert promotion.alarms.rearmed[-1][1] == "re-armed: shadow v2 rejected, v1 still serves"


def test_each_further_shadow_rejection_rearms_with_the_retry_back_off(world: Any, config: ModelConfig) -> None:
    """A breach no candidate fixes: the first rejection re-arms at once, the second one cooldown
    later, the third two (the failed-run retry's back-off), not once a shadow."""
    promotion, _, _ = world
    for number in (4, 5):
        register(promotion.registry, number)
    cooldown = timedelta(hours=config.trigger.cooldown_hours)
    promotion.approve(1)
    promotion.clock.skip(SETTLED)
    promotion.tick(promote_evidence)
    rejected = lambda *_: evidence(latency=900.0)  # noqa: E731
    waits = []
    for number in (2, 3, 4):
        promotion.approve(number)
        count, waited = len(promotion.alarms.rearmed), timedelta(0)
        promotion.evaluate_shadow(rejected)
        while len(promotion.alarms.rearmed) == count and waited < timedelta(days=8):
            promotion.clock.skip(timedelta(hours=1))
            waited += timedelta(hours=1)
            promotion.rearm_if_due()
        waits.append(waited)
    # checked hourly, on a clock that also moves a minute at every reading: the first at once
    assert waits[0] == timedelta(0)
    assert cooldown - timedelta(hours=2) < waits[1] <= cooldown
    assert 2 * cooldown - timedelta(hours=2) < waits[2] <= 2 * cooldown


def test_a_failed_rearm_after_a_shadow_rejection_is_tried_again_on_the_next_run(world: Any) -> None:
    promotion, _, _ = world

    promotion.approve(1)
    promotion.clock.skip(SETTLED)
    promotion.tick(promote_evidence)  # v1's own re-arm
    recording, promotion.alarms = promotion.alarms, RefusingAlarms()
    promotion.approve(2)
    promotion.evaluate_shadow(lambda *_: evidence(latency=900.0))
    last = promotion.audit.records("fraud-detector")[-1]
    assert (last.action, last.outcome, last.version) == ("rearm_alarms", "failed", "v1")
    promotion.alarms = recording
    promotion.tick(promote_evidence)
    assert recording.rearmed[-1][1] == "re-armed: shadow v2 rejected, v1 still serves"
    assert len(recording.rearmed) == 2 and not promotion.rearm_if_due()


def test_a_shadow_rejected_before_the_champion_settled_leaves_the_rearm_to_its_schedule(world: Any) -> None:
    # GIVEN v1 deployed, and v2 rejected before the alarms' periods all saw v1
    promotion, _, _ = world
    promotion.approve(1)
    promotion.approve(2)
    promotion.evaluate_shadow(lambda *_: evidence(latency=900.0))
    # THEN no re-arm now (the alarms still hold periods from before v1), one when v1's is due
    assert promotion.alarms.rearmed == []
    promotion.clock.skip(SETTLED)
    assert promotion.rearm_if_due() and not promotion.rearm_if_due()
    assert [reason for _, reason in promotion.alarms.rearmed] == ["re-armed: production is now v1"]


def test_busy_endpoint_is_left_alone_and_converged_later(world: Any) -> None:
    promotion, fake, _ = world
    promotion.approve(1)
    fake.finish_updates = False
    promotion.approve(2)
    assert fake.endpoints[ENDPOINT]["EndpointStatus"] == "Updating"
    promotion.approve(3)  # supersedes v2 in shadow, endpoint still updating
    assert promotion.reconcile() == "busy"
    fake.finish()
    fake.finish_updates = True
    promotion.reconcile()
    assert fake.serving(ENDPOINT) == (ARN.format(1), ARN.format(3))
    assert stages(promotion)["v2"] == "rejected"


def run_scenario(promotion: Promotion) -> None:
    steps = [
        lambda: promotion.approve(1),
        lambda: promotion.approve(2),
        lambda: promotion.evaluate_shadow(promote_evidence),
        lambda: promotion.rollback(),
    ]
    for step in steps:
        try:
            step()
        except Crash:
            endpoint = promotion.endpoint.state()  # type: ignore[attr-defined]
            assert not endpoint.exists or endpoint.production is not None
            promotion.reconcile()  # the re-run: redelivered event, next schedule, repeated command


def test_interruption_after_any_call_converges_and_never_leaves_the_endpoint_without_production(
    config: ModelConfig, tmp_path: Path
) -> None:
    reference: tuple[Any, ...] | None = None
    total = None
    crash_at = 1
    while total is None or crash_at <= total:
        folder = tmp_path / (f"crash-{crash_at}" if total is not None else "reference")
        registry = LocalRegistry(folder / "registry.db")
        registry.create_model_package_group("fraud-detector")
        for number in (1, 2):
            register(registry, number)
        fake = FakeSageMaker()
        fake.crash_after = crash_at if total is not None else None
        promotion = Promotion(
            config, registry, SageMakerEndpoint(config, fake, ROLE), SqliteAudit(folder / "a.db"), RecordingChampion()
        )
        run_scenario(promotion)
        outcome = (stages(promotion), fake.serving(ENDPOINT))
        if total is None:
            total, reference = len(fake.calls), outcome
            assert outcome == ({"v2": "retired", "v1": "production"}, (ARN.format(1), None))
        else:
            assert outcome == reference, f"crash after call {crash_at} ({fake.calls[crash_at - 1][0]})"
            crash_at += 1
    assert total > 10


def test_registry_adapter_requests_match_the_sagemaker_api() -> None:
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    registry = SageMakerRegistry(client)
    arn = ARN.format(4)
    described = {
        "ModelPackageName": "fraud-detector",
        "ModelPackageArn": arn,
        "ModelPackageVersion": 4,
        "CreationTime": T0,
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "ModelApprovalStatus": "Approved",
        "CustomerMetadataProperties": {"PromotionStage": "shadow", "TriggerReason": "drift"},
    }
    with Stubber(client) as stub:
        stub.add_response(
            "update_model_package",
            {"ModelPackageArn": arn},
            {
                "ModelPackageArn": arn,
                "ModelApprovalStatus": "Approved",
                "ApprovalDescription": "shadow started (promotion)",
                "CustomerMetadataProperties": {"PromotionStage": "shadow"},
            },
        )
        stub.add_response("describe_model_package", described, {"ModelPackageName": arn})
        result = registry.update_model_package(
            arn,
            approval_status="Approved",
            approval_description="shadow started",
            metadata={"PromotionStage": "shadow"},
            actor="promotion",
        )
        stub.assert_no_pending_responses()
    assert result["CustomerMetadataProperties"]["TriggerReason"] == "drift"


def test_update_endpoint_request_is_valid_for_botocore(config: ModelConfig) -> None:
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        request = {"EndpointName": ENDPOINT, "EndpointConfigName": "cfg", "DeploymentConfig": deployment_config(config)}
        stub.add_response(
            "update_endpoint", {"EndpointArn": "arn:aws:sagemaker:us-east-1:111122223333:endpoint/x"}, request
        )
        client.update_endpoint(**request)
        stub.add_response("update_endpoint", {"EndpointArn": "arn:aws:sagemaker:us-east-1:111122223333:endpoint/x"})
        broken = {**request, "DeploymentConfig": {"BlueGreenUpdatePolicy": {"MaximumExecutionTimeoutInSeconds": "1h"}}}
        with pytest.raises(ParamValidationError, match="TrafficRoutingConfiguration") as caught:
            client.update_endpoint(**broken)
        assert "MaximumExecutionTimeoutInSeconds" in str(caught.value)


def test_stage_moves_inside_approved_do_not_resend_the_approval_status(world: Any) -> None:
    promotion, _, _ = world
    sent: list[tuple[str, str | None]] = []
    update = promotion.registry.update_model_package

    def recording(arn: str, **changes: Any) -> dict[str, Any]:
        sent.append((arn.rsplit("/", 1)[-1], changes.get("approval_status")))
        return update(arn, **changes)

    promotion.registry.update_model_package = recording  # type: ignore[method-assign]
    promotion.approve(1)
    promotion.approve(2)
    promotion.evaluate_shadow(promote_evidence)
    # Approvals are sent once each; deploy, shadow, promote, retire and the update marker change only
    # the stage metadata.
    assert sent == [
        ("1", "Approved"),
        ("1", None),
        ("2", "Approved"),
        ("2", None),
        ("2", None),
        ("1", None),
        ("2", None),
    ]


class RegistryCrash(Exception):
    pass


def crash_registry_after(promotion: Promotion, calls: int) -> None:
    """The next `calls` registry updates succeed; the one after raises (a Lambda that times out
    between two UpdateModelPackage calls)."""
    update = promotion.registry.update_model_package
    left = [calls]

    def flaky(arn: str, **changes: Any) -> dict[str, Any]:
        if left[0] == 0:
            promotion.registry.update_model_package = update  # type: ignore[method-assign]
            raise RegistryCrash(arn)
        left[0] -= 1
        return update(arn, **changes)

    promotion.registry.update_model_package = flaky  # type: ignore[method-assign]


def test_a_promotion_cut_between_its_registry_writes_is_finished_by_reconcile(world: Any) -> None:
    promotion, fake, _ = world
    promotion.approve(1)
    promotion.approve(2)
    crash_registry_after(promotion, 1)  # v2 -> production written, v1 not yet retired
    with pytest.raises(RegistryCrash):
        promotion.evaluate_shadow(promote_evidence)
    assert stages(promotion)["v1"] == "production" and stages(promotion)["v2"] == "production"
    promotion.reconcile()
    assert stages(promotion) == {"v3": "registered", "v2": "production", "v1": "retired"}
    assert promotion.previous_champion().label == "v1"  # type: ignore[union-attr]
    assert fake.serving(ENDPOINT) == (ARN.format(2), None)


def test_a_rollback_cut_between_its_registry_writes_is_finished_by_reconcile(world: Any) -> None:
    promotion, fake, _ = world
    promotion.approve(1)
    promotion.approve(2)
    promotion.evaluate_shadow(promote_evidence)
    crash_registry_after(promotion, 1)  # v1 restored, v2 not yet retired
    with pytest.raises(RegistryCrash):
        promotion.rollback()
    promotion.reconcile()
    assert stages(promotion)["v1"] == "production" and stages(promotion)["v2"] == "retired"
    assert fake.serving(ENDPOINT) == (ARN.format(1), None)
    assert promotion.previous_champion() is None  # a rolled-back version is never restored by rollback
    promotion.approve(3)  # production exists: v3 goes to shadow, not straight to production
    assert stages(promotion)["v3"] == "shadow"


def test_a_guardrail_rollback_by_sagemaker_is_followed_not_fought(world: Any) -> None:
    promotion, fake, champion = world
    promotion.approve(1)
    promotion.approve(2)
    fake.finish_updates = False
    promotion.evaluate_shadow(promote_evidence)  # first the shadow goes, in a plain update
    fake.finish()
    before = fake.endpoints[ENDPOINT]["EndpointConfigName"]
    assert promotion.reconcile() == "updating"  # then the guarded swap to v2
    assert fake.endpoints[ENDPOINT]["EndpointStatus"] == "Updating"
    assert promotion.reconcile() == "busy"
    # The 5xx alarm fires during the canary: SageMaker returns the endpoint to the old config.
    fake.endpoints[ENDPOINT].update({"EndpointConfigName": before, "EndpointStatus": "InService"})
    fake.finish_updates = True
    calls = len(fake.calls)
    promotion.reconcile()
    assert stages(promotion)["v1"] == "production" and stages(promotion)["v2"] == "retired"
    # v2 is not re-applied: the endpoint already serves what the registry now says.
    assert [c for c, _ in fake.calls[calls:] if c == "update_endpoint"] == []
    assert fake.serving(ENDPOINT) == (ARN.format(1), None)
    assert champion.published[-1] == 1
    assert promotion.previous_champion() is None  # v2 failed in production: rollback never brings it back
    assert any(h["action"] == "guardrail_rollback" and h["version"] == "v1" for h in promotion.history())
    # production changed twice (v2 promoted, then SageMaker's rollback to v1): re-armed for v1
    promotion.clock.skip(SETTLED)
    assert promotion.rearm_if_due()
    assert [reason for _, reason in promotion.alarms.rearmed] == ["re-armed: production is now v1"]
    scheduled = [h["version"] for h in promotion.history() if h["action"] == "rearm_alarms"]
    assert scheduled == ["v1", "v2", "v1", "v1"]  # three changes scheduled, one re-arm done


def test_shadow_without_traffic_waits_and_without_offline_metric_is_rejected() -> None:
    idle = ShadowEvidence(
        started_at=T0,
        now=T0 + timedelta(hours=48),
        shadow=VariantEvidence(0, 0, {}, None, None),
        production=VariantEvidence(900, 600, {"roc_auc": 0.9}, 30.0, 0.0),
        offline={"roc_auc": 0.95},
    )
    assert decide(idle, CRITERIA).verdict == "wait"
    blind = decide(evidence(offline=0.96).__class__(**{**evidence().__dict__, "offline": {}}), CRITERIA)
    assert blind.verdict == "reject" and "no offline roc_auc" in blind.reason


# ---- interrupted commands keep their audit record; one run at a time


def _commands(promotion: Promotion) -> list[tuple[str, Callable[[], Any]]]:
    return [
        ("approve 1", lambda: promotion.approve(1, actor="alice", reason="first model")),
        ("approve 2", lambda: promotion.approve(2, actor="bob", reason="retrained on drift")),
        ("promote", lambda: promotion.promote(2, force=True, actor="carol")),
        ("rollback", lambda: promotion.rollback(actor="dave", reason="conversion dropped")),
    ]


def _audited(promotion: Promotion) -> list[tuple[str, str | None, str, str]]:
    """Who did what and why: the records a person reads in `history`."""
    kept = ("approve", "deploy", "start_shadow", "promote", "rollback")
    return sorted(
        (r.action, r.version, r.actor, r.reason) for r in promotion.audit.records("fraud-detector") if r.action in kept
    )


class CrashingRegistry(LocalRegistry):
    """The local registry, dying right after its N-th write took effect."""

    crash_after: int | None = None
    writes = 0

    def update_model_package(self, arn: str, **changes: Any) -> dict[str, Any]:
        described = super().update_model_package(arn, **changes)
        self.writes += 1
        if self.crash_after is not None and self.writes >= self.crash_after:
            self.crash_after = None
            raise Crash(f"crashed after registry write {self.writes}")
        return described


@pytest.mark.parametrize("where", ["sagemaker", "registry"])
def test_a_command_interrupted_after_any_call_keeps_its_record_once_it_is_run_again(
    config: ModelConfig, tmp_path: Path, where: str
) -> None:
    """A crash after any SageMaker call or registry write, then the same command run again (what a
    person does): after each command the endpoint serves what it did without the crash, and every
    command's record, with its actor and reason, is there once."""
    reference: tuple[list[Any], list[Any]] | None = None
    total, crash_at = None, 1
    while total is None or crash_at <= total:
        folder = tmp_path / f"{where}-crash-{crash_at if total else 0}"
        registry = CrashingRegistry(folder / "registry.db")
        registry.create_model_package_group("fraud-detector")
        for number in (1, 2):
            register(registry, number)
        registry.writes = 0
        fake = FakeSageMaker()
        if total is not None:
            if where == "sagemaker":
                fake.crash_after = crash_at
            else:
                registry.crash_after = crash_at
        promotion = Promotion(
            config, registry, SageMakerEndpoint(config, fake, ROLE), SqliteAudit(folder / "a.db"), RecordingChampion()
        )
        served = []
        for _, command in _commands(promotion):
            try:
                command()
            except Crash:
                command()  # run again
            served.append(fake.serving(ENDPOINT))
        outcome = (served, _audited(promotion))
        if total is None:
            total, reference = (len(fake.calls) if where == "sagemaker" else registry.writes), outcome
            assert ("rollback", "v1", "dave", "conversion dropped") in outcome[1]
            assert ("promote", "v2", "carol", "forced by operator") in outcome[1]
            assert served[-1] == (ARN.format(1), None)
        else:
            assert outcome == reference, f"crash after {where} call {crash_at}"
            assert stages(promotion) == {"v2": "retired", "v1": "production"}
            assert promotion.audit.pending("fraud-detector") == []
            crash_at += 1
    assert total > 5


def test_an_approval_interrupted_after_the_registry_update_is_finished_by_reconcile(world: Any) -> None:
    promotion, fake, _ = world
    promotion.approve(1)
    original = promotion.on_approved

    def dies(*args: Any, **kwargs: Any) -> Any:
        raise Crash("died after approving in the registry")

    promotion.on_approved = dies  # type: ignore[method-assign]
    with pytest.raises(Crash):
        promotion.approve(2, actor="bob", reason="looks good")
    promotion.on_approved = original  # type: ignore[method-assign]
    assert stages(promotion)["v2"] == "approved"
    promotion.reconcile()
    assert stages(promotion)["v2"] == "shadow" and fake.serving(ENDPOINT) == (ARN.format(1), ARN.format(2))
    records = [(r.action, r.version, r.actor, r.reason) for r in promotion.audit.records("fraud-detector")]
    assert ("approve", "v2", "bob", "looks good") in records
    assert promotion.audit.pending("fraud-detector") == []


def test_approving_again_after_an_interruption_finishes_instead_of_refusing(world: Any) -> None:
    promotion, fake, _ = world
    promotion.approve(1)
    fake.crash_after = len(fake.calls) + 1  # the shadow's first SageMaker call
    with pytest.raises(Crash):
        promotion.approve(2, actor="bob")
    again = promotion.approve(2, actor="bob")
    assert again.stage is Stage.SHADOW and fake.serving(ENDPOINT) == (ARN.format(1), ARN.format(2))
    assert [r.outcome for r in promotion.audit.records("fraud-detector") if r.action == "approve"] == [
        "approved",
        "approved",
    ]


def test_a_run_that_finds_another_acting_is_refused_and_a_lapsed_lease_is_taken_over(
    config: ModelConfig, tmp_path: Path
) -> None:
    lease = SqliteLease(tmp_path / "lease.db")
    registry = LocalRegistry(tmp_path / "registry.db")
    registry.create_model_package_group("fraud-detector")
    register(registry, 1)
    clock = StepClock()
    promotion = Promotion(
        config,
        registry,
        SageMakerEndpoint(config, FakeSageMaker(), ROLE),
        SqliteAudit(tmp_path / "a.db"),
        RecordingChampion(),
        clock=clock,
        lease=lease,
    )
    assert lease.acquire("fraud-detector", "evaluation:1", clock()) is None
    with pytest.raises(PromotionBusy, match=r"another promotion run \(evaluation:1\) is acting on fraud-detector"):
        promotion.approve(1)
    assert stages(promotion) == {"v1": "registered"}
    clock.skip(timedelta(seconds=LEASE_SECONDS))
    assert promotion.approve(1).stage is Stage.PRODUCTION
    assert lease.acquire("fraud-detector", "cli:2", clock()) is None  # released after the run


def test_an_approval_event_is_read_with_one_describe_and_an_unknown_package_is_named(world: Any) -> None:
    """The event names the package: one DescribeModelPackage, consistent with the change that
    emitted it, instead of describing the whole group through a listing."""
    promotion, _, _ = world
    listed = []
    listing = promotion.registry.list_model_packages

    def counting(*args: Any, **kwargs: Any) -> Any:
        listed.append(args)
        return listing(*args, **kwargs)

    promotion.registry.list_model_packages = counting  # type: ignore[method-assign]
    assert promotion.find(ARN.format(2)).label == "v2" and listed == []
    with pytest.raises(IllegalTransition, match=r"no model version '.*/fraud-detector/99' in group fraud-detector"):
        promotion.find(ARN.format(99))


def test_a_failed_rollback_update_is_applied_again_not_taken_for_a_guardrail_rollback(world: Any) -> None:
    """v1 was promoted once under guardrails (its marker says so); after v2 replaced it, a rollback
    restores v1 and its update fails, leaving v2 serving. v1's old marker predates its restore: this
    is not SageMaker rolling a promotion back, and v2 must not come back."""
    promotion, fake, _ = world
    promotion.approve(1)
    promotion.approve(2)
    promotion.evaluate_shadow(promote_evidence)
    promotion.approve(3)
    promotion.evaluate_shadow(promote_evidence)  # v3 production, v2 retired (its marker stays)
    before = fake.endpoints[ENDPOINT]["EndpointConfigName"]
    promotion.rollback(actor="oncall", reason="bad v3")  # v2 restored
    assert "EndpointUpdateRequestedAt" in promotion.find(2).metadata
    fake.endpoints[ENDPOINT].update({"EndpointConfigName": before, "EndpointStatus": "InService"})  # update failed
    promotion.reconcile()
    assert stages(promotion) == {"v3": "retired", "v2": "production", "v1": "retired"}
    assert fake.serving(ENDPOINT) == (ARN.format(2), None)
    assert not [h for h in promotion.history() if h["action"] == "guardrail_rollback"]


def test_a_failed_endpoint_is_left_to_a_person_with_what_to_do_and_recreated_once_deleted(world: Any) -> None:
    promotion, fake, _ = world
    promotion.approve(1)
    fake.endpoints[ENDPOINT].update(EndpointStatus="Failed", FailureReason="the container did not pass health checks")
    calls = len(fake.calls)
    with pytest.raises(
        EndpointNeedsAttention, match=r"is Failed \(the container did not pass health checks\)"
    ) as raised:
        promotion.reconcile()
    assert f"delete-endpoint --endpoint-name {ENDPOINT}" in str(raised.value)
    assert not [c for c, _ in fake.calls[calls:] if c.startswith(("update", "create"))]
    del fake.endpoints[ENDPOINT]  # the person deleted it
    assert promotion.reconcile() == "created" and fake.serving(ENDPOINT) == (ARN.format(1), None)


def test_an_illegal_move_without_a_version_names_this_version() -> None:
    with pytest.raises(IllegalTransition, match=r"^cannot deploy this version: it is registered; "):
        next_stage(Stage.REGISTERED, Action.DEPLOY)


@pytest.mark.parametrize(
    ("approval", "expected"), [("Approved", Stage.APPROVED), ("PendingManualApproval", Stage.REGISTERED)]
)
def test_a_stage_the_project_does_not_know_falls_back_to_the_approval_status(approval: str, expected: Stage) -> None:
    """A package whose recorded stage is not one of ours (edited by hand, an older release) takes
    the stage its approval status says, rather than failing every read of the registry."""
    assert stage_of(approval, {STAGE_KEY: "bogus"}) is expected


def _life_cycles(promotion: Promotion) -> dict[str, tuple[str, str]]:
    described = {v.label: promotion.registry.describe_model_package(v.arn) for v in promotion.versions()}
    return {
        label: (d["ModelLifeCycle"]["Stage"], d["ModelLifeCycle"]["StageStatus"])
        for label, d in described.items()
        if "ModelLifeCycle" in d
    }


def test_the_registrys_own_lifecycle_moves_with_every_transition(world: Any) -> None:
    """ModelLifeCycle, which Studio and ListModelPackages/Search show, follows the project's stage
    through approval, deployment, shadow, promotion, rollback and rejection."""
    promotion, _, _ = world
    promotion.approve(1)  # the first approval deploys
    assert _life_cycles(promotion) == {"v1": ("Production", "Serving")}
    promotion.approve(2)
    assert _life_cycles(promotion)["v2"] == ("Shadow", "InProgress")
    promotion.evaluate_shadow(promote_evidence)
    assert _life_cycles(promotion) == {"v1": ("PreviousChampion", "Restorable"), "v2": ("Production", "Serving")}
    promotion.rollback(actor="oncall", reason="conversion dropped")
    assert _life_cycles(promotion) == {"v1": ("Production", "Serving"), "v2": ("PreviousChampion", "Restorable")}
    promotion.reject(3, actor="reviewer", reason="leaks the label")
    described = promotion.registry.describe_model_package(ARN.format(3))
    assert described["ModelLifeCycle"] == {
        "Stage": "Rejected",
        "StageStatus": "Rejected",
        "StageDescription": "reject by reviewer: leaks the label",
    }


@pytest.mark.parametrize("stage", list(Stage))
def test_every_stages_lifecycle_is_a_valid_update_model_package_request(stage: Stage) -> None:
    """Checked against botocore's service model (Stage/StageStatus patterns, the 1024-character
    description), so no transition can send UpdateModelPackage a lifecycle SageMaker refuses."""
    from botocore.session import get_session
    from botocore.validate import ParamValidator

    from pipelines.promotion.lifecycle import life_cycle

    shape = get_session().get_service_model("sagemaker").operation_model("UpdateModelPackage").input_shape
    request = {"ModelPackageArn": ARN.format(1), "ModelLifeCycle": life_cycle(stage, "why " * 400)}
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    assert len(request["ModelLifeCycle"]["StageDescription"]) == 1024
