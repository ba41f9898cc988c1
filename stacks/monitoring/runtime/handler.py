"""Monitor launcher: the drift monitor schedule's tick in, a processing job for the window that
just ended out, or the reason there is nothing to judge yet; or a sharded run's profile stage
completed, its judge job out (pipelines.monitoring.launch). Its settings are its event: the
schedule's input, and the completion rule's, carry the job request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger

from pipelines import clients
from pipelines.monitoring.launch import S3Store, plan_judge, plan_run, start_job

logger = Logger(service="monitor-launcher")


@logger.inject_lambda_context(correlation_id_path="window_end")
def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    store = S3Store(clients.shared("s3"))
    run = plan_judge(event["launch"], event["completed"], store) if "completed" in event else plan_run(event, store)
    if run is None:
        return {"ignored": event["completed"]["detail"].get("ProcessingJobName")}
    started = run.request is not None and start_job(clients.shared("sagemaker"), run.request)
    document = {**run.to_json(), "started": started}
    logger.info("monitor run", extra=document)
    return document
