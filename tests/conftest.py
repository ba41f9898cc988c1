"""Shared fixtures: the example config, generated data, and a staged container contract."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from pipelines.config import ModelConfig, config_to_json, load_config
from pipelines.simulation.datagen import StreamSpec, generate

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "configs" / "fraud-detector.yaml"
EDGE_CASES = ROOT / "configs" / "fraud-detector.edge-cases.csv"


@pytest.fixture(scope="session")
def config() -> ModelConfig:
    return load_config(EXAMPLE_CONFIG)


@pytest.fixture(scope="session")
def stream() -> pd.DataFrame:
    """120 days of transactions; the last 14 days are the fresh window."""
    return generate(StreamSpec(rows=120_000, days=120, seed=3))


def split_fresh(frame: pd.DataFrame, fresh_days: int = 14) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = frame["event_time"].max() - pd.Timedelta(days=fresh_days)
    return frame[frame["event_time"] > cut].copy(), frame[frame["event_time"] <= cut].copy()


@dataclass
class Container:
    """A /opt/ml tree in a temp dir; jobs find it through OPT_ML_ROOT."""

    root: Path

    def put_table(self, name: str, frame: pd.DataFrame, filename: str = "part-0.parquet") -> Path:
        folder = self.root / "processing" / "input" / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / filename
        if filename.endswith(".csv"):
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        return path

    def put_config(self, config: ModelConfig, where: str = "processing") -> None:
        folder = (
            self.root / "processing" / "input" / "config"
            if where == "processing"
            else self.root / "input" / "data" / "config"
        )
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model-config.json").write_text(config_to_json(config))

    def output(self, name: str) -> Path:
        return self.root / "processing" / "output" / name


@pytest.fixture
def container(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Container]:
    monkeypatch.setenv("OPT_ML_ROOT", str(tmp_path / "opt_ml"))
    monkeypatch.setenv("SM_LOCAL_RUNTIME", "1")
    for name in ("SM_MODEL_DIR", "SM_HPS", "SM_CHANNEL_TRAIN", "SM_CHANNEL_VALIDATION", "SM_CHANNEL_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    yield Container(tmp_path / "opt_ml")
