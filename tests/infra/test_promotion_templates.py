"""The promotion construct in the session's synthesized templates: endpoint role, guardrail alarms,
champion seed, the two functions and their image, the rules (patterns against the documented
model-package event), and the dashboard widgets."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.session import get_session
from botocore.validate import ParamValidator
from moto import mock_aws
from moto.events.models import EventPattern

from pipelines.definition.builder import artifacts
from pipelines.promotion.champion import pointer_document
from pipelines.promotion.endpoint import deployment_config, guardrail_alarm_names
from tests.infra.conftest import VARIANT, VARIANT_ENDPOINT, Synth, resources
from tests.infra.sample_events import documented, model_package_state_change, scheduled_event

STACK = "fraud-detector-retraining"
ENDPOINT = "fraud-detector-endpoint"
BUCKET = "fraud-detector-111122223333-us-east-1"


def _one(template: dict[str, Any], kind: str, prefix: str) -> dict[str, Any]:
    (found,) = [r for k, r in resources(template, kind).items() if k.startswith(prefix)]
    properties: dict[str, Any] = found["Properties"]
    return properties


def _statements(template: dict[str, Any], policy_prefix: str) -> dict[str, dict[str, Any]]:
    policy = _one(template, "AWS::IAM::Policy", policy_prefix)
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def _resolved(value: Any) -> str:
    """A resource as text with CloudFormation references shown as <LogicalId>."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_resolved(p) for p in parts)
    if "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    if "Ref" in value:
        return f"<{value['Ref']}>"
    raise AssertionError(value)


def _resources_of(statement: dict[str, Any]) -> list[str]:
    listed = statement["Resource"]
    return [_resolved(r) for r in (listed if isinstance(listed, list) else [listed])]


# ---- endpoint role


def test_endpoint_role_is_the_one_the_controller_passes_and_reads_only_this_models_artifacts(
    template: dict[str, Any], synth: Synth
) -> None:
    from pipelines.naming import endpoint_role_arn

    role = _one(template, "AWS::IAM::Role", "PromotionEndpointRole")
    config = synth.stacks[STACK].loop.pipeline.deployed_config
    assert role["RoleName"] == endpoint_role_arn(config).rsplit("/", 1)[-1] == "fraud-detector-endpoint-us-east-1"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    statements = _statements(template, "PromotionEndpointRolePolicy")
    assert _resources_of(statements["ModelArtifacts"]) == [
        "<PipelineArtifactsEB21E7E8.Arn>/fraud-detector/executions/*"
    ]
    assert statements["ModelArtifacts"]["Action"] == "s3:GetObject"
    assert _resources_of(statements["DataCapture"]) == ["<PipelineArtifactsEB21E7E8.Arn>/fraud-detector/capture/*"]
    assert statements["DataCapture"]["Action"] == "s3:PutObject"
    assert _resources_of(statements["Key"]) == ["<PipelineKeyF48EE773.Arn>"]
    assert _resources_of(statements["Logs"]) == [
        f"arn:aws:logs:us-east-1:111122223333:log-group:/aws/sagemaker/Endpoints/{ENDPOINT}:*"
    ]
    assert statements["Metrics"]["Condition"] == {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}
    assert "NetworkInterfaces" not in statements
    for statement in statements.values():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not [a for a in actions if "*" in a]


def test_endpoint_role_can_use_vpc_interfaces_when_the_config_has_a_vpc(full_template: dict[str, Any]) -> None:
    statements = _statements(full_template, "PromotionEndpointRolePolicy")
    assert "ec2:CreateNetworkInterface" in statements["NetworkInterfaces"]["Action"]


# ---- guardrail alarms


def test_guardrail_alarms_watch_the_production_variant_with_the_configured_limits(
    template: dict[str, Any], synth: Synth
) -> None:
    config = synth.stacks[STACK].loop.pipeline.deployed_config
    guard = config.promotion.deployment
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()
    }
    five_xx, latency = guardrail_alarm_names(config)
    # UpdateEndpoint's auto-rollback names exactly these alarms, and they exist in the stack.
    rollback = {a["AlarmName"] for a in deployment_config(config)["AutoRollbackConfiguration"]["Alarms"]}
    assert rollback == {five_xx, latency} <= set(alarms)

    production = [{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": "production"}]
    rate = alarms[five_xx]
    (expression,) = [m for m in rate["Metrics"] if "Expression" in m]
    assert expression["Expression"] == "IF(invocations > 0, errors / invocations, 0)"
    stats = {m["Id"]: m["MetricStat"] for m in rate["Metrics"] if "MetricStat" in m}
    assert {i: (s["Metric"]["MetricName"], s["Stat"]) for i, s in stats.items()} == {
        "errors": ("Invocation5XXErrors", "Sum"),
        "invocations": ("Invocations", "Sum"),
    }
    assert all(
        s["Metric"]["Dimensions"] == production and s["Metric"]["Namespace"] == "AWS/SageMaker" for s in stats.values()
    )
    assert rate["Threshold"] == guard.max_5xx_rate

    p99 = alarms[latency]
    assert (p99["MetricName"], p99["ExtendedStatistic"], p99["Dimensions"]) == ("ModelLatency", "p99", production)
    assert p99["Threshold"] == guard.max_latency_p99_ms * 1000  # ModelLatency is in microseconds
    for alarm in (rate, p99):
        assert (alarm["ComparisonOperator"], alarm["TreatMissingData"]) == ("GreaterThanThreshold", "notBreaching")
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (3, 2)
        # An alarm must be able to fire while the canary waits, or it rolls nothing back.
        assert alarm["EvaluationPeriods"] * 60 <= guard.canary_wait_seconds


# ---- champion seed


def _seed_call(template: dict[str, Any]) -> dict[str, Any]:
    (seed,) = resources(template, "Custom::AWS").values()
    create = seed["Properties"]["Create"]
    text = _resolved(create).replace("<PipelineArtifactsEB21E7E8>", BUCKET)
    call: dict[str, Any] = json.loads(text)
    assert "Update" not in seed["Properties"] and "Delete" not in seed["Properties"]
    assert seed["Properties"]["InstallLatestAwsSdk"] is False  # no npm download at deploy time
    return call


def test_champion_seed_writes_the_empty_pointer_only_if_absent(template: dict[str, Any]) -> None:
    call = _seed_call(template)
    assert (call["service"], call["action"]) == ("S3", "putObject")
    parameters = call["parameters"]
    assert parameters["Key"] == "fraud-detector/champion/champion.json"
    assert (
        json.loads(parameters["Body"])
        == pointer_document(None)
        == {"model_package_arn": None, "model_data": "model.tar.gz"}
    )
    assert parameters["IfNoneMatch"] == "*"
    shape = get_session().get_service_model("s3").operation_model("PutObject").input_shape
    report = ParamValidator().validate(parameters, shape)
    assert not report.has_errors(), report.generate_report()
    (policy,) = [
        p["Properties"]
        for k, p in resources(template, "AWS::IAM::Policy").items()
        if k.startswith("PromotionChampionSeed")
    ]
    granted = {(s["Action"], _resolved(s["Resource"])) for s in policy["PolicyDocument"]["Statement"]}
    assert granted == {
        ("s3:PutObject", "<PipelineArtifactsEB21E7E8.Arn>/fraud-detector/champion/champion.json"),
        ("kms:GenerateDataKey", "<PipelineKeyF48EE773.Arn>"),
    }


def test_champion_seed_never_replaces_a_pointer_and_its_error_is_ignored(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 semantics of the seed call (moto implements If-None-Match): the first deploy writes the
    empty pointer, later ones meet the promotion function's pointer and fail with the error code
    the custom resource ignores."""
    import re

    call = _seed_call(template)
    for name, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        parameters = {**call["parameters"], "Body": call["parameters"]["Body"].encode()}
        s3.put_object(**parameters)
        written = {"model_package_arn": "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-detector/3"}
        s3.put_object(Bucket=BUCKET, Key=parameters["Key"], Body=json.dumps(written).encode())
        with pytest.raises(s3.exceptions.ClientError) as refused:
            s3.put_object(**parameters)
        assert re.fullmatch(call["ignoreErrorCodesMatching"], refused.value.response["Error"]["Code"])
        assert json.loads(s3.get_object(Bucket=BUCKET, Key=parameters["Key"])["Body"].read()) == written


# ---- functions, image and rules


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: _one(template, "AWS::Lambda::Function", f"Promotion{name}Function") for name in ("Approval", "Evaluation")
    }


def test_both_functions_run_one_image_with_their_own_command(template: dict[str, Any], synth: Synth) -> None:
    functions = _functions(template)
    approval, evaluation = functions["Approval"], functions["Evaluation"]
    assert approval["Code"] == evaluation["Code"]  # one image asset, built once
    assert approval["PackageType"] == evaluation["PackageType"] == "Image"
    assert approval["ImageConfig"]["Command"] == ["handler.on_approved"]
    assert evaluation["ImageConfig"]["Command"] == ["handler.evaluate"]
    config = synth.stacks[STACK].loop.pipeline.deployed_config
    for function in functions.values():
        env = function["Environment"]["Variables"]
        assert env["MODEL_CONFIG_URI"] == artifacts(config)["config"].uri
        assert env["KMS_KEY_ARN"] == {"Fn::GetAtt": ["PipelineKeyF48EE773", "Arn"]}
        assert set(env) == {"MODEL_CONFIG_URI", "KMS_KEY_ARN"}  # the audit table is named from the config
        assert "ReservedConcurrentExecutions" not in function  # one run at a time: the lease
        assert function["Architectures"] == ["x86_64"]
    assert (evaluation["MemorySize"], evaluation["Timeout"], evaluation["EphemeralStorage"]) == (
        3008,
        900,
        {"Size": 4096},
    )
    invoke = _one(template, "AWS::Lambda::EventInvokeConfig", "PromotionApprovalFailuresAsyncFailures")
    assert invoke["MaximumRetryAttempts"] == 2 and "OnFailure" in invoke["DestinationConfig"]


def test_the_function_config_is_the_object_the_stack_deploys(synth: Synth) -> None:
    """The functions read the jobs' config artifact: the stack's job-artifact upload carries it."""
    artifact = artifacts(synth.stacks[STACK].loop.pipeline.deployed_config)["config"]
    key = artifact.uri.removeprefix(f"s3://{BUCKET}/")
    staged = [p / key for p in synth.outdir.glob("asset.*") if (p / key).is_file()]
    assert [p.read_bytes() for p in staged] == [artifact.content]


def test_evaluation_runs_on_the_configured_schedule(template: dict[str, Any], synth: Synth) -> None:
    rule = _one(template, "AWS::Events::Rule", "PromotionEvaluationRule")
    config = synth.stacks[STACK].loop.pipeline.deployed_config
    assert rule["ScheduleExpression"] == config.promotion.shadow.evaluation_schedule == "rate(1 hour)"
    (target,) = rule["Targets"]
    assert _resolved(target["Arn"]).startswith("<PromotionEvaluationFunction")


def _approved_pattern(template: dict[str, Any]) -> EventPattern:
    rule = _one(template, "AWS::Events::Rule", "PromotionApprovedRule")
    return EventPattern.load(json.dumps(rule["EventPattern"]))


def test_approval_rule_matches_approved_versions_of_this_group(template: dict[str, Any]) -> None:
    assert _approved_pattern(template).matches_event(
        model_package_state_change("fraud-detector", 4, approval="Approved")
    )


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(model_package_state_change("fraud-detector", 4, approval="Rejected"), id="rejected"),
        pytest.param(model_package_state_change("fraud-detector", 4), id="pending-manual-approval"),
        pytest.param(model_package_state_change("other-model", 4, approval="Approved"), id="another-group"),
        pytest.param(model_package_state_change("fraud-detector-full", 4, approval="Approved"), id="group-name-prefix"),
        pytest.param(documented("model-package-state-change"), id="documented-versionedmp-Rejected"),
        pytest.param(scheduled_event("x", event_id="e", time="2026-11-20T17:00:00Z"), id="scheduled-event"),
    ],
)
def test_approval_rule_ignores_other_events(template: dict[str, Any], event: dict[str, Any]) -> None:
    assert not _approved_pattern(template).matches_event(event)


def test_the_variant_stack_listens_to_its_own_group(full_template: dict[str, Any]) -> None:
    pattern = _approved_pattern(full_template)
    assert pattern.matches_event(model_package_state_change(VARIANT, 1, approval="Approved"))
    assert not pattern.matches_event(model_package_state_change("fraud-detector", 1, approval="Approved"))


# ---- dashboard


def test_dashboard_shows_guardrails_variants_and_decisions(template: dict[str, Any]) -> None:
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    widgets = {
        w["properties"]["title"]: w for w in json.loads(_resolved(dashboard["Properties"]["DashboardBody"]))["widgets"]
    }
    guardrails = widgets["Deployment guardrails (roll back blue/green updates)"]["properties"]["alarms"]
    assert [a.split(".")[0] for a in guardrails] == [
        "<PromotionFiveXxRateAlarmEE3AA1A9",
        "<PromotionLatencyP99Alarm003BFCE8",
    ]
    latency = widgets["Model latency p99 (microseconds): production vs shadow"]["properties"]["metrics"]
    assert [m[:6] for m in latency] == [
        ["AWS/SageMaker", "ModelLatency", "EndpointName", ENDPOINT, "VariantName", variant]
        for variant in ("production", "shadow")
    ]
    decisions = widgets["Promotion decisions (approval events and shadow verdicts)"]["properties"]["query"]
    assert "<PromotionApprovalLogs" in decisions and "<PromotionEvaluationLogs" in decisions
    # the monitoring construct's widgets are still there
    assert "Retrain signals (retrain- starts a run, watch- only shows) and the silent monitor" in widgets


# ---- names the controller creates are the names its role may use


@pytest.mark.parametrize("stack", [STACK, f"{VARIANT}-retraining"])
def test_every_endpoint_config_and_model_the_controller_names_is_granted(synth: Synth, stack: str) -> None:
    """The role's Serving grant must match the names `SageMakerEndpoint` creates for any version
    number: a config named outside the grant is denied on AWS and stops shadow, promote and
    rollback (found with a long endpoint name and v10)."""
    import fnmatch

    from pipelines.promotion.endpoint import Version, endpoint_config_request, model_name

    config = synth.stacks[stack].loop.pipeline.deployed_config
    grants = _resources_of(_statements(synth.template(stack), "PromotionApprovalPolicy")["Serving"])
    arn = "arn:aws:sagemaker:us-east-1:111122223333"
    for number in (1, 9, 10, 99, 100, 12_345, 10**9):
        version = Version(f"{arn}:model-package/{VARIANT}/{number}", number, "s3://b/m.tar.gz", "img")
        for shadow in (None, version):
            name = endpoint_config_request(config, version, shadow)["EndpointConfigName"]
            assert len(name) <= 63, name
            assert any(fnmatch.fnmatchcase(f"{arn}:endpoint-config/{name.lower()}", g) for g in grants), name
        model = model_name(config, version)
        assert any(fnmatch.fnmatchcase(f"{arn}:model/{model.lower()}", g) for g in grants), model


def test_grants_on_one_endpoints_configs_do_not_reach_another_with_the_same_first_characters(synth: Synth) -> None:
    import fnmatch

    from pipelines.promotion.endpoint import Version, endpoint_config_request

    config = synth.stacks[f"{VARIANT}-retraining"].loop.pipeline.deployed_config
    assert config.promotion.endpoint(VARIANT) == VARIANT_ENDPOINT
    neighbour = config.model_copy(
        update={"promotion": config.promotion.model_copy(update={"endpoint_name": VARIANT_ENDPOINT[:-1] + "x"})}
    )
    grants = _resources_of(_statements(synth.template(f"{VARIANT}-retraining"), "PromotionApprovalPolicy")["Serving"])
    version = Version("arn:aws:sagemaker:us-east-1:111122223333:model-package/g/3", 3, "s3://b/m", "img")
    other = endpoint_config_request(neighbour, version, None)["EndpointConfigName"].lower()
    assert not any(
        fnmatch.fnmatchcase(f"arn:aws:sagemaker:us-east-1:111122223333:endpoint-config/{other}", g) for g in grants
    )


def test_an_endpoint_update_finishing_runs_the_evaluation_at_once(template: dict[str, Any]) -> None:
    from tests.infra.sample_events import endpoint_state_change

    (rule,) = [
        r["Properties"]
        for k, r in resources(template, "AWS::Events::Rule").items()
        if k.startswith("PromotionEndpointSettled")
    ]
    assert rule["Targets"][0]["Arn"]["Fn::GetAtt"][0].startswith("PromotionEvaluationFunction")
    pattern = EventPattern.load(json.dumps(rule["EventPattern"]))
    assert pattern.matches_event(endpoint_state_change(ENDPOINT))
    assert not pattern.matches_event(endpoint_state_change(ENDPOINT, status="UPDATING"))
    assert not pattern.matches_event(endpoint_state_change("another-endpoint"))


def test_the_cli_on_aws_builds_the_endpoint_configs_the_functions_build(synth: Synth) -> None:
    """`rollback --aws` from a person's shell must deploy what the functions would: the same config
    names, encrypted with the stack's key (found by its alias), not the YAML's key-less settings."""
    from botocore.stub import Stubber

    from pipelines.config import load_config
    from pipelines.promotion.aws import with_deployed_key
    from pipelines.promotion.endpoint import Version, endpoint_config_request
    from tests.conftest import EXAMPLE_CONFIG

    key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    deployed = synth.stacks[STACK].loop.pipeline.deployed_config
    function_view = deployed.model_copy(update={"pipeline": deployed.pipeline.model_copy(update={"kms_key_id": key})})
    kms = boto3.client("kms", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(kms) as stub:
        stub.add_response(
            "describe_key",
            {"KeyMetadata": {"KeyId": key.rsplit("/", 1)[1], "Arn": key}},
            {"KeyId": "alias/fraud-detector-retraining"},
        )
        cli_view = with_deployed_key(load_config(EXAMPLE_CONFIG), kms)
    version = Version("arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-detector/7", 7, "s3://b/m", "i")
    for shadow in (None, version):
        assert endpoint_config_request(cli_view, version, shadow) == endpoint_config_request(
            function_view, version, shadow
        )
    assert endpoint_config_request(cli_view, version, None)["KmsKeyId"] == key
    aliases = [a["Properties"]["AliasName"] for a in resources(synth.template(STACK), "AWS::KMS::Alias").values()]
    assert aliases == ["alias/fraud-detector-retraining"]
