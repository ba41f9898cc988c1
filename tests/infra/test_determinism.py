"""`python app.py` in a fresh process, with other staging folders, gives the session's template
byte for byte: synthesis is deterministic and offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.infra.conftest import ROOT, Synth


def test_python_app_py_synthesizes_the_same_template_again(synth: Synth, tmp_path: Path) -> None:
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    name = "fraud-detector-retraining.template.json"
    assert (tmp_path / name).read_bytes() == (synth.outdir / name).read_bytes()
