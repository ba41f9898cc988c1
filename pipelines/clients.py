"""Every AWS client the project creates, with the SDK's standard retry mode set explicitly.

The "legacy" mode is the default in the boto3 guide and in older botocore releases (the Lambda
runtime bundles its own), and AWS_RETRY_MODE can change it; "standard" retries throttling and transient errors
(throttling exceptions, 5xx, RequestTimeout, connection errors) with exponential backoff and
jitter, and a retry quota that stops retrying when a service keeps failing ("Retries", Boto3
developer guide: https://docs.aws.amazon.com/boto3/latest/guide/retries.html). One place creates
clients, so none is made without it (tests/unit/test_clients.py checks the source for others).
Standard library and boto3 only: the zip functions use it.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 5})


def client(service: str, session: Any = None, **kwargs: Any) -> Any:
    """`session.client(service)` (or boto3's default session) with the standard retry mode."""
    return (session or boto3).client(service, config=RETRIES, **kwargs)
