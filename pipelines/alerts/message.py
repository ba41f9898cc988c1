"""The alert a person gets when a retraining run fails: which gate or data check stopped it, with
observed value, threshold and delta, read from the run's own reports.

`build_alert` is pure. It takes the failed steps (from ListPipelineExecutionSteps) and, when the
run got that far, the Evaluate job's evaluation.json (gate verdicts, written by pipelines.gates.rules) or
DataPull's validation_report.json (data checks). The S3 locations of those reports follow from the
definition's layout: `<artifact prefix>/executions/<execution id>/<step>/<output>/<file>`.
Standard library only: it runs in Lambda as is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.naming import (
    DATA_FAILED,
    DATA_PULL,
    EVALUATE,
    EVALUATION_FILE,
    GATES_FAILED,
    VALIDATION_FILE,
    Layout,
    split_uri,
)

# Step and output names of pipelines.definition.builder (which imports the sagemaker SDK, so not here).
SUBJECT_LIMIT = 100  # SNS: subjects are at most 100 printable ASCII characters


@dataclass(frozen=True)
class StepFailure:
    step: str
    step_type: str
    message: str


@dataclass(frozen=True)
class Alert:
    subject: str
    text: str

    def sns_message(self) -> str:
        """One message per protocol (SNS MessageStructure=json): plain text for email and
        everything else; AWS Chatbot's custom-notification schema for HTTPS endpoints."""
        chat = {
            "version": "1.0",
            "source": "custom",
            "content": {"textType": "client-markdown", "title": self.subject, "description": self.text},
        }
        return json.dumps({"default": self.text, "email": self.text, "https": json.dumps(chat)})


def execution_id(execution_arn: str) -> str:
    return execution_arn.rstrip("/").rsplit("/", 1)[-1]


def report_uris(artifact_prefix: str, execution_arn: str) -> dict[str, str]:
    """Where the run wrote its reports; `artifact_prefix` is `s3://<bucket>/<model>`."""
    layout = Layout(*split_uri(artifact_prefix.rstrip("/")))
    run = execution_id(execution_arn)
    return {
        "evaluation": layout.report(run, EVALUATE, "evaluation", EVALUATION_FILE),
        "validation": layout.report(run, DATA_PULL, "report", VALIDATION_FILE),
    }


def failed_steps(steps: Sequence[Mapping[str, Any]]) -> list[StepFailure]:
    """The failed steps of a ListPipelineExecutionSteps answer, with their message."""
    found = []
    for step in steps:
        if step.get("StepStatus") != "Failed":
            continue
        fail = step.get("Metadata", {}).get("Fail", {})
        message = fail.get("ErrorMessage") or step.get("FailureReason") or "no failure reason given"
        found.append(StepFailure(str(step.get("StepName")), _step_type(step), str(message)))
    return found


def _step_type(step: Mapping[str, Any]) -> str:
    metadata = step.get("Metadata", {})
    return next(iter(metadata), "Unknown") if isinstance(metadata, Mapping) else "Unknown"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _gate_lines(evaluation: Mapping[str, Any]) -> list[str]:
    lines = []
    for name, gate in evaluation.get("gates", {}).items():
        if gate.get("passed", True):
            continue
        observed, threshold = _number(gate.get("observed")), _number(gate.get("threshold"))
        if observed is None or threshold is None:
            lines.append(f"- gate {name} ({gate.get('metric')}): {gate.get('detail') or 'not measurable'}")
            continue
        line = (
            f"- gate {name} ({gate.get('metric')}): observed {observed:.4f}, threshold {threshold:.4f}, "
            f"delta {observed - threshold:+.4f}"
        )
        champion = _number(gate.get("champion"))
        if champion is not None:
            line += f", champion {champion:.4f}"
        if gate.get("detail"):
            line += f" ({gate['detail']})"
        lines.append(line)
    return lines


def _check_lines(validation: Mapping[str, Any]) -> list[str]:
    lines = []
    for check in validation.get("checks", []):
        if check.get("passed", True):
            continue
        observed, threshold = check.get("observed"), check.get("threshold")
        line = f"- data check {check.get('name')}: observed {observed}, threshold {threshold}"
        if _number(observed) is not None and _number(threshold) is not None:
            line += f", delta {float(observed) - float(threshold):+.4f}"
        lines.append(f"{line} ({check.get('message')})")
    return lines


def build_alert(
    *,
    model: str,
    pipeline: str,
    execution_arn: str,
    failures: Sequence[StepFailure],
    evaluation: Mapping[str, Any] | None = None,
    validation: Mapping[str, Any] | None = None,
    console_url: str = "",
) -> Alert:
    steps = {f.step for f in failures}
    if GATES_FAILED in steps:
        what = "candidate failed the quality gates"
        details = _gate_lines(evaluation or {})
    elif DATA_FAILED in steps:
        what = "training data failed validation"
        details = _check_lines(validation or {})
    else:
        what = "pipeline step failed"
        details = []
    lines = [f"Retraining of {model} stopped: {what}.", f"Execution: {execution_arn}"]
    if console_url:
        lines.append(f"Open: {console_url}")
    lines += ["", "Failed steps:"] + [f"- {f.step} ({f.step_type}): {f.message}" for f in failures]
    if not failures:
        lines.append("- none reported: see the execution in SageMaker Studio")
    if details:
        lines += ["", "Details:", *details]
    elif steps & {GATES_FAILED, DATA_FAILED}:
        lines += ["", "Details: the report was not found; the failed step's message above has the summary."]
    subject = f"[{model}] retraining failed: {what}"
    subject = subject.encode("ascii", "replace").decode()[:SUBJECT_LIMIT]
    return Alert(subject=subject, text="\n".join(lines))


# ---- PagerDuty (Events API v2)

# POST a JSON event here ("Send an Alert Event", PagerDuty Events API v2:
# https://developer.pagerduty.com/api-reference/368ae3d938c9e-send-an-event-to-pager-duty). An
# HTTPS subscription of this URL to SNS would receive SNS's own JSON (and its subscription
# confirmation), which the Events API does not read: a function sends the events instead.
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_SUMMARY_LIMIT = 1024  # payload.summary
PAGERDUTY_DEDUP_LIMIT = 255  # dedup_key


def routing_key(secret_value: str) -> str:
    """The routing key from the secret's value: the key itself, or JSON {"routing_key": ...}."""
    text = secret_value.strip()
    if text.startswith("{"):
        document = json.loads(text)
        if not isinstance(document, dict) or not isinstance(document.get("routing_key"), str):
            raise ValueError('the PagerDuty secret is JSON without a "routing_key" string')
        text = document["routing_key"].strip()
    if len(text) != 32 or not text.isalnum():
        raise ValueError("the PagerDuty secret does not hold a 32-character routing (integration) key")
    return text


def pagerduty_event(*, key: str, subject: str, message: str, source: str, severity: str) -> dict[str, Any]:
    """One SNS notification of the alert topic as a PagerDuty event. A CloudWatch alarm's
    notification (its JSON, with AlarmName and NewStateValue) triggers on ALARM and resolves on OK
    under the alarm's name as dedup key, so one incident follows one alarm; any other message (a
    failed run, explained) triggers an incident of its own."""
    alarm = _alarm_notification(message)
    if alarm is not None:
        name, state, reason = alarm
        return {
            "routing_key": key,
            "event_action": "resolve" if state == "OK" else "trigger",
            "dedup_key": name[:PAGERDUTY_DEDUP_LIMIT],
            "payload": {
                "summary": f"{name}: {reason}"[:PAGERDUTY_SUMMARY_LIMIT],
                "source": source,
                "severity": severity,
                "custom_details": {"alarm": name, "state": state, "reason": reason},
            },
        }
    return {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {
            "summary": (subject or message.strip().split("\n", 1)[0] or "retraining alert")[:PAGERDUTY_SUMMARY_LIMIT],
            "source": source,
            "severity": severity,
            "custom_details": {"message": message},
        },
    }


def pages(subject: str, message: str) -> bool:
    """Whether a notification of the alert topic is an incident: an alarm's state change, or a
    failed run explained by the alert function (which always gives a subject). Notices that
    EventBridge publishes (a version waiting for approval) carry no subject: they are for people
    reading email and Slack, not for whoever is on call."""
    return bool(subject) or _alarm_notification(message) is not None


def _alarm_notification(message: str) -> tuple[str, str, str] | None:
    try:
        document = json.loads(message)
    except ValueError:
        return None
    if not isinstance(document, dict) or not {"AlarmName", "NewStateValue"} <= set(document):
        return None
    return str(document["AlarmName"]), str(document["NewStateValue"]), str(document.get("NewStateReason", ""))


@dataclass(frozen=True)
class Notification:
    """One SNS notification as Lambda receives it."""

    message_id: str
    subject: str
    message: str


class MalformedNotification(ValueError):
    """The event is not an SNS notification: names the missing field."""


def sns_notifications(event: Any) -> list[Notification]:
    """The notifications of an SNS event for Lambda (`Records[].Sns`)."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list) or not records:
        raise MalformedNotification("Records: missing or empty; not an SNS event")
    found = []
    for index, record in enumerate(records):
        sns = record.get("Sns") if isinstance(record, Mapping) else None
        if not isinstance(sns, Mapping) or not isinstance(sns.get("Message"), str):
            raise MalformedNotification(f"Records[{index}].Sns.Message: missing; not an SNS notification")
        found.append(Notification(str(sns.get("MessageId", "")), str(sns.get("Subject") or ""), sns["Message"]))
    return found
