"""PagerDuty function: the alert topic's notifications in, PagerDuty Events API v2 events out
(pipelines.alerts: alarms and explained failures page, notices do not). A refused event fails the
invocation, which Lambda retries and then sends to the failure queue. Settings: the deployed config
at MODEL_CONFIG_URI (its `alerts.pagerduty` names the routing key's secret)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger

from pipelines import clients
from pipelines.alerts.aws import page
from pipelines.alerts.message import sns_notifications

logger = Logger(service="pagerduty")


@logger.inject_lambda_context(correlation_id_path="Records[0].Sns.MessageId")
def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    notifications = sns_notifications(event)  # MalformedNotification before any call
    sent = page(notifications, clients.deployed_config(os.environ[clients.CONFIG_URI]), clients.shared)
    logger.info("paged", extra={"sent": len(sent), "dedup_keys": sent})
    return {"sent": len(sent)}
