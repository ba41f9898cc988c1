"""The retraining pipeline and what it needs: KMS key, artifact bucket, job image, the config
artifacts the jobs read, the model package group, the pipeline role and the `CfnPipeline`.

The definition is built by `pipelines.definition.builder` from a copy of the config whose deployment
fields name this stack's resources (bucket, role, image; see stacks.naming). The KMS key ARN is
known only at deploy time: the definition is built with a placeholder that is then replaced by
the key's ARN as a CloudFormation value (inline body), or by BucketDeployment's deploy-time
substitution (large definitions, stored in the artifact bucket and referenced by S3 location).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import (
    aws_ecr_assets as ecr_assets,
)
from aws_cdk import (
    aws_iam as iam,
)
from aws_cdk import (
    aws_kms as kms,
)
from aws_cdk import (
    aws_s3 as s3,
)
from aws_cdk import (
    aws_s3_deployment as s3_deployment,
)
from aws_cdk import (
    aws_sagemaker as sagemaker,
)
from constructs import Construct

from pipelines import naming
from pipelines.config import FilesSource, ModelConfig, SqlSource
from pipelines.definition.builder import artifacts, definition_json
from pipelines.naming import ResourceNames
from stacks.functions import Settings, log_group
from stacks.nag import acknowledge, logical_id
from stacks.network import acknowledge_vpc_scans, vpc_network_statement
from stacks.packaging import fresh_folder, stage_job_image

# CreatePipeline accepts 1,048,576 characters; CloudFormation templates are at most 1 MB. Up to
# this size the definition is inline (readable in `cdk diff`), beyond it it goes to S3.
INLINE_DEFINITION_LIMIT = 200_000
SCRATCH_DAYS = 14
# Data capture is read by the monitor on every run (the whole production prefix) and by the shadow
# verdict: older capture only slows both down; labels stay longer for audits and backtests.
CAPTURE_DAYS = 90
GROUND_TRUTH_DAYS = 400
BASIC_EXECUTION_ROLE = "arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
DefinitionBuilder = Callable[[ModelConfig], str]


def kms_placeholder(names: ResourceNames) -> str:
    """Stands for the key ARN while the SDK builds the definition (same characters as an ARN)."""
    return f"arn:aws:kms:{names.region}:{names.account}:key/retraining-key-set-at-deploy"


def deployment_config(config: ModelConfig, names: ResourceNames, image_uri: str) -> ModelConfig:
    """The config with its deployment fields naming this stack's resources."""
    pipeline = config.pipeline.model_copy(
        update={
            "artifact_bucket": names.bucket,
            "role_arn": names.role_arn,
            "image_uri": image_uri,
            "kms_key_id": kms_placeholder(names),
        }
    )
    deployed = config.model_copy(update={"pipeline": pipeline})
    deployed._base_dir = config._base_dir
    return deployed


def concrete(scope: Construct, value: str, names: ResourceNames, account: str = "") -> str:
    """A synthesizer value such as an asset's image URI, as the plain string it will be in this
    stack's account (`account`, default the training account's) and region (the SDK cannot take
    CDK tokens)."""
    resolved = cdk.Stack.of(scope).resolve(value)
    if isinstance(resolved, str):
        return resolved
    template = resolved["Fn::Sub"]
    china = names.region.startswith("cn-")
    for variable, actual in {
        "AWS::AccountId": account or names.account,
        "AWS::Region": names.region,
        "AWS::URLSuffix": "amazonaws.com.cn" if china else "amazonaws.com",
        "AWS::Partition": "aws-cn" if china else "aws",
    }.items():
        template = template.replace("${" + variable + "}", actual)
    if "${" in template:
        raise ValueError(f"cannot make {template!r} concrete at synth time")
    return str(template)


def retained_key(scope: Construct, alias: str, description: str, region: str, account: str) -> kms.Key:
    """A stack's key (`Key`): rotated, kept when the stack goes, usable by CloudWatch Logs."""
    key = kms.Key(
        scope,
        "Key",
        alias=alias,
        description=description,
        enable_key_rotation=True,
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    let_cloudwatch_logs_use_the_key(key, region, account)
    return key


def job_image(scope: Construct, staging: Path) -> ecr_assets.DockerImageAsset:
    """The job image (`JobImage`), built by `cdk deploy` from training_containers/ into the stack's
    account's CDK asset repository."""
    return ecr_assets.DockerImageAsset(
        scope,
        "JobImage",
        directory=str(stage_job_image(staging)),
        file="training_containers/Dockerfile",
        platform=ecr_assets.Platform.LINUX_AMD64,
    )


def let_cloudwatch_logs_use_the_key(key: kms.Key, region: str, account: str) -> None:
    """The functions' log groups are encrypted with the key. CloudWatch Logs uses it under the
    encryption context of the log group ("Encrypt log data in CloudWatch Logs using AWS KMS",
    CloudWatch Logs User Guide:
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html); DescribeKey
    carries no encryption context, so it has a statement of its own."""
    logs_service = iam.ServicePrincipal(f"logs.{region}.amazonaws.com")
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchLogsEncryptLogGroups",
            principals=[logs_service],
            actions=[
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncryptFrom",
                "kms:ReEncryptTo",
                "kms:GenerateDataKey",
                "kms:GenerateDataKeyWithoutPlaintext",
            ],
            resources=["*"],  # in a key policy, "*" is this key
            conditions={
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account}:log-group:*"}
            },
        )
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchLogsDescribeKey", principals=[logs_service], actions=["kms:DescribeKey"], resources=["*"]
        )
    )


def _s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class RetrainingPipeline(Construct):
    """Attributes: `key`, `bucket`, `access_logs`, `image`, `image_uri`, `role`, `model_package_group`,
    `pipeline`, `definition` (the JSON with the key placeholder), `deployed_config`, `settings` (the
    uploaded config object every function reads its settings from)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ModelConfig,
        names: ResourceNames,
        staging: Path,
        build_definition: DefinitionBuilder = definition_json,
        inline_limit: int = INLINE_DEFINITION_LIMIT,
    ) -> None:
        super().__init__(scope, construct_id)
        self.names = names
        self.key = retained_key(
            self,
            naming.key_alias(names.model),
            f"{names.model}: artifacts, job volumes and outputs, audit table, alerts",
            names.region,
            names.account,
        )
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # log delivery cannot write SSE-KMS objects
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,  # a log that can be overwritten is no audit record
            lifecycle_rules=[
                s3.LifecycleRule(expiration=cdk.Duration.days(365), noncurrent_version_expiration=cdk.Duration.days(30))
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This is the server access log bucket of the artifact bucket; logging it to itself would loop.",
        )
        self.bucket = s3.Bucket(
            self,
            "Artifacts",
            bucket_name=names.bucket,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            versioned=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{names.bucket}/",
            lifecycle_rules=self._lifecycle(names),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.image = job_image(self, staging)
        self.image_uri = concrete(self, self.image.image_uri, names)
        self.role = iam.Role(
            self,
            "Role",
            role_name=names.role_name,
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"{names.pipeline}: the pipeline and its processing and training jobs",
        )
        self.deployed_config = deployment_config(config, names, self.image_uri)
        self.definition = build_definition(self.deployed_config)
        uploads = self._upload_artifacts(self.deployed_config, staging)
        self.settings = Settings(self.bucket, artifacts(self.deployed_config)["config"].uri)
        # In the registry's own account when it has one (stacks.accounts.RegistryStack).
        self.model_package_group = (
            sagemaker.CfnModelPackageGroup(
                self,
                "ModelPackageGroup",
                model_package_group_name=names.model_package_group,
                model_package_group_description=f"Versions of {names.model}, registered by {names.pipeline}",
            )
            if names.registry_account == names.account
            else None
        )
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=names.pipeline,
            pipeline_display_name=names.pipeline,
            pipeline_description=f"Drift-triggered retraining of {names.model}",
            role_arn=self.role.role_arn,
            pipeline_definition=self._definition_property(inline_limit, uploads),
        )
        self._grant_pipeline_role(config)
        if self.model_package_group is not None:
            self.pipeline.node.add_dependency(self.model_package_group)

    @staticmethod
    def _lifecycle(names: ResourceNames) -> list[s3.LifecycleRule]:
        return [
            s3.LifecycleRule(id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(7)),
            s3.LifecycleRule(id="OldVersions", noncurrent_version_expiration=cdk.Duration.days(90)),
            s3.LifecycleRule(
                id="Scratch", prefix=names.layout.key(naming.SCRATCH), expiration=cdk.Duration.days(SCRATCH_DAYS)
            ),
            s3.LifecycleRule(
                id="MonitoringReports",
                prefix=names.layout.key(naming.MONITORING),
                expiration=cdk.Duration.days(400),
            ),
            s3.LifecycleRule(
                id="DataCapture",
                prefix=names.layout.key(naming.CAPTURE),
                expiration=cdk.Duration.days(CAPTURE_DAYS),
            ),
            # Hour profiles are worth keeping as long as the capture they summarise; a run's
            # manifests and shard outputs only until its judge job has read them.
            s3.LifecycleRule(
                id="MonitorHours",
                prefix=names.layout.key(naming.MONITOR_STORE) + "hours/",
                expiration=cdk.Duration.days(CAPTURE_DAYS),
            ),
            s3.LifecycleRule(
                id="MonitorRuns",
                prefix=names.layout.key(naming.MONITOR_STORE) + "runs/",
                expiration=cdk.Duration.days(SCRATCH_DAYS),
            ),
            s3.LifecycleRule(
                id="GroundTruth",
                prefix=names.layout.key(naming.GROUND_TRUTH),
                expiration=cdk.Duration.days(GROUND_TRUTH_DAYS),
            ),
            # Executions hold the artifacts registered model versions point at (model, reports,
            # manifest), and lineage every input object those runs read, once by content (what
            # `reconstruct` falls back to when the source data is gone): both move to cheaper
            # storage but are never expired. Their cost is the distinct input bytes: an appended,
            # partitioned dataset adds its new partitions only; one rewritten in place, a copy a run.
            # A noncurrent lineage object is an identical copy (a key names its content): gone after a
            # day. OldVersions' 90 days overlap it; the shorter expiration is honored ("How Amazon S3
            # handles conflicts in lifecycle configurations", S3 User Guide:
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-conflicts.html).
            *(
                s3.LifecycleRule(
                    id=rule,
                    prefix=names.layout.key(area),
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INTELLIGENT_TIERING, transition_after=cdk.Duration.days(30)
                        )
                    ],
                    noncurrent_version_expiration=cdk.Duration.days(1) if area == naming.LINEAGE else None,
                )
                for rule, area in (("Executions", naming.EXECUTIONS), ("Lineage", naming.LINEAGE))
            ),
        ]

    def _upload_artifacts(self, deployed: ModelConfig, staging: Path) -> s3_deployment.BucketDeployment:
        """The content-addressed objects the definition references (config, edge cases, a script's
        source archive). Text goes inline; an archive, which `Source.data` cannot carry (it takes
        text), goes as an asset staged at its key."""
        sources, archives = [], fresh_folder(staging / "job-artifacts" / self.names.model)
        for artifact in artifacts(deployed).values():
            bucket, key = _s3_parts(artifact.uri)
            if not artifact.content or bucket != self.names.bucket:
                continue
            if key.endswith(".tar.gz"):
                (archives / key).parent.mkdir(parents=True, exist_ok=True)
                (archives / key).write_bytes(artifact.content)
            else:
                sources.append(s3_deployment.Source.data(key, artifact.content.decode("utf-8")))
        if any(archives.iterdir()):
            sources.append(s3_deployment.Source.asset(str(archives)))
        deployment = s3_deployment.BucketDeployment(
            self,
            "JobArtifacts",
            sources=sources,
            destination_bucket=self.bucket,
            prune=False,  # content-addressed keys: older runs keep reading the objects they used
            retain_on_delete=True,
            memory_limit=256,
            log_group=log_group(self, "JobArtifactsLogs", self.key),
        )
        self._acknowledge_deployment_function(deployment)
        return deployment

    def _acknowledge_deployment_function(self, deployment: s3_deployment.BucketDeployment) -> None:
        """BucketDeployment's copy function is a CDK-managed singleton whose role and runtime the
        construct decides; each finding is acknowledged on it with what it is for."""
        stack = cdk.Stack.of(self)
        (provider,) = [c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment")]
        assets_bucket = f"cdk-hnb659fds-assets-{self.names.account}-{self.names.region}"
        reasons = {
            f"AwsSolutions-IAM4[Policy::{BASIC_EXECUTION_ROLE}]": (
                "CDK's BucketDeployment function logs with the basic execution role; it writes nothing else."
            ),
            "AwsSolutions-L1": "BucketDeployment pins the runtime of its AWS CLI based copy function.",
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{assets_bucket}/*]": (
                "Reads the content-hashed asset zips that cdk deploy uploaded to the bootstrap bucket."
            ),
            f"AwsSolutions-IAM5[Resource::<{logical_id(self.bucket)}.Arn>/*]": (
                "Copies the job config and edge-case artifacts into the artifact bucket (prune is off)."
            ),
        }
        for action in ("s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:Abort*", "s3:DeleteObject*"):
            reasons[f"AwsSolutions-IAM5[Action::{action}]"] = (
                "Granted by BucketDeployment's bucket grants (aws s3 sync)."
            )
        for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
            reasons[f"AwsSolutions-IAM5[Action::{action}]"] = (
                "Granted by BucketDeployment on the artifact bucket's key so the copy can write SSE-KMS objects."
            )
        for finding, reason in reasons.items():
            acknowledge(provider, finding, reason)

    def _definition_property(self, inline_limit: int, uploads: s3_deployment.BucketDeployment) -> dict[str, Any]:
        placeholder = kms_placeholder(self.names)
        if placeholder not in self.definition:
            raise ValueError("the definition does not use the KMS key: check pipelines.definition.builder")
        with_key = self.definition.replace(placeholder, self.key.key_arn)
        if len(self.definition) <= inline_limit:
            return {"PipelineDefinitionBody": with_key}
        digest = hashlib.sha256(self.definition.encode()).hexdigest()[:16]
        key = f"{self.names.layout.key(naming.DEFINITION)}{digest}/pipeline.json"
        uploads.add_source(s3_deployment.Source.data(key, with_key))
        self.pipeline_definition_key = key
        return {"PipelineDefinitionS3Location": {"Bucket": self.bucket.bucket_name, "Key": key}}

    def _grant_pipeline_role(self, config: ModelConfig) -> None:
        n, role = self.names, self.role
        model_prefix = f"{self.bucket.bucket_arn}/{n.model}/*"
        sagemaker_arn = f"arn:aws:sagemaker:{n.region}:{n.account}"
        registry_arn = f"arn:aws:sagemaker:{n.region}:{n.registry_account}"
        statements = [
            iam.PolicyStatement(
                sid="ArtifactObjects",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[model_prefix],
            ),
            iam.PolicyStatement(
                sid="ArtifactListing",
                actions=["s3:ListBucket", "s3:GetBucketLocation"],
                resources=[self.bucket.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="Key",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[self.key.key_arn],
            ),
            iam.PolicyStatement(
                sid="KeyGrantsForJobVolumes",
                actions=["kms:CreateGrant"],
                resources=[self.key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            ),
            iam.PolicyStatement(
                sid="JobImage",
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                resources=[self.image.repository.repository_arn, *self._team_repositories(config)],
            ),
            iam.PolicyStatement(sid="RegistryLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
            iam.PolicyStatement(
                sid="JobLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[f"arn:aws:logs:{n.region}:{n.account}:log-group:/aws/sagemaker/*"],
            ),
            iam.PolicyStatement(
                sid="JobMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            ),
            # Pipelines names every pipeline's jobs pipelines-<execution>-...: the name cannot tell this
            # model's jobs from another's, the model tag every job of the definition carries can.
            iam.PolicyStatement(
                sid="PipelineJobs",
                actions=["sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob", "sagemaker:AddTags"],
                resources=[f"{sagemaker_arn}:processing-job/pipelines-*", f"{sagemaker_arn}:training-job/pipelines-*"],
                conditions={"StringEquals": {f"aws:RequestTag/{naming.MODEL_TAG}": n.model}},
            ),
            iam.PolicyStatement(
                sid="PipelineJobsOfThisModel",
                actions=[
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                ],
                resources=[f"{sagemaker_arn}:processing-job/pipelines-*", f"{sagemaker_arn}:training-job/pipelines-*"],
                conditions={"StringEquals": {f"aws:ResourceTag/{naming.MODEL_TAG}": n.model}},
            ),
            iam.PolicyStatement(
                sid="Registry",
                actions=["sagemaker:CreateModelPackage", "sagemaker:AddTags"],
                resources=[
                    f"{registry_arn}:model-package/{n.model_package_group}/*",
                    f"{registry_arn}:model-package-group/{n.model_package_group}",
                ],
            ),
            iam.PolicyStatement(
                sid="PassRoleToJobs",
                actions=["iam:PassRole"],
                resources=[n.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            *self._source_statements(config),
            *self._image_model_statements(config),
        ]
        if config.pipeline.vpc is not None:
            statements.append(vpc_network_statement("JobNetworkInterfaces"))
        policy = iam.Policy(self, "RolePolicy", statements=statements, roles=[role])
        self.pipeline.node.add_dependency(policy)
        if config.pipeline.vpc is not None:
            acknowledge_vpc_scans(policy)
        reasons = {
            f"Resource::<{logical_id(self.bucket)}.Arn>/{n.model}/*": (
                "The pipeline reads and writes this model's objects only: its prefix of the artifact bucket."
            ),
            "Resource::*": (
                "ecr:GetAuthorizationToken has no resource type; cloudwatch:PutMetricData has none either and is "
                "limited by its namespace condition to /aws/sagemaker/*"
                + (
                    "; EC2 network interface actions for VPC jobs have no resource scoping"
                    if config.pipeline.vpc
                    else ""
                )
                + "."
            ),
            f"Resource::arn:aws:logs:{n.region}:{n.account}:log-group:/aws/sagemaker/*": (
                "SageMaker jobs log to /aws/sagemaker/ProcessingJobs and /aws/sagemaker/TrainingJobs, a stream a job."
            ),
            f"Resource::{sagemaker_arn}:processing-job/pipelines-*": (
                "SageMaker Pipelines names the jobs it creates pipelines-<execution>-<step>-<suffix>; a condition on "
                "the retraining:model tag every job of this definition carries limits the grant to this model's jobs."
            ),
            f"Resource::{sagemaker_arn}:training-job/pipelines-*": (
                "SageMaker Pipelines names the jobs it creates pipelines-<execution>-<step>-<suffix>; a condition on "
                "the retraining:model tag every job of this definition carries limits the grant to this model's jobs."
            ),
            f"Resource::{registry_arn}:model-package/{n.model_package_group}/*": (
                "Versions of this model's package group only; version numbers are assigned at registration."
            ),
            **self._source_reasons(config),
        }
        if config.training.outside_image is not None:
            reasons[f"Resource::{sagemaker_arn}:model/*"] = (
                "SageMaker Pipelines names the models a ModelStep creates; a condition on the retraining:model tag "
                "every model of this definition carries limits the grant to this model's candidates and champions."
            )
            reasons[f"Resource::{sagemaker_arn}:transform-job/pipelines-*"] = (
                "SageMaker Pipelines names the jobs it creates pipelines-<execution>-<step>-<suffix>; a condition on "
                "the retraining:model tag every job of this definition carries limits the grant to this model's jobs."
            )
        for finding, reason in reasons.items():
            acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)

    @staticmethod
    def _team_repositories(config: ModelConfig) -> list[str]:
        image = config.training.outside_image
        return [naming.ecr_repository_arn(image)] if image is not None else []

    def _image_model_statements(self, config: ModelConfig) -> list[iam.PolicyStatement]:
        """An image model is scored by batch transform of a SageMaker Model (ScoreCandidate,
        ScoreChampion): create both, tagged with the model's name, and follow the jobs."""
        if config.training.outside_image is None:
            return []
        n = self.names
        sagemaker_arn = f"arn:aws:sagemaker:{n.region}:{n.account}"
        resources = [f"{sagemaker_arn}:model/*", f"{sagemaker_arn}:transform-job/pipelines-*"]
        return [
            iam.PolicyStatement(
                sid="ScoringModelsAndJobs",
                actions=["sagemaker:CreateModel", "sagemaker:CreateTransformJob", "sagemaker:AddTags"],
                resources=resources,
                conditions={"StringEquals": {f"aws:RequestTag/{naming.MODEL_TAG}": n.model}},
            ),
            iam.PolicyStatement(
                sid="ScoringModelsAndJobsOfThisModel",
                actions=["sagemaker:DescribeModel", "sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob"],
                resources=resources,
                conditions={"StringEquals": {f"aws:ResourceTag/{naming.MODEL_TAG}": n.model}},
            ),
        ]

    @staticmethod
    def _read_uris(config: ModelConfig) -> list[str]:
        uris: list[str] = []
        for source in (config.data.fresh, config.data.historical):
            if isinstance(source, FilesSource):
                uris.append(source.uri)
            elif isinstance(source, SqlSource):
                uris += list(source.local_tables.values())  # by convention the tables' S3 locations
        edge = config.gates.edge_cases
        if edge is not None and edge.uri.startswith("s3://"):
            uris.append(edge.uri)
        return sorted({u for u in uris if u.startswith("s3://")})

    @staticmethod
    def _athena(config: ModelConfig) -> list[SqlSource]:
        return [s for s in (config.data.fresh, config.data.historical) if isinstance(s, SqlSource) and s.athena]

    def _source_statements(self, config: ModelConfig) -> list[iam.PolicyStatement]:
        n = self.names
        statements = []
        reads = self._read_uris(config)
        if reads:
            statements.append(
                iam.PolicyStatement(
                    sid="SourceData",
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[f"arn:aws:s3:::{u.removeprefix('s3://').rstrip('/')}*" for u in reads],
                )
            )
            statements.append(
                iam.PolicyStatement(
                    sid="SourceListing",
                    actions=["s3:ListBucket", "s3:GetBucketLocation"],
                    resources=sorted({f"arn:aws:s3:::{_s3_parts(u)[0]}" for u in reads}),
                )
            )
        for index, source in enumerate(self._athena(config)):
            athena = source.athena
            assert athena is not None
            out_bucket, out_key = _s3_parts(athena.output_s3_uri)
            statements += [
                iam.PolicyStatement(
                    sid=f"AthenaQuery{index}",
                    actions=["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults"],
                    resources=[f"arn:aws:athena:{n.region}:{n.account}:workgroup/{athena.work_group}"],
                ),
                iam.PolicyStatement(
                    sid=f"AthenaCatalog{index}",
                    actions=["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
                    resources=[
                        f"arn:aws:glue:{n.region}:{n.account}:catalog",
                        f"arn:aws:glue:{n.region}:{n.account}:database/{athena.database}",
                        f"arn:aws:glue:{n.region}:{n.account}:table/{athena.database}/*",
                    ],
                ),
                iam.PolicyStatement(
                    sid=f"AthenaResults{index}",
                    actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                    resources=[f"arn:aws:s3:::{out_bucket}/{out_key}*"],
                ),
                iam.PolicyStatement(
                    sid=f"AthenaResultsListing{index}",
                    actions=["s3:ListBucket", "s3:GetBucketLocation"],
                    resources=[f"arn:aws:s3:::{out_bucket}"],
                ),
            ]
        return statements

    def _source_reasons(self, config: ModelConfig) -> dict[str, str]:
        n = self.names
        reasons = {
            f"Resource::arn:aws:s3:::{u.removeprefix('s3://').rstrip('/')}*": (
                "DataPull reads every object under this configured source prefix (data.*, gates.edge_cases)."
            )
            for u in self._read_uris(config)
        }
        for source in self._athena(config):
            athena = source.athena
            assert athena is not None
            bucket, key = _s3_parts(athena.output_s3_uri)
            reasons[f"Resource::arn:aws:glue:{n.region}:{n.account}:table/{athena.database}/*"] = (
                f"The configured query may read any table of the {athena.database} database."
            )
            reasons[f"Resource::arn:aws:s3:::{bucket}/{key}*"] = (
                "Athena writes query results under the configured output prefix, one object per query."
            )
        return reasons
