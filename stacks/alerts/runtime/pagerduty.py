"""PagerDuty function: the alert topic's notifications in, PagerDuty Events API v2 events out
(pipelines.alerts.message.pagerduty_event). The routing key is read from Secrets Manager at the
first invocation; a refused event fails the invocation, which Lambda retries and then sends to
the failure queue."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from pipelines import clients
from pipelines.alerts.aws import read_routing_key, send_to_pagerduty
from pipelines.alerts.message import pagerduty_event, pages, sns_notifications

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)
_cache: dict[str, Any] = {}


def routing_key() -> str:
    if "key" not in _cache:
        secrets = _cache.setdefault("secretsmanager", clients.client("secretsmanager"))
        _cache["key"] = read_routing_key(secrets, os.environ["ROUTING_KEY_SECRET"])
    return str(_cache["key"])


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    key = routing_key()
    sent = [
        send_to_pagerduty(
            pagerduty_event(
                key=key,
                subject=n.subject,
                message=n.message,
                source=os.environ["MODEL_NAME"],
                severity=os.environ["SEVERITY"],
            )
        )
        for n in sns_notifications(event)
        if pages(n.subject, n.message)
    ]
    LOG.info(json.dumps({"sent": len(sent), "dedup_keys": sent}))
    return {"sent": len(sent)}
