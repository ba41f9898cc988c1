"""Retry policies of a pipeline step, as SageMaker applies them.

A policy matches a failure by exception type (e.g. `SageMaker.JOB_INTERNAL_ERROR`); it allows
`MaxAttempts` retries, the n-th after `IntervalSeconds * BackoffRate**(n-1)` seconds, and none
once `ExpireAfterMin` minutes have passed since the first attempt. Algorithm errors (the job's
own code failing) have no exception type and are never retried.
"""

from __future__ import annotations

from typing import Any


def retry_delay(
    policies: list[dict[str, Any]], exception_type: str | None, attempts: int, elapsed: float
) -> float | None:
    """Seconds to wait before the next attempt, or None: the failure stands. `attempts` is how
    many attempts have been made so far (1 after the first failure)."""
    if exception_type is None:
        return None
    for policy in policies:
        if exception_type not in policy.get("ExceptionType", []):
            continue
        expire = policy.get("ExpireAfterMin")
        if expire is not None and elapsed > float(expire) * 60:
            return None
        if attempts > int(policy.get("MaxAttempts", 5)):
            return None
        return float(policy.get("IntervalSeconds", 1)) * float(policy.get("BackoffRate", 2.0)) ** (attempts - 1)
    return None
