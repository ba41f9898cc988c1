"""`python -m pipelines drift`: files in, report JSON (and HTML) out."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.cli import main
from pipelines.simulation.datagen import StreamSpec, generate
from tests.conftest import EXAMPLE_CONFIG

STATISTICS = {"psi", "ks", "wasserstein", "js", "ood_share", "null_rate_increase"}


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("drift-cli")
    reference, current = folder / "reference.parquet", folder / "current.csv"
    generate(StreamSpec(rows=20_000, seed=1)).to_parquet(reference)
    generate(StreamSpec(rows=5_000, seed=2, scenario="covariate")).drop(columns="risk_band").to_csv(
        current, index=False
    )
    return reference, current


def test_drift_command_writes_per_feature_statistics_and_verdicts(
    tables: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference, current = tables
    out, page = tmp_path / "report.json", tmp_path / "report.html"
    argv = ["drift", "--reference", str(reference), "--current", str(current), "--config", str(EXAMPLE_CONFIG)]

    assert main([*argv, "--json", str(out), "--html", str(page)]) == 0

    report = json.loads(out.read_text())
    amount = report["features"]["amount"]
    assert set(amount) >= STATISTICS and amount["drifted"] is True
    assert report["features"]["hour_of_day"]["drifted"] is False
    assert report["features"]["risk_band"]["status"] == "missing"
    assert report["schema_problems"] == [{"feature": "risk_band", "problem": "missing from the current window"}]
    assert page.read_text().startswith("<!doctype html>")
    printed = capsys.readouterr()
    assert "4 of 9 features drifted" in printed.out and "schema problem: risk_band" in printed.err
    # a new user was told of the JSON only, and found it readable by them alone (0600, a temporary file's)
    assert f"wrote {out} and {page}" in printed.out
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
    # a rewritten report keeps the mode its owner gave it
    out.chmod(0o600)
    assert main([*argv, "--json", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_drift_command_prints_what_the_labels_measured_and_whether_the_estimate_still_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new user's console showed features and label drift only; the page said the SLO was
    missed and, a line below, the estimate met, against a realized metric far under it."""
    rng = np.random.default_rng(0)

    def scored(rows: int, seed: int, hidden_share: float = 0.0) -> pd.DataFrame:
        frame = generate(StreamSpec(rows=rows, seed=seed))
        scores = np.clip(frame["is_fraud"] * 0.55 + rng.beta(1, 6, rows), 0, 1).round(3)
        hidden = (frame["is_fraud"] == 1) & (rng.random(rows) < hidden_share)  # frauds now scored as legitimate
        return frame.assign(prediction=np.where(hidden, rng.beta(1, 6, rows).round(3), scores))

    reference, current = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    scored(20_000, seed=1).to_parquet(reference)
    scored(5_000, seed=2, hidden_share=0.4).to_parquet(current)
    argv = ["drift", "--reference", str(reference), "--current", str(current), "--config", str(EXAMPLE_CONFIG)]
    assert main([*argv, "--json", str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html")]) == 0
    printed = capsys.readouterr().out
    assert "performance on 5,000 labels: " in printed and "SLO pr_auc ≥ 0.45: MISSED" in printed
    assert "on the 5,000 labelled predictions: estimated pr_auc " in printed  # the SLO's metric
    assert "outside the estimate's 95 % bounds" in printed
    page = (tmp_path / "r.html").read_text()
    assert "<li class=drifted>on the 5,000 labelled predictions" in page


def test_drift_command_without_config_infers_features(
    tables: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference, current = tables
    out = tmp_path / "report.json"
    assert main(["drift", "--reference", str(reference), "--current", str(current), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    features = report["features"]
    assert features["amount"]["type"] == "numeric" and features["merchant_category"]["type"] == "categorical"
    assert "event_time" not in features  # datetimes are not features
    # nor is an identifier: a new user's id column "drifted" (every current value unseen) and
    # counted towards the verdict, as did their time column read from a CSV as text
    assert "transaction_id" not in features
    assert report["skipped_columns"] == {
        "event_time": "timestamps",
        "transaction_id": "every value distinct: an identifier or free text",
    }
    assert (
        "not features: event_time (timestamps), transaction_id (every value distinct: an identifier or free text)"
        in (capsys.readouterr().out)
    )
    text_times = tmp_path / "reference.csv"
    pd.read_parquet(reference).to_csv(text_times, index=False)  # times as text, as a CSV holds them
    assert main(["drift", "--reference", str(text_times), "--current", str(current), "--json", str(out)]) == 0
    assert set(json.loads(out.read_text())["skipped_columns"]) == {"event_time", "transaction_id"}


def test_unreadable_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r.txt").write_text("x")
    argv = ["drift", "--reference", str(tmp_path / "r.txt"), "--current", str(tmp_path / "nope.csv")]
    assert main([*argv, "--json", str(tmp_path / "o.json")]) == 2  # bad input, as every command exits on it
    assert "expected a .parquet or .csv file" in capsys.readouterr().err


def test_parquet_is_read_by_content_whatever_its_suffix(tables: tuple[Path, Path], tmp_path: Path) -> None:
    reference, current = tables
    renamed = tmp_path / "reference.pq"
    renamed.write_bytes(reference.read_bytes())
    out = tmp_path / "report.json"
    assert main(["drift", "--reference", str(renamed), "--current", str(current), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["reference"]["rows"] == 20_000


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Tables with a 0/1 `prediction` (the predicted class) and the score in `p_fraud`."""
    folder = tmp_path_factory.mktemp("drift-scored")
    paths = folder / "reference.parquet", folder / "current.parquet"
    for path, seed in zip(paths, (1, 2), strict=True):
        frame = generate(StreamSpec(rows=3_000, seed=seed))
        p_fraud = (frame["is_fraud"] * 0.6 + np.random.default_rng(seed).random(len(frame)) * 0.4).round(4)
        frame.assign(p_fraud=p_fraud, prediction=(p_fraud > 0.5).astype("int64")).to_parquet(path)
    return paths


def test_a_zero_one_prediction_column_is_not_taken_as_the_score(
    scored: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference, current = scored
    argv = ["drift", "--reference", str(reference), "--current", str(current), "--json", str(tmp_path / "o.json")]
    assert main(argv) == 2  # bad input, as every command exits on it
    error = capsys.readouterr().err
    assert "column 'prediction' holds only 0 and 1" in error and "--score-column" in error
    assert not (tmp_path / "o.json").exists()

    assert main([*argv, "--score-column", "prediction"]) == 0  # named: the user means it
    assert json.loads((tmp_path / "o.json").read_text())["prediction"]["status"] == "ok"


def test_score_and_label_columns_are_named_on_the_command_line(
    scored: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference, current = scored
    out = tmp_path / "o.json"
    argv = ["drift", "--reference", str(reference), "--current", str(current), "--json", str(out)]
    assert main([*argv, "--score-column", "p_fraud", "--label-column", "is_fraud"]) == 0
    report = json.loads(out.read_text())
    # the console names the label's verdict too: a new user's biggest change was there, and only the
    # features were printed
    label = report["label"]
    assert (
        f"label: positive rate {label['positive_rate']:.4f} against {label['baseline_positive_rate']:.4f} "
        f"(Cohen's h {label['cohens_h']:.3f}, {'drifted' if label['drifted'] else 'not drifted'})"
    ) in capsys.readouterr().out
    assert report["prediction"]["status"] == "ok"
    assert report["label"]["labels"] == 3_000 and report["label"]["baseline_positive_rate"] is not None
    assert report["performance"]["labels"] == 3_000
    assert not {"p_fraud", "prediction", "is_fraud"} & set(report["features"])


def test_a_named_column_that_is_missing_is_an_error(
    scored: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference, current = scored
    argv = ["drift", "--reference", str(reference), "--current", str(current), "--json", str(tmp_path / "o.json")]
    assert main([*argv, "--score-column", "score"]) == 2  # bad input, as every command exits on it
    assert "has no column 'score' (--score-column)" in capsys.readouterr().err


def test_a_text_label_without_a_config_takes_its_positive_class_on_the_command_line(
    scored: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new user's churn label was 'yes'/'no': `--label-column churned` was refused with "set
    model.positive_class in the config", and the command had no config to set it in."""
    texts = []
    for path in scored:
        frame = pd.read_parquet(path)
        text = tmp_path / f"text-{path.name}"
        frame.assign(is_fraud=np.where(frame["is_fraud"] == 1, "yes", "no")).to_parquet(text)
        texts.append(text)
    out = tmp_path / "o.json"
    argv = ["drift", "--reference", str(texts[0]), "--current", str(texts[1]), "--json", str(out)]
    argv += ["--score-column", "p_fraud", "--label-column", "is_fraud"]
    assert main(argv) == 2
    assert "give --positive-class: the label's positive value, one of 'no', 'yes'" in capsys.readouterr().err
    assert main([*argv, "--positive-class", "yes"]) == 0
    labelled = json.loads(out.read_text())
    assert main(["drift", "--reference", str(scored[0]), "--current", str(scored[1]), "--json", str(out),
                 "--score-column", "p_fraud", "--label-column", "is_fraud"]) == 0  # fmt: skip
    numeric = json.loads(out.read_text())
    assert labelled["label"]["positive_rate"] == numeric["label"]["positive_rate"] > 0
    assert labelled["performance"]["metrics"] == numeric["performance"]["metrics"]


def test_a_positive_class_the_labels_never_hold_or_a_third_label_value_is_refused(
    scored: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new user's --positive-class Fraud (the labels said 'fraud') read every row as negative,
    and a current table with 'pending' labels reported label drift, both with exit 0."""
    reference, current = (pd.read_parquet(path) for path in scored)
    as_text = {1: "fraud", 0: "ok"}
    ref, cur, pending = tmp_path / "ref.parquet", tmp_path / "cur.parquet", tmp_path / "pending.parquet"
    reference.assign(is_fraud=reference["is_fraud"].map(as_text)).to_parquet(ref)
    labels = current["is_fraud"].map(as_text)
    current.assign(is_fraud=labels).to_parquet(cur)
    current.assign(is_fraud=labels.mask(current.index % 10 == 0, "pending")).to_parquet(pending)
    argv = ["drift", "--reference", str(ref), "--json", str(tmp_path / "o.json"), "--score-column", "p_fraud"]
    labelled = [*argv, "--label-column", "is_fraud"]
    assert main([*labelled, "--current", str(cur), "--positive-class", "Fraud"]) == 2
    assert "the positive class 'Fraud' is not among the values of label 'is_fraud' in the reference table " in (
        capsys.readouterr().err
    )
    assert main([*labelled, "--current", str(pending), "--positive-class", "fraud"]) == 2
    assert "label 'is_fraud' holds 3 values in the current table ('fraud', 'ok', 'pending')" in capsys.readouterr().err
    assert main([*argv, "--current", str(cur), "--positive-class", "fraud"]) == 2
    assert "give --label-column too" in capsys.readouterr().err
    assert main([*labelled, "--current", str(cur), "--positive-class", "fraud"]) == 0
