"""Alert function: a failed pipeline execution in, one SNS message naming the failed gate or data
check (observed, threshold, delta) out (pipelines.alerts). Settings: the deployed config at
MODEL_CONFIG_URI (pipelines.clients)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from pipelines import clients
from pipelines.alerts.aws import explain_failure
from pipelines.events import execution_failed

logger = Logger(service="alerts")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
def handler(event: Mapping[str, Any], context: Any) -> dict[str, str]:
    execution_arn = execution_failed(event).execution_arn  # MalformedEvent before any call
    config = clients.deployed_config(os.environ[clients.CONFIG_URI])
    published = explain_failure(execution_arn, config, clients.shared)
    logger.info("failure explained", extra=published)
    return published
