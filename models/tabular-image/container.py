"""An example of a team's own image, following SageMaker's container contract and nothing of this
project: SageMaker runs it as `docker run <image> train` for training and `docker run <image>
serve` for hosting and batch transform (the Dockerfile beside it builds that image). Without
Docker, `run-local` runs this file in its place (`training.image.local_command`), with
`OPT_ML_ROOT` naming the folder that stands for /opt/ml.

train: reads /opt/ml/input/config/hyperparameters.json (values as text) and the Parquet files of
       /opt/ml/input/data/train, writes /opt/ml/model/model.pkl; on failure it writes the reason
       to /opt/ml/output/failure (what DescribeTrainingJob reports as FailureReason) and exits 1.
serve: listens on $SAGEMAKER_BIND_TO_PORT (8080 when unset); GET /ping answers 200 once the
       model is loaded; POST /invocations takes text/csv (one record per line, the features in
       the config's order, no header) and answers one prediction per line.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import sys
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

OPT_ML = Path(os.environ.get("OPT_ML_ROOT", "/opt/ml"))
FEATURES = ("x1", "x2", "x3", "region")  # the order requests carry them in
REGIONS = ("north", "south", "east")


def number(column: pd.Series) -> pd.Series:
    """A numeric feature; an empty field (a request's missing value) is NaN, which the model handles."""
    return pd.to_numeric(column.replace("", np.nan))


def engineer(rows: pd.DataFrame) -> np.ndarray:
    columns = [
        number(rows["x1"]),
        number(rows["x2"]),
        np.log1p(number(rows["x3"]).clip(lower=0)),
        *[(rows["region"].astype(str) == region).astype(float) for region in REGIONS],
    ]
    return np.column_stack(columns)


def train() -> None:
    hyperparameters = json.loads((OPT_ML / "input" / "config" / "hyperparameters.json").read_text())
    folder = OPT_ML / "input" / "data" / "train"
    rows = pd.concat(pd.read_parquet(path) for path in sorted(folder.rglob("*.parquet")))
    model = HistGradientBoostingRegressor(
        max_iter=int(hyperparameters.get("max_iter", "200")),
        learning_rate=float(hyperparameters.get("learning_rate", "0.1")),
        random_state=0,
    )
    label = hyperparameters.get("label", "target")
    model.fit(engineer(rows), rows[label].astype(float), sample_weight=rows.get("sample_weight"))
    with (OPT_ML / "model" / "model.pkl").open("wb") as handle:
        pickle.dump(model, handle)


class Handler(BaseHTTPRequestHandler):
    model: HistGradientBoostingRegressor

    def do_GET(self) -> None:
        self._answer(HTTPStatus.OK if self.path == "/ping" else HTTPStatus.NOT_FOUND, "")

    def do_POST(self) -> None:
        if self.path != "/invocations":
            return self._answer(HTTPStatus.NOT_FOUND, "")
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        try:
            records = list(csv.reader(io.StringIO(body)))
            rows = pd.DataFrame(records, columns=list(FEATURES))
            predicted = self.model.predict(engineer(rows))
        except (ValueError, KeyError) as error:
            return self._answer(HTTPStatus.BAD_REQUEST, f"unreadable records: {error}\n")
        self._answer(HTTPStatus.OK, "".join(f"{value:.10g}\n" for value in predicted))

    def _answer(self, status: HTTPStatus, text: str) -> None:
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve() -> None:
    with (OPT_ML / "model" / "model.pkl").open("rb") as handle:
        Handler.model = pickle.load(handle)
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    ThreadingHTTPServer(("127.0.0.1" if os.environ.get("OPT_ML_ROOT") else "0.0.0.0", port), Handler).serve_forever()


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "serve":
        serve()
        return 0
    if command != "train":
        print(f"usage: {sys.argv[0]} train|serve", file=sys.stderr)
        return 2
    try:
        train()
    except Exception as error:
        (OPT_ML / "output").mkdir(parents=True, exist_ok=True)
        (OPT_ML / "output" / "failure").write_text(f"{type(error).__name__}: {error}")
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
