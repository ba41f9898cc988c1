"""The promotion controller: applies lifecycle moves to the registry, the endpoint, the champion
pointer and the audit trail. The Lambda functions, the CLI and the local demo all call this.

Every method is idempotent and re-runnable: the wanted endpoint is derived from the stages in
the registry, and `apply` converges on it, so a run interrupted between two calls finishes the
job when repeated; a repeated event finds the work done and records a duplicate.

The moves are here; reading the versions is in `versions`, the lease and the intents of a run in
`runs`, status and history in `status`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pipelines.config import ModelConfig
from pipelines.monitoring.alarms import rearm_after_rejection, rearm_time, retraining_alarm_names
from pipelines.promotion.audit import Audit, AuditRecord, Intent
from pipelines.promotion.endpoint import Endpoint, Version
from pipelines.promotion.lease import Lease
from pipelines.promotion.lifecycle import (
    STAGE_KEY,
    Action,
    IllegalTransition,
    Stage,
    approval_status,
    life_cycle,
    next_stage,
)
from pipelines.promotion.runs import RunKeeping, under_lease
from pipelines.promotion.shadow import ShadowDecision, ShadowEvidence, decide
from pipelines.promotion.status import StatusReport
from pipelines.promotion.versions import (
    CHANGE_SEQUENCE,
    CHANGED_AT,
    RESTORED_BY,
    RETIRED_BY,
    ROLLBACK_OF,
    SHADOW_STARTED,
    UPDATE_REQUESTED,
    ModelVersion,
    Registry,
    changed,
    model_version,
    update_requested,
)

__all__ = ["EvidenceSource", "ModelVersion", "Promotion", "Registry"]


class Champion(Protocol):
    def publish(self, version: Version | None) -> None: ...


class AlarmRearmer(Protocol):
    """Sets the named alarms to INSUFFICIENT_DATA (CloudWatch's SetAlarmState; `REARMED_STATE`).
    CloudWatch announces only state changes, so a retraining alarm that stayed in ALARM through a
    promotion or a shadow rejection would never start another retrain; re-armed, its next
    evaluation against the champion's metrics fires it again if the drift persists (the retrain
    trigger's cooldown still rate-limits)."""

    def rearm(self, alarm_names: Sequence[str], reason: str) -> None: ...


EvidenceSource = Callable[[ModelVersion, ModelVersion, datetime], ShadowEvidence]


@dataclass
class Promotion(RunKeeping, StatusReport):
    config: ModelConfig
    registry: Registry
    endpoint: Endpoint
    audit: Audit
    champion: Champion
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    alarms: AlarmRearmer | None = None
    location: str = ""  # where the registry is, for messages ("the local workspace /path")
    lease: Lease | None = None
    _held: int = field(default=0, init=False, repr=False)
    _resumed: list[Intent] = field(default_factory=list, init=False, repr=False)

    # ---- writing

    def _record(
        self, action: str, outcome: str, version: ModelVersion | None, actor: str, reason: str, **details: Any
    ) -> None:
        self.audit.append(
            AuditRecord(
                at=self._now(),
                model=self.config.model.name,
                action=action,
                outcome=outcome,
                version=version.label if version else None,
                actor=actor,
                reason=reason,
                details=details,
            )
        )

    def _finish_interrupted_runs(self, actor: str) -> None:
        """Before a command acts: if a run was interrupted, finish it first (`reconcile`)."""
        if self.audit.pending(self.config.model.name):
            self.reconcile(actor)

    def _move(self, version: ModelVersion, action: Action, actor: str, reason: str, **metadata: str) -> ModelVersion:
        target = next_stage(version.stage, action, version.label)
        approval = approval_status(target)
        # Only a real change of approval status is sent: SageMaker announces each one as a "Model
        # Package State Change", and a stage move inside Approved must not look like a new approval.
        changed = approval != approval_status(version.stage)
        described = self.registry.update_model_package(
            version.arn,
            approval_status=approval if changed else None,
            approval_description=reason or None,
            metadata={
                STAGE_KEY: target.value,
                CHANGED_AT: self._now(),
                CHANGE_SEQUENCE: str(time.time_ns()),
                **metadata,
            },
            actor=actor,
            life_cycle=life_cycle(target, f"{action.value} by {actor}" + (f": {reason}" if reason else "")),
        )
        return model_version(described)

    # ---- approval (what Studio does) and its event

    @under_lease
    def approve(self, ref: str | int, actor: str = "user", reason: str = "") -> ModelVersion:
        """Approve (what Studio does), then deploy or shadow it. Run again after an interruption,
        it finishes what the first run started."""
        self._finish_interrupted_runs(actor)
        version = self.find(ref)
        # Approved, in shadow or in production already: an earlier run (perhaps interrupted) got
        # this far, and on_approved finishes or confirms what it did.
        if version.stage not in (Stage.APPROVED, Stage.SHADOW, Stage.PRODUCTION):
            targets = (Stage.APPROVED, Stage.SHADOW, Stage.PRODUCTION)
            with self._intent("approve", version, targets, actor, reason) as intent:
                self._move(version, Action.APPROVE, actor, reason or "approved")
                self.audit.append(intent.record("approved"))
        return self.on_approved(version.arn, actor=actor)

    @under_lease
    def reject(self, ref: str | int, actor: str = "user", reason: str = "") -> ModelVersion:
        self._finish_interrupted_runs(actor)
        version = self.find(ref)
        if self._already_done("reject", version.label):
            return self.find(version.arn)
        with self._intent("reject", version, (Stage.REJECTED,), actor, reason) as intent:
            rejected = self._move(version, Action.REJECT, actor, reason or "rejected")
            if version.stage is Stage.SHADOW:
                self._converge()
            self.audit.append(intent.record("rejected"))
        return rejected

    @under_lease
    def on_approved(self, arn: str, actor: str = "approval-event", event_id: str | None = None) -> ModelVersion:
        """A package was approved (in Studio, by `approve`, or automatically): deploy it when
        nothing serves yet, else start its shadow. A repeated event changes nothing."""
        version = self.find(arn)
        if version.stage is not Stage.APPROVED:
            self.reconcile(actor)  # a redelivered event still finishes an interrupted run
            self._record(
                "approval_event",
                "duplicate",
                version,
                actor,
                f"{version.label} is already {version.stage.value}",
                event=event_id,
            )
            return version
        production = self.production()
        if production is None:
            reason = "no production version yet"
            with self._intent("deploy", version, (Stage.PRODUCTION,), actor, reason, event=event_id) as intent:
                deployed = self._move(version, Action.DEPLOY, actor, "first approved version: deployed as production")
                self._converge()
                self.champion.publish(deployed.version)
                self.audit.append(intent.record("production"))
            self._schedule_rearm(deployed, actor)
            return deployed
        current = self.shadow()
        if current is not None:
            superseded = f"superseded in shadow by {version.label}"
            with self._intent("reject", current, (Stage.REJECTED,), actor, superseded) as intent:
                self._move(current, Action.REJECT, actor, superseded)
                self.audit.append(intent.record("superseded"))
        reason = f"shadow of {production.label}"
        with self._intent("start_shadow", version, (Stage.SHADOW,), actor, reason, event=event_id) as intent:
            started = self._move(version, Action.START_SHADOW, actor, "shadow started", **{SHADOW_STARTED: self._now()})
            self.audit.append(intent.record(self._converge()))
        return started

    # ---- shadow verdict, promotion, rollback

    @under_lease
    def evaluate_shadow(self, evidence: EvidenceSource, actor: str = "shadow-evaluation") -> ShadowDecision | None:
        versions = self.versions()  # one listing: on AWS each describes every package
        shadow, production = self.shadow(versions), self.production(versions)
        if shadow is None or production is None:
            return None
        started = datetime.fromisoformat(shadow.metadata.get(SHADOW_STARTED, self._now()))
        decision = decide(evidence(shadow, production, started), self.config.promotion.shadow)
        details = decision.to_json()
        if decision.verdict == "promote":
            self._promote(shadow, Action.PROMOTE, actor, decision.reason, details)
        elif decision.verdict == "reject":
            checks = details["checks"]
            with self._intent(
                "shadow_verdict", shadow, (Stage.REJECTED,), actor, decision.reason, checks=checks
            ) as intent:
                self._move(shadow, Action.REJECT, actor, f"shadow rejected: {decision.reason}")
                self._converge()
                self.audit.append(intent.record("rejected"))
            self.rearm_if_due(actor)
        else:
            self._record("shadow_verdict", "wait", shadow, actor, decision.reason, checks=details["checks"])
        return decision

    @under_lease
    def promote(
        self,
        ref: str | int | None = None,
        *,
        force: bool = False,
        evidence: EvidenceSource | None = None,
        actor: str = "user",
    ) -> ModelVersion:
        self._finish_interrupted_runs(actor)
        done = self._already_done("promote", None if ref is None else f"v{str(ref).removeprefix('v')}")
        if done is not None and (ref is None or not str(ref).startswith("arn:")):
            return self.find(done)  # an interrupted promote was finished just now
        version = self.find(ref) if ref is not None else self.shadow()
        if version is None:
            raise IllegalTransition("nothing to promote: no version is in shadow; name one with --force")
        if force:
            return self._promote(version, Action.FORCE_PROMOTE, actor, "forced by operator", {})
        if version.stage is not Stage.SHADOW:
            raise IllegalTransition(
                f"cannot promote {version.label}: it is {version.stage.value}, not in shadow; "
                "promotion needs shadow evidence (or --force)"
            )
        if evidence is None:
            raise IllegalTransition(f"cannot promote {version.label} without shadow evidence (or --force)")
        decision = self.evaluate_shadow(evidence, actor)
        if decision is None or decision.verdict != "promote":
            reason = decision.reason if decision else "no shadow"
            verdict = decision.verdict if decision else "none"
            raise IllegalTransition(f"cannot promote {version.label}: the shadow verdict is {verdict}: {reason}")
        return self.find(version.arn)

    def _promote(
        self, version: ModelVersion, action: Action, actor: str, reason: str, details: dict[str, Any]
    ) -> ModelVersion:
        next_stage(version.stage, action, version.label)  # refuse before touching anything
        previous = self.production()
        context = {"previous": previous.label if previous else None, "checks": details.get("checks", [])}
        with self._intent("promote", version, (Stage.PRODUCTION,), actor, reason, **context) as intent:
            # The new production version is recorded before the old one is retired: an interruption
            # in between leaves two, which `reconcile` resolves, never none.
            promoted = self._move(version, action, actor, reason)
            if previous is not None and previous.arn != version.arn:
                retired = f"superseded by {version.label}"
                self._move(previous, Action.RETIRE, actor, retired, **{RETIRED_BY: "promotion"})
            applied = self._converge()
            if applied == "updating":
                promoted = self._markupdate_requested(promoted, actor)
            self.champion.publish(promoted.version)
            self.audit.append(intent.record(applied))
        self._schedule_rearm(promoted, actor)
        return promoted

    @under_lease
    def rollback(self, actor: str = "user", reason: str = "") -> ModelVersion:
        """Restore the previous champion. Run again after an interruption, it finishes that
        rollback instead of rolling back once more."""
        self._finish_interrupted_runs(actor)
        done = self._already_done("rollback")
        if done is not None:
            return self.find(done)
        versions = self.versions()
        current, previous = self.production(versions), self.previous_champion(versions)
        if current is None:
            raise IllegalTransition("cannot roll back: nothing is in production")
        if previous is None:
            raise IllegalTransition(f"cannot roll back {current.label}: there is no previous champion to restore")
        why = reason or "rolled back"
        with self._intent("rollback", previous, (Stage.PRODUCTION,), actor, why, replaced=current.label) as intent:
            restored = self._move(
                previous,
                Action.RESTORE,
                actor,
                f"restored by rollback of {current.label}",
                **{ROLLBACK_OF: current.label, RESTORED_BY: "rollback"},
            )
            self._move(current, Action.RETIRE, actor, why, **{RETIRED_BY: "rollback"})
            applied = self._converge(guarded=False)
            self.champion.publish(restored.version)
            self.audit.append(intent.record(applied))
        self._schedule_rearm(restored, actor)
        return restored

    def _schedule_rearm(self, production: ModelVersion, actor: str) -> None:
        """After every change of production: schedule the re-arm of the retraining alarms for
        when their evaluation range holds only the new champion's datapoints (`rearm_time`);
        `rearm_if_due`, on the evaluation schedule, does it."""
        if self.alarms is None:
            return
        due = self._rearm_due(production).isoformat()
        reason = f"retraining alarms re-armed at {due}, once every period they evaluate saw {production.label}"
        self._record("rearm_alarms", "scheduled", production, actor, reason, due=due)

    @under_lease
    def rearm_if_due(self, actor: str = "shadow-evaluation") -> bool:
        """Re-arm (SetAlarmState INSUFFICIENT_DATA) the retraining alarms once every period they
        evaluate was measured against the champion: once per change of production, and again after
        each shadow rejection since. A breach the champion did not fix then alarms again, with a
        new event. A rejected candidate leaves the champion serving and the alarm that started its
        run in ALARM, where no event comes: re-armed, a breach that lasts starts another run (after
        the trigger's cooldown) on the data that came since. A version rejected by hand re-arms
        nothing. A failure is recorded, not raised, and the next run tries again."""
        production = self.production()
        if self.alarms is None or production is None or not self._settled(production):
            return False
        reason = self._rearm_reason(production)
        return reason is not None and self._rearm(production, actor, reason)

    def _settled(self, production: ModelVersion) -> bool:
        """Every period the retraining alarms evaluate was measured against `production`."""
        if CHANGED_AT not in production.metadata:
            return False
        return self.clock() >= self._rearm_due(production)

    def _rearm_due(self, production: ModelVersion) -> datetime:
        """When the re-arm after `production` took over is due (`rearm_time`)."""
        return rearm_time(datetime.fromisoformat(production.metadata[CHANGED_AT]), self.config)

    def _rearm_reason(self, production: ModelVersion) -> str | None:
        """Why a re-arm is due for `production` (from the audit since it changed), None if none is.
        A shadow verdict's intent is only ever a rejection: an interrupted one that `reconcile`
        finished is recorded "completed" and counts. The k-th rejection since the change re-arms
        when `rearm_after_rejection` says (at once for the first, then with back-off)."""
        since = self.audit.records(self.config.model.name, since=production.metadata[CHANGED_AT])
        rearmed = [
            i
            for i, r in enumerate(since)
            if (r.action, r.outcome, r.version) == ("rearm_alarms", "re-armed", production.label)
        ]
        if not rearmed:
            return f"re-armed: production is now {production.label}"
        rejections = [
            i for i, r in enumerate(since) if r.action == "shadow_verdict" and r.outcome in ("rejected", "completed")
        ]
        if not rejections or rejections[-1] < rearmed[-1]:
            return None
        latest = since[rejections[-1]]
        due = rearm_after_rejection(datetime.fromisoformat(latest.at), len(rejections), self.config)
        if self.clock() < due:
            return None
        return f"re-armed: shadow {latest.version} rejected, {production.label} still serves"

    def _rearm(self, production: ModelVersion, actor: str, reason: str) -> bool:
        assert self.alarms is not None
        names = retraining_alarm_names(self.config)
        try:
            self.alarms.rearm(names, reason)
        except Exception as error:
            self._record("rearm_alarms", "failed", production, actor, reason, alarms=names, error=repr(error))
            return False
        self._record("rearm_alarms", "re-armed", production, actor, reason, alarms=names)
        return True

    def _converge(self, guarded: bool = True) -> str:
        """Point the endpoint at what the registry says serves (production and shadow). After a
        staged step the rest is sent at once if the endpoint already took the step, else by the
        next convergence (the endpoint is busy until then)."""
        versions = self.versions()
        production, shadow = self.production(versions), self.shadow(versions)
        if production is None:
            return "no production version"
        wanted = (production.version, shadow.version if shadow else None)
        applied = self.endpoint.apply(*wanted, guarded=guarded)
        while applied == "staged":
            following = self.endpoint.apply(*wanted, guarded=guarded)
            if following == "busy":
                return applied
            applied = following
        return applied

    def _markupdate_requested(self, version: ModelVersion, actor: str) -> ModelVersion:
        """The UpdateEndpoint that serves `version` was sent: from now on, an endpoint back on an
        older version was rolled back by SageMaker's guardrails (`_guardrail_rollback`)."""
        described = self.registry.update_model_package(
            version.arn, metadata={UPDATE_REQUESTED: self._now()}, actor=actor
        )
        return model_version(described)

    def _finish_interrupted_moves(self, actor: str) -> None:
        """Two production versions mean a promotion or rollback stopped between its two registry
        writes: the newer one stands, the other is retired the way the move would have."""
        productions = sorted(self.in_stage(Stage.PRODUCTION), key=changed)
        newest = productions[-1] if productions else None
        for version in productions[:-1]:
            assert newest is not None
            restored = newest.metadata.get(ROLLBACK_OF) == version.label
            by = newest.metadata.get(RESTORED_BY, "rollback") if restored else "promotion"
            reason = f"superseded by {newest.label} (finishing an interrupted {by})"
            with self._intent("reconcile", version, (Stage.RETIRED,), actor, reason) as intent:
                self._move(version, Action.RETIRE, actor, reason, **{RETIRED_BY: by})
                self.audit.append(intent.record("retired"))
        if newest is not None and len(productions) > 1:
            self._schedule_rearm(newest, actor)  # the interrupted move never got to it

    def _guardrail_rollback(self, actor: str) -> bool:
        """SageMaker rolled a promotion back (an auto-rollback alarm fired during blue/green): the
        endpoint is in service on the previous version although the update was sent. The registry
        follows the endpoint; re-applying would only fail the same way again. Only an update sent
        while the version was production counts (`_update_requested`)."""
        production, state = self.production(), self.endpoint.state()
        if production is None or not state.exists or state.status != "InService" or state.production is None:
            return False
        if state.production == production.arn or not update_requested(production):
            return False
        try:
            serving = self.find(state.production)
        except IllegalTransition:
            return False
        if serving.stage is not Stage.RETIRED:
            return False
        reason = f"deployment guardrails rolled {production.label} back; {serving.label} kept serving"
        with self._intent(
            "guardrail_rollback", serving, (Stage.PRODUCTION,), actor, reason, replaced=production.label
        ) as intent:
            restore = {ROLLBACK_OF: production.label, RESTORED_BY: "guardrails"}
            self._move(serving, Action.RESTORE, actor, reason, **restore)
            self._move(production, Action.RETIRE, actor, reason, **{RETIRED_BY: "guardrails"})
            self.audit.append(intent.record("production"))
        self._schedule_rearm(serving, actor)
        return True

    def _finish_approvals(self, actor: str) -> None:
        """Approved versions that were never deployed or shadowed (the approval run was
        interrupted, or found another run acting and left the version to this one): oldest first,
        as their approval events would have been handled."""
        for version in sorted(self.in_stage(Stage.APPROVED), key=lambda v: v.version.number):
            self.on_approved(version.arn, actor=actor)

    @under_lease
    def reconcile(self, actor: str = "reconcile") -> str:
        """Bring the endpoint and the champion pointer in line with the registry (after an
        interruption, or when the endpoint was busy the last time), after writing the records of
        interrupted runs, finishing interrupted registry moves and approvals, and following a
        rollback SageMaker's guardrails made."""
        pending = self.audit.pending(self.config.model.name)
        self._finish_interrupted_moves(actor)
        self._finish_approvals(actor)
        self._guardrail_rollback(actor)
        # An interrupted rollback is finished as a rollback: switched at once, not under the
        # guardrail alarms, which are likely firing in the incident that asked for it.
        applied = self._converge(guarded=not any(i.action == "rollback" for i in pending))
        production = self.production()
        if production is not None and applied == "updating" and not update_requested(production):
            production = self._markupdate_requested(production, actor)  # the swap after a staged step
        if production is not None:
            self.champion.publish(production.version)
        self._resume(actor, pending)
        if applied not in ("unchanged", "no production version"):
            self._record("reconcile", applied, production, actor, "endpoint brought in line with the registry")
        return applied

    @under_lease
    def tick(self, evidence: EvidenceSource) -> ShadowDecision | None:
        """What the scheduled evaluation function does each run: reconcile, decide the shadow,
        re-arm the retraining alarms when due."""
        self.reconcile("shadow-evaluation")
        decision = self.evaluate_shadow(evidence)
        self.rearm_if_due()
        return decision
