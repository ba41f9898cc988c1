"""Promotion functions, one image with two entry points (pipelines.promotion does the work):

- `on_approved`: a model package of this group was approved ("SageMaker Model Package State
  Change", ModelApprovalStatus Approved): deploy it when nothing serves yet, else start its shadow.
  The function's own stage moves keep the status Approved and arrive here too; the controller
  records them as duplicates and changes nothing.
- `evaluate`: on the evaluation schedule (and when an endpoint update finishes), reconcile the
  endpoint with the registry and decide the shadow from live evidence.

Settings: the deployed config at MODEL_CONFIG_URI (pipelines.clients); it names the key by a
placeholder, so the stack passes the key's ARN (KMS_KEY_ARN). A run that finds another holding the
lease defers: the next evaluation finishes what it would have done.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from pipelines import clients
from pipelines.events import package_approved
from pipelines.promotion.aws import deployed, on_aws
from pipelines.promotion.controller import EvidenceSource, Promotion
from pipelines.promotion.lease import PromotionBusy

logger = Logger(service="promotion")


@cache
def controller() -> tuple[Promotion, EvidenceSource]:
    config = deployed(
        clients.deployed_config(os.environ[clients.CONFIG_URI]), os.environ["KMS_KEY_ARN"], clients.shared("kms")
    )
    return on_aws(config, clients.shared, workdir=Path("/tmp"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
def on_approved(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    approved = package_approved(event)  # MalformedEvent before any call
    try:
        version = controller()[0].on_approved(approved.model_package_arn, event_id=approved.event_id)
        outcome = {"version": version.label, "stage": version.stage.value}
    except PromotionBusy as busy:  # the run holding the lease, or the next evaluation, finishes it
        outcome = {"deferred": str(busy)}
    logger.info("approval handled", extra=outcome)
    return {"event": approved.event_id, **outcome}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
def evaluate(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    promotion, evidence = controller()
    try:
        decision = promotion.tick(evidence)
        outcome: dict[str, Any] = {"decision": decision.to_json() if decision else None}
    except PromotionBusy as busy:  # the next scheduled run decides
        outcome = {"deferred": str(busy)}
    logger.info("evaluation", extra=outcome)
    return {"event": event.get("id"), **outcome}
