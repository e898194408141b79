"""Who may read the dashboard, by where it listens.

Bound to a loopback address (127.0.0.0/8, ::1, localhost) only this machine can connect, but a page of any site can
still make the browser talk to it through a name that resolves to 127.0.0.1 (DNS rebinding): so every request
must name the dashboard itself in `Host` — the bound address with its port, or `localhost:PORT` — else 400.
Bound beyond loopback (0.0.0.0, a LAN address) anyone on the network can connect: every request, pages included,
must carry the `[dashboard]` token — `Authorization: Bearer TOKEN`, or HTTP Basic with the token as password so
that a browser can ask for it — else 401; and the daemon refuses to start there without a token.

Both guards are plain ASGI middleware, so that they answer before any route, static file or /metrics runs.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fuota.web.server import DashboardError

__all__ = ["HostGuard", "TokenGuard", "check_exposure", "is_loopback"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
LOOPBACK_NAMES = {"localhost"}  # resolved to a loopback address by every resolver we meet


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or `localhost`, without brackets) is reachable from this machine only."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost: it may resolve anywhere


def check_exposure(host: str, token: str | None) -> None:
    """DashboardError when the dashboard would listen beyond loopback at `host` without a token to ask."""
    if token is None and not is_loopback(host):
        raise DashboardError(
            f"--http on {host!r} serves the dashboard beyond this machine, so it asks every request for the "
            "dashboard token, and none is configured: set token (or token_env) under [dashboard] in the "
            "configuration, or bind --http to 127.0.0.1"
        )


class HostGuard:
    """Answer 400 to a request whose Host is not this loopback dashboard's own address (with port) or
    localhost:PORT. The address and port are the socket's (the ASGI scope's `server`), so port 0 works."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = _header(scope, b"host")
            allowed = _own_hosts(scope.get("server"))
            if given.lower() not in allowed:
                expected = " or ".join(sorted(allowed)) or "the dashboard's own address"
                detail = f"Host = {given!r} does not name this dashboard: open it as {expected} (DNS-rebinding guard)"
                await _refuse(scope, send, 400, detail)
                return
        await self.app(scope, receive, send)


class TokenGuard:
    """Answer 401 to a request without the dashboard token, as a bearer token or the password of HTTP Basic."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorized(_header(scope, b"authorization")):
            detail = (
                "this dashboard is served beyond loopback and needs the [dashboard] token: send "
                "Authorization: Bearer <token>, or sign in with the token as password"
            )
            await _refuse(scope, send, 401, detail, [(b"www-authenticate", b'Basic realm="fuota dashboard"')])
            return
        await self.app(scope, receive, send)

    def _authorized(self, header: str) -> bool:
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                given = base64.b64decode(given.strip(), validate=True).decode().partition(":")[2]
            except (binascii.Error, UnicodeDecodeError):
                return False
        elif scheme.lower() != "bearer":
            return False
        return bool(given) and hmac.compare_digest(given.strip().encode(), self._token)


def _own_hosts(server: tuple[str, int] | None) -> set[str]:
    """The Host values that name the dashboard at `server` (address, port): the address and localhost, with the
    port, and without it on port 80 as browsers send it."""
    if server is None:
        return set()
    address, port = server[0], server[1]
    shown = f"[{address}]" if ":" in address else address
    names = {shown.lower(), "localhost"}
    return {f"{name}:{port}" for name in names} | (names if port == 80 else set())


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


async def _refuse(
    scope: Scope, send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """The refusal in the app's own error format: JSON under /api/ and for POST, plain text otherwise."""
    if scope.get("path", "").startswith("/api/") or scope.get("method") == "POST":
        body, media = json.dumps({"error": detail}).encode(), b"application/json"
    else:
        body, media = detail.encode(), b"text/plain; charset=utf-8"
    head = [(b"content-type", media), (b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
