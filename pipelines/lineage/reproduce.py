"""Retrain a registered version from its rebuilt data, in today's environment, and compare.

`reconstruct` rebuilds the splits and the config the run read; the registered model archive says
how the model was trained (estimator or script, hyperparameters, seed) and in which environment
(Python, every job package as installed). A different Python or package version is an error
naming each difference: a reproduction elsewhere proves nothing. The Train job's own entry runs
on the rebuilt channels (a script from its registered, content-addressed source archive), then
the new model is measured on the rebuilt test split as Evaluate measured the registered one.
Every metric must equal the registered one bit for bit (the built-in estimators and a script
that fixes its seeds are deterministic), or within a stated absolute tolerance for a script that
is not; the model files' sha256 are compared and reported. The registry anchors what is read:
the model archive by its sha256 (ModelSha256), the environment record by EnvironmentHash.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.config import parse_config
from pipelines.errors import PipelinesError
from pipelines.lineage.jobs import code_change, job_environment, require_empty
from pipelines.lineage.objects import Objects
from pipelines.lineage.reconstruct import Reconstruction, reconstruct
from pipelines.naming import CONFIG_FILE, EVALUATION_REPORT
from pipelines.promotion.versions import ModelVersion

REPORT_FILE = "reproduction.json"


class ReproduceError(PipelinesError):
    """The version cannot be reproduced here, or its reproduction differs; the message says how."""


@dataclass(frozen=True)
class Reproduction:
    version: str
    tolerance: float
    data: Reconstruction
    metrics: dict[str, dict[str, Any]]  # name -> registered, reproduced (test split, then validation)
    model_files: dict[str, bool]  # file -> same sha256 as the registered model's
    notes: list[str]  # what differs without deciding anything (the job code's version)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "tolerance": self.tolerance,
            "data": self.data.to_json(),
            "metrics": self.metrics,
            "model_files_identical": self.model_files,
            "notes": self.notes,
        }


def reproduce(
    version: ModelVersion, objects: Objects, out: Path, force: bool = False, tolerance: float = 0.0
) -> Reproduction:
    """`tolerance`: how far (absolute) a reproduced metric may be from the registered one; 0, the
    default, asks for the same bits (the built-in estimators under their seed give them)."""
    label = version.label
    require_empty(out, force, ReproduceError)
    evaluation = json.loads(objects.read(version.metadata[EVALUATION_REPORT]))
    image = evaluation.get("lineage", {}).get("image")
    if image:
        raise ReproduceError(f"{label} was trained by the team's image {image}: run that image to reproduce it")
    data = reconstruct(label, version.metadata, objects, out / "data", force=True)
    registered = out / "registered"
    shutil.rmtree(registered, ignore_errors=True)
    metadata = _registered_model(label, version, objects, registered)
    notes = _check_environment(label, metadata, version.metadata)
    config_text = (out / "data" / CONFIG_FILE).read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="reproduce-") as temporary:
        opt_ml = Path(temporary)
        _stage_training(opt_ml, out / "data", config_text, _hyperparameters(metadata))
        if "SourceArchive" in version.metadata:
            _stage_source(opt_ml, version.metadata["SourceArchive"], objects)
        with job_environment(opt_ml):
            from training_containers import train

            if train.main() != 0:
                failure = (opt_ml / "output" / "failure").read_text(encoding="utf-8")
                raise ReproduceError(f"{label}: the Train job failed on the rebuilt data: {failure}")
            reproduced_model = out / "model"
            shutil.rmtree(reproduced_model, ignore_errors=True)
            shutil.copytree(opt_ml / "model", reproduced_model)
    metrics = _compare_metrics(label, config_text, out, metadata, evaluation, tolerance)
    done = Reproduction(label, tolerance, data, metrics, _compare_files(registered, out / "model"), notes)
    (out / REPORT_FILE).write_text(json.dumps(done.to_json(), indent=2) + "\n", encoding="utf-8")
    return done


def _registered_model(label: str, version: ModelVersion, objects: Objects, folder: Path) -> dict[str, Any]:
    """The registered model archive, checked against the sha256 Evaluate recorded in the registry
    entry, unpacked into `folder`; returns its model_metadata.json."""
    archive = objects.read(version.version.model_data)
    recorded = version.metadata.get("ModelSha256", "none")
    digest = hashlib.sha256(archive).hexdigest()
    if recorded != "none" and digest != recorded:
        raise ReproduceError(
            f"{label}: its model archive {version.version.model_data} has sha256 {digest}; "
            f"the registry recorded {recorded}"
        )
    folder.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    if not (folder / "model_metadata.json").is_file():
        raise ReproduceError(
            f"{label}: its model archive holds no model_metadata.json: not a model this project trained"
        )
    metadata: dict[str, Any] = json.loads((folder / "model_metadata.json").read_text(encoding="utf-8"))
    return metadata


def _check_environment(label: str, metadata: dict[str, Any], registry: dict[str, str]) -> list[str]:
    """Refuse another environment, or a record the registry's EnvironmentHash does not match."""
    from training_containers.environment import differences, environment, environment_hash

    record = metadata.get("environment", {})
    recorded_hash = registry.get("EnvironmentHash", "unknown")
    if recorded_hash not in ("unknown", "none") and environment_hash(record) != recorded_hash:
        raise ReproduceError(
            f"{label}: the model archive's environment record hashes to {environment_hash(record)}, not to the "
            f"registry's EnvironmentHash {recorded_hash}: the archive was changed after registration"
        )
    differ = differences(record, environment())
    if differ:
        raise ReproduceError(
            f"{label} was trained in another environment: {'; '.join(differ)}. Reproduce it with these versions "
            "(its job image has them)"
        )
    changed = code_change(registry.get("CodeVersion", ""))
    return [f"the job code differs {changed}: the comparison below decides"] if changed else []


def _hyperparameters(metadata: dict[str, Any]) -> dict[str, Any]:
    """What the Train job received: a built-in estimator's name and seed besides its parameters;
    a script's hyperparameters as they were passed."""
    if metadata.get("entry_point"):
        recorded: dict[str, Any] = metadata.get("hyperparameters") or {}
        return recorded
    return {"estimator": metadata["estimator"], "random_seed": metadata["random_seed"], **metadata["hyperparameters"]}


def _stage_training(opt_ml: Path, data: Path, config_text: str, hyperparameters: dict[str, Any]) -> None:
    for channel in ("train", "validation"):
        folder = opt_ml / "input" / "data" / channel
        folder.mkdir(parents=True)
        shutil.copyfile(data / f"{channel}.parquet", folder / f"{channel}.parquet")
    (opt_ml / "input" / "data" / "config").mkdir(parents=True)
    (opt_ml / "input" / "data" / "config" / CONFIG_FILE).write_text(config_text, encoding="utf-8")
    (opt_ml / "input" / "config").mkdir(parents=True)
    encoded = {name: json.dumps(value) for name, value in hyperparameters.items()}  # SageMaker passes text
    (opt_ml / "input" / "config" / "hyperparameters.json").write_text(json.dumps(encoded), encoding="utf-8")
    (opt_ml / "model").mkdir()


def _stage_source(opt_ml: Path, uri: str, objects: Objects) -> None:
    """A script's source archive: its key holds the first 16 hex digits of its sha256."""
    content = objects.read(uri)
    digest = hashlib.sha256(content).hexdigest()
    if f"/{digest[:16]}/" not in uri:
        raise ReproduceError(f"the source archive {uri} has sha256 {digest}, not the one its key names")
    folder = opt_ml / "input" / "data" / "code"
    folder.mkdir(parents=True)
    (folder / uri.rsplit("/", 1)[-1]).write_bytes(content)


def _compare_metrics(
    label: str, config_text: str, out: Path, registered: dict[str, Any], evaluation: dict[str, Any], tolerance: float
) -> dict[str, dict[str, Any]]:
    from training_containers import models
    from training_containers.evaluate import measure, score

    config = parse_config(json.loads(config_text))
    test = pd.read_parquet(out / "data" / "test.parquet")
    model, reproduced = models.load(out / "model")
    on_test = measure(score(model, test, config, None), test, config, None)["metrics"]
    compared = {f"test {name}": (evaluation["metrics"].get(name), value) for name, value in on_test.items()}
    then_validation = registered.get("validation_metrics") or {}
    now_validation = reproduced.get("validation_metrics") or {}
    compared |= {f"validation {n}": (then_validation.get(n), now_validation.get(n)) for n in then_validation}
    differ = [
        f"{name}: {a!r} registered, {b!r} reproduced" for name, (a, b) in compared.items() if not _same(a, b, tolerance)
    ]
    if differ:
        within = f" (tolerance {tolerance:g})" if tolerance else " (asked for the same bits)"
        raise ReproduceError(f"{label} reproduced with other results{within}: {'; '.join(differ)}")
    return {name: {"registered": a, "reproduced": b} for name, (a, b) in compared.items()}


def _same(a: Any, b: Any, tolerance: float) -> bool:
    if a == b:
        return True
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tolerance  # NaN equals NaN here
    return False


def _compare_files(registered: Path, reproduced: Path) -> dict[str, bool]:
    """Each model file (the metadata aside: it records times and this run) by sha256."""

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    files = sorted(p.relative_to(registered).as_posix() for p in registered.rglob("*") if p.is_file())
    return {
        name: (reproduced / name).is_file() and digest(registered / name) == digest(reproduced / name)
        for name in files
        if name != "model_metadata.json"
    }
