"""The drift monitor on this machine: the launcher's plan, run as SageMaker would run it.

`plan_run` decides on the local S3 exactly as the launcher function does on S3; the job then runs
with the same request: its manifests staged into a job folder, its outputs uploaded back (the
hour store the next runs read). A one-instance run executes in this process (the loop runs the
monitor every period); a sharded run executes its profile stage as one process per instance
(pipelines.local.jobs.run_processing), then the judge job `plan_judge` plans from the stage's
completion event, as EventBridge delivers it on AWS.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipelines.drift.metrics import MetricsClient
from pipelines.local.jobs import JobContext, run_processing, stage_processing, upload_outputs
from pipelines.local.storage import LocalS3
from pipelines.monitoring.launch import COMPLETED, MonitorRun, plan_judge, plan_run


def completion_event(
    request: Mapping[str, Any], account: str = "123456789012", region: str = "us-east-1"
) -> dict[str, Any]:
    """The "SageMaker Processing Job State Change" event of a job that completed (its detail is the
    job's description, tests/infra/events/processing-job-state-change.json)."""
    name = request["ProcessingJobName"]
    return {
        "version": "0",
        "detail-type": "SageMaker Processing Job State Change",
        "source": "aws.sagemaker",
        "account": account,
        "region": region,
        "resources": [f"arn:aws:sagemaker:{region}:{account}:processing-job/{name}"],
        "detail": {**request, "ProcessingJobStatus": COMPLETED},
    }


@contextmanager
def _opt_ml(root: Path) -> Iterator[None]:
    before = os.environ.get("OPT_ML_ROOT")
    os.environ["OPT_ML_ROOT"] = str(root)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("OPT_ML_ROOT", None)
        else:
            os.environ["OPT_ML_ROOT"] = before


def _job(request: Mapping[str, Any], s3: LocalS3, folder: Path) -> JobContext:
    name = request["ProcessingJobName"]
    return JobContext(name, f"arn:aws:sagemaker:local:000000000000:processing-job/{name}", folder / name, s3)


def run_in_process(request: dict[str, Any], s3: LocalS3, folder: Path, metrics: MetricsClient | None) -> dict[str, Any]:
    """A one-instance monitor job in this process; returns its report."""
    from training_containers import monitor

    arguments = request["AppSpecification"].get("ContainerArguments", [])
    start = arguments[arguments.index("--window-start") + 1] if "--window-start" in arguments else None
    end = arguments[arguments.index("--window-end") + 1]
    job = _job(request, s3, folder)
    stage_processing(request, job)
    try:
        with _opt_ml(job.opt_ml):
            report = monitor.run(window_start=start, window_end=end, metrics_client=metrics)
        upload_outputs(request, job)
    finally:
        shutil.rmtree(job.folder, ignore_errors=True)
    return report


def run_monitor(
    launch: Mapping[str, Any], s3: LocalS3, folder: Path, metrics: MetricsClient | None
) -> tuple[MonitorRun, dict[str, Any] | None]:
    """Plan the scheduled run and execute it: (the plan, the report, None when skipped)."""
    run = plan_run(launch, s3)
    if run.request is None:
        return run, None
    request = run.request
    if int(request["ProcessingResources"]["ClusterConfig"]["InstanceCount"]) > 1:
        run_processing(request, _job(request, s3, folder))
        judge = plan_judge(launch, completion_event(request), s3)
        if judge is None or judge.request is None:
            raise RuntimeError(f"no judge job after {request['ProcessingJobName']}: {judge}")
        request = judge.request
    return run, run_in_process(request, s3, folder, metrics)
