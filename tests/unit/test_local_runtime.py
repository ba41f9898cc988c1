"""The local runtime's scheduler, step semantics, retries, caching and records, on hand-built
definitions whose processing steps run tests/runtime_jobs.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from pipelines.local import jobs, record
from pipelines.local.graph import UnsupportedDefinition
from pipelines.local.parameters import ParameterError
from pipelines.local.retry import retry_delay
from pipelines.local.runtime import Execution, LocalRuntime, RuntimeOptions

ENTRY = ["python3", "-m", "tests.runtime_jobs"]
OUT = "/opt/ml/processing/output"


def output_uri(step: str, name: str) -> dict[str, Any]:
    values = ["s3://bucket/run", {"Get": "Execution.PipelineExecutionId"}, step, name]
    return {"Std:Join": {"On": "/", "Values": values}}


def processing(name: str, arguments: list[Any], outputs: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1}
            },
            "AppSpecification": {"ImageUri": "image", "ContainerEntrypoint": ENTRY, "ContainerArguments": arguments},
            "RoleArn": "arn:aws:iam::111122223333:role/pipeline",
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": o,
                        "S3Output": {
                            "S3Uri": output_uri(name, o),
                            "LocalPath": f"{OUT}/{o}",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                    for o in outputs
                ]
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        },
        **extra,
    }


def report_get(path: str) -> dict[str, Any]:
    return {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Score.PropertyFiles.Report"}, "Path": path}}


def definition(*steps: dict[str, Any], parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"Version": "2020-12-01", "Parameters": parameters or [], "Steps": list(steps)}


def scored_definition() -> dict[str, Any]:
    """Score writes a report; Check compares it with a parameter; Publish joins values; Stop fails."""
    score = processing(
        "Score",
        ["write-json", f"{OUT}/report/report.json", json.dumps({"score": 0.8, "label": "fraud"})],
        ("report",),
        PropertyFiles=[{"PropertyFileName": "Report", "OutputName": "report", "FilePath": "report.json"}],
    )
    message = {
        "Std:Join": {"On": "-", "Values": [report_get("label"), {"Get": "Parameters.Mode"}, report_get("score")]}
    }
    publish = processing("Publish", ["write-json", f"{OUT}/out/message.txt", message], ("out",))
    stop = {
        "Name": "Stop",
        "Type": "Fail",
        "Arguments": {"ErrorMessage": {"Std:Join": {"On": " ", "Values": ["score", report_get("score"), "too low"]}}},
    }
    check = {
        "Name": "Check",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "GreaterThanOrEqualTo",
                    "LeftValue": report_get("score"),
                    "RightValue": {"Get": "Parameters.Threshold"},
                }
            ],
            "IfSteps": [publish],
            "ElseSteps": [stop],
        },
    }
    parameters = [
        {"Name": "Mode", "Type": "String", "DefaultValue": "fast"},
        {"Name": "Threshold", "Type": "Float", "DefaultValue": 0.75},
    ]
    return definition(score, check, parameters=parameters)


@pytest.fixture
def runtime(tmp_path: Path) -> LocalRuntime:
    return LocalRuntime(
        RuntimeOptions(workdir=tmp_path, pipeline_name="demo", retry_interval_scale=0, echo=lambda _: None)
    )


def statuses(execution: Execution) -> dict[str, str]:
    return {r.name: r.status for r in execution.steps}


def test_property_files_conditions_and_join_drive_the_if_branch(runtime: LocalRuntime) -> None:
    execution = runtime.execute(scored_definition(), {"Mode": "slow"})
    assert execution.status == "Succeeded", execution.failure_reason
    assert statuses(execution) == {"Score": "Succeeded", "Check": "Succeeded", "Publish": "Succeeded"}
    written = runtime.s3.path(f"s3://bucket/run/{execution.execution_id}/Publish/out/message.txt")
    assert written.read_text() == "fraud-slow-0.8"
    check = next(r for r in execution.steps if r.name == "Check")
    assert check.metadata == {"Condition": {"Outcome": "True"}}


def test_fail_step_ends_the_execution_failed_with_its_message(runtime: LocalRuntime) -> None:
    execution = runtime.execute(scored_definition(), {"Threshold": "0.9"})
    assert execution.status == "Failed"
    assert execution.failure_reason == "score 0.8 too low"
    assert statuses(execution) == {"Score": "Succeeded", "Check": "Succeeded", "Stop": "Failed"}
    stop = next(r for r in execution.steps if r.name == "Stop")
    assert stop.metadata == {"Fail": {"ErrorMessage": "score 0.8 too low"}}


def test_a_failed_job_stops_what_depends_on_it(runtime: LocalRuntime) -> None:
    broken = processing("Score", ["fail", "ValueError: column amount is missing"], ("report",))
    after = processing("After", ["write-json", f"{OUT}/x/x.json", {"Get": "Steps.Score.ProcessingJobName"}], ("x",))
    execution = runtime.execute(definition(broken, after))
    assert execution.status == "Failed"
    # A processing job's own reason is its ExitMessage (/opt/ml/output/message), beside the exit code.
    assert execution.failure_reason == "AlgorithmError: exit code 1. ExitMessage: ValueError: column amount is missing"
    assert statuses(execution) == {"Score": "Failed"}  # After never ran and is not listed


def test_independent_steps_run_in_parallel(runtime: LocalRuntime) -> None:
    first = processing("First", ["sleep", "1.5", f"{OUT}/t/times.json"], ("t",))
    second = processing("Second", ["sleep", "1.5", f"{OUT}/t/times.json"], ("t",))
    execution = runtime.execute(definition(first, second))
    assert execution.status == "Succeeded"
    times = [
        json.loads(runtime.s3.path(f"s3://bucket/run/{execution.execution_id}/{name}/t/times.json").read_text())
        for name in ("First", "Second")
    ]
    assert times[0]["started"] < times[1]["ended"] and times[1]["started"] < times[0]["ended"]


def test_explicit_depends_on_orders_steps(runtime: LocalRuntime) -> None:
    first = processing("First", ["sleep", "0.2", f"{OUT}/t/times.json"], ("t",))
    second = processing("Second", ["sleep", "0.2", f"{OUT}/t/times.json"], ("t",), DependsOn=["First"])
    execution = runtime.execute(definition(first, second))
    times = {
        name: json.loads(runtime.s3.path(f"s3://bucket/run/{execution.execution_id}/{name}/t/times.json").read_text())
        for name in ("First", "Second")
    }
    assert times["First"]["ended"] <= times["Second"]["started"]


def test_retry_policy_retries_a_matching_failure(runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    real = jobs.run_processing
    calls: list[str] = []

    def flaky(request: dict[str, Any], job: jobs.JobContext, timeout: float | None = None) -> dict[str, Any]:
        calls.append(job.folder.name)
        if len(calls) == 1:
            raise jobs.JobFailed("CapacityError: no ml.m5.large capacity", retryable_as="SageMaker.CAPACITY_ERROR")
        return real(request, job, timeout)

    monkeypatch.setattr(jobs, "run_processing", flaky)
    policy = [
        {"ExceptionType": ["SageMaker.CAPACITY_ERROR"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 2}
    ]
    step = processing("Score", ["write-json", f"{OUT}/r/r.json", "{}"], ("r",), RetryPolicies=policy)
    execution = runtime.execute(definition(step))
    assert execution.status == "Succeeded"
    assert [r.attempts for r in execution.steps] == [2] and calls == ["Score-1", "Score-2"]

    calls.clear()
    unmatched = processing(
        "Score",
        ["write-json", f"{OUT}/r/r.json", "{}"],
        ("r",),
        RetryPolicies=[{**policy[0], "ExceptionType": ["Step.THROTTLING"]}],
    )
    execution = runtime.execute(definition(unmatched))
    assert execution.status == "Failed" and execution.failure_reason == "CapacityError: no ml.m5.large capacity"
    assert [r.attempts for r in execution.steps] == [1]


def test_retry_delays_follow_the_policy() -> None:
    policy = [
        {"ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR"], "IntervalSeconds": 10, "BackoffRate": 2.0, "MaxAttempts": 3}
    ]
    delays = [retry_delay(policy, "SageMaker.JOB_INTERNAL_ERROR", n, 0) for n in (1, 2, 3, 4)]
    assert delays == [10.0, 20.0, 40.0, None]
    assert retry_delay(policy, None, 1, 0) is None  # algorithm errors are never retried
    assert retry_delay([{**policy[0], "ExpireAfterMin": 1}], "SageMaker.JOB_INTERNAL_ERROR", 1, 61) is None


def test_cached_step_reuses_an_earlier_result(runtime: LocalRuntime) -> None:
    cached = processing(
        "Score", ["write-json", f"{OUT}/r/r.json", "{}"], ("r",), CacheConfig={"Enabled": True, "ExpireAfter": "PT1H"}
    )
    first = runtime.execute(definition(cached))
    second = runtime.execute(definition(cached))
    assert first.steps[0].cache_source is None
    assert second.steps[0].cache_source == first.arn
    assert not (second.folder / "jobs").exists()
    entry = record.step_entry(second.steps[0])
    assert entry["CacheHitResult"] == {"SourcePipelineExecutionArn": first.arn}
    changed = processing(
        "Score",
        ["write-json", f"{OUT}/r/r.json", '{"v": 2}'],
        ("r",),
        CacheConfig={"Enabled": True, "ExpireAfter": "PT1H"},
    )
    assert runtime.execute(definition(changed)).steps[0].cache_source is None


def test_unsupported_steps_and_functions_fail_before_anything_runs(runtime: LocalRuntime, tmp_path: Path) -> None:
    emr = {"Name": "Spark", "Type": "EMR", "Arguments": {}}
    odd = processing("Score", ["write-json", f"{OUT}/r/r.json", {"Std:Select": {"Values": [1]}}], ("r",))
    with pytest.raises(UnsupportedDefinition) as caught:
        runtime.execute(definition(odd, emr))
    assert any("type 'EMR' is not supported" in p for p in caught.value.problems)
    assert any("function 'Std:Select' is not supported" in p for p in caught.value.problems)
    assert not (tmp_path / "executions").exists()


def test_request_that_sagemaker_would_reject_fails_with_botocores_message(runtime: LocalRuntime) -> None:
    step = processing("Score", ["write-json", f"{OUT}/r/r.json", "{}"], ("r",))
    step["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = "one"
    step["Arguments"]["Tags"] = {"team": "ml"}
    execution = runtime.execute(definition(step))
    assert execution.status == "Failed"
    reason = execution.failure_reason or ""
    assert reason.startswith("CreateProcessingJob would be rejected")
    assert "Invalid type for parameter ProcessingResources.ClusterConfig.InstanceCount" in reason
    assert "Invalid type for parameter Tags" in reason
    assert not (execution.folder / "jobs").exists()


def test_parameters_are_typed_and_unknown_names_refused(runtime: LocalRuntime) -> None:
    with pytest.raises(ParameterError, match="unknown parameter\\(s\\) Mood"):
        runtime.execute(scored_definition(), {"Mood": "x"})
    with pytest.raises(ParameterError, match="Threshold is Float; 'high' is not a valid float"):
        runtime.execute(scored_definition(), {"Threshold": "high"})


def test_a_bad_param_on_the_command_line_exits_2_like_other_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipelines.cli import main
    from tests.conftest import EXAMPLE_CONFIG

    argv = ["run-local", str(EXAMPLE_CONFIG), "--workdir", str(tmp_path / "w"), "--param", "DataWindowEnd"]
    assert main(argv) == 2
    assert "--param expects NAME=VALUE, got 'DataWindowEnd'" in capsys.readouterr().err


def test_records_have_sagemakers_response_shapes(runtime: LocalRuntime) -> None:
    execution = runtime.execute(scored_definition(), {"Threshold": "0.9"})
    written = record.write(execution)
    model = botocore.session.get_session().get_service_model("sagemaker")
    for operation, name in (
        ("ListPipelineExecutionSteps", "steps.json"),
        ("DescribePipelineExecution", "execution.json"),
        ("ListPipelineParametersForExecution", "parameters.json"),
    ):
        document = json.loads(written[name].read_text())
        report = ParamValidator().validate(document, model.operation_model(operation).output_shape)
        assert not report.has_errors(), report.generate_report()
    steps = json.loads(written["steps.json"].read_text())["PipelineExecutionSteps"]
    assert [s["StepName"] for s in steps] == ["Stop", "Check", "Score"]  # newest first
    summary = json.loads(written["summary.json"].read_text())
    assert summary["status"] == "Failed" and summary["failure_reason"] == "score 0.8 too low"
    assert summary["parameters"] == {"Mode": "fast", "Threshold": 0.9}


def test_a_machine_fault_is_retried_as_an_internal_error(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = jobs.run_processing
    faults = [OSError(28, "No space left on device")]

    def full_disk(request: dict[str, Any], job: jobs.JobContext, timeout: float | None = None) -> dict[str, Any]:
        if faults:
            raise faults.pop()
        return real(request, job, timeout)

    monkeypatch.setattr(jobs, "run_processing", full_disk)
    policy = [{"ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR"], "IntervalSeconds": 1, "MaxAttempts": 1}]
    step = processing("Score", ["write-json", f"{OUT}/r/r.json", "{}"], ("r",), RetryPolicies=policy)
    execution = runtime.execute(definition(step))
    assert execution.status == "Succeeded" and [r.attempts for r in execution.steps] == [2]


def test_sql_input_is_delivered_as_athena_and_redshift_deliver_it(tmp_path: Path) -> None:
    """Query results arrive as files without extension (Redshift UNLOAD names them 0000_part_00),
    so job code that picks files by name would see nothing here as on SageMaker."""
    import pandas as pd

    from pipelines.local.storage import LocalS3

    job = jobs.JobContext(
        name="j",
        arn="arn:j",
        folder=tmp_path / "job",
        s3=LocalS3(tmp_path / "s3"),
        run_query=lambda _: pd.DataFrame({"a": [1, 2]}),
    )
    dataset = {
        "AthenaDatasetDefinition": {"QueryString": "SELECT a FROM t", "OutputFormat": "PARQUET"},
        "LocalPath": "/opt/ml/processing/input/historical",
    }
    jobs._materialise_dataset("historical", dataset, job)
    folder = job.opt_ml / "processing" / "input" / "historical"
    assert [p.name for p in folder.iterdir()] == ["0000_part_00"]
    assert (folder / "0000_part_00").read_bytes()[:4] == b"PAR1"
    assert pd.read_parquet(folder / "0000_part_00")["a"].tolist() == [1, 2]
