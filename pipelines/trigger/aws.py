"""The retrain trigger's AWS adapters: DynamoDB store, SageMaker pipeline runner, CloudWatch alarm states.

Each takes an injected boto3 client and makes only the calls listed in its docstring; the CDK
trigger construct grants exactly the matching IAM actions, and tests/infra/test_functions.py
checks the two stay in step.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipelines import naming
from pipelines.trigger import (
    DuplicateEvent,
    RetrainTrigger,
    StartRequest,
    StateConflict,
    TriggerDecision,
    TriggerPolicy,
    TriggerState,
)

SEEN_EVENT_DAYS = 30  # EventBridge retries for at most 24 hours; markers expire later (TTL)
ACTIVE_STATUSES = ("Executing", "Stopping")


class DynamoDbTriggerStore:
    """One table, key (pk, sk): `PIPELINE#<name>` with sort keys `STATE` (the gate state and its
    version), `EVENT#<event id>` (seen markers, expiring through the `expires_at` TTL attribute)
    and `DECISION#<time>#...` (the audit trail).

    Calls: GetItem, TransactWriteItems (Puts only, each with a condition), PutItem, Query.
    """

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    @staticmethod
    def _key(pipeline: str, sort_key: str) -> dict[str, Any]:
        return {"pk": {"S": f"PIPELINE#{pipeline}"}, "sk": {"S": sort_key}}

    def load(self, pipeline: str) -> TriggerState:
        item = self._client.get_item(TableName=self._table, Key=self._key(pipeline, "STATE"), ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            return TriggerState(pipeline=pipeline)
        return replace(TriggerState.from_json(json.loads(item["body"]["S"])), version=int(item["version"]["N"]))

    def seen(self, pipeline: str, event_id: str) -> bool:
        response = self._client.get_item(
            TableName=self._table,
            Key=self._key(pipeline, f"EVENT#{event_id}"),
            ConsistentRead=True,
            ProjectionExpression="pk",
        )
        return "Item" in response

    def _decision_item(self, decision: TriggerDecision) -> dict[str, Any]:
        return {
            **self._key(decision.pipeline, f"DECISION#{decision.sort_key}"),
            "outcome": {"S": decision.outcome.value},
            "event_id": {"S": decision.event_id},
            "body": {"S": json.dumps(decision.to_json(), sort_keys=True)},
        }

    def commit(
        self,
        state: TriggerState,
        *,
        expected_version: int,
        decisions: Sequence[TriggerDecision],
        event_id: str | None,
    ) -> TriggerState:
        stored = replace(state, version=expected_version + 1)
        state_put: dict[str, Any] = {
            "TableName": self._table,
            "Item": {
                **self._key(state.pipeline, "STATE"),
                "version": {"N": str(stored.version)},
                "body": {"S": json.dumps(stored.to_json(), sort_keys=True)},
            },
        }
        if expected_version == 0:
            state_put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            state_put["ConditionExpression"] = "version = :expected"
            state_put["ExpressionAttributeValues"] = {":expected": {"N": str(expected_version)}}
        items: list[dict[str, Any]] = [{"Put": state_put}]
        if event_id is not None:
            expires = int(time.time()) + SEEN_EVENT_DAYS * 86400
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {**self._key(state.pipeline, f"EVENT#{event_id}"), "expires_at": {"N": str(expires)}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        items += [{"Put": {"TableName": self._table, "Item": self._decision_item(d)}} for d in decisions]
        try:
            self._client.transact_write_items(TransactItems=items)
        except self._client.exceptions.TransactionCanceledException as exc:
            codes = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
            if event_id is not None and len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                raise DuplicateEvent(event_id) from None
            if codes and codes[0] in ("ConditionalCheckFailed", "TransactionConflict"):
                raise StateConflict(f"{state.pipeline}: state changed since version {expected_version}") from None
            if "TransactionConflict" in codes:
                raise StateConflict(f"{state.pipeline}: concurrent transaction") from None
            raise
        return stored

    def record(self, decision: TriggerDecision) -> None:
        self._client.put_item(TableName=self._table, Item=self._decision_item(decision))

    def decisions(self, pipeline: str) -> list[TriggerDecision]:
        found: list[TriggerDecision] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": f"PIPELINE#{pipeline}"}, ":prefix": {"S": "DECISION#"}},
        }
        while True:
            page = self._client.query(**request)
            found += [TriggerDecision.from_json(json.loads(item["body"]["S"])) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class SageMakerPipelineRunner:
    """Calls: StartPipelineExecution (with the trigger's idempotency token), ListPipelineExecutions."""

    def __init__(self, client: Any, pipeline_name: str) -> None:
        self._client = client
        self._pipeline = pipeline_name

    def start(self, request: StartRequest) -> str:
        response = self._client.start_pipeline_execution(
            PipelineName=self._pipeline,
            PipelineExecutionDisplayName=request.display_name,
            PipelineExecutionDescription=request.description,
            PipelineParameters=[{"Name": name, "Value": value} for name, value in sorted(request.parameters.items())],
            ClientRequestToken=request.token,
        )
        return str(response["PipelineExecutionArn"])

    def running_execution(self) -> str | None:
        response = self._client.list_pipeline_executions(
            PipelineName=self._pipeline, SortBy="CreationTime", SortOrder="Descending", MaxResults=20
        )
        for summary in response.get("PipelineExecutionSummaries", []):
            if summary.get("PipelineExecutionStatus") in ACTIVE_STATUSES:
                return str(summary["PipelineExecutionArn"])
        return None


class CloudWatchAlarmStates:
    """Calls: DescribeAlarms (one alarm, by name). A state that cannot be read is None: the gate
    then retries without the check rather than leave a failed run's drift without a retry."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def state(self, alarm: str) -> str | None:
        try:
            response = self._client.describe_alarms(AlarmNames=[alarm], AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        except (BotoCoreError, ClientError):
            return None
        found = [*response.get("MetricAlarms", []), *response.get("CompositeAlarms", [])]
        return str(found[0]["StateValue"]) if found else None


def retrain_trigger(config: Mapping[str, Any], client: Callable[[str], Any]) -> RetrainTrigger:
    """The retrain trigger as its function runs it, from the deployed config (JSON) alone."""
    model = config["model"]["name"]
    pipeline = naming.pipeline_name(model)
    return RetrainTrigger(
        pipeline=pipeline,
        store=DynamoDbTriggerStore(client("dynamodb"), naming.audit_table(model)),
        runner=SageMakerPipelineRunner(client("sagemaker"), pipeline),
        policy=TriggerPolicy.from_config(config["trigger"]),
        alarms=CloudWatchAlarmStates(client("cloudwatch")),
    )
