"""The alert functions' adapters: the failed steps of an execution, a run's reports, publishing,
and PagerDuty's Events API.

Calls: sagemaker ListPipelineExecutionSteps, s3 GetObject, sns Publish; secretsmanager
GetSecretValue and an HTTPS POST to PagerDuty for the PagerDuty function. The CDK alerts construct
grants exactly these (checked by tests/infra/test_functions.py).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pipelines import naming
from pipelines.alerts.message import (
    PAGERDUTY_EVENTS_URL,
    Alert,
    Notification,
    StepFailure,
    build_alert,
    failed_steps,
    pagerduty_event,
    pages,
    report_uris,
    routing_key,
)
from pipelines.naming import DATA_FAILED, GATES_FAILED


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


class PagerDutyRefused(RuntimeError):
    """PagerDuty did not accept an event (the Lambda invocation fails and is retried)."""


def read_routing_key(secretsmanager: Any, secret_id: str) -> str:
    return routing_key(secretsmanager.get_secret_value(SecretId=secret_id)["SecretString"])


def send_to_pagerduty(event: dict[str, Any], opener: Callable[..., Any] | None = None) -> str:
    """POST one event; PagerDuty answers 202 with the event's dedup key."""
    opener = opener or urllib.request.urlopen
    request = urllib.request.Request(
        PAGERDUTY_EVENTS_URL,
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with opener(request, timeout=10) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:  # 400 (bad event), 429 (rate limited), 5xx
        raise PagerDutyRefused(f"PagerDuty answered {error.code}: {error.read()[:300]!r}") from None
    if status != 202:
        raise PagerDutyRefused(f"PagerDuty answered {status}: {body[:300]!r}")
    return str(json.loads(body).get("dedup_key", ""))


# ---- what the functions do, from the deployed config (JSON) alone


def _where(config: Mapping[str, Any]) -> tuple[str, str, str]:
    model, pipeline = config["model"]["name"], config["pipeline"]
    return model, pipeline["region"], pipeline["account"]


def explain_failure(execution_arn: str, config: Mapping[str, Any], client: Callable[[str], Any]) -> dict[str, str]:
    """The alert function: explain a failed execution on the alert topic."""
    model, region, account = _where(config)
    bucket = config["pipeline"].get("artifact_bucket") or naming.bucket_name(model, account, region)
    alert = alert_for_execution(
        execution_arn,
        sagemaker=client("sagemaker"),
        s3=client("s3"),
        model=model,
        artifact_prefix=naming.Layout(bucket, model).prefix,
        region=region,
    )
    message_id = publish(client("sns"), naming.alert_topic_arn(region, account, model), alert)
    return {"execution": execution_arn, "message_id": message_id, "subject": alert.subject}


_routing_keys: dict[str, str] = {}


def page(notifications: Sequence[Notification], config: Mapping[str, Any], client: Callable[[str], Any]) -> list[str]:
    """The PagerDuty function: each notification that is an incident as an Events API v2 event (the
    routing key read from Secrets Manager once per container). Returns the events' dedup keys."""
    route = config["alerts"]["pagerduty"]
    secret = route["routing_key_secret"]
    if secret not in _routing_keys:
        _routing_keys[secret] = read_routing_key(client("secretsmanager"), secret)
    return [
        send_to_pagerduty(
            pagerduty_event(
                key=_routing_keys[secret],
                subject=n.subject,
                message=n.message,
                source=config["model"]["name"],
                severity=route.get("severity", "error"),
            )
        )
        for n in notifications
        if pages(n.subject, n.message)
    ]
