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


# ---- inside a function: one client per service, and the deployed config, for the container's life

SHARED: dict[str, Any] = {}  # tests put their clients here
CONFIG_URI = "MODEL_CONFIG_URI"  # every function's one setting: the config object its stack deployed
_deployed: dict[str, dict[str, Any]] = {}


def shared(service: str) -> Any:
    """The container's client for `service` (created once, reused by later invocations)."""
    if service not in SHARED:
        SHARED[service] = client(service)
    return SHARED[service]


def assumed(service: str, role_arn: str, session_name: str) -> Any:
    """A client of `service` acting as `role_arn`, a role of another account that trusts this one
    (STS AssumeRole: an hour's credentials, so one client per use, not a shared one). For the
    calls whose resources have no resource policy to grant another account (CloudWatch alarms)."""
    credentials = shared("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64])["Credentials"]
    return client(
        service,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def deployed_config(uri: str) -> dict[str, Any]:
    """The config the stack deployed (the jobs' content-addressed `model-config.json`), as JSON:
    every function reads its settings from it, and derives every name from it (pipelines.naming).
    Read once per container."""
    if uri not in _deployed:
        import json

        bucket, _, key = uri.removeprefix("s3://").partition("/")
        body = shared("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        _deployed[uri] = json.loads(body)
    return _deployed[uri]


def forget() -> None:
    """Drop the container's clients and config (tests, between simulated containers)."""
    SHARED.clear()
    _deployed.clear()
