"""The zip functions (trigger gate, alerts): staged code, a role of their own, a one-year log group.

Each construct that calls `staged_function` adds its own policy to `role` (exactly the calls its
handler makes) and its own triggers. The ids are fixed ("Function", "FunctionRole",
"FunctionLogs") inside the calling construct, so the logical ids are the caller's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.packaging import stage_function

RUNTIME = lambda_.Runtime.PYTHON_3_14  # the handlers use the standard library and boto3 only


@dataclass(frozen=True)
class StagedFunction:
    function: lambda_.Function
    role: iam.Role
    log_group: logs.LogGroup


def staged_function(
    scope: Construct,
    concern: str,
    staging: Path,
    *,
    role_description: str,
    description: str,
    environment: Mapping[str, str],
) -> StagedFunction:
    """`stacks/<concern>/runtime/handler.py` with its domain modules, on arm64, 256 MB, 60 s."""
    role = iam.Role(
        scope, "FunctionRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=role_description
    )
    log_group = logs.LogGroup(scope, "FunctionLogs", retention=logs.RetentionDays.ONE_YEAR)
    function = lambda_.Function(
        scope,
        "Function",
        description=description,
        runtime=RUNTIME,
        architecture=lambda_.Architecture.ARM_64,
        handler="handler.handler",
        code=lambda_.Code.from_asset(str(stage_function(concern, staging))),
        role=role,
        log_group=log_group,
        timeout=cdk.Duration.seconds(60),
        memory_size=256,
        environment=dict(environment),
    )
    return StagedFunction(function, role, log_group)
