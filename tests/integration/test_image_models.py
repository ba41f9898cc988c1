"""A team's own image (training.image): trained by it, scored through its own server by batch
transform, compared with the champion the same way, registered with it as the serving image.
The definition is offline, byte-deterministic and every request is one SageMaker accepts; the
local runtime runs the image's stand-in command, refuses an image without one before anything
runs, and fails a misbehaving image at the right step with its reason, registering nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from botocore.client import BaseClient

from pipelines.config import load_config
from pipelines.definition.builder import definition_json
from pipelines.local.graph import UnsupportedDefinition
from pipelines.local.workspace import Workspace
from pipelines.promotion.local import local_promotion
from tests.integration.test_definition import validate_request
from tests.problem_types import TEAM_IMAGE, config_dict, seeded

IMAGE_STEPS = [
    "Train",
    "CandidateModel",
    "ScoreCandidate",
    "SelectChampion",
    "ChampionModel",
    "ScoreChampion",
    "Evaluate",
    "QualityGates",
]


def _raw(tmp_path: Path, behaviour: str = "right") -> dict[str, Any]:
    raw = config_dict("regression", "image", tmp_path)
    raw["training"]["hyperparameters"]["behaviour"] = behaviour
    # The stand-in predicts the training mean: gates it can pass.
    raw["gates"]["metrics"] = [{"metric": "rmse", "max": 100.0}]
    raw["gates"]["segments"] = []
    raw["gates"]["edge_cases"]["tolerance"] = 100.0
    return raw


def _config(tmp_path: Path, raw: dict[str, Any]) -> Any:
    import yaml

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path)


def _branch(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Name"]: s for s in definition["Steps"][1]["Arguments"]["IfSteps"]}


def test_the_definition_scores_the_image_through_its_server_offline_and_deterministically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, _raw(tmp_path))

    def refuse(self: BaseClient, operation: str, params: dict[str, Any]) -> None:
        raise AssertionError(f"AWS call {operation} while building the definition")

    monkeypatch.setattr(BaseClient, "_make_api_call", refuse)
    text = definition_json(config)
    assert definition_json(config) == text
    definition = json.loads(text)
    steps = _branch(definition)
    assert list(steps) == IMAGE_STEPS

    train = steps["Train"]["Arguments"]
    assert train["AlgorithmSpecification"] == {"TrainingInputMode": "File", "TrainingImage": TEAM_IMAGE}
    assert [c["ChannelName"] for c in train["InputDataConfig"]] == ["train", "validation"]  # no project code
    assert train["HyperParameters"] == {"label": "target", "behaviour": "right"}  # text, as the image reads them
    assert train.get("Environment", {}) == {}  # none of the job image's variables

    data_pull = definition["Steps"][0]["Arguments"]
    assert "scoring" in [o["OutputName"] for o in data_pull["ProcessingOutputConfig"]["Outputs"]]
    assert "edge_cases" in [i["InputName"] for i in data_pull["ProcessingInputs"]]
    for score, model in (("ScoreCandidate", "CandidateModel"), ("ScoreChampion", "ChampionModel")):
        transform = steps[score]["Arguments"]
        assert transform["ModelName"] == {"Get": f"Steps.{model}.ModelName"}
        assert transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == {
            "Get": "Steps.DataPull.ProcessingOutputConfig.Outputs['scoring'].S3Output.S3Uri"
        }
        assert (transform["TransformInput"]["SplitType"], transform["TransformOutput"]["AssembleWith"]) == (
            "Line",
            "Line",
        )
    assert steps["CandidateModel"]["Arguments"]["PrimaryContainer"]["Image"] == TEAM_IMAGE
    champion_image = steps["ChampionModel"]["Arguments"]["PrimaryContainer"]["Image"]
    assert champion_image["Std:JsonGet"]["Path"] == "image"  # chosen at run time by SelectChampion
    evaluate_inputs = [i["InputName"] for i in steps["Evaluate"]["Arguments"]["ProcessingInputs"]]
    # the answers come from the image's server; the archive is only hashed (lineage.model_sha256)
    assert {"predictions", "champion_predictions", "model", "report"} <= set(evaluate_inputs)
    register = steps["QualityGates"]["Arguments"]["IfSteps"][0]["Arguments"]
    assert [c["Image"] for c in register["InferenceSpecification"]["Containers"]] == [TEAM_IMAGE]

    parameters = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    checked = [definition["Steps"][0], *steps.values(), register_step(steps)]
    for step in checked:
        if step["Type"] != "Condition":
            report = validate_request(step, parameters)
            assert not report.has_errors(), f"{step['Name']}: {report.generate_report()}"
    assert {s["Type"] for s in checked} >= {"Model", "Transform", "Training", "Processing", "RegisterModel"}


def register_step(steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    register: dict[str, Any] = steps["QualityGates"]["Arguments"]["IfSteps"][0]
    return register


def test_a_broken_transform_request_is_caught(tmp_path: Path) -> None:
    config = _config(tmp_path, _raw(tmp_path))
    definition = json.loads(definition_json(config))
    transform = _branch(definition)["ScoreCandidate"]
    transform["Arguments"]["TransformResources"]["InstanceCount"] = 0
    transform["Arguments"]["MaxPayloadInMB"] = "six"
    report = validate_request(transform, {}).generate_report()
    assert "InstanceCount" in report and "MaxPayloadInMB" in report


def test_run_local_refuses_an_image_without_a_local_command_before_anything_runs(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    del raw["training"]["image"]["local_command"]
    workspace = seeded(raw, tmp_path)
    with pytest.raises(UnsupportedDefinition) as refused:
        workspace.run(echo=lambda _: None)
    assert [p.split(":")[0] for p in refused.value.problems] == ["step Train", "step CandidateModel"]
    assert all(TEAM_IMAGE in p and "training.image.local_command" in p for p in refused.value.problems)
    executions = workspace.root / "executions"
    assert not executions.exists() or not any(executions.iterdir())


def _evaluation(workspace: Workspace, execution: Any) -> dict[str, Any]:
    folder = workspace.s3.path(
        f"s3://{workspace.config.pipeline.bucket(workspace.config.model.name)}/{workspace.config.model.name}"
        f"/executions/{execution.execution_id}/Evaluate/evaluation/evaluation.json"
    )
    loaded: dict[str, Any] = json.loads(folder.read_text())
    return loaded


def test_the_image_is_registered_then_compared_with_itself_as_champion(tmp_path: Path) -> None:
    workspace = seeded(_raw(tmp_path), tmp_path)
    first = workspace.run(echo=lambda _: None)
    assert first.status == "Succeeded", first.failure_reason
    evaluation = _evaluation(workspace, first)
    assert evaluation["champion"]["present"] is False
    assert evaluation["lineage"]["image"] == TEAM_IMAGE
    registry = workspace.runtime().registry
    (version,) = registry.list_model_packages(workspace.config.registry.model_package_group)
    assert version["InferenceSpecification"]["Containers"][0]["Image"] == TEAM_IMAGE

    promotion, _ = local_promotion(workspace)
    promotion.approve(1, actor="alice")  # production now: champion.json names it, with its image
    second = workspace.run(echo=lambda _: None)
    assert second.status == "Succeeded", second.failure_reason
    evaluation = _evaluation(workspace, second)
    assert evaluation["champion"]["present"] is True
    # the same data and a deterministic image: the champion scores exactly as the candidate
    assert evaluation["champion"]["metrics"]["rmse"] == pytest.approx(evaluation["metrics"]["rmse"], abs=1e-12)
    selection = workspace.s3.path(
        f"s3://{workspace.config.pipeline.bucket(workspace.config.model.name)}/{workspace.config.model.name}"
        f"/executions/{second.execution_id}/SelectChampion/selection/selection.json"
    )
    chosen = json.loads(selection.read_text())
    assert chosen["present"] is True and chosen["image"] == TEAM_IMAGE
    assert chosen["model_data"].endswith("/champion/model.tar.gz")


@pytest.mark.parametrize(
    ("behaviour", "step", "reason"),
    [
        ("fail_train", "Train", "ValueError: the team's training refused its data"),
        ("short", "Evaluate", "ScoreCandidate: the image answered"),
        ("crash_serve", "ScoreCandidate", "a missing shared library"),
    ],
)
def test_a_misbehaving_image_fails_at_its_step_with_the_reason_and_registers_nothing(
    tmp_path: Path, behaviour: str, step: str, reason: str
) -> None:
    workspace = seeded(_raw(tmp_path, behaviour), tmp_path)
    execution = workspace.run(echo=lambda _: None)
    assert execution.status == "Failed"
    failed = [s for s in execution.steps if s.status == "Failed"]
    assert [s.name for s in failed] == [step]
    assert reason in (failed[0].failure_reason or "") and reason in (execution.failure_reason or "")
    registry = workspace.runtime().registry
    assert registry.list_model_packages(workspace.config.registry.model_package_group) == []


FRAMEWORK_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"


def test_a_script_in_a_framework_image_is_run_by_its_toolkits_and_scored_through_its_server(tmp_path: Path) -> None:
    """On SageMaker the framework's training toolkit runs the script from the code channel and its
    inference toolkit serves it; locally the job image's script mode stands in for both. The
    metrics Evaluate reports are scikit-learn's on the rows sent and the answers read back."""
    from sklearn.metrics import mean_absolute_error, root_mean_squared_error

    from pipelines.definition.builder import artifacts

    raw = config_dict("regression", "script", tmp_path)
    raw["training"]["script"]["framework_image"] = FRAMEWORK_IMAGE
    workspace = seeded(raw, tmp_path)
    config = workspace.config
    definition = json.loads(definition_json(config))
    steps = _branch(definition)
    assert list(steps) == IMAGE_STEPS
    source = artifacts(config)["source"].uri
    train = steps["Train"]["Arguments"]
    assert train["AlgorithmSpecification"]["TrainingImage"] == FRAMEWORK_IMAGE
    assert train["HyperParameters"]["sagemaker_program"] == '"train.py"'
    assert train["HyperParameters"]["sagemaker_submit_directory"] == '"/opt/ml/input/data/code/sourcedir.tar.gz"'
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in train["InputDataConfig"]}
    assert channels["code"] == source
    program = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": source}
    candidate = steps["CandidateModel"]["Arguments"]["PrimaryContainer"]
    assert candidate["Image"] == FRAMEWORK_IMAGE and program.items() <= candidate["Environment"].items()
    (registered,) = register_step(steps)["Arguments"]["InferenceSpecification"]["Containers"]
    assert registered["Image"] == FRAMEWORK_IMAGE and program.items() <= registered["Environment"].items()
    champion = steps["ChampionModel"]["Arguments"]["PrimaryContainer"]["Environment"]
    assert champion["SAGEMAKER_PROGRAM"]["Std:JsonGet"]["Path"] == "environment.SAGEMAKER_PROGRAM"
    parameters = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    for step in [*steps.values(), register_step(steps)]:
        if step["Type"] != "Condition":
            report = validate_request(step, parameters)
            assert not report.has_errors(), f"{step['Name']}: {report.generate_report()}"

    execution = workspace.run(echo=lambda _: None)
    assert execution.status == "Succeeded", execution.failure_reason
    evaluation = _evaluation(workspace, execution)
    run = f"s3://{config.pipeline.bucket(config.model.name)}/{config.model.name}/executions/{execution.execution_id}"
    test = pd.read_parquet(workspace.s3.path(f"{run}/DataPull/test/test.parquet"))
    answers = workspace.s3.path(f"{run}/ScoreCandidate/scoring.csv.out").read_text().split()
    predicted = [float(a) for a in answers[: len(test)]]
    assert len(answers) == len(test) + 2  # then the two edge cases
    assert evaluation["metrics"]["rmse"] == pytest.approx(root_mean_squared_error(test["target"], predicted))
    assert evaluation["metrics"]["mae"] == pytest.approx(mean_absolute_error(test["target"], predicted))
    assert evaluation["lineage"]["image"] == FRAMEWORK_IMAGE and evaluation["lineage"]["entry_point"] == "train.py"
