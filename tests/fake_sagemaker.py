"""A SageMaker control plane in memory for the promotion tests: every request and response is
validated against botocore's service model (a wrong parameter name or type fails the test, as
with botocore's Stubber), and state changes like the real service's, including endpoints that
stay `Updating` until told to finish. `crash_after` simulates a caller that dies right after
its N-th call took effect."""

from __future__ import annotations

import math
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from pipelines.promotion.endpoint import MODEL_PACKAGE_ENV

MODEL = botocore.session.get_session().get_service_model("sagemaker")
OPERATIONS = {
    "describe_model": "DescribeModel",
    "create_model": "CreateModel",
    "describe_endpoint_config": "DescribeEndpointConfig",
    "create_endpoint_config": "CreateEndpointConfig",
    "describe_endpoint": "DescribeEndpoint",
    "create_endpoint": "CreateEndpoint",
    "update_endpoint": "UpdateEndpoint",
}


class Crash(Exception):
    """The caller died after this call took effect."""


class FakeSageMaker:
    def __init__(self, region: str = "us-east-1", account: str = "111122223333") -> None:
        self.models: dict[str, dict[str, Any]] = {}
        self.configs: dict[str, dict[str, Any]] = {}
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.crash_after: int | None = None
        self.finish_updates = True  # endpoints reach InService at once unless False
        self.arn = f"arn:aws:sagemaker:{region}:{account}"

    def __getattr__(self, name: str) -> Any:
        if name not in OPERATIONS:
            raise AttributeError(name)
        operation = MODEL.operation_model(OPERATIONS[name])

        def call(**params: Any) -> dict[str, Any]:
            report = ParamValidator().validate(params, operation.input_shape)
            if report.has_errors():
                raise AssertionError(f"{operation.name}: {report.generate_report()}")
            self.calls.append((name, params))
            response = getattr(self, f"_{name}")(params)
            out = ParamValidator().validate(response, operation.output_shape)
            assert not out.has_errors(), out.generate_report()
            if self.crash_after is not None and len(self.calls) >= self.crash_after:
                self.crash_after = None
                raise Crash(f"crashed after {name}")
            return response

        return call

    @staticmethod
    def _missing(what: str) -> ClientError:
        return ClientError({"Error": {"Code": "ValidationException", "Message": f"Could not find {what}."}}, "Describe")

    def _describe_model(self, p: dict[str, Any]) -> dict[str, Any]:
        if p["ModelName"] not in self.models:
            raise self._missing(f'model "{p["ModelName"]}"')
        return self.models[p["ModelName"]]

    def _create_model(self, p: dict[str, Any]) -> dict[str, Any]:
        assert p["ModelName"] not in self.models, "CreateModel on an existing name"
        arn = f"{self.arn}:model/{p['ModelName'].lower()}"
        self.models[p["ModelName"]] = {
            "ModelName": p["ModelName"],
            "Containers": p["Containers"],
            "ExecutionRoleArn": p["ExecutionRoleArn"],
            "CreationTime": "2026-01-01T00:00:00Z",
            "ModelArn": arn,
        }
        return {"ModelArn": arn}

    def _describe_endpoint_config(self, p: dict[str, Any]) -> dict[str, Any]:
        if p["EndpointConfigName"] not in self.configs:
            raise self._missing(f'endpoint configuration "{p["EndpointConfigName"]}"')
        return self.configs[p["EndpointConfigName"]]

    def _create_endpoint_config(self, p: dict[str, Any]) -> dict[str, Any]:
        assert p["EndpointConfigName"] not in self.configs, "CreateEndpointConfig on an existing name"
        for variant in p["ProductionVariants"] + p.get("ShadowProductionVariants", []):
            assert variant["ModelName"] in self.models, f"model {variant['ModelName']} does not exist"
        arn = f"{self.arn}:endpoint-config/{p['EndpointConfigName'].lower()}"
        self.configs[p["EndpointConfigName"]] = {**p, "EndpointConfigArn": arn, "CreationTime": "2026-01-01T00:00:00Z"}
        return {"EndpointConfigArn": arn}

    def _describe_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        if p["EndpointName"] not in self.endpoints:
            raise self._missing(f'endpoint "{p["EndpointName"]}"')
        return self.endpoints[p["EndpointName"]]

    def _create_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        assert p["EndpointName"] not in self.endpoints
        assert p["EndpointConfigName"] in self.configs
        arn = f"{self.arn}:endpoint/{p['EndpointName'].lower()}"
        self.endpoints[p["EndpointName"]] = {
            "EndpointName": p["EndpointName"],
            "EndpointArn": arn,
            "EndpointConfigName": p["EndpointConfigName"],
            "EndpointStatus": "InService" if self.finish_updates else "Creating",
            "CreationTime": "2026-01-01T00:00:00Z",
            "LastModifiedTime": "2026-01-01T00:00:00Z",
        }
        return {"EndpointArn": arn}

    @staticmethod
    def _invalid(message: str) -> ClientError:
        return ClientError({"Error": {"Code": "ValidationException", "Message": message}}, "UpdateEndpoint")

    def _update_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        endpoint = self.endpoints[p["EndpointName"]]
        # "DeleteEndpoint is the only operation that can be performed on a failed endpoint"
        # (DescribeEndpoint, EndpointStatus: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html)
        if endpoint["EndpointStatus"] == "Failed":
            raise self._invalid(f"Cannot update endpoint {p['EndpointName']}: it is Failed")
        assert endpoint["EndpointStatus"] == "InService", "UpdateEndpoint while the endpoint is busy"
        assert p["EndpointConfigName"] in self.configs
        if "DeploymentConfig" in p:
            self._check_guarded(self.configs[endpoint["EndpointConfigName"]], self.configs[p["EndpointConfigName"]], p)
        endpoint["EndpointConfigName"] = p["EndpointConfigName"]
        endpoint["EndpointStatus"] = "InService" if self.finish_updates else "Updating"
        return {"EndpointArn": endpoint["EndpointArn"]}

    def _check_guarded(self, old: dict[str, Any], new: dict[str, Any], request: dict[str, Any]) -> None:
        """AWS's documented rules for an update with deployment guardrails."""

        def variants(config: dict[str, Any]) -> list[str]:
            return sorted(
                v["VariantName"] for v in config["ProductionVariants"] + config.get("ShadowProductionVariants", [])
            )

        # "When doing a blue/green or rolling deployment, your new endpoint configuration must have
        # the same variant name as the old endpoint configuration."
        # https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html
        if variants(old) != variants(new):
            raise self._invalid(
                f"deployment guardrails need the same variants in both configs: {variants(old)} -> {variants(new)}"
            )
        # TrafficRoutingConfig.CanarySize: "Value must be less than or equal to 50% of the
        # variant's total instance count."
        # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html
        routing = request["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
        if routing["Type"] == "CANARY":
            count = new["ProductionVariants"][0]["InitialInstanceCount"]
            size = routing["CanarySize"]
            instances = size["Value"] if size["Type"] == "INSTANCE_COUNT" else math.ceil(count * size["Value"] / 100)
            if 2 * instances > count:
                raise self._invalid(f"CanarySize of {instances} instances is more than 50% of {count} instances")

    def finish(self) -> None:
        for endpoint in self.endpoints.values():
            endpoint["EndpointStatus"] = "InService"

    def serving(self, name: str) -> tuple[str | None, str | None]:
        """(production model package, shadow model package) the endpoint serves."""
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            return None, None
        config = self.configs[endpoint["EndpointConfigName"]]

        def package(variants: list[dict[str, Any]]) -> str | None:
            if not variants:
                return None
            container = self.models[variants[0]["ModelName"]]["Containers"][0]
            # A serving copy of the package's container names it in its environment.
            return container.get("ModelPackageName") or container["Environment"][MODEL_PACKAGE_ENV]

        return package(config["ProductionVariants"]), package(config.get("ShadowProductionVariants", []))
