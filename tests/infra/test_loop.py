"""The loop as a construct of a platform team's own stack (stacks.retraining_loop): the whole loop
is there under the team's construct id, the team's own resources keep their findings, and a
stack in another account than the config's is refused. And this project's stacks keep the logical
ids they had before the loop was a construct (a changed one replaces the resource)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest

from pipelines.config import load_config
from stacks.retraining_loop import LoopError, RetrainingLoop
from stacks.retraining_stack import unique_id
from tests.infra.conftest import ROOT, TEAM_MODEL, TEAM_STACK, Synth, resources


def test_a_team_stack_holds_the_whole_loop_under_its_own_construct_id(synth: Synth) -> None:
    team = synth.template(TEAM_STACK)
    ours = synth.template("fraud-detector-retraining")
    for kind in (
        "AWS::SageMaker::Pipeline",
        "AWS::DynamoDB::GlobalTable",
        "AWS::SNS::Topic",
        "AWS::Scheduler::Schedule",
    ):
        assert len(resources(team, kind)) == len(resources(ours, kind)) >= 1, kind
    (pipeline,) = resources(team, "AWS::SageMaker::Pipeline").items()
    assert pipeline[0].startswith("FraudPipeline")
    assert pipeline[1]["Properties"]["PipelineName"] == f"{TEAM_MODEL}-retraining"
    functions = resources(team, "AWS::Lambda::Function")
    assert len(functions) == len(resources(ours, "AWS::Lambda::Function")) + 1  # plus the team's own


def test_the_teams_own_function_keeps_its_findings(synth: Synth) -> None:
    functions = resources(synth.template(TEAM_STACK), "AWS::Lambda::Function")
    (own,) = [f for k, f in functions.items() if k.startswith("TeamFunction")]
    assert "checkov" not in own.get("Metadata", {})  # not acknowledged on the team's behalf
    loops = [f for k, f in functions.items() if k.startswith("Fraud")]
    assert loops and all("checkov" in f["Metadata"] for f in loops)


def test_a_stack_in_another_account_is_refused_with_what_to_do() -> None:
    stack = cdk.Stack(cdk.App(), "Elsewhere", env=cdk.Environment(account="444455556666", region="us-east-1"))
    with pytest.raises(
        LoopError, match=r"pipeline.account is 111122223333 but stack Elsewhere deploys to 444455556666"
    ):
        RetrainingLoop(stack, "Fraud", config=load_config(ROOT / "configs" / "fraud-detector.yaml"))


def test_our_stacks_keep_the_logical_ids_of_constructs_held_by_the_stack(template: dict[str, Any]) -> None:
    """`unique_id` is CDK's algorithm (the stack checks it against CDK's own for every resource at
    synthesis); here against ids CDK gave before the loop existed."""
    assert unique_id(["Pipeline", "Key", "Resource"]) == "PipelineKeyF48EE773"
    assert unique_id(["Trigger", "AuditTable", "Resource"]) == "TriggerAuditTable38FB1285"
    assert unique_id(["BootstrapVersion"]) == "BootstrapVersion"
    assert "PipelineKeyF48EE773" in template["Resources"] and "TriggerAuditTable38FB1285" in template["Resources"]
    assert not [k for k in template["Resources"] if k.startswith("Loop")]


def test_a_script_in_a_framework_image_is_pulled_and_its_source_read_by_the_endpoint(synth: Synth) -> None:
    """The team stack's script runs in a SageMaker framework image: both roles pull from that
    image's repository, and the endpoint's models may read the script's source archive, which the
    framework's inference toolkit downloads (SAGEMAKER_SUBMIT_DIRECTORY)."""
    team = synth.template(TEAM_STACK)
    repository = "arn:aws:ecr:us-east-1:683313688378:repository/sagemaker-scikit-learn"
    statements = [
        s for p in resources(team, "AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    pulls = [s for s in statements if s.get("Sid") in ("JobImage", "Image") and repository in s["Resource"]]
    assert sorted(s["Sid"] for s in pulls) == ["Image", "JobImage"]
    (artifacts,) = [s for s in statements if s.get("Sid") == "ModelArtifacts"]
    sources = [r for r in artifacts["Resource"] if "/source/" in json.dumps(r)]
    assert len(sources) == 1 and f"/{TEAM_MODEL}/source/*" in json.dumps(sources[0])
    ours = synth.template("fraud-detector-retraining")
    (own,) = [
        s
        for p in resources(ours, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "ModelArtifacts"
    ]
    assert "/source/" not in json.dumps(own["Resource"])  # the job image reads no source archive
