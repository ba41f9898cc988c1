"""A work dir that stands in for one deployed model: local S3, registry and executions.

`deploy` does locally what `cdk deploy` does on AWS before the first execution: it stores the
content-addressed artifacts the definition references, creates the model package group, and
writes the "no champion yet" pointer under the champion prefix unless a champion is already
recorded there (SageMaker fails a job whose S3 input prefix is empty, so the prefix is never
left empty).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.config import ModelConfig, Source, SqlSource, require_deployable
from pipelines.errors import PipelinesError
from pipelines.local import record
from pipelines.local.containers import JOB_IMAGE_ENTRYPOINT, ImageCommand, Images, command_problems
from pipelines.local.runtime import REGISTRY_FILE, Execution, LocalRuntime, RuntimeOptions
from pipelines.local.storage import LocalS3
from pipelines.naming import CHAMPION_POINTER

NO_CHAMPION = {"model_package_arn": None, "model_data": "model.tar.gz"}


def local_images(config: ModelConfig) -> Images:
    """The job image runs from this checkout; the team's image (training.image) through its local
    command, run from the config's folder; a SageMaker framework image that runs a script
    (training.script.framework_image) as the job image, whose script mode keeps its contract."""
    from pipelines.definition.builder import image_uri

    image, script = config.training.image, config.training.script
    commands = {}
    if image is not None and image.local_command:
        commands[image.uri] = ImageCommand(tuple(image.local_command), config.local_path("."))
    if script is not None and script.framework_image:
        commands[script.framework_image] = ImageCommand(JOB_IMAGE_ENTRYPOINT)
    return Images(job_image=image_uri(config), commands=commands)


def require_local_command(config: ModelConfig) -> None:
    """Refuse a `training.image.local_command` that cannot start, naming the field."""
    image = config.training.image
    if image is None or not image.local_command:
        return
    problems = command_problems(ImageCommand(tuple(image.local_command), config.local_path(".")))
    if problems:
        raise PipelinesError(f"training.image.local_command {image.local_command}: " + "; ".join(problems))


def local_uri(source: Source) -> str:
    """Where a data source's files live in the local S3: its prefix, or for a SQL source the files
    of the (first) table its `local_tables` maps."""
    return next(iter(source.local_tables.values())) if isinstance(source, SqlSource) else source.uri


class WorkspaceMissing(PipelinesError):
    """A command that reads a workspace found none where it looked."""


@dataclass
class Workspace:
    config: ModelConfig
    root: Path

    def __post_init__(self) -> None:
        self.root = self.root.resolve()  # jobs run with their own working directory

    @property
    def registry_file(self) -> Path:
        return self.root / REGISTRY_FILE

    def require_existing(self) -> None:
        """Raise `WorkspaceMissing` unless a run or `deploy` set this workspace up: commands that
        only read or move versions must not leave empty databases in a mistyped folder."""
        if not self.registry_file.is_file():
            raise WorkspaceMissing(
                f"no local workspace at {self.root} (no {REGISTRY_FILE} there): run "
                f"`python -m pipelines run-local CONFIG --workdir {self.root}` to create one, pass --workdir with "
                "the workspace your runs used, or --aws to act on the deployed stack"
            )

    @property
    def s3(self) -> LocalS3:
        return LocalS3(self.root / "s3")

    def deploy(self) -> None:
        from pipelines.definition.builder import artifacts
        from pipelines.naming import champion_prefix

        require_deployable(self.config)  # before anything is created
        require_local_command(self.config)

        s3 = self.s3
        for artifact in artifacts(self.config).values():
            if artifact.content and not s3.path(artifact.uri).exists():
                s3.put_bytes(artifact.uri, artifact.content)
        pointer = champion_prefix(self.config) + CHAMPION_POINTER
        if not s3.path(pointer).exists():
            s3.put_bytes(pointer, json.dumps(NO_CHAMPION).encode())
        self.runtime().registry.create_model_package_group(
            self.config.registry.model_package_group, f"{self.config.model.name} candidates"
        )

    def tables(self) -> dict[str, str]:
        historical = self.config.data.historical
        return dict(historical.local_tables) if isinstance(historical, SqlSource) else {}

    def runtime(self, echo: Callable[[str], None] = print, **options: Any) -> LocalRuntime:
        from pipelines.definition.builder import pipeline_name

        pipeline = self.config.pipeline
        return LocalRuntime(
            RuntimeOptions(
                workdir=self.root,
                pipeline_name=pipeline_name(self.config),
                region=pipeline.region,
                account=pipeline.account,
                tables=self.tables(),
                echo=echo,
                images=local_images(self.config),
                **options,
            )
        )

    def run(
        self,
        overrides: dict[str, str] | None = None,
        definition: dict[str, Any] | None = None,
        echo: Callable[[str], None] = print,
        **options: Any,
    ) -> Execution:
        """Deploy (idempotent), execute the definition (built from the config unless given) and
        write the execution record."""
        from pipelines.definition.builder import definition_json

        self.deploy()
        document = definition if definition is not None else json.loads(definition_json(self.config))
        execution = self.runtime(echo, **options).execute(document, overrides)
        record.write(execution)
        return execution
