"""The alert function's AWS adapters: the failed steps of an execution, a run's reports, publishing.

Calls: sagemaker ListPipelineExecutionSteps, s3 GetObject, sns Publish. The CDK alerts construct
grants exactly these (checked by tests/infra/test_functions.py).
"""

from __future__ import annotations

import json
from typing import Any

from pipelines.alert_message import (
    DATA_FAILED,
    GATES_FAILED,
    Alert,
    StepFailure,
    build_alert,
    failed_steps,
    report_uris,
)


def list_failed_steps(sagemaker: Any, execution_arn: str) -> list[StepFailure]:
    steps: list[dict[str, Any]] = []
    request: dict[str, Any] = {"PipelineExecutionArn": execution_arn, "SortOrder": "Ascending"}
    while True:
        page = sagemaker.list_pipeline_execution_steps(**request)
        steps += page.get("PipelineExecutionSteps", [])
        if not page.get("NextToken"):
            return failed_steps(steps)
        request["NextToken"] = page["NextToken"]


def read_report(s3: Any, uri: str) -> dict[str, Any] | None:
    """A JSON report by s3:// URI; None when the run did not write it."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    document = json.loads(body)
    return document if isinstance(document, dict) else None


def publish(sns: Any, topic_arn: str, alert: Alert) -> str:
    response = sns.publish(
        TopicArn=topic_arn, Subject=alert.subject, Message=alert.sns_message(), MessageStructure="json"
    )
    return str(response["MessageId"])


def alert_for_execution(
    execution_arn: str, *, sagemaker: Any, s3: Any, model: str, artifact_prefix: str, region: str
) -> Alert:
    """Everything the alert function does before publishing: failed steps, then the one report
    that explains them."""
    failures = list_failed_steps(sagemaker, execution_arn)
    steps = {f.step for f in failures}
    uris = report_uris(artifact_prefix, execution_arn)
    return build_alert(
        model=model,
        pipeline=execution_arn.split(":pipeline/", 1)[-1].split("/", 1)[0],
        execution_arn=execution_arn,
        failures=failures,
        evaluation=read_report(s3, uris["evaluation"]) if GATES_FAILED in steps else None,
        validation=read_report(s3, uris["validation"]) if DATA_FAILED in steps else None,
        console_url=f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/pipelines",
    )
