"""docs/configuration.md is generated from the schema; it must say what the schema says."""

from __future__ import annotations

from pathlib import Path

from pipelines.cli import main
from pipelines.config import ModelConfig
from pipelines.reference import reference

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_reference_is_the_schemas() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == reference(), "run: python -m pipelines config-reference --out docs/configuration.md"


def test_every_field_of_every_section_is_documented() -> None:
    text = reference()
    undocumented = []
    for line in text.splitlines():
        if line.startswith("| `") and line.rstrip().endswith("|  |"):
            undocumented.append(line)
    assert undocumented == []
    assert text.count("\n## ") >= 25  # every section has its own table


def test_a_row_shows_type_default_bounds_and_meaning() -> None:
    rows = {line.split("|")[1].strip(): line for line in reference().splitlines() if line.startswith("| `")}
    cooldown = rows["`cooldown_hours`"]
    assert "| number | `24` | ≥ 0, ≤ 87600 |" in cooldown and "coalesced" in cooldown
    assert "one of botocore's SageMaker `TrainingInstanceType`" in reference()
    field = ModelConfig.model_fields["pipeline"]
    assert field.description and field.description in reference()


def test_the_cli_writes_it(tmp_path: Path) -> None:
    out = tmp_path / "docs" / "configuration.md"
    assert main(["config-reference", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == reference()
