"""Fields of the EventBridge events the promotion and alert functions receive, read before any
call: a missing or empty field raises `MalformedEvent` naming it by its dotted path (the trigger
gate's events have their own reader, `pipelines.trigger.events`). Standard library only: the
alert function's bundle carries this module."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.errors import PipelinesError


class MalformedEvent(PipelinesError):
    """An event without a field the function needs; `field` is its dotted path. No call is made."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"malformed event: {field}: {problem}")


def text(raw: Any, path: str) -> str:
    """The non-empty string at `path` ("detail.ModelPackageArn") in `raw`."""
    node = raw
    walked: list[str] = []
    for part in path.split("."):
        if not isinstance(node, Mapping):
            raise MalformedEvent(".".join(walked) or "(event)", f"expected an object, got {type(node).__name__}")
        walked.append(part)
        if part not in node:
            raise MalformedEvent(".".join(walked), "missing")
        node = node[part]
    if not isinstance(node, str) or not node.strip():
        raise MalformedEvent(path, f"expected a non-empty string, got {node!r}")
    return node


@dataclass(frozen=True)
class PackageApproved:
    """ "SageMaker Model Package State Change" to Approved."""

    event_id: str
    model_package_arn: str


def package_approved(raw: Any) -> PackageApproved:
    return PackageApproved(event_id=text(raw, "id"), model_package_arn=text(raw, "detail.ModelPackageArn"))


@dataclass(frozen=True)
class ExecutionFailed:
    """ "SageMaker Model Building Pipeline Execution Status Change" to Failed."""

    event_id: str
    execution_arn: str


def execution_failed(raw: Any) -> ExecutionFailed:
    return ExecutionFailed(event_id=text(raw, "id"), execution_arn=text(raw, "detail.pipelineExecutionArn"))
