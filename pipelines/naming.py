"""Every name and S3 location of a model's resources, and the IAM pattern that grants each name
the code creates at run time: one definition, read by the stacks, the jobs, the functions and the
local runtime alike (`grep` finds each format here and nowhere else).

A name and the grant that allows it come from the same function here, so they cannot drift
apart: a resource created under a name its role's policy does not match is denied on AWS, which
no offline test of the name alone would show.

AWS names have length limits, and IAM grants resources by prefix (`<prefix>*`). Cutting a long
name to fit makes two names that share their first characters share a prefix, and a grant on one
model's resources then matches another's. `owned_prefix` therefore ends every cut name with a
short hash of the whole name: the prefix is unique to its owner.

Standard library only: every bundle carries this module.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipelines.errors import PipelinesError

if TYPE_CHECKING:  # the config imports this module
    from pipelines.config import ModelConfig

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

# With several accounts, the serving account's roles the training and registry accounts' policies
# name: the endpoint's, the two promotion functions' and the operators' (the CLI's --aws there).
ENDPOINT_ROLE, APPROVAL_ROLE, EVALUATION_ROLE, OPERATOR_ROLE = "endpoint", "approval", "evaluation", "operator"
PROMOTION_ROLES = (APPROVAL_ROLE, EVALUATION_ROLE, OPERATOR_ROLE)  # the roles that run pipelines.promotion


def role_name(model: str, region: str, purpose: str) -> str:
    """`<model>-<purpose>-<region>`: the same model deployed to a second region gets roles of its
    own instead of failing on the first region's names; cut with a hash when it is too long."""
    name = f"{model}-{purpose}-{region}"
    return name if len(name) <= ROLE_NAME_LIMIT else owned_prefix(name, ROLE_NAME_LIMIT)


def key_alias(model: str) -> str:
    """The alias of the stack's KMS key: how a person's CLI finds the key the functions are given."""
    return f"alias/{model}-retraining"


# ---- S3 locations


def split_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of an s3:// URI."""
    if not uri.startswith("s3://"):
        raise PipelinesError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise PipelinesError(f"S3 URI without a bucket: {uri!r}")
    return bucket, key


# ---- model-level names


def bucket_name(model: str, account: str, region: str) -> str:
    """The artifact bucket when the config names none (bucket names are global: account and region)."""
    return f"{model}-{account}-{region}"


def _retraining(model: str) -> str:
    return f"{model}-retraining"


def pipeline_name(model: str) -> str:
    return _retraining(model)


def stack_name(model: str, role: str = "") -> str:
    """The model's stack; with several accounts, `<model>-retraining-<role>` for the registry's
    and the serving account's stacks (the training account's keeps the one-account name)."""
    return _retraining(model) + (f"-{role}" if role else "")


def chat_channel(model: str) -> str:
    """The AWS Chatbot Slack channel configuration."""
    return _retraining(model)


def job_base_name(model: str, step: str) -> str:
    """What the SDK prefixes a job's name with (Pipelines names the jobs it starts itself)."""
    return f"{model}-{step}"


def endpoint_name(model: str) -> str:
    """The serving endpoint when the config names none."""
    return f"{model}-endpoint"


def audit_table(model: str) -> str:
    """The DynamoDB table of the retrain trigger's state and both audit trails (trigger decisions,
    promotion records), with the promotion lease."""
    return f"{model}-audit"


def alert_topic(model: str) -> str:
    return f"{model}-retraining-alerts"


def alert_topic_arn(region: str, account: str, model: str) -> str:
    return f"arn:aws:sns:{region}:{account}:{alert_topic(model)}"


def monitor_schedule(model: str) -> str:
    return f"{model}-drift-monitor"


def dashboard(model: str, role: str = "") -> str:
    return _retraining(model) + (f"-{role}" if role else "")


def job_image_repository(model: str) -> str:
    return f"{model}-jobs"


def guardrail_alarms(endpoint: str) -> list[str]:
    """The CloudWatch alarms that roll a blue/green deployment of `endpoint` back."""
    return [f"{endpoint}-5xx-rate", f"{endpoint}-latency-p99"]


def monitor_silent_alarm(model: str) -> str:
    """The alarm on the drift monitor judging no window: the retraining alarms are blind."""
    return alarm_name(model, "monitor", "silent")


def failures_alarm(model: str, unit: str) -> str:
    """The alarm on a unit's failure queue (`trigger`, `alerts`, `promotion`, `monitor`, `pagerduty`)."""
    return f"{model}-{unit}-failures"


# CloudWatch alarm names: at most 255 characters (PutMetricAlarm, AlarmName).
ALARM_NAME_LIMIT = 255


def alarm_name(model: str, *parts: str) -> str:
    """`<model>-<part>-<part>...`, cut with a hash of the whole when longer than CloudWatch allows."""
    name = "-".join((model, *parts))
    if len(name) <= ALARM_NAME_LIMIT:
        return name
    return owned_prefix(name, ALARM_NAME_LIMIT)


# ---- the pipeline's steps and the reports they write (the definition, the local runtime, the alert
# function and the jobs all read these)

DATA_PULL = "DataPull"
DATA_VALID = "DataValid"
DATA_FAILED = "DataValidationFailed"
TRAIN = "Train"
EVALUATE = "Evaluate"
QUALITY_GATES = "QualityGates"
GATES_FAILED = "QualityGatesFailed"
REGISTER = "Register"
# An image model (training.image) is scored through its own serving contract:
CREATE_CANDIDATE = "CandidateModel"  # CreateModel of the candidate
SCORE_CANDIDATE = "ScoreCandidate"  # a batch transform of the scoring rows
SELECT_CHAMPION = "SelectChampion"  # which model ScoreChampion scores (the candidate when none serves)
CREATE_CHAMPION = "ChampionModel"
SCORE_CHAMPION = "ScoreChampion"
CHAMPION_SELECTION = "ChampionSelection"  # SelectChampion's property file
SELECTION_FILE = "selection.json"
SCORING_FILE = "scoring.csv"  # DataPull's: the test rows' features, then the edge cases', no header
TRANSFORM_SUFFIX = ".out"  # batch transform names each result <input file>.out
EVALUATION_REPORT = "EvaluationReport"  # the Evaluate step's property file, and the version's metadata key
VALIDATION_REPORT = "DataValidationReport"  # DataPull's property file
VALIDATION_FILE, MANIFEST_FILE, EVALUATION_FILE = "validation_report.json", "manifest.json", "evaluation.json"
MODEL_QUALITY_FILE = "model_quality.json"  # Evaluate's, registered as the version's ModelStatistics
# DataPull's baseline in Model Monitor's format, registered as ModelDataStatistics/-Constraints
STATISTICS_FILE, CONSTRAINTS_FILE = "statistics.json", "constraints.json"
CONFIG_FILE = "model-config.json"  # the config every job reads, content-addressed under config/

# The pipeline's parameters: the retrain trigger passes its context through these, and Register
# records the first four in the version's metadata under the same names.
TRIGGER_REASON = "TriggerReason"
TRIGGER_ALARM = "TriggerAlarm"
TRIGGER_METRIC_VALUE = "TriggerMetricValue"
DATA_WINDOW_END = "DataWindowEnd"
CHAMPION_URI = "ChampionUri"


# ---- S3: everything of a model lives under s3://<bucket>/<model>/<area>/

EXECUTIONS = "executions"  # <execution id>/<step>/<output>/...: what registered versions point at
CAPTURE = "capture"  # <endpoint>/<variant>/yyyy/mm/dd/hh/: SageMaker data capture
GROUND_TRUTH = "ground-truth"  # yyyy/mm/dd/hh/: labels, by Model Monitor's convention
CHAMPION = "champion"  # champion.json, model.tar.gz, baseline_profile.json of production
MONITORING = "monitoring"  # <job name>/: the drift monitor's reports
# hours/<variant>/yyyy/mm/dd/hh/<baseline>/: each captured hour's profile and predictions, made once
# per baseline (pipelines.monitoring.hours); runs/<job>/: a monitor run's input manifests and shards;
# evidence/<variant or labels>/yyyy/mm/dd/hh.parquet: what the shadow evaluation read of an ended hour
MONITOR_STORE = "monitor-store"
HOUR_PROFILE, HOUR_PREDICTIONS, HOUR_OBJECTS = "profile.json", "predictions.parquet", "objects.json"
SCRATCH = "scratch"
# objects/<sha256>: every input object a run that passed its data checks read, by content, so a
# version can be reconstructed after its source data is overwritten, expired or deleted
LINEAGE = "lineage"
CONFIG = "config"  # <sha>/model-config.json: content-addressed
EDGE_CASES = "edge-cases"  # <sha>/edge-cases.csv: content-addressed
SOURCE = "source"  # <sha>/sourcedir.tar.gz: a training script's folder, content-addressed
SOURCE_ARCHIVE = "sourcedir.tar.gz"  # the name SageMaker's framework estimators give it
# How a SageMaker framework image finds a script: the training toolkit's hyperparameters
# (sagemaker-training-toolkit, params.py) and the inference toolkit's environment.
TOOLKIT_PROGRAM, TOOLKIT_SUBMIT_DIRECTORY = "sagemaker_program", "sagemaker_submit_directory"
PROGRAM_ENVIRONMENT = ("SAGEMAKER_PROGRAM", "SAGEMAKER_SUBMIT_DIRECTORY")
DEFINITION = "definition"  # <sha>/pipeline.json: a definition too large to inline
CHAMPION_POINTER, CHAMPION_MODEL, BASELINE_PROFILE = "champion.json", "model.tar.gz", "baseline_profile.json"
PRODUCTION_VARIANT, SHADOW_VARIANT = "production", "shadow"


@dataclass(frozen=True)
class Layout:
    """Where a model's objects live in its artifact bucket."""

    bucket: str
    model: str

    @property
    def prefix(self) -> str:
        """s3://<bucket>/<model>"""
        return f"s3://{self.bucket}/{self.model}"

    def key(self, area: str) -> str:
        """`<model>/<area>/`, relative to the bucket (for IAM resources, conditions and lifecycle rules)."""
        return f"{self.model}/{area}/"

    def uri(self, area: str, *parts: str) -> str:
        """s3://<bucket>/<model>/<area>/<parts...> (a prefix ending in / when no part is given)."""
        return f"s3://{self.bucket}/{self.key(area)}" + "/".join(parts)

    def capture(self, endpoint: str, variant: str | None = None) -> str:
        """SageMaker writes capture under `<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/`."""
        return self.uri(CAPTURE, endpoint, variant, "") if variant else self.uri(CAPTURE).rstrip("/")

    def report(self, execution_id: str, step: str, output: str, file: str) -> str:
        """A file a pipeline execution's step wrote (`executions/<id>/<step>/<output>/<file>`)."""
        return self.uri(EXECUTIONS, execution_id, step, output, file)


def layout(config: ModelConfig) -> Layout:
    return Layout(config.pipeline.bucket(config.model.name), config.model.name)


def champion_prefix(config: ModelConfig) -> str:
    """Where promotion keeps production's pointer, model and baseline (Evaluate and the monitor read it)."""
    return layout(config).uri(CHAMPION)


def shadow_evidence_prefix(config: ModelConfig, source: str) -> str:
    """Each ended hour of a variant's capture (or of the labels), as the shadow evaluation read it:
    `<this>/yyyy/mm/dd/hh.parquet`, written once so later evaluations do not read it again."""
    return layout(config).uri(MONITOR_STORE, "evidence", source, "")


def monitor_runs_prefix(config: ModelConfig) -> str:
    """Monitor runs' own objects: `<job>/manifests/<input>.json` and `<job>/shards/<host>/...`."""
    return layout(config).uri(MONITOR_STORE, "runs", "")


def monitor_hours_prefix(config: ModelConfig, variant: str = PRODUCTION_VARIANT) -> str:
    """The store of hour profiles: `<this>/yyyy/mm/dd/hh/<baseline>/{profile.json,predictions.parquet}`."""
    return layout(config).uri(MONITOR_STORE, "hours", variant, "")


def capture_prefix(config: ModelConfig) -> str:
    """The endpoint's DataCaptureConfig.DestinationS3Uri."""
    return layout(config).capture(config.promotion.endpoint(config.model.name))


def variant_capture_prefix(config: ModelConfig, variant: str) -> str:
    return layout(config).capture(config.promotion.endpoint(config.model.name), variant)


def ground_truth_prefix(config: ModelConfig) -> str:
    """Where labels arrive (Model Monitor's ground-truth layout, yyyy/mm/dd/hh/ of arrival)."""
    return layout(config).uri(GROUND_TRUTH)


def endpoint_role_arn(config: ModelConfig) -> str:
    """The execution role of the SageMaker models behind the endpoint (created by the serving
    account's stack)."""
    region = config.pipeline.region
    return f"arn:aws:iam::{config.serving_account}:role/{role_name(config.model.name, region, ENDPOINT_ROLE)}"


def serves_package_image(config: ModelConfig) -> bool:
    """Whether the endpoint runs the image the package names (a team's image, a framework image)
    rather than the job image, which a serving account of its own runs from its copy."""
    script = config.training.script
    return config.training.outside_image is not None or bool(script and script.framework_image)


def image_copy(image: str, training_account: str, serving_account: str) -> str | None:
    """The serving account's copy of an image the training account's stack built (a CDK asset:
    each account's stack pushes it to its own bootstrap repository, `cdk-<qualifier>-container-assets-
    <account>-<region>`, under the same content hash); None for any other image."""
    found = re.match(
        rf"^{training_account}\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?P<cn>\.cn)?/"
        rf"cdk-(?P<qualifier>[a-z0-9]+)-container-assets-{training_account}-(?P=region)(?P<tag>[:@].+)$",
        image,
    )
    if found is None:
        return None
    region, cn, qualifier, tag = found["region"], found["cn"] or "", found["qualifier"], found["tag"]
    return (
        f"{serving_account}.dkr.ecr.{region}.amazonaws.com{cn}/"
        f"cdk-{qualifier}-container-assets-{serving_account}-{region}{tag}"
    )


def registry_group(config: ModelConfig, account: str) -> str:
    """How a caller in `account` names the model package group: its name in the registry's own
    account, its ARN from any other ("To register a model version in a model group of another
    account, pass the group's ARN", CreateModelPackage.ModelPackageGroupName and
    ListModelPackages.ModelPackageGroupName: "the name or Amazon Resource Name (ARN)", SageMaker API
    reference; "Cross-account Model Registry", SageMaker developer guide)."""
    group = config.registry.model_package_group
    return group if account == config.registry_account else ResourceNames.of(config).model_package_group_arn


# An image in Amazon ECR: repository names as the ECR API reference gives them
# (CreateRepository.repositoryName), a tag as Docker allows it, or a sha256 digest.
ECR_IMAGE_PATTERN = (
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(-[a-z]+)+-\d)\.amazonaws\.com(\.cn)?/"
    r"(?P<repository>(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$"
)


def ecr_repository_arn(image_uri: str) -> str:
    """The ECR repository an image lives in, as an IAM resource."""
    found = re.match(ECR_IMAGE_PATTERN, image_uri)
    if found is None:
        raise ValueError(f"{image_uri} is not an image in Amazon ECR (<account>.dkr.ecr.<region>.amazonaws.com/...)")
    partition = "aws-cn" if ".amazonaws.com.cn/" in image_uri else "aws"
    account, region, repository = found["account"], found["region"], found["repository"]
    return f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"


def job_image_uri(account: str, region: str, model: str, tag: str) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com/{job_image_repository(model)}:{tag}"


# ---- one model's names, as its stack creates them

BUCKET_NAME_LIMIT = 63


@dataclass(frozen=True)
class ResourceNames:
    model: str
    account: str
    region: str
    bucket: str
    role_name: str
    model_package_group: str
    endpoint: str
    registry_account: str = ""
    serving_account: str = ""

    @classmethod
    def of(cls, config: ModelConfig) -> ResourceNames:
        from pipelines.errors import ConfigError

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
            model_package_group=config.registry.model_package_group,
            endpoint=config.promotion.endpoint(model),
            registry_account=config.registry_account,
            serving_account=config.serving_account,
        )

    @property
    def single_account(self) -> bool:
        """`account` is the training account; the registry and serving accounts are it by default."""
        return self.registry_account == self.serving_account == self.account

    @property
    def model_package_group_arn(self) -> str:
        return (
            f"arn:aws:sagemaker:{self.region}:{self.registry_account}:model-package-group/"
            f"{self.model_package_group.lower()}"
        )

    def stack_of(self, role: str) -> str:
        """The stack of a role (`training`, `registry`, `serving`); the training account's is the
        one-account stack."""
        return stack_name(self.model, "" if role == "training" else role)

    @property
    def rearm_role_arn(self) -> str:
        """The training account's role a serving account of its own re-arms the retraining alarms as."""
        return f"arn:aws:iam::{self.account}:role/{role_name(self.model, self.region, 'rearm')}"

    @property
    def audit_table_arn(self) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{self.audit_table}"

    @property
    def key_alias_arn(self) -> str:
        """The training account's key by its alias, as another account names it."""
        return f"arn:aws:kms:{self.region}:{self.account}:{key_alias(self.model)}"

    def serving_role_arn(self, purpose: str) -> str:
        """A role the serving account's stack creates by name, for the other accounts' policies."""
        return f"arn:aws:iam::{self.serving_account}:role/{role_name(self.model, self.region, purpose)}"

    @property
    def layout(self) -> Layout:
        return Layout(self.bucket, self.model)

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.role_name}"

    @property
    def endpoint_role_name(self) -> str:
        return role_name(self.model, self.region, ENDPOINT_ROLE)

    @property
    def artifact_prefix(self) -> str:
        """Where the definition keeps everything of this model: s3://<bucket>/<model>."""
        return self.layout.prefix

    @property
    def pipeline(self) -> str:
        return pipeline_name(self.model)

    @property
    def pipeline_arn(self) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:pipeline/{self.pipeline}"

    @property
    def stack(self) -> str:
        return stack_name(self.model)

    @property
    def audit_table(self) -> str:
        return audit_table(self.model)

    def alarm_arn(self, alarm: str, account: str = "") -> str:
        return f"arn:aws:cloudwatch:{self.region}:{account or self.account}:alarm:{alarm}"
