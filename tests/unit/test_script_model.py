"""A team's inference module behind ScriptModel: what it returns is checked on every call."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipelines.config import TrainingScript
from training_containers.script import CODE_DIR, ScriptError, ScriptModel, run_entry_point

ROWS = pd.DataFrame({"x": [0.1, 0.5, 0.9]})


def _model(tmp_path: Path, predict: str, problem_type: str = "binary_classification") -> ScriptModel:
    code = tmp_path / CODE_DIR
    code.mkdir(parents=True, exist_ok=True)
    (code / "inference.py").write_text(
        f"def model_fn(model_dir):\n    return 'm'\n\ndef predict_fn(data, model):\n{predict}\n"
    )
    return ScriptModel(tmp_path, "inference.py", problem_type)  # type: ignore[arg-type]


def test_binary_scores_or_both_classes_probabilities(tmp_path: Path) -> None:
    scores = _model(tmp_path / "a", "    return data['x'].to_numpy()").predict_proba(ROWS)
    assert scores[:, 1].tolist() == [0.1, 0.5, 0.9] and scores[:, 0].tolist() == pytest.approx([0.9, 0.5, 0.1])
    both = _model(tmp_path / "b", "    import numpy as np\n    x = data['x'].to_numpy()\n    return np.c_[1 - x, x]")
    assert both.predict_proba(ROWS)[:, 1].tolist() == pytest.approx([0.1, 0.5, 0.9])


@pytest.mark.parametrize(
    ("predict", "problem_type", "message"),
    [
        ("    return data['x'].to_numpy() * 2", "binary_classification", r"probabilities outside \[0, 1\]: \[1.8"),
        ("    return ['a', 'b', 'c']", "binary_classification", "non-numbers for a binary classifier"),
        ("    return [1.0, 2.0]", "regression", r"returned shape \(2,\) for 3 rows"),
        ("    return [1.0, float('nan'), 2.0]", "regression", "not finite numbers"),
        ("    return ['a'] * 3", "regression", "non-numbers for a regression"),
    ],
)
def test_a_prediction_that_breaks_the_contract_names_predict_fn(
    tmp_path: Path, predict: str, problem_type: str, message: str
) -> None:
    model = _model(tmp_path, predict, problem_type)
    with pytest.raises(ScriptError, match=f"inference.py predict_fn .*{message}"):
        model.predict_proba(ROWS) if problem_type == "binary_classification" else model.predict(ROWS)


def test_multiclass_classes_pass_through(tmp_path: Path) -> None:
    model = _model(tmp_path, "    return ['gold', 'silver', 'gold']", "multiclass_classification")
    assert model.predict(ROWS).tolist() == ["gold", "silver", "gold"]


def test_a_module_that_cannot_be_imported_or_a_failing_model_fn_is_named(tmp_path: Path) -> None:
    code = tmp_path / "a" / CODE_DIR
    code.mkdir(parents=True)
    (code / "inference.py").write_text("import not_a_module_anywhere\n")
    with pytest.raises(ScriptError, match=r"inference\.py cannot be imported: ModuleNotFoundError"):
        ScriptModel(tmp_path / "a", "inference.py", "regression")
    code = tmp_path / "b" / CODE_DIR
    code.mkdir(parents=True)
    (code / "inference.py").write_text(
        "def model_fn(d):\n    raise OSError('no file')\ndef predict_fn(x, m):\n    return x\n"
    )
    with pytest.raises(ScriptError, match=r"inference\.py model_fn failed: OSError: no file"):
        ScriptModel(tmp_path / "b", "inference.py", "regression")
    with pytest.raises(ScriptError, match=r"the model has no code/missing\.py"):
        ScriptModel(tmp_path / "b", "missing.py", "regression")


def test_the_server_serves_a_script_model_through_its_predict_fn(tmp_path: Path) -> None:
    import json

    from training_containers.serving.model import load
    from training_containers.serving.requests import CSV, JSON, parse
    from training_containers.serving.responses import render

    _model(tmp_path, "    return (data['x'] * 10).round().astype(int).astype(str).radd('class-').to_numpy()")
    metadata = {
        "inference": "inference.py",
        "problem_type": "multiclass_classification",
        "features": ["x"],
        "feature_types": {"x": "numeric"},
    }
    (tmp_path / "model_metadata.json").write_text(json.dumps(metadata))
    loaded = load(tmp_path)
    assert loaded.lean is None  # a script's model answers through its own predict_fn
    records = parse(b"0.1\n0.5\n", CSV, loaded.features)
    assert json.loads(render(loaded.score(records), JSON)) == {"predictions": ["class-1", "class-5"]}
    assert render(loaded.score(records), CSV) == b"class-1\nclass-5\n"


# ---- running the training script (the Train job's part, without the pipeline around it)


def _source(tmp_path: Path, train: str, requirements: str | None = None) -> tuple[Path, TrainingScript]:
    source = tmp_path / "source"
    source.mkdir()
    (source / "train.py").write_text(train)
    if requirements is not None:
        (source / "requirements.txt").write_text(requirements)
    return source, TrainingScript(source_dir=str(source), requirements="requirements.txt" if requirements else None)


@pytest.fixture
def opt_ml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "opt-ml"
    monkeypatch.setenv("OPT_ML_ROOT", str(root))
    for name in ("SM_MODEL_DIR", "SM_CHANNEL_TRAIN", "SM_CHANNEL_VALIDATION", "SM_HPS"):
        monkeypatch.delenv(name, raising=False)
    return root


def test_the_script_gets_sagemakers_environment_and_arguments_and_its_code_is_kept(
    opt_ml: Path, tmp_path: Path
) -> None:
    train = (
        "import json, os, sys\n"
        "out = os.path.join(os.environ['SM_MODEL_DIR'], 'seen.json')\n"
        "json.dump({'argv': sys.argv[1:], 'train': os.environ['SM_CHANNEL_TRAIN'],\n"
        "           'hps': json.loads(os.environ['SM_HPS'])}, open(out, 'w'))\n"
    )
    source, script = _source(tmp_path, train)
    run_entry_point(script, source, {"max_iter": 200, "task": "regression", "early_stop": True})
    seen = json.loads((opt_ml / "model" / "seen.json").read_text())
    assert seen["argv"] == ["--early_stop", "True", "--max_iter", "200", "--task", "regression"]  # keys sorted
    assert seen["train"] == str(opt_ml / "input" / "data" / "train")
    assert seen["hps"] == {"max_iter": 200, "task": "regression", "early_stop": True}
    assert (opt_ml / "model" / CODE_DIR / "train.py").read_text() == train


def test_a_script_that_writes_no_model_is_an_error(opt_ml: Path, tmp_path: Path) -> None:
    source, script = _source(tmp_path, "print('trained, honestly')\n")
    with pytest.raises(ScriptError, match=r"train\.py wrote nothing to SM_MODEL_DIR"):
        run_entry_point(script, source, {})


def test_requirements_pip_cannot_satisfy_name_the_file_and_the_package(opt_ml: Path, tmp_path: Path) -> None:
    source, script = _source(tmp_path, "", f"--no-index\n--find-links {tmp_path}\nnot-a-package-anywhere==9.9\n")
    with pytest.raises(ScriptError, match=r"requirements\.txt could not be installed: .*not-a-package-anywhere"):
        run_entry_point(script, source, {})


def _model_with_helper(folder: Path, value: int, lazy: bool = False) -> ScriptModel:
    """A model whose predict_fn answers with its own helper module's `VALUE`."""
    code = folder / CODE_DIR
    code.mkdir(parents=True)
    (code / "helper.py").write_text(f"VALUE = {value}\n")
    if lazy:
        predict = "def predict_fn(data, model):\n    import helper\n    return [float(helper.VALUE)] * len(data)\n"
        (code / "inference.py").write_text("def model_fn(d):\n    return None\n" + predict)
    else:
        predict = "def predict_fn(data, model):\n    return [float(helper.VALUE)] * len(data)\n"
        (code / "inference.py").write_text("import helper\ndef model_fn(d):\n    return None\n" + predict)
    return ScriptModel(folder, "inference.py", "regression")


@pytest.mark.parametrize("lazy", [False, True], ids=["imported-at-load", "imported-in-predict_fn"])
def test_two_models_each_run_their_own_helper_modules(tmp_path: Path, lazy: bool) -> None:
    """A candidate and its champion (or production and shadow) in one process: each model's
    `import helper` is its own, whichever was loaded first."""
    champion = _model_with_helper(tmp_path / "champion", 1, lazy)
    candidate = _model_with_helper(tmp_path / "candidate", 2, lazy)
    assert champion.predict(ROWS).tolist() == [1.0, 1.0, 1.0]
    assert candidate.predict(ROWS).tolist() == [2.0, 2.0, 2.0]
    assert champion.predict(ROWS).tolist() == [1.0, 1.0, 1.0]


def test_an_inference_module_in_a_subfolder_imports_the_code_at_the_root(tmp_path: Path) -> None:
    code = tmp_path / CODE_DIR
    (code / "serving").mkdir(parents=True)
    (code / "helper.py").write_text("VALUE = 7\n")
    (code / "serving" / "inference.py").write_text(
        "from helper import VALUE\ndef model_fn(d):\n    return None\n"
        "def predict_fn(data, model):\n    return [float(VALUE)] * len(data)\n"
    )
    assert ScriptModel(tmp_path, "serving/inference.py", "regression").predict(ROWS).tolist() == [7.0] * 3
    (code / "serving" / "broken.py").write_text("import not_a_module_anywhere\n")
    with pytest.raises(ScriptError, match=r"serving/broken\.py cannot be imported"):
        ScriptModel(tmp_path, "serving/broken.py", "regression")


def test_the_scripts_output_is_passed_on_while_it_runs(
    opt_ml: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A long fit shows its progress as it goes (CloudWatch, the local job log), not at the end:
    a line printed before the script waits is seen before the script is done."""
    marker = tmp_path / "seen"
    train = (
        "import os, pathlib, sys, time\n"
        "print('epoch 1', flush=True)\n"
        "deadline = time.time() + 10\n"
        f"while not pathlib.Path({str(marker)!r}).exists() and time.time() < deadline:\n    time.sleep(0.05)\n"
        "pathlib.Path(os.environ['SM_MODEL_DIR'], 'm').write_text('x')\n"
        f"sys.exit(0 if pathlib.Path({str(marker)!r}).exists() else 7)\n"
    )
    source, script = _source(tmp_path, train)
    import threading

    def release_when_seen() -> None:
        for _ in range(200):
            if "epoch 1" in capfd.readouterr().err:
                marker.write_text("")
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=release_when_seen)
    watcher.start()
    run_entry_point(script, source, {})  # exits 7 (a ScriptError) if the line were held back
    watcher.join()
    assert marker.exists()


def test_a_multiclass_script_answering_with_class_indices_fails_train_naming_the_classes(tmp_path: Path) -> None:
    from pipelines.config import parse_config
    from tests.problem_types import config_dict, rows
    from training_containers.estimators import features_frame, predictions
    from training_containers.train import _known_classes

    def answers(model: Any) -> Any:
        return predictions(model, features_frame(frame, config), "multiclass_classification")

    config = parse_config(config_dict("multiclass_classification", "script", tmp_path))
    frame = rows("multiclass_classification", count=60)

    class Indices:
        def predict(self, data: pd.DataFrame) -> list[int]:
            return [i % 3 for i in range(len(data))]

    with pytest.raises(ScriptError, match=r"returned classes the label 'target' never holds: \['0', '1', '2'\]"):
        _known_classes(answers(Indices()), frame, config, "inference.py")

    class Classes:
        def predict(self, data: pd.DataFrame) -> list[str]:
            return ["gold"] * len(data)

    _known_classes(answers(Classes()), frame, config, "inference.py")  # the label's own classes: fine


def test_validate_config_checks_the_scripts_files_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    import yaml

    from pipelines.cli import main
    from tests.conftest import ROOT
    from tests.problem_types import config_dict

    source = tmp_path / "source"
    shutil.copytree(ROOT / "models" / "tabular", source, ignore=shutil.ignore_patterns("__pycache__"))
    raw = config_dict("regression", "script", tmp_path)
    raw["training"]["script"] |= {"source_dir": "source", "entry_point": "trian.py"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["validate-config", str(path)]) != 0
    assert f"training.script.entry_point: {source / 'trian.py'} does not exist" in capsys.readouterr().err
    raw["training"]["script"]["entry_point"] = "train.py"
    path.write_text(yaml.safe_dump(raw))
    assert main(["validate-config", str(path)]) == 0
