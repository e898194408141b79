"""The MQTT edge of the Milesight adapter: ns-api requests out on one topic, answers matched by id on another.

One broker connection serves every gateway (spec section 1): a request names its gateway in `gatewayEUI`, every
gateway on the request topic sees it, and answers are matched by `id` first. The spec is loose about the envelope,
so the reading is tolerant where it may be and strict where it must be:

    id           sent as a decimal digit string ("Random value"; every sample is digits), unique in this process and
                 drawn from a random start so that two processes on one broker do not collide; the echo is taken
                 as a string or a JSON number (one sample echoes `"id": 1`)
    gatewayEUI   the answer's may be absent or "" (the response sample carries it twice, once empty) and is then
                 taken as the gateway asked, the id being ours; one that names another gateway is refused (that
                 gateway answered 25 "Gateway EUI not matched", or it is another client's request)
    other keys   unknown fields (`type`, say) are ignored; only our own request, seen again when both topics are one,
                 is told apart, by its exact bytes
    client id    the MQTT client id is `client_id` (a prefix) + host + pid + a random suffix: a broker disconnects
                 the older of two connections with one id, so every process needs its own

Requests from many threads may be in flight at once: each waits on its own queue, filled from paho's network thread.
Failures become fuota.backends.errors here and nowhere else:

    no answer within `timeout`; broker unreachable       → TransientError naming the gateway and the url
    connection lost under a non-idempotent request       → TransientError at once: look it up before re-sending
    the broker refused the credentials                   → AuthError
    a body code other than 200 (appendix, 6.11)          → milesight_codes.answer_error()
    a body of an unexpected shape                        → MalformedAnswer (a TransientError)

Idempotent requests in flight when the connection dropped are published again once paho has reconnected and the
response topic is subscribed again. Non-idempotent ones (a create) go out at QoS 0: paho replays unacknowledged QoS 1
messages after a reconnect, but a create must reach the gateway at most once. The password and the user name appear
in no repr, log line or message.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import queue
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import paho.mqtt.client as mqtt
import stamina

from fuota.backends import answers
from fuota.backends import deadline as calls
from fuota.backends.errors import AuthError, BackendError, MalformedAnswer, TransientError
from fuota.backends.milesight.codes import SUCCESS, answer_error
from fuota.backends.paging import Page, collect
from fuota.backends.retry import RetryPolicy
from fuota.core.model import EUI_PATTERN, normalize_eui

__all__ = ["PAGE_SIZE", "NsApiClient", "mqtt_client_id"]

PAGE_SIZE = 100

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
_CREDENTIALS_REFUSED = ("Bad user name or password", "Not authorized")  # paho's names of CONNACK 4 and 5
_KEEPALIVE = 30  # seconds: a silently dead connection is noticed within 1.5 × this
# Request ids stay below 2**53 so that a gateway that echoes them as JSON numbers (a double in many parsers) keeps
# every digit; each process starts at a random point of that range and counts up.
_MAX_ID = 2**53
_ID_SPAN = 10**9  # room above the random start for the ids one process sends


def mqtt_client_id(prefix: str) -> str:
    """A client id no other process shares: `prefix`, this host, this process id and a random suffix."""
    host = socket.gethostname().split(".")[0] or "host"
    return f"{prefix}-{host}-{os.getpid()}-{secrets.token_hex(3)}"


def _answer_id(value: object) -> str | None:
    """The id an answer echoes, as the digit string we sent: a string as is, an integral number as its digits."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


@dataclass(frozen=True, slots=True)
class _Lost:
    """Put in every waiting request's queue when the connection of `generation` dropped."""

    generation: int


@dataclass(slots=True)
class _Pending:
    gateway: str
    sent: bytes  # the request as published: seen again on a shared topic, it is not an answer
    answers: queue.Queue[dict[str, Any] | _Lost] = field(default_factory=queue.Queue)


class NsApiClient:
    """A thread-safe ns-api client over one MQTT broker connection (paho-mqtt 2.x, its own network thread).

    `broker_url` is mqtt://host:port or mqtts://host:port (TLS: `ca_file` to verify the broker, else the system's
    CAs; `cert_file`/`key_file` for a client certificate). Every request waits at most `timeout` seconds for its
    answer, the wait for a (re)connection included. `qos` is that of the subscription and of idempotent requests:
    the spec lists QoS 0 for its topics; 1 (the default) lets a request survive a short hiccup of the link without
    waiting for the timeout. `call` retries up to `retry_attempts` times within `retry_timeout` seconds, waiting
    from `retry_wait_initial` up to `retry_wait_max` seconds; paho's reconnection back-off has the same cap.
    """

    def __init__(
        self,
        broker_url: str,
        request_topic: str,
        response_topic: str,
        *,
        name: str = "milesight",
        client_id: str = "fuota",
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        insecure: bool = False,
        timeout: float = 10.0,
        qos: int = 1,
        retry_attempts: int = 5,
        retry_timeout: float = 60.0,
        retry_wait_initial: float = 0.5,
        retry_wait_max: float = 10.0,
    ) -> None:
        parts = urlsplit(broker_url)
        if "@" in parts.netloc:  # checked first: the other messages quote the URL
            raise ValueError("broker_url must not hold credentials: give username and password instead")
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(f"broker_url must be mqtt://host:port or mqtts://host:port, got {broker_url!r}")
        if parts.scheme == "mqtt" and (ca_file or cert_file or key_file or insecure):
            raise ValueError("TLS settings given but broker_url starts with mqtt://: use mqtts:// for TLS")
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, got {qos!r}")
        self.name = name
        self.url = f"{parts.scheme}://{parts.hostname}:{parts.port or _DEFAULT_PORTS[parts.scheme]}"
        self.request_topic = request_topic
        self.response_topic = response_topic
        self.timeout = timeout
        self._qos = qos
        self._retry = RetryPolicy(retry_attempts, retry_timeout, retry_wait_initial, retry_wait_max)
        self._cond = threading.Condition()
        self._pending: dict[str, _Pending] = {}
        self._generation = 0  # counts confirmed subscriptions: one per (re)connection
        self._online = False
        self._closed = False
        self._subscribe_mid: int | None = None
        self._refused: str | None = None  # why the broker last refused us, until it accepts us again
        self._ids = itertools.count(secrets.randbelow(_MAX_ID - _ID_SPAN))
        self.client_id = mqtt_client_id(client_id)

        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=True)
        if parts.scheme == "mqtts":
            try:
                self._client.tls_set(
                    ca_certs=ca_file,
                    certfile=cert_file,
                    keyfile=key_file,
                    cert_reqs=ssl.CERT_NONE if insecure else ssl.CERT_REQUIRED,
                )
                self._client.tls_insecure_set(insecure)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"cannot load the TLS files for {self.url}: {type(exc).__name__}: {exc}") from exc
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(min_delay=min(0.5, retry_wait_max), max_delay=retry_wait_max)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.connect_async(parts.hostname, parts.port or _DEFAULT_PORTS[parts.scheme], keepalive=_KEEPALIVE)
        self._client.loop_start()

    def __repr__(self) -> str:
        topics = f"request_topic={self.request_topic!r}, response_topic={self.response_topic!r}"
        return f"NsApiClient(name={self.name!r}, url={self.url!r}, {topics})"

    # --- the caller's side ------------------------------------------------------------------------------------

    def retrying(self) -> Iterable[stamina.Attempt]:
        """Attempts for a block that may raise TransientError, spaced by this client's back-off."""
        return self._retry.tries()

    def call(
        self, method: str, url: str, gateway: str, body: object = None, *, accept: frozenset[int] = frozenset()
    ) -> dict[str, Any]:
        """`once`, retried while it raises TransientError. Only for requests that are safe to repeat."""
        for attempt in self.retrying():
            with attempt:
                answer = self.once(method, url, gateway, body, accept=accept)
        return answer

    def once(
        self,
        method: str,
        url: str,
        gateway: str,
        body: object = None,
        *,
        idempotent: bool = True,
        accept: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        """One request: the answer's body when its code is absent, 200 or in `accept`, else the typed error."""
        answer = self.request(method, url, gateway, body, idempotent=idempotent)
        where = f"back end {self.name!r}, gateway {gateway.upper()}, {method} {url}"
        payload = answer.get("body")
        if payload is None:
            return {}  # "Body is blank if success"
        if not isinstance(payload, dict):
            raise MalformedAnswer(f"{where}: the answer's body is not a JSON object")
        if payload.get("code") in (None, ""):
            return payload
        try:
            code = int(str(payload["code"]))
        except ValueError:
            raise MalformedAnswer(f"{where}: the answer's code {payload['code']!r} is not a number") from None
        if code == SUCCESS or code in accept:
            return payload
        raise answer_error(code, str(payload.get("error") or ""), where)

    def pages(
        self, gateway: str, path: str, params: dict[str, object], items_key: str, total_key: str
    ) -> list[dict[str, Any]]:
        """Every item of a list call, page by page (limit/offset), until the `total_key` count the gateway announces
        (fuota.backends.paging)."""

        def fetch(start: int, size: int) -> Page:
            body = self.call("GET", f"{path}?{urlencode({**params, 'limit': size, 'offset': start})}", gateway)
            with self.answer_shape(gateway, path):
                page = body.get(items_key) or []
                if not isinstance(page, list):
                    raise TypeError(f"{items_key} is not a list")
                total = body.get(total_key)
                return Page(page, None if total in (None, "") else int(str(total)))

        return collect(
            fetch, PAGE_SIZE, f"back end {self.name!r}, gateway {gateway.upper()}, GET {path}", numbered=False
        )

    def answer_shape(self, gateway: str, path: str) -> AbstractContextManager[None]:
        """Turn what breaks the spec, met while reading an answer of `gateway` to `path`, into MalformedAnswer."""
        return answers.shaped(f"back end {self.name!r}, gateway {gateway.upper()}, {path}")

    def request(
        self, method: str, url: str, gateway_eui: str, body: object = None, *, idempotent: bool = True
    ) -> dict[str, Any]:
        """Send one ns-api request to `gateway_eui` and return its whole answer (id, gatewayEUI, url, body, …).

        A request that is not `idempotent` is never published twice: if the connection drops before its answer
        came, TransientError is raised at once, and the caller must find out whether it was carried out.
        """
        gateway = normalize_eui(gateway_eui)
        if not EUI_PATTERN.match(gateway):
            raise ValueError(f"gateway EUI must be 16 hexadecimal digits, got {gateway_eui!r}")
        with self._cond:
            request_id = str(next(self._ids))
        # The spec's samples write gateway EUIs in upper case; answers are compared without regard to case.
        message = {"type": "ns-api", "id": request_id, "method": method, "url": url, "gatewayEUI": gateway.upper()}
        payload = json.dumps(message | {"body": {} if body is None else body}).encode()
        where = f"back end {self.name!r}, gateway {gateway.upper()}, {method} {url}"
        if calls.stopping():
            # As an HTTP call would (fuota.backends.deadline): once fuota stops, nothing new is sent.
            raise TransientError(f"{where}: not sent: fuota is stopping")
        deadline = time.monotonic() + self.timeout
        pending = _Pending(gateway, payload)
        with self._cond:
            self._pending[request_id] = pending
        try:
            while True:
                generation = self._publish(payload, idempotent, deadline, where)
                answer = self._await_answer(pending, generation, deadline, where, idempotent)
                if answer is not None:
                    return answer
                log.info("%s: connection lost before the answer came: sending it again after reconnecting", where)
        finally:
            with self._cond:
                self._pending.pop(request_id, None)

    def close(self) -> None:
        """Disconnect and stop the network thread; requests still waiting fail with TransientError."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._client.disconnect()
        self._client.loop_stop()
        self._lost()

    def _publish(self, payload: bytes, idempotent: bool, deadline: float, where: str) -> int:
        """Publish once the response subscription is live; the connection's generation it went out on."""
        with self._cond:
            while not (self._online or self._closed or self._refused in _CREDENTIALS_REFUSED):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    refused = f" (refused: {self._refused})" if self._refused else ""
                    raise TransientError(
                        f"{where}: broker {self.url} not reachable within {self.timeout} s{refused}: check "
                        "broker_url, the TLS files and that the broker is running"
                    )
                self._cond.wait(remaining)
            if self._closed:
                raise BackendError(f"{where}: the client of broker {self.url} is closed")
            if not self._online:
                raise AuthError(
                    f"{where}: broker {self.url} refused the connection ({self._refused}): check the username "
                    "and password of this back end"
                )
            generation = self._generation
        info = self._client.publish(self.request_topic, payload, qos=self._qos if idempotent else 0)
        if info.rc != mqtt.MQTT_ERR_SUCCESS and not idempotent:
            raise TransientError(f"{where}: not sent, the broker connection dropped ({mqtt.error_string(info.rc)})")
        return generation  # an idempotent one that did not go out is sent again when the drop is noticed

    def _await_answer(
        self, pending: _Pending, generation: int, deadline: float, where: str, idempotent: bool
    ) -> dict[str, Any] | None:
        """The answer; None when the connection it went out on dropped and it must be sent again."""
        while True:
            try:
                item = pending.answers.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TransientError(
                    f"{where}: no answer within {self.timeout} s: check that the gateway is online and that its "
                    f"MQTT integration takes requests on {self.request_topic!r} and answers on "
                    f"{self.response_topic!r}"
                ) from None
            if not isinstance(item, _Lost):
                return item
            if self._closed:
                raise TransientError(f"{where}: the client of broker {self.url} was closed before the answer came")
            if item.generation != generation:
                continue  # a drop noticed before this request went out
            if not idempotent:
                raise TransientError(
                    f"{where}: the broker connection dropped before the answer came; the gateway may have carried "
                    "the request out: look it up before sending it again"
                )
            return None

    # --- paho's network thread ----------------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: object, _flags: object, reason: Any, _props: object) -> None:
        if reason.is_failure:
            log.warning("broker %s refused the connection: %s", self.url, reason)
            with self._cond:
                self._refused = str(reason)
                self._cond.notify_all()
            return
        # The session is clean: the subscription has to be made again on every connection.
        _, mid = client.subscribe(self.response_topic, qos=self._qos)
        with self._cond:
            self._subscribe_mid = mid

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: object, mid: int, reasons: list[Any], _props: object
    ) -> None:
        with self._cond:
            if mid != self._subscribe_mid:
                return
            if any(reason.is_failure for reason in reasons):
                self._refused = f"subscription to {self.response_topic!r} refused: {reasons[0]}"
                log.warning("broker %s: %s", self.url, self._refused)
                return
            self._refused = None
            self._generation += 1
            self._online = True
            self._cond.notify_all()
        log.info("connected to broker %s, answers on %r", self.url, self.response_topic)

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: object, _flags: object, reason: object, _props: object
    ) -> None:
        log.info("disconnected from broker %s: %s", self.url, reason)
        self._lost()

    def _lost(self) -> None:
        with self._cond:
            self._online = False
            lost = _Lost(self._generation)
            for pending in self._pending.values():
                pending.answers.put(lost)

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            answer = json.loads(message.payload)
        except ValueError:
            log.debug("ignored a message on %s that is not JSON", message.topic)
            return
        if not isinstance(answer, dict) or (request_id := _answer_id(answer.get("id"))) is None:
            return
        with self._cond:
            pending = self._pending.get(request_id)
        if pending is None or message.payload == pending.sent:
            return  # another client's, a duplicate after a re-send, or our own request on a shared topic
        named = answer.get("gatewayEUI")
        if named not in (None, "") and normalize_eui(str(named)) != pending.gateway:
            log.debug("ignored an answer to %s from gateway %s", request_id, named)
            return
        pending.answers.put(answer)
