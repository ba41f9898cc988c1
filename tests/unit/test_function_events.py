"""The promotion and alert functions read their events into typed values first: an event without
a field they need raises MalformedEvent naming it, before any client or call."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.client import BaseClient

from pipelines.events import MalformedEvent
from stacks.alerts.runtime import handler as alert_handler
from stacks.promotion.runtime import handler as promotion_handler
from tests.lambda_context import Context


@pytest.fixture(autouse=True)
def no_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: BaseClient, operation: str, params: dict[str, Any]) -> None:
        raise AssertionError(f"AWS call {operation}")

    monkeypatch.setattr(BaseClient, "_make_api_call", refuse)
    monkeypatch.setattr(promotion_handler, "controller", lambda: pytest.fail("controller built for a bad event"))


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"id": "e1"}, "detail"),
        ({"id": "e1", "detail": {}}, "detail.ModelPackageArn"),
        ({"id": "e1", "detail": {"ModelPackageArn": ""}}, "detail.ModelPackageArn"),
        ({"detail": {"ModelPackageArn": "arn:aws:sagemaker:us-east-1:1:model-package/g/1"}}, "id"),
        ({"id": "e1", "detail": "Approved"}, "detail"),  # not an object
    ],
)
def test_promotion_function_names_what_its_event_lacks(event: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedEvent) as raised:
        promotion_handler.on_approved(event, Context())
    assert raised.value.field == field
    assert str(raised.value).startswith(f"malformed event: {field}: ")


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"id": "e1"}, "detail"),
        ({"id": "e1", "detail": {"currentPipelineExecutionStatus": "Failed"}}, "detail.pipelineExecutionArn"),
    ],
)
def test_alert_function_names_what_its_event_lacks(event: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedEvent) as raised:
        alert_handler.handler(event, Context())
    assert raised.value.field == field
