"""Every benchmark imports: they run outside the suite, so a moved function broke bench/backtest.py
(`write_json` left `pipelines.backtest.report`) and nothing said so until it was run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SERVERS = {"peer_server.py"}  # reads its model from MODEL_DIR at import, as a server does


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py") if p.name not in SERVERS))
def test_the_benchmark_imports(script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location(f"bench_{script[:-3]}", BENCH / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # a dataclass looks its module up there
    spec.loader.exec_module(module)
    assert callable(module.main)
