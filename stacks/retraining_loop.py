"""The closed loop for one model as one construct: pipeline, monitoring, retrain trigger, alerts
and promotion, wired together. A platform team puts it in a stack of its own CDK app:

    from pipelines.config import load_config
    from stacks.retraining_loop import RetrainingLoop

    class MlStack(cdk.Stack):
        def __init__(self, scope, construct_id, **kwargs):
            super().__init__(scope, construct_id, **kwargs)
            RetrainingLoop(self, "Fraud", config=load_config("configs/fraud-detector.yaml"))

and adds cdk-nag to its app if it wants the checks (`stacks.nag.check(app)`); every finding the
loop's resources raise is acknowledged with its reason where the resource is made. This project's
own app (`app.py`, stacks.app) is one user of it: one `RetrainingStack` per config in cdk.json.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from constructs import Construct

from pipelines import naming
from pipelines.config import ModelConfig, require_deployable
from pipelines.naming import ResourceNames
from stacks.accounts import LoopError, TrainingGrants, group_policy, registry_events
from stacks.alerts.infrastructure import Alerts
from stacks.functions import failures_alarm
from stacks.monitoring.infrastructure import DriftMonitoring
from stacks.nag import acknowledge_function_scans, acknowledge_scan
from stacks.pipeline.infrastructure import RetrainingPipeline
from stacks.promotion.infrastructure import ModelPromotion
from stacks.trigger.infrastructure import Trigger


def _staging() -> Path:
    """A folder for the function bundles and image contexts until synthesis copies them."""
    folder = Path(tempfile.mkdtemp(prefix="retraining-staging-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _same_environment(stack: cdk.Stack, names: ResourceNames) -> None:
    """Every physical name is derived from the config's account and region (the SDK-built pipeline
    definition cannot take CDK tokens): a stack deployed elsewhere would name another account's
    resources."""
    for what, actual, wanted in (("account", stack.account, names.account), ("region", stack.region, names.region)):
        if not cdk.Token.is_unresolved(actual) and actual != wanted:
            raise LoopError(
                f"{names.model}: the config's pipeline.{what} is {wanted} but stack {stack.stack_name} deploys to "
                f"{actual}; set env=cdk.Environment(account=..., region=...) to the config's, or change the config"
            )


class RetrainingLoop(Construct):
    """Attributes: `names`, `pipeline`, `monitoring`, `trigger`, `alerts`, `promotion`,
    `failure_alarms` (alarm name -> Alarm)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: ModelConfig, staging: Path | None = None
    ) -> None:
        super().__init__(scope, construct_id)
        require_deployable(config)
        self.names = names = ResourceNames.of(config)
        _same_environment(cdk.Stack.of(self), names)
        staging = staging or _staging()
        cdk.Tags.of(self).add("model", names.model)
        self.pipeline = RetrainingPipeline(self, "Pipeline", config=config, names=names, staging=staging)
        self.alerts = Alerts(
            self,
            "Alerts",
            names=names,
            routes=config.alerts,
            key=self.pipeline.key,
            artifact_bucket=self.pipeline.bucket,
            settings=self.pipeline.settings,
            staging=staging,
        )
        self.monitoring = DriftMonitoring(
            self,
            "Monitoring",
            config=self.pipeline.deployed_config,
            names=names,
            image_uri=self.pipeline.image_uri,
            job_role=self.pipeline.role,
            key=self.pipeline.key,
            bucket=self.pipeline.bucket,
            staging=staging,
        )
        self.trigger = Trigger(
            self,
            "Trigger",
            names=names,
            alarm_names=[*self.monitoring.retraining_alarms, *config.trigger.external_alarms],
            key=self.pipeline.key,
            settings=self.pipeline.settings,
            retry_failed_runs=config.trigger.retry_failed_runs,
            staging=staging,
        )
        # With an account of its own, the serving side is stacks.accounts.ServingStack.
        self.promotion = (
            ModelPromotion(
                self,
                "Promotion",
                config=self.pipeline.deployed_config,
                names=names,
                key=self.pipeline.key,
                bucket=self.pipeline.bucket,
                image_repository=self.pipeline.image.repository,
                audit_table_arn=self.trigger.table.table_arn,
                settings=self.pipeline.settings,
                staging=staging,
                dashboard=self.monitoring.dashboard,
            )
            if names.serving_account == names.account
            else None
        )
        self.grants = None if names.single_account else self._grant_other_accounts(config)
        self.failure_alarms = self._failure_alarms()
        for action in (self.monitoring.silent.add_alarm_action, self.monitoring.silent.add_ok_action):
            action(cloudwatch_actions.SnsAction(self.alerts.topic))
        self.alerts.allow_alarms([*self.failure_alarms, naming.monitor_silent_alarm(names.model)])
        acknowledge_function_scans(self)
        acknowledge_scan(
            self.pipeline.access_logs.node.default_child,  # type: ignore[arg-type]
            "CKV_AWS_18",
            "This is the server access log bucket of the artifact bucket; logging it to itself would loop.",
        )

    def _grant_other_accounts(self, config: ModelConfig) -> TrainingGrants:
        names, group = self.names, self.pipeline.model_package_group
        if group is not None:  # the registry is this account's: it shares the group and its events
            group.model_package_group_policy = group_policy(names, config)
            registry_events(self, names)
        return TrainingGrants(
            self,
            "OtherAccounts",
            config=config,
            names=names,
            bucket=self.pipeline.bucket,
            key=self.pipeline.key,
            table=self.trigger.table,
            settings=self.pipeline.settings,
            topic=self.alerts.topic,
        )

    def _failure_alarms(self) -> dict[str, cdk.aws_cloudwatch.Alarm]:
        """One alarm, to the alert topic, per failure queue."""
        model = self.names.model
        failed = {
            "trigger": (self.trigger.dead_letters, "retrain trigger"),
            "alerts": (self.alerts.failures[0], "alert function"),
            # In a serving account of its own the promotion's alarm is there, forwarded (stacks.accounts).
            **({"promotion": (self.promotion.failed_events, "promotion functions")} if self.promotion else {}),
            "monitor": (self.monitoring.failures, "drift monitor runs"),
        }
        if len(self.alerts.failures) > 1:
            failed["pagerduty"] = (self.alerts.failures[1], "PagerDuty function")
        return {
            naming.failures_alarm(model, unit): failures_alarm(
                self,
                f"FailedEventsAlarm{unit.title()}",
                queue,
                self.alerts.topic,
                naming.failures_alarm(model, unit),
                f"{model} {what}",
            )
            for unit, (queue, what) in failed.items()
        }
