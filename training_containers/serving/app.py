"""The ASGI application SageMaker talks to (run by gunicorn's asyncio worker:
`training_containers.serving.server`).

    GET  /ping                   200 once the model is loaded, else 503
    GET  /execution-parameters   what batch transform asks for before it sends records
    POST /invocations            the model's predictions (`requests`, `responses`)

Every answer is decided in `respond` and sent with its length; a request the model cannot take
gets a 4xx naming the problem, a model that raises gets 500 with the traceback in the log, and
neither affects other requests; each failed request leaves a line in the log with its reason.
A body is awaited, never blocked on: a client that sends it slowly holds nothing but its own
connection, and one that stops for BODY_TIMEOUT_SECONDS gets 408 (a client that asks with
`Expect: 100-continue` is told to send it). A small request is scored on the event loop itself
(a worker computes one answer at a time, which is all its core can do anyway); a large one on
the worker's scoring thread, so the loop keeps answering /ping and the worker keeps telling
gunicorn it is alive (gunicorn stops a worker silent for SAGEMAKER_MODEL_SERVER_TIMEOUT).
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any

from threadpoolctl import threadpool_limits

from training_containers.serving.model import LoadedModel
from training_containers.serving.requests import CSV, JSON, BadRequest, parse
from training_containers.serving.responses import accepted, render

MAX_BODY_BYTES = 100 * 1024 * 1024  # batch transform's largest payload; real-time stops at 6 MB
BODY_TIMEOUT_SECONDS = 30.0  # a body that stops arriving for this long is answered with 408
INLINE_BODY_BYTES = 64 * 1024  # larger bodies (some 600 records and up) are scored off the loop
TEXT = "text/plain; charset=utf-8"
log = logging.getLogger("gunicorn.error")

Answer = tuple[HTTPStatus, bytes, str]  # status, body, content type
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ModelApp:
    def __init__(self, model: LoadedModel | None, workers: int = 1) -> None:
        self.model = model
        # Batch transform reads these before it sends records: as many requests at a time as
        # there are workers, each at most MaxPayloadInMB (SageMaker API reference: CreateTransformJob).
        self.execution_parameters = {
            "MaxConcurrentTransforms": workers,
            "BatchStrategy": "MULTI_RECORD",
            "MaxPayloadInMB": 6,
        }
        self._scorer: ThreadPoolExecutor | None = None  # made in the worker, after the fork

    async def __call__(self, scope: Mapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no lifespan or websocket protocol: the model is loaded before the workers start
        status, body, content_type = await self.respond(scope, receive, send)
        if status >= HTTPStatus.BAD_REQUEST:
            log.warning("%s %s: %d %s", scope["method"], scope["path"], status.value, body.decode().strip()[:500])
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status.value, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def respond(self, scope: Mapping[str, Any], receive: Receive, send: Send) -> Answer:
        method, path = scope["method"], scope["path"]
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        try:
            if method == "GET" and path == "/ping":
                return (HTTPStatus.OK if self.model is not None else HTTPStatus.SERVICE_UNAVAILABLE), b"", CSV
            if method == "GET" and path == "/execution-parameters":
                return HTTPStatus.OK, json.dumps(self.execution_parameters).encode(), JSON
            if method == "POST" and path == "/invocations":
                body = await read_body(headers, receive, send)
                if len(body) <= INLINE_BODY_BYTES:
                    return self.invocations(body, headers)
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self.scorer(), self.invocations, body, headers)
            unknown = f"no {method} {path}; the server answers GET /ping and POST /invocations"
            raise BadRequest(unknown, HTTPStatus.NOT_FOUND)
        except BadRequest as exc:
            return exc.status, f"{exc}\n".encode(), TEXT
        except Exception as exc:  # never take the worker down; the traceback goes to the log
            traceback.print_exc()
            return HTTPStatus.INTERNAL_SERVER_ERROR, f"scoring failed: {type(exc).__name__}: {exc}\n".encode(), TEXT

    def invocations(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        if self.model is None:
            raise BadRequest("the model is not loaded", HTTPStatus.SERVICE_UNAVAILABLE)
        kind = accepted(headers.get("accept"))
        records = parse(body, headers.get("content-type") or CSV, self.model.features)
        return HTTPStatus.OK, render(self.model.score(records), kind), kind

    def scorer(self) -> ThreadPoolExecutor:
        """The worker's one scoring thread, its native code on one thread like the loop's."""
        if self._scorer is None:
            self._scorer = ThreadPoolExecutor(1, "scorer", initializer=threadpool_limits, initargs=(1,))
        return self._scorer


async def read_body(headers: Mapping[str, str], receive: Receive, send: Send) -> bytes:
    """The request body, at most MAX_BODY_BYTES (refused by its Content-Length before it is read,
    or as soon as a chunked one passes the limit); 408 when it stops arriving."""
    length_header = headers.get("content-length")
    try:
        length = int(length_header) if length_header else None
    except ValueError:
        raise BadRequest(f"Content-Length {length_header!r} is not a number") from None
    if length is not None and length < 0:
        raise BadRequest(f"Content-Length {length} is negative")
    if length is not None and length > MAX_BODY_BYTES:
        too_large = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        raise BadRequest(f"the body has {length} bytes; at most {MAX_BODY_BYTES} are accepted", too_large)
    if headers.get("expect", "").lower() == "100-continue":  # curl asks so for bodies over 1 MB
        await send({"type": "http.response.informational", "status": 100, "headers": []})
    chunks, size = [], 0
    while True:
        try:
            async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
                message = await receive()
        except TimeoutError:
            stopped = f"the body stopped arriving for {BODY_TIMEOUT_SECONDS:g} s"
            raise BadRequest(stopped, HTTPStatus.REQUEST_TIMEOUT) from None
        if message["type"] == "http.disconnect":
            raise BadRequest("the client closed the connection before its body arrived")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BadRequest(f"the body exceeds {MAX_BODY_BYTES} bytes", HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
