"""The pieces behind a team's own image (training.image): the config that names it, the rows it
is sent and the answers read back, what stands in for it locally, which champion is scored, and
the local batch transform's files and batches."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipelines import naming
from pipelines.config import ConfigError, parse_config
from pipelines.local import jobs
from pipelines.local.containers import ImageCommand, ImageNotRunnable, Images, mini_batches
from pipelines.local.storage import LocalS3
from tests.conftest import ROOT
from tests.problem_types import TEAM_IMAGE, config_dict
from training_containers import scoring
from training_containers.select_champion import selection

STAND_IN = ROOT / "tests" / "image_stand_in.py"


def _raw(tmp_path: Path) -> dict[str, Any]:
    return config_dict("regression", "image", tmp_path)


# ---- config


def test_an_image_config_parses_and_one_source_only_is_allowed(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    assert parse_config(raw).training.image.uri == TEAM_IMAGE  # type: ignore[union-attr]
    raw["training"]["estimator"] = "gradient_boosting"
    with pytest.raises(ConfigError, match=r"exactly once.*training\.estimator.*training\.script.*training\.image"):
        parse_config(raw)


@pytest.mark.parametrize(
    "uri",
    [
        "team/scorer:7",  # not in ECR
        "111122223333.dkr.ecr.us-east-1.amazonaws.com/scorer",  # no tag or digest
        "111122223333.dkr.ecr.us-east-1.amazonaws.com/Scorer:7",  # ECR repositories are lowercase
        "111122223333.dkr.ecr.us-east-1.amazonaws.com/scorer@sha256:abc",  # a short digest
        "docker.io/library/python:3.11",
    ],
)
def test_an_image_outside_ecr_or_without_a_tag_is_refused(tmp_path: Path, uri: str) -> None:
    raw = _raw(tmp_path)
    raw["training"]["image"]["uri"] = uri
    with pytest.raises(ConfigError, match=r"training\.image\.uri"):
        parse_config(raw)


def test_the_repository_an_image_is_pulled_from() -> None:
    digest = "sha256:" + "0" * 64
    assert naming.ecr_repository_arn(TEAM_IMAGE) == "arn:aws:ecr:us-east-1:111122223333:repository/team/scorer"
    assert (
        naming.ecr_repository_arn(f"111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn/a.b-c@{digest}")
        == "arn:aws-cn:ecr:cn-north-1:111122223333:repository/a.b-c"
    )
    with pytest.raises(ValueError, match="not an image in Amazon ECR"):
        naming.ecr_repository_arn("python:3.11")


# ---- the rows sent and the answers read back


def test_the_records_sent_keep_every_digit_missing_values_and_text(tmp_path: Path) -> None:
    config = parse_config(_raw(tmp_path))
    frame = pd.DataFrame(
        {"x1": [0.1 + 0.2, np.nan], "x2": [1e-300, 7.0], "x3": [3.0, 2.5], "region": ["north", None], "target": [1, 2]}
    )
    text = scoring.records([frame, frame.iloc[:1]], config)
    assert text.count("\n") == 3 and "target" not in text
    back = pd.read_csv(io.StringIO(text), header=None, names=config.model.feature_names)
    assert back["x1"].iloc[0] == 0.1 + 0.2 and back["x2"].iloc[0] == 1e-300  # bit for bit
    assert np.isnan(back["x1"].iloc[1]) and pd.isna(back["region"].iloc[1])
    assert back["region"].iloc[2] == "north"


def test_answers_are_read_as_each_problem_type_takes_them() -> None:
    assert scoring.parse_answers("1.5\n-2\n", 2, "regression", "S").tolist() == [1.5, -2.0]
    assert scoring.parse_answers("0.25\n1\n", 2, "binary_classification", "S").tolist() == [0.25, 1.0]
    assert scoring.parse_answers("gold\n1.0\n", 2, "multiclass_classification", "S").tolist() == ["gold", "1"]


@pytest.mark.parametrize(
    ("text", "problem_type", "message"),
    [
        ("1\n", "regression", "S: the image answered 1 lines for 2 records"),
        ("1\n2\n3\n", "regression", "answered 3 lines for 2 records"),
        ("1\nn/a\n", "regression", "'n/a', not a number, for a regression model"),
        ("1\ninf\n", "regression", "not finite"),
        ("0.5\n1.5\n", "binary_classification", r"outside \[0, 1\].*\[1.5\]"),
        ("0.5\n-0.1\n", "binary_classification", r"outside \[0, 1\]"),
    ],
)
def test_answers_that_cannot_be_the_predictions_are_refused_with_the_reason(
    text: str, problem_type: Any, message: str
) -> None:
    with pytest.raises(scoring.ScoringError, match=message):
        scoring.parse_answers(text, 2, problem_type, "S")


def test_a_transform_output_without_the_answers_file_names_what_it_found(tmp_path: Path) -> None:
    (tmp_path / "other.csv.out").write_text("1\n")
    with pytest.raises(scoring.ScoringError, match=r"no scoring.csv.out among .*\['other.csv.out'\]"):
        scoring.read_answers(tmp_path, 1, "regression", "ScoreCandidate")


# ---- what stands in for an image


def test_each_image_runs_as_its_stand_in_or_is_refused(tmp_path: Path) -> None:
    job_image = "111122223333.dkr.ecr.us-east-1.amazonaws.com/jobs:abc"
    images = Images(job_image=job_image, commands={TEAM_IMAGE: ImageCommand(("python3", "container.py"), tmp_path)})
    assert images.command(TEAM_IMAGE, "serve") == ([sys.executable, "container.py", "serve"], tmp_path)
    assert images.command(job_image, "train") == (
        [sys.executable, "-m", "training_containers.entrypoint", "train"],
        None,
    )
    with pytest.raises(ImageNotRunnable, match="other:1 has no local stand-in"):
        images.command("other:1", "train")
    assert Images().command("any:1", "serve")[0][-1] == "serve"  # no job image named: all are this checkout's

    model = {"PrimaryContainer": {"Image": "other:1"}}
    assert images.problems("M", "Model", model) == [
        "step M: runs image other:1, which cannot run here without Docker; "
        "give the config a local command for it (training.image.local_command)"
    ]
    chosen_later = {"PrimaryContainer": {"Image": {"Std:JsonGet": {"Path": "image"}}}}
    assert images.problems("M", "Model", chosen_later) == []
    python_entry = {"AlgorithmSpecification": {"TrainingImage": "other:1", "ContainerEntrypoint": ["python3"]}}
    assert images.problems("T", "Training", python_entry) == []
    assert len(images.problems("T", "Training", {"AlgorithmSpecification": {"TrainingImage": "other:1"}})) == 1


def test_records_are_sent_in_requests_no_larger_than_the_payload_limit() -> None:
    lines = [f"{i},{'x' * 300_000}\n".encode() for i in range(10)]
    batches = list(mini_batches(lines, 1))
    assert b"".join(batches) == b"".join(lines)
    assert all(len(b) <= 1024 * 1024 for b in batches) and len(batches) == 4  # 3 records of ~300 KB a request
    assert list(mini_batches([b"a", b"b"], 1)) == [b"a\nb\n"]
    with pytest.raises(Exception, match="exceeds MaxPayloadInMB"):
        list(mini_batches([b"y" * (1024 * 1024 + 1)], 1))


# ---- which champion ScoreChampion scores


def test_the_champion_scored_is_the_one_serving_else_the_candidate() -> None:
    none = selection({}, "s3://b/m/champion/", "img:new", "s3://b/run/model.tar.gz")
    assert none == {"present": False, "image": "img:new", "model_data": "s3://b/run/model.tar.gz", "environment": {}}
    pointer = {"model_package_arn": "arn:v3", "model_data": "model.tar.gz", "image": "img:old"}
    assert selection(pointer, "s3://b/m/champion/", "img:new", "s3://x") == {
        "present": True,
        "image": "img:old",  # the image it was registered with, not today's
        "model_data": "s3://b/m/champion/model.tar.gz",
        "environment": {},
    }
    older = {"model_package_arn": "arn:v3", "model_data": "model.tar.gz"}  # written before images were recorded
    assert selection(older, "s3://b/m/champion", "img:new", "s3://x")["image"] == "img:new"
    assert selection({"model_package_arn": None}, "s3://c", "i", "m")["present"] is False


# ---- the local batch transform


def test_the_local_transform_answers_every_object_into_its_own_out_file(tmp_path: Path) -> None:
    s3 = LocalS3(tmp_path / "s3")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        content = json.dumps({"mean": 2.5, "behaviour": "right"}).encode()
        info = tarfile.TarInfo("model.json")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    s3.put_bytes("s3://b/run/model.tar.gz", archive.getvalue())
    s3.put_bytes("s3://b/in/a.csv", b"1,2\n3,4\n5,6\n")
    s3.put_bytes("s3://b/in/sub/b.csv", b"7,8\n9,10\n")
    request = {
        "ModelName": "m",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": "s3://b/out", "Accept": "text/csv", "AssembleWith": "Line"},
        "BatchStrategy": "SingleRecord",
    }
    model = {"PrimaryContainer": {"Image": TEAM_IMAGE, "ModelDataUrl": "s3://b/run/model.tar.gz"}}
    images = Images(job_image="jobs:1", commands={TEAM_IMAGE: ImageCommand(("python3", str(STAND_IN)))})
    context = jobs.JobContext(name="t", arn="arn:t", folder=tmp_path / "job", s3=s3, images=images)
    done = jobs.run_transform(request, model, context)
    assert done["TransformJobStatus"] == "Completed"
    assert s3.path("s3://b/out/a.csv.out").read_text() == "2.5\n2.5\n2.5\n"
    assert s3.path("s3://b/out/sub/b.csv.out").read_text() == "2.5\n2.5\n"

    request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] = "s3://b/nothing/"
    with pytest.raises(jobs.JobFailed, match="No S3 objects found"):
        jobs.run_transform(request, model, context)


# ---- a script in a SageMaker framework image


FRAMEWORK_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"


def test_a_framework_image_refuses_what_its_toolkits_cannot_do(tmp_path: Path) -> None:
    raw = config_dict("regression", "script", tmp_path)
    raw["training"]["script"]["framework_image"] = FRAMEWORK_IMAGE
    assert parse_config(raw).training.outside_image == FRAMEWORK_IMAGE
    isolated = {**raw, "pipeline": {**raw["pipeline"], "network_isolation": True}}
    with pytest.raises(ConfigError, match=r"framework_image.*downloads the source dir from S3"):
        parse_config(isolated)
    raw["training"]["script"]["requirements"] = "deps/requirements-prod.txt"
    with pytest.raises(ConfigError, match=r"installs requirements\.txt at the source dir.s root only"):
        parse_config(raw)
    raw["training"]["script"]["requirements"] = "requirements.txt"
    assert parse_config(raw).training.script.requirements == "requirements.txt"  # type: ignore[union-attr]


def test_the_champion_serves_with_the_code_it_was_registered_with() -> None:
    from pipelines.promotion.champion import pointer_document
    from pipelines.promotion.versions import model_version

    described = {
        "ModelPackageArn": "arn:aws:sagemaker:us-east-1:111122223333:model-package/g/4",
        "ModelPackageVersion": 4,
        "ModelApprovalStatus": "Approved",
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": FRAMEWORK_IMAGE,
                    "ModelDataUrl": "s3://b/run/model.tar.gz",
                    "Environment": {
                        "MODEL_NAME": "m",
                        "SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": "s3://b/m/source/abc/sourcedir.tar.gz",
                    },
                }
            ]
        },
    }
    pointer = pointer_document(model_version(described).version)
    assert pointer["image"] == FRAMEWORK_IMAGE
    assert pointer["environment"] == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "s3://b/m/source/abc/sourcedir.tar.gz",
    }
    today = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "s3://b/m/source/new/sourcedir.tar.gz"}
    chosen = selection(pointer, "s3://b/m/champion/", FRAMEWORK_IMAGE, "s3://b/run2/model.tar.gz", today)
    assert chosen["environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "s3://b/m/source/abc/sourcedir.tar.gz"  # its own
    assert selection({}, "s3://c", FRAMEWORK_IMAGE, "s3://m", today)["environment"] == today  # none: the candidate's


def test_the_example_script_reads_a_framework_images_requests_as_this_projects_server_does(tmp_path: Path) -> None:
    """What the framework's inference toolkit hands predict_fn (through the example's input_fn) is
    the frame this project's server builds from the same records."""
    import importlib.util

    config = parse_config(config_dict("regression", "script", tmp_path))
    frame = pd.DataFrame({"x1": [0.5, -1.25], "x2": [3.0, 9.5], "x3": [1.0, 0.0], "region": ["east", "north"]})
    body = scoring.records([frame], config).encode()
    spec = importlib.util.spec_from_file_location("example_inference", ROOT / "models" / "tabular" / "inference.py")
    assert spec is not None and spec.loader is not None
    sys.path.insert(0, str(ROOT / "models" / "tabular"))
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "models" / "tabular"))
    pd.testing.assert_frame_equal(module.input_fn(body, "text/csv"), frame)
    with pytest.raises(ValueError, match="send text/csv"):
        module.input_fn(body, "application/json")


# ---- what the review of the image path found


@pytest.mark.parametrize(
    ("text", "problem_type", "message"),
    [
        ("0.9,0.1\n0.2,0.8\n", "binary_classification", r"line 1 of the answer holds 2 fields.*not both classes"),
        ("gold\n0.1,0.2,0.7\n", "multiclass_classification", r"line 2 .* 3 fields.*the class, not"),
        ('{"predictions": [1, 2]}', "regression", r"answered JSON .*one prediction a line"),
        ("gold\nplatinum\n", "multiclass_classification", r"classes the label never holds: \['platinum'\]"),
    ],
)
def test_answers_in_another_shape_are_refused_naming_the_line(text: str, problem_type: Any, message: str) -> None:
    with pytest.raises(scoring.ScoringError, match=message):
        scoring.parse_answers(text, 2, problem_type, "ScoreCandidate", {"gold", "silver", "bronze"})


def test_a_stand_in_serves_every_tag_of_its_repository(tmp_path: Path) -> None:
    images = Images(job_image="jobs:1", commands={TEAM_IMAGE: ImageCommand(("python3", "c.py"), tmp_path)})
    older = TEAM_IMAGE.replace(":7", ":6")
    pinned = TEAM_IMAGE.replace(":7", "@sha256:" + "ab" * 32)
    assert images.command(older, "serve") == images.command(pinned, "serve") == images.command(TEAM_IMAGE, "serve")
    with pytest.raises(ImageNotRunnable):
        images.command(TEAM_IMAGE.replace("team/scorer", "team/other"), "serve")


def test_a_stand_in_that_cannot_start_is_named_before_anything_runs(tmp_path: Path) -> None:
    from pipelines.errors import PipelinesError
    from pipelines.local.containers import command_problems
    from pipelines.local.workspace import require_local_command

    (tmp_path / "here.py").write_text("")
    assert command_problems(ImageCommand(("python3", "here.py"), tmp_path)) == []
    assert command_problems(ImageCommand(("python3", "gone.py"), tmp_path)) == [
        f"gone.py is not a file (relative to {tmp_path})"
    ]
    assert "neither a program on PATH" in command_problems(ImageCommand(("team-trainer-missing",), tmp_path))[0]
    raw = _raw(tmp_path)
    raw["training"]["image"]["local_command"] = ["team-trainer-missing"]
    with pytest.raises(PipelinesError, match=r"training\.image\.local_command \['team-trainer-missing'\]"):
        require_local_command(parse_config(raw))


def test_a_command_that_cannot_start_fails_its_job_at_once_without_retries(tmp_path: Path) -> None:
    context = jobs.JobContext(name="t", arn="arn:t", folder=tmp_path / "job", s3=LocalS3(tmp_path / "s3"))
    with pytest.raises(jobs.JobFailed) as failed:
        jobs._run(["team-trainer-missing", "train"], {}, context, None, processing=False)
    assert failed.value.reason.startswith("ClientError: cannot start 'team-trainer-missing'")
    assert failed.value.retryable_as is None  # an algorithm's own failure: no retry policy matches


def test_configs_sagemaker_would_refuse_at_run_time_are_refused_now(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    raw["training"]["image"]["uri"] = TEAM_IMAGE.replace("us-east-1", "eu-west-1")
    with pytest.raises(ConfigError, match="is in eu-west-1, the pipeline in us-east-1"):
        parse_config(raw)
    raw = _raw(tmp_path)
    raw["training"]["hyperparameters"] = {f"p{i}": i for i in range(99)}
    with pytest.raises(ConfigError, match="99 hyperparameters; SageMaker takes 100 in all"):
        parse_config(raw)
    raw["training"]["hyperparameters"] = {"long": "x" * 2501}
    with pytest.raises(ConfigError, match="longer than SageMaker's 2500 characters"):
        parse_config(raw)
    raw["training"]["hyperparameters"] = {"fine": "x" * 2400}
    parse_config(raw)


def test_a_champion_served_by_its_own_image_is_not_compared_when_the_config_moves_to_the_job_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training_containers import evaluate

    monkeypatch.setenv("OPT_ML_ROOT", str(tmp_path / "opt_ml"))
    champion = tmp_path / "opt_ml" / "processing" / "input" / "champion"
    champion.mkdir(parents=True)
    with tarfile.open(champion / "model.tar.gz", "w:gz") as tar:
        tar.add(STAND_IN, arcname="model.pkl")  # what an image's own training wrote: nothing this job loads
    info = {"model_package_arn": "arn:v1", "version": 1, "image": TEAM_IMAGE, "model_data": "model.tar.gz"}
    config = parse_config(config_dict("regression", "gradient_boosting", tmp_path))
    scored, reason = evaluate._champion_in_process(info, pd.DataFrame(), config, None, tmp_path / "work")
    assert scored is None
    assert reason is not None and f"version 1, image {TEAM_IMAGE}" in reason and "not compared" in reason


def test_an_image_is_registered_as_taking_and_answering_csv(tmp_path: Path) -> None:
    import yaml

    from pipelines.config import load_config
    from pipelines.definition.builder import definition_json

    def register(raw: dict[str, Any]) -> dict[str, Any]:
        (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
        definition = json.loads(definition_json(load_config(tmp_path / "c.yaml")))
        gates = next(s for s in definition["Steps"][1]["Arguments"]["IfSteps"] if s["Name"] == "QualityGates")
        spec: dict[str, Any] = gates["Arguments"]["IfSteps"][0]["Arguments"]["InferenceSpecification"]
        return spec

    image = register(_raw(tmp_path))
    assert (image["SupportedContentTypes"], image["SupportedResponseMIMETypes"]) == (["text/csv"], ["text/csv"])
    own = register(config_dict("regression", "gradient_boosting", tmp_path))
    assert own["SupportedContentTypes"] == ["text/csv", "application/json"]


def test_a_framework_image_needs_an_input_fn_and_a_server_that_reads_the_source(tmp_path: Path) -> None:
    import shutil

    from pipelines.definition.builder import DefinitionError, artifacts

    source = tmp_path / "source"
    shutil.copytree(ROOT / "models" / "tabular", source, ignore=shutil.ignore_patterns("__pycache__"))
    raw = config_dict("regression", "script", tmp_path)
    raw["training"]["script"] |= {"source_dir": str(source), "framework_image": FRAMEWORK_IMAGE}
    assert "source" in artifacts(parse_config(raw))  # the example defines input_fn
    inference = source / "inference.py"
    inference.write_text(inference.read_text().replace("def input_fn(", "def parse_request("))
    with pytest.raises(DefinitionError, match=r"defines no input_fn; with framework_image"):
        artifacts(parse_config(raw))

    raw["training"]["script"]["framework_image"] = FRAMEWORK_IMAGE.replace("sagemaker-scikit-learn", "pytorch-training")
    with pytest.raises(ConfigError, match="pytorch-training is not a framework image a script is served from here"):
        parse_config(raw)
    raw["training"]["script"]["framework_image"] = FRAMEWORK_IMAGE
    raw["pipeline"]["region"] = "eu-west-1"
    with pytest.raises(ConfigError, match="use the framework image's address in that region"):
        parse_config(raw)
