"""Evaluate processing job: candidate and champion on the same held-out data.

Inputs:  model/model.tar.gz (the candidate), test/ (Parquet), baseline/ (DataPull's
         baseline_profile.json), champion/ (champion.json and, when a champion exists, its
         model.tar.gz), edge_cases/ (CSV, optional), config/.
Outputs: evaluation/evaluation.json (read by the gate ConditionStep through a PropertyFile),
         evaluation/model_quality.json (SageMaker model-quality statistics, shown in Studio) and
         evaluation/baseline_profile.json: DataPull's profile with the candidate's scores on the
         test split added as the prediction baseline (what the drift monitor compares the
         production scores with once this version serves).

champion.json is `{"model_package_arn": ARN | null, "model_data": "model.tar.gz"}`; the promotion
stage keeps it current. A missing file means there is no champion yet.
"""

from __future__ import annotations

import hashlib
import operator
import sys
import tarfile
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines import naming
from pipelines.config import ModelConfig, SegmentFilter, parse_config
from pipelines.gates.metrics import as_classes
from pipelines.gates.rules import Measurements, evaluate_gates, failure_message
from training_containers import contract, models, scoring
from training_containers.estimators import features_frame, predictions, targets
from training_containers.files import read_json, read_tables, sha256_of, table_files, write_json
from training_containers.metrics import gate_metrics, quality_statistics
from training_containers.profile import with_predictions

EVALUATION = naming.EVALUATION_FILE
MODEL_QUALITY = naming.MODEL_QUALITY_FILE
PROFILE = naming.BASELINE_PROFILE
_OPS = {"==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


def load_model(archive: Path, workdir: Path) -> tuple[Any, dict[str, Any]]:
    """Unpack a SageMaker model.tar.gz and load the model and its metadata."""
    target = workdir / archive.stem.replace(".tar", "")
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return models.load(target)


def segment_mask(frame: pd.DataFrame, where: SegmentFilter) -> pd.Series:
    column = frame[where.column]
    value: Any = where.value
    if isinstance(value, str) and not pd.api.types.is_numeric_dtype(column):
        column = column.astype(str)
    mask: pd.Series = _OPS[where.op](column, value).fillna(False).astype(bool)
    return mask


@dataclass(frozen=True)
class Scored:
    """What one model predicted for the test rows and for the edge cases."""

    test: np.ndarray
    edge_cases: np.ndarray | None = None


def score(model: Any, frame: pd.DataFrame, config: ModelConfig, edge_cases: pd.DataFrame | None) -> Scored:
    """A model this job can load, asked in process."""
    problem_type = config.model.problem_type
    on_edge = None if edge_cases is None else predictions(model, features_frame(edge_cases, config), problem_type)
    return Scored(predictions(model, features_frame(frame, config), problem_type), on_edge)


def answers(
    folder: Path,
    frame: pd.DataFrame,
    config: ModelConfig,
    edge_cases: pd.DataFrame | None,
    who: str,
    classes: set[str] | None = None,
) -> Scored:
    """An image model, asked through its server: a transform's answers to DataPull's scoring rows;
    `classes`: those a multiclass answer may name."""
    edge_rows = 0 if edge_cases is None else len(edge_cases)
    found = scoring.read_answers(folder, len(frame) + edge_rows, config.model.problem_type, who, classes)
    return Scored(found[: len(frame)], found[len(frame) :] if edge_cases is not None else None)


def measure(
    scored: Scored, frame: pd.DataFrame, config: ModelConfig, edge_cases: pd.DataFrame | None
) -> dict[str, Any]:
    """Overall metrics, per-segment metrics (with support) and edge-case results of one model."""
    threshold, problem_type = config.gates.decision_threshold, config.model.problem_type
    truth = targets(frame, config)
    predicted = scored.test
    segments = {}
    for segment in config.gates.segments:
        mask = segment_mask(frame, segment.where).to_numpy()
        of_class = str(segment.where.value) if segment.where.column == config.model.label else None
        result = gate_metrics(problem_type, truth[mask], predicted[mask], threshold, of_class)
        binary_recall = segment.metric == "recall" and problem_type == "binary_classification"
        support = result["positives"] if binary_recall else result["samples"]
        segments[segment.name] = result | {"support": int(support or 0)}
    return {
        "metrics": gate_metrics(problem_type, truth, predicted, threshold),
        "segments": segments,
        "edge_cases": _edge_cases(scored.edge_cases, edge_cases, config),
        "_predictions": predicted,
        "_truth": truth,
    }


def _edge_cases(predicted: np.ndarray | None, cases: pd.DataFrame | None, config: ModelConfig) -> dict[str, Any] | None:
    """Which hand-written cases the model gets right: the expected class (a classifier), or a
    value within `gates.edge_cases.tolerance` of the expected one (a regression)."""
    if cases is None or not len(cases) or predicted is None:
        return None
    problem_type = config.model.problem_type
    expected: Any
    if problem_type == "binary_classification":
        expected = cases["expected_label"].astype(int).to_numpy()
        right = (predicted >= config.gates.decision_threshold).astype(int) == expected
    elif problem_type == "multiclass_classification":
        expected = as_classes(cases["expected_label"].to_numpy())
        right = predicted == expected
    else:
        edge = config.gates.edge_cases
        assert edge is not None and edge.tolerance is not None  # the config requires it
        expected = cases["expected_label"].to_numpy(dtype="float64")
        right = np.abs(predicted - expected) <= edge.tolerance
    return {
        "pass_rate": float(right.mean()),
        "cases": len(expected),
        "failures": [
            {"row": int(i), "expected": _plain(expected[i]), "prediction": _plain(predicted[i])}
            for i in np.flatnonzero(~right)
        ],
    }


def _sha256_or_none(path: Path) -> str:
    """A file's sha256, or "none" (registry metadata values may not be empty)."""
    return sha256_of(path) if path.is_file() else "none"


def _plain(value: Any) -> Any:
    """A value for JSON: numbers rounded, classes as text."""
    return round(float(value), 4) if isinstance(value, int | float | np.number) else str(value)


def measurements(candidate: dict[str, Any], champion: dict[str, Any] | None) -> Measurements:
    """What the gates judge, from `measure` of the candidate and (when there is one) the champion
    on the same held-out data."""
    return Measurements(
        candidate=candidate["metrics"],
        champion=champion["metrics"] if champion else None,
        segments=candidate["segments"],
        champion_segments=champion["segments"] if champion else None,
        edge_case_pass_rate=(candidate["edge_cases"] or {}).get("pass_rate"),
        champion_edge_case_pass_rate=((champion or {}).get("edge_cases") or {}).get("pass_rate"),
    )


def run(workdir: Path) -> dict[str, Any]:
    config = parse_config(read_json(contract.processing_input("config") / naming.CONFIG_FILE))
    test = read_tables(contract.processing_input("test"))
    if len(test) == 0:
        raise ValueError("the test input holds no rows: nothing to evaluate on")
    baseline_path = contract.processing_input("baseline") / PROFILE
    if not baseline_path.exists():
        raise ValueError(f"the baseline input holds no {PROFILE} (DataPull's baseline output)")
    baseline = read_json(baseline_path)
    edge_files = table_files(contract.processing_input("edge_cases"))
    edge_cases = read_tables(edge_files[0]) if edge_files else None
    if config.gates.edge_cases is not None and edge_cases is None:
        raise ValueError("gates.edge_cases is configured but the edge_cases input holds no CSV")

    image = config.training.outside_image
    champion_info = _champion_info()
    champion_scored: Scored | None = None
    not_compared: str | None = None
    if image is not None:  # scored by its own server (ScoreCandidate and ScoreChampion)
        classes = _label_classes(baseline, test, edge_cases, config)
        candidate_metadata = _image_lineage(config, image)
        folder = contract.processing_input("predictions")
        candidate_scored = answers(folder, test, config, edge_cases, "ScoreCandidate", classes)
        if champion_info.get("model_package_arn"):
            folder = contract.processing_input("champion_predictions")
            champion_scored = answers(folder, test, config, edge_cases, "ScoreChampion", classes)
    else:
        candidate_model, candidate_metadata = load_model(
            contract.processing_input("model") / "model.tar.gz", workdir / "candidate"
        )
        candidate_scored = score(candidate_model, test, config, edge_cases)
        if champion_info.get("model_package_arn"):
            champion_scored, not_compared = _champion_in_process(champion_info, test, config, edge_cases, workdir)
    candidate = measure(candidate_scored, test, config, edge_cases)
    champion = None if champion_scored is None else measure(champion_scored, test, config, edge_cases)

    results = evaluate_gates(config, measurements(candidate, champion))
    document = {
        "metrics": candidate["metrics"],
        "segments": candidate["segments"],
        "edge_cases": candidate["edge_cases"],
        "champion": {
            "present": champion is not None,
            "model_package_arn": champion_info.get("model_package_arn"),
            "not_compared": not_compared,  # why a champion that serves was not scored
            "metrics": champion["metrics"] if champion else None,
            "segments": champion["segments"] if champion else None,
        },
        "gates": {r.name: r.to_json() for r in results},
        "summary": {
            "passed": all(r.passed for r in results),
            "failed_gates": [r.name for r in results if not r.passed],
            "failure_message": failure_message(results),
        },
        "lineage": {
            "environment_hash": candidate_metadata.get("environment_hash", "unknown"),
            "environment": candidate_metadata.get("environment", {}),
            "estimator": candidate_metadata.get("estimator"),
            "entry_point": candidate_metadata.get("entry_point"),  # a script model's
            "image": candidate_metadata.get("image"),  # an image model's
            "test_rows": len(test),
            # what the registry anchors by content (reconstruct and reproduce check them)
            "manifest_sha256": _sha256_or_none(contract.processing_input("report") / naming.MANIFEST_FILE),
            "model_sha256": _sha256_or_none(contract.processing_input("model") / "model.tar.gz"),
        },
    }
    out = contract.processing_output("evaluation")
    write_json(out / EVALUATION, document)
    write_json(out / PROFILE, with_predictions(baseline, candidate["_predictions"], config, candidate["_truth"]))
    quality = quality_statistics(
        config.model.problem_type,
        candidate["_truth"],
        candidate["_predictions"],
        config.gates.decision_threshold,
        seed=config.training.random_seed,
    )
    write_json(out / MODEL_QUALITY, quality)
    return document


def _label_classes(
    baseline: dict[str, Any], test: pd.DataFrame, edge_cases: pd.DataFrame | None, config: ModelConfig
) -> set[str] | None:
    """The classes a multiclass answer may name: the training window's (DataPull's profile), the
    test split's and the edge cases' expected ones. None for other problem types."""
    if config.model.problem_type != "multiclass_classification":
        return None
    found = set(baseline.get("label", {}).get("classes") or []) | set(targets(test, config))
    if edge_cases is not None and "expected_label" in edge_cases:
        found |= set(as_classes(edge_cases["expected_label"].to_numpy()))
    return found


def _image_lineage(config: ModelConfig, image: str) -> dict[str, Any]:
    """What stands for the environment of a model this job cannot look inside: its image."""
    script = config.training.script
    return {
        "environment_hash": hashlib.sha256(image.encode()).hexdigest(),
        "image": image,
        "entry_point": script.entry_point if script is not None else None,
    }


def _champion_in_process(
    info: dict[str, Any], test: pd.DataFrame, config: ModelConfig, edge_cases: pd.DataFrame | None, workdir: Path
) -> tuple[Scored | None, str | None]:
    """The champion scored here, or why it cannot be: a champion served by its own image (the
    config moved from training.image to a built-in estimator or script) is not this job's to load,
    and is then not compared rather than blocking every later version."""
    archive = contract.processing_input("champion") / info.get("model_data", "model.tar.gz")
    try:
        model, _ = load_model(archive, workdir / "champion")
    except models.ModelDirError as error:
        reason = (
            f"the champion (version {info.get('version')}, image {info.get('image')}) cannot be loaded by the job "
            f"image ({error}); it was not compared, so the champion gate does not apply to this version"
        )
        print(f"warning: {reason}", file=sys.stderr)
        return None, reason
    return score(model, test, config, edge_cases), None


def _champion_info() -> dict[str, Any]:
    path = contract.processing_input("champion") / naming.CHAMPION_POINTER
    return read_json(path) if path.exists() else {}


def main() -> int:
    try:
        with tempfile.TemporaryDirectory() as workdir:
            document = run(Path(workdir))
    except Exception as exc:  # the reason where SageMaker reads it (ExitMessage), the trace in the log
        contract.report_exit_message(f"{type(exc).__name__}: {exc}")
        traceback.print_exc()
        return 1
    summary = document["summary"]
    print("gates passed" if summary["passed"] else summary["failure_message"], file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
