"""httpx's network layer held to the call's deadline (fuota.backends.deadline), for the IoTSquare client.

httpx's `timeout` bounds each socket wait, not a request: a server that sends a header line every 1.5 s under a
2 s timeout is never timed out. Here every wait of httpcore's network backend — connect, TLS handshake, each
read, each send — gets min(its own timeout, the time left before the deadline) and fails with httpcore's own
timeout error once the deadline has passed, which httpx turns into httpx.TimeoutException as for any timeout.
Writes are sent piece by piece so that a peer reading a byte now and then cannot stretch one either. Name
resolution (getaddrinfo) cannot be interrupted: a base_url naming an IP address or a host in /etc/hosts avoids it.
"""

from __future__ import annotations

import math
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from fuota.backends.deadline import Expired, left

__all__ = ["deadline_transport"]

_Option = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


def _wait(timeout: float | None, error: type[Exception]) -> float:
    """The seconds this wait may take; httpcore's `error` once the call's deadline has passed."""
    try:
        return left(math.inf if timeout is None else timeout)
    except Expired as exc:
        raise error(str(exc)) from exc


class _Stream(httpcore.NetworkStream):
    """A connection whose every wait ends by the deadline of the call that uses it."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _wait(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        sock = self._inner.get_extra_info("socket")
        if not isinstance(sock, socket.socket):
            self._inner.write(buffer, _wait(timeout, httpcore.WriteTimeout))
            return
        view = memoryview(buffer)
        while view:  # one send per wait, each given the time left (httpcore's loop gives each the whole timeout)
            try:
                sock.settimeout(_wait(timeout, httpcore.WriteTimeout))
                view = view[sock.send(view) :]
            except TimeoutError as exc:
                raise httpcore.WriteTimeout(str(exc) or "write timed out") from exc
            except OSError as exc:
                raise httpcore.WriteError(str(exc)) from exc

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        wait = _wait(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, wait))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """httpcore's synchronous backend, its connections held to the deadline."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[_Option] | None = None,
    ) -> httpcore.NetworkStream:
        wait = _wait(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, wait, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[_Option] | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, _wait(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _Transport(httpx.HTTPTransport):
    """httpx's transport (its request conversion and exception mapping) over a pool of deadline-held streams."""

    def __init__(self, verify: ssl.SSLContext | bool) -> None:
        super().__init__(verify=verify)
        # httpx builds its pool without a way to name the network backend: build the same pool with ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=100,  # httpx's own defaults (httpx.DEFAULT_LIMITS)
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_Backend(),
        )


def deadline_transport(verify: ssl.SSLContext | bool) -> httpx.BaseTransport:
    """An httpx transport whose every socket wait ends by the deadline of the call in progress."""
    return _Transport(verify)
