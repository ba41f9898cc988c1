"""Template assertions, construct by construct, on the synthesized stacks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import ACCOUNT_LAYOUTS, VARIANT, VARIANT_IMAGE, Synth, resources

STACK = "fraud-detector-retraining"


def _only(template: dict[str, Any], kind: str) -> dict[str, Any]:
    (resource,) = resources(template, kind).values()
    return resource["Properties"]


def _definition(template: dict[str, Any]) -> str:
    """The inline definition with the key ARN token shown as KMS_KEY_ARN."""
    body = _only(template, "AWS::SageMaker::Pipeline")["PipelineDefinition"]["PipelineDefinitionBody"]
    if isinstance(body, str):
        return body
    separator, parts = body["Fn::Join"]
    return separator.join(p if isinstance(p, str) else "KMS_KEY_ARN" for p in parts)


def test_pipeline_uses_this_stacks_bucket_role_image_and_key(template: dict[str, Any], synth: Synth) -> None:
    stack = synth.stacks[STACK].loop
    names = stack.names
    pipeline = _only(template, "AWS::SageMaker::Pipeline")
    assert pipeline["PipelineName"] == "fraud-detector-retraining"
    definition = json.loads(_definition(template))
    text = json.dumps(definition)
    assert f"s3://{names.bucket}/fraud-detector/" in text
    assert names.role_arn in text
    assert stack.pipeline.image_uri in text
    assert stack.pipeline.image_uri.startswith("111122223333.dkr.ecr.us-east-1.amazonaws.com/cdk-")
    assert "retraining-key-set-at-deploy" not in text
    jobs = [s for s in definition["Steps"] if s["Type"] == "Processing"]
    for step in jobs:
        cluster = step["Arguments"]["ProcessingResources"]["ClusterConfig"]
        assert cluster["VolumeKmsKeyId"] == "KMS_KEY_ARN"
        assert step["Arguments"]["ProcessingOutputConfig"]["KmsKeyId"] == "KMS_KEY_ARN"
        assert step["Arguments"]["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True


def test_definition_in_the_stack_is_the_sdk_definition_for_the_deployed_config(
    synth: Synth, template: dict[str, Any]
) -> None:
    stack = synth.stacks[STACK].loop
    expected = stack.pipeline.definition.replace(
        "arn:aws:kms:us-east-1:111122223333:key/retraining-key-set-at-deploy", "KMS_KEY_ARN"
    )
    assert _definition(template) == expected


def test_artifact_bucket_is_versioned_encrypted_private_logged_and_tls_only(template: dict[str, Any]) -> None:
    buckets = resources(template, "AWS::S3::Bucket")
    (artifacts,) = [b["Properties"] for b in buckets.values() if b["Properties"].get("BucketName")]
    assert artifacts["BucketName"] == "fraud-detector-111122223333-us-east-1"
    assert artifacts["VersioningConfiguration"] == {"Status": "Enabled"}
    encryption = artifacts["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert encryption["BucketKeyEnabled"] is True
    assert artifacts["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert "DestinationBucketName" in artifacts["LoggingConfiguration"]
    rules = {r["Id"]: r for r in artifacts["LifecycleConfiguration"]["Rules"]}
    assert rules["Scratch"]["Prefix"] == "fraud-detector/scratch/" and rules["Scratch"]["ExpirationInDays"] == 14
    assert (
        rules["DataCapture"]["Prefix"] == "fraud-detector/capture/" and rules["DataCapture"]["ExpirationInDays"] == 90
    )
    assert rules["GroundTruth"]["ExpirationInDays"] == 400 and "Executions" in rules
    assert "ExpirationInDays" not in rules["Executions"]
    # what a registered version references is never expired: its run's outputs (model, reports,
    # manifest), the content-addressed config and code it ran, and the input objects it read
    kept = [f"fraud-detector/{area}/" for area in ("executions", "lineage", "config", "source", "edge-cases")]
    for rule in rules.values():
        if "ExpirationInDays" in rule or "ExpirationDate" in rule:
            prefix = rule.get("Prefix") or rule.get("Filter", {}).get("Prefix", "")
            assert not any(area.startswith(prefix) for area in kept), (rule["Id"], prefix)
    assert rules["Lineage"]["Prefix"] == "fraud-detector/lineage/"
    assert rules["Lineage"]["Transitions"] == [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 30}]
    assert rules["Lineage"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}  # identical copies only
    policies = [p["Properties"]["PolicyDocument"] for p in resources(template, "AWS::S3::BucketPolicy").values()]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for p in policies
        for s in p["Statement"]
    )


def test_key_rotates_and_group_exists(template: dict[str, Any]) -> None:
    assert _only(template, "AWS::KMS::Key")["EnableKeyRotation"] is True
    assert _only(template, "AWS::SageMaker::ModelPackageGroup")["ModelPackageGroupName"] == "fraud-detector"


def test_pipeline_role_is_scoped_to_its_prefix_group_jobs_and_image(template: dict[str, Any]) -> None:
    roles = {r["Properties"].get("RoleName"): r for r in resources(template, "AWS::IAM::Role").values()}
    assert "fraud-detector-pipeline-us-east-1" in roles
    (policy,) = [p for k, p in resources(template, "AWS::IAM::Policy").items() if k.startswith("PipelineRolePolicy")]
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["ArtifactObjects"]["Resource"] == {
        "Fn::Join": [
            "",
            [
                {
                    "Fn::GetAtt": [
                        next(k for k in resources(template, "AWS::S3::Bucket") if k.startswith("PipelineArtifacts")),
                        "Arn",
                    ]
                },
                "/fraud-detector/*",
            ],
        ]
    }
    assert statements["PipelineJobs"]["Resource"] == [
        "arn:aws:sagemaker:us-east-1:111122223333:processing-job/pipelines-*",
        "arn:aws:sagemaker:us-east-1:111122223333:training-job/pipelines-*",
    ]
    assert statements["PassRoleToJobs"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    assert "JobNetworkInterfaces" not in statements  # no VPC in this config


def test_vpc_config_adds_network_interface_permissions_and_isolation(full_template: dict[str, Any]) -> None:
    (policy,) = [
        p for k, p in resources(full_template, "AWS::IAM::Policy").items() if k.startswith("PipelineRolePolicy")
    ]
    sids = {s["Sid"] for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert "JobNetworkInterfaces" in sids
    definition = json.loads(_definition(full_template))
    data_pull = next(s for s in definition["Steps"] if s["Name"] == "DataPull")
    network = data_pull["Arguments"]["NetworkConfig"]
    assert network["EnableNetworkIsolation"] is True
    assert network["VpcConfig"] == {"SecurityGroupIds": ["sg-0abc"], "Subnets": ["subnet-0abc"]}


def test_audit_table_has_kms_pitr_ttl_and_keys(template: dict[str, Any]) -> None:
    table = _only(template, "AWS::DynamoDB::GlobalTable")
    assert table["TableName"] == "fraud-detector-audit"
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    assert table["SSESpecification"]["SSEType"] == "KMS"
    replica = table["Replicas"][0]
    assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert "KMSMasterKeyId" in replica["SSESpecification"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def _settings(synth: Synth, stack: str) -> tuple[str, dict[str, Any]]:
    """The config object the stack deploys (its URI, and its JSON as the functions read it)."""
    from pipelines.definition.builder import artifacts

    artifact = artifacts(synth.stacks[stack].loop.pipeline.deployed_config)["config"]
    return artifact.uri, json.loads(artifact.content)


def test_trigger_function_settings(template: dict[str, Any], synth: Synth) -> None:
    functions = {k: f["Properties"] for k, f in resources(template, "AWS::Lambda::Function").items()}
    trigger = next(f for k, f in functions.items() if k.startswith("TriggerFunction"))
    uri, deployed = _settings(synth, STACK)
    assert trigger["Environment"]["Variables"] == {"MODEL_CONFIG_URI": uri}
    assert deployed["model"]["name"] == "fraud-detector"  # the pipeline: fraud-detector-retraining
    assert deployed["trigger"]["cooldown_hours"] == 24
    assert deployed["trigger"]["max_staleness_days"] == 60
    assert trigger["Handler"] == "handler.handler"
    assert "ReservedConcurrentExecutions" not in trigger  # serialised by conditional writes
    (invoke,) = [
        r["Properties"]
        for k, r in resources(template, "AWS::Lambda::EventInvokeConfig").items()
        if k.startswith("TriggerAsyncFailures")
    ]
    assert invoke["MaximumRetryAttempts"] == 2
    assert "OnFailure" in invoke["DestinationConfig"]


@pytest.mark.parametrize("stack", ["fraud-detector-retraining", f"{VARIANT}-retraining"])
def test_every_function_reads_its_settings_from_the_deployed_config_alone(synth: Synth, stack: str) -> None:
    """One way for every function: MODEL_CONFIG_URI names the deployed config object, and the
    function's policy may read that object and no other config (the monitor launcher's settings
    are its schedule's input; the promotion functions are also given the key the config names by a
    placeholder)."""
    template = synth.template(stack)
    uri, _ = _settings(synth, stack)
    key = uri.split("/", 3)[3]
    policies = resources(template, "AWS::IAM::Policy")
    (bucket,) = [k for k in resources(template, "AWS::S3::Bucket") if k.startswith("PipelineArtifacts")]
    seen = set()
    ours = {
        k: f for k, f in resources(template, "AWS::Lambda::Function").items() if not k.startswith(("Custom", "AWS"))
    }
    for logical, function in ours.items():  # not CDK's own (BucketDeployment, AwsCustomResource)
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if logical.startswith("Monitoring"):  # the monitor launcher
            assert variables == {}
            continue
        extra = {"KMS_KEY_ARN"} if logical.startswith("Promotion") else set()
        assert set(variables) == {"MODEL_CONFIG_URI", *extra} and variables["MODEL_CONFIG_URI"] == uri, logical
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        (statement,) = [
            st
            for p in policies.values()
            if {"Ref": role} in p["Properties"]["Roles"]
            for st in p["Properties"]["PolicyDocument"]["Statement"]
            if st.get("Sid") == "Settings"
        ]
        assert statement["Action"] == "s3:GetObject"
        assert statement["Resource"]["Fn::Join"][1] == [{"Fn::GetAtt": [bucket, "Arn"]}, f"/{key}"]
        seen.add(logical.split("Function")[0])
    expected = {"Trigger", "Alerts", "PromotionApproval", "PromotionEvaluation"}
    assert seen == (expected | {"AlertsPagerDuty"} if stack.startswith(VARIANT) else expected)


def test_alerts_topic_is_encrypted_with_routes_from_config(
    template: dict[str, Any], full_template: dict[str, Any], synth: Synth
) -> None:
    assert "KmsMasterKeyId" in _only(template, "AWS::SNS::Topic")
    protocols = sorted(s["Properties"]["Protocol"] for s in resources(template, "AWS::SNS::Subscription").values())
    assert protocols == ["email"]
    full = sorted(
        (s["Properties"]["Protocol"], json.dumps(s["Properties"]["Endpoint"]))
        for s in resources(full_template, "AWS::SNS::Subscription").values()
    )
    # PagerDuty through its function (Events API v2), never an HTTPS subscription of the topic.
    assert [p for p, _ in full] == ["email", "lambda"]
    assert "AlertsPagerDutyFunction" in full[1][1]
    pagerduty = next(
        f["Properties"]
        for k, f in resources(full_template, "AWS::Lambda::Function").items()
        if k.startswith("AlertsPagerDutyFunction")
    )
    assert pagerduty["Handler"] == "pagerduty.handler"
    _, deployed = _settings(synth, f"{VARIANT}-retraining")  # what the function reads
    assert deployed["alerts"]["pagerduty"]["routing_key_secret"] == "retraining/pagerduty-routing-key"
    assert "pagerduty.com" not in json.dumps(full_template)  # no integration URL or key in the template
    slack = _only(full_template, "AWS::Chatbot::SlackChannelConfiguration")
    assert (slack["SlackWorkspaceId"], slack["SlackChannelId"]) == ("T0123ABCD", "C0456EFGH")
    assert resources(template, "AWS::Chatbot::SlackChannelConfiguration") == {}


def test_monitoring_alarms_follow_the_specs(template: dict[str, Any], synth: Synth) -> None:
    from pipelines.config import load_config
    from pipelines.monitoring.alarms import alarm_specs, monitor_silent_spec
    from pipelines.promotion.endpoint import guardrail_alarm_names
    from tests.infra.conftest import ROOT

    config = load_config(ROOT / "configs" / "fraud-detector.yaml")
    specs = {s.name: s for s in alarm_specs(config)}
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()
    }
    # Besides the specs, only the promotion's deployment guardrails (test_promotion_templates.py),
    # one alarm per failure queue and the silent monitor's.
    failures = set(synth.stacks["fraud-detector-retraining"].loop.failure_alarms)
    silent = monitor_silent_spec(config)
    assert set(alarms) == set(specs) | set(guardrail_alarm_names(config)) | failures | {silent.name}
    specs[silent.name] = silent
    for name, spec in specs.items():
        alarm = alarms[name]
        assert alarm["MetricName"] == spec.metric_name
        assert alarm["Namespace"] == spec.namespace
        assert alarm["Threshold"] == spec.threshold
        assert alarm["ComparisonOperator"] == spec.comparison
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (
            spec.evaluation_periods,
            spec.datapoints_to_alarm,
        )
        assert alarm["TreatMissingData"] == spec.treat_missing_data
        assert sorted((d["Name"], d["Value"]) for d in alarm["Dimensions"]) == sorted(spec.dimensions)
        assert alarm["Statistic"] == spec.statistic
    assert resources(template, "AWS::CloudWatch::Dashboard")
    # the silent monitor tells a person, in ALARM and back to OK, and CloudWatch may publish it
    topic = next(iter(resources(template, "AWS::SNS::Topic")))
    assert alarms[silent.name]["AlarmActions"] == alarms[silent.name]["OKActions"] == [{"Ref": topic}]
    (policy,) = resources(template, "AWS::SNS::TopicPolicy").values()
    statement = next(s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "AlarmsPublish")
    assert any(arn.endswith(f":alarm:{silent.name}") for arn in statement["Condition"]["ArnLike"]["aws:SourceArn"])
    (dashboard,) = (d for d in resources(template, "AWS::CloudWatch::Dashboard").values())
    silent_id = next(
        k
        for k, a in resources(template, "AWS::CloudWatch::Alarm").items()
        if a["Properties"]["AlarmName"] == silent.name
    )
    assert {"Fn::GetAtt": [silent_id, "Arn"]} in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]


def test_dashboard_graphs_only_metrics_something_publishes(template: dict[str, Any]) -> None:
    from pipelines.config import load_config
    from pipelines.drift.metrics import DRIFTED_FEATURE_COUNT, PERFORMANCE_METRICS
    from pipelines.monitoring.alarms import alarm_specs
    from tests.infra.conftest import ROOT

    config = load_config(ROOT / "configs" / "fraud-detector.yaml")
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    if not isinstance(body, str):
        separator, parts = body["Fn::Join"]
        body = separator.join(p if isinstance(p, str) else "TOKEN" for p in parts)
    widgets = json.loads(body)["widgets"]
    titles = [w["properties"].get("title") for w in widgets]
    assert "Promotions" not in titles  # graphed Promotions/Rollbacks/ShadowRejections, which nothing publishes
    assert "Promotion decisions (approval events and shadow verdicts)" in titles  # where promotions show instead
    graphed = {
        m[1] for w in widgets for m in w["properties"].get("metrics", []) if m and m[0] == config.drift.metric_namespace
    }
    published = {s.metric_name for s in alarm_specs(config)} | set(PERFORMANCE_METRICS.values())
    assert graphed and graphed <= published | {DRIFTED_FEATURE_COUNT}


def test_the_dashboard_graphs_every_retrain_signal_beside_its_threshold(full_template: dict[str, Any]) -> None:
    """The variant config turns on every signal: each has a graph of what its alarm watches (the
    estimate with the realized metric beside it) and its alarm in the status widget."""
    (dashboard,) = resources(full_template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    if not isinstance(body, str):
        separator, parts = body["Fn::Join"]
        body = separator.join(p if isinstance(p, str) else "TOKEN" for p in parts)
    widgets = {w["properties"].get("title"): w["properties"] for w in json.loads(body)["widgets"]}
    estimated = widgets["Estimated performance (scores, before labels) vs realized"]
    estimate, realized = (m for m in estimated["metrics"] if m)
    assert estimate[1:6] == ["ROCAUC", "Model", "fraud-detector-full", "Signal", "estimated"]
    assert realized[1:4] == ["ROCAUC", "Model", "fraud-detector-full"] and "Signal" not in realized
    assert estimated["annotations"]["horizontal"][0]["value"] == 0.85
    assert (
        widgets["Largest share of a feature's values outside training"]["annotations"]["horizontal"][0]["value"] == 0.15
    )
    assert "Label drift (Cohen's h of the positive rate)" in widgets
    status = widgets["Retrain signals (retrain- starts a run, watch- only shows) and the silent monitor"]
    assert len(status["alarms"]) == 6  # drifted features, SLO, estimate, label drift, OOD share; silent monitor


def test_monitor_schedule_runs_on_the_hour_and_launches_a_valid_create_processing_job_request(
    template: dict[str, Any], tmp_path: Path
) -> None:
    from botocore.session import get_session
    from botocore.validate import ParamValidator

    schedule = _only(template, "AWS::Scheduler::Schedule")
    # The config says rate(1 hour): deployed as the hourly cron, 15 minutes past (capture settles),
    # judging the whole hour before, so windows match alarm periods.
    assert (schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"]) == ("cron(15 * * * ? *)", "UTC")
    launcher = next(k for k in resources(template, "AWS::Lambda::Function") if k.startswith("MonitoringFunction"))
    assert schedule["Target"]["Arn"] == {"Fn::GetAtt": [launcher, "Arn"]}
    assert schedule["Target"]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0].startswith("MonitoringFailedEvents")
    from pipelines.monitoring.launch import plan_judge, plan_run
    from pipelines.monitoring.local import completion_event

    s3 = _monitor_objects(template, tmp_path)
    request = _monitor_request(template, s3)
    sharded = plan_run(_launch(template) | {"instance_capture_mb": 1e-6}, s3).request  # one object a shard
    assert sharded is not None and sharded["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    judge = plan_judge(_launch(template), completion_event(sharded), s3)
    assert judge is not None and judge.request is not None
    model = get_session().get_service_model("sagemaker").operation_model("CreateProcessingJob").input_shape
    for planned in (request, sharded, judge.request):
        report = ParamValidator().validate(planned, model)
        assert not report.has_errors(), report.generate_report()
        assert planned["AppSpecification"]["ContainerEntrypoint"] == ["python3", "-m", "training_containers.monitor"]
        assert planned["AppSpecification"]["ContainerArguments"][-2:] == ["--window-end", "2026-03-01T12:00:00Z"]
        assert planned["Tags"] == [{"Key": "retraining:model", "Value": "fraud-detector"}]


def _launch(template: dict[str, Any]) -> dict[str, Any]:
    """The schedule's input to the launcher, with Scheduler's and CloudFormation's values filled in."""
    text = _only(template, "AWS::Scheduler::Schedule")["Target"]["Input"]
    if not isinstance(text, str):  # Fn::Join with the role and key ARNs
        separator, parts = text["Fn::Join"]
        text = separator.join(p if isinstance(p, str) else "arn:aws:iam::111122223333:role/x" for p in parts)
    launch: dict[str, Any] = json.loads(text.replace("<aws.scheduler.scheduled-time>", "2026-03-01T12:00:00Z"))
    return launch


def _monitor_objects(template: dict[str, Any], tmp_path: Path) -> Any:
    """A local S3 with an object in each of the launcher's inputs: config, baseline, two capture
    objects of the window's hour, labels of the hour."""
    from pipelines.local.storage import LocalS3

    s3 = LocalS3(tmp_path / "s3")
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in _launch(template)["request"]["ProcessingInputs"]}
    s3.put_bytes(inputs["config"], b"{}")
    s3.put_bytes(inputs["baseline"], b"{}")
    for name in ("a", "b"):
        s3.put_bytes(f"{inputs['capture']}2026/03/01/11/{name}.jsonl", b"{}")
    s3.put_bytes(f"{inputs['ground_truth']}2026/03/01/11/labels.jsonl", b"{}")
    return s3


def _monitor_request(template: dict[str, Any], s3: Any) -> dict[str, Any]:
    """The CreateProcessingJob request the launcher sends for the window ending at 12:00."""
    from pipelines.monitoring.launch import plan_run

    run = plan_run(_launch(template), s3)
    assert run.request is not None, run.skipped
    return run.request


def test_monitor_reads_the_pipelines_config_production_capture_ground_truth_and_champion(
    template: dict[str, Any], synth: Synth, tmp_path: Path
) -> None:
    from pipelines.definition.builder import artifacts
    from pipelines.naming import capture_prefix, champion_prefix, ground_truth_prefix
    from pipelines.promotion.endpoint import endpoint_config_request

    deployed = synth.stacks[STACK].loop.pipeline.deployed_config
    inputs = {i["InputName"]: i["S3Input"] for i in _launch(template)["request"]["ProcessingInputs"]}
    uris = {name: s3["S3Uri"] for name, s3 in inputs.items()}
    endpoint = deployed.promotion.endpoint(deployed.model.name)
    assert uris == {
        # the very object the pipeline's jobs read (content-addressed, uploaded by the pipeline construct)
        "config": artifacts(deployed)["config"].uri,
        # SageMaker writes capture under <DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/
        "capture": f"{capture_prefix(deployed)}/{endpoint}/production/",
        "ground_truth": ground_truth_prefix(deployed),
        # the champion's profile only (the champion prefix also holds the model)
        "baseline": champion_prefix(deployed) + "baseline_profile.json",
    }
    assert uris["config"] in _definition(template)
    assert uris["config"].startswith("s3://fraud-detector-111122223333-us-east-1/fraud-detector/config/")
    capture = endpoint_config_request(deployed, *_versions())["DataCaptureConfig"]["DestinationS3Uri"]
    assert uris["capture"].startswith(capture + "/") and "shadow" not in uris["capture"]
    for name, s3 in inputs.items():
        assert s3["LocalPath"] == f"/opt/ml/processing/input/{name}"
        assert (s3["S3DataType"], s3["S3InputMode"]) == ("S3Prefix", "File")
    # the launcher turns the partitioned inputs into manifests of the hours a run needs
    store = _monitor_objects(template, tmp_path)
    planned = {i["InputName"]: i["S3Input"] for i in _monitor_request(template, store)["ProcessingInputs"]}
    assert sorted(planned) == ["baseline", "capture", "config", "ground_truth"]
    for name in ("capture", "ground_truth"):
        assert planned[name]["S3DataType"] == "ManifestFile" and planned[name]["LocalPath"] == inputs[name]["LocalPath"]
        manifest = store.read_json(planned[name]["S3Uri"])
        assert manifest[0] == {"prefix": uris[name]} and all(k.startswith("2026/03/01/11/") for k in manifest[1:])


def _versions() -> tuple[Any, Any]:
    from pipelines.promotion.endpoint import Version

    production = Version("arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-detector/3", 3, "s3://b/m", "i")
    shadow = Version("arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-detector/4", 4, "s3://b/n", "i")
    return production, shadow


def test_the_monitor_job_runs_on_what_its_inputs_download(
    template: dict[str, Any], synth: Synth, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Objects written where the promotion, the endpoint and the labelling process write them,
    downloaded as SageMaker downloads S3Prefix inputs (the local runtime's LocalS3), then the
    monitor job itself: it finds the config and exactly one baseline profile, and counts the
    production variant's capture only."""
    from pipelines.definition.builder import artifacts
    from pipelines.local.jobs import JobContext, stage_processing
    from pipelines.local.storage import LocalS3
    from pipelines.naming import capture_prefix, champion_prefix
    from pipelines.promotion.champion import LocalChampion
    from pipelines.promotion.endpoint import Version
    from pipelines.promotion.local import write_ground_truth
    from pipelines.simulation.datagen import StreamSpec, generate
    from training_containers import monitor
    from training_containers.profile import baseline_profile

    deployed = synth.stacks[STACK].loop.pipeline.deployed_config
    s3 = LocalS3(tmp_path / "s3")
    config_artifact = artifacts(deployed)["config"]
    s3.put_bytes(config_artifact.uri, config_artifact.content)
    reference = generate(StreamSpec(rows=3000, days=10, seed=21))
    executions = f"s3://{deployed.pipeline.bucket(deployed.model.name)}/{deployed.model.name}/executions/x"
    s3.put_bytes(f"{executions}/model.tar.gz", b"not read by the monitor")
    s3.put_bytes(f"{executions}/baseline_profile.json", json.dumps(baseline_profile(reference, deployed)).encode())
    champion = Version(
        "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-detector/3",
        3,
        f"{executions}/model.tar.gz",
        "image",
        baseline=f"{executions}/baseline_profile.json",
    )
    LocalChampion(s3, champion_prefix(deployed)).publish(champion)

    hour = "2026/03/01/11"
    endpoint = f"{capture_prefix(deployed)}/{deployed.promotion.endpoint(deployed.model.name)}"
    traffic = generate(StreamSpec(rows=700, days=0.04, seed=22, start="2026-03-01 11:00"))
    names = deployed.model.feature_names
    for variant, rows in (("production", traffic.iloc[:500]), ("shadow", traffic.iloc[500:])):
        lines = [
            json.dumps(
                {
                    "captureData": {
                        "endpointInput": {
                            "observedContentType": "text/csv",
                            "mode": "INPUT",
                            "encoding": "CSV",
                            "data": ",".join(str(row[n]) for n in names),
                        },
                        "endpointOutput": {
                            "observedContentType": "text/csv",
                            "mode": "OUTPUT",
                            "encoding": "CSV",
                            "data": "0.1",
                        },
                    },
                    "eventMetadata": {
                        "eventId": row["transaction_id"],
                        "inferenceId": row["transaction_id"],
                        "inferenceTime": "2026-03-01T11:30:00Z",
                    },
                    "eventVersion": "0",
                }
            )
            for _, row in rows.iterrows()
        ]
        s3.put_bytes(f"{endpoint}/{variant}/{hour}/capture.jsonl", ("\n".join(lines) + "\n").encode())
    labels = traffic.iloc[:500].rename(columns={"transaction_id": "inference_id", "is_fraud": "label"})
    write_ground_truth(s3, deployed, labels, datetime(2026, 3, 1, 11, tzinfo=UTC))

    request = _monitor_request(template, s3)
    job = JobContext(request["ProcessingJobName"], "arn", tmp_path / "job", s3)
    stage_processing(request, job)
    # the baseline input is the profile alone, not the champion's model beside it
    assert sorted(p.name for p in (job.opt_ml / "processing/input/baseline").rglob("*")) == ["baseline_profile.json"]
    monkeypatch.setenv("OPT_ML_ROOT", str(job.opt_ml))
    config, profile, _ = monitor.load_inputs()
    assert config.model.name == deployed.model.name and profile == baseline_profile(reference, deployed)

    arguments = request["AppSpecification"]["ContainerArguments"]
    assert arguments == ["--window-start", "2026-03-01T11:00:00Z", "--window-end", "2026-03-01T12:00:00Z"]
    report = monitor.run(window_start=arguments[1], window_end=arguments[3])
    assert report["capture"]["records"] == 500  # production only: the shadow's 200 are not there
    assert report["window"]["rows"] == 500
    assert report["ground_truth"]["records"] == 500


def test_variant_stack_exists(synth: Synth) -> None:
    assert f"{VARIANT}-retraining" in synth.stacks


def _trigger_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    (policy,) = [p for k, p in resources(template, "AWS::IAM::Policy").items() if k.startswith("TriggerFunctionPolicy")]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_the_trigger_reads_alarm_states_only_where_failed_runs_are_retried(
    template: dict[str, Any], full_template: dict[str, Any], synth: Synth
) -> None:
    statements = _trigger_statements(template)
    assert _settings(synth, STACK)[1]["trigger"]["retry_failed_runs"] is True
    (describe,) = [s for s in statements if s["Action"] == "cloudwatch:DescribeAlarms"]
    arns = describe["Resource"] if isinstance(describe["Resource"], list) else [describe["Resource"]]
    names = json.dumps(arns)
    assert "fraud-detector-retrain-drifted-features" in names and "fraud-detector-retrain-performance-slo" in names
    assert len(arns) == 2 and "*" not in names  # the retraining alarms only: no watch-only alarm, no wildcard

    variant_statements = _trigger_statements(full_template)  # retry_failed_runs: false
    assert _settings(synth, f"{VARIANT}-retraining")[1]["trigger"]["retry_failed_runs"] is False
    assert not [s for s in variant_statements if "cloudwatch" in json.dumps(s["Action"])]


@pytest.mark.parametrize("stack", ["fraud-detector-retraining", f"{VARIANT}-retraining"])
def test_no_function_reserves_concurrency(synth: Synth, stack: str) -> None:
    """Reserved concurrency must leave the account's unreserved minimum free ("You can reserve up
    to the Unreserved account concurrency value minus 100", Lambda developer guide, "Configuring
    reserved concurrency"); accounts on a new account's quota of 10 have nothing to reserve, so any
    reservation fails `cdk deploy` there."""
    functions = resources(synth.template(stack), "AWS::Lambda::Function")
    assert functions and {k: f["Properties"].get("ReservedConcurrentExecutions") for k, f in functions.items()} == {
        k: None for k in functions
    }


def _invoked_asynchronously(template: dict[str, Any]) -> set[str]:
    """Functions that EventBridge rules, Scheduler schedules or SNS subscriptions invoke: Lambda
    runs these asynchronously, retries twice, then drops the event unless a destination keeps it."""
    text = json.dumps
    found: set[str] = set()
    functions = resources(template, "AWS::Lambda::Function")
    for kind in ("AWS::Events::Rule", "AWS::Scheduler::Schedule", "AWS::SNS::Subscription"):
        for resource in resources(template, kind).values():
            found |= {f for f in functions if f'"{f}"' in text(resource["Properties"])}
    return found


@pytest.mark.parametrize("stack", ["fraud-detector-retraining", f"{VARIANT}-retraining"])
def test_every_asynchronously_invoked_function_keeps_its_failures_and_they_alarm(synth: Synth, stack: str) -> None:
    template = synth.template(stack)
    invoked = _invoked_asynchronously(template)
    assert len(invoked) >= 4
    configs = resources(template, "AWS::Lambda::EventInvokeConfig").values()
    destinations = {}
    for config in configs:
        properties = config["Properties"]
        destinations[properties["FunctionName"]["Ref"]] = properties["DestinationConfig"]["OnFailure"]["Destination"]
    assert invoked - set(destinations) == set(), "async functions without a failure destination"
    queues = {d["Fn::GetAtt"][0] for d in destinations.values()}
    alarmed = {
        dimension["Value"]["Fn::GetAtt"][0]
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
        for dimension in alarm["Properties"].get("Dimensions", [])
        if dimension["Name"] == "QueueName"
    }
    assert queues <= alarmed, "failure queues nobody hears about"
    topic = next(iter(resources(template, "AWS::SNS::Topic")))
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        if any(d["Name"] == "QueueName" for d in alarm["Properties"].get("Dimensions", [])):
            assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]


def test_a_monitor_job_failing_after_it_started_lands_in_the_failure_queue(template: dict[str, Any]) -> None:
    from moto.events.models import EventPattern

    from pipelines.naming import monitor_job_prefix
    from tests.infra.sample_events import processing_job_state_change

    (rule,) = [
        r["Properties"]
        for k, r in resources(template, "AWS::Events::Rule").items()
        if k.startswith("MonitoringJobFailed")
    ]
    assert rule["Targets"][0]["Arn"]["Fn::GetAtt"][0].startswith("MonitoringFailedEvents")
    pattern = EventPattern.load(json.dumps(rule["EventPattern"]))
    ours = f"{monitor_job_prefix('fraud-detector')}-202603011200"
    assert pattern.matches_event(processing_job_state_change(ours))
    assert not pattern.matches_event(processing_job_state_change(ours, status="Completed"))
    neighbour = f"{monitor_job_prefix('fraud-detector-full')}-202603011200"  # same first characters
    assert not pattern.matches_event(processing_job_state_change(neighbour))
    assert not pattern.matches_event(processing_job_state_change("pipelines-abc123-DataPull-x1"))


def test_role_names_are_unique_per_region_and_fit_iam(synth: Synth) -> None:
    """IAM role names are unique in the account across regions (IAM quotas: "Names of users,
    groups, roles, and instance profiles must be unique within the account"), at most 64
    characters: a second region's stack must not reuse the first's."""
    from pipelines import naming

    named = {
        r["Properties"]["RoleName"]
        for stack in synth.stacks
        for r in resources(synth.template(stack), "AWS::IAM::Role").values()
        if "RoleName" in r["Properties"]
    }
    one_account = {
        naming.role_name(model, "us-east-1", purpose)
        for model in ("fraud-detector", VARIANT)
        for purpose in ("pipeline", "endpoint")
    }
    # Several accounts: the serving roles the other accounts name, and the training account's re-arm role.
    several = {
        naming.role_name(model, "us-east-1", purpose)
        for model in ACCOUNT_LAYOUTS
        for purpose in ("pipeline", "endpoint", *naming.PROMOTION_ROLES, "rearm")
        if purpose != "rearm" or ACCOUNT_LAYOUTS[model].get("serving", "111122223333") != "111122223333"
    }
    assert named == one_account | several
    longest = "m" + "x" * 46 + "z"
    names = {naming.role_name(longest, region, "pipeline") for region in ("ap-southeast-3", "ap-southeast-4")}
    assert len(names) == 2 and all(len(n) <= 64 for n in names)


def test_every_job_of_the_definition_carries_the_tag_the_pipeline_role_requires(template: dict[str, Any]) -> None:
    """Pipelines names jobs pipelines-<execution>-..., the same for every pipeline in the account; the
    role's grants on those names hold only with this model's tag, which every job step must send."""
    (policy,) = [p for k, p in resources(template, "AWS::IAM::Policy").items() if k.startswith("PipelineRolePolicy")]
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["PipelineJobs"]["Condition"] == {
        "StringEquals": {"aws:RequestTag/retraining:model": "fraud-detector"}
    }
    assert statements["PipelineJobsOfThisModel"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/retraining:model": "fraud-detector"}
    }
    definition = json.loads(_definition(template))

    def steps(listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
        found = []
        for step in listed:
            found.append(step)
            if step["Type"] == "Condition":
                found += steps(step["Arguments"]["IfSteps"]) + steps(step["Arguments"]["ElseSteps"])
        return found

    jobs = [s for s in steps(definition["Steps"]) if s["Type"] in ("Processing", "Training")]
    assert len(jobs) == 3
    for job in jobs:
        assert {"Key": "retraining:model", "Value": "fraud-detector"} in job["Arguments"]["Tags"], job["Name"]


@pytest.mark.parametrize("stack", ["fraud-detector-retraining", f"{VARIANT}-retraining"])
def test_every_alarm_that_notifies_a_topic_may_publish_to_it(synth: Synth, stack: str) -> None:
    """A topic policy replaces SNS's default policy: CloudWatch publishes an alarm's notification
    only where the policy allows cloudwatch.amazonaws.com sns:Publish for that alarm."""
    import fnmatch

    template = synth.template(stack)
    policies = [p["Properties"] for p in resources(template, "AWS::SNS::TopicPolicy").values()]
    notifying = 0
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        for topic in properties.get("AlarmActions", []) + properties.get("OKActions", []):
            notifying += 1
            allowing = [
                statement
                for policy in policies
                if topic in policy["Topics"]
                for statement in policy["PolicyDocument"]["Statement"]
                if statement["Effect"] == "Allow"
                and statement.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
                and "sns:Publish" in json.dumps(statement["Action"])
            ]
            assert len(allowing) == 1, properties["AlarmName"]
            arns = allowing[0]["Condition"]["ArnLike"]["aws:SourceArn"]
            alarm_arn = f"arn:aws:cloudwatch:us-east-1:111122223333:alarm:{properties['AlarmName']}"
            assert any(fnmatch.fnmatchcase(alarm_arn, a) for a in arns)
    assert notifying >= 8  # four failure alarms, ALARM and OK each


def test_an_image_model_is_pulled_scored_and_served_with_grants_on_its_own_repository_only(
    full_template: dict[str, Any],
) -> None:
    """The variant trains with a team image in another account: both roles pull it (its repository
    only), the pipeline role creates scoring models and transform jobs with the model's tag only,
    and every model and transform of the definition carries that tag, the VPC and the isolation."""
    repository = "arn:aws:ecr:us-east-1:444455556666:repository/team/fraud-scorer"
    policies = resources(full_template, "AWS::IAM::Policy")
    (pipeline,) = [p for k, p in policies.items() if k.startswith("PipelineRolePolicy")]
    statements = {s["Sid"]: s for s in pipeline["Properties"]["PolicyDocument"]["Statement"]}
    assert repository in statements["JobImage"]["Resource"]
    scoring = statements["ScoringModelsAndJobs"]
    assert sorted(scoring["Action"]) == ["sagemaker:AddTags", "sagemaker:CreateModel", "sagemaker:CreateTransformJob"]
    assert scoring["Condition"] == {"StringEquals": {"aws:RequestTag/retraining:model": VARIANT}}
    assert statements["ScoringModelsAndJobsOfThisModel"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/retraining:model": VARIANT}
    }
    endpoint = [
        s
        for p in policies.values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "Image" and repository in s["Resource"]
    ]
    assert len(endpoint) == 1  # the endpoint role's

    definition = json.loads(_definition(full_template))
    steps = {s["Name"]: s for s in definition["Steps"][1]["Arguments"]["IfSteps"]}
    assert steps["Train"]["Arguments"]["AlgorithmSpecification"]["TrainingImage"] == VARIANT_IMAGE
    for name in ("CandidateModel", "ChampionModel"):
        arguments = steps[name]["Arguments"]
        assert {"Key": "retraining:model", "Value": VARIANT} in arguments["Tags"], name
        assert arguments["EnableNetworkIsolation"] is True, name
        assert arguments["VpcConfig"] == {"SecurityGroupIds": ["sg-0abc"], "Subnets": ["subnet-0abc"]}, name
    for name in ("ScoreCandidate", "ScoreChampion"):
        arguments = steps[name]["Arguments"]
        assert {"Key": "retraining:model", "Value": VARIANT} in arguments["Tags"], name
        assert arguments["TransformOutput"]["KmsKeyId"] == arguments["TransformResources"]["VolumeKmsKeyId"], name


def test_a_completed_profile_stage_reaches_the_launcher_as_an_event_it_plans_the_judge_from(
    template: dict[str, Any], tmp_path: Path
) -> None:
    """The completion rule's input transformer: its template's only placeholders are its input
    paths (`<name>` is the transformer's syntax), and filled in it is the launcher's judge event."""
    import re

    from pipelines.monitoring.launch import plan_judge, plan_run

    (rule,) = [
        r["Properties"]
        for r in resources(template, "AWS::Events::Rule").values()
        if "profile stage" in r["Properties"].get("Description", "")
    ]
    assert rule["EventPattern"]["detail"]["ProcessingJobStatus"] == ["Completed"]
    (target,) = rule["Targets"]
    transformer = target["InputTransformer"]
    text = transformer["InputTemplate"]
    if not isinstance(text, str):
        separator, parts = text["Fn::Join"]
        text = separator.join(p if isinstance(p, str) else "arn:aws:iam::111122223333:role/x" for p in parts)
    assert set(re.findall(r"<([A-Za-z0-9_.-]+)>", text)) == set(transformer["InputPathsMap"])
    s3 = _monitor_objects(template, tmp_path)
    stage = plan_run(_launch(template) | {"instance_capture_mb": 1e-6}, s3).request
    assert stage is not None
    values = {"ProcessingJobName": stage["ProcessingJobName"], "ProcessingJobStatus": "Completed"}
    for name, path in transformer["InputPathsMap"].items():  # unquoted: EventBridge inserts the value as JSON
        text = text.replace(f"<{name}>", json.dumps(values[path.rsplit(".", 1)[-1]]))
    event = json.loads(text)
    judge = plan_judge(event["launch"], event["completed"], s3)
    assert judge is not None and judge.request is not None
    assert judge.request["ProcessingJobName"] == stage["ProcessingJobName"].removesuffix("-shards")
