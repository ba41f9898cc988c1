"""Promotion functions, one image with two entry points (pipelines.promotion does the work):

- `on_approved`: a model package of this group was approved ("SageMaker Model Package State
  Change", ModelApprovalStatus Approved): deploy it when nothing serves yet, else start its shadow.
  The function's own stage moves keep the status Approved and arrive here too; the controller
  records them as duplicates and changes nothing.
- `evaluate`: on the evaluation schedule, reconcile the endpoint with the registry and decide the
  shadow from live evidence (pipelines.promotion.aws_evidence).

The config is the content-addressed object the pipeline's jobs read (MODEL_CONFIG_URI); it names
the key by a placeholder, so the stack passes the key's ARN (KMS_KEY_ARN).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipelines import clients
from pipelines.config import ModelConfig, parse_config
from pipelines.events import package_approved
from pipelines.naming import split_uri
from pipelines.promotion.aws import aws_promotion
from pipelines.promotion.aws_evidence import aws_evidence
from pipelines.promotion.controller import Promotion
from pipelines.promotion.lease import PromotionBusy

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)
_clients: dict[str, Any] = {}
_config: ModelConfig | None = None


def client(service: str) -> Any:
    if service not in _clients:
        _clients[service] = clients.client(service)
    return _clients[service]


def deployed_config(environ: Mapping[str, str], s3: Any) -> ModelConfig:
    bucket, key = split_uri(environ["MODEL_CONFIG_URI"])
    config = parse_config(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
    pipeline = config.pipeline.model_copy(update={"kms_key_id": environ["KMS_KEY_ARN"]})
    return config.model_copy(update={"pipeline": pipeline})


def controller() -> tuple[ModelConfig, Promotion]:
    global _config
    if _config is None:
        _config = deployed_config(os.environ, client("s3"))
    return _config, aws_promotion(_config, client, os.environ["AUDIT_TABLE"])


def _logged(document: dict[str, Any]) -> dict[str, Any]:
    LOG.info(json.dumps(document, sort_keys=True, default=str))
    return document


def on_approved(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    approved = package_approved(event)  # MalformedEvent before any call
    _, promotion = controller()
    try:
        version = promotion.on_approved(approved.model_package_arn, event_id=approved.event_id)
    except PromotionBusy as busy:  # the run holding the lease, or the next evaluation, finishes it
        return _logged({"event": approved.event_id, "deferred": str(busy)})
    return _logged({"event": approved.event_id, "version": version.label, "stage": version.stage.value})


def evaluate(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    config, promotion = controller()
    try:
        decision = promotion.tick(aws_evidence(config, client("s3"), client("cloudwatch"), workdir=Path("/tmp")))
    except PromotionBusy as busy:  # the next scheduled run decides
        return _logged({"event": event.get("id"), "deferred": str(busy)})
    return _logged({"event": event.get("id"), "decision": decision.to_json() if decision else None})
