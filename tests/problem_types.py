"""Generated data and configs for a multiclass and a regression model: the same loop around a
model that is not the example's binary classifier."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pipelines.config import load_config
from pipelines.local.workspace import Workspace
from pipelines.simulation.tabular import tabular
from tests.conftest import EXAMPLE_CONFIG, ROOT

FEATURES = [  # pipelines.simulation.tabular's columns
    {"name": "x1", "type": "numeric"},
    {"name": "x2", "type": "numeric", "min": 0, "max": 10},
    {"name": "x3", "type": "numeric", "min": 0},
    {"name": "region", "type": "categorical", "categories": ["north", "south", "east"]},
]
DATA_URI = "s3://tabular-data-111122223333/{model}/labelled/"
TEAM_IMAGE = "111122223333.dkr.ecr.us-east-1.amazonaws.com/team/scorer:7"


def rows(problem_type: str, count: int = 3000, days: int = 30, seed: int = 7) -> pd.DataFrame:
    """The examples' generated data (pipelines.simulation.tabular)."""
    return tabular(problem_type, rows=count, days=days, seed=seed)  # type: ignore[arg-type]


def config_dict(problem_type: str, estimator: str, folder: Path) -> dict[str, Any]:
    """A deploy config for `problem_type` built from the example's, with gates that fit it;
    `estimator` "script" trains with the example script in models/tabular."""
    raw = copy.deepcopy(yaml.safe_load(EXAMPLE_CONFIG.read_text()))
    name = f"tabular-{problem_type.split('_')[0]}-{estimator.replace('_', '-')}"
    raw["model"] = {
        "name": name,
        "problem_type": problem_type,
        "label": "target",
        "id_column": "row_id",
        "time_column": "event_time",
        "features": FEATURES,
    }
    raw["data"] = {
        "fresh": {"kind": "files", "uri": DATA_URI.format(model=name), "format": "parquet"},
        "window": {"strategy": "expanding", "fresh_days": 30},
        "checks": {"min_rows": 1000},
        "split": {"validation_fraction": 0.15, "test_fraction": 0.3},
    }
    raw["training"] = {"estimator": estimator, "random_seed": 42}
    if estimator == "image":  # the stand-in team image of tests/image_stand_in.py
        raw["training"] = {
            "image": {"uri": TEAM_IMAGE, "local_command": ["python3", str(ROOT / "tests" / "image_stand_in.py")]},
            "hyperparameters": {"label": "target", "behaviour": "right"},
        }
    if estimator == "script":
        task = "regression" if problem_type == "regression" else "classification"
        raw["training"] = {
            "script": {"source_dir": str(ROOT / "models" / "tabular")},
            "hyperparameters": {"task": task, "label": "target", "max_iter": 100},
        }
    raw["registry"]["model_package_group"] = name
    raw["drift"].pop("performance_slo")
    raw["promotion"]["shadow"].pop("metric")
    edge = folder / f"{name}.edge-cases.csv"
    if problem_type == "binary_classification":
        raw["gates"] = {
            "metrics": [{"metric": "roc_auc", "min": 0.9}, {"metric": "recall", "min": 0.6}],
            "champion": {"metric": "pr_auc", "max_regression": 0.02},
            "segments": [{"name": "south_recall", "where": 'region == "south"', "metric": "recall", "min": 0.6}],
            "edge_cases": {"uri": str(edge), "min_pass_rate": 0.5},
        }
        cases = pd.DataFrame({"x1": [-3.0, 3.0], "x2": [0.5, 9.5], "x3": [1.0, 1.0], "region": ["north", "south"]})
        cases["expected_label"] = [0, 1]
    elif problem_type == "regression":
        raw["gates"] = {
            "metrics": [{"metric": "rmse", "max": 1.5}, {"metric": "r2", "min": 0.8}],
            "champion": {"metric": "rmse", "max_regression": 0.2},
            "segments": [{"name": "south_mae", "where": 'region == "south"', "metric": "mae", "max": 1.5}],
            "edge_cases": {"uri": str(edge), "min_pass_rate": 0.5, "tolerance": 2.0},
        }
        cases = pd.DataFrame({"x1": [0.0, 1.0], "x2": [5.0, 5.0], "x3": [1.0, 1.0], "region": ["north", "north"]})
        cases["expected_label"] = 3.0 * cases["x1"] + 0.8 * cases["x2"] - 0.5 * cases["x3"]
    else:
        raw["gates"] = {
            "metrics": [{"metric": "accuracy", "min": 0.7}, {"metric": "macro_f1", "min": 0.7}],
            "champion": {"metric": "macro_f1", "max_regression": 0.02},
            "segments": [
                {"name": "gold_recall", "where": 'target == "gold"', "metric": "recall", "min": 0.7, "min_samples": 50}
            ],
            "edge_cases": {"uri": str(edge), "min_pass_rate": 0.5},
        }
        cases = pd.DataFrame({"x1": [-3.0, 3.0], "x2": [0.5, 9.5], "x3": [1.0, 1.0], "region": ["north", "south"]})
        cases["expected_label"] = ["bronze", "gold"]
    folder.mkdir(parents=True, exist_ok=True)
    cases.to_csv(edge, index=False)
    return raw


def seeded(raw: dict[str, Any], folder: Path) -> Workspace:
    """A local workspace for the config `raw` (written to `folder`), its fresh data generated and
    put where the config reads it."""
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    config = load_config(path)
    workspace = Workspace(config, folder / "workspace")
    target = workspace.s3.path(config.data.fresh.uri) / "part-0.parquet"  # type: ignore[union-attr]
    target.parent.mkdir(parents=True, exist_ok=True)
    rows(config.model.problem_type).to_parquet(target, index=False)
    return workspace
