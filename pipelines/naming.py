"""Names of the AWS resources the loop creates at run time, and the IAM patterns that grant them.

A name and the grant that allows it come from the same function here, so they cannot drift
apart: a resource created under a name its role's policy does not match is denied on AWS, which
no offline test of the name alone would show.

AWS names have length limits, and IAM grants resources by prefix (`<prefix>*`). Cutting a long
name to fit makes two names that share their first characters share a prefix, and a grant on one
model's resources then matches another's. `owned_prefix` therefore ends every cut name with a
short hash of the whole name: the prefix is unique to its owner.
"""

from __future__ import annotations

import hashlib

# SageMaker names (EndpointConfigName, ModelName, ProcessingJobName): at most 63 characters,
# pattern [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}. Source: SageMaker API reference, e.g.
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_EndpointConfigSummary.html
SAGEMAKER_NAME_LIMIT = 63
HASH_CHARACTERS = 6
# Version numbers in names are written in full; model package versions have far fewer digits.
VERSION_DIGITS = 10
# The tag every job of a model carries (pipeline jobs and monitor jobs): IAM grants on job names
# cannot tell models apart, a condition on this tag can (aws:RequestTag / aws:ResourceTag).
MODEL_TAG = "retraining:model"
ENDPOINT_CONFIG_PREFIX = 30  # + "-p<10>-s<10>-<8 hex>" = 63
MODEL_PREFIX = 48  # + "-v<10>" = 60
MONITOR_JOB_PREFIX = 40  # + "-<yyyymmddHHMM>" = 53
# IAM role names: at most 64 characters, and unique in the account across every region ("Names of
# users, groups, roles, and instance profiles must be unique within the account", IAM quotas:
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
ROLE_NAME_LIMIT = 64


def owned_prefix(name: str, length: int) -> str:
    """`name` cut to `length` characters, the last seven of them `-<hash of the whole name>`."""
    if length <= HASH_CHARACTERS + 1:
        raise ValueError(f"a prefix of {length} characters has no room for the name")
    digest = hashlib.sha256(name.encode()).hexdigest()[:HASH_CHARACTERS]
    return f"{name[: length - HASH_CHARACTERS - 1]}-{digest}"


def _number(value: int, what: str) -> str:
    text = str(value)
    if value < 0 or len(text) > VERSION_DIGITS:
        raise ValueError(f"{what} {value} does not fit a SageMaker name")
    return text


# ---- endpoint configs: `<endpoint prefix>-p<production>-s<shadow>-<settings hash>`


def endpoint_config_name(endpoint: str, production: int, shadow: int | None, settings_digest: str) -> str:
    name = (
        f"{owned_prefix(endpoint, ENDPOINT_CONFIG_PREFIX)}-p{_number(production, 'version')}"
        f"-s{_number(shadow or 0, 'version')}-{settings_digest[:8]}"
    )
    assert len(name) <= SAGEMAKER_NAME_LIMIT, name
    return name


def endpoint_config_pattern(endpoint: str) -> str:
    """The resource part of the ARNs of every `endpoint_config_name` of `endpoint` (ARNs are lower case)."""
    return f"endpoint-config/{owned_prefix(endpoint, ENDPOINT_CONFIG_PREFIX).lower()}-p*"


# ---- SageMaker models: `<model prefix>-v<version>`


def model_name(model: str, version: int) -> str:
    return f"{owned_prefix(model, MODEL_PREFIX)}-v{_number(version, 'version')}"


def model_pattern(model: str) -> str:
    return f"model/{owned_prefix(model, MODEL_PREFIX).lower()}-v*"


# ---- drift monitor jobs: `<model prefix>-<window end as yyyymmddHHMM>`


def monitor_job_prefix(model: str) -> str:
    return owned_prefix(model, MONITOR_JOB_PREFIX)


def monitor_job_pattern(model: str) -> str:
    return f"processing-job/{monitor_job_prefix(model).lower()}-*"


# ---- IAM roles the code names (the pipeline's and the endpoint's): one per model and region


def role_name(model: str, region: str, purpose: str) -> str:
    """`<model>-<purpose>-<region>`: the same model deployed to a second region gets roles of its
    own instead of failing on the first region's names; cut with a hash when it is too long."""
    name = f"{model}-{purpose}-{region}"
    return name if len(name) <= ROLE_NAME_LIMIT else owned_prefix(name, ROLE_NAME_LIMIT)


def key_alias(model: str) -> str:
    """The alias of the stack's KMS key: how a person's CLI finds the key the functions are given."""
    return f"alias/{model}-retraining"
