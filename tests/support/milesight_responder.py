"""A scripted Milesight gateway for tests: a paho client on a real broker that answers ns-api requests.

It takes the requests addressed to its gateway EUI from the request topic, records them, and answers each from a
worker thread (so that a slow handler delays only its own answer) with what the handler for (method, path) returns:
the answer's body, or None for no answer at all. `answer_all` makes it answer every request, as a real gateway that
shares the request topic answers the others' with 25 "Gateway EUI not matched".
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import paho.mqtt.client as mqtt

from tests.support.broker import Broker

__all__ = ["Handler", "Request", "Responder", "code", "paged"]

REQUEST_TOPIC = "milesight/ns-api/request"
RESPONSE_TOPIC = "milesight/ns-api/response"


@dataclass(frozen=True)
class Request:
    """One ns-api request as the gateway received it."""

    id: str
    method: str
    url: str
    gateway: str
    body: Any

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query))


Handler = Callable[[Request], dict[str, Any] | None]


def code(value: int, error: str = "") -> Handler:
    """A handler answering {"code": value, "error": error}."""
    return lambda _request: {"code": value, "error": error}


def paged(items: list[dict[str, Any]], items_key: str, total_key: str = "total") -> Handler:
    """A handler serving `items` by the request's limit/offset, with the total count."""

    def handle(request: Request) -> dict[str, Any]:
        offset, limit = int(request.query.get("offset", 0)), int(request.query.get("limit", 9999))
        return {total_key: len(items), items_key: items[offset : offset + limit]}

    return handle


class Responder:
    """A gateway with EUI `gateway` on `broker`; `on(method, path, handler)` scripts its answers."""

    def __init__(self, broker: Broker, gateway: str, *, answer_all: bool = False, persistent: bool = False) -> None:
        """`persistent`: a session the broker keeps (on a persistent Broker, across its restarts)."""
        self.gateway = gateway.upper()
        self.answer_all = answer_all
        self.handlers: dict[tuple[str, str], Handler] = {}
        self.requests: list[Request] = []
        self.subscribed = threading.Event()
        self.subscriptions = 0  # how often it subscribed: a test waits for the one after a broker restart
        self._lock = threading.Lock()
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"gateway-{self.gateway}", clean_session=not persistent
        )
        if broker.tls is not None:
            self._client.tls_set(ca_certs=str(broker.tls.ca))
        self._client.reconnect_delay_set(min_delay=0.05, max_delay=0.2)
        self._client.on_connect = lambda client, *_: client.subscribe(REQUEST_TOPIC, qos=1)
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = lambda *_: self.subscribed.clear()
        self._client.on_message = self._on_message
        self._client.connect_async("127.0.0.1", broker.port)

    def _on_subscribe(self, *_args: object) -> None:
        self.subscriptions += 1
        self.subscribed.set()

    def __enter__(self) -> Responder:
        self._client.loop_start()
        if not self.subscribed.wait(10):
            raise RuntimeError(f"responder {self.gateway} did not subscribe within 10 s")
        return self

    def __exit__(self, *_exc: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def on(self, method: str, path: str, handler: Handler) -> Responder:
        """Answer `method path` with `handler`."""
        self.handlers[(method, path)] = handler
        return self

    def calls(self, method: str | None = None, path: str | None = None) -> list[Request]:
        """The requests received for this gateway, optionally only those of `method` and `path`."""
        with self._lock:
            return [r for r in self.requests if method in (None, r.method) and path in (None, r.path)]

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        doc = json.loads(message.payload)
        request = Request(str(doc["id"]), doc["method"], doc["url"], str(doc.get("gatewayEUI", "")), doc.get("body"))
        if request.gateway.upper() != self.gateway:
            if self.answer_all:
                threading.Thread(target=self._answer, args=(request, {"code": 25, "error": ""})).start()
            return
        with self._lock:
            self.requests.append(request)
        handler = self.handlers.get((request.method, request.path))
        if handler is not None:
            threading.Thread(target=lambda: self._answer(request, handler(request)), daemon=True).start()

    def _answer(self, request: Request, body: dict[str, Any] | None) -> None:
        if body is None:
            return
        answer = {"id": request.id, "gatewayEUI": self.gateway, "method": request.method, "url": request.url}
        self._client.publish(RESPONSE_TOPIC, json.dumps(answer | {"body": body}), qos=1)
