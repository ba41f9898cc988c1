"""Resolved step arguments checked against botocore's SageMaker service model, the same check
the AWS SDK makes before a request leaves the machine."""

from __future__ import annotations

from functools import cache
from typing import Any

from pipelines.errors import PipelinesError

OPERATIONS = {
    "Processing": "CreateProcessingJob",
    "Training": "CreateTrainingJob",
    "Transform": "CreateTransformJob",
    "Model": "CreateModel",
    "RegisterModel": "CreateModelPackage",
}


class RequestRejected(PipelinesError):
    """SageMaker would refuse this request; the message is botocore's."""


@cache
def _input_shape(operation: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker").operation_model(operation).input_shape


def validate(step_type: str, request: dict[str, Any]) -> None:
    from botocore.validate import ParamValidator

    operation = OPERATIONS[step_type]
    report = ParamValidator().validate(request, _input_shape(operation))
    if report.has_errors():
        raise RequestRejected(f"{operation} would be rejected: {report.generate_report()}")
