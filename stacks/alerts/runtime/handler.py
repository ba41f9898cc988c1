"""Alert function: a failed pipeline execution in, one SNS message naming the failed gate or data
check (observed, threshold, delta) out. The text is built by pipelines.alerts.message."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from pipelines import clients
from pipelines.alerts.aws import alert_for_execution, publish
from pipelines.events import execution_failed

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    if service not in _clients:
        _clients[service] = clients.client(service)
    return _clients[service]


def handler(event: Mapping[str, Any], context: Any) -> dict[str, str]:
    execution_arn = execution_failed(event).execution_arn  # MalformedEvent before any call
    alert = alert_for_execution(
        execution_arn,
        sagemaker=client("sagemaker"),
        s3=client("s3"),
        model=os.environ["MODEL_NAME"],
        artifact_prefix=os.environ["ARTIFACT_PREFIX"],
        region=os.environ["AWS_REGION"],
    )
    message_id = publish(client("sns"), os.environ["TOPIC_ARN"], alert)
    LOG.info(json.dumps({"execution": execution_arn, "subject": alert.subject, "message_id": message_id}))
    return {"message_id": message_id, "subject": alert.subject}
