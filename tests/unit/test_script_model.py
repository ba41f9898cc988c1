"""A team's inference module behind ScriptModel: what it returns is checked on every call."""

from __future__ import annotations

import json
from pathlib import Path

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

    from training_containers import serve

    _model(tmp_path, "    return (data['x'] * 10).round().astype(int).astype(str).radd('class-').to_numpy()")
    metadata = {
        "inference": "inference.py",
        "problem_type": "multiclass_classification",
        "features": ["x"],
        "feature_types": {"x": "numeric"},
    }
    (tmp_path / "model_metadata.json").write_text(json.dumps(metadata))
    loaded = serve.load(tmp_path)
    records = serve.parse(b"0.1\n0.5\n", serve.CSV, loaded.features)
    assert json.loads(serve.render(loaded.score(records), serve.JSON)) == {"predictions": ["class-1", "class-5"]}
    assert serve.render(loaded.score(records), serve.CSV) == b"class-1\nclass-5\n"


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
