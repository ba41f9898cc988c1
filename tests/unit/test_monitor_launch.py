"""The monitor launcher's decision: which inputs a scheduled run gets, or why it does not run."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from pipelines.config import ModelConfig
from pipelines.monitoring.job import monitor_inputs, monitor_job_request, monitor_launch
from pipelines.monitoring.launch import MalformedLaunch, has_objects, plan_run, start_job
from pipelines.naming import monitor_job_prefix

END = "2026-12-02T10:00:00Z"


def _launch(config: ModelConfig) -> dict[str, Any]:
    request = monitor_job_request(config, image_uri="img", role_arn="arn:aws:iam::1:role/r", key_arn="k")
    return monitor_launch(config, request, END)


def _present(config: ModelConfig, *missing: str) -> Any:
    gone = {monitor_inputs(config)[name] for name in missing}
    return lambda uri: uri not in gone


@pytest.mark.parametrize(
    ("missing", "reason"),
    [
        (("capture",), "no capture yet"),
        (("baseline",), "no champion baseline yet"),
        (("capture", "ground_truth", "baseline"), "no champion baseline yet"),
        (("config",), "config artifact is missing"),
    ],
)
def test_a_run_with_nothing_to_judge_is_skipped_with_its_reason(
    config: ModelConfig, missing: tuple[str, ...], reason: str
) -> None:
    run = plan_run(_launch(config), _present(config, *missing))
    assert run.request is None and run.skipped is not None and reason in run.skipped
    assert run.to_json()["job"] is None


def test_without_labels_the_run_starts_and_measures_drift(config: ModelConfig) -> None:
    run = plan_run(_launch(config), _present(config, "ground_truth"))
    assert run.request is not None and run.skipped is None
    assert [i["InputName"] for i in run.request["ProcessingInputs"]] == ["config", "capture", "baseline"]
    assert run.notes == ("no ground truth yet: performance waits for labels",)


def test_a_full_run_is_named_by_its_window_and_writes_below_its_name(config: ModelConfig) -> None:
    launch = _launch(config)
    run = plan_run(launch, lambda uri: True)
    assert run.request is not None
    name = f"{monitor_job_prefix(config.model.name)}-202612021000"
    assert run.request["ProcessingJobName"] == name and len(name) <= 63
    assert run.request["AppSpecification"]["ContainerArguments"] == ["--window-end", END]
    (output,) = run.request["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri"].endswith(f"/fraud-detector/monitoring/{name}/")
    assert [i["InputName"] for i in run.request["ProcessingInputs"]] == [
        "config",
        "capture",
        "ground_truth",
        "baseline",
    ]
    assert "ProcessingJobName" not in launch["request"]  # the schedule's input is left as it was


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda launch: launch.pop("request"), "request"),
        (lambda launch: launch.update(window_end="yesterday"), "window_end"),
        (lambda launch: launch["request"]["ProcessingInputs"].pop(), "baseline input is missing"),
    ],
)
def test_a_malformed_launch_names_the_field(config: ModelConfig, change: Any, field: str) -> None:
    launch = _launch(config)
    change(launch)
    with pytest.raises(MalformedLaunch, match=field):
        plan_run(launch, lambda uri: True)


def _client(service: str) -> Any:
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_presence_is_one_listing_of_one_key_and_a_second_start_of_a_window_is_not_an_error(
    config: ModelConfig,
) -> None:
    s3 = _client("s3")
    with Stubber(s3) as stub:
        stub.add_response(
            "list_objects_v2",
            {"KeyCount": 0, "IsTruncated": False},
            {"Bucket": "b", "Prefix": "fraud-detector/capture/e/production/", "MaxKeys": 1},
        )
        assert has_objects(s3, "s3://b/fraud-detector/capture/e/production/") is False
    run = plan_run(_launch(config), lambda uri: True)
    assert run.request is not None
    sagemaker = _client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "create_processing_job", {"ProcessingJobArn": "arn:aws:sagemaker:us-east-1:1:processing-job/x"}
        )
        stub.add_client_error("create_processing_job", "ResourceInUse", "Job name must be unique")
        stub.add_client_error("create_processing_job", "ResourceLimitExceeded", "too many jobs")
        assert start_job(sagemaker, run.request) is True
        assert start_job(sagemaker, run.request) is False
        with pytest.raises(Exception, match="ResourceLimitExceeded"):
            start_job(sagemaker, run.request)
