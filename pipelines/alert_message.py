"""The alert a person gets when a retraining run fails: which gate or data check stopped it, with
observed value, threshold and delta, read from the run's own reports.

`build_alert` is pure. It takes the failed steps (from ListPipelineExecutionSteps) and, when the
run got that far, the Evaluate job's evaluation.json (gate verdicts, written by pipelines.gates) or
DataPull's validation_report.json (data checks). The S3 locations of those reports follow from the
definition's layout: `<artifact prefix>/executions/<execution id>/<step>/<output>/<file>`.
Standard library only: it runs in Lambda as is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Step and output names of pipelines.definition (which imports the sagemaker SDK, so not here).
DATA_PULL = "DataPull"
EVALUATE = "Evaluate"
DATA_FAILED = "DataValidationFailed"
GATES_FAILED = "QualityGatesFailed"
SUBJECT_LIMIT = 100  # SNS: subjects are at most 100 printable ASCII characters


@dataclass(frozen=True)
class StepFailure:
    step: str
    step_type: str
    message: str


@dataclass(frozen=True)
class Alert:
    subject: str
    text: str

    def sns_message(self) -> str:
        """One message per protocol (SNS MessageStructure=json): plain text for email and
        everything else; AWS Chatbot's custom-notification schema for HTTPS endpoints."""
        chat = {
            "version": "1.0",
            "source": "custom",
            "content": {"textType": "client-markdown", "title": self.subject, "description": self.text},
        }
        return json.dumps({"default": self.text, "email": self.text, "https": json.dumps(chat)})


def execution_id(execution_arn: str) -> str:
    return execution_arn.rstrip("/").rsplit("/", 1)[-1]


def report_uris(artifact_prefix: str, execution_arn: str) -> dict[str, str]:
    """Where the run wrote its reports; `artifact_prefix` is `s3://<bucket>/<model>`."""
    base = f"{artifact_prefix.rstrip('/')}/executions/{execution_id(execution_arn)}"
    return {
        "evaluation": f"{base}/{EVALUATE}/evaluation/evaluation.json",
        "validation": f"{base}/{DATA_PULL}/report/validation_report.json",
    }


def failed_steps(steps: Sequence[Mapping[str, Any]]) -> list[StepFailure]:
    """The failed steps of a ListPipelineExecutionSteps answer, with their message."""
    found = []
    for step in steps:
        if step.get("StepStatus") != "Failed":
            continue
        fail = step.get("Metadata", {}).get("Fail", {})
        message = fail.get("ErrorMessage") or step.get("FailureReason") or "no failure reason given"
        found.append(StepFailure(str(step.get("StepName")), _step_type(step), str(message)))
    return found


def _step_type(step: Mapping[str, Any]) -> str:
    metadata = step.get("Metadata", {})
    return next(iter(metadata), "Unknown") if isinstance(metadata, Mapping) else "Unknown"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _gate_lines(evaluation: Mapping[str, Any]) -> list[str]:
    lines = []
    for name, gate in evaluation.get("gates", {}).items():
        if gate.get("passed", True):
            continue
        observed, threshold = _number(gate.get("observed")), _number(gate.get("threshold"))
        if observed is None or threshold is None:
            lines.append(f"- gate {name} ({gate.get('metric')}): {gate.get('detail') or 'not measurable'}")
            continue
        line = (
            f"- gate {name} ({gate.get('metric')}): observed {observed:.4f}, threshold {threshold:.4f}, "
            f"delta {observed - threshold:+.4f}"
        )
        champion = _number(gate.get("champion"))
        if champion is not None:
            line += f", champion {champion:.4f}"
        if gate.get("detail"):
            line += f" ({gate['detail']})"
        lines.append(line)
    return lines


def _check_lines(validation: Mapping[str, Any]) -> list[str]:
    lines = []
    for check in validation.get("checks", []):
        if check.get("passed", True):
            continue
        observed, threshold = check.get("observed"), check.get("threshold")
        line = f"- data check {check.get('name')}: observed {observed}, threshold {threshold}"
        if _number(observed) is not None and _number(threshold) is not None:
            line += f", delta {float(observed) - float(threshold):+.4f}"
        lines.append(f"{line} ({check.get('message')})")
    return lines


def build_alert(
    *,
    model: str,
    pipeline: str,
    execution_arn: str,
    failures: Sequence[StepFailure],
    evaluation: Mapping[str, Any] | None = None,
    validation: Mapping[str, Any] | None = None,
    console_url: str = "",
) -> Alert:
    steps = {f.step for f in failures}
    if GATES_FAILED in steps:
        what = "candidate failed the quality gates"
        details = _gate_lines(evaluation or {})
    elif DATA_FAILED in steps:
        what = "training data failed validation"
        details = _check_lines(validation or {})
    else:
        what = "pipeline step failed"
        details = []
    lines = [f"Retraining of {model} stopped: {what}.", f"Execution: {execution_arn}"]
    if console_url:
        lines.append(f"Open: {console_url}")
    lines += ["", "Failed steps:"] + [f"- {f.step} ({f.step_type}): {f.message}" for f in failures]
    if not failures:
        lines.append("- none reported: see the execution in SageMaker Studio")
    if details:
        lines += ["", "Details:", *details]
    elif steps & {GATES_FAILED, DATA_FAILED}:
        lines += ["", "Details: the report was not found; the failed step's message above has the summary."]
    subject = f"[{model}] retraining failed: {what}"
    subject = subject.encode("ascii", "replace").decode()[:SUBJECT_LIMIT]
    return Alert(subject=subject, text="\n".join(lines))
