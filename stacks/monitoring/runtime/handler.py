"""Monitor launcher: the drift monitor schedule's tick in, a processing job for the window that
just ended out, or the reason there is nothing to judge yet (pipelines.monitoring.launch). Its
settings are its event: the schedule's input carries the job request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger

from pipelines import clients
from pipelines.monitoring.launch import has_objects, plan_run, start_job

logger = Logger(service="monitor-launcher")


@logger.inject_lambda_context(correlation_id_path="window_end")
def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    run = plan_run(event, lambda uri: has_objects(clients.shared("s3"), uri))
    started = run.request is not None and start_job(clients.shared("sagemaker"), run.request)
    document = {**run.to_json(), "started": started}
    logger.info("monitor run", extra=document)
    return document
