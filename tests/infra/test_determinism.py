"""`python app.py` in a fresh process, with other staging folders, gives the session's template
byte for byte: synthesis is deterministic and offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.infra.conftest import ACCOUNT_LAYOUTS, ROOT, Synth


def test_python_app_py_synthesizes_the_same_template_again(synth: Synth, tmp_path: Path) -> None:
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    name = "fraud-detector-retraining.template.json"
    assert (tmp_path / name).read_bytes() == (synth.outdir / name).read_bytes()


def test_the_account_layouts_synthesize_the_same_templates_again(synth: Synth, tmp_path: Path) -> None:
    """Two and three accounts: every stack, in a fresh process with other staging folders."""
    configs = [str(synth.outdir.parent / f"{model}.yaml") for model in ACCOUNT_LAYOUTS]
    script = (
        "import sys; from pathlib import Path; from stacks.app import build_app; "
        "build_app(staging=Path(sys.argv[1]), configs=[Path(p) for p in sys.argv[3:]], outdir=sys.argv[2]).synth()"
    )
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    run = [sys.executable, "-c", script, str(tmp_path / "staging"), str(tmp_path / "out"), *configs]
    subprocess.run(run, cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    names = sorted(p.name for p in (tmp_path / "out").glob("*.template.json"))
    assert names == sorted(
        f"{stack}.template.json" for stack in synth.stacks if stack.startswith(tuple(ACCOUNT_LAYOUTS))
    )
    for name in names:
        assert (tmp_path / "out" / name).read_bytes() == (synth.outdir / name).read_bytes(), name
