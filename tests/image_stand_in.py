"""A minimal team image for tests, by SageMaker's container contract (`train`, `serve`): it
predicts the training mean, fast, and misbehaves on request. Its hyperparameter `behaviour`:
    right        answers one number a record
    short        answers one line too few
    text         answers "n/a" for every record
    fail_train   training writes /opt/ml/output/failure and exits 1
    crash_serve  the server exits before answering /ping
"""

from __future__ import annotations

import json
import os
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

OPT_ML = Path(os.environ.get("OPT_ML_ROOT", "/opt/ml"))


def train() -> int:
    hyperparameters = json.loads((OPT_ML / "input" / "config" / "hyperparameters.json").read_text())
    behaviour = hyperparameters.get("behaviour", "right")
    if behaviour == "fail_train":
        (OPT_ML / "output" / "failure").write_text("ValueError: the team's training refused its data")
        return 1
    import pandas as pd

    rows = pd.concat(pd.read_parquet(p) for p in sorted((OPT_ML / "input" / "data" / "train").glob("*.parquet")))
    model = {"mean": float(rows[hyperparameters.get("label", "target")].mean()), "behaviour": behaviour}
    (OPT_ML / "model" / "model.json").write_text(json.dumps(model))
    return 0


class Handler(BaseHTTPRequestHandler):
    model: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        self._answer(HTTPStatus.OK, b"")

    def do_POST(self) -> None:
        records = self.rfile.read(int(self.headers["Content-Length"])).decode().splitlines()
        behaviour = self.model["behaviour"]
        answer = "n/a" if behaviour == "text" else repr(self.model["mean"])
        count = len(records) - 1 if behaviour == "short" else len(records)
        self._answer(HTTPStatus.OK, "".join(f"{answer}\n" for _ in range(count)).encode())

    def _answer(self, status: HTTPStatus, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve() -> int:
    Handler.model = json.loads((OPT_ML / "model" / "model.json").read_text())
    if Handler.model["behaviour"] == "crash_serve":
        print("cannot load the model: a missing shared library", file=sys.stderr)
        return 3
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit({"train": train, "serve": serve}[sys.argv[1]]())
