"""Monitor launcher: the drift monitor schedule's tick in, a processing job for the window that
just ended out, or the reason there is nothing to judge yet (pipelines.monitoring.launch)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from pipelines import clients
from pipelines.monitoring.launch import has_objects, plan_run, start_job

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    if service not in _clients:
        _clients[service] = clients.client(service)
    return _clients[service]


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    run = plan_run(event, lambda uri: has_objects(client("s3"), uri))
    started = run.request is not None and start_job(client("sagemaker"), run.request)
    document = {**run.to_json(), "started": started}
    LOG.info(json.dumps(document, sort_keys=True))
    return document
