"""The `serve` command: gunicorn running `ModelApp`, as SageMaker's own framework containers run
their model servers (a worker process per core, `SAGEMAKER_MODEL_SERVER_WORKERS` to change it;
`SAGEMAKER_MODEL_SERVER_TIMEOUT` for a worker that stops answering; sagemaker-inference-toolkit's
parameters.py names both). The model is loaded once, before the workers fork. Each worker is
gunicorn's asyncio (ASGI) worker: one thread, many connections, no hand-off between threads (a
threaded worker spent about 1 ms of a single record's ~1.6 ms there, bench/serving.py), and it
runs the model's native code on one thread too (single-record latency wants no thread team to
wake, and the workers use the cores already).
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any

import joblib
from gunicorn.app.base import BaseApplication
from threadpoolctl import threadpool_limits

from training_containers import contract
from training_containers.serving.app import ModelApp
from training_containers.serving.model import load

DEFAULT_PORT = 8080
PORT_ENV = "SAGEMAKER_BIND_TO_PORT"  # set by SageMaker for containers of an inference pipeline
WORKERS_ENV = "SAGEMAKER_MODEL_SERVER_WORKERS"
TIMEOUT_ENV = "SAGEMAKER_MODEL_SERVER_TIMEOUT"
DEFAULT_TIMEOUT_SECONDS = 60  # the inference toolkit's default
KEEPALIVE_SECONDS = 60  # an idle keep-alive connection costs the event loop nothing


class ModelServer(BaseApplication):  # type: ignore[misc]
    """gunicorn with its settings given in code (no command line, no config file)."""

    def __init__(self, application: ModelApp, settings: dict[str, Any]) -> None:
        self.application = application
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.settings.items():
            self.cfg.set(key, value)

    def load(self) -> ModelApp:
        return self.application


def model_dir() -> Path:
    return contract.opt_ml() / "model"


def port() -> int:
    value = os.environ.get(PORT_ENV, "").strip()
    return int(value) if value else DEFAULT_PORT


def _positive(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name}={value!r}: give a whole number of at least 1")
    return int(value)


def cores() -> int:
    """The CPUs this container may use (joblib reads the cgroup's CPU quota, not only the host's count)."""
    return max(1, int(joblib.cpu_count()))


def settings(bind_port: int) -> dict[str, Any]:
    return {
        "bind": f"0.0.0.0:{bind_port}",
        "workers": _positive(WORKERS_ENV, cores()),
        "worker_class": "asgi",
        "asgi_loop": "asyncio",
        "asgi_lifespan": "off",
        "timeout": _positive(TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS),
        "graceful_timeout": 10,
        "keepalive": KEEPALIVE_SECONDS,
        "post_worker_init": one_native_thread,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "model-server",
        "control_socket_disable": True,  # gunicorn's control socket lives in $HOME, shared by every server
    }


def one_native_thread(_worker: Any) -> None:
    """OpenMP and BLAS on one thread in each worker (set after the fork: no thread team exists
    before it, since the master only loads the model)."""
    threadpool_limits(limits=1)


def main() -> int:
    try:
        model = load(model_dir())
        config = settings(port())
    except Exception as exc:  # a model that cannot load, a setting that cannot work: fail fast, say why
        traceback.print_exc()
        print(f"cannot serve: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    path = "lean path" if model.lean is not None else "its own pipeline"
    print(
        f"serving {len(model.features)} features ({', '.join(model.names)}) through {path} "
        f"on {config['bind']} with {config['workers']} workers",
        file=sys.stderr,
    )
    ModelServer(ModelApp(model, config["workers"]), config).run()
    return 0
