"""The metrics a model can be judged by, per problem type: their names, which way is better, and
whether they lie in [0, 1]. Standard library only: the config checks every metric it names
against this catalog, and the functions' bundles carry the config.

The computation is in `pipelines.gates.metrics` (scikit-learn's own functions); the names follow
SageMaker Model Monitor's model-quality metrics where it has one ("Model quality metrics and
Amazon CloudWatch monitoring", SageMaker developer guide:
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html):
regression mae, mse, rmse, r2; binary accuracy, precision, recall, f1, auc (here roc_auc) and
pr_auc; multiclass accuracy and weighted precision, recall and f1, here with their macro averages
beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ProblemType = Literal["binary_classification", "multiclass_classification", "regression"]
PROBLEM_TYPES: tuple[ProblemType, ...] = ("binary_classification", "multiclass_classification", "regression")

# A multiclass segment assertion on `recall` whose rows are one class (`where: '<label> == "x"'`)
# judges that class's recall: the share of its rows predicted as it.
CLASS_RECALL = "recall"


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool = True
    unit_interval: bool = True  # its values lie in [0, 1]

    @property
    def bound(self) -> Literal["min", "max"]:
        """The bound a gate on it naturally sets."""
        return "min" if self.higher_is_better else "max"


_SCORES = ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc")
_MULTICLASS = ("accuracy", "macro_f1", "weighted_f1", "macro_precision", "weighted_precision", "macro_recall")
METRICS: dict[ProblemType, dict[str, Metric]] = {
    "binary_classification": {name: Metric(name) for name in _SCORES},
    "multiclass_classification": {
        **{name: Metric(name) for name in _MULTICLASS},
        "weighted_recall": Metric("weighted_recall"),
        CLASS_RECALL: Metric(CLASS_RECALL),
    },
    "regression": {
        "rmse": Metric("rmse", higher_is_better=False, unit_interval=False),
        "mae": Metric("mae", higher_is_better=False, unit_interval=False),
        "mse": Metric("mse", higher_is_better=False, unit_interval=False),
        "r2": Metric("r2", unit_interval=False),
    },
}
ALL_METRICS: frozenset[str] = frozenset(name for metrics in METRICS.values() for name in metrics)

# What a problem type's shadow is judged on unless the config says otherwise.
DEFAULT_SHADOW_METRIC: dict[ProblemType, str] = {
    "binary_classification": "roc_auc",
    "multiclass_classification": "macro_f1",
    "regression": "rmse",
}


class UnknownMetric(ValueError):
    """A metric the problem type does not have."""


def metric(problem_type: ProblemType, name: str) -> Metric:
    """The metric `name` of `problem_type`, or UnknownMetric naming the ones it has."""
    found = METRICS[problem_type].get(name)
    if found is None:
        choices = ", ".join(METRICS[problem_type])
        raise UnknownMetric(f"{name!r} is not a metric of {problem_type}; choose one of {choices}")
    return found


def higher_is_better(name: str) -> bool:
    """Which way `name` improves (the same in every problem type that has it)."""
    return all(m[name].higher_is_better for m in METRICS.values() if name in m)


def overall(problem_type: ProblemType) -> list[str]:
    """The metrics measured on a whole data set (per-class recall needs a class)."""
    names = list(METRICS[problem_type])
    return [n for n in names if not (problem_type == "multiclass_classification" and n == CLASS_RECALL)]
