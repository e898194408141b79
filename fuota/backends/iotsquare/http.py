"""The HTTP edge of the IoTSquare adapter: one request in, IoTSquare's envelope out, or a typed error.

Foreign exceptions are translated here and nowhere else (`raise … from exc`), into fuota.backends.errors:

    httpx.TimeoutException, httpx.TransportError       → TransientError  (refused, dropped, no whole answer in time)
    HTTP 5xx, HTTP 429                                  → TransientError
    code 1001 System Busy, 1009 Network Busy            → TransientError
    code 1003, 1004; HTTP 401/403 without an envelope   → AuthError
    codes.NOT_FOUND_CODES (14001, 4001, …)              → NotFoundError
    any other code; a body that is not the envelope     → RejectedError (MalformedAnswer under HTTP 2xx)
    a data field of an unexpected shape                 → MalformedAnswer (answer_shape; a TransientError)

Each request has one deadline for the whole exchange — connect, send, headers, body —, `timeout` seconds after it
starts (fuota.backends.deadline, held at every socket wait by fuota.backends.iotsquare.network), so a server that
trickles its answer cannot stretch a call. TransientError is retried with capped, jittered exponential back-off
(fuota.backends.retry) and re-raised once the attempts or the time budget from the first failure are spent.
The token travels only in its header, built for each request from the token source
(fuota.backends.iotsquare.credentials: a file or a variable read again at every call, so that a rotated token is
used at once): no message, repr or log line made here holds it.
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, NoReturn

import httpx
import stamina

from fuota.backends import answers, deadline
from fuota.backends.answers import whole
from fuota.backends.errors import (
    AuthError,
    MalformedAnswer,
    NotFoundError,
    RejectedError,
    TransientError,
)
from fuota.backends.iotsquare.codes import AUTH_CODES, NOT_FOUND_CODES, TRANSIENT_CODES, advice
from fuota.backends.iotsquare.credentials import TokenSource
from fuota.backends.iotsquare.network import deadline_transport
from fuota.backends.paging import Page, collect
from fuota.backends.retry import RetryPolicy

__all__ = ["PAGE_SIZE", "Envelope", "IoTSquareHTTP"]

PAGE_SIZE = 100  # pageNo/pageSize 0/0 means "all" but is capped at 200 by the server: always page explicitly

_HEADER_VALUE = re.compile(r"[\x21-\x7e][\x20-\x7e]*")  # printable ASCII: what a header carries unescaped


@dataclass(frozen=True, slots=True)
class Envelope:
    """IoTSquare's answer (section 1): `code` 0 is ok; `amount` is the total of a list call, when it has one."""

    code: int
    msg: str
    data: Any
    amount: int | None


def _envelope(response: httpx.Response) -> Envelope:
    """The body as an Envelope; ValueError or TypeError when it is not one."""
    try:
        doc = response.json()
    except RecursionError:
        raise ValueError("JSON nested too deeply to be read") from None
    if not isinstance(doc, dict) or "code" not in doc:
        raise ValueError("no code/msg/data envelope")
    amount = doc.get("amount")
    return Envelope(
        whole(doc["code"], "code"),
        str(doc.get("msg", "")),
        doc.get("data"),
        None if amount is None else whole(amount, "amount"),
    )


class IoTSquareHTTP:
    """A sync httpx client of one IoTSquare server: envelopes, typed errors, retries and pagination."""

    def __init__(
        self,
        name: str,
        base_url: str,
        token: str | Callable[[], str],
        *,
        token_header: str = "Authorization",
        timeout: float = 10.0,
        retry_attempts: int = 5,
        retry_timeout: float = 60.0,
        retry_wait_initial: float = 0.5,
        retry_wait_max: float = 10.0,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        # Checked here because httpx and h11 would quote the offending value, token included, in their errors; a
        # token source checks each value it reads the same way.
        if isinstance(token, str) and not _HEADER_VALUE.fullmatch(token):
            raise ValueError(f"the token of back end {name!r} is empty or holds characters an HTTP header cannot carry")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url of back end {name!r} must start with http:// or https://, got {base_url!r}")
        self.name = name
        self._timeout = timeout
        self._token = TokenSource.literal(token) if isinstance(token, str) else token
        self._token_header = token_header
        self._client = httpx.Client(base_url=base_url, timeout=timeout, transport=deadline_transport(verify))
        self._retry = RetryPolicy(retry_attempts, retry_timeout, retry_wait_initial, retry_wait_max)

    def __repr__(self) -> str:
        return f"IoTSquareHTTP(name={self.name!r}, base_url={str(self._client.base_url)!r})"

    def retrying(self) -> Iterable[stamina.Attempt]:
        """Attempts for a block that may raise TransientError, spaced by this back end's back-off."""
        return self._retry.tries()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        body: object = None,
        accept: frozenset[int] = frozenset(),
    ) -> Envelope:
        """`once`, retried while it raises TransientError. Only for requests that are safe to repeat."""
        for attempt in self.retrying():
            with attempt:
                envelope = self.once(method, path, params=params, body=body, accept=accept)
        return envelope

    def once(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        body: object = None,
        accept: frozenset[int] = frozenset(),
    ) -> Envelope:
        """One request: the envelope when its code is 0 or in `accept`, else the typed error its code implies."""
        where = f"IoTSquare back end {self.name!r}, {method} {path}"
        try:
            token = self._token()
        except AuthError as exc:
            raise AuthError(f"{where}: {exc}") from None
        started = time.monotonic()
        with deadline.window(self._timeout) as until:
            # The whole call's time: its timeout, or less when the give-up instant or an outer deadline is nearer.
            budget = max(0.0, min(self._timeout, until - started))
            try:
                response = self._client.request(
                    method, path, params=params, json=body, headers={self._token_header: token}, timeout=budget
                )
            except httpx.TimeoutException as exc:
                raise TransientError(f"{where}: no answer within {budget:.3g} s (whole exchange)") from exc
            except httpx.TransportError as exc:
                self._transport_error(where, exc)
        status = response.status_code
        if status >= 500 or status == 429:
            raise TransientError(f"{where}: HTTP {status}")
        try:
            envelope = _envelope(response)
        except (ValueError, TypeError) as exc:
            if status in (401, 403):
                raise AuthError(
                    f"{where}: HTTP {status}: check token / token_env / token_file of backend {self.name}"
                ) from exc
            if 200 <= status < 300:
                raise MalformedAnswer(f"{where}: HTTP {status} without IoTSquare's JSON envelope ({exc})") from exc
            raise RejectedError(f"{where}: HTTP {status} without IoTSquare's JSON envelope: check base_url") from exc
        code, msg = envelope.code, envelope.msg
        if code == 0 or code in accept:
            return envelope
        text = f"{where}: {code} {msg}"
        if code in TRANSIENT_CODES:
            raise TransientError(f"{text}: the server is busy", code=code, msg=msg)
        if code in AUTH_CODES:
            raise AuthError(f"{text}: check token / token_env / token_file of backend {self.name}", code=code, msg=msg)
        kind = NotFoundError if code in NOT_FOUND_CODES else RejectedError
        raise kind(f"{text}: {advice(code)}", code=code, msg=msg)

    def _transport_error(self, where: str, exc: httpx.TransportError) -> NoReturn:
        """The typed error for a request that got no answer: AuthError for an untrusted certificate."""
        if _untrusted(exc):
            raise AuthError(
                f"{where}: the server's certificate is not trusted ({exc}): give the CA that signed it as ca_file "
                f"of backend {self.name}, or check that base_url names the right server"
            ) from exc
        raise TransientError(f"{where}: {type(exc).__name__}: {exc}") from exc

    def pages(self, path: str, params: Mapping[str, object]) -> list[dict[str, Any]]:
        """Every item of a list call, page by page, until the `amount` announced (fuota.backends.paging)."""

        def fetch(start: int, size: int) -> Page:
            query = {**params, "pageNo": start // size + 1, "pageSize": size}
            envelope = self.call("GET", path, params=query)
            page = envelope.data or []
            if not isinstance(page, list):
                raise MalformedAnswer(f"IoTSquare back end {self.name!r}, GET {path}: data is not a list")
            return Page(page, envelope.amount)

        return collect(fetch, PAGE_SIZE, f"IoTSquare back end {self.name!r}, GET {path}", numbered=True)

    def answer_shape(self, path: str) -> AbstractContextManager[None]:
        """Turn what breaks the spec, met while reading an answer of `path`, into MalformedAnswer."""
        return answers.shaped(f"IoTSquare back end {self.name!r}, {path}")

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def _untrusted(exc: BaseException) -> bool:
    """Whether a transport error comes from a certificate that failed verification: retrying cannot help."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)
