"""AWS-documented sample events (tests/infra/events/) and this project's events derived from them.

Deriving only substitutes identifiers and the fields a test is about; the shape stays AWS's.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parent / "events"
ACCOUNT = "111122223333"
REGION = "us-east-1"


@cache
def _documented(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return loaded


def documented(name: str) -> dict[str, Any]:
    """A fresh copy of one documented example, unchanged."""
    return copy.deepcopy(_documented(name))


def alarm_arn(alarm: str, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm}"


def alarm_state_change(
    alarm: str,
    *,
    state: str = "ALARM",
    event_id: str = "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
    timestamp: str = "2026-11-20T17:04:40.989+0000",
    value: float = 0.31,
    composite: bool = False,
    account: str = ACCOUNT,
    region: str = REGION,
) -> dict[str, Any]:
    event = documented("alarm-state-change-composite" if composite else "alarm-state-change-single-metric")
    event.update(id=event_id, account=account, region=region, resources=[alarm_arn(alarm, account, region)])
    event["time"] = timestamp[:19] + "Z"
    detail = event["detail"]
    detail["alarmName"] = alarm
    detail["state"]["value"] = state
    detail["state"]["timestamp"] = timestamp
    if not composite:
        reason_data = json.loads(detail["state"]["reasonData"])
        reason_data["recentDatapoints"] = [value]
        detail["state"]["reasonData"] = json.dumps(reason_data)
    return event


def pipeline_arn(pipeline: str, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:pipeline/{pipeline}"


def execution_status_change(
    pipeline: str,
    execution_id: str,
    *,
    status: str = "Succeeded",
    event_id: str = "315c1398-40ff-a850-213b-158f73kd93ir",
    account: str = ACCOUNT,
    region: str = REGION,
) -> dict[str, Any]:
    event = documented("pipeline-execution-status-change")
    arn = pipeline_arn(pipeline, account, region)
    execution = f"{arn}/execution/{execution_id}"
    event.update(id=event_id, account=account, region=region, resources=[arn, execution])
    event["detail"].update(currentPipelineExecutionStatus=status, pipelineArn=arn, pipelineExecutionArn=execution)
    return event


def model_package_state_change(
    group: str, version: int, *, approval: str = "PendingManualApproval", account: str = ACCOUNT, region: str = REGION
) -> dict[str, Any]:
    event = documented("model-package-state-change")
    arn = f"arn:aws:sagemaker:{region}:{account}:model-package/{group}/{version}"
    event.update(account=account, region=region, resources=[arn])
    event["detail"].update(
        ModelPackageGroupName=group, ModelPackageVersion=version, ModelPackageArn=arn, ModelApprovalStatus=approval
    )
    return event


def scheduled_event(
    rule: str, *, event_id: str, time: str, account: str = ACCOUNT, region: str = REGION
) -> dict[str, Any]:
    event = documented("scheduled-event")
    event.update(
        id=event_id,
        time=time,
        account=account,
        region=region,
        resources=[f"arn:aws:events:{region}:{account}:rule/{rule}"],
    )
    return event


def processing_job_state_change(
    job_name: str, *, status: str = "Failed", account: str = ACCOUNT, region: str = REGION
) -> dict[str, Any]:
    event = documented("processing-job-state-change")
    arn = f"arn:aws:sagemaker:{region}:{account}:processing-job/{job_name.lower()}"
    event.update(account=account, region=region, resources=[arn])
    event["detail"].update(ProcessingJobName=job_name, ProcessingJobArn=arn, ProcessingJobStatus=status)
    return event


def endpoint_state_change(
    endpoint: str, *, status: str = "IN_SERVICE", account: str = ACCOUNT, region: str = REGION
) -> dict[str, Any]:
    event = documented("endpoint-state-change")
    arn = f"arn:aws:sagemaker:{region}:{account}:endpoint/{endpoint.lower()}"
    event.update(account=account, region=region, resources=[arn])
    event["detail"].update(EndpointName=endpoint, EndpointArn=arn, EndpointStatus=status)
    return event
