"""A team's script that breaks the contract fails the execution at the step that runs it, with a
reason naming the file or function, and nothing is registered. (What each broken inference module
raises is in tests/unit/test_script_model.py; here the failure's path through the pipeline.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.errors import DefinitionError
from pipelines.local.workspace import Workspace
from tests.conftest import ROOT
from tests.problem_types import config_dict, seeded

EXAMPLE = ROOT / "models" / "tabular"


def _workspace(tmp_path: Path, edit: dict[str, str], requirements: str | None = None) -> Workspace:
    """The regression example trained by a copy of models/tabular with `edit` (file -> text)."""
    source = tmp_path / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in edit.items():
        (source / name).write_text(text)
    raw = config_dict("regression", "script", tmp_path)
    raw["training"]["script"]["source_dir"] = str(source)
    if requirements:
        raw["training"]["script"]["requirements"] = requirements
    return seeded(raw, tmp_path)


CASES = {
    "the script raises": (
        {"train.py": "raise RuntimeError('bad column mapping')\n"},
        "train.py exited with 1: ",
        "RuntimeError: bad column mapping",
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
    with pytest.raises(DefinitionError, match=r"training.script.entry_point: .*source/train.py does not exist"):
        workspace.run(echo=lambda _: None)
    assert not (workspace.root / "executions").exists()


def _wheel(folder: Path) -> Path:
    """A pure-Python wheel of a package `tinypkg` (double(x) = 2 x), so pip installs offline."""
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "tinypkg-0.1-py3-none-any.whl"
    info = "tinypkg-0.1.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("tinypkg/__init__.py", "def double(x):\n    return 2 * x\n")
        archive.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: tinypkg\nVersion: 0.1\n")
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return folder


def test_a_scripts_requirements_are_installed_for_training_and_inference(tmp_path: Path) -> None:
    """The script and its inference module import a package only its requirements.txt provides:
    Train installs it, Evaluate and the server find it in the model's code/."""
    wheels = _wheel(tmp_path / "wheels")
    uses_it = "from tinypkg import double\nassert double(2) == 4\n"
    edit = {
        "requirements.txt": f"--no-index\n--find-links {wheels}\ntinypkg==0.1\n",
        "features.py": (EXAMPLE / "features.py").read_text() + uses_it,
    }
    workspace = _workspace(tmp_path, edit, requirements="requirements.txt")
    execution = workspace.run(echo=lambda _: None)
    assert execution.status == "Succeeded", [(s.name, s.failure_reason) for s in execution.steps]
    (package,) = workspace.runtime().registry.list_model_packages(workspace.config.registry.model_package_group)
    import tarfile

    with tarfile.open(workspace.s3.path(package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])) as tar:
        assert "code/_packages/tinypkg/__init__.py" in tar.getnames()


def test_requirements_need_the_package_index(tmp_path: Path) -> None:
    from pipelines.config import parse_config
    from pipelines.errors import ConfigError

    raw = config_dict("regression", "script", tmp_path)
    raw["training"]["script"]["requirements"] = "requirements.txt"
    raw["pipeline"]["network_isolation"] = True
    with pytest.raises(ConfigError, match=r"training.script.requirements: pip cannot reach the package index"):
        parse_config(raw)
