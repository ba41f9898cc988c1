"""Images on a machine without Docker: what stands in for each image a definition names, and the
batch transform, which starts an image's model server and sends it the input records.

The job image (the one built from training_containers/) runs from this checkout. Any other image
(a team's own, `training.image`) runs only through the local command its config names; a
definition that needs an image with neither is refused before anything runs.

The serving side follows SageMaker's contract for inference containers: the image is started
with `serve`, must answer `GET /ping` with 200 and takes records on `POST /invocations`
("Custom Inference Code with Batch Transform", SageMaker developer guide:
https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-batch-code.html). Locally the
port is free-chosen and passed in `SAGEMAKER_BIND_TO_PORT`, the variable SageMaker itself uses to
move a container off 8080 ("Run Real-time Predictions with an Inference Pipeline":
https://docs.aws.amazon.com/sagemaker/latest/dg/inference-pipeline-real-time.html).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.bundles import PROJECT_ROOT
from pipelines.errors import PipelinesError

PYTHON_NAMES = ("python", "python3")
# The job image's ENTRYPOINT (training_containers/Dockerfile): `train` and `serve` follow it.
JOB_IMAGE_ENTRYPOINT = ("python3", "-m", "training_containers.entrypoint")
PING_TIMEOUT_SECONDS = 120.0
# A batch transform waits this long for each /invocations answer unless ModelClientConfig says
# otherwise (InvocationsTimeoutInSeconds, SageMaker API reference: ModelClientConfig).
INVOCATIONS_TIMEOUT_SECONDS = 600.0
MB = 1024 * 1024


class ImageNotRunnable(PipelinesError):
    """An image the local runtime has no stand-in for."""


@dataclass(frozen=True)
class ImageCommand:
    """What runs in an image's place: `argv` with `train` or `serve` appended, run in `cwd` (where
    its relative paths resolve). A leading `python`/`python3` is this interpreter."""

    argv: tuple[str, ...]
    cwd: Path | None = None


@dataclass(frozen=True)
class Images:
    """The images this machine can run. `job_image` None: every image without a command is taken
    for the job image (a definition built for this checkout)."""

    job_image: str | None = None
    commands: Mapping[str, ImageCommand] = field(default_factory=dict)

    def command(self, image: str, mode: str) -> tuple[list[str], Path | None]:
        """(argv, working directory) that runs `image` with `mode` (`train` or `serve`). A stand-in
        serves its whole repository: an older tag or digest (a champion, a rollback target) runs
        through today's command."""
        stand_in = self.stand_in(image)
        if stand_in is not None:
            return [*python(list(stand_in.argv)), mode], stand_in.cwd
        if self.job_image is None or image == self.job_image:
            return [*python(list(JOB_IMAGE_ENTRYPOINT)), mode], None
        raise ImageNotRunnable(
            f"ClientError: image {image} has no local stand-in: the local runtime runs only the job image "
            "and images with a local command (training.image.local_command)"
        )

    def stand_in(self, image: str) -> ImageCommand | None:
        """The command that stands in for `image`: its own, else its repository's (any tag or digest)."""
        return self.commands.get(image) or next(
            (c for uri, c in self.commands.items() if repository(uri) == repository(image)), None
        )

    def problems(self, step: str, step_type: str, arguments: dict[str, Any]) -> list[str]:
        """Why this step's image cannot run here (empty when it can or when it is only known at
        run time, an image chosen by a property file)."""
        image: Any = None
        if step_type == "Training" and not arguments.get("AlgorithmSpecification", {}).get("ContainerEntrypoint"):
            image = arguments.get("AlgorithmSpecification", {}).get("TrainingImage")
        elif step_type == "Model":
            image = arguments.get("PrimaryContainer", {}).get("Image")
        if not isinstance(image, str):
            return []
        try:
            self.command(image, "train")
        except ImageNotRunnable:
            return [
                f"step {step}: runs image {image}, which cannot run here without Docker; "
                "give the config a local command for it (training.image.local_command)"
            ]
        return []


def repository(image: str) -> str:
    """An image reference without its tag or digest."""
    name = image.split("@", 1)[0]
    head, _, tail = name.rpartition("/")
    return f"{head}/{tail.split(':', 1)[0]}" if head else tail.split(":", 1)[0]


def command_problems(stand_in: ImageCommand) -> list[str]:
    """What keeps a stand-in command from starting: a program not found, a script file missing."""
    argv, cwd = list(stand_in.argv), stand_in.cwd or Path.cwd()
    program = argv[0]
    if Path(program).name not in PYTHON_NAMES:
        found = shutil.which(program) if "/" not in program else None
        if found is None and not (cwd / program).is_file():
            return [f"{program!r} is neither a program on PATH nor a file in {cwd}"]
    scripts = [a for a in argv[1:2] if a.endswith(".py")] if Path(program).name in PYTHON_NAMES else []
    return [f"{s} is not a file (relative to {cwd})" for s in scripts if not (cwd / s).is_file()]


def python(argv: list[str]) -> list[str]:
    """A Python command runs with this interpreter (and its installed packages)."""
    return [sys.executable, *argv[1:]] if argv and Path(argv[0]).name in PYTHON_NAMES else argv


def unpack_model(archive: Path, folder: Path) -> None:
    """SageMaker unpacks ModelDataUrl's model.tar.gz into /opt/ml/model before `serve`."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def model_server(
    command: list[str], cwd: Path | None, environment: dict[str, str], opt_ml: Path, log: Path
) -> Iterator[str]:
    """Start `command` (an image's `serve`) and yield its base URL once `/ping` answers 200; stop
    it on exit. A server that exits or never answers raises with the end of its log."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SM_"))},
        **environment,
        "OPT_ML_ROOT": str(opt_ml.resolve()),
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "PYTHONPATH": str(PROJECT_ROOT),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as output:
        try:
            process = subprocess.Popen(command, env=env, cwd=cwd or log.parent, stdout=output, stderr=subprocess.STDOUT)
        except (FileNotFoundError, PermissionError) as error:
            raise PipelinesError(f"ClientError: cannot start {command[0]!r}: {error.strerror}") from error
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_ping(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_ping(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline, last = time.monotonic() + PING_TIMEOUT_SECONDS, "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PipelinesError(f"ClientError: the model server exited with code {process.returncode}: {_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as answer:
                if answer.status == 200:
                    return
                last = f"status {answer.status}"
        except urllib.error.HTTPError as error:
            last = f"status {error.code}"
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise PipelinesError(
        f"ClientError: the model server did not answer /ping with 200 within {PING_TIMEOUT_SECONDS:.0f} s "
        f"(last: {last}); its log ends: {_tail(log)}"
    )


def _tail(log: Path) -> str:
    lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:] if log.is_file() else []
    return " | ".join(lines) or "(no output)"


def invoke(url: str, body: bytes, content_type: str, accept: str, timeout: float) -> bytes:
    """POST /invocations; a non-2xx answer raises with its status and message."""
    request = urllib.request.Request(
        f"{url}/invocations", data=body, method="POST", headers={"Content-Type": content_type, "Accept": accept}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return bytes(answer.read())
    except urllib.error.HTTPError as error:
        message = error.read().decode("utf-8", errors="replace").strip()[:300]
        raise PipelinesError(f"ClientError: /invocations answered {error.code}: {message}") from error


def mini_batches(lines: list[bytes], max_payload_mb: float) -> Iterator[bytes]:
    """Records joined into requests of at most `max_payload_mb` (BatchStrategy MultiRecord); a
    record larger than that alone is an error, as SageMaker's."""
    limit, size = int(max_payload_mb * MB), 0
    batch: list[bytes] = []
    for line in lines:
        record = line if line.endswith(b"\n") else line + b"\n"
        if len(record) > limit:
            raise PipelinesError(f"ClientError: a record of {len(record)} bytes exceeds MaxPayloadInMB")
        if batch and size + len(record) > limit:
            yield b"".join(batch)
            batch, size = [], 0
        batch.append(record)
        size += len(record)
    if batch:
        yield b"".join(batch)


class ServedModel:
    """A model behind its image's own server (the image's local stand-in), asked over HTTP with
    text/csv records: how the local endpoint serves an image version. The server runs until this
    process ends."""

    def __init__(self, command: list[str], cwd: Path | None, archive: Path, folder: Path, config: Any) -> None:
        unpack_model(archive, folder / "opt_ml" / "model")
        self.config = config
        stack = ExitStack()
        self.url = stack.enter_context(model_server(command, cwd, {}, folder / "opt_ml", folder / "server.log"))
        weakref.finalize(self, stack.close)

    def _ask(self, rows: Any) -> Any:
        from training_containers import scoring

        body = scoring.records([rows], self.config).encode()
        answer = invoke(self.url, body, "text/csv", "text/csv", timeout=60.0).decode("utf-8")
        return scoring.parse_answers(answer, len(rows), self.config.model.problem_type, "the model server")

    def predict_proba(self, rows: Any) -> Any:
        import numpy as np

        scores = self._ask(rows)
        return np.column_stack([1 - scores, scores])

    def predict(self, rows: Any) -> Any:
        return self._ask(rows)
