"""PagerDuty's Events API v2 events made from the alert topic's notifications, and the sender."""

from __future__ import annotations

import io
import json
import urllib.error
from typing import Any

import pytest

from pipelines.alerts.aws import PagerDutyRefused, send_to_pagerduty
from pipelines.alerts.message import (
    PAGERDUTY_EVENTS_URL,
    MalformedNotification,
    pagerduty_event,
    routing_key,
    sns_notifications,
)

KEY = "R0123456789abcdef0123456789ABCDE"


def test_a_failed_run_triggers_an_incident_with_the_alert_text() -> None:
    text = "QualityGates failed (1 of 2): min_recall: recall observed 0.6200 < threshold 0.7000 (delta -0.0800)"
    event = pagerduty_event(
        key=KEY, subject="[fraud] retraining failed", message=text, source="fraud", severity="error"
    )
    assert event == {
        "routing_key": KEY,
        "event_action": "trigger",
        "payload": {
            "summary": "[fraud] retraining failed",
            "source": "fraud",
            "severity": "error",
            "custom_details": {"message": text},
        },
    }


def test_an_alarm_triggers_on_alarm_and_resolves_on_ok_under_one_dedup_key() -> None:
    def notification(state: str) -> str:
        # The JSON CloudWatch publishes to SNS for an alarm action (abridged).
        return json.dumps({"AlarmName": "fraud-monitor-failures", "NewStateValue": state, "NewStateReason": "1 >= 1"})

    fired = pagerduty_event(key=KEY, subject="ALARM", message=notification("ALARM"), source="fraud", severity="error")
    ok = pagerduty_event(key=KEY, subject="OK", message=notification("OK"), source="fraud", severity="error")
    assert (fired["event_action"], ok["event_action"]) == ("trigger", "resolve")
    assert fired["dedup_key"] == ok["dedup_key"] == "fraud-monitor-failures"
    assert fired["payload"]["summary"] == "fraud-monitor-failures: 1 >= 1"


def test_long_texts_are_cut_to_the_api_limits() -> None:
    event = pagerduty_event(key=KEY, subject="", message="x" * 5000, source="fraud", severity="info")
    assert len(event["payload"]["summary"]) == 1024


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (KEY, None),
        (f'  {{"routing_key": "{KEY}"}}\n', None),
        ("https://events.pagerduty.com/integration/abc/enqueue", "32-character"),
        ('{"key": "x"}', '"routing_key"'),
    ],
)
def test_the_secret_holds_the_key_or_json_with_it(secret: str, message: str | None) -> None:
    if message is None:
        assert routing_key(secret) == KEY
    else:
        with pytest.raises(ValueError, match=message):
            routing_key(secret)


def test_sns_events_are_read_and_anything_else_is_named() -> None:
    event = {"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId": "m1", "Subject": "s", "Message": "t"}}]}
    (notification,) = sns_notifications(event)
    assert (notification.message_id, notification.subject, notification.message) == ("m1", "s", "t")
    with pytest.raises(MalformedNotification, match=r"Records\[0\]\.Sns\.Message"):
        sns_notifications({"Records": [{"Sns": {}}]})
    with pytest.raises(MalformedNotification, match="Records"):
        sns_notifications({"detail": {}})


class Response(io.BytesIO):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(json.dumps(body).encode())
        self.status = status


def test_events_are_posted_as_json_and_a_refusal_fails_the_invocation() -> None:
    sent: list[Any] = []

    def accepted(request: Any, timeout: float) -> Response:
        sent.append(request)
        return Response(202, {"status": "success", "message": "Event processed", "dedup_key": "d1"})

    event = pagerduty_event(key=KEY, subject="s", message="m", source="fraud", severity="error")
    assert send_to_pagerduty(event, opener=accepted) == "d1"
    (request,) = sent
    assert request.full_url == PAGERDUTY_EVENTS_URL and request.get_method() == "POST"
    assert json.loads(request.data) == event and request.headers["Content-type"] == "application/json"

    def invalid(request: Any, timeout: float) -> Response:
        raise urllib.error.HTTPError(PAGERDUTY_EVENTS_URL, 400, "Bad Request", {}, io.BytesIO(b'{"status":"invalid"}'))  # type: ignore[arg-type]

    with pytest.raises(PagerDutyRefused, match="400"):
        send_to_pagerduty(event, opener=invalid)


def test_only_alarms_and_explained_failures_page_not_notices() -> None:
    from pipelines.alerts.message import pages

    alarm = json.dumps({"AlarmName": "fraud-monitor-failures", "NewStateValue": "ALARM", "NewStateReason": "1 >= 1"})
    assert pages("ALARM: fraud-monitor-failures", alarm) and pages("", alarm)
    assert pages("[fraud] retraining failed: candidate failed the quality gates", "QualityGates failed ...")
    assert not pages("", "[fraud] model version arn:...:model-package/fraud/3 passed every gate and waits for approval")
