"""Model server: SageMaker hosting starts the job image with the argument `serve`.

The container contract for hosting: SageMaker unpacks the model's model.tar.gz (what the Train
job wrote: model.joblib, an sklearn pipeline with its preprocessing, or a script's model and its
code/, and model_metadata.json) into
/opt/ml/model (`$OPT_ML_ROOT/model`), and expects an HTTP server on port 8080
(`$SAGEMAKER_BIND_TO_PORT` when set) with
    GET  /ping         200 once the model is loaded
    POST /invocations  predictions
The input schema (feature names in order and their types) comes from the model dir alone:
`features` and `feature_types` in model_metadata.json, or, for a model written before the types
were recorded, the column lists of the pipeline's own ColumnTransformer.

Requests (what `training_containers.capture` reads back from data capture):
    text/csv          one record per line, the features in model order, no header; an empty
                      field (or a pandas NA token such as `NA`) is a missing value
    application/json  {"instances": [record, ...]}, a list of records, or one record; a record is
                      an object {feature: value} (null for a missing value) or a list in model order
Responses: the prediction of each record (the positive-class score of a binary classifier, the
class of a multiclass one, the value of a regression; a script model's `predict_fn` answer),
`text/csv` one per line by default, or `{"predictions": [...]}` with `Accept: application/json`.
Input the model cannot take (wrong field count, a non-numeric value for a numeric feature, a
missing feature key, unreadable JSON) gets 400 with a message naming the record and the feature;
an unsupported Content-Type 415, an unsupported Accept 406. A category the model has not seen is
not an error: the pipeline's encoders handle it. The server only uses the standard library.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.gates.catalog import ProblemType
from training_containers import contract, models
from training_containers.estimators import predictions
from training_containers.script import ScriptError
from training_containers.train import METADATA_FILE, MODEL_FILE

DEFAULT_PORT = 8080
PORT_ENV = "SAGEMAKER_BIND_TO_PORT"
CSV, JSON = "text/csv", "application/json"
MAX_BODY_BYTES = 100 * 1024 * 1024  # batch transform's largest payload; real-time stops at 6 MB
NUMERIC, CATEGORICAL = "numeric", "categorical"
# pandas.read_csv's default NA strings: capture.py reads CSV capture with them, so the server
# treats them as missing too and the monitor sees what the model saw.
NA_TOKENS = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)


class BadRequest(ValueError):
    """The request cannot be scored; the message says why (sent back with the status)."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


class ModelLoadError(Exception):
    """The model dir does not hold a model this server can load."""


@dataclass(frozen=True)
class Feature:
    name: str
    type: str  # numeric | categorical


@dataclass(frozen=True)
class LoadedModel:
    pipeline: Any
    features: tuple[Feature, ...]
    metadata: dict[str, Any]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def problem_type(self) -> ProblemType:
        """From the model's metadata; a model written before problem types is a binary classifier."""
        found: ProblemType = self.metadata.get("problem_type", "binary_classification")
        return found

    def score(self, records: pd.DataFrame) -> np.ndarray:
        """What the model says of each record of a frame built by `parse`: the positive class's
        score (binary), the predicted class (multiclass), the predicted value (regression)."""
        return predictions(self.pipeline, records, self.problem_type)


def model_dir() -> Path:
    return contract.opt_ml() / "model"


def port() -> int:
    value = os.environ.get(PORT_ENV, "").strip()
    return int(value) if value else DEFAULT_PORT


def load(folder: Path) -> LoadedModel:
    """The model and its input schema, from the model dir alone."""
    try:
        pipeline, metadata = models.load(folder)
    except (models.ModelDirError, ScriptError) as error:
        raise ModelLoadError(str(error)) from error
    binary = metadata.get("problem_type", "binary_classification") == "binary_classification"
    needed = "predict_proba" if binary else "predict"
    if not hasattr(pipeline, needed):
        raise ModelLoadError(f"{MODEL_FILE} holds a {type(pipeline).__name__}, which has no {needed}")
    return LoadedModel(pipeline, schema(pipeline, metadata), metadata)


def schema(pipeline: Any, metadata: dict[str, Any]) -> tuple[Feature, ...]:
    """Feature names in order and their types: recorded by Train, else read from the pipeline."""
    names = metadata.get("features") or list(getattr(pipeline, "feature_names_in_", []))
    types = metadata.get("feature_types") or _pipeline_types(pipeline)
    missing = [name for name in names if types.get(name) not in (NUMERIC, CATEGORICAL)]
    if not names or missing:
        raise ModelLoadError(
            f"{METADATA_FILE} and the pipeline do not give the input schema "
            f"(features: {names or 'none'}; without a type: {missing})"
        )
    return tuple(Feature(str(name), types[name]) for name in names)


def _pipeline_types(pipeline: Any) -> dict[str, str]:
    """Column kinds from the ColumnTransformer `build_estimator` puts first ("numeric", "categorical")."""
    steps = getattr(pipeline, "named_steps", {})
    prepare = steps.get("prepare") if hasattr(steps, "get") else None
    types: dict[str, str] = {}
    for name, _, columns in getattr(prepare, "transformers_", []):
        if name in (NUMERIC, CATEGORICAL):
            types |= {str(column): name for column in columns}
    return types


# --------------------------------------------------------------------------- request bodies


def media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def parse(body: bytes, content_type: str, features: Sequence[Feature]) -> pd.DataFrame:
    """A request body as the frame the pipeline takes (how `features_frame` prepares training data:
    numeric columns as floats, categoricals as strings, NaN for missing values)."""
    kind = media_type(content_type) or CSV
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if kind == CSV:
        rows = _csv_rows(text, features)
    elif kind == JSON:
        rows = _json_rows(text, features)
    else:
        raise BadRequest(
            f"unsupported Content-Type {content_type!r}; send {CSV} or {JSON}", HTTPStatus.UNSUPPORTED_MEDIA_TYPE
        )
    if not rows:
        raise BadRequest("the body holds no records")
    columns: dict[str, Any] = {}
    for position, feature in enumerate(features):
        values = [row[position] for row in rows]
        columns[feature.name] = (
            np.asarray(values, dtype="float64") if feature.type == NUMERIC else np.asarray(values, dtype=object)
        )
    return pd.DataFrame(columns)


def _order(features: Sequence[Feature]) -> str:
    return ", ".join(f.name for f in features)


def _csv_rows(text: str, features: Sequence[Feature]) -> list[list[Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    rows = []
    for number, fields in enumerate(csv.reader(lines), 1):
        if len(fields) != len(features):
            raise BadRequest(
                f"CSV record {number} has {len(fields)} fields; the model takes {len(features)} "
                f"features in this order, without a header: {_order(features)}"
            )
        where = f"CSV record {number}"
        rows.append([_value(field, feature, where, NA_TOKENS) for field, feature in zip(fields, features, strict=True)])
    return rows


def _json_rows(text: str, features: Sequence[Feature]) -> list[list[Any]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from exc
    if isinstance(document, dict) and "instances" in document:
        document = document["instances"]
        if not isinstance(document, list):
            raise BadRequest('"instances" must be a list of records')
    if isinstance(document, dict):
        document = [document]
    elif isinstance(document, list) and document and not isinstance(document[0], dict | list):
        document = [document]  # one record given as a list of values
    if not isinstance(document, list):
        raise BadRequest('expected {"instances": [...]}, a list of records or one record object')
    rows = []
    for number, item in enumerate(document):
        where = f"JSON record {number}"
        if isinstance(item, dict):
            absent = [f.name for f in features if f.name not in item]
            if absent:
                raise BadRequest(f"{where} lacks features {', '.join(absent)} (send null for a missing value)")
            values = [item[f.name] for f in features]
        elif isinstance(item, list):
            if len(item) != len(features):
                raise BadRequest(
                    f"{where} has {len(item)} values; the model takes {len(features)} features "
                    f"in this order: {_order(features)}"
                )
            values = item
        else:
            raise BadRequest(f"{where} is neither an object of features nor a list of values in model order")
        rows.append([_value(value, feature, where) for value, feature in zip(values, features, strict=True)])
    return rows


def _value(value: Any, feature: Feature, where: str, missing: frozenset[str] = frozenset()) -> Any:
    """One feature value as the pipeline takes it: float or str, NaN when missing (JSON null, or in
    CSV one of `missing`)."""
    if value is None or (isinstance(value, str) and value in missing):
        return math.nan
    if isinstance(value, dict | list):
        raise BadRequest(f"{where}, feature {feature.name!r}: expected a single value, got {json.dumps(value)}")
    if feature.type == CATEGORICAL:
        return value if isinstance(value, str) else str(value)
    if isinstance(value, bool):
        raise BadRequest(f"{where}, feature {feature.name!r} is numeric: got {json.dumps(value)}, send 1 or 0")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{where}, feature {feature.name!r} is numeric: {value!r} is not a number") from None
    if math.isinf(number):
        raise BadRequest(f"{where}, feature {feature.name!r}: {value!r} is not a finite number")
    return number


def accepted(header: str | None) -> str:
    """The response type: JSON when asked for first, else CSV (also for none, */* and text/*)."""
    if not header or not header.strip():
        return CSV
    for part in header.split(","):
        kind = media_type(part)
        if kind in (CSV, "text/*", "*/*"):
            return CSV
        if kind in (JSON, "application/*"):
            return JSON
    raise BadRequest(f"unsupported Accept {header!r}; ask for {CSV} or {JSON}", HTTPStatus.NOT_ACCEPTABLE)


def render(scores: np.ndarray, kind: str) -> bytes:
    """Predictions as CSV (one per line) or JSON: numbers (`repr` of a float reads back to the same
    float), or a multiclass model's classes as text."""
    values: list[Any] = [str(s) for s in scores] if scores.dtype == object else [float(s) for s in scores]
    if kind == JSON:
        return json.dumps({"predictions": values}).encode()
    return ("\n".join(v if isinstance(v, str) else repr(v) for v in values) + "\n").encode()


# --------------------------------------------------------------------------- HTTP


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: SageMaker reuses connections
    server: ModelServer

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/ping":
            loaded = self.server.model is not None
            self._send(HTTPStatus.OK if loaded else HTTPStatus.SERVICE_UNAVAILABLE, b"", CSV)
        elif self.path.split("?", 1)[0] == "/execution-parameters":  # batch transform asks for these
            parameters = {"MaxConcurrentTransforms": 1, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}
            self._send(HTTPStatus.OK, json.dumps(parameters).encode(), JSON)
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no GET {self.path}; the server answers GET /ping")

    def do_POST(self) -> None:
        try:
            body = self._body()
        except BadRequest as exc:
            self.close_connection = True  # the rest of the body, if any, was not read
            self._error(exc.status, str(exc))
            return
        if self.path.split("?", 1)[0] != "/invocations":
            self._error(HTTPStatus.NOT_FOUND, f"no POST {self.path}; the server answers POST /invocations")
            return
        model = self.server.model
        if model is None:
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, "the model is not loaded")
            return
        try:
            kind = accepted(self.headers.get("Accept"))
            records = parse(body, self.headers.get("Content-Type") or CSV, model.features)
            answer = render(model.score(records), kind)
        except BadRequest as exc:
            self._error(exc.status, str(exc))
            return
        except Exception as exc:  # never take the server down; the traceback goes to the log
            traceback.print_exc()
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"scoring failed: {type(exc).__name__}: {exc}")
            return
        self._send(HTTPStatus.OK, answer, kind)

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raise BadRequest("chunked bodies are not supported; send Content-Length", HTTPStatus.LENGTH_REQUIRED)
        length_header = self.headers.get("Content-Length")
        try:
            length = int(length_header or 0)
        except ValueError:
            raise BadRequest(f"Content-Length {length_header!r} is not a number") from None
        if length < 0:
            raise BadRequest(f"Content-Length {length} is negative")
        if length > MAX_BODY_BYTES:
            too_large = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
            raise BadRequest(f"the body has {length} bytes; at most {MAX_BODY_BYTES} are accepted", too_large)
        return self.rfile.read(length)

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._send(status, (message + "\n").encode(), "text/plain; charset=utf-8")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.path.startswith("/ping") and len(args) > 1 and str(args[1]) == "200":
            return  # health checks every few seconds would drown the log
        super().log_message(format, *args)


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], model: LoadedModel | None) -> None:
        self.model = model
        super().__init__(address, Handler)


def make_server(folder: Path | None = None, bind_port: int | None = None, host: str = "0.0.0.0") -> ModelServer:
    """Load the model, then bind (the model dir and port default to SageMaker's, or the env's)."""
    model = load(folder or model_dir())
    return ModelServer((host, port() if bind_port is None else bind_port), model)


def main() -> int:
    try:
        server = make_server()
    except Exception as exc:  # a model that cannot load, a port that cannot bind: fail fast, say why
        traceback.print_exc()
        print(f"cannot serve: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    model = server.model
    assert model is not None
    host, bound = server.server_address[:2]
    print(f"serving {len(model.features)} features on {host!s}:{bound}: {', '.join(model.names)}", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
