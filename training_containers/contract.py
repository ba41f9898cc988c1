"""The SageMaker container contract: where a job finds its inputs and leaves its outputs.

Processing jobs see inputs under /opt/ml/processing/input/<name> and write outputs under
/opt/ml/processing/output/<name>. Training jobs read channels from /opt/ml/input/data/<channel>,
hyperparameters from /opt/ml/input/config/hyperparameters.json and write the model to
/opt/ml/model (uploaded as model.tar.gz). `SM_*` variables, when a toolkit sets them, win.

`OPT_ML_ROOT` moves /opt/ml elsewhere; the local runtime uses it to run jobs in a work dir.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def opt_ml() -> Path:
    return Path(os.environ.get("OPT_ML_ROOT", "/opt/ml"))


def processing_input(name: str) -> Path:
    return opt_ml() / "processing" / "input" / name


def processing_output(name: str) -> Path:
    path = opt_ml() / "processing" / "output" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def current_host() -> str:
    """This instance's name in a multi-instance processing job (`algo-1`, `algo-2`, ...), from
    /opt/ml/config/resourceconfig.json ("How Amazon SageMaker Processing Configures Your
    Processing Container": https://docs.aws.amazon.com/sagemaker/latest/dg/build-your-own-processing-container.html)."""
    path = opt_ml() / "config" / "resourceconfig.json"
    if not path.is_file():
        return "algo-1"
    return str(json.loads(path.read_text(encoding="utf-8")).get("current_host") or "algo-1")


def training_channel(name: str) -> Path:
    env = os.environ.get(f"SM_CHANNEL_{name.upper()}")
    return Path(env) if env else opt_ml() / "input" / "data" / name


def model_dir() -> Path:
    path = Path(os.environ.get("SM_MODEL_DIR") or opt_ml() / "model")
    path.mkdir(parents=True, exist_ok=True)
    return path


def training_output_dir() -> Path:
    path = Path(os.environ.get("SM_OUTPUT_DATA_DIR") or opt_ml() / "output" / "data")
    path.mkdir(parents=True, exist_ok=True)
    return path


def failure_file() -> Path:
    """A training job's: SageMaker shows its first 1024 characters as the job's FailureReason."""
    return opt_ml() / "output" / "failure"


def exit_message_file() -> Path:
    """A processing job's: DescribeProcessingJob returns its first 1 KB as ExitMessage ("Save and
    Access Metadata Information About Your Processing Job", SageMaker developer guide:
    https://docs.aws.amazon.com/sagemaker/latest/dg/byoc-metadata.html)."""
    return opt_ml() / "output" / "message"


def report_exit_message(text: str) -> None:
    """Leave a processing job's reason where SageMaker reads it (UTF-8, first 1 KB kept)."""
    path = exit_message_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text[:1024], encoding="utf-8")


def hyperparameters() -> dict[str, str]:
    """Hyperparameters as SageMaker passes them: a JSON object of strings."""
    env = os.environ.get("SM_HPS")
    if env:
        return {k: str(v) for k, v in json.loads(env).items()}
    path = opt_ml() / "input" / "config" / "hyperparameters.json"
    if not path.exists():
        return {}
    return {k: str(v) for k, v in json.loads(path.read_text()).items()}
