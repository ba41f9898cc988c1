"""cfn-lint on every synthesized template and the cdk-nag report of the session's synthesis."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import Synth

# W3005 (redundant DependsOn): CDK's Lambda Function always adds DependsOn on its execution role,
# which the role's GetAtt already implies. Harmless; not ours to change.
IGNORED = ["W3005"]


def test_cfn_lint_finds_nothing(synth: Synth) -> None:
    templates = sorted(str(p) for p in synth.outdir.glob("*.template.json"))
    assert len(templates) == len(synth.stacks) + 1  # and the platform team's stack
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--ignore-checks",
            *IGNORED,
            "--format",
            "parseable",
            "--",
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cdk_nag_reports_no_unacknowledged_finding(synth: Synth) -> None:
    # A finding fails synthesis (see the canary below); the report says what was acknowledged.
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    (nag,) = report["pluginReports"]
    assert (nag["pluginName"], nag["conclusion"], nag["violations"]) == ("AwsSolutions", "success", [])
    assert len(nag["suppressedViolations"]) >= 10


def test_cdk_nag_is_active_an_unacknowledged_finding_fails_synthesis(tmp_path: Path) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_sns as sns

    from stacks.nag import check

    app = cdk.App(outdir=str(tmp_path))
    check(app)
    sns.Topic(cdk.Stack(app, "Canary"), "Unencrypted")
    with pytest.raises(RuntimeError, match=r"(?i)validation ?failed"):
        app.synth()


def test_every_acknowledgement_has_a_specific_reason(synth: Synth) -> None:
    acknowledgements = []
    for stack in synth.stacks.values():
        for construct in stack.node.find_all():
            for entry in construct.node.metadata:
                if entry.type == "aws:cdk:acknowledged-rules":
                    acknowledgements += list(entry.data.items())
    assert len(acknowledgements) >= 10
    for finding, reason in acknowledgements:
        assert finding.startswith("AwsSolutions::AwsSolutions-"), finding
        assert len(reason) >= 40, (finding, reason)
