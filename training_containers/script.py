"""A team's own training script and inference module, run under SageMaker's script-mode contract.

Training (what SageMaker's framework estimators do with `entry_point` and `source_dir`): the
source dir arrives as the `code` channel (`sourcedir.tar.gz`, built by
pipelines.definition.builder.source_archive) and is unpacked; the entry point runs with the
working directory at its root, hyperparameters as `--name value` arguments, and the environment
variables the SageMaker training toolkit sets: `SM_CHANNEL_TRAIN`, `SM_CHANNEL_VALIDATION`,
`SM_MODEL_DIR`, `SM_OUTPUT_DATA_DIR`, `SM_HPS` (the hyperparameters as JSON), `SM_CHANNELS`,
`SM_NUM_CPUS` ("Environment variables", sagemaker-training-toolkit README:
https://github.com/aws/sagemaker-training-toolkit/blob/master/ENVIRONMENT_VARIABLES.md). The
source dir is then copied into the model dir as `code/`, where the SageMaker inference toolkit
looks for `inference.py` in `model.tar.gz`.

Inference: `model_fn(model_dir)` loads the model, `predict_fn(data, model)` predicts for `data`,
a pandas DataFrame of the config's features in order (categoricals as text). It returns one value
per row: the positive class's probability in [0, 1] (or an n x 2 array of both classes'), the
class, or the value, by the model's problem type. Anything else is an error naming the function.
"""

from __future__ import annotations

import collections
import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from pipelines import naming
from pipelines.config import TrainingScript
from pipelines.gates.catalog import ProblemType
from training_containers import contract

CODE_DIR = "code"  # in the model dir, as the SageMaker inference toolkit expects it
PACKAGES = "_packages"  # in the source (and so the model's code/): what `requirements` installed
TAIL = 800  # characters of a failed script's stderr kept in the job's FailureReason
TOOLKIT_PREFIX = "sagemaker_"  # the training toolkit's own hyperparameters (sagemaker_program, ...)


class ScriptError(RuntimeError):
    """The team's code failed or broke the contract; the message names the file or function."""


def unpack_source(workdir: Path) -> Path:
    """The `code` channel's source archive, unpacked into `workdir`."""
    archive = contract.training_channel("code") / naming.SOURCE_ARCHIVE
    if not archive.is_file():
        raise ScriptError(f"the code channel holds no {naming.SOURCE_ARCHIVE} (training.script's source_dir)")
    with tarfile.open(archive) as tar:
        tar.extractall(workdir, filter="data")
    return workdir


@dataclass(frozen=True)
class ScriptFolders:
    """Where the script reads its channels and writes its model: the job's (the container
    contract's folders) unless given, as the backtest gives its own for each retraining."""

    train: Path
    validation: Path
    model: Path
    output: Path

    @classmethod
    def of_job(cls) -> ScriptFolders:
        return cls(
            contract.training_channel("train"),
            contract.training_channel("validation"),
            contract.model_dir(),
            contract.training_output_dir(),
        )


def run_entry_point(
    script: TrainingScript, source: Path, hyperparameters: dict[str, Any], folders: ScriptFolders | None = None
) -> None:
    """Run the training script as SageMaker's script mode does; its output goes to this job's."""
    folders = folders or ScriptFolders.of_job()
    entry = source / script.entry_point
    if not entry.is_file():
        raise ScriptError(f"training.script.entry_point: {script.entry_point} is not in the source dir")
    if script.requirements:
        install_requirements(source, script.requirements)
    # The training toolkit keeps its own (sagemaker_program, ...) and passes the script the rest.
    own = {name: value for name, value in hyperparameters.items() if not name.startswith(TOOLKIT_PREFIX)}
    arguments = [item for name in sorted(own) for item in (f"--{name}", _argument(own[name]))]
    environment = {
        **os.environ,
        "SM_CHANNEL_TRAIN": str(folders.train),
        "SM_CHANNEL_VALIDATION": str(folders.validation),
        "SM_MODEL_DIR": str(folders.model),
        "SM_OUTPUT_DATA_DIR": str(folders.output),
        "SM_HPS": json.dumps(own),
        "SM_CHANNELS": json.dumps(["train", "validation"]),
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "PYTHONPATH": os.pathsep.join([str(source), str(source / PACKAGES), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
    }
    code, tail = _streamed([sys.executable, str(entry), *arguments], source, environment)
    if code != 0:
        raise ScriptError(f"{script.entry_point} exited with {code}: {tail.strip()[-TAIL:]}")
    model_dir = folders.model
    if not any(p.name != CODE_DIR for p in model_dir.iterdir()):
        raise ScriptError(f"{script.entry_point} wrote nothing to SM_MODEL_DIR ({model_dir})")
    shutil.copytree(source, model_dir / CODE_DIR, dirs_exist_ok=True)


def _streamed(command: list[str], cwd: Path, environment: dict[str, str]) -> tuple[int, str]:
    """Run `command` with its output (stdout and stderr, interleaved) passed on line by line as it
    comes, as a training job's log shows it; returns the exit code and the output's end."""
    kept: collections.deque[str] = collections.deque(maxlen=40)
    with subprocess.Popen(
        command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as running:
        assert running.stdout is not None
        for line in running.stdout:
            sys.stderr.write(line)
            sys.stderr.flush()
            kept.append(line)
    return running.returncode, "".join(kept)


def install_requirements(source: Path, requirements: str) -> None:
    """pip-install the script's requirements into the source's `_packages` (as the SageMaker
    training toolkit installs a source dir's requirements.txt before the entry point runs)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-cache-dir", "--disable-pip-version-check",
         "--target", str(source / PACKAGES), "-r", str(source / requirements)],
        cwd=source, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise ScriptError(f"{requirements} could not be installed: {done.stderr.strip()[-TAIL:]}")


def _argument(value: Any) -> str:
    """A hyperparameter on the command line as the SageMaker training toolkit writes it
    (`mapping.to_cmd_args` in sagemaker-training-toolkit's src/sagemaker_training/mapping.py:
    keys sorted, a mapping as `k=v,k=v`, anything else `str(value)`, so True is "True")."""
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items()))
    return str(value)


class ScriptModel:
    """A model behind the team's `model_fn` and `predict_fn`, with the methods the jobs and the
    server call on a scikit-learn pipeline (`predict_proba`, `predict`), checked on every call.

    Several script models live in one process (Evaluate's candidate and champion, the endpoint's
    production and shadow), often with helper modules of the same name (`features`). Each model's
    modules are its own: loading and every prediction run with the model's code first on the
    import path and only its own modules under those names (`_own_modules`)."""

    _roots: ClassVar[list[Path]] = []  # the code folders of every script model loaded here

    def __init__(self, model_dir: Path, inference: str, problem_type: ProblemType) -> None:
        self.inference, self.problem_type = inference, problem_type
        self.code = (model_dir / CODE_DIR).resolve()
        self._modules: dict[str, ModuleType] = {}
        path = self.code / inference
        if not path.is_file():
            raise ScriptError(f"the model has no {CODE_DIR}/{inference} (training.script.inference)")
        if self.code not in ScriptModel._roots:
            ScriptModel._roots.append(self.code)
        with self._own_modules():
            module = _import(path, inference)
            for name in ("model_fn", "predict_fn"):
                if not callable(getattr(module, name, None)):
                    raise ScriptError(
                        f"{inference} defines no {name}: it needs model_fn(model_dir) and predict_fn(data, model)"
                    )
            self._predict_fn = module.predict_fn
            try:
                self.model = module.model_fn(str(model_dir))
            except Exception as error:
                raise ScriptError(f"{inference} model_fn failed: {type(error).__name__}: {error}") from error

    def _owns(self, module: Any) -> bool:
        return _under(module, [self.code])

    @contextmanager
    def _own_modules(self) -> Iterator[None]:
        """Run with this model's code first on the import path and, under each module name, this
        model's module rather than another script model's; what it imports is kept for next time."""
        others = [root for root in ScriptModel._roots if root != self.code]
        foreign = {name: m for name, m in list(sys.modules.items()) if others and _under(m, others)}
        for name in foreign:
            del sys.modules[name]
        sys.modules.update(self._modules)
        saved = list(sys.path)
        sys.path[:0] = [str(self.code / PACKAGES), str(self.code)]
        try:
            yield
        finally:
            self._modules = {name: m for name, m in list(sys.modules.items()) if self._owns(m)}
            if others:  # another script model may run next: its modules go back under these names
                for name in self._modules:
                    del sys.modules[name]
                sys.modules.update(foreign)
            sys.path[:] = saved

    def _predicted(self, rows: Any) -> np.ndarray:
        try:
            with self._own_modules():
                found = np.asarray(self._predict_fn(rows, self.model))
        except Exception as error:
            raise ScriptError(f"{self.inference} predict_fn failed: {type(error).__name__}: {error}") from error
        if self.problem_type == "binary_classification" and found.ndim == 2 and found.shape[1] == 2:
            found = found[:, 1]
        if found.ndim != 1 or len(found) != len(rows):
            raise ScriptError(
                f"{self.inference} predict_fn returned shape {found.shape} for {len(rows)} rows; "
                f"a {self.problem_type} model returns one value per row"
            )
        return found

    def predict_proba(self, rows: Any) -> np.ndarray:
        scores = self._predicted(rows)
        try:
            scores = scores.astype("float64")
        except ValueError:
            raise ScriptError(f"{self.inference} predict_fn returned non-numbers for a binary classifier") from None
        if not np.all((scores >= 0) & (scores <= 1)):
            outside = scores[~((scores >= 0) & (scores <= 1))][:3].tolist()
            raise ScriptError(f"{self.inference} predict_fn returned probabilities outside [0, 1]: {outside}")
        return np.column_stack([1 - scores, scores])

    def predict(self, rows: Any) -> np.ndarray:
        found = self._predicted(rows)
        if self.problem_type == "regression":
            try:
                values = found.astype("float64")
            except ValueError:
                raise ScriptError(f"{self.inference} predict_fn returned non-numbers for a regression") from None
            if not np.all(np.isfinite(values)):
                raise ScriptError(f"{self.inference} predict_fn returned values that are not finite numbers")
            return values
        return found


def _under(module: Any, roots: list[Path]) -> bool:
    """Whether `module` was loaded from a file under one of `roots`."""
    file = getattr(module, "__file__", None)
    if not file or not roots:
        return False
    resolved = _resolved(file)
    return any(resolved.is_relative_to(root) for root in roots)


@functools.cache
def _resolved(file: str) -> Path:
    """A module file's real path, resolved once (ownership is checked on every prediction)."""
    return Path(file).resolve()


def _import(path: Path, inference: str) -> Any:
    """The inference module, under a name of its own (the import path is `_own_modules`')."""
    spec = importlib.util.spec_from_file_location(f"inference_{abs(hash(str(path)))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise ScriptError(f"{inference} cannot be imported: {type(error).__name__}: {error}") from error
    return module
