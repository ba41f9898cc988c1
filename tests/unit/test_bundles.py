"""What a deployed unit carries (pipelines.bundles, stacks.packaging): whole packages found by
reading imports, never a hand-written list; third-party code vendored only when it is pure Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.bundles import reached_files, third_party
from stacks.packaging import LAMBDA_RUNTIME, PackagingError, vendored_files


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(
        tmp_path,
        {
            "pipelines/__init__.py": "",
            "pipelines/naming.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pipelines.config import X\n"
            ),
            "pipelines/config.py": "import pydantic\n",
            "pipelines/trigger/__init__.py": "from pipelines.trigger.model import A\n",
            "pipelines/trigger/model.py": "from pipelines import naming\nA = 1\n",
            "pipelines/trigger/local.py": "import sqlite3\n",
            "pipelines/alerts/__init__.py": "",
            "pipelines/alerts/aws.py": "def f():\n    import yaml\n    from pipelines.events import parse\n",
            "pipelines/events.py": "",
            "pipelines/drift/__init__.py": "import pandas\n",
            "stacks/x/runtime/handler.py": (
                "import boto3\nfrom pipelines.trigger import A\nfrom pipelines.alerts.aws import f\n"
            ),
        },
    )
    return tmp_path


def names(files: list[Path], root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in files]


def test_a_unit_ships_the_whole_packages_its_imports_reach_and_nothing_else(project: Path) -> None:
    shipped = names(reached_files([project / "stacks/x/runtime/handler.py"], root=project), project)
    assert shipped == [
        "pipelines/__init__.py",
        "pipelines/alerts/__init__.py",
        "pipelines/alerts/aws.py",
        "pipelines/events.py",  # imported inside a function: it runs, so it ships
        "pipelines/naming.py",
        "pipelines/trigger/__init__.py",
        "pipelines/trigger/local.py",  # the whole package ships, though nothing imports it
        "pipelines/trigger/model.py",
    ]  # not config.py (imported for the type checker only), not drift/ (never imported)


def test_third_party_names_are_what_runs_outside_the_standard_library_and_the_project(project: Path) -> None:
    handler = project / "stacks/x/runtime/handler.py"
    files = [handler, *reached_files([handler], root=project)]
    assert third_party(files) == {"boto3", "yaml"}  # sqlite3 is the standard library's; pydantic is type-only


def test_pure_python_dependencies_are_vendored_with_theirs_but_not_the_runtime_sdk() -> None:
    shipped = {relative.parts[0] for _, relative in vendored_files(["aws_lambda_powertools"])}
    assert "aws_lambda_powertools" in shipped
    assert "typing_extensions.py" in shipped  # required by Powertools
    assert not shipped & {"boto3", "botocore", "jmespath"}  # the Lambda runtime has them
    assert {"boto3", "botocore", "jmespath"} <= LAMBDA_RUNTIME


def test_compiled_code_is_refused_with_what_to_do() -> None:
    with pytest.raises(PackagingError, match=r"pydantic-core .* is not pure Python.*image"):
        vendored_files(["pydantic"])
