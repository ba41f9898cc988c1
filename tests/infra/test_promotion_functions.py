"""The promotion functions' handlers on moto (S3, DynamoDB), botocore's Stubber (CloudWatch: moto
computes no p99) and a SageMaker double behind a real boto3 client (moto drops shadow variants and
has no UpdateEndpoint): approval -> production, approval -> shadow, a redelivered event, a lost
endpoint rebuilt by the evaluation, the shadow promoted on live evidence. Then IAM coverage: each
function's policy allows exactly the operations its handler was seen to call, plus documented
exceptions. And the image: its code imports from the staged folder alone."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from botocore.validate import ParamValidator

from pipelines import clients, naming
from pipelines.definition.builder import artifacts
from pipelines.monitoring.alarms import retraining_alarm_names
from pipelines.promotion.champion import pointer_document
from pipelines.promotion.endpoint import Version
from stacks.promotion.runtime import handler as promotion_handler
from tests.fake_sagemaker import MODEL as SAGEMAKER_MODEL
from tests.fake_sagemaker import FakeSageMaker
from tests.infra.conftest import Synth, resources
from tests.infra.sample_events import model_package_state_change, scheduled_event
from tests.infra.test_functions import DOCUMENTED_EXCEPTIONS, TABLE, CallRecorder, _allowed, _table
from tests.lambda_context import Context

REGION, ACCOUNT = "us-east-1", "111122223333"
STACK = "fraud-detector-retraining"
GROUP = "fraud-detector"
ENDPOINT = "fraud-detector-endpoint"
BUCKET = f"fraud-detector-{ACCOUNT}-{REGION}"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/cdk-hnb659fds-container-assets-{ACCOUNT}-{REGION}:abc"
ROW = "12.5,online,10,100,5,1,1,0.9,low"

# Operations whose IAM actions differ from "<signing name>:<Operation>".
IAM_ACTIONS = {
    "s3:CopyObject": {"s3:GetObject", "s3:PutObject"},
    "s3:ListObjectsV2": {"s3:ListBucket"},
    "monitoring:GetMetricStatistics": {"cloudwatch:GetMetricStatistics"},
    "monitoring:SetAlarmState": {"cloudwatch:SetAlarmState"},
}
# Allowed but never called by handler code: what AWS does with the function's role on its behalf.
PROMOTION_EXCEPTIONS = {
    **DOCUMENTED_EXCEPTIONS,
    "iam:PassRole": "CreateModel passes the endpoint role to SageMaker",
    "kms:CreateGrant": "CreateEndpoint/UpdateEndpoint: SageMaker grants itself the key for the instance volumes",
    "kms:DescribeKey": "CreateEndpoint/UpdateEndpoint: SageMaker checks the endpoint config's key",
    "cloudwatch:DescribeAlarms": "UpdateEndpoint: SageMaker reads the rollback alarms of the DeploymentConfig",
}


def actions(recorder: CallRecorder) -> set[str]:
    return set().union(*(IAM_ACTIONS.get(c, {c}) for c in recorder.calls))


# ---- a SageMaker double behind a real client


class SageMakerDouble:
    """Answers a real boto3 SageMaker client in place of the HTTP call, after botocore validated the
    request against the service model (and CallRecorder saw it): endpoint operations go to
    tests.fake_sagemaker, Model Registry operations to the packages held here. UpdateModelPackage
    merges customer metadata, as the service does (moto replaces it). Responses are validated too."""

    REGISTRY = ("list_model_packages", "describe_model_package", "update_model_package")

    def __init__(self, client: Any) -> None:
        self.client = client
        self.serving = FakeSageMaker(REGION, ACCOUNT)
        self.packages: dict[str, dict[str, Any]] = {}
        client.meta.events.register("before-parameter-build.sagemaker", self._keep)
        client.meta.events.register_first("before-call.sagemaker", self._answer)

    @staticmethod
    def _keep(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["double_params"] = dict(params)

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        operation, params = xform_name(model.name), context["double_params"]
        try:
            if operation in self.REGISTRY:
                parsed = getattr(self, f"_{operation}")(params)
                report = ParamValidator().validate(parsed, SAGEMAKER_MODEL.operation_model(model.name).output_shape)
                assert not report.has_errors(), report.generate_report()
            else:
                parsed = getattr(self.serving, operation)(**params)
        except ClientError as error:
            return AWSResponse("https://sagemaker", 400, {}, None), {**error.response, "ResponseMetadata": {}}
        return AWSResponse("https://sagemaker", 200, {}, None), {**parsed, "ResponseMetadata": {}}

    def register(self, number: int, **metadata: str) -> str:
        arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/{number}"
        run = f"s3://{BUCKET}/fraud-detector/executions/run{number}"
        self.packages[arn] = {
            "ModelPackageGroupName": GROUP,
            "ModelPackageName": GROUP,
            "ModelPackageArn": arn,
            "ModelPackageVersion": number,
            "CreationTime": datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=number),
            "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": []},
            "ModelApprovalStatus": "PendingManualApproval",
            "InferenceSpecification": {
                "Containers": [{"Image": IMAGE, "ModelDataUrl": f"{run}/Train/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            "CustomerMetadataProperties": {
                "TriggerReason": "alarm",
                "EvaluationReport": f"{run}/Evaluate/evaluation/evaluation.json",
                "BaselineProfile": f"{run}/DataPull/baseline/baseline_profile.json",
                **metadata,
            },
        }
        return arn

    def approve_in_studio(self, arn: str) -> None:
        self.packages[arn]["ModelApprovalStatus"] = "Approved"

    def stage(self, number: int) -> str:
        arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/{number}"
        return str(self.packages[arn]["CustomerMetadataProperties"].get("PromotionStage"))

    def _list_model_packages(self, p: dict[str, Any]) -> dict[str, Any]:
        found = [
            d
            for d in self.packages.values()
            if d["ModelPackageGroupName"] == p["ModelPackageGroupName"]
            and p.get("ModelApprovalStatus") in (None, d["ModelApprovalStatus"])
        ]
        found.sort(key=lambda d: d["CreationTime"], reverse=p.get("SortOrder") == "Descending")
        keys = (
            "ModelPackageName",
            "ModelPackageGroupName",
            "ModelPackageVersion",
            "ModelPackageArn",
            "CreationTime",
            "ModelPackageStatus",
            "ModelApprovalStatus",
        )
        return {"ModelPackageSummaryList": [{k: d[k] for k in keys} for d in found]}

    def _describe_model_package(self, p: dict[str, Any]) -> dict[str, Any]:
        if p["ModelPackageName"] not in self.packages:
            error = {"Error": {"Code": "ValidationException", "Message": "Model package not found"}}
            raise ClientError(error, "DescribeModelPackage")  # type: ignore[arg-type]
        return copy.deepcopy(self.packages[p["ModelPackageName"]])

    def _update_model_package(self, p: dict[str, Any]) -> dict[str, Any]:
        package = self.packages[p["ModelPackageArn"]]
        package["CustomerMetadataProperties"].update(p.get("CustomerMetadataProperties", {}))
        for name in ("ModelApprovalStatus", "ApprovalDescription", "ModelLifeCycle"):
            if name in p:
                package[name] = p[name]
        return {"ModelPackageArn": p["ModelPackageArn"]}


# ---- the world the functions run in


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def _put_json(s3: Any, uri: str, document: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=uri.removeprefix(f"s3://{BUCKET}/"), Body=json.dumps(document).encode())


def _read_json(s3: Any, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


class World:
    """moto S3 and DynamoDB with what the stack and the pipeline put there, the SageMaker double,
    a stubbed CloudWatch client, and the handler module wired to them (clients and environment)."""

    def __init__(self, synth: Synth, recorder: CallRecorder, monkeypatch: pytest.MonkeyPatch) -> None:
        self.recorder = recorder
        self.config = synth.stacks[STACK].loop.pipeline.deployed_config
        self.s3 = boto3.client("s3", region_name=REGION)
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.s3.create_bucket(Bucket=BUCKET)
        _table(self.dynamodb)
        config_artifact = artifacts(self.config)["config"]
        self.s3.put_object(
            Bucket=BUCKET, Key=config_artifact.uri.removeprefix(f"s3://{BUCKET}/"), Body=config_artifact.content
        )
        self.sagemaker = SageMakerDouble(boto3.client("sagemaker", region_name=REGION))
        self.cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        self.metrics = Stubber(self.cloudwatch)
        self.metrics.activate()
        for client in (self.s3, self.dynamodb, self.sagemaker.client, self.cloudwatch):
            recorder.watch(client)
        clients.forget()
        promotion_handler.controller.cache_clear()
        clients.SHARED.update(
            s3=self.s3, dynamodb=self.dynamodb, sagemaker=self.sagemaker.client, cloudwatch=self.cloudwatch
        )
        for name, value in {clients.CONFIG_URI: config_artifact.uri, "KMS_KEY_ARN": KEY_ARN}.items():
            monkeypatch.setenv(name, value)

    def close(self) -> None:
        clients.forget()
        promotion_handler.controller.cache_clear()
        self.metrics.deactivate()

    def version(self, number: int, *, stage: str | None = None, **metadata: str) -> str:
        """A registered version whose artifacts and evaluation report are in S3."""
        arn = self.sagemaker.register(number, **({"PromotionStage": stage} if stage else {}), **metadata)
        described = self.sagemaker.packages[arn]
        run = described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"].rsplit("/Train/", 1)[0]
        self.s3.put_object(
            Bucket=BUCKET, Key=f"fraud-detector/executions/{run.rsplit('/', 1)[-1]}/Train/model.tar.gz", Body=b"model"
        )
        _put_json(self.s3, described["CustomerMetadataProperties"]["BaselineProfile"], {"version": number})
        report = {"metrics": {"roc_auc": 0.97, "pr_auc": 0.9}}
        _put_json(self.s3, described["CustomerMetadataProperties"]["EvaluationReport"], report)
        if stage:
            self.sagemaker.approve_in_studio(arn)
        return arn

    def audit(self) -> list[dict[str, Any]]:
        before = set(self.recorder.calls)
        items = self.dynamodb.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"PROMOTION#{GROUP}"}},
        )["Items"]
        self.recorder.calls = before
        return [json.loads(i["body"]["S"]) for i in items]

    def champion(self) -> Any:
        before = set(self.recorder.calls)
        pointer = _read_json(self.s3, "fraud-detector/champion/champion.json")
        self.recorder.calls = before
        return pointer

    def stub_rearm(self, version: str) -> None:
        """The SetAlarmState calls that re-arm the retraining alarms after a change of production."""
        for name in retraining_alarm_names(self.config):
            self.metrics.add_response(
                "set_alarm_state",
                {},
                {
                    "AlarmName": name,
                    "StateValue": "INSUFFICIENT_DATA",
                    "StateReason": f"re-armed: production is now {version}",
                },
            )

    def stub_metrics(self, *, p99_us: float = 40_000, invocations: float = 1000, errors: float = 0) -> None:
        """One evaluation's six GetMetricStatistics calls (shadow, then production)."""
        for variant in ("shadow", "production"):
            common = {
                "Namespace": "AWS/SageMaker",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": ENDPOINT},
                    {"Name": "VariantName", "Value": variant},
                ],
                "StartTime": ANY,
                "EndTime": ANY,
                "Period": ANY,
            }
            at = datetime(2026, 11, 20, tzinfo=UTC)
            for metric, statistic, point in (
                ("Invocations", {"Statistics": ["Sum"]}, {"Sum": invocations}),
                ("Invocation5XXErrors", {"Statistics": ["Sum"]}, {"Sum": errors}),
                ("ModelLatency", {"ExtendedStatistics": ["p99"]}, {"ExtendedStatistics": {"p99": p99_us}}),
            ):
                self.metrics.add_response(
                    "get_metric_statistics",
                    {"Label": metric, "Datapoints": [{"Timestamp": at, **point}]},
                    {**common, "MetricName": metric, **statistic},
                )


def capture_line(inference_id: str, score: float, at: datetime) -> str:
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": ROW, "encoding": "CSV"},
                "endpointOutput": {
                    "observedContentType": "text/csv",
                    "mode": "OUTPUT",
                    "data": f"{score:.6f}",
                    "encoding": "CSV",
                },
            },
            "eventMetadata": {
                "eventId": f"{inference_id}-{score}",
                "inferenceId": inference_id,
                "inferenceTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "eventVersion": "0",
        }
    )


def approved(number: int, event_id: str) -> dict[str, Any]:
    event = model_package_state_change(GROUP, number, approval="Approved")
    event["id"] = event_id
    return event


# ---- scenarios (each returns the world for its assertions; IAM coverage reuses them)


def run_approval(world: World) -> None:
    """Studio approves v1 (nothing serves: deployed as production), then v2 (shadow of v1); the
    v2 event is delivered twice."""
    sagemaker = world.sagemaker
    v1, v2 = world.version(1), world.version(2)
    world.recorder.calls.clear()  # the setup's calls are not the function's

    sagemaker.approve_in_studio(v1)
    first = promotion_handler.on_approved(approved(1, "evt-1"), Context("req-1"))
    assert (first["version"], first["stage"]) == ("v1", "production")
    assert sagemaker.serving.serving(ENDPOINT) == (v1, None)
    assert world.champion() == pointer_document(
        Version(v1, 1, f"s3://{BUCKET}/fraud-detector/executions/run1/Train/model.tar.gz", IMAGE)
    )

    sagemaker.approve_in_studio(v2)
    second = promotion_handler.on_approved(approved(2, "evt-2"), Context("req-2"))
    assert (second["version"], second["stage"]) == ("v2", "shadow")
    assert sagemaker.serving.serving(ENDPOINT) == (v1, v2)
    name, update = sagemaker.serving.calls[-1]
    assert name == "update_endpoint"
    assert "DeploymentConfig" not in update  # a shadow moves no production traffic: no guardrails
    endpoint_config = sagemaker.serving.configs[update["EndpointConfigName"]]
    assert [v["VariantName"] for v in endpoint_config["ShadowProductionVariants"]] == ["shadow"]
    # The stack's key, not the placeholder the definition was built with, encrypts volumes and capture.
    assert endpoint_config["KmsKeyId"] == endpoint_config["DataCaptureConfig"]["KmsKeyId"] == KEY_ARN
    models = sagemaker.serving.models
    assert (
        models[naming.model_name("fraud-detector", 2)]["ExecutionRoleArn"]
        == f"arn:aws:iam::{ACCOUNT}:role/fraud-detector-endpoint-us-east-1"
    )

    calls = len(sagemaker.serving.calls)
    again = promotion_handler.on_approved(approved(2, "evt-2"), Context("req-3"))
    assert again["stage"] == "shadow"
    assert not [c for c, _ in sagemaker.serving.calls[calls:] if c.startswith(("create", "update"))]
    outcomes = [(r["action"], r["outcome"], r["version"]) for r in world.audit()]
    assert ("deploy", "production", "v1") in outcomes and ("start_shadow", "updating", "v2") in outcomes
    assert ("approval_event", "duplicate", "v2") in outcomes
    # the re-arm is due once the alarms evaluated v1 alone: the scheduled evaluation does it
    assert ("rearm_alarms", "scheduled", "v1") in outcomes
    assert not [o for o in outcomes if o[:2] == ("rearm_alarms", "re-armed")]
    world.metrics.assert_no_pending_responses()


def run_evaluation(world: World) -> None:
    """The registry says v1 serves since 40 hours and v2 is in shadow since 30, but the endpoint
    is gone: the first run rebuilds it from the registry, re-arms the retraining alarms (due
    since v1 went to production, never done) and waits (no labels yet); labels arrive for as many
    requests as the shadow criteria need, on which the shadow beats the champion; the next run
    promotes v2 and schedules its re-arm."""
    now = datetime.now(UTC)
    started = (now - timedelta(hours=30)).replace(microsecond=0)
    deployed = (now - timedelta(hours=40)).replace(microsecond=0)
    sagemaker = world.sagemaker
    v1 = world.version(1, stage="production", StageChangedAt=deployed.isoformat())
    v2 = world.version(2, stage="shadow", ShadowStartedAt=started.isoformat())
    world.recorder.calls.clear()

    world.stub_metrics()
    world.stub_rearm("v1")
    first = promotion_handler.evaluate(scheduled_event("x", event_id="tick-1", time=now.isoformat()), Context("r1"))
    assert first["decision"]["verdict"] == "wait"
    assert "no traffic yet" in first["decision"]["reason"]
    assert sagemaker.serving.serving(ENDPOINT) == (v1, v2)

    # the criteria's labelled requests, served by both variants an hour ago, labelled since.
    served, hour = now - timedelta(hours=1), f"{now - timedelta(hours=1):%Y/%m/%d/%H}"
    labels = [i % 5 == 0 for i in range(world.config.promotion.shadow.min_labels)]
    shadow = [capture_line(f"r{i}", 0.9 if y else 0.1, served) for i, y in enumerate(labels)]
    production = [capture_line(f"r{i}", 0.6 if (y or i % 7 == 0) else 0.3, served) for i, y in enumerate(labels)]
    truth = [
        json.dumps({"groundTruthData": {"data": str(int(y)), "encoding": "CSV"}, "eventMetadata": {"eventId": f"r{i}"}})
        for i, y in enumerate(labels)
    ]
    before = set(world.recorder.calls)
    for variant, lines in (("shadow", shadow), ("production", production)):
        key = f"fraud-detector/capture/{ENDPOINT}/{variant}/{hour}/batch.jsonl"
        world.s3.put_object(Bucket=BUCKET, Key=key, Body="\n".join(lines).encode())
    labels_key = f"fraud-detector/ground-truth/{now:%Y/%m/%d/%H}/labels.jsonl"
    world.s3.put_object(Bucket=BUCKET, Key=labels_key, Body="\n".join(truth).encode())
    world.recorder.calls = before

    world.stub_metrics()
    second = promotion_handler.evaluate(scheduled_event("x", event_id="tick-2", time=now.isoformat()), Context("r2"))
    assert second["decision"]["verdict"] == "promote", second["decision"]["reason"]
    assert sagemaker.serving.serving(ENDPOINT) == (v2, None)
    assert (sagemaker.stage(1), sagemaker.stage(2)) == ("retired", "production")
    # and the registry's own lifecycle, which Studio shows, moved with them
    life = {n: sagemaker.packages[arn]["ModelLifeCycle"] for n, arn in ((1, v1), (2, v2))}
    assert {n: (c["Stage"], c["StageStatus"]) for n, c in life.items()} == {
        1: ("PreviousChampion", "Restorable"),
        2: ("Production", "Serving"),
    }
    assert world.champion()["model_package_arn"] == v2
    rearmed = [r for r in world.audit() if r["action"] == "rearm_alarms"]
    assert [(r["outcome"], r["version"], r["details"].get("alarms")) for r in rearmed] == [
        ("re-armed", "v1", retraining_alarm_names(world.config)),
        ("scheduled", "v2", None),
    ]
    world.metrics.assert_no_pending_responses()


@pytest.fixture
def world(aws: None, synth: Synth, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    created = World(synth, CallRecorder(), monkeypatch)
    try:
        yield created
    finally:
        created.close()


def test_approval_deploys_the_first_version_then_shadows_the_next_and_ignores_a_redelivery(world: World) -> None:
    run_approval(world)


def test_evaluation_rebuilds_a_lost_endpoint_then_promotes_the_shadow_on_live_evidence(world: World) -> None:
    run_evaluation(world)


@pytest.mark.parametrize(
    ("policy_prefix", "scenario"),
    [("PromotionApprovalPolicy", run_approval), ("PromotionEvaluationPolicy", run_evaluation)],
    ids=["approval", "evaluation"],
)
def test_function_policy_allows_exactly_what_the_handler_calls(
    world: World, template: dict[str, Any], policy_prefix: str, scenario: Callable[[World], None]
) -> None:
    scenario(world)
    called = actions(world.recorder)
    allowed = _allowed(template, policy_prefix)
    assert not [a for a in allowed if "*" in a], "wildcard actions"
    assert called - allowed == set(), "called but not allowed"
    assert allowed - called <= set(PROMOTION_EXCEPTIONS), "allowed but never called"
    assert called


# ---- the image


def test_the_image_holds_every_module_the_handlers_import(synth: Synth, template: dict[str, Any]) -> None:
    """Imports both entry points and the evidence reader's lazy imports from the synthesized image
    context alone (the project is not on the path), and checks the pins are the job image's."""
    function = next(
        f
        for k, f in resources(template, "AWS::Lambda::Function").items()
        if k.startswith("PromotionEvaluationFunction")
    )
    tag = function["Properties"]["Code"]["ImageUri"]["Fn::Sub"].rsplit(":", 1)[-1]
    context = synth.outdir / f"asset.{tag}"
    code = (
        "import sys, handler\n"
        "from training_containers.capture import read_capture, read_ground_truth\n"
        "from pipelines.promotion.evidence import variant_evidence\n"
        "from pipelines.drift import INFERENCE_TIME_COLUMN\n"
        "ours = [m for n, m in sys.modules.items() if n.split('.')[0] in ('pipelines', 'training_containers')]\n"
        "outside = [m.__name__ for m in ours if not m.__file__.startswith(sys.argv[1])]\n"
        "assert callable(handler.on_approved) and callable(handler.evaluate)\n"
        "print(len(ours), outside)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(context)], cwd=context, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    count, outside = result.stdout.split(" ", 1)
    assert int(count) > 10 and outside.strip() == "[]"

    from tests.infra.conftest import ROOT

    job_pins = set((ROOT / "training_containers" / "requirements.lock").read_text().splitlines())
    pins = [
        line for line in (context / "requirements.lock").read_text().splitlines() if line and not line.startswith("#")
    ]
    # The job image's versions, so the functions parse capture as the monitor does; plus the
    # function's own logger, at the project's pin.
    logger = {pin for pin in pins if pin.startswith("aws-lambda-powertools==")}
    project_pins = set((ROOT / "requirements.lock").read_text().splitlines())
    assert len(logger) == 1 and logger <= project_pins
    assert pins and set(pins) - logger <= job_pins
    dockerfile = (context / "Dockerfile").read_text()
    assert "FROM public.ecr.aws/lambda/python:" in dockerfile
    for copied in ("requirements.lock", "handler.py", "pipelines/", "training_containers/"):
        assert f"COPY {copied} " in dockerfile
