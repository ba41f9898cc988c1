"""Physical names of the resources a model's stack creates.

The pipeline definition is built by the sagemaker SDK, which cannot take CDK tokens, so every name
the definition mentions is a deterministic string derived from the config (model name, account,
region): the artifact bucket, the pipeline role, the pipeline. The job image URI is computed from
the image asset's content hash. The KMS key's ARN is the only value known only at deploy time; it
enters the definition as a CloudFormation value (see stacks.pipeline).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.config import ModelConfig
from pipelines.errors import ConfigError

BUCKET_NAME_LIMIT = 63


@dataclass(frozen=True)
class ResourceNames:
    model: str
    account: str
    region: str
    bucket: str
    role_name: str
    pipeline: str
    model_package_group: str

    @classmethod
    def of(cls, config: ModelConfig) -> ResourceNames:
        model, p = config.model.name, config.pipeline
        bucket = p.bucket(model)
        if len(bucket) > BUCKET_NAME_LIMIT:
            raise ConfigError(
                model,
                [f"pipeline.artifact_bucket: the derived name {bucket!r} has more than 63 characters; set one"],
            )
        role_arn = p.role(model)
        if f":{p.account}:" not in role_arn:
            raise ConfigError(model, [f"pipeline.role_arn: {role_arn} is not in pipeline.account {p.account}"])
        return cls(
            model=model,
            account=p.account,
            region=p.region,
            bucket=bucket,
            role_name=role_arn.rsplit("/", 1)[-1],
            pipeline=f"{model}-retraining",
            model_package_group=config.registry.model_package_group,
        )

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.role_name}"

    @property
    def artifact_prefix(self) -> str:
        """Where the definition keeps everything of this model: s3://<bucket>/<model>."""
        return f"s3://{self.bucket}/{self.model}"

    @property
    def pipeline_arn(self) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:pipeline/{self.pipeline}"

    @property
    def stack(self) -> str:
        return f"{self.model}-retraining"

    def alarm_arn(self, alarm: str) -> str:
        return f"arn:aws:cloudwatch:{self.region}:{self.account}:alarm:{alarm}"
