"""The Lambda handlers on moto (DynamoDB, S3, SNS) and botocore's Stubber (SageMaker calls moto
does not implement faithfully: it ignores ClientRequestToken and has no ListPipelineExecutionSteps),
and the IAM coverage check: the operations they make are exactly what their policies allow."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from pipelines import clients
from pipelines.alerts import aws as alerts_aws
from pipelines.config import config_to_json, load_config
from pipelines.trigger import MalformedEvent, client_request_token
from stacks.alerts.runtime import handler as alert_handler
from stacks.alerts.runtime import pagerduty as pagerduty_handler
from stacks.monitoring.runtime import handler as launcher_handler
from stacks.trigger.runtime import handler as trigger_handler
from tests.infra.conftest import ROOT, resources
from tests.infra.sample_events import alarm_state_change, execution_status_change, scheduled_event
from tests.lambda_context import Context

REGION = "us-east-1"
PIPELINE = "fraud-detector-retraining"
PIPELINE_ARN = f"arn:aws:sagemaker:{REGION}:111122223333:pipeline/{PIPELINE}"
TABLE = "fraud-detector-audit"
BUCKET = "fraud-detector-111122223333-us-east-1"
CONFIG_URI = f"s3://{BUCKET}/fraud-detector/config/abc123/model-config.json"

# Operations whose IAM action differs from "<service>:<Operation>".
IAM_ACTIONS = {
    "dynamodb:TransactWriteItems": {"dynamodb:PutItem"},  # the gate's transactions are Puts only
    "monitoring:DescribeAlarms": {"cloudwatch:DescribeAlarms"},  # CloudWatch signs as "monitoring"
    "s3:ListObjectsV2": {"s3:ListBucket"},  # the IAM action of ListObjectsV2
}
# Allowed but never called by handler code: calls AWS makes with the function's role on its behalf.
DOCUMENTED_EXCEPTIONS = {
    "kms:Decrypt": "DynamoDB, S3, SNS and SQS use the key of the encrypted table, object (settings), topic or queue",
    "kms:Encrypt": "DynamoDB encrypts items with the table's key",
    "kms:GenerateDataKey": "SNS, SQS, DynamoDB and S3 generate data keys for encrypted messages, items and objects",
    "logs:CreateLogStream": "the Lambda runtime writes the function's logs",
    "logs:PutLogEvents": "the Lambda runtime writes the function's logs",
    "sqs:SendMessage": "Lambda sends failed asynchronous invocations to the failure destination",
    "s3:ListBucket": "S3 checks it to answer a missing report with NoSuchKey, not AccessDenied (GetObject)",
    "iam:PassRole": "SageMaker checks it for the job role a CreateProcessingJob request names",
    "sagemaker:AddTags": "SageMaker checks it for the tags a CreateProcessingJob request carries",
    "kms:CreateGrant": "SageMaker creates grants on the key for the job's encrypted volume",
    "kms:DescribeKey": "SageMaker describes the key a request names for volumes and outputs",
}


class CallRecorder:
    """Records `<service>:<Operation>` of every call made through the clients it watches (on
    before-parameter-build: Stubber answers on before-call and stops other handlers there)."""

    def __init__(self) -> None:
        self.calls: set[str] = set()

    def watch(self, client: Any) -> Any:
        prefix = client.meta.service_model.signing_name
        client.meta.events.register(
            "before-parameter-build", lambda model, **_: self.calls.add(f"{prefix}:{model.name}")
        )
        return client

    def actions(self) -> set[str]:
        return set().union(*(IAM_ACTIONS.get(c, {c}) for c in self.calls))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "MOTO_ACCOUNT_ID": "111122223333",  # the config's account: ARNs the functions derive match moto's
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def settings(**trigger: Any) -> dict[str, Any]:
    """The deployed config (JSON) of configs/fraud-detector.yaml, with `trigger` settings changed."""
    config = load_config(ROOT / "configs" / "fraud-detector.yaml")
    changed = config.model_copy(update={"trigger": config.trigger.model_copy(update=trigger)})
    return dict(json.loads(config_to_json(changed)))


@contextmanager
def container(config: dict[str, Any], **services: Any) -> Iterator[None]:
    """One function container: `config` deployed at MODEL_CONFIG_URI (in moto S3), `services` as
    the container's clients (pipelines.clients.SHARED), and nothing cached from another one."""
    setup = boto3.client("s3", region_name=REGION)
    if BUCKET not in [b["Name"] for b in setup.list_buckets().get("Buckets", [])]:
        setup.create_bucket(Bucket=BUCKET)
    setup.put_object(Bucket=BUCKET, Key=CONFIG_URI.removeprefix(f"s3://{BUCKET}/"), Body=json.dumps(config).encode())

    def fresh() -> None:
        clients.forget()
        trigger_handler.trigger.cache_clear()
        alerts_aws._routing_keys.clear()

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(clients.CONFIG_URI, CONFIG_URI)
        fresh()
        clients.SHARED.update(services)
        try:
            yield
        finally:
            fresh()


def _table(dynamodb: Any, table: str = TABLE) -> None:
    """The audit table, empty (a scenario run after another starts from a new table)."""
    if table in dynamodb.list_tables()["TableNames"]:
        dynamodb.delete_table(TableName=table)
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def _listing(*running: str) -> dict[str, Any]:
    return {
        "PipelineExecutionSummaries": [
            {"PipelineExecutionArn": arn, "PipelineExecutionStatus": "Executing", "StartTime": datetime(2026, 11, 20)}
            for arn in running
        ]
    }


def run_trigger_gate(recorder: CallRecorder) -> Stubber:
    """Alarm -> one start (request checked against the service model and the expected values);
    49 more deliveries of it -> no call; the run ends -> the gate releases."""
    dynamodb = recorder.watch(boto3.client("dynamodb", region_name=REGION))
    _table(dynamodb)
    recorder.calls.clear()  # the table is the fixture's, not the function's
    sagemaker = recorder.watch(boto3.client("sagemaker", region_name=REGION))
    stubber = Stubber(sagemaker)
    listing = {"PipelineName": PIPELINE, "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 20}
    event = alarm_state_change("fraud-detector-retrain-drifted-features", event_id="evt-1", value=3.0)
    stubber.add_response("list_pipeline_executions", _listing(), listing)
    stubber.add_response(
        "start_pipeline_execution",
        {"PipelineExecutionArn": f"{PIPELINE_ARN}/execution/run1"},
        {
            "PipelineName": PIPELINE,
            "PipelineExecutionDisplayName": ANY,
            "PipelineExecutionDescription": ANY,
            "PipelineParameters": [
                {"Name": "DataWindowEnd", "Value": "2026-11-20T17:04:40Z"},
                {"Name": "TriggerAlarm", "Value": "fraud-detector-retrain-drifted-features"},
                {"Name": "TriggerMetricValue", "Value": "3.0"},
                {"Name": "TriggerReason", "Value": "alarm"},
            ],
            "ClientRequestToken": client_request_token(PIPELINE, "evt-1"),
        },
    )
    stubber.add_response("list_pipeline_executions", _listing(), listing)
    stubber.activate()
    cloudwatch = recorder.watch(boto3.client("cloudwatch", region_name=REGION))
    s3 = recorder.watch(boto3.client("s3", region_name=REGION))
    config = settings(cooldown_hours=24, max_staleness_days=60)
    with container(config, dynamodb=dynamodb, sagemaker=sagemaker, cloudwatch=cloudwatch, s3=s3):
        results = [trigger_handler.handler(event, Context(f"req-{i}")) for i in range(50)]
        ended = trigger_handler.handler(execution_status_change(PIPELINE, "run1", event_id="end-1"), Context("req-e"))
    outcomes = [r["decisions"][0]["outcome"] for r in results]
    assert outcomes == ["started"] + ["duplicate"] * 49
    assert results[0]["decisions"][0]["execution_arn"] == f"{PIPELINE_ARN}/execution/run1"
    assert [d["outcome"] for d in ended["decisions"]] == ["released"]
    audit = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :d)",
        ExpressionAttributeValues={":pk": {"S": f"PIPELINE#{PIPELINE}"}, ":d": {"S": "DECISION#"}},
    )["Items"]
    recorder.calls.discard("dynamodb:Query")  # the test's own read of the audit trail
    assert sorted(i["outcome"]["S"] for i in audit).count("duplicate") == 49
    return stubber


def run_trigger_gate_retry(recorder: CallRecorder) -> Stubber:
    """An alarm's run fails -> the sweep reads the alarm (DescribeAlarms, on moto), finds it still
    in ALARM and starts the retry with TriggerReason=retry. The sweep comes two hours later: the
    first retry waits one cooldown (0 here), and at least an hour."""
    alarm = "fraud-detector-retrain-drifted-features"
    dynamodb = recorder.watch(boto3.client("dynamodb", region_name=REGION))
    cloudwatch = recorder.watch(boto3.client("cloudwatch", region_name=REGION))
    _table(dynamodb)
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        MetricName="DriftedFeatures",
        Namespace="MLOps/Drift",
        Statistic="Maximum",
        Period=3600,
        EvaluationPeriods=1,
        Threshold=2,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test: 3 drifted features")
    recorder.calls.clear()  # the fixtures' calls, not the function's
    sagemaker = recorder.watch(boto3.client("sagemaker", region_name=REGION))
    stubber = Stubber(sagemaker)
    listing = {"PipelineName": PIPELINE, "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 20}
    started = {"PipelineExecutionArn": f"{PIPELINE_ARN}/execution/run1"}
    stubber.add_response("list_pipeline_executions", _listing(), listing)
    stubber.add_response("start_pipeline_execution", started, {**_start_expected(), "ClientRequestToken": ANY})
    stubber.add_response("list_pipeline_executions", _listing(), listing)
    stubber.add_response("list_pipeline_executions", _listing(), listing)
    retry_parameters = [
        {"Name": "DataWindowEnd", "Value": ANY},
        {"Name": "TriggerAlarm", "Value": alarm},
        {"Name": "TriggerMetricValue", "Value": "3.0"},
        {"Name": "TriggerReason", "Value": "retry"},
    ]
    retried = {"PipelineExecutionArn": f"{PIPELINE_ARN}/execution/run2"}
    stubber.add_response(
        "start_pipeline_execution",
        retried,
        {**_start_expected(), "PipelineParameters": retry_parameters, "ClientRequestToken": ANY},
    )
    stubber.activate()
    s3 = recorder.watch(boto3.client("s3", region_name=REGION))
    with container(settings(cooldown_hours=0), dynamodb=dynamodb, sagemaker=sagemaker, cloudwatch=cloudwatch, s3=s3):
        trigger_handler.handler(alarm_state_change(alarm, event_id="evt-1", value=3.0), Context("req-1"))
        failed = trigger_handler.handler(
            execution_status_change(PIPELINE, "run1", status="Failed", event_id="end-1"), Context("req-2")
        )
        later = datetime.now(UTC) + timedelta(hours=2)
        trigger_handler.trigger().clock = lambda: later
        sweep = scheduled_event("sweep", event_id="sweep-1", time="2026-11-20T18:00:00Z")
        swept = trigger_handler.handler(sweep, Context("req-3"))
    assert "is still in ALARM" in failed["decisions"][0]["reason"]
    assert [(d["outcome"], d["trigger"]["kind"]) for d in swept["decisions"]] == [("started", "retry")]
    assert "cloudwatch:DescribeAlarms" in recorder.actions()
    return stubber


def _start_expected() -> dict[str, Any]:
    return {
        "PipelineName": PIPELINE,
        "PipelineExecutionDisplayName": ANY,
        "PipelineExecutionDescription": ANY,
        "PipelineParameters": ANY,
    }


def run_trigger_gate_and_its_retry(recorder: CallRecorder) -> None:
    run_trigger_gate(recorder).assert_no_pending_responses()
    run_trigger_gate_retry(recorder).assert_no_pending_responses()


def run_alerts(recorder: CallRecorder) -> dict[str, Any]:
    """A run stopped by the quality gates -> one message naming the gate, observed, threshold, delta."""
    s3 = recorder.watch(boto3.client("s3", region_name=REGION))
    sns = recorder.watch(boto3.client("sns", region_name=REGION))
    s3.create_bucket(Bucket=BUCKET)
    evaluation = {
        "gates": {
            "min_recall": {
                "name": "min_recall",
                "metric": "recall",
                "observed": 0.62,
                "threshold": 0.7,
                "champion": 0.74,
                "passed": False,
                "detail": "",
            },
            "min_roc_auc": {
                "name": "min_roc_auc",
                "metric": "roc_auc",
                "observed": 0.95,
                "threshold": 0.9,
                "passed": True,
            },
        }
    }
    key = "fraud-detector/executions/run7/Evaluate/evaluation/evaluation.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(evaluation).encode())
    sns.create_topic(Name="fraud-detector-retraining-alerts")
    recorder.calls.clear()
    sagemaker = recorder.watch(boto3.client("sagemaker", region_name=REGION))
    stubber = Stubber(sagemaker)
    message = "QualityGates failed (1 of 2): min_recall: recall observed 0.6200 < threshold 0.7000 (delta -0.0800)"
    stubber.add_response(
        "list_pipeline_execution_steps",
        {
            "PipelineExecutionSteps": [
                {"StepName": "Evaluate", "StepStatus": "Succeeded", "Metadata": {"ProcessingJob": {"Arn": "arn:x"}}},
                {
                    "StepName": "QualityGatesFailed",
                    "StepStatus": "Failed",
                    "Metadata": {"Fail": {"ErrorMessage": message}},
                },
            ]
        },
        {"PipelineExecutionArn": f"{PIPELINE_ARN}/execution/run7", "SortOrder": "Ascending"},
    )
    stubber.activate()
    with container(settings(), sagemaker=sagemaker, s3=s3, sns=sns):
        result = alert_handler.handler(execution_status_change(PIPELINE, "run7", status="Failed"), Context("req-a"))
    stubber.assert_no_pending_responses()
    return result


def test_trigger_gate_function_starts_once_for_fifty_deliveries(aws: None) -> None:
    stubber = run_trigger_gate(CallRecorder())
    stubber.assert_no_pending_responses()


def test_trigger_gate_function_retries_a_failed_run_while_its_alarm_is_in_alarm(aws: None) -> None:
    stubber = run_trigger_gate_retry(CallRecorder())
    stubber.assert_no_pending_responses()


def test_trigger_gate_function_rejects_a_malformed_event_before_any_call(aws: None) -> None:
    recorder = CallRecorder()
    sagemaker = recorder.watch(boto3.client("sagemaker", region_name=REGION))
    dynamodb = recorder.watch(boto3.client("dynamodb", region_name=REGION))
    cloudwatch = recorder.watch(boto3.client("cloudwatch", region_name=REGION))
    s3 = recorder.watch(boto3.client("s3", region_name=REGION))
    event = alarm_state_change("fraud-detector-retrain-drifted-features")
    del event["detail"]["alarmName"]
    with (
        container(settings(), dynamodb=dynamodb, sagemaker=sagemaker, cloudwatch=cloudwatch, s3=s3),
        pytest.raises(MalformedEvent, match=r"detail\.alarmName: missing"),
    ):
        trigger_handler.handler(event, Context("req"))
    assert recorder.calls == set()


def test_alert_function_names_the_failed_gate_with_observed_threshold_and_delta(aws: None) -> None:
    result = run_alerts(CallRecorder())
    assert result["subject"] == "[fraud-detector] retraining failed: candidate failed the quality gates"


def test_alert_text_from_the_report() -> None:
    from pipelines.alerts.message import StepFailure, build_alert

    alert = build_alert(
        model="fraud-detector",
        pipeline=PIPELINE,
        execution_arn=f"{PIPELINE_ARN}/execution/run7",
        failures=[StepFailure("DataValidationFailed", "Fail", "DataValidation failed: min_rows: 120 rows < 2000")],
        validation={
            "checks": [
                {
                    "name": "min_rows",
                    "passed": False,
                    "observed": 120,
                    "threshold": 2000,
                    "message": "fresh: 120 rows < 2000",
                }
            ]
        },
    )
    assert (
        "- data check min_rows: observed 120, threshold 2000, delta -1880.0000 (fresh: 120 rows < 2000)" in alert.text
    )
    assert json.loads(alert.sns_message())["email"] == alert.text


def _allowed(template: dict[str, Any], policy_prefix: str) -> set[str]:
    (policy,) = [p for k, p in resources(template, "AWS::IAM::Policy").items() if k.startswith(policy_prefix)]
    actions: set[str] = set()
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow"
        listed = statement["Action"]
        actions |= {listed} if isinstance(listed, str) else set(listed)
    return actions


@pytest.mark.parametrize(
    ("policy_prefix", "scenario"),
    [("TriggerFunctionPolicy", run_trigger_gate_and_its_retry), ("AlertsFunctionPolicy", run_alerts)],
    ids=["trigger-gate", "alerts"],
)
def test_function_policy_allows_exactly_what_the_handler_calls(
    aws: None, template: dict[str, Any], policy_prefix: str, scenario: Any
) -> None:
    recorder = CallRecorder()
    scenario(recorder)
    called = recorder.actions()
    allowed = _allowed(template, policy_prefix)

    assert not [a for a in allowed if "*" in a], "wildcard actions"
    assert called - allowed == set(), "called but not allowed"
    assert allowed - called <= set(DOCUMENTED_EXCEPTIONS), "allowed but never called"
    assert called, "the scenario made no call"


def test_stubbed_start_request_is_valid_for_the_service_model() -> None:
    """Stubber validated the request shape; this states the token bounds of the model too."""
    from botocore.session import get_session

    shape = get_session().get_service_model("sagemaker").operation_model("StartPipelineExecution").input_shape
    token = shape.members["ClientRequestToken"].metadata
    assert token["min"] <= len(client_request_token(PIPELINE, "x" * 500)) <= token["max"]


def test_a_report_the_run_never_wrote_reads_as_missing_not_denied(template: dict[str, Any]) -> None:
    """GetObject on a missing key answers 404 NoSuchKey only to a caller with s3:ListBucket on the
    bucket, else 403 AccessDenied ("Permissions" in the GetObject API reference:
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html). The alert function reads a
    report that a failed run may not have written, and treats NoSuchKey as "no report"."""
    import fnmatch

    from pipelines.alerts.message import report_uris

    (policy,) = [p for k, p in resources(template, "AWS::IAM::Policy").items() if k.startswith("AlertsFunctionPolicy")]
    listing = [
        st for st in policy["Properties"]["PolicyDocument"]["Statement"] if "s3:ListBucket" in json.dumps(st["Action"])
    ]
    assert len(listing) == 1, "the alert function may not list the artifact bucket"
    prefixes = listing[0]["Condition"]["StringLike"]["s3:prefix"]
    execution = f"{PIPELINE_ARN}/execution/run7"
    for uri in report_uris(f"s3://{BUCKET}/fraud-detector", execution).values():
        key = uri.removeprefix(f"s3://{BUCKET}/")
        assert any(fnmatch.fnmatchcase(key, p) for p in prefixes), key


def test_every_key_the_monitor_launcher_reads_is_listable_so_a_missing_one_reads_as_missing(
    template: dict[str, Any],
) -> None:
    """The launcher reads the champion's baseline (absent until a version is in production), stored
    hours' object lists and a sharded run's pinned baseline, and treats NoSuchKey as "none": every
    object pattern it may GetObject must fall under a prefix it may list, else S3 answers 403."""
    import fnmatch

    (policy,) = [
        p for k, p in resources(template, "AWS::IAM::Policy").items() if k.startswith("MonitoringLauncherPolicy")
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (listing,) = [st for st in statements if st["Action"] == "s3:ListBucket"]
    prefixes = listing["Condition"]["StringLike"]["s3:prefix"]
    reads = [st for st in statements if st["Action"] == "s3:GetObject"]
    patterns = [r for st in reads for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])]
    assert len(patterns) == 3
    for pattern in patterns:
        key = json.dumps(pattern).split(f"{BUCKET}/", 1)[-1].rstrip('"]}').replace("*", "x")
        assert any(fnmatch.fnmatchcase(key, p) for p in prefixes), key


def test_pagerduty_function_sends_the_notification_and_is_allowed_exactly_that(
    aws: None, full_template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import urllib.request

    recorder = CallRecorder()
    secrets = recorder.watch(boto3.client("secretsmanager", region_name=REGION))
    key = "R0123456789abcdef0123456789ABCDE"
    secrets.create_secret(Name="retraining/pagerduty-routing-key", SecretString=json.dumps({"routing_key": key}))
    recorder.calls.clear()
    posted: list[dict[str, Any]] = []

    class Accepted(io.BytesIO):
        status = 202

    def urlopen(request: Any, timeout: float) -> Accepted:
        posted.append(json.loads(request.data))
        recorder.calls.add("https:events.pagerduty.com")
        return Accepted(b'{"status": "success", "dedup_key": "d1"}')

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    config = settings()
    config["alerts"]["pagerduty"] = {"routing_key_secret": "retraining/pagerduty-routing-key", "severity": "error"}
    s3 = recorder.watch(boto3.client("s3", region_name=REGION))
    with container(config, secretsmanager=secrets, s3=s3):
        notification = {
            "Records": [
                {"Sns": {"MessageId": "m1", "Subject": "[fraud-detector] retraining failed", "Message": "gates"}}
            ]
        }
        assert pagerduty_handler.handler(notification, Context("req-p")) == {"sent": 1}
        pagerduty_handler.handler(notification, Context("req-q"))  # the key is read once per container
    summaries = [(p["routing_key"], p["payload"]["summary"]) for p in posted]
    assert summaries == [(key, "[fraud-detector] retraining failed")] * 2
    assert recorder.calls == {"secretsmanager:GetSecretValue", "https:events.pagerduty.com", "s3:GetObject"}
    allowed = _allowed(full_template, "AlertsPagerDutyFunctionPolicy")
    assert recorder.actions() - {"https:events.pagerduty.com"} == allowed - set(DOCUMENTED_EXCEPTIONS)


@pytest.mark.parametrize("concern", ["trigger", "alerts", "monitoring"])
def test_a_function_bundle_holds_every_module_its_handler_imports(concern: str, tmp_path: Any) -> None:
    """The staged zip alone imports every handler module in it: every module loaded from outside
    the bundle is the standard library's or the Lambda runtime's (boto3 and its dependencies), so
    an import the bundle lacks fails here, not in the deployed function. Powertools comes from the
    bundle, and no local stand-in (pipelines.local, pipelines.simulation, `*.local`) is imported."""
    import importlib.metadata
    import os
    import subprocess
    import sys

    from stacks.packaging import LAMBDA_RUNTIME, stage_function

    bundle = stage_function(concern, tmp_path)
    handlers = sorted(p.stem for p in bundle.glob("*.py") if p.parent == bundle and p.stem in ("handler", "pagerduty"))
    assert "handler" in handlers
    runtime = sorted(
        top
        for top, dists in importlib.metadata.packages_distributions().items()
        if {d.lower() for d in dists} & LAMBDA_RUNTIME
    )
    # As in Lambda: a module that is neither in the bundle, the standard library nor the runtime's
    # SDK cannot be imported (an optional import, like botocore's of certifi, falls back).
    code = (
        "import json, os, sys\n"
        "bundle, runtime = sys.argv[1], set(json.loads(sys.argv[2]))\n"
        "class Lambda:\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        top = name.split('.')[0]\n"
        "        if top in runtime or top in sys.stdlib_module_names or top.startswith('_sysconfigdata')\\\n"
        "                or os.path.exists(os.path.join(bundle, top))\\\n"
        "                or os.path.exists(os.path.join(bundle, top + '.py')):\n"
        "            return None\n"
        "        raise ModuleNotFoundError(f'{name} is neither in the bundle nor in the Lambda runtime', name=name)\n"
        "sys.meta_path.insert(0, Lambda())\n"
        f"import {', '.join(handlers)}\n"
        "found = {n: getattr(m, '__file__', None) for n, m in list(sys.modules.items())}\n"
        "local = sorted(n for n in found if n.startswith('pipelines.')\n"
        "               and {'local', 'simulation'} & set(n.split('.')))\n"
        "ours = [n for n, f in found.items() if n.split('.')[0] == 'pipelines' and not f.startswith(bundle)]\n"
        "powertools = found['aws_lambda_powertools'].startswith(bundle)\n"
        "print(json.dumps({'outside': ours, 'local': local, 'powertools': powertools}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(bundle), json.dumps(runtime)],
        cwd=bundle,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == {"outside": [], "local": [], "powertools": True}


def run_monitor_launcher(recorder: CallRecorder, launch: dict[str, Any]) -> list[dict[str, Any]]:
    """The first hour after deploy (no capture: skipped), then an hour with capture but no labels
    (started without the ground-truth input), then that hour again (a retried invocation)."""
    setup = boto3.client("s3", region_name=REGION)  # the stack's and the endpoint's writes, not the function's
    setup.create_bucket(Bucket=BUCKET)
    s3 = recorder.watch(boto3.client("s3", region_name=REGION))
    for name, uri in (("config", 0), ("baseline", 3)):
        item = launch["request"]["ProcessingInputs"][uri]
        assert item["InputName"] == name
        key = item["S3Input"]["S3Uri"].removeprefix(f"s3://{BUCKET}/")
        setup.put_object(Bucket=BUCKET, Key=key.rstrip("/") + ("/x" if key.endswith("/") else ""), Body=b"{}")
    # an hour the store has profiled already, under this baseline (its object list is read)
    baseline = hashlib.sha256(b"{}").hexdigest()[:16]
    hours = launch["hours_prefix"].removeprefix(f"s3://{BUCKET}/")
    for name in ("profile.json", "objects.json"):
        setup.put_object(Bucket=BUCKET, Key=f"{hours}2026/03/01/11/{baseline}/{name}", Body=b'{"objects": []}')
    recorder.calls.clear()
    sagemaker = recorder.watch(boto3.client("sagemaker", region_name=REGION))
    stubber = Stubber(sagemaker)
    arn = "arn:aws:sagemaker:us-east-1:111122223333:processing-job/x"
    stubber.add_response("create_processing_job", {"ProcessingJobArn": arn})
    stubber.add_client_error("create_processing_job", "ResourceInUse", "Job name must be unique within the region")
    stubber.activate()
    clients.forget()
    clients.SHARED.update(s3=s3, sagemaker=sagemaker)
    try:
        results = [launcher_handler.handler(dict(launch, window_end="2026-03-01T11:00:00Z"), Context("req-1"))]
        capture = launch["request"]["ProcessingInputs"][1]["S3Input"]["S3Uri"].removeprefix(f"s3://{BUCKET}/")
        setup.put_object(Bucket=BUCKET, Key=f"{capture}2026/03/01/11/part.jsonl", Body=b"{}")
        later = dict(launch, window_end="2026-03-01T12:00:00Z")
        results += [launcher_handler.handler(later, Context(f"req-{i}")) for i in (2, 3)]
    finally:
        clients.forget()
    stubber.assert_no_pending_responses()
    return results


def test_monitor_launcher_skips_an_empty_first_hour_then_starts_once_and_is_allowed_exactly_that(
    aws: None, template: dict[str, Any]
) -> None:
    (schedule,) = resources(template, "AWS::Scheduler::Schedule").values()
    text = schedule["Properties"]["Target"]["Input"]
    separator, parts = text["Fn::Join"]
    launch = json.loads(separator.join(p if isinstance(p, str) else "arn:aws:iam::111122223333:role/x" for p in parts))
    recorder = CallRecorder()
    skipped, started, again = run_monitor_launcher(recorder, launch)
    assert skipped["skipped"].startswith("no capture yet") and skipped["started"] is False
    assert started["started"] is True
    assert started["notes"] == ["no ground truth yet in the lookback's hours: performance waits for labels"]
    assert started["reads"] == {"capture": 1, "hours": 1, "ground_truth": 0, "shards": 0}
    assert started["job"].endswith("-202603011200") and again == {**started, "started": False}
    called = recorder.actions()
    allowed = _allowed(template, "MonitoringLauncherPolicy")
    assert called - allowed == set(), "called but not allowed"
    assert allowed - called <= set(DOCUMENTED_EXCEPTIONS), "allowed but never called"
