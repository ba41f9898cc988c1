"""What an execution leaves behind, in the shapes SageMaker's API returns, so later stages (the
alert, the demo report, promotion) read a local run exactly as they would read AWS:

- `execution.json`: DescribePipelineExecution
- `steps.json`: ListPipelineExecutionSteps (newest step first)
- `parameters.json`: ListPipelineParametersForExecution
- `summary.json`: steps with durations, the gate table and the failed data checks
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pipelines import naming
from pipelines.local.files import atomic_write
from pipelines.local.runtime import Execution, StepRecord

EVALUATION_REPORT = (naming.EVALUATE, naming.EVALUATION_REPORT)
VALIDATION_REPORT = (naming.DATA_PULL, naming.VALIDATION_REPORT)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds")


def describe_execution(execution: Execution) -> dict[str, Any]:
    described: dict[str, Any] = {
        "PipelineArn": execution.pipeline_arn,
        "PipelineExecutionArn": execution.arn,
        "PipelineExecutionDisplayName": f"execution-{execution.execution_id}",
        "PipelineExecutionStatus": execution.status,
        "CreationTime": _time(execution.started),
        "LastModifiedTime": _time(execution.ended or execution.started),
    }
    if execution.failure_reason:
        described["FailureReason"] = execution.failure_reason
    return described


def step_entry(record: StepRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "StepName": record.name,
        "StepDisplayName": record.display_name,
        "StartTime": _time(record.started),
        "EndTime": _time(record.ended),
        "StepStatus": record.status,
        "AttemptCount": record.attempts,
        "Metadata": record.metadata,
    }
    if record.failure_reason:
        entry["FailureReason"] = record.failure_reason
    if record.cache_source:
        entry["CacheHitResult"] = {"SourcePipelineExecutionArn": record.cache_source}
    return entry


def list_steps(execution: Execution) -> dict[str, Any]:
    ordered = sorted(execution.steps, key=lambda r: r.started, reverse=True)
    return {"PipelineExecutionSteps": [step_entry(r) for r in ordered]}


def list_parameters(execution: Execution) -> dict[str, Any]:
    return {"PipelineParameters": [{"Name": k, "Value": _text(v)} for k, v in execution.parameters.items()]}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def summary(execution: Execution) -> dict[str, Any]:
    files = execution.scope.property_files if execution.scope else {}
    evaluation = files.get(EVALUATION_REPORT) or {}
    validation = files.get(VALIDATION_REPORT) or {}
    registered = [r.metadata["RegisterModel"]["Arn"] for r in execution.steps if "RegisterModel" in r.metadata]
    return {
        "pipeline": execution.pipeline_name,
        "execution_id": execution.execution_id,
        "execution_arn": execution.arn,
        "status": execution.status,
        "failure_reason": execution.failure_reason,
        "parameters": execution.parameters,
        "seconds": round(((execution.ended or execution.started) - execution.started).total_seconds(), 3),
        "steps": [
            {
                "name": r.name,
                "type": r.type,
                "status": r.status,
                "seconds": round(r.seconds, 3),
                "attempts": r.attempts,
                "cache_hit": r.cache_source is not None,
                "failure_reason": r.failure_reason,
                **({"outcome": r.metadata["Condition"]["Outcome"]} if "Condition" in r.metadata else {}),
            }
            for r in sorted(execution.steps, key=lambda r: r.started)
        ],
        "gates": [{"name": name, **gate} for name, gate in (evaluation.get("gates") or {}).items()],
        "data_checks_failed": [c for c in validation.get("checks", []) if not c.get("passed", True)],
        "registered_model_package_arn": registered[0] if registered else None,
    }


def write(execution: Execution) -> dict[str, Path]:
    documents = {
        "execution.json": describe_execution(execution),
        "steps.json": list_steps(execution),
        "parameters.json": list_parameters(execution),
        "summary.json": summary(execution),
    }
    written = {}
    for name, document in documents.items():
        path = execution.folder / name
        atomic_write(path, (json.dumps(document, indent=2, default=str) + "\n").encode())
        written[name] = path
    return written


def render(document: dict[str, Any]) -> str:
    """The run summary for a terminal."""
    lines = [f"execution {document['execution_id']}: {document['status']} in {document['seconds']:.1f} s"]
    lines.append(f"  {'step':<22}{'type':<15}{'status':<12}{'seconds':>8}  attempts")
    for step in document["steps"]:
        extra = f"  -> {step['outcome']}" if "outcome" in step else ""
        extra += "  (cache hit)" if step["cache_hit"] else ""
        lines.append(
            f"  {step['name']:<22}{step['type']:<15}{step['status']:<12}{step['seconds']:>8.1f}"
            f"  {step['attempts']}{extra}"
        )
    if document["gates"]:
        lines.append(f"  {'gate':<22}{'observed':>10}{'threshold':>11}{'delta':>9}  result")
        for gate in document["gates"]:
            observed = "n/a" if gate.get("observed") is None else f"{gate['observed']:.4f}"
            threshold = "n/a" if gate.get("threshold") is None else f"{gate['threshold']:.4f}"
            delta = "" if gate.get("delta") is None else f"{gate['delta']:+.4f}"
            lines.append(
                f"  {gate['name']:<22}{observed:>10}{threshold:>11}{delta:>9}"
                f"  {'pass' if gate.get('passed') else 'FAIL'}"
            )
    for check in document["data_checks_failed"]:
        lines.append(f"  data check failed: {check.get('name')}: {check.get('message', '')}")
    if document["registered_model_package_arn"]:
        lines.append(f"  registered {document['registered_model_package_arn']}")
    if document["failure_reason"]:
        lines.append(f"  failure: {document['failure_reason']}")
    return "\n".join(lines)
