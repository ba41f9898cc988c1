"""One promotion run at a time (the model's lease), and nothing lost when a run is interrupted:
the intent of each change is written before it, its record after (a mixin of the controller)."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from pipelines.config import ModelConfig
from pipelines.promotion.audit import Audit, Intent
from pipelines.promotion.lease import Lease, PromotionBusy
from pipelines.promotion.lifecycle import IllegalTransition, Stage
from pipelines.promotion.versions import ModelVersion, VersionReading

Method = TypeVar("Method", bound=Callable[..., Any])


def under_lease(method: Method) -> Method:
    """Run the method holding the model's lease (re-entrant: a method called by another runs
    under the lease its caller took)."""

    @functools.wraps(method)
    def run(self: RunKeeping, *args: Any, **kwargs: Any) -> Any:
        with self.holding_lease(str(kwargs.get("actor", method.__name__))):
            return method(self, *args, **kwargs)

    return run  # type: ignore[return-value]


class RunKeeping(VersionReading):
    config: ModelConfig
    audit: Audit
    clock: Callable[[], datetime]
    lease: Lease | None
    _held: int
    _resumed: list[Intent]

    def _now(self) -> str:
        return self.clock().isoformat(timespec="seconds")

    @contextmanager
    def holding_lease(self, actor: str) -> Iterator[None]:
        """Hold the model's lease while acting (pipelines.promotion.lease); refuse with
        PromotionBusy while another run holds it."""
        if self._held or self.lease is None:
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1
            return
        model, owner = self.config.model.name, f"{actor}:{uuid.uuid4().hex[:8]}"
        holder = self.lease.acquire(model, owner, self.clock())
        if holder is not None:
            raise PromotionBusy(
                f"another promotion run ({holder.owner}) is acting on {model} until "
                f"{holder.until.isoformat(timespec='seconds')} at the latest; try again when it is done"
            )
        self._held = 1
        try:
            yield
        finally:
            self._held = 0
            self.lease.release(model, owner)

    @contextmanager
    def _intent(
        self, action: str, version: ModelVersion, targets: Sequence[Stage], actor: str, reason: str, **details: Any
    ) -> Iterator[Intent]:
        """Write what is about to happen before the first change; the body writes the record
        (`self.audit.append(intent.record(outcome))`). A run that dies in between leaves the
        intent, and the next run writes the record from it (`_resume`)."""
        now, sequence = self._now(), time.time_ns()
        intent = Intent(
            id=f"{now}#{sequence:020d}",
            at=now,
            sequence=sequence,
            model=self.config.model.name,
            action=action,
            version=version.label,
            targets=tuple(t.value for t in targets),
            actor=actor,
            reason=reason,
            details=details,
        )
        self.audit.begin(intent)
        try:
            yield intent
        except IllegalTransition:  # refused before any change: nothing for a later run to finish
            self.audit.finish(intent.model, intent.id)
            raise
        self.audit.finish(intent.model, intent.id)

    def _resume(self, actor: str, pending: list[Intent]) -> list[Intent]:
        """Write the records of interrupted runs from their intents, once `reconcile` finished
        their moves and converged the endpoint: "completed" when the version reached what the run
        set out to do, else "interrupted"."""
        if not pending:
            return []
        model = self.config.model.name
        stages = {v.label: v.stage.value for v in self.versions()}
        completed = []
        for intent in pending:
            reached = stages.get(intent.version) in intent.targets
            note = "finished after an interruption" if reached else "interrupted before it took effect: run it again"
            self.audit.append(intent.record("completed" if reached else "interrupted", resumed_by=actor, note=note))
            self.audit.finish(model, intent.id)
            if reached:
                completed.append(intent)
        self._resumed += completed
        return completed

    def _already_done(self, action: str, version: str | None = None) -> str | None:
        """The version a resumed, completed intent of `action` was about, if this run resumed one."""
        for intent in self._resumed:
            if intent.action == action and version in (None, intent.version):
                return intent.version
        return None
