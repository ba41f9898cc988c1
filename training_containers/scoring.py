"""An image model (training.image) is scored through its own serving contract: DataPull writes the
rows to score as the endpoint takes them (text/csv, one record per line, the features in the
config's order, no header: the test split, then the edge cases), a batch transform sends them to
the image's `/invocations`, and Evaluate reads the answers back here.

A batch transform with `SplitType: Line`, `AssembleWith: Line` and `Accept: text/csv` writes one
answer line per input line to `<input file>.out` ("TransformOutput", SageMaker API reference:
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformOutput.html). Each answer
is what `training_containers.serving` answers too: the positive class's score (binary), the class
(multiclass), the value (regression).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.config import ModelConfig
from pipelines.gates.catalog import ProblemType
from pipelines.gates.metrics import as_classes
from pipelines.naming import SCORING_FILE, TRANSFORM_SUFFIX
from training_containers.estimators import features_frame

ANSWER = {
    "binary_classification": "the positive class's score in [0, 1], not both classes' probabilities",
    "multiclass_classification": "the class, not the classes' probabilities",
    "regression": "the value",
}


class ScoringError(ValueError):
    """The image's answers cannot be the predictions of the rows it was sent."""


def records(frames: list[pd.DataFrame], config: ModelConfig) -> str:
    """The features of `frames`, in order, as text/csv records: numbers keep every digit
    (`%.17g`), a missing value is an empty field."""
    rows = pd.concat([features_frame(f, config) for f in frames], ignore_index=True)
    text: str = rows.to_csv(header=False, index=False, na_rep="", float_format="%.17g", lineterminator="\n")
    return text


def write_rows(frames: list[pd.DataFrame], config: ModelConfig, folder: Path) -> int:
    """scoring.csv: the records of `frames`; returns how many."""
    text = records(frames, config)
    (folder / SCORING_FILE).write_text(text, encoding="utf-8")
    return text.count("\n")


def read_answers(
    folder: Path, rows: int, problem_type: ProblemType, who: str, classes: set[str] | None = None
) -> np.ndarray:
    """The `rows` answers in `folder/scoring.csv.out`, as `estimators.predictions` gives them."""
    path = folder / (SCORING_FILE + TRANSFORM_SUFFIX)
    if not path.is_file():
        found = sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
        raise ScoringError(f"{who}: no {path.name} among the transform's output {found}")
    return parse_answers(path.read_text(encoding="utf-8"), rows, problem_type, who, classes)


def parse_answers(
    text: str, rows: int, problem_type: ProblemType, who: str, classes: set[str] | None = None
) -> np.ndarray:
    """A text/csv answer of one prediction a line, checked against what the problem type allows;
    `classes`: those a multiclass answer may name (the label's)."""
    if text.lstrip()[:1] in ("{", "["):
        raise ScoringError(
            f"{who}: the image answered JSON ({text.strip()[:60]!r}...); to Accept: text/csv it answers "
            "one prediction a line"
        )
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != rows:
        raise ScoringError(f"{who}: the image answered {len(lines)} lines for {rows} records; it answers one a record")
    fields = [next(csv.reader(io.StringIO(line))) for line in lines]
    wide = next((i for i, found in enumerate(fields) if len(found) != 1), None)
    if wide is not None:
        raise ScoringError(
            f"{who}: line {wide + 1} of the answer holds {len(fields[wide])} fields ({lines[wide][:60]!r}); a line "
            f"holds one prediction: {ANSWER[problem_type]}"
        )
    values = [found[0].strip() for found in fields]
    if problem_type == "multiclass_classification":  # "1.0" is class 1, as a float label column says it
        answered = as_classes([float(v) if _is_number(v) else v for v in values])
        unknown = sorted(set(answered) - classes) if classes else []
        if unknown:
            raise ScoringError(
                f"{who}: the image answered classes the label never holds: {unknown[:5]}; its classes are "
                f"{sorted(classes or [])[:10]} (answer with the class itself, as text)"
            )
        return answered
    try:
        numbers = np.asarray(values, dtype="float64")
    except ValueError:
        bad = next(v for v in values if not _is_number(v))
        raise ScoringError(f"{who}: the image answered {bad!r}, not a number, for a {problem_type} model") from None
    if not np.all(np.isfinite(numbers)):
        raise ScoringError(f"{who}: the image answered values that are not finite numbers")
    if problem_type == "binary_classification" and not np.all((numbers >= 0) & (numbers <= 1)):
        outside = numbers[(numbers < 0) | (numbers > 1)][:3].tolist()
        raise ScoringError(f"{who}: the image answered scores outside [0, 1] for a binary classifier: {outside}")
    return numbers


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
