"""The model config: one YAML file, validated once into typed objects.

Every other part of the project (definition builder, job code, monitor, retrain trigger, CDK app,
local runtime, backtest) reads these objects; no threshold is written twice. A bad value fails
at load time with the field's dotted path and what is allowed there.
"""

from __future__ import annotations

import functools
import json
import math
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from pipelines import naming
from pipelines.errors import ConfigError
from pipelines.gates import catalog

NAME_PATTERN = r"^[a-z][a-z0-9-]{1,46}[a-z0-9]$"


def _known_metric(value: str) -> str:
    if value not in catalog.ALL_METRICS:
        raise ValueError(f"unknown metric {value!r}; metrics: {', '.join(sorted(catalog.ALL_METRICS))}")
    return value


_known_metric.__doc__ = "a metric of the model's problem type (pipelines/gates/catalog.py)"  # shown in the reference
Metric = Annotated[str, AfterValidator(_known_metric)]


class _Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently become a default. No float may be
    infinite or NaN: CloudWatch, CloudFormation and JSON take none of them."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, use_attribute_docstrings=True)


def _number(value: Any) -> Any:
    """YAML reads yes/no/on/off/true/false as booleans, and Python takes a boolean for 1 or 0: a
    number field refuses them (pydantic's strict mode would also refuse enums from strings and
    tuples from YAML lists, so it is not used)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()} (YAML reads yes/no/on/off as booleans)")
    return value


def _number_or_text(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(
            f"expected a number or text, got {str(value).lower()} (YAML reads yes/no/on/off as booleans; quote it)"
        )
    return value


Int = Annotated[int, BeforeValidator(_number)]
Float = Annotated[float, BeforeValidator(_number)]

# Durations are bounded: longer spans mean "never", and Python's timedelta and pandas' Timedelta
# (about 292 years) must hold them where they are used (the trigger function, the data windows).
MAX_DAYS = 3650
MAX_HOURS = MAX_DAYS * 24


@functools.cache
def instance_types(shape: str) -> tuple[str, ...]:
    """The instance types SageMaker accepts for a job kind: the enum of `shape` in botocore's
    SageMaker service model (loaded on first use, once)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return tuple(model.shape_for(shape).enum)


def _instance_type(shape: str, what: str) -> AfterValidator:
    def check(value: str) -> str:
        valid = instance_types(shape)
        if value not in valid:
            family = value.rsplit(".", 1)[0] + "."
            examples = [v for v in valid if v.startswith(family)][:4] or list(valid[:4])
            raise ValueError(
                f"{value!r} is not a SageMaker {what} instance type (botocore {shape}); e.g. {', '.join(examples)}"
            )
        return value

    check.__doc__ = f"one of botocore's SageMaker `{shape}`"  # shown in the reference
    return AfterValidator(check)


ProcessingInstance = Annotated[str, _instance_type("ProcessingInstanceType", "processing")]
TrainingInstance = Annotated[str, _instance_type("TrainingInstanceType", "training")]
EndpointInstance = Annotated[str, _instance_type("ProductionVariantInstanceType", "endpoint")]
# Registered as the model package's inference and transform instances (definition.py).
InferenceInstance = Annotated[
    str,
    _instance_type("ProductionVariantInstanceType", "endpoint"),
    _instance_type("TransformInstanceType", "batch transform"),
]


class FieldError(ValueError):
    """An error of a check across fields that belongs to one of them: `path` is relative to the
    model whose validator raised it, so the reported location names that field, not its parent."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        self.path = path
        super().__init__(message)


# --------------------------------------------------------------------------- model


class FeatureType(StrEnum):
    numeric = "numeric"
    categorical = "categorical"


# Feature names are CloudWatch dimension values (pipelines/drift/metrics.py, pipelines/monitoring/alarms.py):
# at most 255 characters in an alarm's dimension (CfnAlarm.DimensionProperty, "The value for the
# dimension, from 1–255 characters in length": https://docs.aws.amazon.com/cdk/api/v2/docs/
# aws-cdk-lib.aws_cloudwatch.CfnAlarm.DimensionProperty.html; aws-cdk-lib's metric.js refuses longer
# ones at synth), ASCII without control characters and with a non-whitespace character
# ("Dimension", Amazon CloudWatch API Reference:
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Dimension.html).
MAX_DIMENSION_VALUE = 255
_DIMENSION_VALUE = re.compile(r"[ -~]*[!-~][ -~]*")


class Feature(_Strict):
    name: Annotated[str, Field(min_length=1)]
    """Column name; becomes a CloudWatch dimension value (printable ASCII, at most 255 characters)."""
    type: FeatureType
    """How the data check, the estimators and the drift monitor treat the column."""
    min: Float | None = None
    """Numeric only: smallest valid value; rows below count toward `data.checks.max_out_of_range_rate`."""
    max: Float | None = None
    """Numeric only: largest valid value."""
    categories: list[str] | None = None
    """Categorical only: the valid labels, or numeric codes compared with the data as text (`1` matches 1 and 1.0)."""
    max_null_rate: Annotated[Float, Field(ge=0, le=1)] | None = None
    """This feature's own null-rate limit, instead of `data.checks.max_null_rate`."""

    @field_validator("name")
    @classmethod
    def _dimension_value(cls, value: str) -> str:
        if len(value) > MAX_DIMENSION_VALUE or not _DIMENSION_VALUE.fullmatch(value):
            raise ValueError(
                f"feature names are CloudWatch dimension values: printable ASCII with a non-space character, at "
                f"most {MAX_DIMENSION_VALUE} characters (got {len(value)}); rename the column"
            )
        return value

    @field_validator("categories", mode="before")
    @classmethod
    def _codes_are_labels(cls, value: Any) -> Any:
        """Numeric codes (`[1, 2, 3]`) are labels too, compared with the data as text (a whole
        number without a decimal point, as `training_containers.validation.category_labels` writes
        the data's)."""
        if not isinstance(value, list):
            return value
        labels = [_number_or_text(v) for v in value]
        whole = [int(v) if isinstance(v, float) and v.is_integer() else v for v in labels]
        return [str(v) if isinstance(v, int | float) else v for v in whole]

    @model_validator(mode="after")
    def _bounds_match_type(self) -> Feature:
        if self.type is FeatureType.categorical and (self.min is not None or self.max is not None):
            raise FieldError(
                ("min" if self.min is not None else "max",),
                "min/max apply to numeric features only; use categories instead",
            )
        if self.type is FeatureType.numeric and self.categories is not None:
            raise FieldError(("categories",), "categories apply to categorical features only")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise FieldError(("min",), f"min ({self.min}) is greater than max ({self.max})")
        return self


TimeUnit = Literal["s", "ms", "us", "ns"]


class ModelSection(_Strict):
    """`time_column` holds timestamps (or text that parses as one, except dates of numbers alone
    such as 01/02/2025, whose day and month order is ambiguous). Numbers are refused unless
    `time_unit` says they are epoch times in seconds, milliseconds, microseconds or nanoseconds:
    a year or a row number read as nanoseconds since 1970 would put every row in one window."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    """Lowercase model name, used in every resource name (`<name>-retraining`, `<name>-endpoint`, ...)."""
    problem_type: catalog.ProblemType
    """The kind of model."""
    label: str
    """The label column."""
    positive_class: Annotated[int | str, BeforeValidator(_number_or_text)] = 1
    """The label value of the positive class."""
    id_column: str
    """A unique id per row (duplicates count toward `data.checks.max_duplicate_ids`)."""
    time_column: str
    """Event time: timestamps, or text that parses as one (not 01/02/2025: write ISO 8601); windows and splits are cut
    on it."""
    time_unit: TimeUnit | None = None
    """Read a numeric time column as epoch times in this unit; without it a numeric time column (a year, say) fails the
    data check `schema_dtypes`."""
    features: Annotated[list[Feature], Field(min_length=1)]
    """The model's inputs, in order. An error inside one names it: `model.features[2].max (feature 'hour_of_day'):
    ...`."""

    @model_validator(mode="after")
    def _columns_distinct(self) -> ModelSection:
        names = [f.name for f in self.features]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise FieldError(("features",), f"feature names must be unique; repeated: {duplicates}")
        reserved = {self.label, self.id_column, self.time_column} & set(names)
        if reserved:
            raise FieldError(
                ("features",), f"label, id_column and time_column cannot also be features: {sorted(reserved)}"
            )
        return self

    def feature(self, name: str) -> Feature:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]


# --------------------------------------------------------------------------- data


class AthenaSource(_Strict):
    catalog: str = "AwsDataCatalog"
    """The data catalog the query runs against."""
    database: str
    """The database the query runs in."""
    work_group: str = "primary"
    """The Athena workgroup (its result location and encryption apply)."""
    output_s3_uri: Annotated[str, Field(pattern=r"^s3://")]
    """Where the processing input writes the query's result (Athena's OutputS3Uri)."""


class RedshiftSource(_Strict):
    cluster_id: str
    """The provisioned cluster's identifier."""
    database: str
    """The database the query runs in."""
    db_user: str
    """The database user the query runs as."""
    cluster_role_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::")]
    """The role Redshift assumes to UNLOAD the result to S3."""
    output_s3_uri: Annotated[str, Field(pattern=r"^s3://")]
    """Where UNLOAD writes the query's result (the Redshift dataset definition's OutputS3Uri)."""


class FilesSource(_Strict):
    """A prefix of Parquet or CSV objects (an S3 URI, or a local path for local runs)."""

    kind: Literal["files"]
    """Files under an S3 prefix."""
    uri: Annotated[str, Field(min_length=1)]
    """An `s3://` prefix (a local folder in a backtest config)."""
    format: Literal["parquet", "csv"] = "parquet"
    """Parquet is read by content (Athena and Redshift write results without an extension), CSV by its `.csv` name;
    names starting with `_` or `.` and empty files are passed over, any other file fails the data check `readable`."""


class SqlSource(_Strict):
    """A query. On SageMaker it runs through a processing input's dataset definition
    (Athena or Redshift); locally the same SQL runs on DuckDB over `local_tables`."""

    kind: Literal["sql"]
    """A query: on SageMaker the processing input's Athena or Redshift dataset definition; locally the same SQL on
    DuckDB over `local_tables`."""
    query: Annotated[str, Field(min_length=1)]
    """The SQL."""
    engine: Literal["athena", "redshift"]
    """Which service runs the query on SageMaker."""
    athena: AthenaSource | None = None
    """Required with `engine: athena`."""
    redshift: RedshiftSource | None = None
    """Required with `engine: redshift`."""
    local_tables: dict[str, str] = Field(default_factory=dict)
    """Table name → file URI for local runs only; not checked."""

    @model_validator(mode="after")
    def _engine_settings_present(self) -> SqlSource:
        if getattr(self, self.engine) is None:
            raise FieldError((self.engine,), f"engine is '{self.engine}' but the '{self.engine}' section is missing")
        return self


Source = Annotated[FilesSource | SqlSource, Field(discriminator="kind")]


class Window(_Strict):
    """How much history trains the candidate.

    rolling: the last `history_days` only; expanding: all history; weighted: all history with
    sample weights halving every `half_life_days` of age.
    """

    strategy: Literal["rolling", "expanding", "weighted"]
    """rolling: the last `history_days` of history; expanding: all history; weighted: all history, sample weights
    halving every `half_life_days` of age."""
    fresh_days: Annotated[Int, Field(gt=0, le=MAX_DAYS)]
    """The labelled window: the newest days, from which validation and test rows are cut."""
    history_days: Annotated[Int, Field(gt=0, le=MAX_DAYS)] | None = None
    """Required with `rolling`."""
    half_life_days: Annotated[Float, Field(gt=0, le=MAX_DAYS)] | None = None
    """Required with `weighted`."""
    label_delay_days: Annotated[Float, Field(ge=0, le=MAX_DAYS)] = 0
    """How long labels take to settle (chargebacks: weeks), for a fresh source that holds rows whose labels have not:
    rows newer than the window end less this are left out of training, the checks and the baseline, whatever their
    label says (not yet charged back is not legitimate). A source of settled rows only needs 0."""

    @model_validator(mode="after")
    def _sizes_match_strategy(self) -> Window:
        if self.strategy == "rolling" and self.history_days is None:
            raise FieldError(("history_days",), "strategy 'rolling' needs history_days")
        if self.strategy == "weighted" and self.half_life_days is None:
            raise FieldError(("half_life_days",), "strategy 'weighted' needs half_life_days")
        if self.history_days is not None and self.history_days < self.fresh_days:
            raise FieldError(
                ("history_days",),
                f"history_days ({self.history_days}) must be at least fresh_days ({self.fresh_days})",
            )
        if self.label_delay_days >= self.fresh_days:
            raise FieldError(
                ("label_delay_days",),
                f"label_delay_days ({self.label_delay_days:g}) leaves no labelled row in the fresh window of "
                f"{self.fresh_days} days: make fresh_days longer than the delay",
            )
        return self


class DataChecks(_Strict):
    min_rows: Annotated[Int, Field(ge=1)] = 1000
    """Fewer rows in the fresh window fail the data check."""
    label_rate: tuple[Float, Float] = (0.0, 1.0)
    """[low, high] bounds of the positive-label rate (a binary classifier only)."""
    max_null_rate: Annotated[Float, Field(ge=0, le=1)] = 0.05
    """Largest share of nulls in any feature (unless the feature sets its own)."""
    max_duplicate_ids: Annotated[Int, Field(ge=0)] = 0
    """Largest number of repeated `id_column` values."""
    max_out_of_range_rate: Annotated[Float, Field(ge=0, le=1)] = 0.0
    """Largest share of values outside a feature's `min`/`max` or `categories`."""
    max_outside_window_rate: Annotated[Float, Field(ge=0, le=1)] = 0.0
    """Largest share of rows whose time falls outside the window."""

    @field_validator("label_rate")
    @classmethod
    def _rate_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 <= low <= high <= 1:
            raise ValueError(f"label_rate must be [low, high] with 0 <= low <= high <= 1, got {list(value)}")
        return value


class Split(_Strict):
    validation_fraction: Annotated[Float, Field(gt=0, lt=0.5)] = 0.15
    """Share of the fresh window, newest rows, held out for validation (early stopping, calibration)."""
    test_fraction: Annotated[Float, Field(gt=0, lt=1)] = 0.3
    """Share of the fresh window, newest rows, held out for the gates."""


class DataSection(_Strict):
    fresh: Source
    """The labelled window the model is trained and judged on."""
    historical: Source | None = None
    """Older data added by the window strategy; a configured source that delivers no rows fails the check
    `historical_rows`."""
    window: Window
    """How history and the fresh window combine."""
    checks: DataChecks = DataChecks()
    """The data checks DataPull runs before training."""
    split: Split = Split()
    """How the fresh window is split."""


# --------------------------------------------------------------------------- training


ESTIMATOR_PARAMETERS: dict[str, frozenset[str]] = {
    "gradient_boosting": frozenset(
        {
            "learning_rate",
            "max_iter",
            "max_leaf_nodes",
            "max_depth",
            "min_samples_leaf",
            "l2_regularization",
            "max_bins",
            "class_weight",
            "early_stopping",
        }
    ),
    "logistic_regression": frozenset({"C", "max_iter", "class_weight", "tol"}),
    "random_forest": frozenset(
        {
            "n_estimators",
            "max_depth",
            "min_samples_split",
            "min_samples_leaf",
            "max_features",
            "max_leaf_nodes",
            "bootstrap",
            "max_samples",
            "class_weight",
        }
    ),
}
ESTIMATOR_PARAMETERS |= {
    "xgboost": frozenset(
        {
            "n_estimators",
            "max_depth",
            "learning_rate",
            "subsample",
            "colsample_bytree",
            "min_child_weight",
            "gamma",
            "reg_alpha",
            "reg_lambda",
            "max_bin",
            "scale_pos_weight",
        }
    ),
    "lightgbm": frozenset(
        {
            "n_estimators",
            "num_leaves",
            "max_depth",
            "learning_rate",
            "subsample",
            "subsample_freq",
            "colsample_bytree",
            "min_child_samples",
            "reg_alpha",
            "reg_lambda",
            "class_weight",
        }
    ),
}
CLASSIFIER_ONLY_PARAMETERS = frozenset({"class_weight", "scale_pos_weight"})
FRAMEWORK_REPOSITORIES = ("sagemaker-scikit-learn",)  # framework images whose server reads the source archive
HYPERPARAMETER_LIMIT = 100  # CreateTrainingJob.HyperParameters entries (botocore's SageMaker model)
# The problem types each estimator has a scikit-learn implementation for (training_containers/estimators.py).
ESTIMATOR_PROBLEM_TYPES: dict[str, tuple[catalog.ProblemType, ...]] = {
    "gradient_boosting": catalog.PROBLEM_TYPES,
    "logistic_regression": ("binary_classification", "multiclass_classification"),
    "random_forest": catalog.PROBLEM_TYPES,
    "xgboost": catalog.PROBLEM_TYPES,
    "lightgbm": catalog.PROBLEM_TYPES,
}


def _ecr_image(value: str) -> str:
    if len(value) > 255 or re.match(naming.ECR_IMAGE_PATTERN, value) is None:
        raise ValueError(
            f"{value!r} is not an image in Amazon ECR: give "
            "<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> or .../<repository>@sha256:<digest> "
            "(a tag or digest is required, repository names are lowercase, at most 255 characters)"
        )
    return value


_RELATIVE_FILE = r"^[A-Za-z0-9_-][A-Za-z0-9_-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*\.py$"  # no "..", not absolute


class TrainingScript(_Strict):
    """The team's own training code, run the way SageMaker's framework estimators run a script:
    `entry_point` reads the `SM_CHANNEL_TRAIN` and `SM_CHANNEL_VALIDATION` folders and writes its
    model to `SM_MODEL_DIR`; hyperparameters arrive as `--name value`. `inference` defines
    `model_fn(model_dir)` and `predict_fn(data, model)` (the SageMaker inference toolkit's names);
    Evaluate and the endpoint predict through them. docs/bring-your-own-model.md has the contract."""

    source_dir: str
    """The folder of the code, relative to the config file; shipped whole, content-addressed."""
    entry_point: Annotated[str, Field(pattern=_RELATIVE_FILE)] = "train.py"
    """The training script, relative to `source_dir`."""
    inference: Annotated[str, Field(pattern=_RELATIVE_FILE)] = "inference.py"
    """The module with `model_fn` and `predict_fn`, relative to `source_dir`."""
    requirements: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_./-]*\.txt$")] | None = None
    """A pip requirements file in `source_dir`, installed in the Train job before the script runs
    (and shipped with the model for inference); it needs the package index, so not with
    `pipeline.network_isolation`."""
    framework_image: Annotated[str, AfterValidator(_ecr_image)] | None = None
    """The SageMaker scikit-learn image to run the script in, instead of the pinned job image: its
    training toolkit runs `entry_point`, its server serves `inference` (which then defines
    `input_fn` too), and Evaluate scores the model through it by batch transform. Locally the job
    image's code stands in for it. Its server downloads the source dir from S3 and pip-installs it,
    so not with `pipeline.network_isolation`."""

    @model_validator(mode="after")
    def _served_from_its_source(self) -> TrainingScript:
        # The scikit-learn image serves through sagemaker_containers, which downloads the source
        # archive SAGEMAKER_SUBMIT_DIRECTORY names; images on sagemaker-inference-toolkit (PyTorch,
        # TensorFlow, ...) load code from the model archive's code/ only, which is not repacked here.
        found = re.match(naming.ECR_IMAGE_PATTERN, self.framework_image or "")
        if found is not None and found["repository"] not in FRAMEWORK_REPOSITORIES:
            raise FieldError(
                ("framework_image",),
                f"{found['repository']} is not a framework image a script is served from here; supported: "
                f"{', '.join(FRAMEWORK_REPOSITORIES)} (others load code from the model archive, which is not "
                "repacked): run the script in the job image or bring the image as training.image",
            )
        return self

    @model_validator(mode="after")
    def _toolkit_requirements(self) -> TrainingScript:
        if self.framework_image and self.requirements not in (None, "requirements.txt"):
            raise FieldError(
                ("requirements",),
                "a framework image's training toolkit installs requirements.txt at the source dir's root "
                f"only; name it requirements.txt (not {self.requirements})",
            )
        return self


class TrainingImage(_Strict):
    """The team's own container image, following SageMaker's training and serving contract: run
    with `train` it reads `/opt/ml/input/data/{train,validation}` and writes `/opt/ml/model`; run
    with `serve` it answers `GET /ping` and `POST /invocations` on port 8080. Evaluate scores the
    test split through that serving contract (a batch transform), so the image needs none of this
    project's code. docs/bring-your-own-model.md has the contract."""

    # In Amazon ECR, as `registry/repository[:tag]` or `registry/repository[@digest]`
    # (AlgorithmSpecification.TrainingImage, SageMaker API reference); at most 255 characters
    # (ContainerDefinition.Image in botocore's model). The repository is what the roles may pull.
    uri: Annotated[str, AfterValidator(_ecr_image)]
    """The image in Amazon ECR, `<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>` or
    `...@sha256:<digest>`; the pipeline's and the endpoint's roles get pull access to its repository."""
    local_command: Annotated[list[str], Field(min_length=1)] | None = None
    """What stands in for the image on a machine without Docker (`run-local`), run from the
    config's folder with `train` or `serve` appended, e.g. `[python, models/churn/container.py]`;
    `OPT_ML_ROOT` names the folder that stands for `/opt/ml`, `SAGEMAKER_BIND_TO_PORT` the port.
    Without it `run-local` refuses the pipeline before anything runs."""


class TrainingSection(_Strict):
    estimator: Literal["gradient_boosting", "logistic_regression", "random_forest", "xgboost", "lightgbm"] | None = None
    """A built-in estimator; or `script`, or `image`: exactly one of the three."""
    script: TrainingScript | None = None
    """The team's own training code instead of a built-in estimator."""
    image: TrainingImage | None = None
    """The team's own training and serving image instead of a built-in estimator."""
    hyperparameters: dict[str, int | float | str | bool] = Field(default_factory=dict)
    """Passed to the estimator (names checked against its own), to the script as `--name value`,
    or to the image in `hyperparameters.json` (values as text)."""
    instance_type: TrainingInstance = "ml.m5.xlarge"
    """The training job's instance."""
    instance_count: Annotated[Int, Field(ge=1)] = 1
    """Training instances."""
    max_runtime_seconds: Annotated[Int, Field(ge=60, le=2_419_200)] = 3600
    """The training budget (SageMaker stops the job after it)."""
    use_spot: bool = False
    """Managed spot training; needs `max_wait_seconds` ≥ `max_runtime_seconds`."""
    max_wait_seconds: Annotated[Int, Field(ge=60)] | None = None
    """With `use_spot`: the longest wait for spot capacity plus the run."""
    random_seed: Int = 42
    """Seeds the split and a built-in estimator (a script gets only its own hyperparameters)."""

    @property
    def outside_image(self) -> str | None:
        """The image that trains and serves the model when it is not the job image: the team's
        own (`image`) or a SageMaker framework image a script runs in."""
        if self.image is not None:
            return self.image.uri
        return self.script.framework_image if self.script is not None else None

    @model_validator(mode="after")
    def _one_source(self) -> TrainingSection:
        named = [s for s in (self.estimator, self.script, self.image) if s is not None]
        if len(named) != 1:
            raise FieldError(
                ("estimator",),
                "say where the model comes from exactly once: a built-in estimator (training.estimator), "
                "a script (training.script) or an image (training.image)",
            )
        return self

    @model_validator(mode="after")
    def _known_hyperparameters(self) -> TrainingSection:
        if self.estimator is None:
            return self  # a script's or an image's arguments are its own
        unknown = sorted(set(self.hyperparameters) - ESTIMATOR_PARAMETERS[self.estimator])
        if unknown:
            allowed = ", ".join(sorted(ESTIMATOR_PARAMETERS[self.estimator]))
            raise FieldError(
                ("hyperparameters",), f"unknown hyperparameters {unknown} for {self.estimator}; allowed: {allowed}"
            )
        return self

    @model_validator(mode="after")
    def _hyperparameters_fit_sagemaker(self) -> TrainingSection:
        # CreateTrainingJob.HyperParameters in botocore's SageMaker model: at most 100 entries, names
        # up to 256 characters, values up to 2500 (as sent: text); the job adds two of its own.
        if len(self.hyperparameters) > HYPERPARAMETER_LIMIT - 2:
            raise FieldError(
                ("hyperparameters",),
                f"{len(self.hyperparameters)} hyperparameters; SageMaker takes {HYPERPARAMETER_LIMIT} in all, "
                f"2 of which the training job's own: give at most {HYPERPARAMETER_LIMIT - 2}",
            )
        for name, value in self.hyperparameters.items():
            if len(name) > 256:
                raise FieldError(
                    ("hyperparameters",), f"hyperparameter name {name[:40]!r}... is longer than 256 characters"
                )
            if len(json.dumps(value)) > 2500:
                raise FieldError(
                    ("hyperparameters", name), f"{name}: the value is longer than SageMaker's 2500 characters"
                )
        return self

    @model_validator(mode="after")
    def _spot_needs_wait(self) -> TrainingSection:
        if self.use_spot:
            if self.max_wait_seconds is None:
                raise FieldError(("max_wait_seconds",), "use_spot needs max_wait_seconds (>= max_runtime_seconds)")
            if self.max_wait_seconds < self.max_runtime_seconds:
                raise FieldError(
                    ("max_wait_seconds",),
                    f"max_wait_seconds ({self.max_wait_seconds}) must be >= "
                    f"max_runtime_seconds ({self.max_runtime_seconds})",
                )
        elif self.max_wait_seconds is not None:
            raise FieldError(("max_wait_seconds",), "max_wait_seconds applies only when use_spot is true")
        return self


# --------------------------------------------------------------------------- gates

_WHERE = re.compile(r"^\s*(?P<column>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>==|!=|>=|<=|>|<)\s*(?P<value>.+?)\s*$")


class SegmentFilter(_Strict):
    column: str
    """A feature or the label."""
    op: Literal["==", "!=", ">=", "<=", ">", "<"] = "=="
    """The comparison."""
    value: Annotated[str | float | int, BeforeValidator(_number_or_text)]
    """Compared as a number when the column is numeric, as text otherwise."""


class _Bound(_Strict):
    """A metric with a floor (`min`) or a ceiling (`max`), exactly one of them: `min` for metrics
    where higher is better (accuracy, r2, ...), `max` for errors (rmse, mae, mse)."""

    metric: Metric
    """Measured on the test split (a gate) or on labelled live predictions."""
    min: Float | None = None
    """Fails below this value."""
    max: Float | None = None
    """Fails above this value."""

    @model_validator(mode="after")
    def _one_bound(self) -> Any:
        if (self.min is None) == (self.max is None):
            raise FieldError(("min",), f"{self.metric}: set min or max (exactly one)")
        return self

    @property
    def threshold(self) -> float:
        return self.min if self.min is not None else self.max  # type: ignore[return-value]

    @property
    def bound(self) -> Literal["min", "max"]:
        return "min" if self.min is not None else "max"

    def met(self, observed: float | None) -> bool | None:
        """Whether `observed` keeps to the bound; None when there is no value to judge."""
        if observed is None:
            return None
        return observed >= self.threshold if self.bound == "min" else observed <= self.threshold


class MetricGate(_Bound):
    """A bound on a test-split metric."""


class ChampionGate(_Strict):
    """The candidate may not be worse than the champion by more than `max_regression`, and must
    beat it by at least `min_improvement` (0 accepts a tie)."""

    metric: Metric
    """Compared with the champion's value on the same test split."""
    max_regression: Annotated[Float, Field(ge=0)] = 0.0
    """The candidate may be this much worse than the champion (in the metric's units; worse is
    lower, or higher for errors such as rmse)."""
    min_improvement: Annotated[Float, Field(ge=0)] = 0.0
    """Or: the candidate must be at least this much better."""

    @model_validator(mode="after")
    def _one_rule(self) -> ChampionGate:
        if self.max_regression > 0 and self.min_improvement > 0:
            raise FieldError(("min_improvement",), "set max_regression or min_improvement, not both: they contradict")
        return self


class SegmentAssertion(_Bound):
    """A bound on a metric of a slice of the test split. In a multiclass model, `recall` on the
    rows of one class (`where: '<label> == "<class>"'`) is that class's recall."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    """Names the gate in reports."""
    where: SegmentFilter
    """The rows of the segment, e.g. `where: 'country == "DE"'`."""
    min_samples: Annotated[Int, Field(ge=1)] = 30
    """Positives for recall, rows otherwise; too few fails the gate."""

    @field_validator("where", mode="before")
    @classmethod
    def _parse_where(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        match = _WHERE.match(value)
        if match is None:
            raise ValueError(f"where must look like 'column == \"value\"', got {value!r}")
        raw = match["value"]
        parsed: Any
        if raw[:1] in "\"'" and raw[-1:] == raw[:1]:
            parsed = raw[1:-1]
        else:
            try:
                parsed = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"cannot read value {raw!r} in where (quote strings)") from exc
        return {"column": match["column"], "op": match["op"], "value": parsed}


class EdgeCases(_Strict):
    """A CSV of hand-picked rows (features plus `expected_label`) the candidate must get right."""

    uri: str
    """A CSV with the features and `expected_label`."""
    min_pass_rate: Annotated[Float, Field(ge=0, le=1)]
    """Share of the cases the candidate must get right."""
    tolerance: Annotated[Float, Field(ge=0)] | None = None
    """Regression only, and required there: a case passes when the prediction is within this
    distance of `expected_label`."""


class GatesSection(_Strict):
    metrics: list[MetricGate] = Field(default_factory=list)
    """Absolute thresholds on test-split metrics."""
    champion: ChampionGate | None = None
    """The candidate against the current champion."""
    segments: list[SegmentAssertion] = Field(default_factory=list)
    """Thresholds on slices of the test split."""
    edge_cases: EdgeCases | None = None
    """Hand-written cases the candidate must get right."""
    decision_threshold: Annotated[Float, Field(gt=0, lt=1)] = 0.5
    """The score above which a row is predicted positive (precision, recall, f1, accuracy)."""

    @model_validator(mode="after")
    def _names_unique(self) -> GatesSection:
        names = [s.name for s in self.segments]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise FieldError(("segments",), f"segment assertion names must be unique; repeated: {repeated}")
        return self


# --------------------------------------------------------------------------- registry, alerts


class RegistrySection(_Strict):
    model_package_group: Annotated[str, Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")]
    """The Model Registry group each candidate is registered in."""
    approval: Literal["manual", "auto"] = "manual"
    """manual: registered PendingManualApproval, approved in Studio; auto: registered Approved."""
    inference_instance_types: list[InferenceInstance] = Field(default_factory=lambda: ["ml.m5.large"])
    """Recorded on the model package as its inference and transform instances."""

    @property
    def approval_status(self) -> str:
        return "Approved" if self.approval == "auto" else "PendingManualApproval"


class SlackRoute(_Strict):
    workspace_id: str
    """The AWS Chatbot Slack workspace (team) id."""
    channel_id: str
    """The Slack channel id."""


class PagerDutyRoute(_Strict):
    """PagerDuty through its Events API v2. The routing (integration) key is a credential: it is
    never in the config or the template. Store it in AWS Secrets Manager (the secret's value is the
    32-character key, or JSON `{"routing_key": "..."}`) and name the secret here, by name or ARN;
    a function of the stack reads it and sends each alert as a PagerDuty event."""

    # A secret name (ASCII letters, digits and /_+=.@-, up to 512) or its ARN (Secrets Manager API
    # reference, CreateSecret Name).
    routing_key_secret: Annotated[
        str,
        Field(
            max_length=2048,
            pattern=r"^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:)?[A-Za-z0-9/_+=.@-]{1,512}$",
        ),
    ]
    """The Secrets Manager secret holding the Events API v2 routing key (the key never enters the config or the
    template)."""
    severity: Literal["critical", "error", "warning", "info"] = "error"
    """The severity of the PagerDuty events sent."""

    @field_validator("routing_key_secret")
    @classmethod
    def _a_name_not_a_key(cls, value: str) -> str:
        if re.fullmatch(r"[A-Za-z0-9]{32}", value):
            raise ValueError(
                "this looks like the 32-character routing key itself: store it in AWS Secrets Manager and give the "
                "secret's name or ARN here, so the key stays out of the config and the function's environment"
            )
        return value


class AlertsSection(_Strict):
    email: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(default_factory=list)
    """Addresses subscribed to the alert topic (each confirms once)."""
    pagerduty: PagerDutyRoute | None = None
    """A function sends Events API v2 events."""
    slack: SlackRoute | None = None
    """Through AWS Chatbot."""

    @model_validator(mode="before")
    @classmethod
    def _no_url_with_a_key(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "pagerduty_events_url" in raw:
            raise ValueError(
                "pagerduty_events_url is no longer read: the URL carries the integration key in plain text (in "
                "the config and the template). Store the routing key in AWS Secrets Manager and set "
                "alerts.pagerduty.routing_key_secret to the secret's name or ARN"
            )
        return raw


# --------------------------------------------------------------------------- drift, trigger


class PerformanceSlo(_Bound):
    """The live metric, measured on labelled captured predictions, and its floor (`min`) or ceiling
    (`max`, for errors such as rmse): past it the SLO alarm breaches."""


class DriftSection(_Strict):
    """Drift statistics and their verdict thresholds (effect sizes, not p-values).

    A feature is drifted when any of its statistics reaches its threshold; the statistics are
    defined in `pipelines/drift/statistics.py` and listed in docs/drift.md.
    """

    numeric_bins: Annotated[Int, Field(ge=2, le=100)] = 10
    """Reference-quantile bins per numeric feature, fixed at baseline time."""
    psi_threshold: Annotated[Float, Field(gt=0)] = 0.2
    """Population stability index above which a feature drifted."""
    ks_threshold: Annotated[Float, Field(gt=0, le=1)] = 0.1
    """Kolmogorov–Smirnov statistic above which a numeric feature drifted."""
    wasserstein_threshold: Annotated[Float, Field(gt=0)] = 0.1
    """Wasserstein distance, in reference standard deviations."""
    js_threshold: Annotated[Float, Field(gt=0, le=1)] = 0.1
    """Jensen–Shannon distance above which a categorical feature drifted."""
    cramers_v_threshold: Annotated[Float, Field(gt=0, le=1)] = 0.1
    """Cramér's V above which a categorical feature drifted."""
    ood_share_threshold: Annotated[Float, Field(gt=0, le=1)] = 0.05
    """Share of values outside the baseline range or in unseen categories."""
    null_rate_increase_threshold: Annotated[Float, Field(gt=0, le=1)] = 0.1
    """Increase of a feature's null rate over the baseline's."""
    label_shift_threshold: Annotated[Float, Field(gt=0, le=math.pi)] = 0.1
    """Cohen's h between the baseline's and the window's positive rates."""
    min_window_rows: Annotated[Int, Field(ge=1)] = 100
    """Fewer values give statistics but no verdict."""
    min_drifted_features: Annotated[Int, Field(ge=1)] = 2
    """The "k of N features" alarm: this many drifted features breach it."""
    min_labels_for_performance: Annotated[Int, Field(ge=1)] = 500
    """Fewer labelled predictions give no performance value."""
    performance_window_hours: Annotated[Float, Field(gt=0, le=9600)] = 24.0
    """Labelled predictions of this span count toward performance."""
    performance_slo: PerformanceSlo | None = None
    """The realized-performance alarm; without it there is none."""
    estimated_slo: PerformanceSlo | None = None
    """The estimated-performance alarm (binary classifiers): the metric as the calibrated scores of unlabelled traffic
    estimate it (pipelines/drift/estimation.py), and its floor or ceiling; without it there is none."""
    min_predictions_for_estimate: Annotated[Int, Field(ge=1)] = 500
    """Fewer predictions in the window give no estimate."""
    max_ood_share: Annotated[Float, Field(gt=0, lt=1)] | None = None
    """The out-of-distribution alarm: breaches when a feature has more than this share of a window's values outside
    the training range or in categories training never saw (e.g. 0.15); without it there is none."""
    schedule: str = "rate(1 hour)"
    """When the monitor runs: `rate(...)` or `cron(...)` (EventBridge Scheduler syntax)."""
    period_seconds: Annotated[Int, Field(ge=60, le=604_800)] | None = None
    """The alarms' period, a multiple of 60; default the rate's interval, required with cron. Times
    `trigger.evaluation_periods` it must fit CloudWatch's limit (1 day below a one-hour period, else 7 days)."""
    metric_namespace: Annotated[str, Field(pattern=r"^[A-Za-z0-9.\-_/#: ]{1,255}$")] = "DriftRetraining"
    """The CloudWatch namespace of the monitor's metrics (not `AWS/...`)."""
    monitor_silent_periods: Annotated[Int, Field(ge=1)] | None = None
    """N of the alarm `<model>-monitor-silent` (default: `trigger.evaluation_periods`): it fires once
    no window was judged in its whole evaluation range (5 periods for N = 3). Raise it where traffic
    has quiet hours under `min_window_rows` (an hourly monitor and 24, say), or it pages each night.
    Like `trigger.evaluation_periods`, N periods may span at most 7 days (1 day under an hour's period)."""
    treat_missing_data: Literal["missing", "notBreaching", "breaching", "ignore"] = "ignore"
    """How the alarms treat a period without data. `ignore` (the default) keeps an alarm's state
    where every real datapoint in its range breaches but fewer than M do: labels still to come, too
    few predictions for an estimate, a day without traffic. CloudWatch's own default, `missing`,
    goes to ALARM there once the oldest of them is M periods old (its "premature alarm state"), so
    after a promotion the old champion's datapoints, ageing out while the new champion's labels are
    pending, started a retrain on a model no longer serving. See docs/drift.md, "Alarms"."""
    instance_capture_mb: Annotated[Int, Field(ge=64, le=1_000_000)] = 2048
    """Captured megabytes one monitor instance profiles; a run with more new capture is sharded
    over several instances (ShardedByS3Key), and a merge step judges the window."""
    max_instances: Annotated[Int, Field(ge=1, le=100)] = 8
    """The most instances a sharded monitor run uses."""
    capture_settle_minutes: Annotated[Int, Field(ge=0, le=59)] = 15
    """Minutes past the hour a `rate(...)` schedule's run starts, so the hours it judges have their
    capture files uploaded (SageMaker buffers capture before writing it); the window stays the
    whole hours before the run's hour."""

    @field_validator("schedule")
    @classmethod
    def _schedule_expression(cls, value: str) -> str:
        return schedule_expression(value)

    @field_validator("metric_namespace")
    @classmethod
    def _not_aws_namespace(cls, value: str) -> str:
        if value.startswith("AWS/"):
            raise ValueError(f"metric_namespace cannot start with 'AWS/' (reserved for AWS services), got {value!r}")
        return value

    @field_validator("period_seconds")
    @classmethod
    def _whole_minutes(cls, value: int | None) -> int | None:
        if value is not None and value % 60:
            raise ValueError(f"period_seconds must be a multiple of 60 (a CloudWatch alarm period), got {value}")
        return value

    @model_validator(mode="after")
    def _period_known(self) -> DriftSection:
        if self.period_seconds is None and self.schedule.startswith("cron("):
            raise FieldError(
                ("period_seconds",),
                "period_seconds is required when schedule is cron(...): the alarm period cannot be derived",
            )
        interval = _rate_seconds(self.schedule)
        if self.period_seconds is not None and interval is not None and self.period_seconds != interval:
            raise FieldError(
                ("period_seconds",),
                f"period_seconds ({self.period_seconds}) must be the schedule's interval ({interval} s for "
                f"{self.schedule}): each run publishes one datapoint per alarm period",
            )
        return self

    @model_validator(mode="after")
    def _whole_hours(self) -> DriftSection:
        if self.period_seconds is not None or _rate_seconds(self.schedule) is not None:
            period = self.alarm_period_seconds
            if period % 3600:
                field = "period_seconds" if self.period_seconds is not None else "schedule"
                raise FieldError(
                    (field,),
                    f"the monitor judges whole hours of data capture (SageMaker partitions it by hour), so its "
                    f"period must be a whole number of hours, got {period} s; use rate(1 hour) or longer",
                )
        return self

    @model_validator(mode="after")
    def _rate_aligns_with_the_clock(self) -> DriftSection:
        if self.schedule.startswith("rate("):
            _aligned_cron(self.schedule)  # raises for a rate that cannot align
        return self

    @property
    def monitor_schedule(self) -> str:
        """The schedule expression deployed for the monitor: a cron as given, a rate as the cron
        that fires at the same interval on the clock's boundaries. EventBridge Scheduler starts a
        rate schedule from its creation time ("Schedule types on EventBridge Scheduler":
        https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html), so rate(1 hour)
        created at 10:17 judges 09:17-10:17 and stamps it into CloudWatch's 10:00-11:00 period; the
        alarms' periods are aligned to the clock, so the monitor's windows must be too. It fires
        `capture_settle_minutes` past the hour and judges the whole hours before it."""
        if self.schedule.startswith("cron("):
            return self.schedule
        minute, rest = _aligned_cron(self.schedule).removeprefix("cron(").split(" ", 1)
        return f"cron({self.capture_settle_minutes} {rest}" if minute == "0" else f"cron({minute} {rest}"

    @property
    def alarm_period_seconds(self) -> int:
        """One alarm period per monitor run: `period_seconds`, or the interval of a rate() schedule."""
        if self.period_seconds is not None:
            return self.period_seconds
        interval = _rate_seconds(self.schedule)
        if interval is None:  # cron without period_seconds is rejected at load
            raise ValueError(f"cannot derive an alarm period from schedule {self.schedule!r}")
        return interval


_RATE = re.compile(r"^rate\((?P<count>\d+) (?P<unit>minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((?P<fields>[^()]+)\)$")


def schedule_expression(value: str) -> str:
    """A schedule EventBridge (rules and Scheduler) accepts: rate(N unit), N at least 1, the unit
    singular for 1 and plural above ("rate(1 hour) and rate(5 hours) are valid"), or cron(...) of
    six fields with ? in day-of-month or day-of-week ("Schedule expressions for rules", EventBridge
    User Guide: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html)."""
    rate, cron = _RATE.match(value), _CRON.match(value)
    if rate is not None:
        count, unit = int(rate["count"]), rate["unit"]
        if count < 1:
            raise ValueError(f"a rate needs a value of at least 1, got {value!r}")
        if (count == 1) == unit.endswith("s"):
            right = unit.rstrip("s") + ("" if count == 1 else "s")
            raise ValueError(f"EventBridge wants rate({count} {right}), got {value!r}")
        return value
    if cron is not None:
        fields = cron["fields"].split()
        if len(fields) != 6:
            raise ValueError(
                f"a cron expression has six fields (minutes hours day-of-month month day-of-week year), "
                f"got {len(fields)} in {value!r}"
            )
        if "?" not in (fields[2], fields[4]):
            raise ValueError(f"a cron expression needs ? in day-of-month or day-of-week, got {value!r}")
        return value
    raise ValueError(f"a schedule is rate(N unit) or cron(...), got {value!r}")


def _rate_seconds(rate: str) -> int | None:
    match = _RATE.match(rate)
    if match is None:
        return None
    return int(match["count"]) * {"minute": 60, "hour": 3600, "day": 86_400}[match["unit"].rstrip("s")]


def _aligned_cron(rate: str) -> str:
    """rate(N unit) as a cron firing every N units on the clock's boundaries (UTC), when N divides
    the next unit evenly; otherwise no aligned cron exists and the config must give one."""
    match = re.match(r"^rate\((\d+) (minute|hour|day)s?\)$", rate)
    if match is None:
        raise FieldError(("schedule",), f"not a rate expression: {rate!r}")
    count, unit = int(match[1]), match[2]
    if unit == "minute" and 60 % count == 0:
        return "cron(* * * * ? *)" if count == 1 else f"cron(0/{count} * * * ? *)"
    if unit == "hour" and 24 % count == 0:
        return "cron(0 * * * ? *)" if count == 1 else f"cron(0 0/{count} * * ? *)"
    if unit == "day" and count == 1:
        return "cron(0 0 * * ? *)"
    raise FieldError(
        ("schedule",),
        f"{rate} cannot run on the clock's boundaries (the monitor's windows must match CloudWatch's alarm "
        "periods, which are aligned to the clock): use a rate that divides an hour or a day evenly, or a "
        "cron(...) expression with period_seconds",
    )


RetrainSignal = Literal["drifted_features", "performance_slo", "estimated_performance", "label_drift", "ood_share"]
# Each signal's alarm exists only when the drift section sets what it needs.
SIGNAL_NEEDS = {
    "performance_slo": "performance_slo",
    "estimated_performance": "estimated_slo",
    "ood_share": "max_ood_share",
}
# Asked for on purpose (not a default signal): without what it needs, a config naming it is refused.
DELIBERATE_SIGNALS = ("estimated_performance", "ood_share")


# PutMetricAlarm.AlarmName: 1-255 characters, no control characters (CloudWatch API reference);
# and no * or ?, which the trigger's IAM grant on the alarm's ARN would read as wildcards.
def _alarm_name(value: str) -> str:
    """a CloudWatch alarm name: 1-255 characters, not blank, no control characters, * or ?"""
    if not value.strip() or len(value) > 255:
        raise ValueError(f"{value!r} is not a CloudWatch alarm name (1-255 characters, not blank)")
    if re.search(r"[\x00-\x1f\x7f*?]", value):
        raise ValueError(f"{value!r}: an alarm name here has no control characters, * or ?")
    return value


# PutRule.EventPattern is at most 4,096 characters (Amazon EventBridge API reference, and botocore's
# events model); the trigger's pattern lists every alarm's ARN (about 60 characters besides the
# name), and this project's own retraining alarms take the rest.
MAX_EXTERNAL_ALARM_CHARACTERS = 2_500


class TriggerSection(_Strict):
    """What starts a retrain, and how often. `retrain_on` names the alarms whose ALARM starts one:
    `drifted_features` (at least `drift.min_drifted_features` features drifted) and
    `performance_slo` (when `drift.performance_slo` is set) and `estimated_performance` (when
    `drift.estimated_slo` is set: the performance the scores estimate before labels come, for a binary
    classifier whose labels arrive late), `label_drift` (a binary classifier's positive rate moved:
    Cohen's h at least `drift.label_shift_threshold`) and `ood_share` (when `drift.max_ood_share` is
    set: a feature's share of values outside the training range). `external_alarms` names a team's own
    CloudWatch alarms (a business metric, say) that start a retrain through the same gate. An alarm
    left out of `retrain_on` still exists, named
    `<model>-watch-...` instead of `<model>-retrain-...`, and changes state; it starts nothing. Leave
    `drifted_features` out where inputs move every period without hurting the model (prices,
    seasons): there the labels, not the inputs, say when to retrain.

    `retry_failed_runs`: a run an alarm started that fails (data check, gates, job error) is
    started again with back-off (one cooldown, then 2, 4, ... up to 7 days) while its alarm is still
    in ALARM. Off, the alarm stays in ALARM after a failure and only the max staleness (or the data
    moving back and again) starts the next run."""

    retrain_on: tuple[RetrainSignal, ...] = ("drifted_features", "performance_slo")
    """Which alarms start a retrain. A config in which nothing could start one is refused."""
    external_alarms: tuple[Annotated[str, AfterValidator(_alarm_name)], ...] = ()
    """Names of CloudWatch alarms of this account and region, not made by this project, whose ALARM starts a retrain
    (deduplicated, coalesced and audited as this project's own; their state reason and newest value go to the
    pipeline as parameters)."""
    retry_failed_runs: bool = True
    """A failed alarm-started run is retried with back-off while its alarm is in ALARM."""
    cooldown_hours: Annotated[Float, Field(ge=0, le=MAX_HOURS)] = 24
    """After a run starts, further triggers within this span are coalesced into one."""
    evaluation_periods: Annotated[Int, Field(ge=1)] = 3
    """N of the M-of-N rule of every drift alarm."""
    datapoints_to_alarm: Annotated[Int, Field(ge=1)] = 2
    """M of the M-of-N rule."""
    max_staleness_days: Annotated[Int, Field(ge=1, le=MAX_DAYS)] | None = None
    """Without drift, a model older than this is retrained (a safety net, off by default)."""

    @model_validator(mode="after")
    def _external_alarms_fit(self) -> TriggerSection:
        names = self.external_alarms
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise FieldError(("external_alarms",), f"named more than once: {repeated}")
        if sum(len(n) + 60 for n in names) > MAX_EXTERNAL_ALARM_CHARACTERS:
            raise FieldError(
                ("external_alarms",),
                f"{len(names)} alarms: their ARNs would not fit the retrain trigger's event pattern (EventBridge "
                "allows 4,096 characters); alarm on them with one composite alarm and name that",
            )
        return self

    @model_validator(mode="after")
    def _m_of_n(self) -> TriggerSection:
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise FieldError(
                ("datapoints_to_alarm",),
                f"datapoints_to_alarm ({self.datapoints_to_alarm}) cannot exceed "
                f"evaluation_periods ({self.evaluation_periods})",
            )
        return self


# --------------------------------------------------------------------------- promotion


class ShadowCriteria(_Strict):
    """When a candidate in shadow has earned production (all must hold), and how long it waits.

    The shadow decides once it has `min_labels` labelled predictions and ran `min_duration_hours`:
    its live `metric` must be within `offline_tolerance` of its offline value from the Evaluate
    step and no more than `champion_margin` below the champion's live value on the same requests;
    its p99 latency and error rate must stay within the limits. Otherwise it is rejected."""

    metric: Metric | None = None
    """The live metric the shadow is judged on; by default roc_auc for a binary classifier, macro_f1
    for a multiclass one, rmse for a regression."""
    min_labels: Annotated[Int, Field(ge=1)] = 500
    """Labelled shadow predictions needed before a verdict."""
    min_duration_hours: Annotated[Float, Field(ge=0, le=MAX_HOURS)] = 24
    """The shadow runs at least this long."""
    offline_tolerance: Annotated[Float, Field(ge=0)] = 0.05
    """The live metric may fall this far below the offline (test-split) value."""
    champion_margin: Annotated[Float, Field(ge=0)] = 0.01
    """And this far below the champion's live value on the same requests."""
    max_latency_p99_ms: Annotated[Float, Field(gt=0)] = 200
    """The shadow's p99 model latency limit."""
    max_error_rate: Annotated[Float, Field(ge=0, le=1)] = 0.01
    """The shadow's largest share of failed invocations."""
    sampling_percent: Annotated[Int, Field(ge=1, le=100)] = 100
    """Share of requests copied to the shadow."""
    evaluation_schedule: str = "rate(1 hour)"
    """When the shadow evaluation runs (it also runs when an endpoint update finishes)."""

    @field_validator("evaluation_schedule")
    @classmethod
    def _schedule_expression(cls, value: str) -> str:
        return schedule_expression(value)


class DeploymentGuardrails(_Strict):
    """Blue/green traffic shifting for promotion and rollback, with auto-rollback alarms."""

    canary_percent: Annotated[Int, Field(ge=1, le=50)] = 10
    """Share of capacity shifted first in the blue/green update."""
    canary_wait_seconds: Annotated[Int, Field(ge=0, le=3600)] = 300
    """How long the canary runs before the rest shifts."""
    termination_wait_seconds: Annotated[Int, Field(ge=0, le=3600)] = 600
    """How long the old fleet stays after the shift (rollback without a new deployment)."""
    max_execution_seconds: Annotated[Int, Field(ge=600, le=28_800)] = 3600
    """The update's time limit."""
    max_5xx_rate: Annotated[Float, Field(ge=0, le=1)] = 0.01
    """Auto-rollback alarm: share of 5xx responses."""
    max_latency_p99_ms: Annotated[Float, Field(gt=0)] = 500
    """Auto-rollback alarm: p99 model latency."""

    @model_validator(mode="after")
    def _time_for_the_waits(self) -> DeploymentGuardrails:
        # BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds "should be larger than the total
        # waiting time specified in TerminationWaitInSeconds and WaitIntervalInSeconds" (SageMaker API
        # reference: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_BlueGreenUpdatePolicy.html).
        waits = self.canary_wait_seconds + self.termination_wait_seconds
        if self.max_execution_seconds <= waits:
            raise FieldError(
                ("max_execution_seconds",),
                f"max_execution_seconds ({self.max_execution_seconds}) must exceed canary_wait_seconds plus "
                f"termination_wait_seconds ({waits})",
            )
        return self


class PromotionSection(_Strict):
    endpoint_name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")] | None = None
    """Default `<model>-endpoint`."""
    instance_type: EndpointInstance = "ml.m5.large"
    """The endpoint's instance."""
    instance_count: Annotated[Int, Field(ge=1)] = 1
    """Instances per variant."""
    capture_sampling_percent: Annotated[Int, Field(ge=1, le=100)] = 100
    """Share of requests data capture writes to S3 (what the monitor reads)."""
    shadow: ShadowCriteria = ShadowCriteria()
    """When a shadow may replace the champion."""
    deployment: DeploymentGuardrails = DeploymentGuardrails()
    """The blue/green update that promotes."""

    def endpoint(self, model_name: str) -> str:
        return self.endpoint_name or naming.endpoint_name(model_name)


# --------------------------------------------------------------------------- deployment


class Vpc(_Strict):
    subnet_ids: Annotated[list[str], Field(min_length=1)]
    """Subnets the jobs run in."""
    security_group_ids: Annotated[list[str], Field(min_length=1)]
    """Security groups of the jobs."""


class PipelineSection(_Strict):
    """Where the pipeline runs. The defaults describe an account that does not exist, so a
    definition can be built anywhere; CDK substitutes the real resources at deploy time."""

    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")] = "us-east-1"
    """Where everything is deployed."""
    account: Annotated[str, Field(pattern=r"^\d{12}$")] = "111122223333"
    """The account everything is deployed to; physical names are derived from it."""
    artifact_bucket: str | None = None
    """Default: the stack's own bucket, `<model>-retraining-<account>-<region>`."""
    role_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/")] | None = None
    """Default: the stack's own least-privilege pipeline role."""
    image_uri: str | None = None
    """Default: the job image built from `training_containers/`."""
    processing_instance_type: ProcessingInstance = "ml.m5.xlarge"
    """Instance of the processing jobs (DataPull, Evaluate, the monitor)."""
    processing_max_runtime_seconds: Annotated[Int, Field(ge=60, le=777_600)] = 3600
    """Time limit of each processing job."""
    kms_key_id: str | None = None
    """Default: the stack's own key."""
    network_isolation: bool = False
    """Jobs without network access."""
    vpc: Vpc | None = None
    """Run the jobs in a VPC."""

    def bucket(self, model_name: str) -> str:
        return self.artifact_bucket or f"{model_name}-{self.account}-{self.region}"

    def role(self, model_name: str) -> str:
        return (
            self.role_arn or f"arn:aws:iam::{self.account}:role/{naming.role_name(model_name, self.region, 'pipeline')}"
        )


AccountId = Annotated[str, Field(pattern=r"^\d{12}$")]


class AccountsSection(_Strict):
    """Which AWS account holds each part of the loop. Training is `pipeline.account`: the pipeline,
    its jobs, the artifact bucket and key, the drift monitor, the retrain trigger and the alerts.
    Unset roles live there too, so a config without this section deploys to one account as
    before. Every role is in `pipeline.region` (docs/deploying.md, "Several accounts")."""

    registry: AccountId | None = None
    """The Model Registry's model package group, where versions are approved (in Studio). Default: the training
    account."""
    serving: AccountId | None = None
    """The endpoint, its execution role and the promotion functions. Default: the training account."""


Purpose = Literal["deploy", "backtest"]


class ModelConfig(_Strict):
    """`purpose`: `deploy` (a SageMaker pipeline is built from it: its data must be on S3) or
    `backtest` (only `python -m pipelines backtest` reads it; definition, run-local and the CDK
    app refuse it)."""

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _source: str = PrivateAttr(default="<config>")

    purpose: Purpose = "deploy"
    """`deploy`: a SageMaker pipeline is built from it, so files sources must be `s3://` prefixes; `backtest`: only
    `python -m pipelines backtest` reads it and its data may be local."""
    model: ModelSection
    """The model: label, features, time."""
    data: DataSection
    """Where training data comes from and how it is checked and split."""
    training: TrainingSection
    """How the model is trained."""
    gates: GatesSection
    """What a candidate must pass to be registered."""
    registry: RegistrySection
    """Where candidates are registered and how they are approved."""
    alerts: AlertsSection = AlertsSection()
    """Who hears about alarms and failures."""
    drift: DriftSection = DriftSection()
    """The drift monitor."""
    trigger: TriggerSection = TriggerSection()
    """What starts a retrain."""
    promotion: PromotionSection = PromotionSection()
    """The endpoint, the shadow and the promotion."""
    pipeline: PipelineSection = PipelineSection()
    """Where and how the jobs run."""
    accounts: AccountsSection = AccountsSection()
    """The accounts of the registry and the endpoint, when they are not the pipeline's."""

    @model_validator(mode="before")
    @classmethod
    def _same_account_is_the_default(cls, data: Any) -> Any:
        """A role named in the pipeline's own account is the one-account layout: the same config
        bytes, so the same templates, as a config that does not name it."""
        if not isinstance(data, dict) or not isinstance(data.get("accounts"), dict):
            return data
        pipeline = data.get("pipeline")
        own = str((pipeline if isinstance(pipeline, dict) else {}).get("account", PipelineSection().account))
        accounts = {role: account for role, account in data["accounts"].items() if str(account) != own}
        return {**data, "accounts": accounts}

    @property
    def registry_account(self) -> str:
        return self.accounts.registry or self.pipeline.account

    @property
    def serving_account(self) -> str:
        return self.accounts.serving or self.pipeline.account

    @property
    def single_account(self) -> bool:
        return self.registry_account == self.serving_account == self.pipeline.account

    @model_validator(mode="before")
    @classmethod
    def _shadow_metric_default(cls, data: Any) -> Any:
        """The shadow's metric defaults by problem type (DEFAULT_SHADOW_METRIC)."""
        if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
            return data
        problem_type = data["model"].get("problem_type")
        promotion = data.get("promotion") or {}
        if problem_type not in catalog.PROBLEM_TYPES or not isinstance(promotion, dict):
            return data
        shadow = promotion.get("shadow") or {}
        if not isinstance(shadow, dict) or shadow.get("metric") is not None:
            return data
        shadow = {**shadow, "metric": catalog.DEFAULT_SHADOW_METRIC[problem_type]}
        return {**data, "promotion": {**promotion, "shadow": shadow}}

    @model_validator(mode="after")
    def _fits_problem_type(self) -> ModelConfig:
        """Every metric named is one of the problem type's; the estimator has an implementation
        for it; bounds of [0, 1] metrics lie in [0, 1]; regression edge cases have a tolerance."""
        problem_type = self.model.problem_type
        training = self.training
        if training.estimator is not None and problem_type not in ESTIMATOR_PROBLEM_TYPES[training.estimator]:
            supported = ", ".join(ESTIMATOR_PROBLEM_TYPES[training.estimator])
            raise FieldError(
                ("training", "estimator"),
                f"{training.estimator} does not support {problem_type}; it supports {supported}",
            )
        builtin = training.estimator is not None
        if builtin and problem_type == "regression" and CLASSIFIER_ONLY_PARAMETERS & set(training.hyperparameters):
            raise FieldError(
                ("training", "hyperparameters"),
                "class_weight and scale_pos_weight are for classifiers; this model is a regression",
            )
        # (where, the metric named, the bound set there if any): gates and the SLO set one
        named: list[tuple[tuple[str | int, ...], str, _Bound | None]] = [
            (("gates", "metrics", i), g.metric, g) for i, g in enumerate(self.gates.metrics)
        ]
        named += [(("gates", "segments", i), g.metric, g) for i, g in enumerate(self.gates.segments)]
        if self.gates.champion is not None:
            named.append((("gates", "champion"), self.gates.champion.metric, None))
        for field in ("performance_slo", "estimated_slo"):
            slo = getattr(self.drift, field)
            if slo is not None:
                named.append((("drift", field), slo.metric, slo))
        named.append((("promotion", "shadow"), self.promotion.shadow.metric or "", None))
        for path, name, bounded in named:
            try:
                found = catalog.metric(problem_type, name)
            except catalog.UnknownMetric as error:
                raise FieldError((*path, "metric"), str(error)) from None
            if name == catalog.CLASS_RECALL and problem_type == "multiclass_classification":
                self._names_a_class(path)
            if bounded is not None and bounded.bound != found.bound:
                better, kind = ("higher", "floor") if found.higher_is_better else ("lower", "ceiling")
                message = f"{name}: {better} is better, so it takes {found.bound}: (a {kind}), not {bounded.bound}:"
                raise FieldError((*path, bounded.bound), message)
            threshold = None if bounded is None else bounded.threshold
            if found.unit_interval and threshold is not None and not 0 <= threshold <= 1:
                raise FieldError((*path, "min"), f"{name} lies in [0, 1]; {threshold} can never be met or always is")
        script = training.script
        if script is not None and script.framework_image and self.pipeline.network_isolation:
            message = (
                "a framework image's inference toolkit downloads the source dir from S3 when it serves, "
                "which pipeline.network_isolation forbids: run the script in the job image (drop framework_image)"
            )
            raise FieldError(("training", "script", "framework_image"), message)
        if script is not None and script.requirements and self.pipeline.network_isolation:
            message = "pip cannot reach the package index from a job with pipeline.network_isolation"
            raise FieldError(("training", "script", "requirements"), message)
        edge = self.gates.edge_cases
        if edge is not None and (edge.tolerance is None) == (problem_type == "regression"):
            wanted = "needs a tolerance" if problem_type == "regression" else "takes no tolerance (regression only)"
            raise FieldError(("gates", "edge_cases", "tolerance"), f"edge cases of a {problem_type} {wanted}")
        return self

    def _names_a_class(self, path: tuple[str | int, ...]) -> None:
        """Multiclass `recall` is a class's: the gate must be a segment of one class's rows."""
        segment = self.gates.segments[int(path[2])] if path[:2] == ("gates", "segments") else None
        if segment is None or segment.where.column != self.model.label or segment.where.op != "==":
            raise FieldError(
                (*path, "metric"),
                f"recall of a multiclass model is one class's: use it in a segment whose where is "
                f"'{self.model.label} == \"<class>\"', or use macro_recall / weighted_recall",
            )

    @model_validator(mode="after")
    def _references_exist(self) -> ModelConfig:
        columns = set(self.model.feature_names) | {self.model.id_column, self.model.time_column, self.model.label}
        for i, segment in enumerate(self.gates.segments):
            if segment.where.column not in columns:
                raise FieldError(
                    ("gates", "segments", i, "where"),
                    f"gates.segments '{segment.name}' filters on unknown column "
                    f"'{segment.where.column}'; known: {sorted(columns)}",
                )
        return self

    @model_validator(mode="after")
    def _image_in_the_pipelines_region(self) -> ModelConfig:
        # CreateModel: the image "must be in the same region as the model" (ContainerDefinition.Image,
        # SageMaker API reference), so an image elsewhere fails the first transform after training.
        image = self.training.outside_image
        found = re.match(naming.ECR_IMAGE_PATTERN, image or "")
        if found is not None and found["region"] != self.pipeline.region:
            field = "image" if self.training.image is not None else "script"
            path: tuple[str, ...] = (
                ("training", "image", "uri") if field == "image" else ("training", "script", "framework_image")
            )
            raise FieldError(
                path,
                f"{image} is in {found['region']}, the pipeline in {self.pipeline.region}: SageMaker runs a model's "
                "image from its own region only; "
                + (
                    "replicate the image to that region's ECR"
                    if field == "image"
                    else "use the framework image's address in that region (AWS publishes it there under "
                    "another account: sagemaker.image_uris.retrieve gives it)"
                ),
            )
        return self

    @model_validator(mode="after")
    def _performance_waits_for_settled_labels(self) -> ModelConfig:
        """Realized performance judges the labelled predictions of the last performance_window_hours;
        shorter than the time labels take to settle, it judges the labels that came early only (in
        fraud, the frauds), never a settled window."""
        delay_hours = self.data.window.label_delay_days * 24
        if self.drift.performance_slo is not None and self.drift.performance_window_hours < delay_hours:
            raise FieldError(
                ("drift", "performance_window_hours"),
                f"performance_window_hours ({self.drift.performance_window_hours:g}) is shorter than "
                f"data.window.label_delay_days ({self.data.window.label_delay_days:g} days): the performance SLO "
                f"would judge only the labels that came early; make it at least {math.ceil(delay_hours + 24)} (the "
                "delay and a day of settled predictions)",
            )
        return self

    @model_validator(mode="after")
    def _something_starts_a_retrain(self) -> ModelConfig:
        if self.retrain_signals or self.trigger.external_alarms or self.trigger.max_staleness_days is not None:
            return self
        unmet = [
            f"{signal} needs drift.{need}" for signal, need in SIGNAL_NEEDS.items() if not getattr(self.drift, need)
        ]
        slo = f" ({'; '.join(unmet)})" if unmet else ""
        raise FieldError(
            ("trigger", "retrain_on"),
            f"nothing would ever start a retrain: trigger.retrain_on {list(self.trigger.retrain_on)} gives no "
            f"alarm{slo}, trigger.external_alarms names none and trigger.max_staleness_days is not set",
        )

    @property
    def retrain_signals(self) -> tuple[RetrainSignal, ...]:
        """The alarms that start a retrain: `trigger.retrain_on`, where the alarm exists."""
        return tuple(
            s
            for s in self.trigger.retrain_on
            if s not in SIGNAL_NEEDS or getattr(self.drift, SIGNAL_NEEDS[s]) is not None
        )

    @model_validator(mode="after")
    def _external_alarms_are_not_ours(self) -> ModelConfig:
        from pipelines.monitoring.alarms import alarm_specs, monitor_silent_spec

        specs = [*alarm_specs(self), monitor_silent_spec(self)]
        ours = {spec.name for spec in specs} & set(self.trigger.external_alarms)
        if ours:
            raise FieldError(
                ("trigger", "external_alarms"),
                f"{sorted(ours)} are this project's own alarms: name them in trigger.retrain_on instead",
            )
        return self

    @model_validator(mode="after")
    def _deliberate_signals_have_what_they_need(self) -> ModelConfig:
        """Unlike the default signals, which a config may name before it sets their objective, these
        are asked for on purpose: without what they need they would silently do nothing."""
        examples = {"estimated_performance": "{metric: roc_auc, min: 0.85}", "ood_share": "0.15"}
        for signal in DELIBERATE_SIGNALS:
            need = SIGNAL_NEEDS[signal]
            if signal in self.trigger.retrain_on and getattr(self.drift, need) is None:
                raise FieldError(
                    ("trigger", "retrain_on"),
                    f"{signal} needs drift.{need} (e.g. {examples[signal]}): without it there is no {signal} alarm "
                    "to start a retrain",
                )
        if "label_drift" in self.trigger.retrain_on and self.model.problem_type != "binary_classification":
            raise FieldError(
                ("trigger", "retrain_on"),
                f"label_drift is a binary classifier's positive rate moving; this model is {self.model.problem_type}",
            )
        return self

    @model_validator(mode="after")
    def _estimates_for_binary_classifiers(self) -> ModelConfig:
        """CBPE estimates from calibrated positive-class probabilities: a binary classifier's."""
        if self.drift.estimated_slo is not None and self.model.problem_type != "binary_classification":
            raise FieldError(
                ("drift", "estimated_slo"),
                f"performance is estimated for binary classifiers only (a calibrated positive-class score); this model "
                f"is {self.model.problem_type}: remove drift.estimated_slo, or rely on drift.performance_slo",
            )
        return self

    @model_validator(mode="after")
    def _alarm_range_fits_cloudwatch(self) -> ModelConfig:
        # PutMetricAlarm: Period x EvaluationPeriods <= 7 days, and <= 1 day when Period < 1 hour.
        period = self.drift.alarm_period_seconds
        limit = 86_400 if period < 3600 else 604_800
        source = "drift.period_seconds" if self.drift.period_seconds is not None else "drift.schedule"
        for path, periods in (
            (("trigger", "evaluation_periods"), self.trigger.evaluation_periods),
            (("drift", "monitor_silent_periods"), self.drift.monitor_silent_periods),
        ):
            if periods is not None and period * periods > limit:
                field = ".".join(path)
                raise FieldError(
                    path,
                    f"drift alarm period ({period} s, from {source}) x {field} ({periods}) = {period * periods} s "
                    f"exceeds CloudWatch's limit of {limit} s for this period: lower {field} or shorten {source}",
                )
        return self

    def local_path(self, uri: str) -> Path:
        """A local (non-S3) URI from this config, resolved against the config file's folder."""
        if "://" in uri:
            raise ValueError(f"{uri} is not a local path")
        return self._base_dir / uri


# --------------------------------------------------------------------------- loading


def _location(loc: tuple[int | str, ...], raw: Any = None) -> str:
    """The dotted path of `loc`; inside model.features[i] followed by the feature's name."""
    parts: list[str] = []
    path = [item for item in loc if item not in ("files", "sql", "function-after", "function-before")]
    for item in path:  # discriminator and validator tags are not part of the user's path
        parts.append(f"[{item}]" if isinstance(item, int) else f".{item}" if parts else str(item))
    where = "".join(parts) or "(top level)"
    if path[:2] == ["model", "features"] and len(path) > 2:
        name = _feature_name(raw, path[2])
        where += f" (feature {name!r})" if name else ""
    return where


def _feature_name(raw: Any, index: int | str) -> str | None:
    try:
        name = raw["model"]["features"][index]["name"]
    except (KeyError, IndexError, TypeError):
        return None
    return name if isinstance(name, str) else None


UNION_MEMBERS = ("int", "float", "str", "bool")  # pydantic tags each member's error of a union with its type


def _describe(error: dict[str, Any], raw: Any = None) -> tuple[str, str]:
    """(location, message) of one validation error."""
    message = str(error["msg"]).removeprefix("Value error, ")
    loc = tuple(error["loc"])
    while loc and loc[-1] in UNION_MEMBERS:
        loc = loc[:-1]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        loc += cause.path
    if error["type"] == "extra_forbidden":
        message = "unknown field (check the spelling; see docs/configuration.md)"
    elif error["type"] == "missing":
        message = "required field is missing"
    return _location(loc, raw), message


def _problems(errors: list[Any], raw: Any) -> list[str]:
    """One line per location: a value no member of a union accepts gives one line listing why."""
    found: dict[str, list[str]] = {}
    for error in errors:
        where, message = _describe(dict(error), raw)
        if message not in found.setdefault(where, []):
            found[where].append(message)
    return [f"{where}: {'; '.join(messages)}" for where, messages in found.items()]


def parse_config(raw: Any, *, source: str = "<config>") -> ModelConfig:
    if not isinstance(raw, dict):
        raise ConfigError(source, [f"(top level): expected a mapping, got {type(raw).__name__}"])
    try:
        config = ModelConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc.errors(), raw)) from None
    config._source = source
    return config


def load_config(path: str | Path) -> ModelConfig:
    """Read and validate a YAML config. Relative local paths in it mean: next to the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(
            str(path), [f"not UTF-8 text: byte 0x{exc.object[exc.start]:02x} on line {line}; save it as UTF-8"]
        ) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"not valid YAML: {exc}"]) from None
    config = parse_config(raw, source=str(path))
    config._base_dir = path.parent.resolve()
    return config


def deployment_problems(config: ModelConfig) -> list[str]:
    """Why no SageMaker pipeline can be built from `config` (none when one can). A pipeline's jobs
    read their data from S3 (a files source's `uri`); a SQL source runs on Athena/Redshift, and its
    `local_tables` serve local runs only, so they are not checked here."""
    if config.purpose == "backtest":
        return [
            "purpose: this config is for the backtest only (purpose: backtest): definition, run-local and the "
            "CDK app build no pipeline from it; set purpose: deploy, with data on S3, to deploy it"
        ]
    problems = []
    for name in ("fresh", "historical"):
        source = getattr(config.data, name)
        if isinstance(source, FilesSource) and not source.uri.startswith("s3://"):
            problems.append(
                f"data.{name}.uri: a SageMaker pipeline reads data from S3 only, got {source.uri!r}: give an "
                "s3:// prefix (for local runs `local-put` copies files into the local S3), or set "
                "purpose: backtest for a config only the backtest reads"
            )
    return problems


def require_deployable(config: ModelConfig) -> None:
    """Raise `ConfigError` (naming the config file) unless a pipeline can be built from it."""
    problems = deployment_problems(config)
    if problems:
        raise ConfigError(config._source, problems)


def config_to_json(config: ModelConfig) -> str:
    """Canonical JSON form: what the jobs receive, byte-identical for the same config. A config
    without `accounts` has the bytes it had before the section existed (the object is
    content-addressed: new bytes would be a new artifact and a changed template)."""
    dumped = config.model_dump(mode="json")
    if config.accounts == AccountsSection():
        del dumped["accounts"]
    return json.dumps(dumped, sort_keys=True, indent=2) + "\n"
