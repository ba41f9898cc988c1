"""Retrain trigger function: an EventBridge event in, the trigger's decisions (pipelines.trigger) out.

Events: CloudWatch alarm state change to ALARM, pipeline execution status change to a terminal
status, and the sweep schedule (which also retries a failed alarm-started run while its alarm is
still in ALARM). A malformed event raises before any call; the function's failure destination
keeps it. Settings: the deployed config at MODEL_CONFIG_URI (pipelines.clients).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from pipelines import clients
from pipelines.trigger import RetrainTrigger
from pipelines.trigger.aws import retrain_trigger
from pipelines.trigger.events import parse_gate_event

logger = Logger(service="retrain-trigger")


@cache
def trigger() -> RetrainTrigger:
    return retrain_trigger(clients.deployed_config(os.environ[clients.CONFIG_URI]), clients.shared)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    received = parse_gate_event(event)  # MalformedEvent before any call
    decisions = trigger().handle(received, delivery_id=context.aws_request_id)
    document = {"decisions": [d.to_json() for d in decisions]}
    logger.info("trigger decided", extra=document)
    return document
