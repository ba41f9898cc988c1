"""Expression and condition semantics of the local runtime, on hand-built definition fragments."""

from __future__ import annotations

import pytest

from pipelines.local.conditions import ConditionError, holds, outcome
from pipelines.local.expressions import (
    Scope,
    UnresolvedReference,
    UnsupportedExpression,
    path_tokens,
    resolve,
    step_dependencies,
)


@pytest.fixture
def scope() -> Scope:
    return Scope(
        parameters={"Mode": "fast", "Threshold": 0.75},
        execution={"PipelineExecutionId": "abc123def456", "PipelineName": "p"},
        steps={
            "Pull": {
                "ProcessingOutputConfig": {
                    "Outputs": [
                        {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/x/train"}},
                        {"OutputName": "report", "S3Output": {"S3Uri": "s3://b/x/report"}},
                    ]
                }
            }
        },
        property_files={("Pull", "Report"): {"passed": True, "scores": [{"auc": 0.91}, {"auc": 0.42}], "n": 3}},
        read_json=lambda uri: {"uri": uri, "value": 7},
    )


def json_get(path: str) -> dict[str, object]:
    return {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Pull.PropertyFiles.Report"}, "Path": path}}


def test_path_tokens_handle_names_indices_and_quoted_keys() -> None:
    assert path_tokens("Outputs['train'].S3Output.S3Uri") == ["Outputs", "train", "S3Output", "S3Uri"]
    assert path_tokens("scores[1].auc") == ["scores", 1, "auc"]
    with pytest.raises(UnsupportedExpression, match="cannot parse property path"):
        path_tokens("scores[?(@.auc)]")


def test_get_resolves_parameters_execution_variables_and_step_properties(scope: Scope) -> None:
    tree = {
        "a": {"Get": "Parameters.Mode"},
        "b": [{"Get": "Execution.PipelineExecutionId"}],
        "c": {"Get": "Steps.Pull.ProcessingOutputConfig.Outputs['report'].S3Output.S3Uri"},
    }
    assert resolve(tree, scope) == {"a": "fast", "b": ["abc123def456"], "c": "s3://b/x/report"}


def test_join_renders_values_as_sagemaker_does(scope: Scope) -> None:
    node = {
        "Std:Join": {
            "On": "/",
            "Values": [
                {"Get": "Steps.Pull.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"},
                {"Get": "Execution.PipelineExecutionId"},
                json_get("passed"),
                json_get("n"),
            ],
        }
    }
    assert resolve(node, scope) == "s3://b/x/train/abc123def456/true/3"


def test_json_get_reads_property_files_and_s3_uris(scope: Scope) -> None:
    assert resolve(json_get("scores[0].auc"), scope) == 0.91
    assert resolve({"Std:JsonGet": {"S3Uri": "s3://b/doc.json", "Path": "value"}}, scope) == 7
    with pytest.raises(UnresolvedReference, match="no key 'missing'"):
        resolve(json_get("missing"), scope)
    with pytest.raises(UnresolvedReference, match="no property file 'Other'"):
        resolve({"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Pull.PropertyFiles.Other"}, "Path": "x"}}, scope)


def test_references_to_missing_things_are_named(scope: Scope) -> None:
    with pytest.raises(UnresolvedReference, match="has not run"):
        resolve({"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}, scope)
    with pytest.raises(UnresolvedReference, match="no element named 'test'"):
        resolve({"Get": "Steps.Pull.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"}, scope)
    with pytest.raises(UnsupportedExpression, match="Std:Select"):
        resolve({"Std:Select": {"Values": []}}, scope)


def test_step_dependencies_come_from_step_references() -> None:
    node = {"x": [json_get("a"), {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}, {"Get": "Parameters.P"}]}
    assert step_dependencies(node) == {"Pull", "Train"}


def test_equals_keeps_json_types_apart(scope: Scope) -> None:
    assert holds({"Type": "Equals", "LeftValue": json_get("passed"), "RightValue": True}, scope)
    assert not holds({"Type": "Equals", "LeftValue": json_get("n"), "RightValue": True}, scope)
    assert not holds({"Type": "Equals", "LeftValue": 1, "RightValue": True}, scope)
    assert holds({"Type": "Equals", "LeftValue": 3, "RightValue": 3.0}, scope)


def test_ordering_in_not_or_and_conjunction(scope: Scope) -> None:
    at_least = {"Type": "GreaterThanOrEqualTo", "LeftValue": json_get("scores[0].auc"), "RightValue": 0.91}
    above = {
        "Type": "GreaterThan",
        "LeftValue": json_get("scores[0].auc"),
        "RightValue": {"Get": "Parameters.Threshold"},
    }
    below = {"Type": "LessThan", "LeftValue": json_get("scores[1].auc"), "RightValue": 0.42}
    assert holds(at_least, scope) and holds(above, scope) and not holds(below, scope)
    assert holds({"Type": "LessThanOrEqualTo", "LeftValue": json_get("scores[1].auc"), "RightValue": 0.42}, scope)
    assert holds({"Type": "In", "QueryValue": {"Get": "Parameters.Mode"}, "Values": ["slow", "fast"]}, scope)
    assert holds({"Type": "Not", "Condition": below}, scope)
    assert holds({"Type": "Or", "Conditions": [below, at_least]}, scope)
    assert outcome([at_least, above], scope) and not outcome([at_least, below], scope)


def test_ordering_a_string_against_a_number_is_an_error(scope: Scope) -> None:
    with pytest.raises(ConditionError, match="cannot order 'fast' \\(str\\) and 1"):
        holds({"Type": "GreaterThan", "LeftValue": {"Get": "Parameters.Mode"}, "RightValue": 1}, scope)
