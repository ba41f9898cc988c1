"""The serving endpoint, as the promotion controller sees it: which registered versions serve
production and shadow, and one idempotent `apply` that converges the endpoint on a wanted pair.

Names are derived, never random, so a re-run after an interruption finds what the first run
created: the SageMaker model of version N is `<model>-<hash>-v<N>`; an endpoint config is named
after its production and shadow versions plus a hash of its settings (`pipelines.naming`, which
also gives the IAM patterns that grant them). The production variant is always called
`production`, the shadow `shadow`; every config has a production variant, so the endpoint never
stops serving.

Which updates are guarded. SageMaker's deployment guardrails (blue/green traffic shifting with
auto-rollback alarms) need the new endpoint config to have the same variant names as the old
one ("Exclusions" of deployment guardrails in the SageMaker developer guide:
https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html). Adding or
removing the shadow variant changes the variant set, and moves no production traffic anyway, so
it is a plain update. A change of the production model is the one guarded step; when the shadow
variant also has to go (a promotion), it goes first, in its own plain update, and the guarded
swap follows once the endpoint is in service again (`next_update`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pipelines import naming
from pipelines.config import ModelConfig
from pipelines.errors import PipelinesError

# "staged": an update was sent that is a step on the way (the shadow variant removed before a
# guarded swap of the production model); the next convergence sends the rest.
Applied = Literal["created", "updating", "staged", "unchanged", "busy"]


# Names the model package a serving copy of its container was made from (SageMakerEndpoint._container).
MODEL_PACKAGE_ENV = "RETRAINING_MODEL_PACKAGE"


@dataclass(frozen=True)
class Version:
    """A registered model version that can be deployed."""

    package_arn: str
    number: int
    model_data: str
    image: str
    baseline: str = ""  # the baseline profile the drift monitor compares production traffic with
    # A framework image's serving variables naming the version's code (SAGEMAKER_PROGRAM, ...).
    program: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class EndpointState:
    name: str
    exists: bool
    status: str | None = None
    config_name: str | None = None
    production: str | None = None  # model package ARN
    shadow: str | None = None
    failure_reason: str | None = None


class EndpointNeedsAttention(PipelinesError):
    """The endpoint is in a state no update can change: a person has to act (the message says how)."""


# DescribeEndpoint, EndpointStatus: "Failed: ... DeleteEndpoint is the only operation that can be
# performed on a failed endpoint"; "UpdateRollbackFailed: Both the rolling deployment and
# auto-rollback failed. Your endpoint is in service with a mix of the old and new endpoint
# configurations" (SageMaker API reference, DescribeEndpoint:
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html).
STUCK = {
    "Failed": (
        "SageMaker allows only DeleteEndpoint on a failed endpoint. Delete it (aws sagemaker delete-endpoint "
        "--endpoint-name {name}); the next evaluation, or `python -m pipelines reconcile CONFIG --aws`, creates it "
        "again from the registry's production version"
    ),
    "UpdateRollbackFailed": (
        "it serves a mix of the old and new endpoint configs after a failed rollback. Bring it back by hand (update "
        "it to its last good config in the console or the CLI), then run `python -m pipelines reconcile CONFIG --aws`"
    ),
}


def package_version(package_arn: str) -> int:
    """The version number at the end of a versioned model package ARN (`.../<group>/<N>`)."""
    return int(package_arn.rsplit("/", 1)[-1])


class Endpoint(Protocol):
    def state(self) -> EndpointState: ...

    def apply(self, production: Version, shadow: Version | None, *, guarded: bool) -> Applied: ...


def model_name(config: ModelConfig, version: Version) -> str:
    return naming.model_name(config.model.name, version.number)


def guardrail_alarm_names(config: ModelConfig) -> list[str]:
    """CloudWatch alarms that roll a blue/green deployment back (created by the CDK app)."""
    return naming.guardrail_alarms(config.promotion.endpoint(config.model.name))


def endpoint_config_request(config: ModelConfig, production: Version, shadow: Version | None) -> dict[str, Any]:
    promotion = config.promotion

    def variant(name: str, version: Version, weight: float) -> dict[str, Any]:
        return {
            "VariantName": name,
            "ModelName": model_name(config, version),
            "InstanceType": promotion.instance_type,
            "InitialInstanceCount": promotion.instance_count,
            "InitialVariantWeight": weight,
        }

    request: dict[str, Any] = {
        "ProductionVariants": [variant(naming.PRODUCTION_VARIANT, production, 1.0)],
        "DataCaptureConfig": {
            "EnableCapture": True,
            "InitialSamplingPercentage": promotion.capture_sampling_percent,
            "DestinationS3Uri": naming.capture_prefix(config),
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
        },
    }
    if shadow is not None:
        # The shadow's weight relative to production is the share of requests copied to it.
        request["ShadowProductionVariants"] = [
            variant(naming.SHADOW_VARIANT, shadow, promotion.shadow.sampling_percent / 100)
        ]
    kms = config.pipeline.kms_key_id
    if kms:
        request["KmsKeyId"] = kms
        request["DataCaptureConfig"]["KmsKeyId"] = kms
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    name = naming.endpoint_config_name(
        promotion.endpoint(config.model.name), production.number, shadow.number if shadow else None, digest
    )
    return {"EndpointConfigName": name, **request}


def traffic_routing(instance_count: int, canary_percent: int, wait_seconds: int) -> dict[str, Any]:
    """A canary of `canary_percent` of the fleet (rounded up to whole instances) where one fits,
    else all at once. TrafficRoutingConfig.CanarySize: "Value must be less than or equal to 50%
    of the variant's total instance count"
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html), so a
    fleet of one instance cannot canary. All at once is still blue/green: the old fleet serves
    until the new one is in service, and the rollback alarms watch the baking period
    (TerminationWaitInSeconds) before it is terminated."""
    canary = math.ceil(instance_count * canary_percent / 100)
    if 2 * canary <= instance_count:
        return {
            "Type": "CANARY",
            "CanarySize": {"Type": "INSTANCE_COUNT", "Value": canary},
            "WaitIntervalInSeconds": wait_seconds,
        }
    return {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": wait_seconds}


def deployment_config(config: ModelConfig) -> dict[str, Any]:
    """Blue/green (a canary step where the fleet allows one), and automatic rollback when a
    guardrail alarm fires."""
    promotion = config.promotion
    guard = promotion.deployment
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": traffic_routing(
                promotion.instance_count, guard.canary_percent, guard.canary_wait_seconds
            ),
            "TerminationWaitInSeconds": guard.termination_wait_seconds,
            "MaximumExecutionTimeoutInSeconds": guard.max_execution_seconds,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in guardrail_alarm_names(config)]},
    }


@dataclass(frozen=True)
class Update:
    """One UpdateEndpoint: the variants it deploys, and whether it shifts traffic under guardrails."""

    production: Version
    shadow: Version | None
    guarded: bool


def next_update(
    current: EndpointState, serving: Version, production: Version, shadow: Version | None, *, guarded: bool
) -> Update:
    """The next step from what the endpoint serves (`serving` is its production version) towards
    `production` plus `shadow`. A guarded change of the production model keeps the variant set,
    so a shadow variant is removed first, in a plain update (see the module docstring)."""
    if serving.package_arn == production.package_arn or not guarded:
        return Update(production, shadow, guarded=False)
    if current.shadow is not None:
        return Update(serving, None, guarded=False)
    return Update(production, None, guarded=True)


class SageMakerEndpoint:
    """The endpoint on AWS, through an injected boto3 SageMaker client."""

    def __init__(
        self,
        config: ModelConfig,
        client: Any,
        role_arn: str,
        image_copy: Callable[[str], str | None] = lambda image: None,
    ) -> None:
        """`image_copy(image)`: the serving account's copy of an image a package names, or None to
        deploy the package itself (the job image is built into each account's own CDK asset
        repository: a package registered in another account names that account's repository, which
        grants no other account)."""
        self.config = config
        self.client = client
        self.role_arn = role_arn
        self.image_copy = image_copy
        self.name = config.promotion.endpoint(config.model.name)

    def _missing(self, error: Exception) -> bool:
        code = getattr(error, "response", {}).get("Error", {})
        return code.get("Code") == "ValidationException" and "Could not find" in code.get("Message", "")

    def state(self) -> EndpointState:
        try:
            endpoint = self.client.describe_endpoint(EndpointName=self.name)
        except Exception as error:
            if self._missing(error):
                return EndpointState(self.name, exists=False)
            raise
        config_name = endpoint["EndpointConfigName"]
        described = self.client.describe_endpoint_config(EndpointConfigName=config_name)
        return EndpointState(
            self.name,
            exists=True,
            status=endpoint["EndpointStatus"],
            failure_reason=endpoint.get("FailureReason"),
            config_name=config_name,
            production=self._package_of(described.get("ProductionVariants", [])),
            shadow=self._package_of(described.get("ShadowProductionVariants", [])),
        )

    def _package_of(self, variants: list[dict[str, Any]]) -> str | None:
        if not variants:
            return None
        model = self.client.describe_model(ModelName=variants[0]["ModelName"])
        containers = model.get("Containers") or [model.get("PrimaryContainer", {})]
        package = containers[0].get("ModelPackageName") or containers[0].get("Environment", {}).get(MODEL_PACKAGE_ENV)
        return str(package) if package else None

    def _container(self, version: Version) -> dict[str, Any]:
        """The package itself, or, when its image has a copy in this account, the package's
        container with the copy: same model data and environment, and the package's ARN in the
        environment so the endpoint still tells which version serves."""
        copy = self.image_copy(version.image)
        if copy is None:
            return {"ModelPackageName": version.package_arn}
        described = self.client.describe_model_package(ModelPackageName=version.package_arn)
        (registered,) = described["InferenceSpecification"]["Containers"][:1]
        container: dict[str, Any] = {
            "Image": copy,
            "Environment": {**registered.get("Environment", {}), MODEL_PACKAGE_ENV: version.package_arn},
        }
        if registered.get("ModelDataUrl"):
            container["ModelDataUrl"] = registered["ModelDataUrl"]
        return container

    def _ensure_model(self, version: Version) -> None:
        name = model_name(self.config, version)
        try:
            self.client.describe_model(ModelName=name)
            return
        except Exception as error:
            if not self._missing(error):
                raise
        request: dict[str, Any] = {
            "ModelName": name,
            "ExecutionRoleArn": self.role_arn,
            "Containers": [self._container(version)],
            "EnableNetworkIsolation": self.config.pipeline.network_isolation,
        }
        vpc = self.config.pipeline.vpc
        if vpc is not None:
            request["VpcConfig"] = {"SecurityGroupIds": vpc.security_group_ids, "Subnets": vpc.subnet_ids}
        self.client.create_model(**request)

    def _ensure_config(self, production: Version, shadow: Version | None) -> str:
        request = endpoint_config_request(self.config, production, shadow)
        try:
            self.client.describe_endpoint_config(EndpointConfigName=request["EndpointConfigName"])
        except Exception as error:
            if not self._missing(error):
                raise
            self.client.create_endpoint_config(**request)
        return str(request["EndpointConfigName"])

    def apply(self, production: Version, shadow: Version | None, *, guarded: bool) -> Applied:
        current = self.state()
        if current.exists and current.status in STUCK:
            reason = f" ({current.failure_reason})" if current.failure_reason else ""
            raise EndpointNeedsAttention(
                f"endpoint {self.name} is {current.status}{reason}: " + STUCK[current.status].format(name=self.name)
            )
        if current.exists and current.status != "InService":
            return "busy"  # an update is running; the next evaluation converges
        for version in (production, shadow):
            if version is not None:
                self._ensure_model(version)
        wanted = endpoint_config_request(self.config, production, shadow)["EndpointConfigName"]
        if not current.exists:
            self.client.create_endpoint(
                EndpointName=self.name, EndpointConfigName=self._ensure_config(production, shadow)
            )
            return "created"
        if current.config_name == wanted:
            return "unchanged"
        serving = production
        if current.production is not None and current.production != production.package_arn:
            serving = Version(current.production, package_version(current.production), "", "")
        step = next_update(current, serving, production, shadow, guarded=guarded)
        request: dict[str, Any] = {
            "EndpointName": self.name,
            "EndpointConfigName": self._ensure_config(step.production, step.shadow),
        }
        if step.guarded:
            request["DeploymentConfig"] = deployment_config(self.config)
        self.client.update_endpoint(**request)
        return "updating" if request["EndpointConfigName"] == wanted else "staged"
