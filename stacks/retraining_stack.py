"""One stack per model config: pipeline, monitoring, retrain trigger, alerts and promotion, wired together."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from constructs import Construct

from pipelines.config import ModelConfig
from pipelines.naming import ResourceNames
from stacks.alerts.infrastructure import Alerts
from stacks.functions import failures_alarm
from stacks.monitoring.infrastructure import DriftMonitoring
from stacks.nag import acknowledge_function_scans, acknowledge_scan
from stacks.pipeline.infrastructure import RetrainingPipeline
from stacks.promotion.infrastructure import ModelPromotion
from stacks.trigger.infrastructure import Trigger


class RetrainingStack(cdk.Stack):
    """Attributes: `names`, `pipeline`, `monitoring`, `trigger`, `alerts`, `promotion`."""

    def __init__(self, scope: Construct, *, config: ModelConfig, staging: Path) -> None:
        self.names = ResourceNames.of(config)
        super().__init__(
            scope,
            self.names.stack,
            env=cdk.Environment(account=self.names.account, region=self.names.region),
            description=(
                f"Drift-triggered retraining of {self.names.model}: pipeline, monitoring, retrain trigger, alerts, "
                "promotion"
            ),
        )
        cdk.Tags.of(self).add("model", self.names.model)
        self.pipeline = RetrainingPipeline(self, "Pipeline", config=config, names=self.names, staging=staging)
        self.alerts = Alerts(
            self,
            "Alerts",
            names=self.names,
            routes=config.alerts,
            key=self.pipeline.key,
            artifact_bucket=self.pipeline.bucket,
            staging=staging,
        )
        self.monitoring = DriftMonitoring(
            self,
            "Monitoring",
            config=self.pipeline.deployed_config,
            names=self.names,
            image_uri=self.pipeline.image_uri,
            job_role=self.pipeline.role,
            key=self.pipeline.key,
            bucket=self.pipeline.bucket,
            staging=staging,
        )
        self.trigger = Trigger(
            self,
            "Trigger",
            names=self.names,
            alarm_names=self.monitoring.retraining_alarms,
            key=self.pipeline.key,
            cooldown_hours=config.trigger.cooldown_hours,
            max_staleness_days=config.trigger.max_staleness_days,
            retry_failed_runs=config.trigger.retry_failed_runs,
            staging=staging,
        )
        self.promotion = ModelPromotion(
            self,
            "Promotion",
            config=self.pipeline.deployed_config,
            names=self.names,
            key=self.pipeline.key,
            bucket=self.pipeline.bucket,
            image_repository=self.pipeline.image.repository,
            audit_table=self.trigger.table,
            staging=staging,
            dashboard=self.monitoring.dashboard,
        )
        failed = {
            "trigger-gate": (self.trigger.dead_letters, "retrain trigger"),
            "alerts": (self.alerts.failures[0], "alert function"),
            "promotion": (self.promotion.failed_events, "promotion functions"),
            "monitor": (self.monitoring.failures, "drift monitor runs"),
        }
        if len(self.alerts.failures) > 1:
            failed["pagerduty"] = (self.alerts.failures[1], "PagerDuty function")
        self.failure_alarms = {
            f"{self.names.model}-{slug}-failures": failures_alarm(
                self,
                f"FailedEventsAlarm{slug.title().replace('-', '')}",
                queue,
                self.alerts.topic,
                f"{self.names.model}-{slug}-failures",
                f"{self.names.model} {what}",
            )
            for slug, (queue, what) in failed.items()
        }
        self.alerts.allow_alarms(list(self.failure_alarms))
        acknowledge_function_scans(self)
        acknowledge_scan(
            self.pipeline.access_logs.node.default_child,  # type: ignore[arg-type]
            "CKV_AWS_18",
            "This is the server access log bucket of the artifact bucket; logging it to itself would loop.",
        )
