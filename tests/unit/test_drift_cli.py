"""`python -m pipelines drift`: files in, report JSON (and HTML) out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.datagen import StreamSpec, generate
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


def test_drift_command_without_config_infers_features(tables: tuple[Path, Path], tmp_path: Path) -> None:
    reference, current = tables
    out = tmp_path / "report.json"
    assert main(["drift", "--reference", str(reference), "--current", str(current), "--json", str(out)]) == 0
    features = json.loads(out.read_text())["features"]
    assert features["amount"]["type"] == "numeric" and features["merchant_category"]["type"] == "categorical"
    assert "event_time" not in features  # datetimes are not features


def test_unreadable_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r.txt").write_text("x")
    argv = ["drift", "--reference", str(tmp_path / "r.txt"), "--current", str(tmp_path / "nope.csv")]
    assert main([*argv, "--json", str(tmp_path / "o.json")]) == 1
    assert "expected a .parquet or .csv file" in capsys.readouterr().err
