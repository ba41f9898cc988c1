"""What the controller reports: the model's status (what serves, what waits) and its history (a
mixin of the controller)."""

from __future__ import annotations

from typing import Any

from pipelines.config import ModelConfig
from pipelines.promotion.audit import Audit
from pipelines.promotion.endpoint import Endpoint
from pipelines.promotion.lifecycle import Stage
from pipelines.promotion.versions import CHANGED_AT, SHADOW_STARTED, ModelVersion, VersionReading


class StatusReport(VersionReading):
    config: ModelConfig
    endpoint: Endpoint
    audit: Audit

    def status(self) -> dict[str, Any]:
        state = self.endpoint.state()
        versions = self.versions()

        def brief(v: ModelVersion | None) -> dict[str, Any] | None:
            return (
                None
                if v is None
                else {
                    "version": v.label,
                    "arn": v.arn,
                    "stage": v.stage.value,
                    **{
                        k: v.metadata[k]
                        for k in (CHANGED_AT, SHADOW_STARTED, "TriggerReason", "TriggerAlarm")
                        if k in v.metadata
                    },
                    "lineage": v.lineage,
                }
            )

        return {
            "model": self.config.model.name,
            "endpoint": {
                "name": state.name,
                "exists": state.exists,
                "status": state.status,
                "config": state.config_name,
            },
            "production": brief(self.production(versions)),
            "shadow": brief(self.shadow(versions)),
            "previous_champion": brief(self.previous_champion(versions)),
            "pending_approval": [v.label for v in versions if v.stage is Stage.REGISTERED],
            "versions": [{"version": v.label, "stage": v.stage.value, "lineage": v.lineage} for v in versions],
            "recent_decisions": [r.to_json() for r in self.audit.records(self.config.model.name)[-10:]],
        }

    def history(self) -> list[dict[str, Any]]:
        """Every decision, oldest first, each with the lineage of the version it moved."""
        lineage = {v.label: v.lineage for v in self.versions()}
        return [
            record | {"lineage": lineage.get(record.get("version") or "", {})}
            for record in (r.to_json() for r in self.audit.records(self.config.model.name))
        ]
