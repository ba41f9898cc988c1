"""checkov, an IaC scanner independent of cdk-nag, on every synthesized template: no finding that
is neither fixed nor acknowledged in the template with its reason (stacks/nag.py).

checkov runs from its own virtualenv (`.venv-scan`, made by `make test` from
requirements-scan.lock) because its dependency pins differ from the project's; `CHECKOV` names
another executable."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.infra.conftest import ROOT, Synth

CHECKOV = Path(os.environ.get("CHECKOV", ROOT / ".venv-scan" / "bin" / "checkov"))


@pytest.fixture(scope="module")
def scans(synth: Synth) -> dict[str, dict]:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run `make test` (it installs it in .venv-scan)")
    found = {}
    for template in sorted(synth.outdir.glob("*.template.json")):
        result = subprocess.run(
            [
                str(CHECKOV),
                "-f",
                str(template),
                "--framework",
                "cloudformation",
                "--skip-download",
                "--compact",
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        )
        assert result.stdout, result.stderr[-2000:]
        found[template.name] = json.loads(result.stdout)
    return found


def test_every_template_has_no_unacknowledged_finding(scans: dict[str, dict], synth: Synth) -> None:
    from tests.infra.conftest import ACCOUNT_LAYOUTS

    ours = {f"{stack}.template.json" for stack in synth.stacks}
    layouts = [s for s in synth.stacks if s.startswith(tuple(ACCOUNT_LAYOUTS))]
    assert len(ours) == 2 + len(layouts) and len(layouts) == 10 and ours < set(scans)
    for name in ours:
        scan = scans[name]
        failed = [(f["check_id"], f["resource"]) for f in scan["results"]["failed_checks"]]
        assert failed == [], name
        assert scan["summary"]["parsing_errors"] == 0
        # A training account's stack has every kind of resource; a registry's holds a group and rules.
        assert scan["summary"]["passed"] > (200 if name.endswith("-retraining.template.json") else 5), name


def test_in_a_team_stack_only_the_teams_own_resources_have_findings(scans: dict[str, dict]) -> None:
    """The loop acknowledges its own findings, never those of the stack it is put in."""
    from tests.infra.conftest import TEAM_STACK

    failed = scans[f"{TEAM_STACK}.template.json"]["results"]["failed_checks"]
    assert failed, "the team's function has findings of its own (no reserved concurrency, no DLQ, ...)"
    assert {f["resource"].split(".")[-1].startswith("TeamFunction") for f in failed} == {True}


def test_every_acknowledgement_says_why(scans: dict[str, dict]) -> None:
    for name, scan in scans.items():
        skipped = scan["results"]["skipped_checks"]
        assert skipped or name.endswith("-registry.template.json"), name  # a registry stack has no function
        assert {s["check_id"] for s in skipped} <= {
            "CKV_AWS_115",
            "CKV_AWS_116",
            "CKV_AWS_117",
            "CKV_AWS_173",
            "CKV_AWS_109",
            "CKV_AWS_111",
            "CKV_AWS_18",
        }
        assert all(len(s["check_result"].get("suppress_comment", "")) > 40 for s in skipped)
