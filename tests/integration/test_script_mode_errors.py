"""A team's script that breaks the contract fails the execution at the step that runs it, with a
reason naming the file or function, and nothing is registered."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pipelines.config import load_config
from pipelines.errors import DefinitionError
from pipelines.local.workspace import Workspace
from tests.conftest import ROOT
from tests.problem_types import config_dict, rows

EXAMPLE = ROOT / "models" / "tabular"


def _workspace(tmp_path: Path, edit: dict[str, str]) -> Workspace:
    """The regression example trained by a copy of models/tabular with `edit` (file -> text)."""
    source = tmp_path / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in edit.items():
        (source / name).write_text(text)
    raw = config_dict("regression", "script", tmp_path)
    raw["training"]["script"]["source_dir"] = str(source)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    config = load_config(path)
    workspace = Workspace(config, tmp_path / "workspace")
    target = workspace.s3.path(config.data.fresh.uri) / "part-0.parquet"  # type: ignore[union-attr]
    target.parent.mkdir(parents=True, exist_ok=True)
    rows("regression", count=3000).to_parquet(target, index=False)
    return workspace


CASES = {
    "the script raises": (
        {"train.py": "raise RuntimeError('bad column mapping')\n"},
        "train.py exited with 1: ",
        "RuntimeError: bad column mapping",
    ),
    "the script writes no model": ({"train.py": "print('done')\n"}, "train.py wrote nothing to SM_MODEL_DIR", ""),
    "no model_fn": (
        {"inference.py": "def predict_fn(data, model):\n    return data['x1']\n"},
        "inference.py defines no model_fn",
        "",
    ),
    "predict_fn returns the wrong shape": (
        {
            "inference.py": (
                "import joblib\nfrom pathlib import Path\n"
                "def model_fn(model_dir):\n    return joblib.load(Path(model_dir) / 'model.pkl')\n"
                "def predict_fn(data, model):\n    return [[1.0, 2.0]] * len(data)\n"
            )
        },
        "inference.py predict_fn returned shape (",
        "a regression model returns one value per row",
    ),
    "predict_fn raises": (
        {
            "inference.py": (
                "def model_fn(model_dir):\n    return None\ndef predict_fn(data, model):\n    raise KeyError('x9')\n"
            )
        },
        "inference.py predict_fn failed: KeyError: 'x9'",
        "",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_script_fails_train_naming_what_broke(case: str, tmp_path: Path) -> None:
    edit, reason, detail = CASES[case]
    workspace = _workspace(tmp_path, edit)
    execution = workspace.run(echo=lambda _: None)
    failed = {s.name: s.failure_reason for s in execution.steps if s.status == "Failed"}
    assert execution.status == "Failed" and set(failed) == {"Train"}, failed
    assert reason in failed["Train"] and detail in failed["Train"]
    group = workspace.config.registry.model_package_group
    assert workspace.runtime().registry.list_model_packages(group) == []


def test_a_missing_entry_point_stops_the_definition_before_anything_runs(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path, {})
    (tmp_path / "source" / "train.py").unlink()
    with pytest.raises(DefinitionError, match=r"training.script: .*source/train.py does not exist"):
        workspace.run(echo=lambda _: None)
    assert not (workspace.root / "executions").exists()
