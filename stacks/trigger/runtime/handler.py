"""Retrain trigger function: an EventBridge event in, the gate's decisions (pipelines.trigger.service) out.

Events: CloudWatch alarm state change to ALARM, pipeline execution status change to a terminal
status, and the sweep schedule (which also retries a failed alarm-started run while its alarm is
still in ALARM). A malformed event raises before any call; the function's
failure destination keeps it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from pipelines import clients
from pipelines.trigger import RetrainTrigger, TriggerPolicy
from pipelines.trigger.aws import CloudWatchAlarmStates, DynamoDbTriggerStore, SageMakerPipelineRunner
from pipelines.trigger.events import parse_gate_event

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)
_gate: RetrainTrigger | None = None


def build_gate(environ: Mapping[str, str], *, dynamodb: Any, sagemaker: Any, cloudwatch: Any) -> RetrainTrigger:
    staleness = environ.get("MAX_STALENESS_DAYS")
    return RetrainTrigger(
        pipeline=environ["PIPELINE_NAME"],
        store=DynamoDbTriggerStore(dynamodb, environ["AUDIT_TABLE"]),
        runner=SageMakerPipelineRunner(sagemaker, environ["PIPELINE_NAME"]),
        policy=TriggerPolicy.from_settings(
            cooldown_hours=float(environ["COOLDOWN_HOURS"]),
            max_staleness_days=float(staleness) if staleness else None,
            retry_failed_runs=environ.get("RETRY_FAILED_RUNS", "true") == "true",
        ),
        alarms=CloudWatchAlarmStates(cloudwatch),
    )


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    global _gate
    if _gate is None:
        _gate = build_gate(
            os.environ,
            dynamodb=clients.client("dynamodb"),
            sagemaker=clients.client("sagemaker"),
            cloudwatch=clients.client("cloudwatch"),
        )
    decisions = _gate.handle(parse_gate_event(event), delivery_id=getattr(context, "aws_request_id", ""))
    document = {"decisions": [d.to_json() for d in decisions]}
    LOG.info(json.dumps(document, sort_keys=True))
    return document
