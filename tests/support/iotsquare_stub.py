"""A scripted IoTSquare stub for the adapter's tests: a real HTTP server on 127.0.0.1, answers queued per path.

    with IoTSquareStub() as stub:
        stub.on("/openapi/fuota/status", err(1001), ok({"state": "Done"}))   # busy once, then Done (repeated)
        ...
        stub.calls("/openapi/fuota/status")                                  # the requests it received

An answer is an envelope dict, a Reply (HTTP status, raw body, delay, dropped connection) or a function of the
Request returning either; the last answer of a path repeats. `paged(items)` answers list calls as the spec
says: pageNo from 1, pageSize 10 by default, and 0/0 meaning "all" but capped at 200.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["IoTSquareStub", "Reply", "Request", "err", "ok", "paged"]


@dataclass(frozen=True)
class Reply:
    """An answer beyond a plain envelope: `body` a dict (sent as JSON) or bytes (sent as is)."""

    body: dict[str, Any] | bytes = b""
    status: int = 200
    delay: float = 0.0
    drop: bool = False  # close the connection without answering


@dataclass(frozen=True)
class Request:
    """One request the stub received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


Answer = dict[str, Any] | Reply | Callable[[Request], "dict[str, Any] | Reply"]


def ok(data: Any = None, amount: int | None = None) -> dict[str, Any]:
    """A code 0 envelope."""
    envelope: dict[str, Any] = {"code": 0, "msg": "ok"}
    if data is not None:
        envelope["data"] = data
    if amount is not None:
        envelope["amount"] = amount
    return envelope


def err(code: int, msg: str = "refused", data: Any = None) -> dict[str, Any]:
    """An envelope carrying an error code."""
    return {"code": code, "msg": msg} | ({} if data is None else {"data": data})


def paged(items: list[dict[str, Any]]) -> Callable[[Request], dict[str, Any]]:
    """A list endpoint over `items`, paginated as the spec's list calls are."""

    def answer(request: Request) -> dict[str, Any]:
        page_no = int(request.query.get("pageNo", 1))
        page_size = int(request.query.get("pageSize", 10))
        if page_no == 0 and page_size == 0:
            return ok(items[:200], len(items))
        start = (page_no - 1) * page_size
        return ok(items[start : start + page_size], len(items))

    return answer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.stub.handle(self)

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest's output to the test's own


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: IoTSquareStub


class IoTSquareStub:
    """The stub server; a context manager that starts it on `port` (0: any free one) and stops it."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.requests: list[Request] = []
        self._script: dict[str, list[Answer]] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        """The server's origin."""
        return f"http://127.0.0.1:{self.port}"

    def on(self, path: str, *answers: Answer) -> None:
        """Queue answers for `path`; the last one repeats."""
        with self._lock:
            self._script[path] = list(answers)

    def calls(self, path: str) -> list[Request]:
        """The requests received on `path`, in order."""
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def start(self) -> IoTSquareStub:
        """Listen and serve in a thread."""
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.stub = self
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True).start()
        return self

    def __enter__(self) -> IoTSquareStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        """Record the request and send the next scripted answer."""
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        request = Request(
            handler.command,
            url.path,
            dict(parse_qsl(url.query)),
            {key.lower(): value for key, value in handler.headers.items()},
            json.loads(raw) if raw else None,
        )
        with self._lock:
            self.requests.append(request)
            queue = self._script.get(url.path)
            answer: Answer = Reply(err(1007, f"stub: nothing scripted for {url.path}"), status=404)
            if queue:
                answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if callable(answer):
            answer = answer(request)
        reply = answer if isinstance(answer, Reply) else Reply(answer)
        time.sleep(reply.delay)
        if reply.drop:
            handler.close_connection = True
            return
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        handler.send_response(reply.status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
