"""The model server of the job image (`serve`), on a model the Train job wrote.

SageMaker hosting runs `docker run IMAGE serve` with the model unpacked under /opt/ml/model; these
tests train with the real job code in a temp /opt/ml, start `serve` (gunicorn, two workers) on
that model dir and compare every answer with the pipeline's own `predict_proba`. What needs no
HTTP (an unloaded or failing model, a body that stops arriving) is asked of the ASGI application.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import math
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

from pipelines.config import FeatureType, ModelConfig
from pipelines.local.containers import model_server
from pipelines.simulation.datagen import StreamSpec, generate
from tests.conftest import Container
from training_containers import entrypoint, train
from training_containers.capture import read_capture
from training_containers.estimators import features_frame
from training_containers.serving import app, server
from training_containers.serving.model import LoadedModel, load
from training_containers.serving.requests import parse
from training_containers.serving.schema import Feature, ModelLoadError

Response = tuple[int, str, str]  # status, content type, body


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, config: ModelConfig) -> Path:
    """Train (the job's `main`, as SageMaker runs it) on a small stream; returns /opt/ml/model."""
    root = tmp_path_factory.mktemp("serve") / "opt_ml"
    frame = generate(StreamSpec(rows=6000, days=30, seed=11))
    job = Container(root)
    for channel, part in (("train", frame.iloc[:5000]), ("validation", frame.iloc[5000:])):
        folder = root / "input" / "data" / channel
        folder.mkdir(parents=True)
        part.to_parquet(folder / "part-0.parquet", index=False)
    job.put_config(config, where="training")
    (root / "input" / "config").mkdir(parents=True)
    hyperparameters = {"estimator": config.training.estimator, **config.training.hyperparameters, "max_iter": 50}
    (root / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({k: json.dumps(v) for k, v in hyperparameters.items()})
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPT_ML_ROOT", str(root))
        for name in ("SM_MODEL_DIR", "SM_HPS", "SM_CHANNEL_TRAIN", "SM_CHANNEL_VALIDATION", "SM_CHANNEL_CONFIG"):
            patch.delenv(name, raising=False)
        assert train.main() == 0
    return root / "model"


@pytest.fixture(scope="module")
def requests_frame(config: ModelConfig) -> pd.DataFrame:
    """Traffic with the awkward cases: missing values in both kinds of feature, a category the
    model never saw, integers in numeric features."""
    frame = generate(StreamSpec(rows=200, days=2, seed=12, start="2026-03-01"))
    frame.loc[3, "device_trust"] = np.nan
    frame.loc[4, "merchant_category"] = "crypto"  # unseen: the encoder maps it, no error
    frame.loc[5, "risk_band"] = np.nan
    return frame


@pytest.fixture(scope="module")
def expected(model_dir: Path, requests_frame: pd.DataFrame, config: ModelConfig) -> np.ndarray:
    model = joblib.load(model_dir / train.MODEL_FILE)
    scores: np.ndarray = model.predict_proba(features_frame(requests_frame, config))[:, 1]
    return scores


SERVE = [sys.executable, "-m", "training_containers.entrypoint", "serve"]  # the image's ENTRYPOINT + serve


@dataclass(frozen=True)
class Served:
    port: int
    log: Path


@pytest.fixture(scope="module")
def served(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`serve` as SageMaker starts it, with two workers (as on a 2-core instance)."""
    log = tmp_path_factory.mktemp("served") / "serve.log"
    with model_server(SERVE, None, {server.WORKERS_ENV: "2"}, model_dir.parent, log) as url:
        yield Served(int(url.rsplit(":", 1)[1]), log)


@pytest.fixture(scope="module")
def port(served: Served) -> int:
    return served.port


def request(
    port: int, method: str, path: str, body: bytes | str = b"", headers: dict[str, str] | None = None
) -> Response:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        data = body.encode() if isinstance(body, str) else body
        connection.request(method, path, body=data if method == "POST" else None, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.getheader("Content-Type") or "", answer.read().decode()
    finally:
        connection.close()


def invoke(port: int, body: bytes | str, content_type: str, accept: str | None = None) -> Response:
    headers = {"Content-Type": content_type} | ({"Accept": accept} if accept else {})
    return request(port, "POST", "/invocations", body, headers)


def call(application: app.ModelApp, method: str, path: str, body: bytes = b"", **headers: str) -> Response:
    """One request to the ASGI application, without a server; `headers` as name=value."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    fields = [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    scope = {"type": "http", "method": method, "path": path, "headers": fields}
    asyncio.run(application(scope, receive, send))
    start, content = sent
    answer = dict(start["headers"])
    assert answer[b"content-length"] == str(len(content["body"])).encode()
    return start["status"], answer[b"content-type"].decode(), content["body"].decode()


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(float(value)) if isinstance(value, int | float | np.number) else str(value)


def csv_body(frame: pd.DataFrame, config: ModelConfig) -> str:
    """Features in config order, no header; floats written so they read back exactly."""
    names = config.model.feature_names
    return "\n".join(",".join(_cell(v) for v in row) for row in frame[names].itertuples(index=False)) + "\n"


def json_records(frame: pd.DataFrame, config: ModelConfig) -> list[dict[str, Any]]:
    records = []
    for row in frame[config.model.feature_names].to_dict(orient="records"):
        records.append({k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()})
    plain: list[dict[str, Any]] = json.loads(json.dumps(records, default=lambda v: v.item()))  # numpy -> JSON
    return plain


def csv_scores(body: str) -> np.ndarray:
    return np.array([float(line) for line in body.splitlines()])


# --------------------------------------------------------------------------- answers


def test_ping_answers_200_once_the_model_is_loaded(port: int) -> None:
    assert request(port, "GET", "/ping")[0] == 200
    unloaded = app.ModelApp(None, workers=3)
    assert call(unloaded, "GET", "/ping")[0] == 503
    assert call(unloaded, "POST", "/invocations", b"1,2\n")[0] == 503
    status, content_type, body = call(unloaded, "GET", "/execution-parameters")
    assert (status, content_type) == (200, "application/json")
    # batch transform sends as many requests at a time as there are workers
    assert json.loads(body) == {"MaxConcurrentTransforms": 3, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}
    assert json.loads(request(port, "GET", "/execution-parameters")[2])["MaxConcurrentTransforms"] == 2


def test_csv_scores_are_the_pipelines_predict_proba(
    port: int, requests_frame: pd.DataFrame, config: ModelConfig, expected: np.ndarray
) -> None:
    status, content_type, body = invoke(port, csv_body(requests_frame, config), "text/csv")
    assert (status, content_type) == (200, "text/csv"), body
    np.testing.assert_array_equal(csv_scores(body), expected)
    assert 0 < expected[4] < 1  # the unseen category was scored


def test_json_shapes_give_the_same_scores(
    port: int, requests_frame: pd.DataFrame, config: ModelConfig, expected: np.ndarray
) -> None:
    records = json_records(requests_frame, config)
    as_lists = [[r[name] for name in config.model.feature_names] for r in records]

    status, content_type, body = invoke(port, json.dumps({"instances": records}), "application/json")
    assert (status, content_type) == (200, "text/csv"), body  # CSV unless JSON is asked for
    np.testing.assert_array_equal(csv_scores(body), expected)

    status, content_type, body = invoke(
        port, json.dumps({"instances": as_lists}), "application/json; charset=utf-8", accept="application/json"
    )
    assert (status, content_type) == (200, "application/json"), body
    np.testing.assert_array_equal(json.loads(body)["predictions"], expected)

    status, _, body = invoke(port, json.dumps(records[7]), "application/json", accept="application/json")
    assert status == 200 and json.loads(body) == {"predictions": [expected[7]]}
    status, _, body = invoke(port, json.dumps(as_lists[8]), "application/json", accept="application/json")
    assert status == 200 and json.loads(body) == {"predictions": [expected[8]]}


def test_csv_requests_can_ask_for_json_and_concurrent_requests_each_get_their_own_scores(
    port: int, requests_frame: pd.DataFrame, config: ModelConfig, expected: np.ndarray
) -> None:
    chunks = [(start, requests_frame.iloc[start : start + 25]) for start in range(0, len(requests_frame), 25)]

    def score(chunk: tuple[int, pd.DataFrame]) -> tuple[int, list[float]]:
        status, _, body = invoke(port, csv_body(chunk[1], config), "text/csv", accept="application/json")
        assert status == 200, body
        return chunk[0], json.loads(body)["predictions"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        for start, scores in pool.map(score, chunks):
            np.testing.assert_array_equal(scores, expected[start : start + len(scores)])


def test_one_connection_serves_several_requests(
    port: int, requests_frame: pd.DataFrame, config: ModelConfig, expected: np.ndarray
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for row in range(3):
            connection.request("POST", "/invocations", csv_body(requests_frame.iloc[[row]], config), {})
            answer = connection.getresponse()
            assert answer.status == 200
            assert float(answer.read()) == expected[row]
        connection.request("POST", "/invocations", "1,2\n", {"Content-Type": "text/csv"})
        bad = connection.getresponse()
        assert bad.status == 400 and b"has 2 fields" in bad.read()
        connection.request("GET", "/ping")
        assert connection.getresponse().status == 200  # still the same, open connection
    finally:
        connection.close()


# --------------------------------------------------------------------------- bad requests


def test_bad_requests_get_4xx_naming_the_problem_and_the_server_keeps_serving(
    port: int, requests_frame: pd.DataFrame, config: ModelConfig, expected: np.ndarray
) -> None:
    good = csv_body(requests_frame.iloc[:2], config).splitlines()
    record = json_records(requests_frame.iloc[:1], config)[0]
    order = ", ".join(config.model.feature_names)
    cases: list[tuple[str, str, str | None, int, list[str]]] = [
        (good[0] + "\n" + good[1].rsplit(",", 1)[0], "text/csv", None, 400, ["CSV record 2 has 8 fields", order]),
        (good[0] + ",extra", "text/csv", None, 400, ["CSV record 1 has 10 fields", "without a header"]),
        ("amount," + good[0].split(",", 1)[1], "text/csv", None, 400, ["CSV record 1", "'amount'", "not a number"]),
        (",".join(config.model.feature_names), "text/csv", None, 400, ["not a number"]),  # a header line
        ("inf," + good[0].split(",", 1)[1], "text/csv", None, 400, ["'amount'", "not a finite number"]),
        ("", "text/csv", None, 400, ["no records"]),
        ("{not json", "application/json", None, 400, ["not JSON"]),
        (json.dumps({"instances": []}), "application/json", None, 400, ["no records"]),
        (json.dumps({"instances": {"amount": 1}}), "application/json", None, 400, ['"instances" must be a list']),
        (
            json.dumps({k: v for k, v in record.items() if k != "risk_band"}),
            "application/json",
            None,
            400,
            ["JSON record 0 lacks features risk_band", "null"],
        ),
        (
            json.dumps([list(record.values())[:-1]]),
            "application/json",
            None,
            400,
            ["JSON record 0 has 8 values", order],
        ),
        (
            json.dumps(record | {"amount": "lots"}),
            "application/json",
            None,
            400,
            ["'amount'", "'lots' is not a number"],
        ),
        (json.dumps(record | {"card_present": True}), "application/json", None, 400, ["'card_present'", "send 1 or 0"]),
        (json.dumps(record | {"risk_band": ["low"]}), "application/json", None, 400, ["'risk_band'", "single value"]),
        (json.dumps("hello"), "application/json", None, 400, ["expected"]),
        ("[" + "9" * 5000 + ', "x"]', "application/json", None, 400, ["JSON cannot be read", "5000 digits"]),
        (json.dumps(record | {"amount": 10**400}), "application/json", None, 400, ["'amount'", "is not a number"]),
        (json.dumps(record | {"amount": "1_000"}), "application/json", None, 400, ["'1_000' is not a number"]),
        (good[0], "application/x-parquet", None, 415, ["unsupported Content-Type", "text/csv", "application/json"]),
        (good[0], "text/csv", "image/png", 406, ["unsupported Accept"]),
    ]
    for body, content_type, accept, status, words in cases:
        got_status, got_type, text = invoke(port, body, content_type, accept)
        assert got_status == status, (body[:80], text)
        assert got_type.startswith("text/plain")
        for word in words:
            assert word in text, (body[:80], text)
    assert invoke(port, b"\xff\xfe1,2", "text/csv")[0] == 400
    assert request(port, "GET", "/invocations")[0] == 404
    assert request(port, "POST", "/predict", good[0], {"Content-Type": "text/csv"})[0] == 404

    status, _, body = invoke(port, "\n".join(good), "text/csv")
    assert status == 200 and csv_scores(body).tolist() == expected[:2].tolist()


def test_a_chunked_body_is_read_and_an_oversized_one_refused_before_it_is_read(
    port: int, requests_frame: pd.DataFrame, config: ModelConfig, expected: np.ndarray
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        lines = csv_body(requests_frame.iloc[:3], config).encode().splitlines(keepends=True)
        connection.request("POST", "/invocations", iter(lines), {"Content-Type": "text/csv"}, encode_chunked=True)
        answer = connection.getresponse()
        assert answer.status == 200 and csv_scores(answer.read().decode()).tolist() == expected[:3].tolist()
    finally:
        connection.close()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        too_large = app.MAX_BODY_BYTES + 1
        raw.sendall(f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: {too_large}\r\n\r\n".encode())
        answer = http.client.HTTPResponse(raw)
        answer.begin()
        assert answer.status == 413 and f"the body has {too_large} bytes" in answer.read().decode()


def test_slow_clients_and_bad_requests_under_load_do_not_touch_other_requests(
    served: Served, requests_frame: pd.DataFrame, config: ModelConfig, expected: np.ndarray
) -> None:
    port = served.port
    # Three clients that send their headers and part of a body, then stall (each holds a thread
    # of a worker; the other threads and the other worker go on).
    stalled = []
    for _ in range(3):
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        raw.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 500\r\n\r\n1,")
        stalled.append(raw)
    good = csv_body(requests_frame, config).splitlines()
    bad = [
        ("1,2", "text/csv", 400),
        ("{", "application/json", 400),
        (good[0], "image/png", 415),
        ("nan," * 9, "text/csv", 400),
    ]

    def call(i: int) -> tuple[int, int]:
        """Every fourth request is bad: it must get its own 4xx; the others their exact score."""
        if i % 4 == 3:
            body, content_type, want = bad[(i // 4) % len(bad)]
            return i, invoke(port, body, content_type)[0] - want
        status, _, text = invoke(port, good[i % len(good)], "text/csv")
        return i, status - 200 if status != 200 else int(float(text) != expected[i % len(good)])

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            wrong = [i for i, off in pool.map(call, range(160)) if off != 0]
    finally:
        for raw in stalled:
            raw.close()
    assert wrong == []
    assert request(port, "GET", "/ping")[0] == 200
    log = served.log.read_text()
    assert log.count("Booting worker") == 2 and "Worker exiting" not in log, log[-2000:]
    assert "POST /invocations: 400 CSV record 1 has 2 fields" in log  # each failure says why, in the log


class _Failing:
    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        raise RuntimeError("the model broke")


def test_a_model_that_raises_gives_500_and_the_application_keeps_answering(config: ModelConfig) -> None:
    features = tuple(Feature(f.name, f.type.value) for f in config.model.features)
    failing = app.ModelApp(LoadedModel(_Failing(), features, {}))
    row = ",".join(["1"] * len(features)).encode()
    status, content_type, body = call(failing, "POST", "/invocations", row, content_type="text/csv")
    assert (status, content_type) == (500, "text/plain; charset=utf-8")
    assert "scoring failed: RuntimeError: the model broke" in body
    assert call(failing, "GET", "/ping")[0] == 200


def test_a_body_that_stops_arriving_gets_408_and_others_are_served_meanwhile(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app, "BODY_TIMEOUT_SECONDS", 0.2)
    application = app.ModelApp(load(model_dir))
    sent: list[dict[str, Any]] = []

    async def stalled() -> dict[str, Any]:
        await asyncio.sleep(3600)  # the rest of the body never comes
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def both() -> None:
        scope = {"type": "http", "method": "POST", "path": "/invocations", "headers": [(b"content-length", b"100")]}
        slow = asyncio.create_task(application(scope, stalled, send))
        await asyncio.sleep(0.05)
        ping = {"type": "http", "method": "GET", "path": "/ping", "headers": []}
        await application(ping, stalled, send)  # answered while the slow body is awaited
        assert sent[0]["status"] == 200 and not slow.done()
        await slow

    asyncio.run(both())
    assert sent[2]["status"] == 408 and sent[3]["body"] == b"the body stopped arriving for 0.2 s\n"


class _Held:
    """A model whose scoring waits until the test lets it go (and says when it started)."""

    def __init__(self) -> None:
        self.started, self.go = threading.Event(), threading.Event()

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        self.started.set()
        assert self.go.wait(30)
        return np.tile([0.5, 0.5], (len(frame), 1))


def test_a_large_request_is_scored_off_the_loop_which_keeps_answering(
    config: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app, "INLINE_BODY_BYTES", 10)
    held = _Held()
    features = tuple(Feature(f.name, f.type.value) for f in config.model.features)
    application = app.ModelApp(LoadedModel(held, features, {}))
    body = ("\n".join([",".join(["1"] * len(features))] * 3) + "\n").encode()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def both() -> None:
        scope = {"type": "http", "method": "POST", "path": "/invocations", "headers": []}
        scoring = asyncio.create_task(application(scope, receive, send))
        while not held.started.is_set():
            await asyncio.sleep(0.01)
        await application({"type": "http", "method": "GET", "path": "/ping", "headers": []}, receive, send)
        assert sent[0]["status"] == 200 and not scoring.done()  # /ping answered while the model works
        held.go.set()
        await scoring

    asyncio.run(both())
    assert sent[2]["status"] == 200 and sent[3]["body"] == b"0.5\n0.5\n0.5\n"


def test_a_client_that_expects_100_continue_is_told_to_send_its_body(
    port: int, requests_frame: pd.DataFrame, config: ModelConfig, expected: np.ndarray
) -> None:
    body = csv_body(requests_frame.iloc[:2], config).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        head = f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: {len(body)}\r\n"
        raw.sendall((head + "Expect: 100-continue\r\n\r\n").encode())
        assert raw.recv(4096).startswith(b"HTTP/1.1 100 Continue")  # before any body byte was sent
        raw.sendall(body)
        answer = http.client.HTTPResponse(raw)
        answer.begin()
        assert answer.status == 200 and csv_scores(answer.read().decode()).tolist() == expected[:2].tolist()


def test_a_quoted_csv_field_may_hold_a_line_break() -> None:
    features = (Feature("amount", "numeric"), Feature("note", "categorical"))
    records = parse(b'1.5,"two\nlines"\n\n  \n2.5,plain\n', "text/csv", features)
    assert records.count == 2 and records.columns["note"].tolist() == ["two\nlines", "plain"]


def test_csv_missing_values_follow_the_na_strings_capture_reads(
    port: int, model_dir: Path, requests_frame: pd.DataFrame, config: ModelConfig
) -> None:
    # an empty field, `NA` and `null` are missing values in CSV (pandas' defaults, as capture.py
    # reads CSV capture); in JSON only null is
    names = config.model.feature_names
    missing = requests_frame.iloc[[0]].copy()
    missing["device_trust"], missing["risk_band"] = np.nan, np.nan
    model = joblib.load(model_dir / train.MODEL_FILE)
    want = model.predict_proba(features_frame(missing, config))[:, 1][0]
    row = csv_body(requests_frame.iloc[[0]], config).strip().split(",")
    for token in ("", "NA", "null"):
        row[names.index("device_trust")] = row[names.index("risk_band")] = token
        status, _, body = invoke(port, ",".join(row), "text/csv")
        assert status == 200 and float(body) == want, token
    record = json_records(missing, config)[0]
    assert record["device_trust"] is None and record["risk_band"] is None
    status, _, body = invoke(port, json.dumps(record), "application/json")
    assert status == 200 and float(body) == want


# --------------------------------------------------------------------------- capture


def capture_line(request_body: str, request_type: str, response_body: str, response_type: str, event: str) -> str:
    """What an endpoint with DataCaptureConfig writes for one invocation (capture.py's docstring)."""

    def side(mode: str, data: str, content_type: str) -> dict[str, str]:
        if content_type == "application/json":
            return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": "JSON"}
        encoded = base64.b64encode(data.encode()).decode()
        return {"observedContentType": content_type, "mode": mode, "data": encoded, "encoding": "BASE64"}

    return json.dumps(
        {
            "captureData": {
                "endpointInput": side("INPUT", request_body, request_type),
                "endpointOutput": side("OUTPUT", response_body, response_type),
            },
            "eventMetadata": {"eventId": event, "inferenceTime": "2026-03-01T10:00:00Z"},
            "eventVersion": "0",
        }
    )


def test_capture_reads_back_the_requests_and_scores_the_server_exchanged(
    port: int, requests_frame: pd.DataFrame, config: ModelConfig, expected: np.ndarray, tmp_path: Path
) -> None:
    csv_part, json_part = requests_frame.iloc[:100], requests_frame.iloc[100:]
    lines = []
    csv_request = csv_body(csv_part, config)
    status, csv_type, csv_answer = invoke(port, csv_request, "text/csv")
    assert status == 200
    lines.append(capture_line(csv_request, "text/csv", csv_answer, csv_type, "csv-request"))
    json_request = json.dumps({"instances": json_records(json_part, config)})
    status, json_type, json_answer = invoke(port, json_request, "application/json", accept="application/json")
    assert status == 200
    lines.append(capture_line(json_request, "application/json", json_answer, json_type, "json-request"))
    folder = tmp_path / "capture" / "fraud-detector" / "production" / "2026" / "03" / "01" / "10"
    folder.mkdir(parents=True)
    (folder / "capture.jsonl").write_text("\n".join(lines) + "\n")

    captured, stats = read_capture(tmp_path / "capture", config)

    assert stats.skipped == 0, stats.problems
    assert len(captured) == len(requests_frame)
    np.testing.assert_array_equal(captured["prediction"].to_numpy(), expected)
    sent = features_frame(requests_frame, config).reset_index(drop=True)
    for feature in config.model.features:
        if feature.type is FeatureType.numeric:
            np.testing.assert_array_equal(captured[feature.name].to_numpy(float), sent[feature.name].to_numpy(float))
        else:
            assert (
                captured[feature.name].fillna("<missing>").tolist() == sent[feature.name].fillna("<missing>").tolist()
            )
    assert captured["inference_id"].iloc[0] == "csv-request#0"


# --------------------------------------------------------------------------- the model dir alone


def test_train_records_the_input_schema_in_the_model_dir(model_dir: Path, config: ModelConfig) -> None:
    metadata = json.loads((model_dir / train.METADATA_FILE).read_text())
    assert metadata["features"] == config.model.feature_names
    assert metadata["feature_types"] == {f.name: f.type.value for f in config.model.features}
    loaded = load(model_dir)
    assert [(f.name, f.type) for f in loaded.features] == [(f.name, f.type.value) for f in config.model.features]


def test_a_model_without_recorded_types_gets_its_schema_from_the_pipeline(model_dir: Path, tmp_path: Path) -> None:
    recorded = load(model_dir).features
    older = tmp_path / "older"
    shutil.copytree(model_dir, older)
    metadata = json.loads((older / train.METADATA_FILE).read_text())
    del metadata["feature_types"]
    (older / train.METADATA_FILE).write_text(json.dumps(metadata))
    assert load(older).features == recorded
    (older / train.METADATA_FILE).unlink()  # names from the fitted pipeline too
    assert load(older).features == recorded


def test_a_model_dir_without_a_model_or_schema_is_refused(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"no model\.joblib"):
        load(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    joblib.dump({"not": "a model"}, broken / train.MODEL_FILE)
    with pytest.raises(ModelLoadError, match="no predict_proba"):
        load(broken)


# --------------------------------------------------------------------------- the container contract


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_server_reads_the_model_under_opt_ml_root_and_takes_sagemakers_settings(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (server.PORT_ENV, server.WORKERS_ENV, server.TIMEOUT_ENV):
        monkeypatch.delenv(name, raising=False)
    assert server.port() == 8080
    monkeypatch.setenv("OPT_ML_ROOT", str(model_dir.parent))
    assert server.model_dir() == model_dir
    defaults = server.settings(server.port())
    assert (defaults["bind"], defaults["workers"], defaults["timeout"]) == ("0.0.0.0:8080", server.cores(), 60)
    assert defaults["worker_class"] == "asgi"  # one event loop a worker: a slow client holds only its connection
    monkeypatch.setenv(server.PORT_ENV, "9001")
    monkeypatch.setenv(server.WORKERS_ENV, "3")
    monkeypatch.setenv(server.TIMEOUT_ENV, "120")
    chosen = server.settings(server.port())
    assert (chosen["bind"], chosen["workers"], chosen["timeout"]) == ("0.0.0.0:9001", 3, 120)


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_worker_count_that_cannot_work_stops_serve_with_the_setting_named(
    value: str, model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPT_ML_ROOT", str(model_dir.parent))
    monkeypatch.setenv(server.WORKERS_ENV, value)
    assert entrypoint.main(["serve"]) == 1
    assert f"{server.WORKERS_ENV}={value!r}: give a whole number of at least 1" in capsys.readouterr().err


def test_serve_fails_fast_and_says_why_without_a_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPT_ML_ROOT", str(tmp_path))
    monkeypatch.setenv(server.PORT_ENV, str(free_port()))
    assert entrypoint.main(["serve"]) == 1
    assert "cannot serve: ModelLoadError: no model.joblib" in capsys.readouterr().err


def test_the_entrypoint_knows_serve() -> None:
    assert entrypoint.COMMANDS["serve"] is server.main
    assert entrypoint.COMMANDS["train"] is train.main


def test_docker_run_image_serve_works_from_exactly_the_image_files(
    model_dir: Path, tmp_path: Path, requests_frame: pd.DataFrame, config: ModelConfig, expected: np.ndarray
) -> None:
    # The image copies only `job_code_files()` and runs `python3 -m training_containers.entrypoint`:
    # start `serve` from a copy of exactly those files, with SageMaker's /opt/ml layout and port.
    from pipelines.definition.builder import PROJECT_ROOT, job_code_files

    image = tmp_path / "image"
    for path in job_code_files():
        target = image / path.relative_to(PROJECT_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    opt_ml = tmp_path / "opt_ml"
    shutil.copytree(model_dir, opt_ml / "model")
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(image), "OPT_ML_ROOT": str(opt_ml), server.PORT_ENV: str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "training_containers.entrypoint", "serve"],
        cwd=image,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.communicate()[0][-2000:]
            try:
                if request(port, "GET", "/ping")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not answer /ping in 120 s"
            time.sleep(0.2)
        status, _, body = request(
            port, "POST", "/invocations", csv_body(requests_frame.iloc[:10], config), {"Content-Type": "text/csv"}
        )
        assert status == 200
        np.testing.assert_array_equal(csv_scores(body), expected[:10])
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "serving 9 features" in output and "through lean path" in output, output[-2000:]
